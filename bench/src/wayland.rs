//! `dropcast-bench wayland`: `dropcast shot` vs grim on the same headless
//! Wayland output (sway, pixman renderer) in the same run.
//!
//! The output shows the capture bench's scene (half plasma, half text) as
//! its background, at 1280x720 and 2560x1440. Both tools take the whole
//! output through wlroots' screencopy and write a PNG; we time the whole
//! command (median of `--runs`, default 5) and take the file's size, and
//! print both as ratios to grim's (at its default compression).
//!
//! Then a recording: ffplay shows FFmpeg's testsrc2 full screen on a
//! 1280x720 output at 30 fps (SDL on Wayland), and each tool records
//! `--seconds` (default 20): `dropcast record` at 30 fps, and wf-recorder
//! (which takes a frame whenever the output changes) with libx264 at the
//! same settings (veryfast, zerolatency, CRF 23, a keyframe a second,
//! yuv420p), stopped with SIGINT. We report CPU time (GNU time), frames
//! against those expected, and size, as ratios to wf-recorder's. Last,
//! `dropcast record` once more through the ScreenCast portal and PipeWire
//! (the GNOME and KDE path; here xdg-desktop-portal-wlr), against the same
//! wf-recorder run.

use crate::capture::{matches_scene, measure, print_header, print_row, scene, Tool};
use crate::flag;
use crate::record::{ours, outcome, print_outcome, timed, FPS};
use std::path::Path;

use dropcast_tests::{Running, Sway};

pub fn run(args: &[String]) -> Result<(), String> {
    let dropcast = flag(args, "--dropcast-bin").ok_or("--dropcast-bin PATH is required")?;
    let runs: usize = flag(args, "--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = dir.path();
    println!(
        "Wayland (headless sway): the whole output to a PNG file (median of {runs}, wall time)"
    );
    for (width, height) in [(1280, 720), (2560, 1440)] {
        let scene = scene(dir, width, height)?;
        let sway = Sway::start(width, height, &scene);
        let env = sway.env();
        println!("\n{width}x{height}:");
        print_header("grim");
        let tools = [
            Tool {
                name: "grim",
                program: "grim".into(),
                args: vec!["{out}"],
            },
            Tool {
                name: "dropcast shot",
                program: dropcast.clone(),
                args: vec!["shot", "--no-upload", "--copy", "none", "--out", "{out}"],
            },
        ];
        let mut grim = None;
        for tool in &tools {
            let (secs, size) = measure(tool, &env, dir, runs)?;
            let (t0, s0) = *grim.get_or_insert((secs, size));
            print_row(
                &format!("Wayland shot to PNG, {width}x{height}"),
                "grim",
                "<= 0.7x",
                tool.name,
                (secs, size),
                (t0, s0),
            );
        }
        if let Some(exact) = matches_scene(dir, &scene) {
            println!("  dropcast's file is the scene pixel for pixel: {exact}");
        }
    }
    let seconds: u32 = flag(args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    record(dir, &dropcast, seconds)
}

/// `dropcast record` vs wf-recorder on moving content.
fn record(dir: &Path, dropcast: &str, seconds: u32) -> Result<(), String> {
    let scene = scene(dir, 1280, 720)?;
    let sway = Sway::start(1280, 720, &scene);
    let env: Vec<(&str, String)> = sway.env();
    let player = sway
        .command("ffplay")
        .args(["-loglevel", "error", "-fs", "-f", "lavfi", "-i"])
        .arg(format!("testsrc2=size=1280x720:rate={FPS}"))
        .env("SDL_VIDEODRIVER", "wayland")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("ffplay (package ffmpeg): {e}"))?;
    let _player = Running(player);
    std::thread::sleep(std::time::Duration::from_secs(2));
    let ours = ours(dir, dropcast, &env, seconds)?;
    let secs = seconds.to_string();
    let peer_file = dir.join("wf-recorder.mp4");
    let (cost, _) = timed(
        dir,
        "timeout",
        &[
            "--preserve-status",
            "-s",
            "INT",
            &secs,
            "wf-recorder",
            "-c",
            "libx264",
            "-p",
            "preset=veryfast",
            "-p",
            "tune=zerolatency",
            "-p",
            "crf=23",
            "-p",
            &format!("g={FPS}"),
            "-x",
            "yuv420p",
            "-f",
            peer_file.to_str().unwrap(),
        ],
        &env,
    )?;
    let peer = outcome(cost, &peer_file)?;
    let portal = sway.start_portal();
    let mut through_portal = env.clone();
    through_portal.extend([
        ("DROPCAST_WAYLAND_CAPTURE", "portal".to_string()),
        ("DBUS_SESSION_BUS_ADDRESS", portal.bus.clone()),
        // The restore token goes here, not in the user's state folder.
        ("XDG_STATE_HOME", dir.display().to_string()),
    ]);
    let cast = crate::record::ours(dir, dropcast, &through_portal, seconds)?;
    let expected = u64::from(seconds * FPS);
    println!("\nrecording testsrc2 on Wayland, {seconds} s at {FPS} fps, 1280x720:");
    print_outcome("dropcast", &ours, expected);
    print_outcome("wf-recorder", &peer, expected);
    print_outcome("dropcast via the portal", &cast, expected);
    let said =
        |o: &crate::record::Outcome| o.said.as_ref().map(|v| v.to_string()).unwrap_or_default();
    println!("  dropcast said: {}", said(&ours));
    println!("  dropcast via the portal said: {}", said(&cast));
    crate::figure(
        "Wayland recording 1280x720, CPU",
        format!("{:.1} s", ours.cost.cpu),
        Some(("wf-recorder", format!("{:.1} s", peer.cost.cpu))),
        Some(ours.cost.cpu / peer.cost.cpu),
        "<= 1.0x",
    );
    crate::figure(
        "Wayland recording 1280x720, frames",
        format!("{} of {expected}", ours.frames),
        None,
        None,
        "no dropped frames",
    );
    crate::figure(
        "Wayland recording 1280x720, size",
        format!("{:.2} MiB", ours.size as f64 / 1048576.0),
        Some((
            "wf-recorder",
            format!("{:.2} MiB", peer.size as f64 / 1048576.0),
        )),
        Some(ours.size as f64 / peer.size as f64),
        "(measure)",
    );
    crate::figure(
        "Wayland recording via the ScreenCast portal, CPU",
        format!("{:.1} s", cast.cost.cpu),
        Some(("wf-recorder", format!("{:.1} s", peer.cost.cpu))),
        Some(cast.cost.cpu / peer.cost.cpu),
        "(measure)",
    );
    crate::figure(
        "Wayland recording via the ScreenCast portal, frames",
        format!("{} of {expected}", cast.frames),
        None,
        None,
        "no dropped frames",
    );
    Ok(())
}
