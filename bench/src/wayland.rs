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
//! against those expected, and size, as ratios to wf-recorder's.

use crate::capture::{matches_scene, measure, scene, Tool};
use crate::flag;
use crate::record::{frames, timed, Cost};
use std::path::Path;

use dropcast_tests::{Running, Sway};

const FPS: u32 = 30;

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
        let env: Vec<(&str, String)> = env.into_iter().collect();
        println!("\n{width}x{height}:");
        println!(
            "  {:<16} {:>9} {:>12} {:>8} {:>8}",
            "tool", "ms", "bytes", "time/grim", "size/grim"
        );
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
            if tool.name == "dropcast shot" {
                crate::figure(
                    &format!("Wayland shot to PNG, {width}x{height}, time"),
                    format!("{:.1} ms", secs * 1000.0),
                    Some(("grim", format!("{:.1} ms", t0 * 1000.0))),
                    Some(secs / t0),
                    "<= 0.7x",
                );
                crate::figure(
                    &format!("Wayland shot to PNG, {width}x{height}, size"),
                    format!("{size} B"),
                    Some(("grim", format!("{s0} B"))),
                    Some(size as f64 / s0 as f64),
                    "<= 1x",
                );
            }
            println!(
                "  {:<16} {:>9.1} {:>12} {:>8.2}x {:>8.2}x",
                tool.name,
                secs * 1000.0,
                size,
                secs / t0,
                size as f64 / s0 as f64
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
    let (secs, fps) = (seconds.to_string(), FPS.to_string());
    let ours_file = dir.join("ours.mp4");
    let (ours, said) = timed(
        dir,
        dropcast,
        &[
            "record",
            "--json",
            "--no-upload",
            "--duration",
            &secs,
            "--fps",
            &fps,
            "--out",
            ours_file.to_str().unwrap(),
        ],
        &env,
    )?;
    let peer_file = dir.join("wf-recorder.mp4");
    let (peer, _) = timed(
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
    let expected = u64::from(seconds * FPS);
    let line = |name: &str, cost: &Cost, file: &Path| -> Result<(u64, u64), String> {
        let (n, size) = (
            frames(file)?,
            std::fs::metadata(file).map_err(|e| e.to_string())?.len(),
        );
        println!(
            "  {name:<12} CPU {:>6.1} s  peak RSS {:>6.1} MiB  frames {n:>5} of {expected}  \
             size {:>6.2} MiB  wall {:.1} s",
            cost.cpu,
            cost.rss as f64 / 1048576.0,
            size as f64 / 1048576.0,
            cost.wall
        );
        Ok((n, size))
    };
    println!("\nrecording testsrc2 on Wayland, {seconds} s at {FPS} fps, 1280x720:");
    let (our_frames, our_size) = line("dropcast", &ours, &ours_file)?;
    let (_, peer_size) = line("wf-recorder", &peer, &peer_file)?;
    println!("  dropcast said: {}", said.trim());
    crate::figure(
        "Wayland recording 1280x720, CPU",
        format!("{:.1} s", ours.cpu),
        Some(("wf-recorder", format!("{:.1} s", peer.cpu))),
        Some(ours.cpu / peer.cpu),
        "<= 1.0x",
    );
    crate::figure(
        "Wayland recording 1280x720, frames",
        format!("{our_frames} of {expected}"),
        None,
        None,
        "no dropped frames",
    );
    crate::figure(
        "Wayland recording 1280x720, size",
        format!("{:.2} MiB", our_size as f64 / 1048576.0),
        Some((
            "wf-recorder",
            format!("{:.2} MiB", peer_size as f64 / 1048576.0),
        )),
        Some(our_size as f64 / peer_size as f64),
        "(measure)",
    );
    Ok(())
}
