//! `dropcast-bench capture`: `dropcast shot` vs scrot, maim and
//! `flameshot full` on the same Xvfb screen in the same run.
//!
//! The screen shows a scene of half photo-like texture (ImageMagick's
//! seeded plasma fractal) and half text (source code in DejaVu Sans Mono),
//! shown by feh, at 1920x1080 and 3840x2160. Each tool writes a PNG of the
//! whole screen; we time the whole command (median of `--runs`, default 5)
//! and take the file's size, and print both as ratios to scrot's.
//!
//! Then the time from starting `dropcast shot` to its link being on the
//! clipboard, against a local server, at 1920x1080 (median and worst of
//! `--runs` x 3).

use crate::{flag, median};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dropcast_tests::Xvfb;

/// Text for the scene: this file, 20 lines a label (ImageMagick refuses
/// longer labels).
const TEXT: &str = include_str!("capture.rs");

fn convert(args: &[String]) -> Result<(), String> {
    let out = Command::new("convert")
        .args(args)
        .output()
        .map_err(|e| format!("running ImageMagick's convert: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "convert failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Draws the 1920x1080 scene and scales it to `width` x `height` (the text
/// half as a HiDPI screen would show it, the photo redrawn at full size).
pub fn scene(dir: &Path, width: u32, height: u32) -> Result<PathBuf, String> {
    let half = width / 2;
    let photo = dir.join(format!("photo-{width}.png"));
    convert(&[
        "-seed".into(),
        "7".into(),
        "-size".into(),
        format!("{half}x{height}"),
        "plasma:fractal".into(),
        "-blur".into(),
        "0x1".into(),
        photo.display().to_string(),
    ])?;
    let text = dir.join(format!("text-{width}.png"));
    let mut args: Vec<String> = [
        "-background",
        "white",
        "-fill",
        "black",
        "-font",
        "DejaVu-Sans-Mono",
        "-pointsize",
        "14",
    ]
    .map(String::from)
    .to_vec();
    let lines: Vec<&str> = TEXT.lines().take(60).collect();
    for chunk in lines.chunks(20) {
        args.push(format!(
            "label:{}",
            chunk.join("\n").replace(['%', '@', '\\'], "")
        ));
    }
    args.extend(
        [
            "-append",
            "-gravity",
            "northwest",
            "-extent",
            "960x1080",
            "-resize",
        ]
        .map(String::from),
    );
    args.push(format!("{half}x{height}!"));
    args.push(text.display().to_string());
    convert(&args)?;
    let scene = dir.join(format!("scene-{width}x{height}.png"));
    convert(&[
        photo.display().to_string(),
        text.display().to_string(),
        "+append".into(),
        "-depth".into(),
        "8".into(),
        "-alpha".into(),
        "off".into(),
        "-type".into(),
        "TrueColor".into(),
        scene.display().to_string(),
    ])?;
    Ok(scene)
}

pub(crate) struct Tool {
    pub(crate) name: &'static str,
    pub(crate) program: String,
    /// Arguments; `{out}` is replaced by the output file.
    pub(crate) args: Vec<&'static str>,
}

fn tools(dropcast: &str) -> Vec<Tool> {
    vec![
        Tool {
            name: "scrot",
            program: "scrot".into(),
            args: vec!["-o", "{out}"],
        },
        Tool {
            name: "dropcast shot",
            program: dropcast.into(),
            args: vec!["shot", "--no-upload", "--copy", "none", "--out", "{out}"],
        },
        Tool {
            name: "maim",
            program: "maim".into(),
            args: vec!["{out}"],
        },
        Tool {
            name: "flameshot full",
            program: "flameshot".into(),
            args: vec!["full", "--path", "{out}"],
        },
    ]
}

/// Median seconds and the file's size, or why the tool could not run
/// (with `env` set: the desktop it captures).
pub(crate) fn measure(
    tool: &Tool,
    env: &[(&str, String)],
    dir: &Path,
    runs: usize,
) -> Result<(f64, u64), String> {
    let out = dir.join(format!("{}.png", tool.name.replace(' ', "-")));
    let args: Vec<String> = tool
        .args
        .iter()
        .map(|a| a.replace("{out}", &out.display().to_string()))
        .collect();
    let mut times = Vec::new();
    for _ in 0..runs {
        let _ = std::fs::remove_file(&out);
        let t = Instant::now();
        let done = Command::new(&tool.program)
            .args(&args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .map_err(|e| format!("{}: {e}", tool.program))?;
        times.push(t.elapsed().as_secs_f64());
        if !done.status.success() || !out.exists() {
            return Err(format!(
                "{} failed: {}",
                tool.name,
                String::from_utf8_lossy(&done.stderr).trim()
            ));
        }
    }
    let size = std::fs::metadata(&out).map_err(|e| e.to_string())?.len();
    Ok((median(times), size))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let dropcast = flag(args, "--dropcast-bin").ok_or("--dropcast-bin PATH is required")?;
    let server_bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let runs: usize = flag(args, "--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = dir.path();
    println!("capture + encode of the whole screen to a PNG file (median of {runs}, wall time)");
    for (width, height) in [(1920, 1080), (3840, 2160)] {
        let scene = scene(dir, width, height)?;
        let x = Xvfb::start(width, height);
        let _feh = x.show_full_screen(&scene);
        println!("\n{width}x{height}:");
        print_header("scrot");
        let mut scrot = None;
        for tool in tools(&dropcast) {
            match measure(&tool, &[("DISPLAY", x.display.clone())], dir, runs) {
                Ok((secs, size)) => {
                    let (t0, s0) = *scrot.get_or_insert((secs, size));
                    let target = if width > 1920 { "<= 0.4x" } else { "<= 0.5x" };
                    print_row(
                        &format!("capture to PNG, {width}x{height}"),
                        "scrot",
                        target,
                        tool.name,
                        (secs, size),
                        (t0, s0),
                    );
                }
                Err(e) => println!("  {:<16} not measured: {e}", tool.name),
            }
        }
        if let Some(exact) = matches_scene(dir, &scene) {
            println!("  dropcast's file is the scene pixel for pixel: {exact}");
        }
    }
    link_latency(&dropcast, &server_bin, dir, runs * 3)
}

/// The header of a table of tools' shots, as ratios to `peer`'s.
pub(crate) fn print_header(peer: &str) {
    println!(
        "  {:<16} {:>9} {:>12} {:>8} {:>8}",
        "tool",
        "ms",
        "bytes",
        format!("time/{peer}"),
        format!("size/{peer}")
    );
}

/// One tool's row: its time and size, and both as ratios to the peer's
/// (`t0`, `s0`); dropcast's are also the summary's figures for `what`,
/// the time against `time_target`.
pub(crate) fn print_row(
    what: &str,
    peer: &str,
    time_target: &str,
    tool: &str,
    (secs, size): (f64, u64),
    (t0, s0): (f64, u64),
) {
    if tool == "dropcast shot" {
        crate::figure(
            &format!("{what}, time"),
            format!("{:.1} ms", secs * 1000.0),
            Some((peer, format!("{:.1} ms", t0 * 1000.0))),
            Some(secs / t0),
            time_target,
        );
        crate::figure(
            &format!("{what}, size"),
            format!("{size} B"),
            Some((peer, format!("{s0} B"))),
            Some(size as f64 / s0 as f64),
            "<= 1x",
        );
    }
    println!(
        "  {:<16} {:>9.1} {:>12} {:>8.2}x {:>8.2}x",
        tool,
        secs * 1000.0,
        size,
        secs / t0,
        size as f64 / s0 as f64
    );
}

/// Whether dropcast's last file holds exactly the scene's pixels.
pub(crate) fn matches_scene(dir: &Path, scene: &Path) -> Option<bool> {
    let ours = image::open(dir.join("dropcast-shot.png")).ok()?.to_rgb8();
    let shown = image::open(scene).ok()?.to_rgb8();
    Some(ours == shown)
}

/// From starting `dropcast shot` to its link on the clipboard.
fn link_latency(dropcast: &str, server_bin: &str, dir: &Path, runs: usize) -> Result<(), String> {
    let x = Xvfb::start(1920, 1080);
    let _feh = x.show_full_screen(&dir.join("scene-1920x1080.png"));
    let (_server, url, token) = crate::server::start_server(server_bin, dir, false)?;
    let home = dir.join("home");
    let cli = |args: &[&str], stdin: &str| -> Result<(), String> {
        let mut child = crate::in_home(&mut Command::new(dropcast), &home)
            .args(args)
            .env("DISPLAY", &x.display)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes())
            .map_err(|e| e.to_string())?;
        let status = child.wait().map_err(|e| e.to_string())?;
        status
            .success()
            .then_some(())
            .ok_or(format!("dropcast {args:?} failed"))
    };
    cli(&["login", "--server", &url, "--token-stdin"], &token)?;
    std::env::set_var("DISPLAY", &x.display);
    let mut clipboard = arboard::Clipboard::new().map_err(|e| e.to_string())?;
    let mut times = Vec::new();
    for i in 0..runs {
        let marker = format!("bench-{i}");
        clipboard.set_text(&marker).map_err(|e| e.to_string())?;
        let t = Instant::now();
        let mut child = crate::in_home(&mut Command::new(dropcast), &home)
            .args(["shot"])
            .env("DISPLAY", &x.display)
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let deadline = t + Duration::from_secs(5);
        loop {
            let text = clipboard.get_text().unwrap_or_default();
            if text.starts_with(&url) {
                times.push(t.elapsed().as_secs_f64());
                break;
            }
            if Instant::now() > deadline {
                return Err("the link did not reach the clipboard within 5 s".into());
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let _ = child.wait();
    }
    let worst = times.iter().cloned().fold(0.0, f64::max);
    let med = median(times);
    crate::figure(
        "start of `dropcast shot` -> link on the clipboard, median",
        format!("{:.1} ms (worst {:.1})", med * 1000.0, worst * 1000.0),
        None,
        None,
        "<= 50 ms",
    );
    println!(
        "\nstart of `dropcast shot` -> link on the clipboard, 1920x1080, {runs} runs: \
         median {:.1} ms, worst {:.1} ms (target: median <= 50 ms)",
        med * 1000.0,
        worst * 1000.0
    );
    Ok(())
}
