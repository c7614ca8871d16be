//! `dropcast monitors`, `shot` and `windows` on a headless Wayland
//! desktop (sway, no XWayland, no X display at all), showing known
//! pictures: the pixels must be exactly the screen's, and the same as
//! grim's, the peer tool, through the same protocol.
#![cfg(target_os = "linux")]

use dropcast_tests::browser::Browser;
use dropcast_tests::*;
use image::{GenericImageView, RgbImage};

struct Desk {
    sway: Sway,
    home: Home,
    files: tempfile::TempDir,
    /// What HEADLESS-1 shows.
    shown: RgbImage,
}

impl Desk {
    /// sway with one 1280x720 output showing a known picture.
    fn new() -> Desk {
        let files = tempfile::tempdir().unwrap();
        let shown = pattern(1280, 720, 0);
        let path = files.path().join("one.png");
        shown.save(&path).unwrap();
        Desk {
            sway: Sway::start(1280, 720, &path),
            home: Home::new(),
            files,
            shown,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        self.sway.env()
    }

    /// `dropcast ARGS` in this session (no X display).
    fn run(&self, args: &[&str]) -> std::process::Output {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.home.run(args, "", &env)
    }

    /// `dropcast --json ARGS`; must succeed.
    fn json(&self, args: &[&str]) -> serde_json::Value {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let args: Vec<&str> = ["--json"].iter().chain(args).copied().collect();
        self.home.json(&args, "", &env)
    }

    /// `dropcast shot TARGET` to a file, not uploaded; its pixels.
    fn shot(&self, name: &str, target: &[&str]) -> RgbImage {
        let out = self.files.path().join(format!("{name}.png"));
        let mut args = vec!["shot", "--no-upload", "--copy", "none", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(target);
        self.json(&args);
        image::open(&out).unwrap().to_rgb8()
    }

    /// A second output of 1280x720 pixels at scale 2 (640x360 logical
    /// units) right of the first, showing its own picture.
    fn add_hidpi_output(&self) -> (String, RgbImage) {
        let picture = pattern(1280, 720, 3);
        let path = self.files.path().join("two.png");
        picture.save(&path).unwrap();
        let name = self.sway.add_output((1280, 720), 2, (1280, 0), &path);
        (name, picture)
    }

    fn grim(&self, output: &str) -> RgbImage {
        image::open(self.sway.grim(output, self.files.path()))
            .unwrap()
            .to_rgb8()
    }
}

#[test]
fn monitors_are_the_compositor_s_outputs_in_logical_units_with_their_scale() {
    let desk = Desk::new();
    let (second, _) = desk.add_hidpi_output();
    let monitors = desk.json(&["monitors"]);
    let list = monitors["monitors"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{monitors}");
    let place = |m: &serde_json::Value| {
        (
            m["name"].as_str().unwrap().to_string(),
            m["x"].as_i64().unwrap(),
            m["y"].as_i64().unwrap(),
            m["width"].as_u64().unwrap(),
            m["height"].as_u64().unwrap(),
            m["scale_factor"].as_f64().unwrap(),
        )
    };
    assert_eq!(place(&list[0]), ("HEADLESS-1".into(), 0, 0, 1280, 720, 1.0));
    assert_eq!(place(&list[1]), (second, 1280, 0, 640, 360, 2.0));
    assert_eq!(list[0]["primary"], true);
}

#[test]
fn shots_of_the_screen_a_monitor_and_a_region_are_exactly_the_screen_s_pixels() {
    let desk = Desk::new();
    assert_same(&desk.shot("screen", &["--screen"]), &desk.shown, "screen");
    assert_same(&desk.grim("HEADLESS-1"), &desk.shown, "grim's view");
    assert_same(
        &desk.shot("monitor", &["--monitor", "1"]),
        &desk.shown,
        "monitor 1",
    );
    let region = desk.shot("region", &["--region", "130,70,301,203"]);
    assert_same(
        &region,
        &desk.shown.view(130, 70, 301, 203).to_image(),
        "region",
    );
}

#[test]
fn a_hidpi_monitor_is_shot_at_its_physical_pixels_and_a_region_across_both_at_the_larger_scale() {
    let desk = Desk::new();
    let (name, picture) = desk.add_hidpi_output();
    let two = desk.shot("monitor-2", &["--monitor", "2"]);
    assert_same(
        &desk.grim(&name),
        &picture,
        "grim's view of the HiDPI output",
    );
    assert_same(
        &two,
        &picture,
        "monitor 2, 1280x720 pixels for 640x360 units",
    );
    // A region in logical units: 100x50 on the HiDPI monitor is 200x100
    // of its pixels.
    let inside = desk.shot("inside", &["--region", "1380,20,100,50"]);
    assert_same(
        &inside,
        &picture.view(200, 40, 200, 100).to_image(),
        "region on monitor 2",
    );
    // Across both: the scale-1 part is doubled (each pixel a 2x2 block)
    // to meet the scale-2 part.
    let across = desk.shot("across", &["--region", "1270,10,20,10"]);
    assert_eq!(across.dimensions(), (40, 20));
    for (x, y, p) in across.enumerate_pixels() {
        let want = if x < 20 {
            *desk.shown.get_pixel(1270 + x / 2, 10 + y / 2)
        } else {
            *picture.get_pixel(x - 20, 20 + y)
        };
        assert_eq!(*p, want, "pixel {x},{y} of the region across both monitors");
    }
}

#[test]
fn a_turned_output_is_shot_upright_as_grim_sees_it() {
    let desk = Desk::new();
    for transform in ["90", "flipped-270"] {
        desk.sway
            .msg(&format!("output HEADLESS-1 transform {transform}"));
        let monitors = desk.json(&["monitors"]);
        let one = &monitors["monitors"][0];
        assert_eq!(
            (one["width"].as_u64(), one["height"].as_u64()),
            (Some(720), Some(1280)),
            "{monitors}"
        );
        // swaybg repaints for the new shape; grim is the reference.
        wait_until(
            &format!("grim and dropcast to agree on the output turned {transform}"),
            || {
                let grim = desk.grim("HEADLESS-1");
                let ours = desk.shot("turned", &["--screen"]);
                grim.dimensions() == (720, 1280) && grim == ours
            },
        );
    }
}

#[test]
fn windows_say_wayland_has_no_list_and_what_to_capture_instead() {
    let desk = Desk::new();
    let out = desk.run(&["windows"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Wayland has no list of windows")
            && err.contains("`--window pick`")
            && err.contains("the screen, a monitor or a region"),
        "{err}"
    );
}

#[test]
fn a_window_picked_where_the_portal_shares_only_monitors_says_to_capture_a_region() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal();
    let out = desk.files.path().join("window.png");
    let env = desk.env();
    let run = desk
        .home
        .command("dropcast")
        .args(["shot", "--window", "pick", "--no-upload", "--copy", "none"])
        .arg("--out")
        .arg(&out)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("DBUS_SESSION_BUS_ADDRESS", &portal.bus)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{err}");
    // xdg-desktop-portal-wlr 0.7 shares monitors only: known before any
    // dialog, so none is shown.
    assert!(
        err.contains("cannot share a single window") && err.contains("--region"),
        "{err}"
    );
    assert_eq!(portal.screencast_choices(), 0);
    assert!(!out.exists());
}

#[test]
fn a_window_picked_in_the_desktop_s_dialog_is_shot_and_the_dialog_asks_every_time() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal_sharing_windows();
    let env = desk.env();
    let mut mouse = desk.sway.pointer();
    let mut shot = |name: &str| {
        let out = desk.files.path().join(format!("{name}.png"));
        let mut run = desk
            .home
            .command("dropcast")
            .args(["--json", "shot", "--window", "pick", "--no-upload"])
            .args(["--copy", "none", "--out"])
            .arg(&out)
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("DBUS_SESSION_BUS_ADDRESS", &portal.bus)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // xdg-desktop-portal-wlr 0.7 sends a picture only when the output
        // changes: the pointer moves until the shot is taken, as on a live
        // desktop.
        let mut right = false;
        wait_up_to(std::time::Duration::from_secs(60), "the shot", || {
            right = !right;
            mouse.move_to(if right { 900 } else { 800 }, 600);
            std::thread::sleep(std::time::Duration::from_millis(100));
            run.try_wait().unwrap().is_some()
        });
        let run = run.wait_with_output().unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        image::open(&out).unwrap().to_rgb8()
    };
    // The stand-in's "window" fills the output: its pixels are the
    // screen's, exactly.
    same_but_the_pointer(&shot("first"), &desk.shown);
    assert_eq!(portal.screencast_choices(), 1);
    // A window is chosen each time, and no choice is kept.
    same_but_the_pointer(&shot("second"), &desk.shown);
    assert_eq!(portal.screencast_choices(), 2, "asked again");
    // A window was asked for, and not to be remembered.
    assert_eq!(portal.selected_sources(), ["types=2 persist=0"; 2]);
    let kept = desk.home.dir.path().join("state/dropcast");
    assert!(!kept.join("screencast-restore-token").exists());
}

/// `got` is `want`, pixel for pixel, but where the pointer was (about
/// 800..940, 600..650): a headless output has no cursor plane, so the
/// pointer is in every picture of it, whatever the cursor mode asked.
fn same_but_the_pointer(got: &RgbImage, want: &RgbImage) {
    assert_eq!(got.dimensions(), want.dimensions());
    let pointer = |x: u32, y: u32| (790..950).contains(&x) && (590..660).contains(&y);
    let differ = got
        .enumerate_pixels()
        .filter(|(x, y, p)| !pointer(*x, *y) && want.get_pixel(*x, *y) != *p)
        .count();
    assert_eq!(differ, 0, "pixels away from the pointer differ");
}

/// The colour in the middle of each frame of `video`, four times a
/// second, as BT.709 RGB.
fn colours_of(video: &std::path::Path) -> Vec<[u8; 3]> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args([
            "-vf",
            "fps=4,crop=16:16,scale=1:1:in_color_matrix=bt709:in_range=tv,format=rgb24",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("ffmpeg is installed (package ffmpeg)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(3)
        .map(|c| [c[0], c[1], c[2]])
        .collect()
}

#[test]
fn a_recording_shows_the_screen_s_colours_in_order_and_lasts_as_long_as_asked() {
    let desk = Desk::new();
    record_colours(&desk, &[]);
}

#[test]
fn a_recording_through_the_screencast_portal_shows_the_colours_and_keeps_the_choice() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal();
    let through_portal = [
        ("DROPCAST_WAYLAND_CAPTURE", "portal"),
        ("DBUS_SESSION_BUS_ADDRESS", portal.bus.as_str()),
    ];
    record_colours(&desk, &through_portal);
    assert_eq!(portal.screencast_choices(), 1, "asked which output once");
    // The desktop's restore token is kept, so it does not ask again.
    let kept = desk
        .home
        .dir
        .path()
        .join("state/dropcast/screencast-restore-token");
    let token = std::fs::read_to_string(&kept).expect("the restore token is kept");
    assert!(!token.trim().is_empty());
    record_colours(&desk, &through_portal);
    assert_eq!(portal.screencast_choices(), 1, "not asked again");
}

/// `dropcast record` of a corner of the screen for 5 s while the
/// background turns through three colours, with `extra` in its
/// environment: the video shows them in order and lasts 5 s.
fn record_colours(desk: &Desk, extra: &[(&str, &str)]) {
    let colours = [[200u8, 40, 40], [40, 200, 40], [40, 40, 200]];
    let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
    desk.sway.msg(&format!(
        "output HEADLESS-1 bg {} solid_color",
        hex(colours[0])
    ));
    let out = desk.files.path().join("clip.mp4");
    let _ = std::fs::remove_file(&out);
    let mut args = vec!["--json", "record", "--duration", "5", "--fps", "30"];
    args.extend(["--region", "0,0,320,240", "--no-upload", "--out"]);
    args.push(out.to_str().unwrap());
    let env = desk.env();
    let mut record = desk.home.command("dropcast");
    record
        .args(&args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .envs(extra.iter().copied())
        .stdout(std::process::Stdio::piped());
    let mut record = record.spawn().unwrap();
    // The recording has begun once its file is there (a busy machine
    // may take a while to start it).
    wait_up_to(
        std::time::Duration::from_secs(60),
        "the recording to begin",
        || {
            if let Some(ended) = record.try_wait().unwrap() {
                panic!(
                    "dropcast record ended first ({ended}); {}",
                    desk.sway.logs()
                );
            }
            out.exists()
        },
    );
    // Each colour is set twice, 150 ms apart, as a live screen changes
    // again and again: xdg-desktop-portal-wlr 0.7 copies a frame on the
    // next damage after it asks, and loses damage that comes between its
    // frames.
    for colour in &colours[1..] {
        std::thread::sleep(std::time::Duration::from_millis(1200));
        for _ in 0..2 {
            desk.sway.msg(&format!(
                "output HEADLESS-1 bg {} solid_color",
                hex(*colour)
            ));
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
    }
    let done = record.wait_with_output().unwrap();
    assert!(done.status.success());
    let done: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
    // Dropped frames are a matter of speed, which `cargo xtask bench
    // wayland` measures: this shared machine runs other tests meanwhile.
    assert!(done["frames"].as_u64().unwrap() > 0, "{done}");
    let seen = colours_of(&out);
    let near = |a: [u8; 3], b: [u8; 3]| a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 12);
    // Each colour shows, in order: the first frames the first colour, the
    // last ones the last.
    let mut order = seen
        .iter()
        .filter_map(|c| colours.iter().position(|want| near(*c, *want)));
    let mut next = 0;
    for i in order.by_ref() {
        assert!(i >= next, "colours out of order: {seen:?}");
        next = i;
    }
    assert_eq!(
        (seen.first().map(|c| near(*c, colours[0])), next),
        (Some(true), 2),
        "{seen:?}"
    );
    let seconds = duration_of(&out);
    assert!((seconds - 5.0).abs() <= 0.2, "lasts {seconds} s");
}

fn duration_of(video: &std::path::Path) -> f64 {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(video)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_shared_shot_s_link_stays_on_the_clipboard_after_the_cli_exits() {
    let desk = Desk::new();
    let server = Server::start(&workspace_bin("dropcast-server"), &[]);
    let env = desk.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("DROPCAST_CREDENTIALS", "file"));
    desk.home.json(
        &["--json", "login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &env,
    );
    let shot = desk.home.json(&["--json", "shot", "--screen"], "", &env);
    let url = shot["url"].as_str().unwrap();
    // The CLI has exited; the holder serves the link.
    let pasted = desk
        .sway
        .command("wl-paste")
        .arg("--no-newline")
        .output()
        .expect("wl-paste is installed (package wl-clipboard)");
    assert_eq!(String::from_utf8_lossy(&pasted.stdout), url);
    let raw = reqwest::blocking::get(format!("{url}/raw")).unwrap();
    assert_eq!(raw.status(), 200);
    let bytes = raw.bytes().unwrap();
    assert_same(
        &image::load_from_memory(&bytes).unwrap().to_rgb8(),
        &desk.shown,
        "the shared shot",
    );
    // Another program takes the clipboard: the holder ends.
    let copied = desk
        .sway
        .command("wl-copy")
        .arg("someone else's text")
        .status()
        .unwrap();
    assert!(copied.success());
    wait_until("the holder to end once wl-copy took the clipboard", || {
        desk.home.clipboard_holders().is_empty()
    });
}

#[test]
fn shots_through_the_screenshot_portal_are_the_screen_s_pixels_too() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal();
    let env = desk.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        ("DBUS_SESSION_BUS_ADDRESS", portal.bus.as_str()),
        ("DROPCAST_WAYLAND_CAPTURE", "portal"),
    ]);
    let shot = |name: &str, target: &[&str]| {
        let out = desk.files.path().join(format!("{name}.png"));
        let mut args = vec!["--json", "shot", "--no-upload", "--copy", "none", "--out"];
        args.push(out.to_str().unwrap());
        args.extend_from_slice(target);
        desk.home.json(&args, "", &env);
        image::open(&out).unwrap().to_rgb8()
    };
    assert_same(&shot("screen", &["--screen"]), &desk.shown, "screen");
    assert_same(
        &shot("region", &["--region", "130,70,301,203"]),
        &desk.shown.view(130, 70, 301, 203).to_image(),
        "region",
    );
}

/// What `swaymsg` line, and which wtype keys, a status in the app's
/// hotkey file tells the user to bind.
fn sway_line_of(status: &str) -> (String, Vec<String>) {
    let line = &status[status
        .find("bindsym ")
        .unwrap_or_else(|| panic!("{status}"))..];
    let keys = line.split(' ').nth(1).unwrap();
    let mut press = Vec::new();
    let mut release = Vec::new();
    let parts: Vec<&str> = keys.split('+').collect();
    let (key, modifiers) = parts.split_last().unwrap();
    for m in modifiers {
        let m = match *m {
            "Ctrl" => "ctrl",
            "Shift" => "shift",
            "Mod1" => "alt",
            "Mod4" => "logo",
            other => panic!("modifier {other}"),
        };
        press.extend(["-M".to_string(), m.to_string()]);
        release.extend(["-m".to_string(), m.to_string()]);
    }
    press.extend(["-k".to_string(), key.to_string()]);
    press.extend(release);
    (line.to_string(), press)
}

/// The tray app on a desk, signed in to its own server, on `bus`.
struct App {
    server: Server,
    log: std::path::PathBuf,
    _app: Running,
}

impl Desk {
    /// What the app and its windows run with on this desk, on `bus`.
    fn app_env(&self, bus: &str) -> Vec<(&'static str, String)> {
        let mut env = self.env();
        env.extend([
            ("DROPCAST_CREDENTIALS", "file".to_string()),
            ("DBUS_SESSION_BUS_ADDRESS", bus.to_string()),
            // WebKitGTK's GPU compositing paints windows late or never
            // with software GL (no GPU here), as under Xvfb.
            ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".to_string()),
        ]);
        env
    }

    /// The settings window (the real windows process) under WebDriver,
    /// on this desk and `bus`.
    fn open_settings(&self, bus: &str) -> Browser {
        let home = self.home.dir.path();
        let mut env = self.app_env(bus);
        env.extend([
            ("HOME", home.display().to_string()),
            ("XDG_CONFIG_HOME", home.join("config").display().to_string()),
            ("XDG_DATA_HOME", home.join("data").display().to_string()),
        ]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Browser::webkit_app(&workspace_bin("dropcast-ui"), &["settings"], &env)
    }

    fn start_app(&self, bus: &str) -> App {
        let server = Server::start(&workspace_bin("dropcast-server"), &[]);
        let env = self.app_env(bus);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.home.json(
            &["--json", "login", "--server", &server.url, "--token-stdin"],
            &server.owner_token,
            &env,
        );
        let log = self.files.path().join("app.log");
        let mut app = self.home.command("dropcast-app");
        app.envs(env.iter().copied())
            .stderr(std::fs::File::create(&log).unwrap());
        let app = Running(app.spawn().unwrap());
        wait_up_to(
            std::time::Duration::from_secs(30),
            "the app to start",
            || {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains("dropcast-app: ready")
            },
        );
        App {
            server,
            log,
            _app: app,
        }
    }

    /// The app's hotkey statuses, as the settings window reads them.
    fn hotkey_statuses(&self) -> Vec<serde_json::Value> {
        let file = std::fs::read_dir(self.sway.dir.path())
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().ends_with(".hotkeys.json"))
            .expect("the app wrote its hotkeys' statuses");
        let statuses: serde_json::Value =
            serde_json::from_slice(&std::fs::read(file.path()).unwrap()).unwrap();
        statuses.as_array().unwrap().clone()
    }

    /// Waits for a link to `app`'s server on the clipboard, then checks the
    /// bytes behind it are the screen.
    fn shared_screen(&self, app: &App, what: &str) {
        assert_same(&self.shared(app), &self.shown, what);
    }

    /// Waits for a link to `app`'s server on the clipboard; the picture
    /// behind it.
    fn shared(&self, app: &App) -> RgbImage {
        let mut link = String::new();
        wait_up_to(std::time::Duration::from_secs(30), "the link", || {
            let pasted = self
                .sway
                .command("wl-paste")
                .arg("--no-newline")
                .output()
                .unwrap();
            link = String::from_utf8_lossy(&pasted.stdout).into_owned();
            link.starts_with(&app.server.url)
        });
        wait_up_to(std::time::Duration::from_secs(30), "the upload", || {
            reqwest::blocking::get(format!("{link}/raw")).is_ok_and(|r| r.status() == 200)
        });
        let bytes = reqwest::blocking::get(format!("{link}/raw"))
            .unwrap()
            .bytes()
            .unwrap();
        image::load_from_memory(&bytes).unwrap().to_rgb8()
    }
}

#[test]
fn on_sway_the_app_gives_the_exact_binding_and_the_bound_keys_share_the_screen() {
    let desk = Desk::new();
    let bus = SessionBus::start();
    let app = desk.start_app(&bus.address);
    let said = std::fs::read_to_string(&app.log).unwrap();
    assert!(!said.contains("Hotkeys still work"), "{said}");
    // The app says, for each action, the line to add to sway's config;
    // it does not claim the keys work.
    let statuses = desk.hotkey_statuses();
    let screen = statuses
        .iter()
        .find(|s| s["action"] == "screen")
        .unwrap_or_else(|| panic!("{statuses:?}"));
    assert_eq!(screen["ok"], false, "{screen}");
    let error = screen["error"].as_str().unwrap();
    assert!(error.contains("--capture screen"), "{error}");
    // The user adds it, and presses the keys.
    let (line, keys) = sway_line_of(error);
    desk.sway.msg(&line);
    let pressed = desk
        .sway
        .command("wtype")
        .args(&keys)
        .status()
        .expect("wtype is installed (cargo xtask test installs it)");
    assert!(pressed.success());
    desk.shared_screen(&app, "the screen shared by the bound keys");
    // Settings says the same under the field (opened last: its window
    // covers the screen).
    let settings = desk.open_settings(&bus.address);
    let said = settings.wait_for(
        "the binding line in Settings",
        "const p = document.querySelector('[data-testid=problem-screen]'); \
         return p && p.textContent",
    );
    assert!(
        said.as_str().unwrap().contains("bindsym Ctrl+Shift+3 exec"),
        "{said}"
    );
}

#[test]
fn with_the_global_shortcuts_portal_every_action_is_bound_and_settings_shows_the_desktop_s_keys() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal_with_shortcuts();
    let app = desk.start_app(&portal.bus);
    // Every action bound in one call, on the triggers the desktop chose
    // (this one takes the preferred keys, in the portal's own format).
    let statuses = desk.hotkey_statuses();
    assert_eq!(statuses.len(), 5, "{statuses:?}");
    for status in &statuses {
        assert_eq!(status["ok"], true, "{status}");
    }
    let desktop_keys = |statuses: &[serde_json::Value], action: &str| {
        statuses
            .iter()
            .find(|s| s["action"] == action)
            .map(|s| s["desktop"].as_str().unwrap_or_default().to_string())
            .unwrap()
    };
    assert_eq!(desktop_keys(&statuses, "screen"), "CTRL+SHIFT+3");
    assert_eq!(desktop_keys(&statuses, "window"), "CTRL+SHIFT+w");
    assert_eq!(portal.press("screen"), 1, "one session bound it");
    desk.shared_screen(&app, "the screen shared by the portal's shortcut");
    // Settings shows the keys the desktop chose.
    let settings = desk.open_settings(&portal.bus);
    let desktop_keys_shown = "const p = document.querySelector('[data-testid=desktop-screen]'); \
                              return p && p.textContent";
    let shown = settings.wait_for("the desktop's keys in Settings", desktop_keys_shown);
    assert!(shown.as_str().unwrap().contains("CTRL+SHIFT+3"), "{shown}");
    // The user changes them in the desktop: the statuses and Settings
    // follow.
    assert_eq!(portal.rebind("screen", "LOGO+s"), 1);
    wait_until("the new keys in the statuses", || {
        desktop_keys(&desk.hotkey_statuses(), "screen") == "LOGO+s"
    });
    settings.wait_for(
        "the new keys in Settings",
        "const p = document.querySelector('[data-testid=desktop-screen]'); \
         return p && p.textContent.includes('LOGO+s')",
    );
}

#[test]
fn an_area_dragged_in_the_region_picker_on_a_hidpi_output_is_shared_at_its_physical_pixels() {
    let desk = Desk::new();
    let (hidpi, picture) = desk.add_hidpi_output();
    let mut mouse = desk.sway.pointer();
    let bus = SessionBus::start();
    let app = desk.start_app(&bus.address);
    let run = desk
        .home
        .command("dropcast-app")
        .args(["--capture", "area"])
        .envs(desk.env())
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("DROPCAST_CREDENTIALS", "file")
        .status()
        .unwrap();
    assert!(run.success());
    // Each output gets its own picker, full screen on it, showing that
    // output's frozen picture dimmed by a quarter.
    let dimmed = |seen: &RgbImage, shown: &RgbImage| {
        let (x, y) = (40, 40);
        let (got, was) = (seen.get_pixel(x, y), shown.get_pixel(x, y));
        (0..3).all(|c| (f32::from(got[c]) - f32::from(was[c]) * 0.75).abs() <= 2.0)
    };
    // The pointer goes back and forth over the outputs meanwhile: on
    // this headless sway, a picker's web content paints only once the
    // pointer has been over it (whether a real session does the same is
    // not known).
    let mut turn = false;
    wait_up_to(
        std::time::Duration::from_secs(30),
        "the pickers over both outputs",
        || {
            turn = !turn;
            mouse.move_to(if turn { 1500 } else { 900 }, 300);
            dimmed(&desk.grim(&hidpi), &picture) && dimmed(&desk.grim("HEADLESS-1"), &desk.shown)
        },
    );
    // The picker follows the pointer with a crosshair across the output
    // (the compositor's own cursor changes only the pixels near it).
    let still = desk.grim(&hidpi);
    let mut nudge = 0;
    wait_up_to(
        std::time::Duration::from_secs(30),
        "the picker to show the pointer",
        || {
            nudge = 1 - nudge;
            mouse.move_to(1380 + nudge, 50);
            let seen = desk.grim(&hidpi);
            seen.get_pixel(20, 100) != still.get_pixel(20, 100)
        },
    );
    // Logical 1380,50 to 1580,250: 200x200 units of the scale-2 output,
    // from 100,50 in it.
    mouse.drag((1380, 50), (1580, 250));
    let got = desk.shared(&app);
    let want = image::imageops::crop_imm(&picture, 200, 100, 400, 400).to_image();
    assert_same(&got, &want, "the region, at the output's physical pixels");
    // Both pickers are gone: the outputs show their pictures again (away
    // from the compositor's cursor).
    wait_up_to(
        std::time::Duration::from_secs(30),
        "the pickers to close",
        || {
            desk.grim(&hidpi).get_pixel(40, 40) == picture.get_pixel(40, 40)
                && desk.grim("HEADLESS-1").get_pixel(40, 40) == desk.shown.get_pixel(40, 40)
        },
    );
}

#[test]
fn the_app_s_capture_window_shares_the_window_picked_in_the_desktop_s_dialog() {
    let desk = Desk::new();
    let portal = desk.sway.start_portal_sharing_windows();
    let app = desk.start_app(&portal.bus);
    // What a compositor binding or the tray's "Capture window" runs.
    let env = desk.app_env(&portal.bus);
    let asked = desk
        .home
        .command("dropcast-app")
        .args(["--capture", "window"])
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .status()
        .unwrap();
    assert!(asked.success());
    // The output changes until the picture is taken (see above).
    let mut mouse = desk.sway.pointer();
    let mut right = false;
    wait_up_to(std::time::Duration::from_secs(60), "the link", || {
        right = !right;
        mouse.move_to(if right { 900 } else { 800 }, 600);
        std::thread::sleep(std::time::Duration::from_millis(100));
        let pasted = desk.sway.command("wl-paste").output().unwrap();
        String::from_utf8_lossy(&pasted.stdout).starts_with(&app.server.url)
    });
    same_but_the_pointer(&desk.shared(&app), &desk.shown);
    assert_eq!(portal.screencast_choices(), 1);
    assert_eq!(portal.selected_sources(), ["types=2 persist=0"]);
}
