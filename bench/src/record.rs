//! `dropcast-bench record`: `dropcast record` vs `ffmpeg -f x11grab` with
//! libx264 at the same settings (veryfast, zerolatency, CRF 23, a keyframe
//! a second, fragmented MP4), on the same Xvfb screen in the same run.
//!
//! 1. Moving content: ffplay shows FFmpeg's testsrc2 full screen at
//!    1920x1080, 30 fps. Each tool records `--seconds` (default 60) at
//!    30 fps; we report CPU time (user + sys, from /usr/bin/time), peak
//!    RSS, frames in the file against those expected (dropped), and the
//!    file's size, as ratios to ffmpeg's.
//! 2. A still screen (the capture bench's scene) with a blinking text
//!    caret (a 2x20 window mapped and unmapped every 530 ms): the same
//!    comparison; a still screen should cost us little (frames that did
//!    not change are not encoded).
//! 3. Stop to playable link with uploads throttled to 20 Mbit/s (a proxy
//!    in front of the server, which gives part URLs through it): a
//!    recording shared while it records, stopped with SIGINT after
//!    `--seconds`, timed from the signal to the command's exit (the drop
//!    is complete then), against sharing the same recording after it
//!    stopped (`dropcast upload`, the old way).

use crate::flag;
use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dropcast_tests::{Running, Xvfb};

pub(crate) const FPS: u32 = 30;

/// CPU seconds (user + sys), peak RSS in bytes and wall seconds of a
/// command, measured by GNU time.
pub(crate) struct Cost {
    pub(crate) cpu: f64,
    pub(crate) rss: u64,
    pub(crate) wall: f64,
}

/// Runs `program` under GNU time with `env` set (the desktop it
/// records); its cost and its stdout.
pub(crate) fn timed(
    dir: &Path,
    program: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Result<(Cost, String), String> {
    let out = dir.join("time.txt");
    let run = Command::new("/usr/bin/time")
        .arg("-o")
        .arg(&out)
        .args(["-f", "%U %S %M %e", program])
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .map_err(|e| format!("/usr/bin/time (package time): {e}"))?;
    if !run.status.success() {
        return Err(format!(
            "{program} {args:?} failed: {}: {}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        ));
    }
    let text = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    let v: Vec<f64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    if v.len() != 4 {
        return Err(format!("GNU time said {text:?}"));
    }
    let cost = Cost {
        cpu: v[0] + v[1],
        rss: v[2] as u64 * 1024,
        wall: v[3],
    };
    Ok((cost, String::from_utf8_lossy(&run.stdout).into_owned()))
}

fn frames(path: &Path) -> Result<u64, String> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .map_err(|e| format!("ffprobe: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("ffprobe on {}: {e}", path.display()))
}

/// A recording's cost, and its file's frames and size.
pub(crate) struct Outcome {
    pub(crate) cost: Cost,
    pub(crate) frames: u64,
    pub(crate) size: u64,
    /// What dropcast says of its recording (dropped and unchanged frames).
    pub(crate) said: Option<serde_json::Value>,
}

/// `dropcast record` of the whole screen for `seconds` at [`FPS`], with
/// `env` set (the desktop it records).
pub(crate) fn ours(
    dir: &Path,
    dropcast: &str,
    env: &[(&str, String)],
    seconds: u32,
) -> Result<Outcome, String> {
    let file = dir.join("ours.mp4");
    let _ = std::fs::remove_file(&file);
    let secs = seconds.to_string();
    let fps = FPS.to_string();
    let (cost, said) = timed(
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
            file.to_str().unwrap(),
        ],
        env,
    )?;
    let mut o = outcome(cost, &file)?;
    o.said = serde_json::from_str(said.trim()).ok();
    Ok(o)
}

fn peer(dir: &Path, display: &str, size: &str, seconds: u32) -> Result<Outcome, String> {
    let file = dir.join("ffmpeg.mp4");
    let _ = std::fs::remove_file(&file);
    let secs = seconds.to_string();
    let fps = FPS.to_string();
    let (cost, _) = timed(
        dir,
        "ffmpeg",
        &[
            "-y",
            "-loglevel",
            "error",
            "-f",
            "x11grab",
            "-framerate",
            &fps,
            "-video_size",
            size,
            "-i",
            display,
            "-t",
            &secs,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-tune",
            "zerolatency",
            "-crf",
            "23",
            "-g",
            &fps,
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            file.to_str().unwrap(),
        ],
        &[("DISPLAY", display.to_string())],
    )?;
    outcome(cost, &file)
}

pub(crate) fn outcome(cost: Cost, file: &Path) -> Result<Outcome, String> {
    Ok(Outcome {
        cost,
        frames: frames(file)?,
        size: std::fs::metadata(file).map_err(|e| e.to_string())?.len(),
        said: None,
    })
}

/// One tool's line: its cost, and its file's frames (of `expected`) and
/// size.
pub(crate) fn print_outcome(name: &str, o: &Outcome, expected: u64) {
    println!(
        "  {name:<8} CPU {:>6.1} s  peak RSS {:>6.1} MiB  frames {:>5} of {expected}  \
         size {:>6.2} MiB  wall {:.1} s",
        o.cost.cpu,
        o.cost.rss as f64 / 1048576.0,
        o.frames,
        o.size as f64 / 1048576.0,
        o.cost.wall
    )
}

fn report(what: &str, seconds: u32, ours: &Outcome, peer: &Outcome, still: bool) {
    let expected = u64::from(seconds * FPS);
    println!("{what}, {seconds} s at {FPS} fps, 1920x1080:");
    print_outcome("dropcast", ours, expected);
    print_outcome("ffmpeg", peer, expected);
    let target = if still { "<= 0.3x" } else { "<= 1.2x" };
    crate::figure(
        &format!("recording CPU, {what}"),
        format!("{:.1} s", ours.cost.cpu),
        Some(("ffmpeg x11grab", format!("{:.1} s", peer.cost.cpu))),
        Some(ours.cost.cpu / peer.cost.cpu),
        target,
    );
    crate::figure(
        &format!("recording peak RSS, {what}"),
        format!("{:.1} MiB", ours.cost.rss as f64 / 1048576.0),
        Some((
            "ffmpeg x11grab",
            format!("{:.1} MiB", peer.cost.rss as f64 / 1048576.0),
        )),
        Some(ours.cost.rss as f64 / peer.cost.rss as f64),
        "",
    );
    println!(
        "  ratio dropcast/ffmpeg: CPU {:.2}x (target <= {}x), size {:.2}x, peak RSS {:.2}x",
        ours.cost.cpu / peer.cost.cpu,
        if still { "0.3" } else { "1.2" },
        ours.size as f64 / peer.size as f64,
        ours.cost.rss as f64 / peer.cost.rss as f64
    );
    if still {
        println!(
            "  (a still screen: dropcast encodes a frame only when it changed, and one a \
             second; ffmpeg encodes all {expected})"
        );
    } else {
        let said = |k: &str| ours.said.as_ref().map(|v| v[k].clone()).unwrap_or_default();
        println!(
            "  frames not in the file: dropcast {} (dropped because the encoder fell behind: \
             {}; the screen had not changed since the one before, so not encoded again: \
             {}), ffmpeg {} (x11grab takes a frame every tick, changed or not)",
            expected.saturating_sub(ours.frames),
            said("dropped"),
            said("unchanged"),
            expected.saturating_sub(peer.frames)
        );
    }
}

/// The caret needs an X server: the record bench runs on Linux.
#[cfg(not(target_os = "linux"))]
fn blink(_: &str, _: Arc<std::sync::atomic::AtomicBool>) -> Result<(), String> {
    Err("the record bench draws on an X server (Xvfb): run it on Linux".into())
}

/// A text caret: a 2x20 black window at the middle of the screen, shown
/// and hidden every 530 ms until the flag drops.
#[cfg(target_os = "linux")]
fn blink(display: &str, on: Arc<std::sync::atomic::AtomicBool>) -> Result<(), String> {
    use xcb::x;
    let (conn, screen) = xcb::Connection::connect(Some(display)).map_err(|e| e.to_string())?;
    let screen = conn.get_setup().roots().nth(screen as usize).unwrap();
    let window: x::Window = conn.generate_id();
    conn.send_and_check_request(&x::CreateWindow {
        depth: x::COPY_FROM_PARENT as u8,
        wid: window,
        parent: screen.root(),
        x: 960,
        y: 530,
        width: 2,
        height: 20,
        border_width: 0,
        class: x::WindowClass::InputOutput,
        visual: screen.root_visual(),
        value_list: &[
            x::Cw::BackPixel(screen.black_pixel()),
            x::Cw::OverrideRedirect(true),
        ],
    })
    .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut shown = false;
        while on.load(std::sync::atomic::Ordering::Relaxed) {
            shown = !shown;
            if shown {
                conn.send_request(&x::MapWindow { window });
            } else {
                conn.send_request(&x::UnmapWindow { window });
            }
            let _ = conn.flush();
            std::thread::sleep(Duration::from_millis(530));
        }
    });
    Ok(())
}

/// A TCP proxy to `upstream` that passes at most `bytes_per_second` from
/// clients to the server (all connections together); answers unthrottled.
async fn throttle(listener: tokio::net::TcpListener, upstream: String, bytes_per_second: f64) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let next_free = Arc::new(Mutex::new(tokio::time::Instant::now()));
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let (upstream, next_free) = (upstream.clone(), next_free.clone());
        tokio::spawn(async move {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                return;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let up = async move {
                let mut buf = vec![0u8; 16 << 10];
                loop {
                    let n = match client_read.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let until = {
                        let mut next = next_free.lock().unwrap();
                        let start = (*next).max(tokio::time::Instant::now());
                        *next = start + Duration::from_secs_f64(n as f64 / bytes_per_second);
                        *next
                    };
                    tokio::time::sleep_until(until).await;
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = server_write.shutdown().await;
            };
            let down = async move {
                let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                let _ = client_write.shutdown().await;
            };
            tokio::join!(up, down);
        });
    }
}

/// Stop to playable link, throttled: live sharing vs sharing after.
fn throttled(
    dir: &Path,
    dropcast: &str,
    server_bin: &str,
    display: &str,
    seconds: u32,
) -> Result<(), String> {
    const MBIT: f64 = 20.0;
    let proxy_port = crate::server::free_port();
    let server_port = crate::server::free_port();
    let public = format!("http://127.0.0.1:{proxy_port}");
    let (_server, _, token) = crate::server::start_server_with(
        server_bin,
        dir,
        false,
        server_port,
        &[("DROPCAST_PUBLIC_URL", public.clone())],
    )?;
    let handle = tokio::runtime::Handle::current();
    let listener = handle
        .block_on(tokio::net::TcpListener::bind(("127.0.0.1", proxy_port)))
        .map_err(|e| e.to_string())?;
    let proxy = handle.spawn(throttle(
        listener,
        format!("127.0.0.1:{server_port}"),
        MBIT * 1e6 / 8.0,
    ));
    let home = dir.join("home");
    let env = |c: &mut Command| {
        crate::in_home(c, &home).env("DISPLAY", display);
    };
    let mut login = Command::new(dropcast);
    env(&mut login);
    crate::login(login, &public, &token)?;

    let kept = dir.join("live.mp4");
    let mut cmd = Command::new(dropcast);
    env(&mut cmd);
    let mut child = cmd
        .args(["record", "--fps", "30", "--json", "--out"])
        .arg(&kept)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().transpose().map_err(|e| e.to_string())?;
    let link = first
        .as_deref()
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .and_then(|v| v["recording"].as_str().map(str::to_string))
        .ok_or("dropcast record said no link")?;
    std::thread::sleep(Duration::from_secs(u64::from(seconds)));
    let stopped = Instant::now();
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let last = lines.last().transpose().map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    let live = stopped.elapsed();
    let done: serde_json::Value =
        serde_json::from_str(last.as_deref().unwrap_or("{}")).map_err(|e| e.to_string())?;
    let playable = reqwest::blocking::get(format!("{link}/raw"))
        .map(|r| r.status().is_success())
        .unwrap_or(false);
    let size = std::fs::metadata(&kept).map(|m| m.len()).unwrap_or(0);

    // The same file shared after the stop.
    let mut cmd = Command::new(dropcast);
    env(&mut cmd);
    let started = Instant::now();
    let shared = cmd
        .args(["upload"])
        .arg(&kept)
        .output()
        .map_err(|e| e.to_string())?;
    let after = started.elapsed();
    proxy.abort();
    if !shared.status.success() {
        return Err(format!(
            "dropcast share through the throttle failed: {}",
            String::from_utf8_lossy(&shared.stderr)
        ));
    }
    println!(
        "stop to playable link, uploads throttled to {MBIT} Mbit/s, {seconds} s at 1920x1080 \
         ({:.1} MiB, {} parts sent while recording):",
        size as f64 / 1048576.0,
        done["parts_while_recording"]
    );
    println!(
        "  shared while recording  {:>6.2} s (target <= 1 s){}",
        live.as_secs_f64(),
        if playable { "" } else { "  NOT PLAYABLE" }
    );
    println!("  shared after the stop   {:>6.2} s", after.as_secs_f64());
    crate::figure(
        "stop -> playable link, throttled, shared while recording",
        format!("{:.2} s", live.as_secs_f64()),
        Some((
            "upload after the stop",
            format!("{:.2} s", after.as_secs_f64()),
        )),
        Some(live.as_secs_f64() / after.as_secs_f64()),
        "<= 1 s",
    );
    println!(
        "  ratio live/after: {:.2}x",
        live.as_secs_f64() / after.as_secs_f64()
    );
    Ok(())
}

fn moving_content(x: &Xvfb) -> Result<Running, String> {
    let child = Command::new("ffplay")
        .args([
            "-loglevel",
            "error",
            "-an",
            "-noborder",
            "-fs",
            "-f",
            "lavfi",
            "testsrc2=size=1920x1080:rate=30",
        ])
        .env("DISPLAY", &x.display)
        .env("SDL_AUDIODRIVER", "dummy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("ffplay (package ffmpeg): {e}"))?;
    let running = Running(child);
    x.wait_for_window_named("testsrc2");
    Ok(running)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let dropcast = flag(args, "--dropcast-bin").ok_or("--dropcast-bin PATH is required")?;
    let server_bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let seconds: u32 = flag(args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let dir = dir.path();
    let x = Xvfb::start(1920, 1080);
    let display = x.display.clone();

    {
        let _content = moving_content(&x)?;
        std::thread::sleep(Duration::from_secs(1));
        let o = ours(dir, &dropcast, &[("DISPLAY", display.clone())], seconds)?;
        let p = peer(dir, &display, "1920x1080", seconds)?;
        report("moving content (testsrc2)", seconds, &o, &p, false);
        throttled(dir, &dropcast, &server_bin, &display, seconds)?;
    }
    {
        let scene = crate::capture::scene(dir, 1920, 1080)?;
        let _feh = x.show_full_screen(&scene);
        let on = Arc::new(std::sync::atomic::AtomicBool::new(true));
        blink(&display, on.clone())?;
        let o = ours(dir, &dropcast, &[("DISPLAY", display.clone())], seconds)?;
        let p = peer(dir, &display, "1920x1080", seconds)?;
        on.store(false, std::sync::atomic::Ordering::Relaxed);
        report("still screen, blinking caret", seconds, &o, &p, true);
    }
    Ok(())
}
