//! The resident app, `dropcast-app`, for real: under Xvfb, with its own
//! D-Bus session and a StatusNotifierWatcher (the tray host's registry),
//! signed in to the real server through the CLI's sign-in.

use dropcast_tests::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn pattern(width: u32, height: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 7) as u8, (x ^ y) as u8])
    })
}

/// The dbusmenu id of the first item whose label starts with `label` in a
/// GetLayout reply printed by dbus-send (each item's `int32 ID` comes
/// before its properties). Ids stay when labels change (a recording's
/// time), so a click by id lands even if the label moved on.
fn menu_id(layout: &str, label: &str) -> i32 {
    let at = layout
        .find(&format!("\"{label}"))
        .unwrap_or_else(|| panic!("{label} in {layout}"));
    let before = &layout[..at];
    let start = before.rfind("int32 ").expect("an item id") + "int32 ".len();
    before[start..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a number")
}

/// The clipboard's text once it starts with `prefix` and differs from
/// `not`, polled for up to 5 s; and how long that took.
fn wait_for_link(x: &Xvfb, prefix: &str, not: &str) -> (String, Duration) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let out = std::process::Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &x.display)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if text.starts_with(prefix) && text != not {
            return (text, start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no new link on the clipboard within 5 s");
}

/// A desktop with a tray: Xvfb, a private session bus, a real tray host
/// (a small GTK bar at the top with its own StatusNotifierWatcher), the
/// server, a home signed in to it, and `dropcast-app` running there with
/// its tray item registered.
struct TrayDesk {
    // Dropped in this order: the app before what it talks to.
    _app: Running,
    home: Home,
    server: Backend,
    /// The app's bus name, for dbusmenu calls.
    item: String,
    /// The tray host and its watcher (none until started).
    tray: Vec<Running>,
    /// A microphone for recordings with sound, when the test wants one.
    microphone: Option<SoundServer>,
    bus: SessionBus,
    x: Xvfb,
}

const FILE_STORE: (&str, &str) = ("DROPCAST_CREDENTIALS", "file");

/// What the app is signed in to: the embedded server, or the serverless
/// backend on this machine (the API function on SeaweedFS and PostgreSQL).
struct Backend {
    url: String,
    owner_token: String,
    _running: Held,
}

#[allow(dead_code)] // held for as long as the desk runs
enum Held {
    Embedded(Box<Server>),
    AwsLocal(Box<AwsLocal>),
}

impl Backend {
    fn embedded() -> Backend {
        let server = Server::start(&workspace_bin("dropcast-server"), &[]);
        Backend {
            url: server.url.clone(),
            owner_token: server.owner_token.clone(),
            _running: Held::Embedded(Box::new(server)),
        }
    }

    fn aws_local() -> Backend {
        let stack = AwsLocal::start(&workspace_bin("dropcast-lambda-api"), &[]);
        Backend {
            url: stack.api.url.clone(),
            owner_token: stack.owner_token.clone(),
            _running: Held::AwsLocal(Box::new(stack)),
        }
    }
}

/// When the tray host starts: before the app (as in a running desktop) or
/// after it (as at login, when the panel may come up last).
#[derive(PartialEq)]
enum HostStarts {
    First,
    AfterTheApp,
}

impl TrayDesk {
    fn start(host: HostStarts, microphone: Option<SoundServer>) -> TrayDesk {
        TrayDesk::start_on(Backend::embedded(), host, microphone)
    }

    fn start_on(server: Backend, host: HostStarts, microphone: Option<SoundServer>) -> TrayDesk {
        let x = Xvfb::start(640, 480);
        let bus = SessionBus::start();
        let home = Home::new();
        let login = home.run(
            &["login", "--server", &server.url, "--token-stdin"],
            &server.owner_token,
            &[FILE_STORE],
        );
        assert!(login.status.success());
        let mut desk = TrayDesk {
            _app: Running(std::process::Command::new("true").spawn().unwrap()),
            home,
            server,
            item: String::new(),
            tray: Vec::new(),
            microphone,
            bus,
            x,
        };
        if host == HostStarts::First {
            desk.tray = desk.start_tray_host();
        }
        let log = std::fs::File::create(desk.app_log()).unwrap();
        let mut cmd = desk.app_command();
        desk._app = Running(cmd.stderr(log).spawn().unwrap());
        if host == HostStarts::AfterTheApp {
            wait_up_to(Duration::from_secs(30), "the app to start", || {
                std::fs::read_to_string(desk.app_log())
                    .unwrap_or_default()
                    .contains("dropcast-app: ready")
            });
            desk.tray = desk.start_tray_host();
        }

        // The tray item registers with the watcher.
        let items = || {
            desk.bus.send(&[
                "--dest=org.kde.StatusNotifierWatcher",
                "/StatusNotifierWatcher",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.kde.StatusNotifierWatcher",
                "string:RegisteredStatusNotifierItems",
            ])
        };
        if !poll_up_to(Duration::from_secs(30), || items().contains("string \"")) {
            let host = match desk.tray.first_mut().map(|h| h.0.try_wait()) {
                Some(Ok(Some(status))) => format!("the tray host exited: {status}"),
                _ => "the tray host runs".into(),
            };
            panic!(
                "timed out waiting for the tray item (30 s); {host}; it said:\n{}\nthe app said:\n{}",
                std::fs::read_to_string(desk.home.dir.path().join("tray-host.log"))
                    .unwrap_or_default(),
                std::fs::read_to_string(desk.app_log()).unwrap_or_default()
            );
        }
        let listed = items();
        desk.item = listed
            .split("string \"")
            .nth(1)
            .and_then(|s| s.split(['"', '/']).next())
            .unwrap()
            .to_string();
        desk
    }

    /// A real tray: a StatusNotifierWatcher (the registry), then a host
    /// (a small GTK bar at the top) once the watcher answers; answered
    /// once the host has registered with it. Separate processes:
    /// `gtk-sni-tray-standalone --watcher` races its own watcher and, on a
    /// busy machine, exits ("ServiceUnknown ... Pattern match failure").
    fn start_tray_host(&self) -> Vec<Running> {
        let spawn = |program: &str, args: &[&str], log: &str| {
            let log = std::fs::File::create(self.home.dir.path().join(log)).unwrap();
            let child = std::process::Command::new(program)
                .args(args)
                .env("DISPLAY", &self.x.display)
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "{program}: {e} (packages haskell-status-notifier-item-utils, \
                         haskell-gtk-sni-tray-utils)"
                    )
                });
            Running(child)
        };
        let property = |name: &str| {
            self.bus.send(&[
                "--dest=org.kde.StatusNotifierWatcher",
                "/StatusNotifierWatcher",
                "org.freedesktop.DBus.Properties.Get",
                "string:org.kde.StatusNotifierWatcher",
                &format!("string:{name}"),
            ])
        };
        let said =
            |log: &str| std::fs::read_to_string(self.home.dir.path().join(log)).unwrap_or_default();
        let mut watcher = spawn("status-notifier-watcher", &[], "tray-watcher.log");
        if !poll_up_to(Duration::from_secs(30), || {
            property("RegisteredStatusNotifierItems").contains("array")
        }) {
            panic!(
                "the StatusNotifierWatcher did not answer in 30 s ({:?}): {}",
                watcher.0.try_wait(),
                said("tray-watcher.log")
            );
        }
        let mut host = spawn(
            "gtk-sni-tray-standalone",
            &["--top", "--end"],
            "tray-host.log",
        );
        if !poll_up_to(Duration::from_secs(30), || {
            property("IsStatusNotifierHostRegistered").contains("boolean true")
        }) {
            panic!(
                "the tray host did not register in 30 s ({:?}): {}",
                host.0.try_wait(),
                said("tray-host.log")
            );
        }
        // The host first: dropped in this order.
        vec![host, watcher]
    }

    /// Where the app's messages go.
    fn app_log(&self) -> std::path::PathBuf {
        self.home.dir.path().join("app.log")
    }

    /// `dropcast-app` in this desktop (a second start forwards to the first).
    fn app_command(&self) -> std::process::Command {
        let mut cmd = self.home.command("dropcast-app");
        cmd.env("DISPLAY", &self.x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus.address)
            .env("XDG_RUNTIME_DIR", self.home.dir.path())
            .env(FILE_STORE.0, FILE_STORE.1);
        if let Some(m) = &self.microphone {
            cmd.env("PULSE_SERVER", &m.address);
        }
        cmd
    }

    /// The tray menu as dbus-send prints its layout.
    fn menu(&self) -> String {
        self.bus.send(&[
            &format!("--dest={}", self.item),
            "/MenuBar",
            "com.canonical.dbusmenu.GetLayout",
            "int32:0",
            "int32:-1",
            "array:string:",
        ])
    }

    /// Chooses the menu item whose label starts with `label`, as a tray
    /// host does.
    fn click(&self, label: &str) {
        let id = menu_id(&self.menu(), label);
        self.bus.send(&[
            &format!("--dest={}", self.item),
            "/MenuBar",
            "com.canonical.dbusmenu.Event",
            &format!("int32:{id}"),
            "string:clicked",
            "variant:int32:0",
            "uint32:0",
        ]);
    }
}

#[test]
fn a_hotkey_puts_the_screen_s_link_on_the_clipboard_and_the_tray_lists_it() {
    // The tray host comes up after the app, as at login: the icon still
    // shows once it does.
    let desk = TrayDesk::start(HostStarts::AfterTheApp, None);
    let (x, home, server) = (&desk.x, &desk.home, &desk.server);
    let said = std::fs::read_to_string(desk.app_log()).unwrap();
    assert!(said.contains("no tray icon yet"), "{said}");
    assert!(said.contains("the tray icon is shown"), "{said}");

    // What a person sees: the icon in the tray bar.
    home.screenshot(x, "tray", Some("0,0,640,40"));

    let files = tempfile::tempdir().unwrap();
    let shown = pattern(640, 480);
    let path = files.path().join("screen.png");
    shown.save(&path).unwrap();
    let _feh = x.show_full_screen(&path);

    // Ctrl+Shift+3: the screen, shared; its link on the clipboard.
    std::thread::sleep(Duration::from_millis(300));
    x.output("xdotool", &["key", "ctrl+shift+3"]);
    let (link, took) = wait_for_link(x, &server.url, "");
    eprintln!("hotkey -> link on the clipboard: {took:?}");
    // The link comes before the bytes: wait for the upload to complete.
    let raw_url = format!("{link}/raw");
    wait_until("the upload", || {
        reqwest::blocking::get(&raw_url).is_ok_and(|r| r.status() == 200)
    });
    let raw = reqwest::blocking::get(&raw_url).unwrap();
    let got = image::load_from_memory(&raw.bytes().unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(got, shown, "the shared bytes are the screen");

    // The menu has the capture actions and the new drop under Recent drops.
    wait_until("the drop in the tray menu", || {
        desk.menu().contains("screenshot-")
    });
    let menu = desk.menu();
    for label in [
        "Capture area (Ctrl+Shift+4)",
        "Capture screen (Ctrl+Shift+3)",
        "Capture window (Ctrl+Shift+W)",
        "Record screen (Ctrl+Shift+5)",
        "Record area...",
        "Upload file... (Ctrl+Shift+U)",
        "Recent drops",
        "Copy link",
        "History...",
        "Settings...",
        "Sign out",
        "Quit Dropcast",
    ] {
        assert!(menu.contains(label), "{label} in {menu}");
    }

    // Choosing Capture screen in the menu (a dbusmenu click, as a tray
    // host sends it) shares the screen again.
    desk.click("Capture screen (Ctrl+Shift+3)");
    let (link, _) = wait_for_link(x, &server.url, &link);

    // A second instance hands its request to the first.
    let forwarded = desk
        .app_command()
        .args(["--capture", "screen"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(forwarded.success());
    let (second_link, _) = wait_for_link(x, &server.url, &link);
    assert_ne!(second_link, link);
}

#[test]
fn signed_in_to_the_serverless_backend_a_hotkey_shares_the_screen() {
    let desk = TrayDesk::start_on(Backend::aws_local(), HostStarts::First, None);
    let x = &desk.x;
    let files = tempfile::tempdir().unwrap();
    let shown = pattern(640, 480);
    let path = files.path().join("screen.png");
    shown.save(&path).unwrap();
    let _feh = x.show_full_screen(&path);
    std::thread::sleep(Duration::from_millis(300));
    x.output("xdotool", &["key", "ctrl+shift+3"]);
    let (link, _) = wait_for_link(x, &desk.server.url, "");
    // The bytes are in the bucket, the link's /raw a redirect to them.
    let raw_url = format!("{link}/raw");
    wait_until("the upload", || {
        reqwest::blocking::get(&raw_url).is_ok_and(|r| r.status() == 200)
    });
    let raw = reqwest::blocking::get(&raw_url).unwrap();
    assert_eq!(raw.headers()["content-type"], "image/png");
    let got = image::load_from_memory(&raw.bytes().unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(got, shown, "the shared bytes are the screen");
}

#[test]
fn the_record_hotkey_shares_a_recording_from_its_start_and_the_tray_pauses_and_stops_it() {
    // The recordings setting asks for sound, and a microphone hears a tone.
    let desk = TrayDesk::start(HostStarts::First, Some(SoundServer::start(440)));
    let config = desk
        .home
        .dir
        .path()
        .join("config/dropcast/client/config.toml");
    let settings = std::fs::read_to_string(&config).unwrap_or_default();
    let settings = if settings.contains("audio = false") {
        settings.replace("audio = false", "audio = true")
    } else {
        format!("{settings}\n[record]\naudio = true\n")
    };
    std::fs::write(&config, settings).unwrap();
    let x = &desk.x;
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("screen.png");
    pattern(640, 480).save(&path).unwrap();
    let _feh = x.show_full_screen(&path);

    // Ctrl+Shift+5: the link is on the clipboard at once, its page says
    // the recording is in progress, the tray counts the time.
    std::thread::sleep(Duration::from_millis(300));
    x.output("xdotool", &["key", "ctrl+shift+5"]);
    let (link, _) = wait_for_link(x, &desk.server.url, "");
    let page = reqwest::blocking::get(&link).unwrap().text().unwrap();
    assert!(page.contains("Recording in progress"), "{page}");
    let stop_label = || {
        desk.menu()
            .split('"')
            .find(|l| l.starts_with("Stop recording ("))
            .map(str::to_string)
    };
    // "Stop recording (0:02) (Ctrl+Shift+5)": the time counts up.
    wait_up_to(
        Duration::from_secs(30),
        "the recording's time in the tray menu",
        || {
            stop_label().is_some_and(|l| {
                l.starts_with("Stop recording (0:0")
                    && !l.starts_with("Stop recording (0:00)")
                    && !l.starts_with("Stop recording (0:01)")
            })
        },
    );
    let menu = desk.menu();
    assert!(!menu.contains("\"Record screen"), "{menu}");

    // Pause and resume from the menu.
    desk.click("Pause recording");
    wait_until("the menu to offer resuming", || {
        desk.menu().contains("Resume recording")
    });
    desk.click("Resume recording");
    wait_until("the menu to offer pausing again", || {
        desk.menu().contains("Pause recording")
    });

    // Stop recording, chosen in the menu: the link plays the video.
    desk.click("Stop recording (");
    let raw_url = format!("{link}/raw");
    wait_up_to(Duration::from_secs(30), "the recording to complete", || {
        reqwest::blocking::get(&raw_url).is_ok_and(|r| r.status() == 200)
    });
    let raw = reqwest::blocking::get(&raw_url).unwrap();
    assert_eq!(raw.headers()["content-type"], "video/mp4");
    let video = files.path().join("shared.mp4");
    std::fs::write(&video, raw.bytes().unwrap()).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "csv=p=0",
        ])
        .arg(&video)
        .output()
        .unwrap();
    // The video, and the microphone's sound beside it.
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "h264,640,480\naac"
    );
    wait_until("the menu to offer recording again", || {
        desk.menu().contains("Record screen (Ctrl+Shift+5)")
    });
}

#[test]
fn an_area_dragged_in_the_region_picker_is_shared_with_exactly_its_pixels() {
    let x = Xvfb::start(800, 600);
    let _wm = x.start_window_manager();
    let bus = SessionBus::start();
    let server = Server::start(&workspace_bin("dropcast-server"), &[]);
    let home = Home::new();
    let file_store = ("DROPCAST_CREDENTIALS", "file");
    let login = home.run(
        &["login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &[file_store],
    );
    assert!(login.status.success());
    let files = tempfile::tempdir().unwrap();
    let shown = pattern(800, 600);
    let path = files.path().join("screen.png");
    shown.save(&path).unwrap();
    let _feh = x.show_full_screen(&path);

    // Watch the notifications the app sends (no notification server runs:
    // the calls are seen on the bus all the same).
    let notices = files.path().join("notices.txt");
    let _monitor = Running(
        std::process::Command::new("dbus-monitor")
            .args([
                "--address",
                &bus.address,
                "interface='org.freedesktop.Notifications'",
            ])
            .stdout(std::fs::File::create(&notices).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-monitor is installed (package dbus)"),
    );
    let log = files.path().join("app.log");
    let mut cmd = home.command("dropcast-app");
    cmd.env("DISPLAY", &x.display)
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
        .env("XDG_RUNTIME_DIR", home.dir.path())
        // WebKitGTK paints nothing under Xvfb's software GL otherwise.
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env(file_store.0, file_store.1);
    let _app = Running(
        cmd.stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_until("the app", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready"))
    });

    // Ctrl+Shift+4: the screen freezes and the picker covers it.
    x.output("xdotool", &["key", "ctrl+shift+4"]);
    x.wait_for_window_named("pick a region");
    // Up once it has painted the frozen screen, dimmed: a window that is
    // mapped may not have drawn yet on a loaded machine, and a drag before
    // that selects nothing.
    // (Dimmed by a quarter: an unpainted window, blank, differs too.)
    let dimmed = |seen: &image::Rgb<u8>, was: &image::Rgb<u8>| {
        (0..3).all(|c| (f32::from(seen[c]) - f32::from(was[c]) * 0.75).abs() <= 2.0)
    };
    wait_up_to(Duration::from_secs(20), "the picker to paint", || {
        let png = home.screenshot(&x, "region-picker-up", None);
        image::open(&png)
            .is_ok_and(|i| dimmed(i.to_rgb8().get_pixel(20, 20), shown.get_pixel(20, 20)))
    });
    x.output(
        "xdotool",
        &[
            "mousemove",
            "130",
            "70",
            "mousedown",
            "1",
            "mousemove",
            "250",
            "150",
        ],
    );
    std::thread::sleep(Duration::from_millis(100));
    x.output("xdotool", &["mousemove", "431", "273"]);
    std::thread::sleep(Duration::from_millis(300));
    // What the user sees while dragging.
    let picker_png = home.screenshot(&x, "region-picker", None);
    // The picker shows the frozen screen (dimmed outside the selection,
    // as is inside it): pixels well inside the selection are the screen's.
    let seen = image::open(&picker_png).unwrap().to_rgb8();
    assert_eq!(
        seen.get_pixel(200, 120),
        shown.get_pixel(200, 120),
        "the picker shows the screen"
    );
    x.output("xdotool", &["mouseup", "1"]);

    let (link, _) = wait_for_link(&x, &server.url, "");
    let raw_url = format!("{link}/raw");
    wait_until("the upload", || {
        reqwest::blocking::get(&raw_url).is_ok_and(|r| r.status() == 200)
    });
    let raw = reqwest::blocking::get(&raw_url).unwrap();
    let got = image::load_from_memory(&raw.bytes().unwrap())
        .unwrap()
        .to_rgb8();
    let expected = image::imageops::crop_imm(&shown, 130, 70, 301, 203).to_image();
    assert_eq!(
        got.dimensions(),
        (301, 203),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    assert_eq!(got, expected, "the shared pixels are the region's");
    // A notification said so, with the link and the capture sound.
    wait_until("the notification", || {
        std::fs::read_to_string(&notices).is_ok_and(|n| n.contains(&link))
    });
    let sent = std::fs::read_to_string(&notices).unwrap();
    assert!(sent.contains("member=Notify"), "{sent}");
    assert!(sent.contains("Link copied"), "{sent}");
    assert!(sent.contains("screen-capture"), "{sent}");
    // The picker is gone.
    let left = std::process::Command::new("xdotool")
        .args(["search", "--onlyvisible", "--name", "pick a region"])
        .env("DISPLAY", &x.display)
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the picker closed");

    // Record area... (here from a second start, as a desktop shortcut
    // would): the same picker chooses what to record.
    let forward = |args: &[&str]| {
        let mut c = home.command("dropcast-app");
        c.env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("XDG_RUNTIME_DIR", home.dir.path())
            .env(file_store.0, file_store.1)
            .args(args)
            .stderr(Stdio::null());
        assert!(c.status().unwrap().success(), "dropcast-app {args:?}");
    };
    forward(&["--record", "area"]);
    x.wait_for_window_named("pick a region");
    std::thread::sleep(Duration::from_millis(1500));
    x.output(
        "xdotool",
        &[
            "mousemove",
            "40",
            "40",
            "mousedown",
            "1",
            "mousemove",
            "100",
            "100",
        ],
    );
    std::thread::sleep(Duration::from_millis(100));
    x.output("xdotool", &["mousemove", "240", "190"]);
    std::thread::sleep(Duration::from_millis(300));
    x.output("xdotool", &["mouseup", "1"]);
    let (recording, _) = wait_for_link(&x, &server.url, &link);
    std::thread::sleep(Duration::from_millis(2000));
    forward(&["--record", "stop"]);
    let raw_url = format!("{recording}/raw");
    wait_up_to(Duration::from_secs(30), "the recording to complete", || {
        reqwest::blocking::get(&raw_url).is_ok_and(|r| r.status() == 200)
    });
    let video = files.path().join("area.mp4");
    std::fs::write(
        &video,
        reqwest::blocking::get(&raw_url).unwrap().bytes().unwrap(),
    )
    .unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,width,height",
        ])
        .args(["-of", "csv=p=0"])
        .arg(&video)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "h264,200,150",
        "the recording is the region dragged"
    );
}
