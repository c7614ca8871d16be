//! `dropcast-bench wayland`: `dropcast shot` vs grim on the same headless
//! Wayland output (sway, pixman renderer) in the same run.
//!
//! The output shows the capture bench's scene (half plasma, half text) as
//! its background, at 1280x720 and 2560x1440. Both tools take the whole
//! output through wlroots' screencopy and write a PNG; we time the whole
//! command (median of `--runs`, default 5) and take the file's size, and
//! print both as ratios to grim's (at its default compression).

use crate::capture::{matches_scene, measure, scene, Tool};
use crate::flag;

use dropcast_tests::Sway;

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
    Ok(())
}
