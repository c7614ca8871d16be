//! The conditional and range headers of a download (RFC 9110): which
//! bytes of a file a request asks for, and whether it holds them already.
//! Parsed here from what any client sends, used by `http/raw.rs`, and
//! fuzzed (`fuzz/`, target `conditional`).

use std::ops::Range;

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, PartialEq)]
pub enum RangeSpec {
    /// No range, or one answered with the whole file.
    Whole,
    /// These bytes, never empty, within the file.
    Part(Range<u64>),
    /// Past the end: a 416.
    Unsatisfiable,
}

/// One `bytes=` range of RFC 9110. Several ranges, or a syntax we do not
/// know, get the whole file (which the RFC allows).
pub fn parse_range(spec: &str, size: u64) -> RangeSpec {
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return RangeSpec::Whole;
    };
    if set.contains(',') {
        return RangeSpec::Whole;
    }
    let Some((a, b)) = set.trim().split_once('-') else {
        return RangeSpec::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        // Suffix: the last b bytes.
        match b.parse::<u64>() {
            Ok(0) => return RangeSpec::Unsatisfiable,
            Ok(n) => size.saturating_sub(n)..size,
            Err(_) => return RangeSpec::Whole,
        }
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return RangeSpec::Whole;
        };
        let end = if b.is_empty() {
            size
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e.saturating_add(1).min(size),
                _ => return RangeSpec::Whole,
            }
        };
        if start >= size {
            return RangeSpec::Unsatisfiable;
        }
        start..end
    };
    if range.is_empty() {
        RangeSpec::Unsatisfiable
    } else {
        RangeSpec::Part(range)
    }
}

/// `If-None-Match`: whether the client's copy is the one tagged `etag`
/// (a quoted strong tag) or it takes any (`*`). The comparison is weak,
/// as RFC 9110 has it for this header: `W/"x"` matches `"x"`.
pub fn not_modified(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `If-Range`: a `Range` is honoured only when there is none, or it names
/// this very version (a strong comparison: a weak tag or a date never
/// matches, and the whole file is sent).
pub fn range_applies(if_range: Option<&str>, etag: &str) -> bool {
    if_range.is_none_or(|v| v.trim() == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeSpec::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Part(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Part(90..100));
        assert_eq!(parse_range("bytes=-1000", 100), Part(0..100));
        assert_eq!(parse_range("bytes=50-1000", 100), Part(50..100));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=5-3", 100), Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Whole);
        assert_eq!(parse_range("items=0-1", 100), Whole);
    }

    #[test]
    fn if_none_match_compares_weakly_and_if_range_strongly() {
        let etag = "\"abc\"";
        assert!(not_modified("\"abc\"", etag));
        assert!(not_modified("\"x\", W/\"abc\"", etag));
        assert!(not_modified("*", etag));
        assert!(!not_modified("\"abcd\"", etag));
        assert!(range_applies(None, etag));
        assert!(range_applies(Some(" \"abc\" "), etag));
        assert!(!range_applies(Some("W/\"abc\""), etag));
        assert!(!range_applies(Some("Tue, 15 Nov 1994 08:12:31 GMT"), etag));
    }
}
