//! The real windows process, `dropcast-ui` (Tauri 2, WebKitGTK), driven
//! through WebKitWebDriver under Xvfb with a window manager and its own
//! D-Bus session, next to the real tray app and the real server.

use dropcast_tests::browser::Browser;
use dropcast_tests::*;

/// A desktop with the server, a user with a password, and the tray app
/// running (not signed in).
struct Desktop {
    x: Xvfb,
    _wm: Running,
    bus: SessionBus,
    server: Server,
    home: Home,
    _app: Running,
    log: std::path::PathBuf,
}

impl Desktop {
    fn start() -> Desktop {
        Desktop::start_with(&[])
    }

    /// [`Desktop::start`], the server with more settings.
    fn start_with(server_env: &[(&str, &str)]) -> Desktop {
        let x = Xvfb::start(1024, 768);
        let wm = x.start_window_manager();
        let bus = SessionBus::start();
        let server = Server::start(&workspace_bin("dropcast-server"), server_env);
        server.admin(
            &["user", "add", "ada", "--password-stdin"],
            Some("correct horse"),
        );
        let home = Home::new();
        let log = home.dir.path().join("app.log");
        let mut cmd = home.command("dropcast-app");
        for (k, v) in env(&x, &bus, &home) {
            cmd.env(k, v);
        }
        let app = Running(
            cmd.stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .unwrap(),
        );
        wait_until("the tray app", || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ready"))
        });
        Desktop {
            x,
            _wm: wm,
            bus,
            server,
            home,
            _app: app,
            log,
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        env(&self.x, &self.bus, &self.home)
    }

    /// What a person sees: the X screen, saved as `artifacts/{name}.png`
    /// (WebKitWebDriver's own screenshots can stall for a minute).
    fn screenshot(&self, name: &str) {
        self.home.screenshot(&self.x, name, None);
    }

    /// The windows process showing `window`, under WebDriver.
    fn open(&self, window: &str) -> Browser {
        let env = self.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Browser::webkit_app(&workspace_bin("dropcast-ui"), &[window], &env)
    }
}

/// What the app and the windows process run with: this display and bus,
/// the home's dirs, tokens in a file (no keyring daemon here).
fn env(x: &Xvfb, bus: &SessionBus, home: &Home) -> Vec<(String, String)> {
    let h = home.dir.path();
    [
        ("DISPLAY", x.display.clone()),
        ("DBUS_SESSION_BUS_ADDRESS", bus.address.clone()),
        ("XDG_RUNTIME_DIR", h.display().to_string()),
        ("HOME", h.display().to_string()),
        ("XDG_CONFIG_HOME", h.join("config").display().to_string()),
        ("XDG_DATA_HOME", h.join("data").display().to_string()),
        ("DROPCAST_CREDENTIALS", "file".into()),
        // WebKitGTK paints nothing under Xvfb's software GL otherwise.
        ("WEBKIT_DISABLE_COMPOSITING_MODE", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// JS that sets an input the way typing does.
fn type_into(name: &str, value: &str) -> String {
    format!(
        "const e = document.querySelector('input[name={name}]'); e.value = {value:?}; \
         e.dispatchEvent(new Event('input', {{bubbles: true}})); return true;"
    )
}

#[test]
fn settings_set_the_accounts_webhook_which_gets_each_completed_drop_signed() {
    // The receiver is on loopback, which webhooks may reach only when
    // the server allows private addresses.
    let d = Desktop::start_with(&[("DROPCAST_WEBHOOK_PRIVATE_ADDRESSES", "true")]);
    let issued = d.server.admin(&["token", "create", "ada"], None);
    let file_store = [("DROPCAST_CREDENTIALS", "file")];
    d.home.json(
        &[
            "--json",
            "login",
            "--server",
            &d.server.url,
            "--token-stdin",
        ],
        issued["token"].as_str().unwrap(),
        &file_store,
    );
    let hook = Receiver::start();
    let ui = d.open("settings");
    ui.wait_for(
        "the webhook section",
        "return document.querySelector('input[name=webhook-url]') !== null",
    );
    ui.eval(&type_into("webhook-url", &hook.url));
    ui.eval("document.querySelector('input[name=webhook-url]').form.requestSubmit(); return true;");
    let shown = ui.wait_for(
        "the signing secret, shown once",
        "const s = document.querySelector('[data-testid=webhook-secret] code:last-of-type'); return s && s.textContent;",
    );
    let secret = shown.as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    d.screenshot("window-settings-webhook");

    // A drop ada shares reaches the hook, signed with that secret.
    let file = temp_file(b"for the hook");
    let up = d.home.json(
        &["--json", "upload", file.path().to_str().unwrap()],
        "",
        &file_store,
    );
    let got = hook.wait_for(1, std::time::Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{got:?}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = got[0].header("dropcast-signature").unwrap();
    dropcast_api::webhook::verify(&secret, signature, &got[0].body, now, 300).unwrap();
    let event: dropcast_api::WebhookEvent = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(event.drop.id, up["drops"][0]["id"].as_str().unwrap());

    // Opened again, the window says where it sends, not the secret.
    drop(ui);
    let ui = d.open("settings");
    let set = ui.wait_for(
        "the webhook's URL",
        "const s = document.querySelector('[data-testid=webhook-set]'); return s && s.textContent;",
    );
    assert!(set.as_str().unwrap().contains(&hook.url), "{set}");
    assert!(!ui
        .eval("return document.body.textContent")
        .as_str()
        .unwrap()
        .contains(&secret));
    // Removed, nothing more is sent.
    ui.eval(
        "[...document.querySelectorAll('section[aria-label=Webhook] button')] \
         .find(b => b.textContent.trim() === 'Remove').click(); return true;",
    );
    ui.wait_for(
        "the webhook gone",
        "return document.querySelector('[data-testid=webhook-set]') === null \
         && document.querySelector('input[name=webhook-url]').value === ''",
    );
    let again = temp_file(b"not for the hook");
    d.home.json(
        &["--json", "upload", again.path().to_str().unwrap()],
        "",
        &file_store,
    );
    // The webhook handler has seen both drops (its runs in /metrics).
    wait_until("the webhook handler to run for the second drop", || {
        http_get(d.server.port, "/metrics").is_some_and(|(_, m)| {
            m.lines()
                .find_map(|l| l.strip_prefix(r#"dropcast_job_runs_total{job="webhook"} "#))
                .and_then(|n| n.trim().parse::<f64>().ok())
                .is_some_and(|n| n >= 2.0)
        })
    });
    assert_eq!(hook.received().len(), 1, "nothing after removal");
}

#[test]
fn settings_sign_in_to_the_server_and_a_rebound_hotkey_works_at_once() {
    let d = Desktop::start();
    let ui = d.open("settings");
    ui.wait_for(
        "the sign-in form",
        "return document.querySelector('input[name=server]') !== null",
    );
    ui.eval(&type_into("server", &d.server.url));
    ui.eval(&type_into("user", "ada"));
    ui.eval(&type_into("password", "wrong"));
    ui.eval("document.querySelector('section button[type=submit]').click(); return true;");
    let refused = ui.wait_for(
        "the refusal",
        "const a = document.querySelector('[role=alert]'); return a && a.textContent;",
    );
    assert!(
        refused.as_str().unwrap().contains("Sign in again"),
        "{refused}"
    );
    ui.eval(&type_into("password", "correct horse"));
    ui.eval("document.querySelector('section button[type=submit]').click(); return true;");
    let signed_in = ui.wait_for(
        "signed in",
        "const s = document.querySelector('[data-testid=signed-in]'); return s && s.textContent;",
    );
    assert!(
        signed_in.as_str().unwrap().contains("as ada"),
        "{signed_in}"
    );
    // The token is kept (in a file here; the keyring by default) and the
    // CLI shares the sign-in.
    let who = d.home.json(
        &["whoami", "--json"],
        "",
        &[("DROPCAST_CREDENTIALS", "file")],
    );
    assert_eq!(who["user"], "ada");

    // Rebind Capture area to Ctrl+Alt+R by pressing it in the field.
    ui.eval(
        "const f = document.querySelector('input[name=hotkey-area]'); \
         f.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyR', key: 'r', ctrlKey: true, altKey: true, bubbles: true})); \
         return true;",
    );
    ui.wait_for(
        "the new keys",
        "return document.querySelector('input[name=hotkey-area]').value === 'Ctrl+Alt+R'",
    );
    // Same keys as Capture screen: refused with the reason.
    ui.eval(
        "const f = document.querySelector('input[name=hotkey-upload]'); \
         f.dispatchEvent(new KeyboardEvent('keydown', {code: 'Digit3', key: '#', ctrlKey: true, shiftKey: true, bubbles: true})); \
         return true;",
    );
    let conflict = ui.wait_for(
        "the conflict",
        "const p = document.querySelector('[data-testid=problem-upload]'); return p && p.textContent;",
    );
    assert!(conflict
        .as_str()
        .unwrap()
        .contains("already the hotkey for screen"));
    ui.eval(
        "const f = document.querySelector('input[name=hotkey-upload]'); \
         f.dispatchEvent(new KeyboardEvent('keydown', {code: 'KeyU', key: 'U', ctrlKey: true, shiftKey: true, bubbles: true})); \
         return true;",
    );
    // Start at login.
    ui.eval("document.querySelector('input[name=autostart]').click(); return true;");
    d.screenshot("window-settings");
    // The settings' own form (the webhook's comes after it).
    ui.eval("document.querySelector('input[name=autostart]').form.requestSubmit(); return true;");
    ui.wait_for(
        "saved",
        "const s = document.querySelector('[role=status]'); return s && s.textContent === 'Saved.'",
    );
    let config =
        std::fs::read_to_string(d.home.dir.path().join("config/dropcast/client/config.toml"))
            .unwrap();
    assert!(config.contains("area = \"Ctrl+Alt+R\""), "{config}");
    let autostart = d.home.dir.path().join(".config/autostart/Dropcast.desktop");
    let entry = std::fs::read_to_string(&autostart).expect("an XDG autostart entry");
    assert!(entry.contains("dropcast-app"), "{entry}");
    // The tray app took the new keys: Ctrl+Alt+R opens the region picker.
    // The status file is named after the user, as the app sees it.
    wait_until("the tray app to hold Ctrl+Alt+R", || {
        std::fs::read_dir(d.home.dir.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".hotkeys.json"))
            .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|s| s.contains("Ctrl+Alt+R")))
    });
    d.x.output("xdotool", &["key", "ctrl+alt+r"]);
    d.x.wait_for_window_named("pick a region");
    d.x.output("xdotool", &["key", "Escape"]);
    wait_until("the picker to close", || {
        std::fs::read_to_string(&d.log).is_ok_and(|l| l.contains("region picker cancelled"))
    });
}

#[test]
fn files_dragged_onto_the_drop_window_become_drops_with_their_links_on_the_clipboard() {
    let d = Desktop::start();
    let login = d.home.run(
        &["login", "--server", &d.server.url, "--token-stdin"],
        &d.server.owner_token,
        &[("DROPCAST_CREDENTIALS", "file")],
    );
    assert!(login.status.success());
    let files = tempfile::tempdir().unwrap();
    let a = files.path().join("notes.txt");
    let b = files.path().join("data.bin");
    std::fs::write(&a, b"dragged from a file manager\n").unwrap();
    let b_bytes = bytes(300_000, 7);
    std::fs::write(&b, &b_bytes).unwrap();

    let ui = d.open("drop");
    ui.wait_for(
        "the drop zone",
        "return document.querySelector('[data-testid=drop-zone]') !== null",
    );
    let drop_window = d.x.wait_for_window_named("Share files with Dropcast");
    let helper = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/drag-source.py");
    let _source = d.x.spawn(
        helper.to_str().unwrap(),
        &[a.to_str().unwrap(), b.to_str().unwrap()],
    );
    d.x.wait_for_window_named("drag source");
    let source = d.x.wait_for_window_named("drag source");
    // Press in the source, move in steps (GTK starts the drag after a few
    // pixels), release over the drop window.
    let (s, w) = (source.to_string(), drop_window.to_string());
    d.x.output(
        "xdotool",
        &["mousemove", "--window", &s, "60", "60", "mousedown", "1"],
    );
    for step in [70, 80, 100, 130] {
        let p = step.to_string();
        d.x.output("xdotool", &["mousemove", "--window", &s, &p, &p]);
        std::thread::sleep(std::time::Duration::from_millis(80));
    }
    for (px, py) in [("150", "120"), ("200", "150"), ("200", "160")] {
        d.x.output("xdotool", &["mousemove", "--window", &w, px, py]);
        std::thread::sleep(std::time::Duration::from_millis(150));
    }
    d.x.output("xdotool", &["mouseup", "1"]);

    let summary = ui.wait_for(
        "the links",
        "const s = document.querySelector('[role=status]'); return s && s.textContent;",
    );
    assert!(
        summary.as_str().unwrap().contains("Copied 2 links"),
        "{summary}"
    );
    d.screenshot("window-drop");
    // The tray app holds the clipboard; it takes the links a moment later.
    let clipboard = || {
        std::process::Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &d.x.display)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    wait_until("the links on the clipboard", || {
        clipboard().lines().count() == 2
    });
    let clip = clipboard();
    let links: Vec<&str> = clip.lines().collect();
    assert_eq!(links.len(), 2, "one link per line: {clip:?}");
    let got_a = reqwest::blocking::get(format!("{}/raw", links[0]))
        .unwrap()
        .bytes()
        .unwrap();
    let got_b = reqwest::blocking::get(format!("{}/raw", links[1]))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&got_a[..], b"dragged from a file manager\n");
    assert_eq!(&got_b[..], &b_bytes[..]);

    // Choose files... opens the desktop's file chooser; the file typed
    // there is shared too.
    // (GTK's location field completes as it is typed: no hidden folders
    // on the way.)
    let visible = tempfile::Builder::new()
        .prefix("dropcast-")
        .tempdir()
        .unwrap();
    let c = visible.path().join("chosen.txt");
    std::fs::write(&c, b"picked in the file chooser\n").unwrap();
    ui.eval(
        "[...document.querySelectorAll('button')].find(b => b.textContent === 'Choose files...').click(); return true;",
    );
    let chooser =
        d.x.wait_for_window_named("Choose files to share")
            .to_string();
    let chooser_open = || {
        std::process::Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", "Choose files to share"])
            .env("DISPLAY", &d.x.display)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // Typed into the location field; on a busy machine GTK can lose a
    // key while its completion pops up, so a chooser still open after
    // Return gets the path typed again.
    for attempt in 0..3 {
        d.x.output("xdotool", &["windowactivate", "--sync", &chooser]);
        d.x.output("xdotool", &["key", "--window", &chooser, "ctrl+l"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        d.x.output("xdotool", &["key", "ctrl+a"]);
        d.x.output("xdotool", &["type", "--delay", "60", c.to_str().unwrap()]);
        std::thread::sleep(std::time::Duration::from_millis(500));
        if attempt == 0 {
            d.screenshot("file-chooser");
        }
        d.x.output("xdotool", &["key", "Return"]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while chooser_open() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if !chooser_open() {
            break;
        }
    }
    wait_up_to(
        std::time::Duration::from_secs(30),
        "the chosen file's link",
        || clipboard().lines().count() == 1,
    );
    let chosen = reqwest::blocking::get(format!("{}/raw", clipboard().trim()))
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(&chosen[..], b"picked in the file chooser\n");

    // The windows process ends when its last window closes.
    drop(ui);
    let home_dir = d.home.dir.path().display().to_string();
    let ui_running = || {
        std::process::Command::new("pgrep")
            .args(["-f", "dropcast-ui"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout).lines().any(|pid| {
                    std::fs::read(format!("/proc/{}/environ", pid.trim()))
                        .is_ok_and(|env| String::from_utf8_lossy(&env).contains(&home_dir))
                })
            })
            .unwrap_or(false)
    };
    // WebKit's processes take a while to go on a busy machine: 5 s was
    // once too little under the whole suite.
    wait_up_to(
        std::time::Duration::from_secs(30),
        "the windows process to end",
        || !ui_running(),
    );

    // History lists them.
    let history = d.open("history");
    let names = history.wait_for(
        "the history",
        "const n = [...document.querySelectorAll('[data-testid=drop] .name')].map(e => e.textContent); \
         return n.length >= 3 && n.join(',');",
    );
    assert!(names.as_str().unwrap().contains("notes.txt"), "{names}");
    assert!(names.as_str().unwrap().contains("data.bin"), "{names}");
    d.screenshot("window-history");
}
