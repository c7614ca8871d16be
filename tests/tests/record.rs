//! `dropcast record` for real: under Xvfb with moving content (ffplay
//! playing FFmpeg's testsrc2 at 60 fps, faster than we capture, so every
//! captured frame is new), checked with ffprobe.

use dropcast_tests::*;
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

/// ffprobe's view of a video file's first stream and its container.
fn probe(path: &Path) -> Value {
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,width,height,pix_fmt,nb_read_frames,color_primaries,color_transfer,color_space",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe is installed (package ffmpeg)");
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Recordings run one at a time: each needs the cores to keep its rate.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn moving_content(x: &Xvfb) -> Running {
    let child = std::process::Command::new("ffplay")
        .args([
            "-loglevel",
            "error",
            "-an",
            "-noborder",
            "-left",
            "0",
            "-top",
            "0",
            "-x",
            "640",
            "-y",
            "480",
            "-f",
            "lavfi",
            "testsrc2=size=640x480:rate=60",
        ])
        .env("DISPLAY", &x.display)
        .env("SDL_AUDIODRIVER", "dummy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffplay is installed (package ffmpeg)");
    let running = Running(child);
    x.wait_for_window_named("testsrc2");
    running
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

#[test]
fn a_recording_is_h264_in_fragmented_mp4_with_the_frames_and_duration_asked_for() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let x = Xvfb::start(640, 480);
    let _content = moving_content(&x);
    let home = Home::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("clip.mp4");
    let done = home.json(
        &[
            "record",
            "--duration",
            "3",
            "--fps",
            "30",
            "--no-upload",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
        "",
        &[("DISPLAY", x.display.as_str())],
    );
    let info = probe(&out);
    let stream = &info["streams"][0];
    assert_eq!(stream["codec_name"], "h264", "{info}");
    assert_eq!(
        (stream["width"].as_u64(), stream["height"].as_u64()),
        (Some(640), Some(480))
    );
    assert_eq!(stream["pix_fmt"], "yuv420p");
    assert_eq!(stream["color_primaries"], "bt709", "{info}");
    assert_eq!(stream["color_space"], "bt709", "{info}");
    let frames: i64 = stream["nb_read_frames"].as_str().unwrap().parse().unwrap();
    assert!(
        (87..=93).contains(&frames),
        "90 +- 3 frames: {frames} ({done})"
    );
    let seconds: f64 = info["format"]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((seconds - 3.0).abs() <= 0.2, "3 s +- 0.2: {seconds}");
    assert_eq!(done["dropped"], 0, "{done}");
    // Fragmented: an empty moov up front, then one fragment per second.
    let bytes = std::fs::read(&out).unwrap();
    assert!(count(&bytes, b"mvex") == 1, "movie extends box");
    assert!(
        count(&bytes, b"moof") >= 3,
        "{} fragments",
        count(&bytes, b"moof")
    );
}

#[test]
fn a_killed_recording_plays_up_to_its_last_fragment_and_a_finished_one_is_shared() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let x = Xvfb::start(640, 480);
    let _content = moving_content(&x);
    let server = Server::start(&workspace_bin("dropcast-server"), &[]);
    let home = Home::new();
    let file_store = ("DROPCAST_CREDENTIALS", "file");
    assert!(home
        .run(
            &["login", "--server", &server.url, "--token-stdin"],
            &server.owner_token,
            &[file_store]
        )
        .status
        .success());
    let dir = tempfile::tempdir().unwrap();

    // kill -9 after about 3 s: what was recorded so far plays.
    let killed = dir.path().join("killed.mp4");
    let mut cmd = home.command("dropcast");
    cmd.args([
        "record",
        "--no-upload",
        "--fps",
        "30",
        "--out",
        killed.to_str().unwrap(),
    ])
    .env("DISPLAY", &x.display)
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    std::thread::sleep(Duration::from_millis(3300));
    child.kill().unwrap();
    child.wait().unwrap();
    let info = probe(&killed);
    let frames: i64 = info["streams"][0]["nb_read_frames"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        frames >= 30,
        "at least the first second's fragment plays: {frames} frames"
    );

    // A finished recording is shared: its link serves the video.
    let done = home.json(
        &["record", "--duration", "2", "--json"],
        "",
        &[("DISPLAY", x.display.as_str()), file_store],
    );
    let url = done["url"].as_str().unwrap();
    let raw = reqwest::blocking::get(format!("{url}/raw")).unwrap();
    assert_eq!(raw.headers()["content-type"], "video/mp4");
    let shared = dir.path().join("shared.mp4");
    std::fs::write(&shared, raw.bytes().unwrap()).unwrap();
    let info = probe(&shared);
    assert_eq!(info["streams"][0]["codec_name"], "h264");
    let page = reqwest::blocking::get(url).unwrap().text().unwrap();
    assert!(page.contains("<video"), "the share page plays it");
}
