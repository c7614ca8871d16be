//! The detectors: which of a capture's OCR'd words are secrets.
//!
//! OCR answers words with their boxes, in lines. Each line's words are
//! joined with one space, and the patterns run over that text: a match
//! covers the words it touches, and its box is theirs put together. So a
//! card number the OCR split in four words is one finding, and a key in
//! `KEY=AKIA…` covers that whole word. A private-key block covers every
//! line from its `BEGIN` to its `END` (to the last line, when the `END` is
//! off the capture).
//!
//! After a known prefix (`ghp_`, `xoxb-`, `sk_live_`, `dc_`) any
//! characters but spaces count as the token's: OCR misreads some of a
//! random string's characters (`0` as `O`, or worse), and the prefix alone
//! is telling enough. An AWS key ID keeps its exact shape (20 capitals
//! and digits), which OCR reads well.
//!
//! The detectors run in order, most specific first, and a word already
//! covered is not reported again: an AWS key is an AWS key, not also "a
//! long random string". Last come long high-entropy strings: those with
//! letters of both cases and digits anywhere, and any long random-looking
//! string that follows a word such as `secret`, `token` or `password` on
//! its line (so a git hash on its own is left alone).
//!
//! A finding says what kind of secret it is and a hint that does not give
//! it away (a known prefix, an address's domain, a card's last four
//! digits), for `--json` and the editor's list.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

/// A box in the capture's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Area {
    pub fn new(x: u32, y: u32, width: u32, height: u32) -> Area {
        Area {
            x,
            y,
            width,
            height,
        }
    }

    fn right(&self) -> u32 {
        self.x.saturating_add(self.width)
    }

    fn bottom(&self) -> u32 {
        self.y.saturating_add(self.height)
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &Area) -> Area {
        let x = self.x.min(other.x);
        let y = self.y.min(other.y);
        Area::new(
            x,
            y,
            self.right().max(other.right()) - x,
            self.bottom().max(other.bottom()) - y,
        )
    }

    /// `by` pixels bigger on every side, within an image of `size`: OCR's
    /// boxes hug the ink, and a glyph's anti-aliased edge goes past them.
    pub fn padded(&self, by: u32, size: (u32, u32)) -> Area {
        let x = self.x.saturating_sub(by);
        let y = self.y.saturating_sub(by);
        let right = self.right().saturating_add(by).min(size.0);
        let bottom = self.bottom().saturating_add(by).min(size.1);
        Area::new(x, y, right.saturating_sub(x), bottom.saturating_sub(y))
    }

    /// Whether `other` lies wholly inside this box.
    pub fn holds(&self, other: &Area) -> bool {
        other.x >= self.x
            && other.y >= self.y
            && other.right() <= self.right()
            && other.bottom() <= self.bottom()
    }
}

/// One OCR'd word and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub area: Area,
}

/// A line of words, left to right.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Line {
    pub words: Vec<Word>,
}

/// What a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    PrivateKey,
    AwsKey,
    GithubToken,
    SlackToken,
    StripeKey,
    Jwt,
    DropcastToken,
    CardNumber,
    Email,
    HighEntropy,
}

/// A secret found: its kind, the box to pixelate, and a hint that does
/// not give it away.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: Kind,
    pub area: Area,
    pub hint: String,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("a valid pattern")
}

/// The patterns matched over a line's text, in order, with how much of a
/// match its hint shows.
static PATTERNS: LazyLock<Vec<(Kind, Regex, Hint)>> = LazyLock::new(|| {
    vec![
        (
            Kind::AwsKey,
            re(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b"),
            Hint::Prefix(4),
        ),
        (
            Kind::GithubToken,
            re(r"\b(?:gh[pousr]|github_pat)_\S{30,}"),
            Hint::Prefix(4),
        ),
        (
            Kind::SlackToken,
            re(r"\bxox[abposr]-\S{10,}"),
            Hint::Prefix(5),
        ),
        (
            Kind::StripeKey,
            re(r"\b(?:sk|rk)_(?:live|test)_\S{16,}"),
            Hint::Prefix(8),
        ),
        (
            Kind::Jwt,
            re(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
            Hint::Prefix(3),
        ),
        (Kind::DropcastToken, re(r"\bdc_\S{40,}"), Hint::Prefix(3)),
        (
            Kind::CardNumber,
            re(r"\b\d(?:[ -]?\d){12,18}\b"),
            Hint::LastDigits(4),
        ),
        (
            Kind::Email,
            re(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
            Hint::Domain,
        ),
    ]
});

static BEGIN_KEY: LazyLock<Regex> = LazyLock::new(|| re(r"BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY"));
static END_BLOCK: LazyLock<Regex> = LazyLock::new(|| re(r"-{2,}\s*END\b"));
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)(?:secret|token|api[_-]?key|\bkey\b|passw(?:or)?d|\bpwd\b|bearer|credential|auth)")
});

#[derive(Debug, Clone, Copy)]
enum Hint {
    Prefix(usize),
    LastDigits(usize),
    Domain,
}

impl Hint {
    fn of(self, secret: &str) -> String {
        match self {
            Hint::Prefix(n) => format!("{}…", secret.chars().take(n).collect::<String>()),
            Hint::LastDigits(n) => {
                let digits: Vec<char> = secret.chars().filter(char::is_ascii_digit).collect();
                let last: String = digits[digits.len().saturating_sub(n)..].iter().collect();
                format!("…{last}")
            }
            Hint::Domain => match secret.rsplit_once('@') {
                Some((_, domain)) => format!("…@{domain}"),
                None => String::new(),
            },
        }
    }
}

/// A line's text, and where each word sits in it (byte ranges).
struct Text {
    text: String,
    spans: Vec<(usize, usize)>,
}

impl Text {
    fn of(line: &Line) -> Text {
        let mut text = String::new();
        let mut spans = Vec::with_capacity(line.words.len());
        for word in &line.words {
            if !text.is_empty() {
                text.push(' ');
            }
            let start = text.len();
            text.push_str(&word.text);
            spans.push((start, text.len()));
        }
        Text { text, spans }
    }

    /// The indexes of the words `start..end` touches.
    fn words(&self, start: usize, end: usize) -> impl Iterator<Item = usize> + '_ {
        self.spans
            .iter()
            .enumerate()
            .filter(move |(_, (s, e))| *s < end && *e > start)
            .map(|(i, _)| i)
    }
}

/// The secrets among `lines` (one capture's OCR), in reading order of
/// the detectors: blocks, known formats, then random-looking strings.
pub fn find(lines: &[Line]) -> Vec<Finding> {
    let mut found = Vec::new();
    // Words already part of a finding, by (line, word).
    let mut covered = std::collections::HashSet::new();
    private_keys(lines, &mut found, &mut covered);
    let texts: Vec<Text> = lines.iter().map(Text::of).collect();
    for (kind, pattern, hint) in PATTERNS.iter() {
        for (l, (line, text)) in lines.iter().zip(&texts).enumerate() {
            for m in pattern.find_iter(&text.text) {
                let (start, end) = if *kind == Kind::CardNumber {
                    // The digits round a card (an expiry, a CVV, a
                    // quantity) are not part of it.
                    match card_in(m.as_str()) {
                        Some((s, e)) => (m.start() + s, m.start() + e),
                        None => continue,
                    }
                } else {
                    (m.start(), m.end())
                };
                let words: Vec<usize> = text
                    .words(start, end)
                    .filter(|w| !covered.contains(&(l, *w)))
                    .collect();
                if words.is_empty() {
                    continue;
                }
                found.push(Finding {
                    kind: *kind,
                    area: union(words.iter().map(|w| line.words[*w].area)),
                    hint: hint.of(&text.text[start..end]),
                });
                covered.extend(words.into_iter().map(|w| (l, w)));
            }
        }
    }
    for (l, (line, text)) in lines.iter().zip(&texts).enumerate() {
        for (w, word) in line.words.iter().enumerate() {
            if covered.contains(&(l, w)) {
                continue;
            }
            let labelled = LABEL.is_match(&text.text[..text.spans[w].0]);
            if word
                .text
                .split(|c: char| "\"'=:,;()<>[]{}`".contains(c))
                .any(|part| random_looking(part, labelled))
            {
                found.push(Finding {
                    kind: Kind::HighEntropy,
                    area: word.area,
                    hint: String::new(),
                });
                covered.insert((l, w));
            }
        }
    }
    found
}

/// Every line from a `BEGIN … PRIVATE KEY` to the next `END` (or the last
/// line), as one finding.
fn private_keys(
    lines: &[Line],
    found: &mut Vec<Finding>,
    covered: &mut std::collections::HashSet<(usize, usize)>,
) {
    let mut l = 0;
    while l < lines.len() {
        if !BEGIN_KEY.is_match(&Text::of(&lines[l]).text) {
            l += 1;
            continue;
        }
        let end = (l..lines.len())
            .find(|e| *e > l && END_BLOCK.is_match(&Text::of(&lines[*e]).text))
            .unwrap_or(lines.len() - 1);
        let words = (l..=end).flat_map(|i| (0..lines[i].words.len()).map(move |w| (i, w)));
        let words: Vec<(usize, usize)> = words.collect();
        if !words.is_empty() {
            found.push(Finding {
                kind: Kind::PrivateKey,
                area: union(words.iter().map(|(i, w)| lines[*i].words[*w].area)),
                hint: String::new(),
            });
            covered.extend(words);
        }
        l = end + 1;
    }
}

fn union(mut areas: impl Iterator<Item = Area>) -> Area {
    let first = areas.next().expect("at least one word");
    areas.fold(first, |all, a| all.union(&a))
}

/// Where in `digits` (groups of digits with spaces or dashes between) a
/// card number is: the longest run of whole groups, leftmost first, of
/// 13 to 19 digits that passes the Luhn check.
fn card_in(digits: &str) -> Option<(usize, usize)> {
    let mut groups = Vec::new();
    let mut start = None;
    for (i, c) in digits.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                groups.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push((s, digits.len()));
    }
    for i in 0..groups.len() {
        for j in (i..groups.len()).rev() {
            let (s, e) = (groups[i].0, groups[j].1);
            if luhn(&digits[s..e]) {
                return Some((s, e));
            }
        }
    }
    None
}

/// The Luhn check of the digits in `number`.
fn luhn(number: &str) -> bool {
    let digits: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 {
                    twice - 9
                } else {
                    twice
                }
            } else {
                *d
            }
        })
        .sum();
    (13..=19).contains(&digits.len()) && sum.is_multiple_of(10)
}

/// Bits per character of `s`'s own character frequencies.
fn entropy(s: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let n = s.chars().count() as f64;
    for c in s.chars() {
        *counts.entry(c).or_insert(0u32) += 1;
    }
    counts
        .values()
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether `s` looks like a generated secret: 20 characters or more of
/// the token alphabets (base64, hex, URL-safe), not a URL, and either
/// mixed-case letters with digits and high entropy, or, after a label
/// such as `token`, any fairly random string.
fn random_looking(s: &str, labelled: bool) -> bool {
    let s = s.trim_matches(|c: char| c == '.' || c == '-');
    if s.len() < 20 || s.contains("//") {
        return false;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "+/_-.=".contains(c))
    {
        return false;
    }
    let lower = s.chars().any(|c| c.is_ascii_lowercase());
    let upper = s.chars().any(|c| c.is_ascii_uppercase());
    let digit = s.chars().any(|c| c.is_ascii_digit());
    let bits = entropy(s);
    (lower && upper && digit && bits >= 4.0) || (labelled && digit && bits >= 3.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One line of words, each 10 px per character and 12 px apart.
    fn line(y: u32, text: &str) -> Line {
        let mut x = 0;
        let words = text
            .split(' ')
            .map(|w| {
                let width = 10 * w.chars().count() as u32;
                let word = Word {
                    text: w.to_string(),
                    area: Area::new(x, y, width, 16),
                };
                x += width + 12;
                word
            })
            .collect();
        Line { words }
    }

    fn kinds(found: &[Finding]) -> Vec<Kind> {
        found.iter().map(|f| f.kind).collect()
    }

    #[test]
    fn known_token_formats_are_found_with_a_hint_that_keeps_them_secret() {
        let lines = [
            line(0, "export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE"),
            line(20, "token: ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"),
            line(
                40,
                "slack xoxb-123456789012-abcdefABCDEF and sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            ),
            line(
                60,
                "dc_Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6 is mine",
            ),
        ];
        let found = find(&lines);
        assert_eq!(
            kinds(&found),
            [
                Kind::AwsKey,
                Kind::GithubToken,
                Kind::SlackToken,
                Kind::StripeKey,
                Kind::DropcastToken
            ]
        );
        assert_eq!(found[0].hint, "AKIA…");
        for f in &found {
            assert!(f.hint.chars().count() <= 9, "{f:?}");
        }
        // The AWS key covers its whole word, the label with it.
        assert_eq!(found[0].area, lines[0].words[1].area);
        // Slack's token and Stripe's key are each their own word.
        assert_eq!(found[2].area, lines[2].words[1].area);
        assert_eq!(found[3].area, lines[2].words[3].area);
    }

    #[test]
    fn a_card_number_split_in_four_words_is_one_box_and_only_with_a_good_check_digit() {
        let lines = [
            line(0, "Card: 4111 1111 1111 1111 exp 12/29"),
            line(20, "Order 4111 1111 1111 1112 shipped"),
            line(40, "Qty 2 5500 0000 0000 0004 123"),
        ];
        let found = find(&lines);
        assert_eq!(kinds(&found), [Kind::CardNumber, Kind::CardNumber]);
        // The quantity and the CVV round the second are left out.
        let words = &lines[2].words;
        assert_eq!(found[1].area, words[2].area.union(&words[5].area));
        assert_eq!(found[1].hint, "…0004");
        let words = &lines[0].words;
        assert_eq!(found[0].area, words[1].area.union(&words[4].area));
        assert_eq!(found[0].hint, "…1111");
    }

    #[test]
    fn an_email_address_is_found_and_its_hint_is_the_domain() {
        let found = find(&[line(0, "Contact jane.doe+billing@example.co.uk today")]);
        assert_eq!(kinds(&found), [Kind::Email]);
        assert_eq!(found[0].hint, "…@example.co.uk");
    }

    #[test]
    fn a_private_key_block_is_one_box_from_begin_to_end() {
        let lines = [
            line(0, "before"),
            line(20, "-----BEGIN RSA PRIVATE KEY-----"),
            line(40, "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM2lvpzHY"),
            line(60, "-----END RSA PRIVATE KEY-----"),
            line(80, "after"),
        ];
        let found = find(&lines);
        assert_eq!(kinds(&found), [Kind::PrivateKey]);
        let area = found[0].area;
        assert_eq!((area.y, area.bottom()), (20, 76));
    }

    #[test]
    fn a_private_key_without_its_end_on_screen_is_covered_to_the_last_line() {
        let lines = [
            line(0, "-----BEGIN OPENSSH PRIVATE KEY-----"),
            line(20, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAAB"),
            line(40, "AAAAMwAAAAtzc2gtZWQyNTUxOQAAACDhu"),
        ];
        let found = find(&lines);
        assert_eq!(kinds(&found), [Kind::PrivateKey]);
        assert_eq!(found[0].area.bottom(), 56);
    }

    #[test]
    fn a_jwt_is_one_finding_not_also_a_random_string() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let found = find(&[line(0, &format!("Authorization: Bearer {jwt}"))]);
        assert_eq!(kinds(&found), [Kind::Jwt]);
    }

    #[test]
    fn long_random_strings_are_found_but_words_hashes_and_urls_are_not() {
        let lines = [
            line(
                0,
                "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            ),
            line(20, "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 Merge"),
            line(
                40,
                "internationalization https://example.com/docs/v2/getting-started",
            ),
            line(60, "password = 7f3k9q2m5x8v1b4n6c0z"),
        ];
        let found = find(&lines);
        assert_eq!(kinds(&found), [Kind::HighEntropy, Kind::HighEntropy]);
        assert_eq!(found[0].area, lines[0].words[0].area);
        // After a label, a less random string is enough.
        assert_eq!(found[1].area, lines[3].words[2].area);
    }

    #[test]
    fn plain_text_has_no_findings() {
        let lines = [
            line(0, "The quick brown fox jumps over the lazy dog."),
            line(
                20,
                "Step two: open Settings and choose a folder, then press Enter.",
            ),
            line(40, "Version 1.2.3 released on 2026-12-08 with 42 fixes"),
        ];
        assert!(find(&lines).is_empty());
    }

    #[test]
    fn padding_stays_inside_the_image() {
        let a = Area::new(2, 3, 10, 10);
        assert_eq!(a.padded(4, (14, 100)), Area::new(0, 0, 14, 17));
    }
}
