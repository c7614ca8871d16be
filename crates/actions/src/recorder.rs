//! Recordings, through the recorder process (`dropcast-record`, see
//! `dropcast_capture::recording`). FFmpeg is loaded there and only there,
//! when a recording starts: the front ends that call this stay small.
//!
//! The recorder is found next to the running program (installers put them
//! side by side), or at `DROPCAST_RECORDER`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use dropcast_capture::recording::{self as protocol, Command, FailureKind, Report, Request};
pub use dropcast_capture::recording::{Recorded, Sound, Want};
use dropcast_capture::Target;

use crate::{Error, Kind, Result};

/// How to record.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    pub fps: u32,
    pub cursor: bool,
    /// Stop by itself after this long.
    pub max: Option<Duration>,
    pub audio: Sound,
}

/// How a front end steers a recording running on another thread.
#[derive(Debug, Default)]
pub struct Controls {
    /// Set to stop (what was recorded is kept).
    pub stop: AtomicBool,
    /// While set, nothing is recorded and the time does not count: the
    /// video goes on from where it paused.
    pub pause: AtomicBool,
}

impl Controls {
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Pauses a running recording or resumes a paused one; answers
    /// whether it is paused now.
    pub fn toggle_pause(&self) -> bool {
        !self.pause.fetch_xor(true, Ordering::Relaxed)
    }
}

/// The recorder's program: `DROPCAST_RECORDER`, else `dropcast-record`
/// beside this program.
pub fn program() -> PathBuf {
    if let Some(p) = std::env::var_os("DROPCAST_RECORDER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let name = format!("{}{}", protocol::PROGRAM, std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// How long the recorder may take to start and open its sound.
const READY_WITHIN: Duration = Duration::from_secs(15);

/// A recorder process, started and with its sound open, waiting to be
/// told where to record. Dropped without [`Recorder::record`], it is
/// stopped and waited for.
pub struct Recorder {
    child: Child,
    stdin: ChildStdin,
    reports: Receiver<Report>,
    audio: Option<String>,
}

impl Recorder {
    /// Starts the recorder for `target` and waits until its sound sources
    /// are open: a microphone that is required and missing fails here,
    /// before anything is recorded or shared. Blocking.
    pub fn start(target: Target, options: &RecordOptions) -> Result<Recorder> {
        let request = Request {
            target,
            fps: options.fps,
            cursor: options.cursor,
            max: options.max,
            sound: options.audio,
        };
        let (child, stdin, reports) = spawn(&["record"])?;
        let mut recorder = Recorder {
            child,
            stdin,
            reports,
            audio: None,
        };
        recorder.send(&request)?;
        match recorder.next_report(Some(READY_WITHIN))? {
            Some(Report::Ready { audio }) => {
                recorder.audio = audio;
                Ok(recorder)
            }
            None => {
                recorder.stop_now();
                Err(Error::new(
                    Kind::Capture,
                    format!(
                        "the recorder did not get ready within {} s (is the sound server \
                         hanging? check PULSE_SERVER); record again, or without sound",
                        READY_WITHIN.as_secs()
                    ),
                ))
            }
            other => Err(recorder.unexpected(other)),
        }
    }

    /// The sound source being recorded, if any.
    pub fn audio(&self) -> Option<&str> {
        self.audio.as_deref()
    }

    /// Records into `path` until `controls.stop` is set or the request's
    /// `max` has passed. Blocking: run it on a thread of its own. When the
    /// recorder dies, what it wrote stays in `path` (fragmented MP4 plays
    /// up to its last fragment).
    pub fn record(mut self, path: &Path, controls: &Controls) -> Result<Recorded> {
        self.send(&Command::Start {
            path: path.to_path_buf(),
        })?;
        let mut paused = false;
        let mut stopped = false;
        loop {
            let wanted = controls.pause.load(Ordering::Relaxed);
            if wanted != paused {
                paused = wanted;
                // A recorder that went away says so below.
                let _ = self.send(if paused {
                    &Command::Pause
                } else {
                    &Command::Resume
                });
            }
            if !stopped && controls.stop.load(Ordering::Relaxed) {
                stopped = true;
                let _ = self.send(&Command::Stop);
            }
            match self.next_report(Some(Duration::from_millis(20)))? {
                None | Some(Report::Recording) => {}
                Some(Report::Done(recorded)) => {
                    let _ = self.child.wait();
                    return Ok(recorded);
                }
                other => return Err(self.unexpected(other)),
            }
        }
    }

    fn send<T: serde::Serialize>(&mut self, message: &T) -> Result<()> {
        let line = protocol::line(message).map_err(|e| {
            Error::new(
                Kind::LocalFile,
                format!("cannot hand the recording to the recorder ({e}): use a UTF-8 file name"),
            )
        })?;
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|()| self.stdin.flush())
            .map_err(|_| self.died())
    }

    /// Ends the recorder at once (nothing worth keeping is being written).
    fn stop_now(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The next report (none when `timeout` passed first); the recorder's
    /// failure as an error.
    fn next_report(&mut self, timeout: Option<Duration>) -> Result<Option<Report>> {
        let report = match timeout {
            None => self
                .reports
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
            Some(t) => self.reports.recv_timeout(t),
        };
        match report {
            Ok(Report::Failed(f)) => {
                let _ = self.child.wait();
                Err(Error::new(
                    match f.kind {
                        FailureKind::Capture => Kind::Capture,
                        FailureKind::LocalFile => Kind::LocalFile,
                        FailureKind::Failed => Kind::Failed,
                    },
                    f.message,
                ))
            }
            Ok(r) => Ok(Some(r)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.died()),
        }
    }

    /// The recorder ended without saying how: it crashed or was killed (or
    /// its output can no longer be read: then it is ended too, as what it
    /// wrote so far plays).
    fn died(&mut self) -> Error {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .map(|s| s.to_string())
            .unwrap_or_else(|e| e.to_string());
        Error::new(
            Kind::Failed,
            format!(
                "the recorder ({}) stopped unexpectedly ({status}); record again, and report \
                 it if it goes on",
                program().display()
            ),
        )
    }

    fn unexpected(&mut self, report: Option<Report>) -> Error {
        let _ = self.child.kill();
        let _ = self.child.wait();
        Error::new(
            Kind::Failed,
            format!(
                "the recorder said {report:?} out of turn: it is from another version of \
                 Dropcast; reinstall Dropcast so that dropcast and dropcast-record match"
            ),
        )
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        // Dropped before `record` (the link could not be made, say): no
        // recorder is left waiting, and none as a zombie. After `record`
        // it has been waited for already, and this does nothing.
        self.stop_now();
    }
}

/// Starts the recorder with `args`, its stdout read into a channel of
/// reports by a thread of its own (which ends with the recorder).
fn spawn(args: &[&str]) -> Result<(Child, ChildStdin, Receiver<Report>)> {
    let program = program();
    let mut command = std::process::Command::new(&program);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // A group of its own: Ctrl+C in a terminal reaches the front end,
    // which stops the recording (the recorder finishes its file), not the
    // recorder itself.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|e| {
        Error::new(
            Kind::Failed,
            format!(
                "cannot start the recorder {}: {e}; it is installed with Dropcast, beside \
                     the dropcast program: reinstall Dropcast, or set DROPCAST_RECORDER to \
                     where it is",
                program.display()
            ),
        )
    })?;
    let stdout = child.stdout.take().expect("piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("dropcast-recorder".into())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut bytes = Vec::new();
            loop {
                bytes.clear();
                match reader.read_until(b'\n', &mut bytes) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&bytes);
                let line = line.trim_end();
                match serde_json::from_str::<Report>(line) {
                    Ok(r) => {
                        if tx.send(r).is_err() {
                            break;
                        }
                    }
                    Err(_) => eprintln!("dropcast: the recorder said: {line}"),
                }
            }
        })
        .map_err(|e| Error::new(Kind::Failed, format!("cannot read the recorder: {e}")))?;
    let stdin = child.stdin.take().expect("piped");
    Ok((child, stdin, rx))
}

/// Records `target` into `path` (H.264 in fragmented MP4, playable up to
/// its last fragment at any moment) until `controls.stop` is set or
/// `options.max` of recorded time (pauses not counted) has passed.
/// Blocking: run it on a thread of its own.
pub fn record(
    target: Target,
    path: &Path,
    options: &RecordOptions,
    controls: &Controls,
) -> Result<Recorded> {
    Recorder::start(target, options)?.record(path, controls)
}

/// Makes an animated GIF of the recording at `mp4` (by the recorder, which
/// has the decoder); answers its frame count. Blocking.
pub fn mp4_to_gif_blocking(mp4: &Path, gif: &Path) -> Result<u64> {
    let cannot = |e: String| Error::new(Kind::Failed, format!("cannot make the GIF: {e}"));
    let (mp4, gif) = (
        mp4.to_str()
            .ok_or_else(|| cannot("its path is not UTF-8".into()))?,
        gif.to_str()
            .ok_or_else(|| cannot("its path is not UTF-8".into()))?,
    );
    let program = program();
    let out = std::process::Command::new(&program)
        .args(["gif", mp4, gif])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| {
            cannot(format!(
                "cannot start the recorder {}: {e}",
                program.display()
            ))
        })?;
    let said = String::from_utf8_lossy(&out.stdout);
    #[derive(serde::Deserialize)]
    struct Made {
        frames: u64,
    }
    if let Ok(made) = serde_json::from_str::<Made>(said.trim()) {
        return Ok(made.frames);
    }
    match serde_json::from_str::<Report>(said.trim()) {
        Ok(Report::Failed(f)) => Err(cannot(f.message)),
        _ => Err(cannot(format!("the recorder ended with {}", out.status))),
    }
}
