//! What the recorder process (`dropcast-record`) is asked and what it
//! answers: JSON, one message a line.
//!
//! Recording is the only thing that needs FFmpeg, so it runs in a process
//! of its own: the CLI and the tray app start without loading those
//! libraries, and start the recorder when a recording starts. The
//! conversation, on the recorder's stdin and stdout:
//!
//! 1. the front end writes a [`Request`]; the recorder opens the sound
//!    sources it asks for and answers [`Report::Ready`] (or
//!    [`Report::Failed`]: no microphone, say, before any link is given
//!    out);
//! 2. the front end writes [`Command::Start`] with the file to write, then
//!    [`Command::Pause`], [`Command::Resume`] and [`Command::Stop`] as the
//!    user asks; the end of its stdin (the front end went away) stops too;
//! 3. the recorder answers [`Report::Recording`] at the first frame, then
//!    [`Report::Done`] or [`Report::Failed`]. The file is fragmented MP4:
//!    whatever happens to the recorder, what it wrote plays up to its last
//!    fragment.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stream::Counts;
use crate::Target;

/// The name of the recorder's program.
pub const PROGRAM: &str = "dropcast-record";

/// What to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub target: Target,
    pub fps: u32,
    pub cursor: bool,
    /// Stop by itself after this much recorded time (pauses not counted).
    pub max: Option<Duration>,
    pub sound: Sound,
}

/// Which sound a recording carries: the default microphone, what the
/// computer plays (the default output's monitor), both mixed, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Sound {
    pub microphone: Want,
    pub system: Want,
}

/// How much a sound source is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    #[default]
    No,
    /// When there is one (a setting: the hotkey still records without).
    IfAny,
    /// Asked for by name: no recording without it.
    Required,
}

/// From the front end, after the [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Record into this file (made with its folder).
    Start {
        path: PathBuf,
    },
    Pause,
    Resume,
    /// Stop; what was recorded is kept.
    Stop,
}

/// From the recorder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The sound sources are open (`audio` names them); waiting for
    /// [`Command::Start`].
    Ready {
        audio: Option<String>,
    },
    /// The first frame is in the file.
    Recording,
    Done(Recorded),
    Failed(Failure),
}

/// What a recording made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    /// Frames in the file.
    pub frames: u64,
    /// From the first frame to the stop.
    pub duration: Duration,
    pub counts: Counts,
    /// The H.264 encoder used (hardware when there is one).
    pub encoder: String,
    /// The sound recorded ("microphone", "system sound", or both), if any.
    pub audio: Option<String>,
}

/// Why a recording did not happen or did not finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    /// Says what to do.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// Nothing to capture or record from (no display, no microphone).
    Capture,
    /// The file cannot be written.
    LocalFile,
    Failed,
}

/// One message as its line (with the newline); an error for a path that
/// is not UTF-8 (JSON has no way to say it).
pub fn line<T: Serialize>(message: &T) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string(message)?;
    s.push('\n');
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_reads_back_from_its_line() {
        let request = Request {
            target: Target::Region(crate::Rect::new(1, 2, 3, 4)),
            fps: 30,
            cursor: true,
            max: Some(Duration::from_millis(1500)),
            sound: Sound {
                microphone: Want::IfAny,
                system: Want::Required,
            },
        };
        let back: Request = serde_json::from_str(&line(&request).unwrap()).unwrap();
        assert_eq!(back, request);
        for c in [
            Command::Start {
                path: "/tmp/a.mp4".into(),
            },
            Command::Pause,
            Command::Stop,
        ] {
            assert_eq!(
                serde_json::from_str::<Command>(&line(&c).unwrap()).unwrap(),
                c
            );
        }
        let failed = Report::Failed(Failure {
            kind: FailureKind::Capture,
            message: "no microphone".into(),
        });
        assert_eq!(
            serde_json::from_str::<Report>(&line(&failed).unwrap()).unwrap(),
            failed
        );
    }
}
