//! Screenshots to PNG, JPEG or WebP bytes, tuned for screen content.
//!
//! PNG is the default. Its settings were measured, not guessed (see
//! `cargo xtask bench capture` and bench/README.md): on a screen of half
//! photo, half text, every row Paeth-filtered and deflated at zlib level 3
//! (zlib-rs) came out smaller than scrot's file at 1080p and 2160p in a
//! fraction of its time, the more so compressed in strips on every core; the adaptive filter was slower and larger, level 1
//! much larger, fdeflate's ultra-fast mode 2% larger than scrot at 2160p,
//! level 6 two to three times slower for 3% less.
//!
//! Opaque captures are written as RGB (a quarter less to compress). Nothing
//! is written but the pixels and, for HiDPI captures, their density (pHYs),
//! so a viewer can show them at their logical size: no time, software,
//! host or user names.
//!
//! [`mp4`] reads the boxes of the recordings that `dropcast-video` writes
//! (where the last whole fragment ends), so resuming a recording's upload
//! needs no video encoder. No native library is linked here: the server
//! and the CLI's screenshot path use this crate.

use std::io::Cursor;

pub mod mp4;
mod png;

use image::{ImageEncoder, RgbaImage};
use serde::{Deserialize, Serialize};

/// An image format we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Png,
    Jpeg,
    /// Lossless WebP.
    Webp,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Webp => "webp",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "png" => Ok(Format::Png),
            "jpeg" | "jpg" => Ok(Format::Jpeg),
            "webp" => Ok(Format::Webp),
            _ => Err(format!("unknown image format {s:?}: use png, jpeg or webp")),
        }
    }
}

/// How to encode a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub format: Format,
    /// 1..=100, for JPEG.
    pub jpeg_quality: u8,
    /// Scale HiDPI captures down to their logical size.
    pub downscale: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            format: Format::Png,
            jpeg_quality: 90,
            downscale: false,
        }
    }
}

/// Encoded bytes and what they hold.
#[derive(Debug, Clone)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: Format,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("the image is empty (0 pixels)")]
    Empty,
    #[error("encoding the image failed: {0}")]
    Failed(String),
}

/// Encodes a capture taken at `scale_factor` physical pixels per logical one.
pub fn encode(
    image: &RgbaImage,
    scale_factor: f32,
    settings: &Settings,
) -> Result<Encoded, EncodeError> {
    if image.width() == 0 || image.height() == 0 {
        return Err(EncodeError::Empty);
    }
    let scaled;
    let (image, scale_factor) = if settings.downscale && scale_factor > 1.0 {
        let width = ((image.width() as f32 / scale_factor).round() as u32).max(1);
        let height = ((image.height() as f32 / scale_factor).round() as u32).max(1);
        scaled =
            image::imageops::resize(image, width, height, image::imageops::FilterType::Triangle);
        (&scaled, 1.0)
    } else {
        (image, scale_factor)
    };
    let bytes = match settings.format {
        Format::Png => png(image, scale_factor)?,
        Format::Jpeg => {
            let mut out = Vec::new();
            let rgb = image::DynamicImage::ImageRgba8(image.clone()).into_rgb8();
            image::codecs::jpeg::JpegEncoder::new_with_quality(
                &mut out,
                settings.jpeg_quality.clamp(1, 100),
            )
            .write_image(
                rgb.as_raw(),
                rgb.width(),
                rgb.height(),
                image::ExtendedColorType::Rgb8,
            )
            .map_err(|e| EncodeError::Failed(e.to_string()))?;
            out
        }
        Format::Webp => {
            let mut out = Vec::new();
            image::codecs::webp::WebPEncoder::new_lossless(&mut out)
                .write_image(
                    image.as_raw(),
                    image.width(),
                    image.height(),
                    image::ExtendedColorType::Rgba8,
                )
                .map_err(|e| EncodeError::Failed(e.to_string()))?;
            out
        }
    };
    Ok(Encoded {
        bytes,
        format: settings.format,
        width: image.width(),
        height: image.height(),
    })
}

/// The tuned PNG writer (see the module docs and [`png`](mod@png)).
pub fn png(image: &RgbaImage, scale_factor: f32) -> Result<Vec<u8>, EncodeError> {
    let pixels = png::Pixels {
        rgba: image.as_raw(),
        width: image.width(),
        height: image.height(),
        opaque: image.pixels().all(|p| p.0[3] == 255),
    };
    // 96 dpi is 3780 pixels per metre.
    let per_metre = (scale_factor > 1.0).then(|| (3780.0 * scale_factor).round() as u32);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    Ok(png::write(&pixels, per_metre, threads))
}

/// The longest side of a history thumbnail, in pixels.
pub const THUMBNAIL_SIZE: u32 = 256;

/// A small PNG of `image` that fits in `max_side` squared.
pub fn thumbnail(image: &RgbaImage, max_side: u32) -> Result<Vec<u8>, EncodeError> {
    let (w, h) = image.dimensions();
    if w == 0 || h == 0 {
        return Err(EncodeError::Empty);
    }
    let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
    let small = image::imageops::thumbnail(
        image,
        ((w as f32 * scale).round() as u32).max(1),
        ((h as f32 * scale).round() as u32).max(1),
    );
    png(&small, 1.0)
}

/// The largest image file [`decode`] reads: 16384 pixels a side and 512 MiB
/// of pixels, so a decompression bomb is refused rather than allocated.
pub const MAX_SIDE: u32 = 16384;
const MAX_ALLOC: u64 = 512 << 20;

/// Decodes a PNG, JPEG or WebP file's bytes, within limits.
pub fn decode(bytes: &[u8]) -> Result<RgbaImage, EncodeError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| EncodeError::Failed(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    reader
        .decode()
        .map(|image| image.into_rgba8())
        .map_err(|e| EncodeError::Failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(width: u32, height: u32, alpha: u8) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x * 7) as u8, (y * 13) as u8, (x ^ y) as u8, alpha])
        })
    }

    #[test]
    fn png_round_trips_pixel_for_pixel_opaque_and_translucent() {
        for alpha in [255, 100] {
            let image = sample(97, 61, alpha);
            let encoded = encode(&image, 1.0, &Settings::default()).unwrap();
            assert_eq!(encoded.bytes[..8], *b"\x89PNG\r\n\x1a\n");
            assert_eq!(decode(&encoded.bytes).unwrap(), image);
        }
    }

    #[test]
    fn png_carries_no_text_or_time_and_hidpi_density_only_when_scaled() {
        let image = sample(10, 10, 255);
        let chunks = |bytes: &[u8]| {
            let mut names = Vec::new();
            let mut at = 8;
            while at + 8 <= bytes.len() {
                let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                names.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
                at += 12 + len;
            }
            names
        };
        assert_eq!(chunks(&png(&image, 1.0).unwrap()), ["IHDR", "IDAT", "IEND"]);
        assert_eq!(
            chunks(&png(&image, 2.0).unwrap()),
            ["IHDR", "pHYs", "IDAT", "IEND"]
        );
    }

    #[test]
    fn downscale_halves_a_2x_capture_and_leaves_1x_alone() {
        let image = sample(200, 100, 255);
        let settings = Settings {
            downscale: true,
            ..Settings::default()
        };
        let half = encode(&image, 2.0, &settings).unwrap();
        assert_eq!((half.width, half.height), (100, 50));
        let same = encode(&image, 1.0, &settings).unwrap();
        assert_eq!((same.width, same.height), (200, 100));
    }

    #[test]
    fn jpeg_and_webp_decode_to_the_same_size_and_webp_is_lossless() {
        let image = sample(64, 48, 255);
        for format in [Format::Jpeg, Format::Webp] {
            let settings = Settings {
                format,
                ..Settings::default()
            };
            let encoded = encode(&image, 1.0, &settings).unwrap();
            let decoded = decode(&encoded.bytes).unwrap();
            assert_eq!(decoded.dimensions(), (64, 48), "{format:?}");
            if format == Format::Webp {
                assert_eq!(decoded, image);
            }
        }
        assert_eq!("JPG".parse(), Ok(Format::Jpeg));
        assert!("gif"
            .parse::<Format>()
            .unwrap_err()
            .contains("png, jpeg or webp"));
    }

    #[test]
    fn thumbnails_fit_the_box_and_keep_the_aspect() {
        let thumb = decode(&thumbnail(&sample(1000, 500, 255), THUMBNAIL_SIZE).unwrap()).unwrap();
        assert_eq!(thumb.dimensions(), (256, 128));
        let small = decode(&thumbnail(&sample(30, 20, 255), THUMBNAIL_SIZE).unwrap()).unwrap();
        assert_eq!(small.dimensions(), (30, 20));
    }

    #[test]
    fn broken_and_oversized_files_are_refused_not_decoded() {
        assert!(decode(b"\x89PNG\r\n\x1a\nbroken").is_err());
        // A PNG header that claims 100000 x 100000 pixels.
        let mut bomb = Vec::new();
        let mut encoder = ::png::Encoder::new(&mut bomb, 100_000, 100_000);
        encoder.set_color(::png::ColorType::Rgb);
        drop(encoder.write_header().unwrap());
        assert!(decode(&bomb).is_err());
    }
}
