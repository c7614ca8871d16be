//! The one-line protocol of the resident `dropcast-app`: what a second
//! `dropcast-app`, the windows process (`dropcast-ui`) and tests may ask
//! it, one command a line on its socket. Kept apart from the socket and
//! the app (`dropcast-actions`) so it has no dependency at all: the fuzzer
//! builds it alone.
//!
//! A line that does not read as a command is refused whole ([`Command::from_line`]
//! is `None`), and every command reads back from the line it writes
//! ([`Command::to_line`]).

/// What the resident app can be asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Capture and share (`capture screen|window|area`).
    Capture(Shot),
    /// The region picker chose this rectangle of the frozen screen.
    Region(Region),
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
                let region = Region {
                    x: x.parse().ok()?,
                    y: y.parse().ok()?,
                    width: w.parse().ok()?,
                    height: h.parse().ok()?,
                };
                if region.width == 0 || region.height == 0 {
                    return None;
                }
                Command::Region(region)
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

/// A rectangle of the desktop, in physical pixels and global coordinates,
/// as the region picker chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// A link that can travel in a `copy` line: http(s), no whitespace or
/// control characters (a newline would start another command).
pub fn is_plain_link(link: &str) -> bool {
    (link.starts_with("http://") || link.starts_with("https://"))
        && !link.chars().any(|c| c.is_whitespace() || c.is_control())
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
            Command::Region(Region {
                x: -10,
                y: 20,
                width: 300,
                height: 200,
            }),
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
