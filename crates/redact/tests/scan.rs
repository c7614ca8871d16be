//! The whole scan on real OCR (tesseract, which `cargo xtask test`
//! installs): a "screen" of text, drawn by the annotation renderer, with
//! secrets among ordinary lines.

use dropcast_annotate::{render, Colour, Document, Point, Shape};
use dropcast_redact::{scan, Area, Kind};

const WIDTH: u32 = 900;
const HEIGHT: u32 = 260;

/// A white screen with these lines in black, 18 px text, 36 px apart
/// from y = 20; the box each line's text takes.
fn screen(lines: &[&str]) -> Vec<u8> {
    let white = vec![255u8; (WIDTH * HEIGHT * 4) as usize];
    let shapes = lines
        .iter()
        .enumerate()
        .map(|(i, text)| Shape::Text {
            at: Point {
                x: 20.0,
                y: 20.0 + 36.0 * i as f32,
            },
            text: text.to_string(),
            size: 18.0,
            colour: Colour::rgb(0, 0, 0),
        })
        .collect();
    let doc = Document { shapes, crop: None };
    render(&white, WIDTH, HEIGHT, &doc).unwrap().0
}

/// Whether `outer` covers the middle of line `i`'s band from `x0` to `x1`.
fn covers(outer: &Area, i: u32, x0: u32, x1: u32) -> bool {
    let middle = 20 + 36 * i + 10;
    outer.y <= middle
        && outer.y + outer.height >= middle
        && outer.x <= x0
        && outer.x + outer.width >= x1
}

#[test]
fn a_screen_with_a_key_a_token_and_an_address_gets_a_box_over_each_and_nothing_else() {
    let lines = [
        "Deploy notes for the staging account",
        "AKIAIOSFODNN7EXAMPLE",
        "Ask jane.doe@example.com before merging",
        "ghp_R8x2LmQ4vT9nW3kZ7pY1cH5jD0sF6gB2aE4u",
        "Everything else on this screen is fine",
    ];
    let pixels = screen(&lines);
    let found = scan(&pixels, WIDTH, HEIGHT).expect("tesseract is installed (cargo xtask test)");
    let kinds: Vec<Kind> = found.iter().map(|f| f.kind).collect();
    assert!(kinds.contains(&Kind::AwsKey), "{found:?}");
    assert!(kinds.contains(&Kind::Email), "{found:?}");
    assert!(kinds.contains(&Kind::GithubToken), "{found:?}");
    assert_eq!(found.len(), 3, "nothing else: {found:?}");
    let aws = found.iter().find(|f| f.kind == Kind::AwsKey).unwrap();
    assert!(
        covers(&aws.area.padded(3, (WIDTH, HEIGHT)), 1, 25, 200),
        "{aws:?}"
    );
    let token = found.iter().find(|f| f.kind == Kind::GithubToken).unwrap();
    assert!(
        covers(&token.area.padded(3, (WIDTH, HEIGHT)), 3, 25, 300),
        "{token:?}"
    );
    // Small boxes: a line's words, not the screen.
    for f in &found {
        assert!(f.area.height < 40, "{f:?}");
    }
}

#[test]
fn a_screen_with_no_text_has_nothing_to_find() {
    let pixels = vec![200u8; (WIDTH * HEIGHT * 4) as usize];
    assert!(scan(&pixels, WIDTH, HEIGHT).unwrap().is_empty());
}

#[test]
fn missing_language_data_is_an_error_that_names_the_package() {
    let empty = tempfile::tempdir().unwrap();
    // TESSDATA_PREFIX points tesseract at a folder with no data; a child
    // process of this test, so the other tests keep theirs.
    let me = std::env::current_exe().unwrap();
    if std::env::var_os("DROPCAST_TEST_NO_TESSDATA").is_some() {
        let err = scan(&screen(&["text"]), WIDTH, HEIGHT).unwrap_err();
        assert!(err.to_string().contains("tesseract-ocr-eng"), "{err}");
        return;
    }
    let child = std::process::Command::new(me)
        .args([
            "--exact",
            "missing_language_data_is_an_error_that_names_the_package",
            "--nocapture",
        ])
        .env("DROPCAST_TEST_NO_TESSDATA", "1")
        .env("TESSDATA_PREFIX", empty.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&child.stdout);
    // It ran: a filter that matched nothing would pass too.
    assert!(
        child.status.success() && said.contains("1 passed"),
        "{said}{}",
        String::from_utf8_lossy(&child.stderr)
    );
}
