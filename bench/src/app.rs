//! The tray app against the Flameshot daemon, on one Xvfb desktop with a
//! D-Bus session and a tray host (both apps put an icon in it):
//! - idle RSS of each app's whole process tree 10 s after start;
//! - hotkey press (xdotool) to the link on the clipboard, 1920x1080,
//!   against a local server, median of 20;
//! - the recording hotkey to the first recorded frame in the file (the
//!   recorder, `dropcast-record`, starts and loads FFmpeg then), median of
//!   a quarter of the runs. Flameshot does not record: no peer.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dropcast_tests::{Running, SessionBus, Xvfb};

use crate::{flag, median};

/// Resident memory of `pid` and all its descendants, in bytes.
fn tree_rss(pid: u32) -> u64 {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let parent = all[i];
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(child) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && !all.contains(&child) {
                all.push(child);
            }
        }
        i += 1;
    }
    all.iter()
        .map(|p| crate::proc_status_kib(*p, "VmRSS:") * 1024)
        .sum()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let app = flag(args, "--app-bin").ok_or("--app-bin PATH is required")?;
    let dropcast = flag(args, "--dropcast-bin").ok_or("--dropcast-bin PATH is required")?;
    let server_bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let runs: usize = flag(args, "--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = dir.path();

    let x = Xvfb::start(1920, 1080);
    let bus = SessionBus::start();
    let _tray_host = Running(
        Command::new("gtk-sni-tray-standalone")
            .args(["--watcher", "--top", "--end"])
            .env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("gtk-sni-tray-standalone: {e}"))?,
    );
    std::thread::sleep(Duration::from_secs(1));
    let scene = crate::capture::scene(dir, 1920, 1080)?;
    let _feh = x.show_full_screen(&scene);
    let (_server, url, token) = crate::server::start_server(&server_bin, dir, false)?;
    let home = dir.join("home");
    let runtime = dir.join("run");
    std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
    let env = |c: &mut Command| {
        crate::in_home(c, &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("DISPLAY", &x.display)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    };
    let mut login = Command::new(&dropcast);
    env(&mut login);
    crate::login(login, &url, &token)?;

    // Idle memory, 10 s after start.
    let mut cmd = Command::new(&app);
    env(&mut cmd);
    let ours = Running(
        cmd.stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    std::thread::sleep(Duration::from_secs(10));
    let ours_rss = tree_rss(ours.0.id());

    let mut peer = Command::new("flameshot");
    env(&mut peer);
    let flameshot = peer
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Running);
    let peer_rss = match &flameshot {
        Ok(f) => {
            std::thread::sleep(Duration::from_secs(10));
            Some(tree_rss(f.0.id()))
        }
        Err(_) => None,
    };
    drop(flameshot);
    println!("idle RSS of the process tree, 10 s after start (Xvfb + D-Bus + tray host):");
    println!(
        "  dropcast-app       {:>7.1} MiB (target <= 20 MiB, <= 0.7x flameshot)",
        mib(ours_rss)
    );
    crate::figure(
        "idle tray, process tree VmRSS",
        format!("{:.1} MiB", mib(ours_rss)),
        peer_rss.map(|p| ("flameshot daemon", format!("{:.1} MiB", mib(p)))),
        peer_rss.map(|p| ours_rss as f64 / p as f64),
        "<= 20 MiB, <= 0.7x",
    );
    match peer_rss {
        Some(p) => println!(
            "  flameshot daemon   {:>7.1} MiB\n  ratio dropcast/flameshot: {:.2}x",
            mib(p),
            ours_rss as f64 / p as f64
        ),
        None => println!("  flameshot daemon   not measured (not installed)"),
    }

    // Hotkey to link.
    std::env::set_var("DISPLAY", &x.display);
    let mut clipboard = arboard::Clipboard::new().map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for i in 0..runs {
        clipboard
            .set_text(format!("bench-{i}"))
            .map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_millis(200));
        let t = Instant::now();
        let pressed = Command::new("xdotool")
            .args(["key", "ctrl+shift+3"])
            .env("DISPLAY", &x.display)
            .status()
            .map_err(|e| format!("xdotool: {e}"))?;
        if !pressed.success() {
            return Err("xdotool key failed".into());
        }
        let deadline = t + Duration::from_secs(5);
        loop {
            if clipboard.get_text().unwrap_or_default().starts_with(&url) {
                times.push(t.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > deadline {
                return Err("the link did not reach the clipboard within 5 s".into());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        // Let the upload finish before the next press.
        std::thread::sleep(Duration::from_millis(300));
    }
    let worst = times.iter().cloned().fold(0.0, f64::max);
    let med = median(times);
    println!(
        "\nCtrl+Shift+3 (xdotool) -> link on the clipboard, 1920x1080, {runs} runs: \
         median {:.1} ms, worst {:.1} ms (target: median <= 50 ms)",
        med * 1000.0,
        worst * 1000.0
    );
    crate::figure(
        "hotkey -> link on the clipboard, median",
        format!("{:.1} ms (worst {:.1})", med * 1000.0, worst * 1000.0),
        None,
        None,
        "<= 50 ms",
    );
    first_frame(
        &x.display,
        &home.join("data/dropcast/client/captures"),
        runs.div_ceil(4),
    )?;
    drop(ours);
    Ok(())
}

/// The recording hotkey (Ctrl+Shift+5) to the first frame in the file,
/// `runs` times; each recording is stopped after a second by the same key
/// and shared before the next.
fn first_frame(display: &str, captures: &std::path::Path, runs: usize) -> Result<(), String> {
    let press = || -> Result<(), String> {
        let pressed = Command::new("xdotool")
            .args(["key", "ctrl+shift+5"])
            .env("DISPLAY", display)
            .status()
            .map_err(|e| format!("xdotool: {e}"))?;
        pressed
            .success()
            .then_some(())
            .ok_or("xdotool key failed".into())
    };
    let recording = || -> Option<std::path::PathBuf> {
        std::fs::read_dir(captures)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                p.extension().is_some_and(|e| e == "mp4")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
            })
    };
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        press()?;
        let deadline = t + Duration::from_secs(10);
        let file = loop {
            if let Some(f) = recording() {
                times.push(t.elapsed().as_secs_f64());
                break f;
            }
            if Instant::now() > deadline {
                return Err("no recorded frame within 10 s of the hotkey".into());
            }
            std::thread::sleep(Duration::from_micros(500));
        };
        std::thread::sleep(Duration::from_secs(1));
        press()?;
        // Shared: the file leaves the data dir once the server has it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while file.exists() {
            if Instant::now() > deadline {
                return Err("the recording was not shared within 30 s of its stop".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let worst = times.iter().cloned().fold(0.0, f64::max);
    let med = median(times);
    println!(
        "Ctrl+Shift+5 (xdotool) -> first recorded frame in the file, 1920x1080, {runs} runs: \
         median {:.1} ms, worst {:.1} ms",
        med * 1000.0,
        worst * 1000.0
    );
    crate::figure(
        "hotkey -> first recorded frame, median",
        format!("{:.1} ms (worst {:.1})", med * 1000.0, worst * 1000.0),
        None,
        None,
        "",
    );
    Ok(())
}
