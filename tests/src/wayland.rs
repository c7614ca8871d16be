//! A headless Wayland desktop for tests: sway on wlroots' headless
//! backend with the pixman renderer (no GPU), no XWayland, in a runtime
//! folder of its own.
//!
//! sway refuses to run as root, so it runs under `unshare --user`: in a
//! user namespace without mappings it is nobody, and cannot become root
//! again, while its sockets stay usable by the test.
//!
//! Outputs show known pictures as their background (swaybg, stretched to
//! the output's pixels), and [`Sway::start`] waits until grim (the peer
//! tool, through the same screencopy protocol) sees them.

mod pointer;

pub use pointer::Pointer;

use crate::{wait_up_to, Running};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Sway {
    /// The session's `XDG_RUNTIME_DIR`, with sway's config and logs.
    pub dir: tempfile::TempDir,
    /// `WAYLAND_DISPLAY`: the socket's name in `dir`.
    pub display: String,
    _sway: Running,
}

impl Sway {
    /// sway with one output, `HEADLESS-1`, of `width` x `height` at
    /// 0,0, showing `background`.
    pub fn start(width: u32, height: u32, background: &Path) -> Sway {
        let dir = tempfile::Builder::new().prefix("sway").tempdir().unwrap();
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let config = dir.path().join("config");
        std::fs::write(
            &config,
            format!(
                "xwayland disable\n\
                 output HEADLESS-1 resolution {width}x{height} position 0 0 bg {} stretch\n",
                background.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("sway.log")).unwrap();
        let child = Command::new("unshare")
            .args(["--user", "sway", "-c"])
            .arg(&config)
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("SWAYSOCK", dir.path().join("sway-ipc.sock"))
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sway is installed (cargo xtask test installs it)");
        let sway = Running(child);
        let socket = || {
            std::fs::read_dir(dir.path())
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with("wayland-") && !n.ends_with(".lock"))
        };
        let ipc = dir.path().join("sway-ipc.sock");
        let log_path = dir.path().join("sway.log");
        let up = crate::poll_up_to(Duration::from_secs(30), || {
            socket().is_some() && ipc.exists()
        });
        assert!(
            up,
            "sway did not start: {}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
        let sway = Sway {
            display: socket().unwrap(),
            dir,
            _sway: sway,
        };
        sway.wait_for_background("HEADLESS-1", background);
        sway
    }

    /// What a Wayland client of this session needs in its environment.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WAYLAND_DISPLAY", self.display.clone()),
            ("XDG_RUNTIME_DIR", self.dir.path().display().to_string()),
            (
                "SWAYSOCK",
                self.dir.path().join("sway-ipc.sock").display().to_string(),
            ),
        ]
    }

    /// A command for `program` in this session (and no X display).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.env()).env_remove("DISPLAY");
        cmd
    }

    /// `swaymsg COMMAND`, which must succeed.
    pub fn msg(&self, command: &str) {
        let out = self
            .command("swaymsg")
            .arg(command)
            .output()
            .expect("swaymsg is installed (package sway)");
        assert!(
            out.status.success(),
            "swaymsg {command}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A second headless output (`HEADLESS-2`, and so on) of `width` x
    /// `height` pixels at `scale`, placed at `x`,`y` (logical units),
    /// showing `background`; its name.
    pub fn add_output(
        &self,
        (width, height): (u32, u32),
        scale: u32,
        (x, y): (i32, i32),
        background: &Path,
    ) -> String {
        let before = self.outputs();
        self.msg("create_output");
        let name = self
            .outputs()
            .into_iter()
            .find(|o| !before.contains(o))
            .expect("create_output made an output");
        self.msg(&format!(
            "output {name} resolution {width}x{height} scale {scale} position {x} {y} bg {} \
             stretch",
            background.display()
        ));
        self.wait_for_background(&name, background);
        name
    }

    /// The ends of the session's logs (sway's, and the portal's parts'),
    /// to say why something failed.
    pub fn logs(&self) -> String {
        let mut said = String::from("the session's logs:");
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        names.sort();
        for path in names {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(25)..].join("\n");
            said.push_str(&format!("\n--- {}\n{tail}", path.display()));
        }
        said
    }

    /// The outputs' names, as sway lists them.
    pub fn outputs(&self) -> Vec<String> {
        let out = self
            .command("swaymsg")
            .args(["-r", "-t", "get_outputs"])
            .output()
            .unwrap();
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str().map(String::from))
            .collect()
    }

    /// `grim`'s picture of `output` (the peer tool's view), as PNG in
    /// `dir`; its path.
    pub fn grim(&self, output: &str, dir: &Path) -> PathBuf {
        let path = dir.join(format!("grim-{output}.png"));
        let out = self
            .command("grim")
            .args(["-o", output, "-t", "png", "-l", "0"])
            .arg(&path)
            .output()
            .expect("grim is installed (cargo xtask test installs it)");
        assert!(
            out.status.success(),
            "grim: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        path
    }

    /// Waits until `output` shows `background`'s top-left and
    /// bottom-right pixels (swaybg paints a moment after it starts).
    fn wait_for_background(&self, output: &str, background: &Path) {
        let want = image::open(background).unwrap().to_rgb8();
        let (w, h) = want.dimensions();
        let corners = [*want.get_pixel(0, 0), *want.get_pixel(w - 1, h - 1)];
        let scratch = tempfile::tempdir().unwrap();
        wait_up_to(
            Duration::from_secs(30),
            &format!("{output} to show its background"),
            || {
                let path = scratch.path().join("probe.png");
                let ok = self
                    .command("grim")
                    .args(["-o", output, "-l", "0"])
                    .arg(&path)
                    .status()
                    .is_ok_and(|s| s.success());
                ok && image::open(&path).is_ok_and(|img| {
                    let img = img.to_rgb8();
                    let (iw, ih) = img.dimensions();
                    [*img.get_pixel(0, 0), *img.get_pixel(iw - 1, ih - 1)] == corners
                })
            },
        );
    }
}

/// Which stand-in for a desktop's own backend a [`Portal`] runs besides
/// xdg-desktop-portal-wlr and the Access one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stand {
    None,
    Shortcuts,
    Windows,
}

/// The desktop portal on a [`Sway`] session: a session bus of its own,
/// PipeWire, xdg-desktop-portal with the wlroots backend (Screenshot), and a
/// stand-in for the Access dialog that allows every request
/// (`tests/helpers/portal-access.py`). Dropped, it stops them all.
pub struct Portal {
    /// `DBUS_SESSION_BUS_ADDRESS` for the portal's clients.
    pub bus: String,
    /// Where the screencast chooser notes each time it is asked.
    chooser_calls: PathBuf,
    /// Where the windows stand-in notes what each SelectSources asked.
    select_sources: PathBuf,
    // Dropped in this order: the portal, its backends, the bus.
    _processes: Vec<Running>,
}

impl Sway {
    /// Starts the portal for this session, and waits until it offers
    /// Screenshot.
    pub fn start_portal(&self) -> Portal {
        self.start_portal_with(Stand::None)
    }

    /// [`Sway::start_portal`], with GlobalShortcuts too: a stand-in for a
    /// desktop's backend (`tests/helpers/portal-shortcuts.py`) that binds
    /// what it is asked to, and that [`Portal::press`] plays the user of.
    pub fn start_portal_with_shortcuts(&self) -> Portal {
        self.start_portal_with(Stand::Shortcuts)
    }

    /// [`Sway::start_portal`], with a ScreenCast backend that shares
    /// windows too, as GNOME's, KDE's and Hyprland's do: a stand-in
    /// (`tests/helpers/portal-windows.py`) in front of
    /// xdg-desktop-portal-wlr, whose chooser picks the output as the
    /// "window".
    pub fn start_portal_sharing_windows(&self) -> Portal {
        self.start_portal_with(Stand::Windows)
    }

    fn start_portal_with(&self, stand: Stand) -> Portal {
        let dir = self.dir.path();
        let portals = dir.join("portals");
        std::fs::create_dir_all(&portals).unwrap();
        let wlr = std::fs::read_to_string("/usr/share/xdg-desktop-portal/portals/wlr.portal")
            .expect("xdg-desktop-portal-wlr is installed (cargo xtask test installs it)");
        // One backend per interface: ScreenCast is the stand-in's when it
        // runs.
        let wlr = if stand == Stand::Windows {
            wlr.replace("org.freedesktop.impl.portal.ScreenCast;", "")
        } else {
            wlr
        };
        std::fs::write(portals.join("wlr.portal"), wlr).unwrap();
        if stand == Stand::Windows {
            std::fs::write(
                portals.join("dropcasttestwindows.portal"),
                "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.dropcasttestwindows\n\
                 Interfaces=org.freedesktop.impl.portal.ScreenCast;\nUseIn=sway\n",
            )
            .unwrap();
        }
        let shortcuts = stand == Stand::Shortcuts;
        std::fs::write(
            portals.join("dropcasttest.portal"),
            "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.dropcasttest\n\
             Interfaces=org.freedesktop.impl.portal.Access;\nUseIn=sway\n",
        )
        .unwrap();
        if shortcuts {
            std::fs::write(
                portals.join("dropcasttestkeys.portal"),
                "[portal]\nDBusName=org.freedesktop.impl.portal.desktop.dropcasttestkeys\n\
                 Interfaces=org.freedesktop.impl.portal.GlobalShortcuts;\nUseIn=sway\n",
            )
            .unwrap();
        }
        let bus = format!("unix:path={}", dir.join("bus").display());
        let log = |name: &str| std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
        let start = |cmd: &mut Command, name: &str| {
            let child = cmd
                .envs(self.env())
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .env("XDG_CURRENT_DESKTOP", "sway")
                .env("XDG_DESKTOP_PORTAL_DIR", &portals)
                // WirePlumber keeps state: in the session's folder, not
                // the user's.
                .env("XDG_STATE_HOME", dir.join("state"))
                .env_remove("DISPLAY")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log(name))
                .spawn()
                .unwrap_or_else(|e| panic!("{name} is installed (cargo xtask test): {e}"));
            Running(child)
        };
        let mut processes = vec![start(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", "--nopidfile", "--nosyslog"])
                .arg(format!("--address={bus}")),
            "dbus",
        )];
        wait_up_to(Duration::from_secs(30), "the portal's bus", || {
            dir.join("bus").exists()
        });
        // xdg-desktop-portal-wlr will not run without PipeWire (its
        // ScreenCast), even to take screenshots.
        processes.push(start(&mut Command::new("pipewire"), "pipewire"));
        wait_up_to(Duration::from_secs(30), "PipeWire", || {
            dir.join("pipewire-0").exists()
        });
        let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/portal-access.py");
        processes.push(start(
            Command::new("/usr/bin/python3").arg(helper),
            "portal-access",
        ));
        // Screencasts of the first output: the "dialog" where the user
        // chooses it is a script that counts its calls and answers it.
        let chooser = dir.join("chooser.sh");
        std::fs::write(
            &chooser,
            format!(
                "#!/bin/sh\necho asked >> {}\necho HEADLESS-1\n",
                dir.join("chooser-calls").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(
            &chooser,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let config = dir.join("xdpw.conf");
        std::fs::write(
            &config,
            format!(
                "[screencast]\nchooser_type=simple\nchooser_cmd={}\nmax_fps=30\n",
                chooser.display()
            ),
        )
        .unwrap();
        processes.push(start(
            Command::new("/usr/libexec/xdg-desktop-portal-wlr")
                .args(["-r", "-l", "INFO", "-c"])
                .arg(&config)
                .env("LD_PRELOAD", xdpw_shim(dir)),
            "xdg-desktop-portal-wlr",
        ));
        if shortcuts {
            let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/portal-shortcuts.py");
            processes.push(start(
                Command::new("/usr/bin/python3").arg(helper),
                "portal-shortcuts",
            ));
        }
        // Asked only once the name has an owner: a call to a name nobody
        // holds yet makes the bus start the service's system-wide copy
        // (D-Bus activation), without our settings, racing ours.
        let owned = |name: &str| {
            Command::new("dbus-send")
                .args(["--session", "--print-reply", "--dest=org.freedesktop.DBus"])
                .args([
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    &format!("string:{name}"),
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
        };
        let has = |name: &str, what: &str| {
            owned(name)
                && Command::new("dbus-send")
                    .args(["--session", "--print-reply", &format!("--dest={name}")])
                    .args([
                        "/org/freedesktop/portal/desktop",
                        "org.freedesktop.DBus.Introspectable.Introspect",
                    ])
                    .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(what))
        };
        wait_up_to(Duration::from_secs(30), "the portal's backends", || {
            has(
                "org.freedesktop.impl.portal.desktop.dropcasttest",
                "impl.portal.Access",
            ) && has("org.freedesktop.impl.portal.desktop.wlr", "Screenshot")
                && (!shortcuts
                    || has(
                        "org.freedesktop.impl.portal.desktop.dropcasttestkeys",
                        "GlobalShortcuts",
                    ))
        });
        if stand == Stand::Windows {
            // It asks xdg-desktop-portal-wlr what it offers as it starts,
            // so only once that is up.
            let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/portal-windows.py");
            processes.push(start(
                Command::new("/usr/bin/python3")
                    .arg(helper)
                    .env("SELECT_SOURCES_LOG", dir.join("select-sources")),
                "portal-windows",
            ));
            wait_up_to(Duration::from_secs(30), "the windows stand-in", || {
                has(
                    "org.freedesktop.impl.portal.desktop.dropcasttestwindows",
                    "impl.portal.ScreenCast",
                )
            });
        }
        processes.push(start(
            Command::new("/usr/libexec/xdg-desktop-portal").arg("-r"),
            "xdg-desktop-portal",
        ));
        wait_up_to(Duration::from_secs(30), "the Screenshot portal", || {
            has("org.freedesktop.portal.Desktop", "portal.Screenshot")
        });
        // WirePlumber links a screencast's stream to its reader. It asks
        // the portal for its permission store as it starts, and a portal
        // started by that request stalls the bus for D-Bus's 25 s
        // timeout: so it starts last.
        processes.push(start(&mut Command::new("wireplumber"), "wireplumber"));
        // Ready once it has made its "default" metadata: a stream that
        // connects before then is never linked.
        wait_up_to(Duration::from_secs(30), "WirePlumber", || {
            self.command("pw-cli")
                .args(["ls", "Metadata"])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"default\""))
        });
        processes.reverse();
        Portal {
            bus,
            chooser_calls: dir.join("chooser-calls"),
            select_sources: dir.join("select-sources"),
            _processes: processes,
        }
    }
}

/// `tests/helpers/xdpw-dmabuf-shim.c` built into `dir`: Debian 12's
/// xdg-desktop-portal-wlr (0.7) refuses to screencast from a compositor
/// without a GPU, and this makes it (see the file).
fn xdpw_shim(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("helpers/xdpw-dmabuf-shim.c");
    let library = dir.join("xdpw-dmabuf-shim.so");
    let built = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-Wall", "-o"])
        .arg(&library)
        .arg(&source)
        .arg("-ldl")
        .output()
        .expect("a C compiler (cc) is installed (package build-essential)");
    assert!(
        built.status.success(),
        "building {}: {}",
        source.display(),
        String::from_utf8_lossy(&built.stderr)
    );
    library
}

impl Portal {
    /// How many times the user was asked which output to share.
    pub fn screencast_choices(&self) -> usize {
        std::fs::read_to_string(&self.chooser_calls)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// What each SelectSources asked the windows stand-in for
    /// ([`Sway::start_portal_sharing_windows`]), as `types=N persist=M`.
    pub fn selected_sources(&self) -> Vec<String> {
        std::fs::read_to_string(&self.select_sources)
            .map(|s| s.lines().map(String::from).collect())
            .unwrap_or_default()
    }

    /// The user presses the keys of shortcut `id` (the stand-in backend
    /// signals Activated); how many sessions had it bound.
    pub fn press(&self, id: &str) -> u32 {
        self.test_call(&["org.dropcast.Test.Press", &format!("string:{id}")])
    }

    /// The user gives shortcut `id` other keys in the desktop's settings.
    pub fn rebind(&self, id: &str, trigger: &str) -> u32 {
        self.test_call(&[
            "org.dropcast.Test.Rebind",
            &format!("string:{id}"),
            &format!("string:{trigger}"),
        ])
    }

    fn test_call(&self, call: &[&str]) -> u32 {
        let out = Command::new("dbus-send")
            .args([
                "--session",
                "--print-reply",
                "--dest=org.freedesktop.impl.portal.desktop.dropcasttestkeys",
                "/org/freedesktop/portal/desktop",
            ])
            .args(call)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .unwrap();
        let reply = String::from_utf8_lossy(&out.stdout);
        reply
            .split("uint32 ")
            .nth(1)
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("the stand-in backend answered {reply:?}"))
    }
}
