//! Words and their boxes from a capture's pixels, by tesseract.
//!
//! The `tesseract` program (Debian's tesseract-ocr, with its English data
//! tesseract-ocr-eng) reads the image as a PNG on its standard input and
//! answers its TSV: one row per word with its box. The picture goes as it
//! is, in grey: scaled up pixel by pixel, 13 and 18 px text read worse
//! (tesseract split and misread random tokens), and tesseract scales
//! what it needs itself.
//!
//! Its OpenMP threads are capped at the cores there are
//! ([`thread_limit`]).
//!
//! A missing program or missing language data is an error that says what
//! to install, never an empty answer: "no secrets" must mean the text was
//! read.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::find::{Area, Line, Word};

/// Why the text could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error(
        "the text could not be read for secrets: tesseract is not installed; install the \
         tesseract-ocr and tesseract-ocr-eng packages"
    )]
    NotInstalled,
    #[error(
        "the text could not be read for secrets: tesseract has no English data; install \
         the tesseract-ocr-eng package"
    )]
    NoLanguageData,
    #[error("the text could not be read for secrets: tesseract failed: {0}")]
    Failed(String),
}

/// Whether the text can be read at all (tesseract and its English data
/// are there), asked before a capture so that nothing is spent on one
/// that cannot be checked.
pub fn check() -> Result<(), OcrError> {
    let out = Command::new("tesseract")
        .arg("--list-langs")
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => OcrError::NotInstalled,
            _ => OcrError::Failed(e.to_string()),
        })?;
    let said = String::from_utf8_lossy(&out.stdout);
    if said.lines().any(|l| l.trim() == "eng") {
        Ok(())
    } else {
        Err(OcrError::NoLanguageData)
    }
}

/// The lines of words in an RGBA picture of `width` x `height`, in its
/// pixels.
pub fn read(rgba: &[u8], width: u32, height: u32) -> Result<Vec<Line>, OcrError> {
    read_with("tesseract".as_ref(), rgba, width, height)
}

fn read_with(
    program: &std::ffi::OsStr,
    rgba: &[u8],
    width: u32,
    height: u32,
) -> Result<Vec<Line>, OcrError> {
    if width == 0 || height == 0 || rgba.len() as u64 != u64::from(width) * u64::from(height) * 4 {
        return Err(OcrError::Failed(format!(
            "a {width}x{height} picture cannot be {} bytes of RGBA",
            rgba.len()
        )));
    }
    let png = grey_png(rgba, width, height);
    let mut command = Command::new(program);
    command.args(["stdin", "stdout", "-l", "eng", "tsv"]);
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        command.env("OMP_THREAD_LIMIT", thread_limit().to_string());
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => OcrError::NotInstalled,
            _ => OcrError::Failed(e.to_string()),
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    // Written from another thread while this one reads the answer, so
    // that neither side waits on a full pipe.
    let writer = std::thread::spawn(move || stdin.write_all(&png));
    let out = child
        .wait_with_output()
        .map_err(|e| OcrError::Failed(e.to_string()))?;
    let written = writer.join().expect("the writer does not panic");
    let said = String::from_utf8_lossy(&out.stderr);
    if said.contains("traineddata") || said.contains("Failed loading language") {
        return Err(OcrError::NoLanguageData);
    }
    if !out.status.success() {
        return Err(OcrError::Failed(said.trim().to_string()));
    }
    written.map_err(|e| OcrError::Failed(format!("sending the picture: {e}")))?;
    let tsv = String::from_utf8_lossy(&out.stdout);
    Ok(lines(&tsv))
}

/// Threads for tesseract's OpenMP, in all: the cores we may use. Left to
/// itself it nests parallel sections past them and spins: 5.8 s against
/// 0.7 s for a 1080p screen of text on two cores (bench/README.md).
pub fn thread_limit() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The picture in grey (BT.709 luma: text is read on its brightness), as
/// a quickly written PNG.
fn grey_png(rgba: &[u8], width: u32, height: u32) -> Vec<u8> {
    let grey: Vec<u8> = rgba
        .chunks_exact(4)
        .map(|p| {
            let luma = 2126 * u32::from(p[0]) + 7152 * u32::from(p[1]) + 722 * u32::from(p[2]);
            (luma / 10_000) as u8
        })
        .collect();
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width, height);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().expect("writing to memory");
    writer.write_image_data(&grey).expect("writing to memory");
    writer.finish().expect("writing to memory");
    png
}

/// Tesseract's TSV as lines of words.
fn lines(tsv: &str) -> Vec<Line> {
    let mut words = Vec::new();
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let text = cols[11].trim();
        if text.is_empty() {
            continue;
        }
        let n = |i: usize| cols[i].parse::<u32>().ok();
        // A row without a whole box cannot be covered: it is not a word.
        let (Some(x), Some(y), Some(w), Some(h)) = (n(6), n(7), n(8), n(9)) else {
            continue;
        };
        if w == 0 || h == 0 {
            continue;
        }
        words.push(Word {
            text: text.to_string(),
            area: Area::new(x, y, w, h),
        });
    }
    group(words)
}

/// Words in lines by where they are, not by tesseract's layout: a word
/// joins the line whose band (from the top of its highest word to the
/// bottom of its lowest) holds the word's middle, and a line breaks where
/// the gap to the next word is wider than three times its tallest word
/// (another column). A short glyph such as `=` seen first neither narrows
/// the band nor the gap.
fn group(mut words: Vec<Word>) -> Vec<Line> {
    words.sort_by_key(|w| (w.area.y + w.area.height / 2, w.area.x));
    // (top, bottom, tallest, words)
    let mut rows: Vec<(u32, u32, u32, Vec<Word>)> = Vec::new();
    for word in words {
        let (y, h) = (word.area.y, word.area.height);
        let middle = y + h / 2;
        match rows
            .iter_mut()
            .rev()
            .take(3)
            .find(|(top, bottom, _, _)| (*top..*bottom).contains(&middle))
        {
            Some(row) => {
                row.0 = row.0.min(y);
                row.1 = row.1.max(y + h);
                row.2 = row.2.max(h);
                row.3.push(word);
            }
            None => rows.push((y, y + h, h, vec![word])),
        }
    }
    let mut lines = Vec::new();
    for (_, _, tallest, mut row) in rows {
        row.sort_by_key(|w| w.area.x);
        let gap = 3 * tallest;
        let mut line = Line::default();
        for word in row {
            if let Some(last) = line.words.last() {
                if word.area.x > last.area.x + last.area.width + gap {
                    lines.push(std::mem::take(&mut line));
                }
            }
            line.words.push(word);
        }
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tesseract_s_tsv_becomes_lines_of_words_with_their_boxes() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t400\t200\t-1\t\n\
            5\t1\t1\t1\t1\t1\t10\t20\t41\t30\t96.1\tkey\n\
            5\t1\t1\t1\t1\t2\t60\t20\t100\t30\t91.0\tAKIAIOSFODNN7EXAMPLE\n\
            5\t1\t2\t1\t1\t1\t10\t80\t50\t30\t90.0\tnext\n\
            5\t1\t2\t1\t1\t2\t70\t80\t50\t30\t90.0\t \n";
        let lines = lines(tsv);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0].words.len(), 2);
        assert_eq!(lines[0].words[1].text, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(lines[0].words[0].area, Area::new(10, 20, 41, 30));
        assert_eq!(lines[1].words.len(), 1);
    }

    #[test]
    fn words_level_with_each_other_are_one_line_and_a_wide_gap_starts_another() {
        let word = |text: &str, x, y| Word {
            text: text.into(),
            area: Area::new(x, y, 40, 16),
        };
        // Out of order, a pixel off level, and a second column far right.
        let lines = group(vec![
            word("1111", 100, 1),
            word("4111", 50, 0),
            word("below", 50, 30),
            word("column", 400, 0),
        ]);
        let texts: Vec<Vec<&str>> = lines
            .iter()
            .map(|l| l.words.iter().map(|w| w.text.as_str()).collect())
            .collect();
        assert_eq!(texts, [vec!["4111", "1111"], vec!["column"], vec!["below"]]);
    }

    #[test]
    fn a_short_glyph_seen_first_does_not_split_its_line() {
        let word = |text: &str, x, y, w, h| Word {
            text: text.into(),
            area: Area::new(x, y, w, h),
        };
        let lines = group(vec![
            word("key", 10, 0, 30, 16),
            word("=", 50, 5, 8, 4),
            word("value", 70, 1, 50, 16),
        ]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].words.len(), 3);
    }

    #[test]
    fn a_missing_program_says_what_to_install() {
        let err = read_with("/nonexistent/tesseract".as_ref(), &[255; 16], 2, 2).unwrap_err();
        assert!(matches!(err, OcrError::NotInstalled));
        assert!(err.to_string().contains("tesseract-ocr"));
    }
}
