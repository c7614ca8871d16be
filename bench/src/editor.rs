//! `dropcast-bench editor`: what the editor costs, measured in process
//! (median of `--runs`, default 5), before its window exists:
//! - **export**: the capture bench's scene at 1920x1080 with 20 shapes
//!   (arrows, boxes, ellipses, pen and highlighter strokes, text, steps, a
//!   pixelated and a blurred area) rendered by `dropcast-annotate` and
//!   encoded to PNG, against a plain PNG encode of the same capture, which
//!   is what `dropcast shot` does;
//! - **find secrets**: `dropcast_redact::scan` of a 1920x1080 screen of
//!   text (this file's own lines, three secrets among them), against the
//!   tesseract program alone reading the same picture from a PNG file
//!   and writing its TSV, with the same cap on its OpenMP threads (and
//!   once as it starts by default, which spins past two cores).

use std::path::Path;
use std::time::{Duration, Instant};

use dropcast_annotate::{Area, Colour, Document, Point, Shape};

use crate::capture::scene;
use crate::{figure, flag};

const TEXT: &str = include_str!("editor.rs");

pub fn run(args: &[String]) -> Result<(), String> {
    let runs: usize = flag(args, "--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5)
        .max(1);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    export(dir.path(), runs)?;
    find_secrets(dir.path(), runs)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// 20 shapes spread over a 1920x1080 capture.
fn twenty_shapes() -> Vec<Shape> {
    let red = Colour::rgb(230, 20, 30);
    let p = |x: f32, y: f32| Point { x, y };
    let area = |x, y, width, height| Area {
        x,
        y,
        width,
        height,
    };
    let mut shapes = Vec::new();
    for i in 0..4 {
        let y = 100.0 + 200.0 * i as f32;
        shapes.push(Shape::Arrow {
            from: p(100.0, y),
            to: p(600.0, y + 80.0),
            colour: red,
            width: 6.0,
        });
        shapes.push(Shape::Rectangle {
            area: area(700.0, y, 300.0, 150.0),
            colour: red,
            width: 4.0,
        });
    }
    for i in 0..2 {
        let x = 1100.0 + 350.0 * i as f32;
        shapes.push(Shape::Ellipse {
            area: area(x, 100.0, 300.0, 200.0),
            colour: red,
            width: 4.0,
        });
        let wave: Vec<Point> = (0..50)
            .map(|k| p(x + 6.0 * k as f32, 500.0 + 40.0 * (k as f32 / 5.0).sin()))
            .collect();
        shapes.push(Shape::Pen {
            points: wave.clone(),
            colour: red,
            width: 5.0,
        });
        shapes.push(Shape::Highlighter {
            points: wave.iter().map(|q| p(q.x, q.y + 120.0)).collect(),
            colour: Colour::rgb(255, 230, 0),
            width: 24.0,
        });
        shapes.push(Shape::Text {
            at: p(x, 750.0),
            text: format!("Step {}", i + 1),
            size: 32.0,
            colour: red,
        });
        shapes.push(Shape::Step {
            at: p(x + 250.0, 770.0),
            colour: red,
            size: 36.0,
        });
    }
    shapes.push(Shape::Pixelate {
        area: area(100.0, 900.0, 300.0, 80.0),
        block: 12,
    });
    shapes.push(Shape::Blur {
        area: area(1400.0, 850.0, 300.0, 200.0),
        radius: 6,
    });
    assert_eq!(shapes.len(), 20);
    shapes
}

fn export(dir: &Path, runs: usize) -> Result<(), String> {
    let path = scene(dir, 1920, 1080)?;
    let capture = image::open(&path).map_err(|e| e.to_string())?.to_rgba8();
    let (w, h) = capture.dimensions();
    let settings = dropcast_encode::Settings::default();
    let document = Document {
        shapes: twenty_shapes(),
        crop: None,
    };
    let (mut plain, mut annotated) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        dropcast_encode::encode(&capture, 1.0, &settings).map_err(|e| e.to_string())?;
        plain.push(t.elapsed());
        let t = Instant::now();
        let (pixels, w, h) = dropcast_annotate::render(capture.as_raw(), w, h, &document)
            .map_err(|e| e.to_string())?;
        let image = image::RgbaImage::from_raw(w, h, pixels).ok_or("a rendered size")?;
        dropcast_encode::encode(&image, 1.0, &settings).map_err(|e| e.to_string())?;
        annotated.push(t.elapsed());
    }
    let (plain, annotated) = (median(plain), median(annotated));
    let ratio = annotated.as_secs_f64() / plain.as_secs_f64();
    println!("Export of a 1920x1080 capture to PNG (median of {runs}):");
    println!("  plain encode (dropcast shot):  {}", ms(plain));
    println!(
        "  20 shapes rendered + encoded:  {}  ({ratio:.2}x, target <= 1.5x)",
        ms(annotated)
    );
    figure(
        "editor export, 1080p, 20 shapes",
        ms(annotated),
        Some(("plain encode", ms(plain))),
        Some(ratio),
        "<= 1.5x",
    );
    Ok(())
}

/// A white 1920x1080 screen of 16 px text, 28 px apart: this file's
/// lines, with an AWS key ID, a GitHub token and an e-mail address among
/// them.
fn text_screen() -> Result<image::RgbaImage, String> {
    let (w, h) = (1920, 1080);
    let mut lines: Vec<String> = TEXT
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(36)
        .map(String::from)
        .collect();
    lines[6] = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE".into();
    lines[17] = "token: ghp_R8x2LmQ4vT9nW3kZ7pY1cH5jD0sF6gB2aE4u".into();
    lines[28] = "// ask jane.doe@example.com before changing this".into();
    let shapes = lines
        .iter()
        .enumerate()
        .map(|(i, text)| Shape::Text {
            at: Point {
                x: 40.0,
                y: 20.0 + 29.0 * i as f32,
            },
            text: text.clone(),
            size: 16.0,
            colour: Colour::rgb(20, 20, 20),
        })
        .collect();
    let white = vec![255u8; (w * h * 4) as usize];
    let document = Document { shapes, crop: None };
    let (pixels, w, h) =
        dropcast_annotate::render(&white, w, h, &document).map_err(|e| e.to_string())?;
    image::RgbaImage::from_raw(w, h, pixels).ok_or_else(|| "a rendered size".into())
}

fn find_secrets(dir: &Path, runs: usize) -> Result<(), String> {
    let screen = text_screen()?;
    let (w, h) = screen.dimensions();
    let png = dir.join("text-screen.png");
    screen.save(&png).map_err(|e| e.to_string())?;
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let mut found = Vec::new();
    let limit = dropcast_redact::ocr::thread_limit();
    // tesseract as it starts by default, once, for the record.
    let t = Instant::now();
    std::process::Command::new("tesseract")
        .arg(&png)
        .args(["stdout", "-l", "eng", "tsv"])
        .env_remove("OMP_THREAD_LIMIT")
        .output()
        .map_err(|e| format!("tesseract (package tesseract-ocr): {e}"))?;
    let uncapped = t.elapsed();
    for _ in 0..runs {
        let t = Instant::now();
        found = dropcast_redact::scan(screen.as_raw(), w, h).map_err(|e| e.to_string())?;
        ours.push(t.elapsed());
        // With the same cap on its threads as ours (see ocr::thread_limit).
        let t = Instant::now();
        let out = std::process::Command::new("tesseract")
            .arg(&png)
            .args(["stdout", "-l", "eng", "tsv"])
            .env("OMP_THREAD_LIMIT", limit.to_string())
            .output()
            .map_err(|e| format!("tesseract (package tesseract-ocr): {e}"))?;
        peer.push(t.elapsed());
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
    }
    let (ours, peer) = (median(ours), median(peer));
    let ratio = ours.as_secs_f64() / peer.as_secs_f64();
    let kinds: Vec<String> = found
        .iter()
        .map(|f| {
            serde_json::to_value(f.kind)
                .ok()
                .and_then(|k| k.as_str().map(String::from))
                .unwrap_or_default()
        })
        .collect();
    println!("\nFind secrets on a 1920x1080 screen of text (median of {runs}):");
    println!(
        "  tesseract alone, as it starts by default:       {}",
        ms(uncapped)
    );
    println!(
        "  tesseract alone, OMP_THREAD_LIMIT={limit} (PNG to TSV): {}",
        ms(peer)
    );
    println!(
        "  dropcast_redact::scan:                          {}  ({ratio:.2}x; target <= 1.5 s)",
        ms(ours)
    );
    println!("  found: {}", kinds.join(", "));
    for want in ["aws_key", "github_token", "email"] {
        if !kinds.iter().any(|k| k == want) {
            return Err(format!(
                "the scan missed the {want} on the screen: {kinds:?}"
            ));
        }
    }
    figure(
        "find secrets, 1080p screen of text",
        ms(ours),
        Some(("tesseract alone", ms(peer))),
        Some(ratio),
        "<= 1.5 s",
    );
    Ok(())
}
