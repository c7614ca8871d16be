//! `dropcast shot`, `monitors` and `windows` under a real X server (Xvfb)
//! showing a known image (feh), against the real server: the bytes behind
//! the link must match what was on the screen, pixel for pixel.

use dropcast_tests::*;
use image::{GenericImageView, RgbImage};
use std::path::Path;

fn save(image: &RgbImage, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    image.save(&path).unwrap();
    path.to_str().unwrap().to_string()
}

fn decode_rgb(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().to_rgb8()
}

fn crop(image: &RgbImage, x: u32, y: u32, w: u32, h: u32) -> RgbImage {
    image.view(x, y, w, h).to_image()
}

struct Desk {
    x: Xvfb,
    server: Server,
    home: Home,
    files: tempfile::TempDir,
}

const FILE_STORE: (&str, &str) = ("DROPCAST_CREDENTIALS", "file");

impl Desk {
    /// An Xvfb of `width` x `height`, a server, and a CLI signed in to it.
    fn new(width: u32, height: u32) -> Desk {
        let desk = Desk {
            x: Xvfb::start(width, height),
            server: Server::start(&workspace_bin("dropcast-server"), &[]),
            home: Home::new(),
            files: tempfile::tempdir().unwrap(),
        };
        desk.dropcast(
            &["login", "--server", &desk.server.url, "--token-stdin"],
            &desk.server.owner_token.clone(),
        );
        desk
    }

    fn env(&self) -> [(&str, &str); 2] {
        [FILE_STORE, ("DISPLAY", self.x.display.as_str())]
    }

    /// `dropcast --json ARGS` on this desk; must succeed.
    fn dropcast(&self, args: &[&str], stdin: &str) -> serde_json::Value {
        let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
        self.home.json(&args, stdin, &self.env())
    }

    /// Shows `image` full screen and waits until it is painted.
    fn show_full_screen(&self, image: &RgbImage) -> Running {
        let path = save(image, self.files.path(), "screen.png");
        self.x.show_full_screen(Path::new(&path))
    }

    /// The link on the clipboard, checked against the CLI's answer, and
    /// the bytes behind it.
    fn link_and_bytes(&self, answer: &serde_json::Value) -> Vec<u8> {
        let url = answer["url"].as_str().unwrap();
        let clip = self.x.clipboard("UTF8_STRING");
        assert_eq!(String::from_utf8_lossy(&clip), url, "the link is copied");
        assert_eq!(answer["status"], "complete");
        let raw = reqwest::blocking::get(format!("{url}/raw")).unwrap();
        assert_eq!(raw.status(), 200);
        assert_eq!(raw.headers()["content-type"], "image/png");
        raw.bytes().unwrap().to_vec()
    }
}

#[test]
fn a_shot_of_the_screen_puts_a_link_on_the_clipboard_whose_bytes_are_the_screen() {
    let desk = Desk::new(800, 600);
    let shown = pattern(800, 600, 0);
    let _feh = desk.show_full_screen(&shown);
    let shot = desk.dropcast(&["shot", "--screen"], "");
    assert_eq!(
        (shot["width"].as_u64(), shot["height"].as_u64()),
        (Some(800), Some(600))
    );
    let bytes = desk.link_and_bytes(&shot);
    assert_same(&decode_rgb(&bytes), &shown, "screen");
    // The history has it, with a thumbnail; the capture itself, once
    // uploaded, is not kept twice.
    let history = desk.dropcast(&["history"], "");
    let entry = &history["drops"][0];
    assert_eq!(entry["id"], shot["id"]);
    assert_eq!(entry["status"], "complete");
    let thumb = image::open(entry["thumbnail"].as_str().unwrap()).unwrap();
    assert_eq!(thumb.dimensions(), (256, 192));
    assert!(entry["local_path"].is_null());
}

#[test]
fn a_shot_of_a_region_has_the_region_s_size_and_pixels() {
    let desk = Desk::new(800, 600);
    let shown = pattern(800, 600, 0);
    let _feh = desk.show_full_screen(&shown);
    let shot = desk.dropcast(&["shot", "--region", "130,70,301,203"], "");
    let bytes = desk.link_and_bytes(&shot);
    assert_same(
        &decode_rgb(&bytes),
        &crop(&shown, 130, 70, 301, 203),
        "region",
    );
}

#[test]
fn a_shot_of_a_window_under_a_window_manager_is_the_window_s_content() {
    let desk = Desk::new(800, 600);
    let _wm = desk.x.start_window_manager();
    let picture = pattern(320, 240, 0);
    let path = save(&picture, desk.files.path(), "window.png");
    let _feh = desk.x.spawn("feh", &["--geometry", "320x240+60+40", &path]);
    desk.x.wait_for_window("feh");
    let windows = desk.dropcast(&["windows"], "");
    let feh = windows["windows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["title"].as_str().unwrap_or("").contains("window.png"))
        .unwrap_or_else(|| panic!("feh's window is listed: {windows}"));
    assert_eq!(
        (feh["width"].as_u64(), feh["height"].as_u64()),
        (Some(320), Some(240))
    );
    let id = feh["id"].as_u64().unwrap().to_string();
    let shot = desk.dropcast(&["shot", "--window", &id], "");
    let bytes = desk.link_and_bytes(&shot);
    assert_same(&decode_rgb(&bytes), &picture, "window");
}

#[test]
fn with_two_monitors_monitor_n_is_exactly_its_own_pixels() {
    let desk = Desk::new(1200, 400);
    let shown = pattern(1200, 400, 0);
    // Shown across the whole screen first (feh fills one monitor when
    // there are several), then the screen is split.
    let _feh = desk.show_full_screen(&shown);
    desk.x.split_monitors(&[500, 700]);
    let monitors = desk.dropcast(&["monitors"], "");
    let list = monitors["monitors"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{monitors}");
    assert_eq!(
        (list[1]["x"].as_i64(), list[1]["width"].as_u64()),
        (Some(500), Some(700))
    );
    for (n, x, width) in [("1", 0, 500), ("2", 500, 700)] {
        let out = desk.files.path().join(format!("monitor-{n}.png"));
        let out = out.to_str().unwrap();
        let shot = desk.dropcast(
            &[
                "shot",
                "--monitor",
                n,
                "--no-upload",
                "--out",
                out,
                "--copy",
                "image",
            ],
            "",
        );
        assert_eq!(shot["copied"], true);
        let want = crop(&shown, x, 0, width, 400);
        assert_same(
            &decode_rgb(&std::fs::read(out).unwrap()),
            &want,
            "monitor file",
        );
        // The image itself is on the clipboard too.
        let clip = desk.x.clipboard("image/png");
        assert_same(&decode_rgb(&clip), &want, "monitor on the clipboard");
    }
    // The monitor under the pointer.
    desk.x.output("xdotool", &["mousemove", "900", "100"]);
    let out = desk.files.path().join("under-cursor.png");
    let out = out.to_str().unwrap();
    desk.dropcast(
        &[
            "shot",
            "--monitor",
            "cursor",
            "--no-upload",
            "--out",
            out,
            "--copy",
            "none",
        ],
        "",
    );
    let under = decode_rgb(&std::fs::read(out).unwrap());
    assert_same(
        &under,
        &crop(&shown, 500, 0, 700, 400),
        "monitor under the cursor",
    );
    // A region across the seam is one image.
    let out = desk.files.path().join("seam.png");
    let out = out.to_str().unwrap();
    desk.dropcast(
        &[
            "shot",
            "--region",
            "450,10,100,50",
            "--no-upload",
            "--out",
            out,
            "--copy",
            "none",
        ],
        "",
    );
    let seam = decode_rgb(&std::fs::read(out).unwrap());
    assert_same(
        &seam,
        &crop(&shown, 450, 10, 100, 50),
        "region across monitors",
    );
}

#[test]
fn what_cannot_be_captured_says_why_with_exit_code_6_and_a_full_disk_exit_5() {
    let desk = Desk::new(640, 480);
    let fails = |args: &[&str], env: &[(&str, &str)]| {
        let out = desk.home.run(args, "", env);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let env = desk.env();
    let (code, err) = fails(&["shot", "--monitor", "3"], &env);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("no monitor 3: this desktop has 1"), "{err}");
    let (code, err) = fails(&["shot", "--region", "600,400,100,100"], &env);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains("off screen: the desktop is 640x480+0+0"),
        "{err}"
    );
    let (code, err) = fails(&["windows"], &env);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("no window manager is running"), "{err}");
    let (code, err) = fails(&["shot"], &[FILE_STORE]);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("no display to capture"), "{err}");
    let (code, err) = fails(&["shot", "--region", "1,2,3"], &env);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("X,Y,WIDTH,HEIGHT"), "{err}");
    let (code, err) = fails(&["shot", "--no-upload", "--out", "/dev/full"], &env);
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("the disk is full"), "{err}");
}

#[test]
fn a_shot_taken_while_the_server_is_down_keeps_its_link_and_arrives_on_resume() {
    let mut desk = Desk::new(640, 480);
    let shown = pattern(640, 480, 0);
    let _feh = desk.show_full_screen(&shown);
    desk.server.kill9();
    let out = desk.home.run(&["--json", "shot"], "", &desk.env());
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    // The link was on the clipboard before the server was asked anything.
    let link = String::from_utf8(desk.x.clipboard("UTF8_STRING")).unwrap();
    assert!(link.starts_with(&desk.server.url), "{link}");
    assert!(
        err.contains(&link) && err.contains("dropcast resume"),
        "{err}"
    );
    let history = desk.dropcast(&["history"], "");
    assert_eq!(history["drops"][0]["status"], "failed");
    assert_eq!(history["drops"][0]["url"], link.as_str());
    desk.server.restart();
    let resumed = desk.dropcast(&["resume"], "");
    assert_eq!(resumed["drops"][0]["url"], link.as_str());
    let raw = reqwest::blocking::get(format!("{link}/raw")).unwrap();
    assert_same(&decode_rgb(&raw.bytes().unwrap()), &shown, "resumed shot");
}

#[test]
fn the_pointer_is_drawn_in_only_when_asked_and_only_where_it_is() {
    let desk = Desk::new(400, 300);
    let shown = pattern(400, 300, 0);
    // feh without --hide-pointer: the X server's default pointer shows.
    let path = save(&shown, desk.files.path(), "screen.png");
    let _feh = desk
        .x
        .spawn("feh", &["--fullscreen", "--borderless", &path]);
    desk.x.wait_for_window("feh");
    desk.x.output("xdotool", &["mousemove", "200", "150"]);
    let shoot = |name: &str, extra: &[&str]| {
        let out = desk.files.path().join(name);
        let out = out.to_str().unwrap().to_string();
        let mut args = vec!["shot", "--no-upload", "--copy", "none", "--out", &out];
        args.extend_from_slice(extra);
        desk.dropcast(&args, "");
        decode_rgb(&std::fs::read(&out).unwrap())
    };
    assert_same(&shoot("plain.png", &[]), &shown, "without --cursor");
    let with = shoot("cursor.png", &["--cursor"]);
    let changed: Vec<(u32, u32)> = with
        .enumerate_pixels()
        .filter(|(x, y, p)| shown.get_pixel(*x, *y) != *p)
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(!changed.is_empty(), "the pointer is drawn");
    for (x, y) in changed {
        assert!(
            x.abs_diff(200) < 48 && y.abs_diff(150) < 48,
            "pixel {x},{y} changed, far from the pointer at 200,150"
        );
    }
}

#[test]
fn the_clipboard_holder_ends_when_another_program_takes_the_clipboard_or_the_display_goes() {
    let desk = Desk::new(320, 240);
    desk.dropcast(&["shot", "--screen"], "");
    assert_eq!(
        desk.home.clipboard_holders().len(),
        1,
        "one holder serves the link"
    );
    // Another program takes the clipboard over: the holder has nothing
    // left to serve.
    let other = desk.files.path().join("other.txt");
    std::fs::write(&other, "someone else's text").unwrap();
    let xclip = desk.x.spawn(
        "xclip",
        &["-selection", "clipboard", "-quiet", other.to_str().unwrap()],
    );
    wait_until("the holder to end after xclip took the clipboard", || {
        desk.home.clipboard_holders().is_empty()
    });
    drop(xclip);
    // The display goes away while a holder serves it (the session ended).
    desk.dropcast(&["shot", "--screen"], "");
    assert_eq!(desk.home.clipboard_holders().len(), 1);
    let Desk { x, home, .. } = desk;
    drop(x);
    wait_until("the holder to end after its X server exited", || {
        home.clipboard_holders().is_empty()
    });
}

/// A white `width` x `height` screen with `lines` of black text (18 px,
/// 36 px apart from y = 20), drawn by the annotation renderer.
fn text_screen(width: u32, height: u32, lines: &[&str]) -> RgbImage {
    use dropcast_annotate::{render, Colour, Document, Point, Shape};
    let white = vec![255u8; (width * height * 4) as usize];
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
    let document = Document { shapes, crop: None };
    let (rgba, _, _) = render(&white, width, height, &document).unwrap();
    image::DynamicImage::ImageRgba8(image::RgbaImage::from_raw(width, height, rgba).unwrap())
        .to_rgb8()
}

#[test]
fn a_redacted_shot_pixelates_each_secret_and_leaves_the_rest_of_the_screen_alone() {
    let desk = Desk::new(900, 300);
    let screen = text_screen(
        900,
        300,
        &[
            "Deploy notes for the staging account",
            "AKIAIOSFODNN7EXAMPLE",
            "Ask jane.doe@example.com before merging",
            "ghp_R8x2LmQ4vT9nW3kZ7pY1cH5jD0sF6gB2aE4u",
            "Everything else on this screen is fine",
        ],
    );
    let _shown = desk.show_full_screen(&screen);
    let answer = desk.dropcast(&["shot", "--redact"], "");
    let mut kinds: Vec<&str> = answer["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["aws_key", "email", "github_token"], "{answer}");
    // The hints keep the secrets.
    let said = answer.to_string();
    assert!(
        !said.contains("IOSFODNN7") && !said.contains("jane.doe"),
        "{said}"
    );
    let shared = decode_rgb(&desk.link_and_bytes(&answer));
    assert_eq!(shared.dimensions(), screen.dimensions());
    // Read again, the shared picture holds none of them.
    let rgba = image::DynamicImage::ImageRgb8(shared.clone()).to_rgba8();
    let again = dropcast_redact::scan(rgba.as_raw(), 900, 300).unwrap();
    assert!(again.is_empty(), "still there: {again:?}");
    // Each secret's box, with the 4 px margin redaction adds, is one
    // colour; every pixel outside them is the screen's; and the boxes are
    // each about a line of text, not the screen.
    let boxes: Vec<(u32, u32, u32, u32)> = answer["redacted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let n = |k: &str| f["area"][k].as_u64().unwrap() as u32;
            let (x0, y0) = (n("x").saturating_sub(4), n("y").saturating_sub(4));
            let x1 = (n("x") + n("width") + 4).min(900);
            let y1 = (n("y") + n("height") + 4).min(300);
            (x0, y0, x1, y1)
        })
        .collect();
    for &(x0, y0, x1, y1) in &boxes {
        assert!(y1 - y0 < 40 && x1 - x0 < 600, "{boxes:?}");
        let first = *shared.get_pixel(x0, y0);
        for y in y0..y1 {
            for x in x0..x1 {
                assert_eq!(*shared.get_pixel(x, y), first, "box {x0},{y0}: at {x},{y}");
            }
        }
        // Black text on white, averaged: no pixel of ink is left.
        assert!(first.0.iter().all(|c| *c > 100), "{first:?}");
    }
    let inside = |x: u32, y: u32| {
        boxes
            .iter()
            .any(|(x0, y0, x1, y1)| (*x0..*x1).contains(&x) && (*y0..*y1).contains(&y))
    };
    let changed = shared
        .enumerate_pixels()
        .filter(|(x, y, p)| !inside(*x, *y) && screen.get_pixel(*x, *y) != *p)
        .count();
    assert_eq!(changed, 0, "pixels outside the secrets changed");
}
