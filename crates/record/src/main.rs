//! `dropcast-record`: the recorder process. The CLI and the tray app start
//! it for each recording (and each GIF), so that they never load FFmpeg
//! themselves: a screenshot, an upload or the idle tray pays nothing for
//! recording. The conversation is in `dropcast_capture::recording`.
//!
//! - `dropcast-record record`: records as the request on stdin says;
//! - `dropcast-record gif MP4 GIF`: makes a GIF of a recording, and prints
//!   `{"frames": N}`.

use std::io::{BufRead, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dropcast_capture::recording::{
    self as protocol, Command, Failure, FailureKind, Recorded, Report, Request, Want,
};
use dropcast_video::audio::{Input, Mix, Source};
use dropcast_video::video::{Mp4Writer, VideoError, VideoSettings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["record"] => {
            let report = match record() {
                Ok(Some(recorded)) => Report::Done(recorded),
                // Told to stop before it started: nothing to say.
                Ok(None) => return ExitCode::SUCCESS,
                Err(failure) => Report::Failed(failure),
            };
            say(&report);
            ExitCode::SUCCESS
        }
        ["gif", mp4, gif] => {
            match dropcast_video::gif::mp4_to_gif(
                Path::new(mp4),
                Path::new(gif),
                Default::default(),
            ) {
                Ok(frames) => say(&serde_json::json!({ "frames": frames })),
                Err(e) => say(&Report::Failed(failed(e))),
            }
            ExitCode::SUCCESS
        }
        ["--version"] => {
            println!("dropcast-record {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "dropcast-record: started by dropcast and dropcast-app to record; \
                 usage: dropcast-record record | gif MP4 GIF"
            );
            ExitCode::from(2)
        }
    }
}

/// Writes one message to the front end.
fn say<T: serde::Serialize>(message: &T) {
    let mut out = std::io::stdout().lock();
    // A front end that went away reads nothing more: the file is what
    // counts. (Every report is JSON: its paths came in as JSON.)
    let line = protocol::line(message).unwrap_or_default();
    let _ = out.write_all(line.as_bytes());
    let _ = out.flush();
}

fn failure(kind: FailureKind, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
    }
}

fn failed(e: VideoError) -> Failure {
    failure(FailureKind::Failed, e.to_string())
}

fn capture_failed(e: dropcast_capture::CaptureError) -> Failure {
    failure(FailureKind::Capture, e.to_string())
}

/// What the front end says while recording, as flags the loop reads.
#[derive(Default)]
struct Controls {
    stop: AtomicBool,
    pause: AtomicBool,
}

/// Reads the commands after `Start` on a thread of its own; the end of
/// stdin (the front end went away) stops the recording.
fn follow(lines: std::io::Lines<std::io::BufReader<std::io::Stdin>>, controls: Arc<Controls>) {
    std::thread::spawn(move || {
        // Until the end of stdin (or a read error); a line that is not a
        // command is passed over.
        for line in lines.map_while(Result::ok) {
            match serde_json::from_str(&line) {
                Ok(Command::Pause) => controls.pause.store(true, Ordering::Relaxed),
                Ok(Command::Resume) => controls.pause.store(false, Ordering::Relaxed),
                Ok(Command::Stop) => break,
                Ok(Command::Start { .. }) | Err(_) => {}
            }
        }
        controls.stop.store(true, Ordering::Relaxed);
    });
}

/// The sound the request asks for, open and mixed; an error when a
/// source is required and missing, said before anything is recorded.
fn open_sound(sound: protocol::Sound) -> Result<Option<Mix>, Failure> {
    let mut sources = Vec::new();
    for (input, want) in [
        (Input::Microphone, sound.microphone),
        (Input::System, sound.system),
    ] {
        match want {
            Want::No => {}
            Want::Required => sources.push(
                Source::open(input).map_err(|e| failure(FailureKind::Capture, e.to_string()))?,
            ),
            Want::IfAny => match Source::open(input) {
                Ok(s) => sources.push(s),
                Err(e) => eprintln!("dropcast: recording without {}: {e}", input.name()),
            },
        }
    }
    Ok(Mix::new(sources))
}

/// The sound since the last call; a source that stops is said once and
/// left out (the video goes on, and the sound track as silence, so it
/// keeps pace and the file keeps growing).
fn take_sound(sound: &mut Option<Mix>) -> Vec<f32> {
    match sound {
        Some(mix) => mix.take(&mut |e, none_left| {
            if none_left {
                eprintln!("dropcast: {e}; the recording goes on without sound");
            } else {
                eprintln!("dropcast: {e}; the recording goes on without it");
            }
        }),
        None => Vec::new(),
    }
}

/// The whole conversation of `dropcast-record record`; `None` when the
/// front end went away (or said stop) before `Start`.
fn record() -> Result<Option<Recorded>, Failure> {
    let mut lines = std::io::BufReader::new(std::io::stdin()).lines();
    let request: Request = lines
        .next()
        .and_then(|l| l.ok())
        .and_then(|l| serde_json::from_str(&l).ok())
        .ok_or_else(|| {
            failure(
                FailureKind::Failed,
                "the recorder got no valid request: it is started by dropcast and dropcast-app \
                 (use `dropcast record`); if they started it, reinstall Dropcast so that they match",
            )
        })?;
    // The sound first: without a source asked for, nothing starts.
    let mut sound = open_sound(request.sound)?;
    let audio = sound.as_ref().map(|m| m.name().to_string());
    say(&Report::Ready {
        audio: audio.clone(),
    });
    let path = loop {
        match lines
            .next()
            .map(|l| l.ok().and_then(|l| serde_json::from_str(&l).ok()))
        {
            Some(Some(Command::Start { path })) => break path,
            Some(Some(Command::Stop)) | None => return Ok(None),
            Some(_) => {}
        }
    };
    let controls = Arc::new(Controls::default());
    follow(lines, controls.clone());
    record_into(&request, &path, &controls, &mut sound, audio).map(Some)
}

/// Records `request.target` into `path` (H.264 in fragmented MP4, playable
/// up to its last fragment at any moment) until `controls.stop` is set or
/// `request.max` of recorded time (pauses not counted) has passed.
fn record_into(
    request: &Request,
    path: &Path,
    controls: &Controls,
    sound: &mut Option<Mix>,
    audio: Option<String>,
) -> Result<Recorded, Failure> {
    let frames = dropcast_capture::stream::stream(
        request.target.clone(),
        request.fps,
        dropcast_capture::Options {
            cursor: request.cursor,
        },
    )
    .map_err(capture_failed)?;
    let mut writer: Option<Mp4Writer> = None;
    let mut size = (0, 0);
    let mut last_at = Duration::ZERO;
    let mut resized = 0u64;
    // Pauses, on the stream's clock: their time is taken off every
    // timestamp after them, and frames taken before the resume are left out.
    let mut paused_total = Duration::ZERO;
    let mut paused_since: Option<Duration> = None;
    let mut resumed_at = Duration::ZERO;
    let recorded_time = |paused_total: Duration, paused_since: Option<Duration>| {
        let now = frames.elapsed();
        now.saturating_sub(paused_total + paused_since.map_or(Duration::ZERO, |s| now - s))
    };
    loop {
        match (controls.pause.load(Ordering::Relaxed), paused_since) {
            (true, None) => paused_since = Some(frames.elapsed()),
            (false, Some(since)) => {
                resumed_at = frames.elapsed();
                paused_total += resumed_at - since;
                paused_since = None;
            }
            _ => {}
        }
        if controls.stop.load(Ordering::Relaxed)
            || request
                .max
                .is_some_and(|m| recorded_time(paused_total, paused_since) >= m)
        {
            break;
        }
        let next = frames.next(Duration::from_millis(50));
        if let Some(w) = &mut writer {
            // Sound heard while paused is left out, as the frames are.
            let samples = take_sound(sound);
            if paused_since.is_none() {
                let now = recorded_time(paused_total, None).as_millis() as i64;
                w.push_audio(&samples, now).map_err(failed)?;
            }
        }
        let (frame, at) = match next {
            Ok(Some(f)) => f,
            Ok(None) => continue,
            // The capture thread ended: `stop` below says why.
            Err(_) => break,
        };
        if paused_since.is_some() || at < resumed_at {
            continue;
        }
        let at = at.saturating_sub(paused_total);
        if request.max.is_some_and(|m| at >= m) {
            break;
        }
        let w = match &mut writer {
            Some(w) => w,
            None => {
                size = frame.image.dimensions();
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        failure(
                            FailureKind::LocalFile,
                            format!("cannot make {}: {e}", dir.display()),
                        )
                    })?;
                }
                let w = writer.insert(
                    Mp4Writer::create(
                        path,
                        size.0,
                        size.1,
                        VideoSettings {
                            fps: request.fps,
                            audio: sound.as_ref().map(|m| m.format()),
                            ..Default::default()
                        },
                    )
                    .map_err(failed)?,
                );
                say(&Report::Recording);
                w
            }
        };
        if frame.image.dimensions() != size {
            // A window changed size: the video keeps the first size.
            resized += 1;
            continue;
        }
        w.push(frame.image.as_raw(), at.as_millis() as i64)
            .map_err(failed)?;
        last_at = at;
    }
    let recorded = recorded_time(paused_total, paused_since);
    let end = request.max.map_or(recorded, |m| m.min(recorded));
    last_at = last_at.max(end);
    if let (Some(w), None) = (&mut writer, paused_since) {
        // What was heard since the last pass, up to the stop.
        let samples = take_sound(sound);
        w.push_audio(&samples, last_at.as_millis() as i64)
            .map_err(failed)?;
    }
    // A capture that failed (the window closed, say) fails the recording
    // only when nothing was recorded; else what was recorded is kept.
    let mut counts = match (frames.stop(), &writer) {
        (Ok(c), _) => c,
        (Err(e), None) => return Err(capture_failed(e)),
        (Err(e), Some(_)) => {
            eprintln!("dropcast: recording stopped early: {e}");
            dropcast_capture::stream::Counts::default()
        }
    };
    counts.dropped += resized;
    let writer = writer.ok_or_else(|| {
        failure(
            FailureKind::Capture,
            "stopped before the first frame was recorded: record for longer",
        )
    })?;
    let (width, height) = writer.size();
    let encoder = writer.encoder_name().to_string();
    let frames = writer
        .finish_at(last_at.as_millis() as i64)
        .map_err(failed)?;
    Ok(Recorded {
        path: path.to_path_buf(),
        width,
        height,
        frames,
        duration: last_at,
        counts,
        encoder,
        audio,
    })
}
