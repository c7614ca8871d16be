//! Talking to the resident `dropcast-app`: the Unix socket it listens on
//! and the one-line commands it takes, from a second `dropcast-app`, from
//! the windows process (`dropcast-ui`) and from tests.
//!
//! The windows process is short-lived, so it asks the resident one to hold
//! the clipboard (`copy`), to shoot the region the picker chose (`region`)
//! and to pick up changed settings (`reload`).

use std::path::PathBuf;

use dropcast_capture::Rect;
use serde::{Deserialize, Serialize};

/// What the resident app can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Capture and share (`capture screen|window|area`).
    Capture(Shot),
    /// The region picker chose this rectangle of the frozen screen.
    Region(Rect),
    /// The region picker was cancelled.
    PickCancelled,
    /// Put these links on the clipboard, one per line.
    Copy(Vec<String>),
    /// Open a window of the windows process.
    Open(Window),
    /// Settings (hotkeys) changed: apply them.
    Reload,
    /// Resume unfinished uploads.
    Resume,
    /// Start, pause or stop a screencast (`record screen|area|pause|stop`).
    Record(Rec),
    Quit,
}

/// What a `record` command asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rec {
    /// Record the screen, or stop the recording running (the hotkey).
    Screen,
    /// Pick a region with the region picker, then record it.
    Area,
    /// Pause the recording running, or resume it.
    Pause,
    Stop,
}

impl Rec {
    fn name(self) -> &'static str {
        match self {
            Rec::Screen => "screen",
            Rec::Area => "area",
            Rec::Pause => "pause",
            Rec::Stop => "stop",
        }
    }

    fn from_name(name: &str) -> Option<Rec> {
        [Rec::Screen, Rec::Area, Rec::Pause, Rec::Stop]
            .into_iter()
            .find(|r| r.name() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shot {
    Screen,
    Window,
    Area,
}

/// The windows of the windows process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Settings,
    History,
    Drop,
}

impl Window {
    pub fn name(self) -> &'static str {
        match self {
            Window::Settings => "settings",
            Window::History => "history",
            Window::Drop => "drop",
        }
    }

    pub fn from_name(name: &str) -> Option<Window> {
        [Window::Settings, Window::History, Window::Drop]
            .into_iter()
            .find(|w| w.name() == name)
    }
}

impl Shot {
    fn name(self) -> &'static str {
        match self {
            Shot::Screen => "screen",
            Shot::Window => "window",
            Shot::Area => "area",
        }
    }

    fn from_name(name: &str) -> Option<Shot> {
        [Shot::Screen, Shot::Window, Shot::Area]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

impl Command {
    /// The command as one line (without the newline).
    pub fn to_line(&self) -> String {
        match self {
            Command::Capture(s) => format!("capture {}", s.name()),
            Command::Region(r) => format!("region {} {} {} {}", r.x, r.y, r.width, r.height),
            Command::PickCancelled => "pick cancel".into(),
            Command::Copy(links) => format!("copy {}", links.join(" ")),
            Command::Open(w) => format!("open {}", w.name()),
            Command::Reload => "reload".into(),
            Command::Resume => "resume".into(),
            Command::Record(r) => format!("record {}", r.name()),
            Command::Quit => "quit".into(),
        }
    }

    pub fn from_line(line: &str) -> Option<Command> {
        let words: Vec<&str> = line.split_whitespace().collect();
        Some(match words.as_slice() {
            ["capture", what] => Command::Capture(Shot::from_name(what)?),
            ["region", x, y, w, h] => {
                let rect = Rect::new(
                    x.parse().ok()?,
                    y.parse().ok()?,
                    w.parse().ok()?,
                    h.parse().ok()?,
                );
                if rect.width == 0 || rect.height == 0 {
                    return None;
                }
                Command::Region(rect)
            }
            ["pick", "cancel"] => Command::PickCancelled,
            ["copy", links @ ..] if !links.is_empty() && links.iter().all(|l| is_plain_link(l)) => {
                Command::Copy(links.iter().map(|l| l.to_string()).collect())
            }
            ["open", w] => Command::Open(Window::from_name(w)?),
            ["reload"] => Command::Reload,
            ["resume"] => Command::Resume,
            ["record", what] => Command::Record(Rec::from_name(what)?),
            ["quit"] => Command::Quit,
            _ => return None,
        })
    }

    /// The command as `dropcast-app` takes it on its command line
    /// (`--capture area`), for those that a user would type.
    pub fn from_args(args: &[&str]) -> Option<Command> {
        Some(match args {
            ["--capture", what] => Command::Capture(Shot::from_name(what)?),
            ["--open", w] => Command::Open(Window::from_name(w)?),
            ["--resume"] => Command::Resume,
            ["--record", what] => Command::Record(Rec::from_name(what)?),
            ["--quit"] => Command::Quit,
            _ => return None,
        })
    }
}

/// Where the resident app listens: one socket per user in the runtime dir
/// (private to the user), else in the user's own data dir, never in a
/// shared one like /tmp.
pub fn socket_path() -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let dir = dropcast_client::settings::Dirs::for_user()
                .ok()?
                .data
                .join("run");
            std::fs::create_dir_all(&dir).ok()?;
            Some(dir)
        })
        .unwrap_or_else(std::env::temp_dir);
    let user = std::env::var("USER").unwrap_or_default();
    dir.join(format!("dropcast-app-{user}.sock"))
}

/// Where the resident app says which hotkeys it holds (JSON, a list of
/// [`HotkeyStatus`], rewritten whenever it registers them), for the
/// settings window to show.
pub fn hotkey_status_path() -> PathBuf {
    socket_path().with_extension("hotkeys.json")
}

/// One action's hotkey and whether the resident app holds it (else why
/// not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct HotkeyStatus {
    pub action: String,
    pub keys: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// Where the region picker's frozen screen is put: `pick.json` (a
/// [`PickSetup`]) and one PNG per monitor.
pub fn pick_dir() -> PathBuf {
    socket_path().with_extension("pick")
}

/// What the region picker shows, in desktop pixels: each monitor with its
/// frozen picture, and the windows (front-most first) that a click or
/// Space picks. Written by the resident app, read by the windows process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PickSetup {
    pub monitors: Vec<PickMonitor>,
    pub windows: Vec<PickWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PickMonitor {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub scale_factor: f32,
    /// The PNG's file name in [`pick_dir`].
    pub image: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct PickWindow {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub title: String,
}

/// A link that can travel in a `copy` line: http(s), no whitespace or
/// control characters (a newline would start another command).
pub fn is_plain_link(link: &str) -> bool {
    (link.starts_with("http://") || link.starts_with("https://"))
        && !link.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Sends one command; an error means no resident app is running, or a
/// command that cannot be sent (a link that is not a plain http(s) URL).
#[cfg(unix)]
pub async fn send(command: &Command) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    if let Command::Copy(links) = command {
        if let Some(bad) = links.iter().find(|l| !is_plain_link(l)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{bad:?} is not a plain http(s) link"),
            ));
        }
    }
    let mut stream = tokio::net::UnixStream::connect(socket_path()).await?;
    stream
        .write_all(format!("{}\n", command.to_line()).as_bytes())
        .await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_survives_the_trip_through_a_line() {
        let all = [
            Command::Capture(Shot::Screen),
            Command::Capture(Shot::Window),
            Command::Capture(Shot::Area),
            Command::Region(Rect::new(-10, 20, 300, 200)),
            Command::PickCancelled,
            Command::Copy(vec!["http://a/1".into(), "http://a/2".into()]),
            Command::Open(Window::Settings),
            Command::Open(Window::History),
            Command::Open(Window::Drop),
            Command::Reload,
            Command::Resume,
            Command::Record(Rec::Screen),
            Command::Record(Rec::Area),
            Command::Record(Rec::Pause),
            Command::Record(Rec::Stop),
            Command::Quit,
        ];
        for c in all {
            assert_eq!(Command::from_line(&c.to_line()), Some(c));
        }
    }

    #[test]
    fn only_plain_http_links_travel_so_a_link_cannot_smuggle_a_command() {
        assert!(is_plain_link("https://dc.example/abc"));
        assert!(!is_plain_link("http://x\ncapture screen"));
        assert!(!is_plain_link("http://x y"));
        assert!(!is_plain_link("file:///etc/passwd"));
        let smuggled = Command::Copy(vec!["http://x\ncapture screen".into()]);
        let refused = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(send(&smuggled));
        assert_eq!(
            refused.unwrap_err().kind(),
            std::io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn malformed_lines_and_arguments_are_refused() {
        for line in [
            "",
            "copy file:///etc/passwd",
            "capture",
            "capture everything",
            "region 1 2 0 5",
            "region a b c d",
            "copy",
            "open nothing",
            "record everything",
        ] {
            assert_eq!(Command::from_line(line), None, "{line:?}");
        }
        assert_eq!(
            Command::from_args(&["--capture", "area"]),
            Some(Command::Capture(Shot::Area))
        );
        assert_eq!(Command::from_args(&["--capture"]), None);
        assert_eq!(
            Command::from_args(&["--record", "stop"]),
            Some(Command::Record(Rec::Stop))
        );
    }
}
