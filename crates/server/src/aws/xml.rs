//! Just enough XML for AWS's answers (S3 and SNS): the text of elements
//! by name. Their documents are flat, machine-written and use the five
//! predefined entities only.

/// The text inside each `<tag>…</tag>`, unescaped.
pub fn all(doc: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&open) {
        let inner = &rest[start + open.len()..];
        let Some(end) = inner.find(&close) else { break };
        out.push(unescape(&inner[..end]));
        rest = &inner[end + close.len()..];
    }
    out
}

pub fn first(doc: &str, tag: &str) -> Option<String> {
    all(doc, tag).into_iter().next()
}

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_list_parts_and_errors() {
        let doc = r#"<?xml version="1.0"?><ListPartsResult><Part><PartNumber>1</PartNumber>
            <ETag>&quot;abc&quot;</ETag><Size>5</Size></Part><Part><PartNumber>2</PartNumber>
            <ETag>"def"</ETag><Size>3</Size></Part><IsTruncated>false</IsTruncated></ListPartsResult>"#;
        let parts = super::all(doc, "Part");
        assert_eq!(parts.len(), 2);
        assert_eq!(super::first(&parts[0], "ETag").unwrap(), "\"abc\"");
        assert_eq!(super::first(&parts[1], "Size").unwrap(), "3");
        assert_eq!(
            super::first("<Error><Code>BadDigest</Code></Error>", "Code").unwrap(),
            "BadDigest"
        );
        assert_eq!(super::first(doc, "Missing"), None);
    }
}
