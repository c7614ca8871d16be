//! Secrets in a capture's pixels, found before they leave the machine.
//!
//! [`scan`] reads the capture's text with OCR ([`ocr`], tesseract) and
//! runs the detectors over it ([`find`]): e-mail addresses, API keys and
//! tokens of known formats, JWTs, Dropcast's own tokens, private-key
//! blocks, card numbers that pass the Luhn check, and long random-looking
//! strings. Each [`Finding`] is a box in the capture's pixels: `dropcast
//! shot --redact` pixelates them all, and the editor is to propose them.
//!
//! Nothing here draws: the annotation renderer does the pixelating, so
//! what is shared is what the editor showed.

pub mod find;
pub mod ocr;

pub use find::{find, Area, Finding, Kind};
pub use ocr::OcrError;

/// The secrets in an RGBA picture of `width` x `height`.
pub fn scan(rgba: &[u8], width: u32, height: u32) -> Result<Vec<Finding>, OcrError> {
    Ok(find(&ocr::read(rgba, width, height)?))
}
