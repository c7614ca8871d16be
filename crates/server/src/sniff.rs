//! What the served bytes are, decided from the bytes, never from the
//! uploader; and whether a browser may show them inline.
//!
//! Only types a browser renders without running anything of the file's are
//! inline (images, audio, video, plain text). Everything else, HTML, SVG,
//! XML and scripts above all, is served as an attachment, and every raw
//! response also carries `nosniff` and a `sandbox` CSP.

/// The Content-Security-Policy of every raw response: no script, no
/// plugin, no form, whatever the bytes are. The CloudFront distribution
/// that serves them on AWS sends the same (`deploy/serverless.yml`,
/// `RawHeadersPolicy`; a test holds the two equal).
pub const RAW_CSP: &str =
    "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'";

/// How many leading bytes [`content_type`] looks at.
pub const SNIFF_LEN: usize = 8192;

/// The first [`SNIFF_LEN`] bytes of a stream, kept as they pass.
#[derive(Default)]
pub struct Head(Vec<u8>);

impl Head {
    pub fn feed(&mut self, chunk: &[u8]) {
        let take = SNIFF_LEN.saturating_sub(self.0.len()).min(chunk.len());
        self.0.extend_from_slice(&chunk[..take]);
    }

    /// Pixel size (and density) of an image, when the first bytes tell.
    pub fn dimensions(&self) -> Option<Dimensions> {
        dimensions(&self.0)
    }

    /// The served content type of the stream seen so far.
    pub fn content_type(&self) -> String {
        content_type(&self.0)
    }
}

/// The served content type of a file that starts with `head`.
pub fn content_type(head: &[u8]) -> String {
    let text = looks_like_text(head);
    if text {
        let lower = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
        let start = lower.trim_start_matches('\u{feff}').trim_start();
        if lower.contains("<svg") {
            return "image/svg+xml".into();
        }
        if start.starts_with("<?xml") {
            return "application/xml".into();
        }
        if [
            "<!doctype html",
            "<html",
            "<head",
            "<body",
            "<script",
            "<iframe",
        ]
        .iter()
        .any(|m| lower.contains(m))
        {
            return "text/html".into();
        }
        if start.starts_with("#!") {
            return "text/x-shellscript".into();
        }
    }
    if let Some(kind) = infer::get(head) {
        return kind.mime_type().to_string();
    }
    if text {
        return "text/plain; charset=utf-8".into();
    }
    "application/octet-stream".into()
}

fn looks_like_text(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(s) => !s.contains('\0'),
        // A multi-byte character cut off at the end of the sample is fine.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

const INLINE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "image/avif",
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "audio/mpeg",
    "audio/ogg",
    "audio/x-wav",
    "audio/x-flac",
    "audio/m4a",
    "text/plain; charset=utf-8",
];

/// Extensions that make a browser or a desktop treat a file as a document
/// or program, whatever its bytes: never inline.
const ACTIVE_EXTENSIONS: &[&str] = &[
    "html", "htm", "xhtml", "shtml", "svg", "svgz", "xml", "xsl", "xslt", "js", "mjs", "cjs",
    "jsx", "ts", "vbs", "swf", "pdf", "hta", "mht", "mhtml",
];

/// Whether a file of this served type and name may be shown inline.
pub fn inline(content_type: &str, name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    INLINE.contains(&content_type) && !ACTIVE_EXTENSIONS.contains(&ext.as_str())
}

/// A `Content-Disposition` value: an ASCII fallback name and the UTF-8 one.
pub fn disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' && c != ';' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// The extension a pretty URL `/{id}.{ext}` would carry for a served type.
pub fn extension(content_type: &str, name: &str) -> String {
    let by_type = match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "video/mp4" => "mp4",
        "video/webm" => "webm",
        "text/plain; charset=utf-8" => "txt",
        _ => "",
    };
    if !by_type.is_empty() {
        return by_type.into();
    }
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_known_by_their_magic_not_their_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(content_type(png), "image/png");
        assert!(inline("image/png", "shot.png"));
        assert!(
            !inline("image/png", "shot.html"),
            "an active extension wins"
        );
    }

    #[test]
    fn the_head_is_gathered_across_chunks_and_capped() {
        let mut head = Head::default();
        head.feed(b"\x89PN");
        head.feed(b"G\r\n\x1a\n\0\0\0\rIHDR");
        head.feed(&vec![0u8; SNIFF_LEN * 2]);
        assert_eq!(head.0.len(), SNIFF_LEN);
        assert_eq!(head.content_type(), "image/png");
    }

    #[test]
    fn markup_is_never_inline() {
        for (body, ty) in [
            (
                &b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"[..],
                "image/svg+xml",
            ),
            (b"<!DOCTYPE html><script>alert(1)</script>", "text/html"),
            (b"  <?xml version='1.0'?><a/>", "application/xml"),
            (b"#!/bin/sh\nrm -rf ~\n", "text/x-shellscript"),
        ] {
            let t = content_type(body);
            assert_eq!(t, ty);
            assert!(!inline(&t, "x.txt"));
        }
    }

    #[test]
    fn plain_text_and_binary_are_told_apart() {
        assert_eq!(
            content_type("héllo wörld".as_bytes()),
            "text/plain; charset=utf-8"
        );
        let cut = &"é".as_bytes()[..1];
        assert_eq!(
            content_type(&[b"abc", cut].concat()),
            "text/plain; charset=utf-8"
        );
        assert_eq!(
            content_type(&[0u8, 1, 2, 255, 254]),
            "application/octet-stream"
        );
    }

    #[test]
    fn disposition_escapes_quotes_and_non_ascii() {
        let d = disposition(false, "a\"b;ü.png");
        assert!(d.starts_with("attachment; filename=\"a_b__.png\""), "{d}");
        assert!(d.ends_with("filename*=UTF-8''a%22b%3B%C3%BC.png"), "{d}");
    }
}

/// An image's pixel size, and its density when the file records one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    pub width: u32,
    pub height: u32,
    /// Pixels per metre (PNG's pHYs); 3780 is 96 dpi, a 1x screen.
    pub density: Option<u32>,
}

/// The size of a PNG, JPEG, GIF or WebP image from its first bytes.
pub fn dimensions(head: &[u8]) -> Option<Dimensions> {
    let reader = image::ImageReader::new(std::io::Cursor::new(head))
        .with_guessed_format()
        .ok()?;
    reader.format()?;
    let (width, height) = reader.into_dimensions().ok()?;
    Some(Dimensions {
        width,
        height,
        density: png_density(head),
    })
}

/// The density of a PNG's pHYs chunk in pixels per metre (square pixels,
/// metre unit), if it comes before the image data.
fn png_density(bytes: &[u8]) -> Option<u32> {
    let mut at = bytes.strip_prefix(b"\x89PNG\r\n\x1a\n").map(|_| 8)?;
    while at + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        let kind = &bytes[at + 4..at + 8];
        let data = bytes.get(at + 8..at + 8 + len)?;
        match kind {
            b"pHYs" if len == 9 => {
                let x = u32::from_be_bytes(data[0..4].try_into().ok()?);
                let y = u32::from_be_bytes(data[4..8].try_into().ok()?);
                return (x == y && data[8] == 1 && x > 0).then_some(x);
            }
            b"IDAT" | b"IEND" => return None,
            _ => at += 12 + len,
        }
    }
    None
}

#[cfg(test)]
mod dimension_tests {
    use super::*;

    #[test]
    fn png_size_and_hidpi_density_come_from_the_first_bytes() {
        let image = image::RgbaImage::from_pixel(40, 30, image::Rgba([1, 2, 3, 255]));
        let twice = dropcast_encode::png(&image, 2.0).unwrap();
        assert_eq!(
            dimensions(&twice),
            Some(Dimensions {
                width: 40,
                height: 30,
                density: Some(7560)
            })
        );
        let once = dropcast_encode::png(&image, 1.0).unwrap();
        assert_eq!(dimensions(&once).unwrap().density, None);
        assert_eq!(dimensions(b"plain text, not an image"), None);
        assert_eq!(dimensions(&twice[..20]), None);
    }
}
