//! The link (or, later, the image) on the system clipboard, through arboard.
//!
//! On X11 and Wayland the clipboard's content lives in the process that
//! owns it: when that process exits, the content is gone. A short-lived
//! program (the CLI) therefore hands the text to a small detached process
//! of its own ([`hold_text`]) that serves it until another program takes
//! the clipboard over, as `xclip` does. macOS and Windows keep the content
//! themselves.

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ClipboardError {
    #[error(
        "no clipboard to copy to ({0}); run in a desktop session (DISPLAY or WAYLAND_DISPLAY set), \
         or use --copy none"
    )]
    Unavailable(String),
    #[error("the clipboard did not take the text within 2 s")]
    Timeout,
    #[error("starting the clipboard holder: {0}")]
    Spawn(std::io::Error),
}

fn open() -> Result<arboard::Clipboard, ClipboardError> {
    arboard::Clipboard::new().map_err(|e| ClipboardError::Unavailable(e.to_string()))
}

/// Whether this session has a clipboard at all (a display on Linux).
pub fn available() -> bool {
    if cfg!(any(target_os = "macos", windows)) {
        return true;
    }
    let set = |v: &str| std::env::var_os(v).is_some_and(|d| !d.is_empty());
    set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// Puts `text` on the clipboard so that it stays there after this process
/// exits. `exe` and `hold_arg` start this program in its holder role
/// (which must call [`hold_text`]).
pub fn copy_text_detached(text: &str, exe: &Path, hold_arg: &str) -> Result<(), ClipboardError> {
    if !available() {
        return Err(ClipboardError::Unavailable("no display".into()));
    }
    if cfg!(any(target_os = "macos", windows)) {
        return open()?
            .set_text(text)
            .map_err(|e| ClipboardError::Unavailable(e.to_string()));
    }
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(hold_arg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(ClipboardError::Spawn)?;
    std::io::Write::write_all(&mut child.stdin.take().expect("piped"), text.as_bytes())
        .map_err(ClipboardError::Spawn)?;
    // The holder serves the text from now on; wait until it does.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut cb = open()?;
    while Instant::now() < deadline {
        if cb.get_text().ok().as_deref() == Some(text) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    Err(ClipboardError::Timeout)
}

/// The holder: reads the text from stdin, takes the clipboard and serves it
/// until another program takes the clipboard over.
pub fn hold_text() -> Result<(), ClipboardError> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(ClipboardError::Spawn)?;
    let mut cb = open()?;
    #[cfg(target_os = "linux")]
    {
        use arboard::SetExtLinux;
        cb.set()
            .wait()
            .text(text)
            .map_err(|e| ClipboardError::Unavailable(e.to_string()))
    }
    #[cfg(not(target_os = "linux"))]
    cb.set_text(text)
        .map_err(|e| ClipboardError::Unavailable(e.to_string()))
}
