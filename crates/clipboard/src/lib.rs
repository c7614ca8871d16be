//! The link, or the image, on the system clipboard, through arboard.
//!
//! On X11 and Wayland the clipboard's content lives in the process that
//! owns it: when that process exits, the content is gone. A short-lived
//! program (the CLI) therefore hands the text to a small detached process,
//! the holder (`dropcast-clipboard`, which runs [`hold`]), that serves it
//! until another program takes the clipboard over, as `xclip` does, or
//! until its display goes away (the X server exits, the session ends),
//! whichever comes first. macOS and Windows keep the content themselves.
//!
//! On Wayland the clipboard is reached through the wlroots data-control
//! protocol (arboard's `wayland-data-control`), which sway, Hyprland and
//! KDE offer, so the holder needs no window of its own.
//!
//! The holder is found next to the running program (installers put them
//! side by side), or at `DROPCAST_CLIPBOARD_HOLDER`.

use std::io::Read;
use std::path::PathBuf;
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
    #[error(
        "starting the clipboard holder {program}: {error}; it is installed with Dropcast, beside \
         the dropcast program: reinstall Dropcast, or set DROPCAST_CLIPBOARD_HOLDER to where it is",
        program = .0.display(),
        error = .1
    )]
    Spawn(PathBuf, std::io::Error),
    #[error("the clipboard holder could not read what to hold: {0}")]
    Read(std::io::Error),
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

/// What the clipboard holds: text, or an RGBA image.
pub enum Content {
    Text(String),
    Image {
        width: u32,
        height: u32,
        rgba: Vec<u8>,
    },
}

impl Content {
    /// The holder's stdin: a header line, then the payload.
    fn encode(&self) -> Vec<u8> {
        match self {
            Content::Text(text) => [b"text\n".as_slice(), text.as_bytes()].concat(),
            Content::Image {
                width,
                height,
                rgba,
            } => [format!("image {width} {height}\n").as_bytes(), rgba].concat(),
        }
    }

    fn decode(bytes: Vec<u8>) -> Option<Content> {
        let newline = bytes.iter().position(|b| *b == b'\n')?;
        let header = std::str::from_utf8(&bytes[..newline]).ok()?.to_string();
        let payload = bytes[newline + 1..].to_vec();
        let words: Vec<&str> = header.split(' ').collect();
        match words.as_slice() {
            ["text"] => String::from_utf8(payload).ok().map(Content::Text),
            ["image", w, h] => {
                let (width, height) = (w.parse().ok()?, h.parse().ok()?);
                (payload.len() as u64 == width as u64 * height as u64 * 4).then_some(
                    Content::Image {
                        width,
                        height,
                        rgba: payload,
                    },
                )
            }
            _ => None,
        }
    }

    fn set(self, cb: &mut arboard::Clipboard) -> Result<(), ClipboardError> {
        let unavailable = |e: arboard::Error| ClipboardError::Unavailable(e.to_string());
        #[cfg(target_os = "linux")]
        {
            use arboard::SetExtLinux;
            match self {
                Content::Text(text) => cb.set().wait().text(text).map_err(unavailable),
                image => cb
                    .set()
                    .wait()
                    .image(image.image_data())
                    .map_err(unavailable),
            }
        }
        #[cfg(not(target_os = "linux"))]
        match self {
            Content::Text(text) => cb.set_text(text).map_err(unavailable),
            image => cb.set_image(image.image_data()).map_err(unavailable),
        }
    }

    fn image_data(self) -> arboard::ImageData<'static> {
        match self {
            Content::Image {
                width,
                height,
                rgba,
            } => arboard::ImageData {
                width: width as usize,
                height: height as usize,
                bytes: rgba.into(),
            },
            Content::Text(_) => unreachable!("text is set as text"),
        }
    }

    /// Whether the clipboard now holds this content.
    fn is_on(&self, cb: &mut arboard::Clipboard) -> bool {
        match self {
            Content::Text(text) => cb.get_text().ok().as_deref() == Some(text.as_str()),
            Content::Image { width, height, .. } => cb
                .get_image()
                .is_ok_and(|i| (i.width, i.height) == (*width as usize, *height as usize)),
        }
    }
}

/// The name of the holder's program.
pub const HOLDER: &str = "dropcast-clipboard";

/// The holder's program: `DROPCAST_CLIPBOARD_HOLDER`, else
/// `dropcast-clipboard` beside this program.
pub fn holder_program() -> PathBuf {
    if let Some(p) = std::env::var_os("DROPCAST_CLIPBOARD_HOLDER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let name = format!("{HOLDER}{}", std::env::consts::EXE_SUFFIX);
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(&name)))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Puts `content` on the clipboard so that it stays there after this
/// process exits: handed to the holder ([`holder_program`]) where the
/// clipboard needs one.
pub fn copy_detached(content: Content) -> Result<(), ClipboardError> {
    if !available() {
        return Err(ClipboardError::Unavailable("no display".into()));
    }
    if cfg!(any(target_os = "macos", windows)) {
        return content.set(&mut open()?);
    }
    let holder = holder_program();
    let mut cmd = std::process::Command::new(&holder);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .spawn()
        .map_err(|e| ClipboardError::Spawn(holder.clone(), e))?;
    std::io::Write::write_all(&mut child.stdin.take().expect("piped"), &content.encode())
        .map_err(|e| ClipboardError::Spawn(holder.clone(), e))?;
    // The holder serves the content from now on; wait until it does.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut cb = open()?;
    while Instant::now() < deadline {
        if content.is_on(&mut cb) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    Err(ClipboardError::Timeout)
}

/// Puts `content` on the clipboard from this process, which must live on
/// to serve it (the tray app does).
pub fn copy_here(content: Content) -> Result<(), ClipboardError> {
    static HERE: std::sync::OnceLock<std::sync::Mutex<arboard::Clipboard>> =
        std::sync::OnceLock::new();
    if !available() {
        return Err(ClipboardError::Unavailable("no display".into()));
    }
    let cb = match HERE.get() {
        Some(cb) => cb,
        None => {
            let _ = HERE.set(std::sync::Mutex::new(open()?));
            HERE.get().expect("just set")
        }
    };
    let mut cb = cb.lock().expect("clipboard");
    let unavailable = |e: arboard::Error| ClipboardError::Unavailable(e.to_string());
    match content {
        Content::Text(text) => cb.set_text(text).map_err(unavailable),
        image => cb.set_image(image.image_data()).map_err(unavailable),
    }
}

/// The holder: reads the content from stdin, takes the clipboard and serves
/// it until another program takes the clipboard over, or its display goes
/// away.
pub fn hold() -> Result<(), ClipboardError> {
    end_with_the_display();
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(ClipboardError::Read)?;
    let content = Content::decode(bytes)
        .ok_or_else(|| ClipboardError::Unavailable("the holder got no valid content".into()))?;
    content.set(&mut open()?)
}

/// Exits this process when the X server it serves goes away (it exited,
/// or the session ended). Serving the clipboard blocks in arboard, which
/// does not notice; a connection of our own does: the server closes it,
/// and the read that waits on it ends. A new server that later takes the
/// same display number is a different server, and changes nothing.
fn end_with_the_display() {
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Ok((connection, _)) = x11rb::connect(None) {
        std::thread::spawn(move || {
            use x11rb::connection::Connection;
            // No events were asked for: this waits until the connection
            // breaks.
            while connection.wait_for_event().is_ok() {}
            std::process::exit(0);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_reads_back_what_it_was_given() {
        let text = Content::Text("http://x/1\nhttp://x/2".into());
        assert!(
            matches!(Content::decode(text.encode()), Some(Content::Text(t)) if t == "http://x/1\nhttp://x/2")
        );
        let image = Content::Image {
            width: 2,
            height: 1,
            rgba: vec![1, 2, 3, 4, 5, 6, 7, 8],
        };
        assert!(matches!(
            Content::decode(image.encode()),
            Some(Content::Image { width: 2, height: 1, rgba }) if rgba.len() == 8
        ));
        assert!(Content::decode(b"image 5 5\nshort".to_vec()).is_none());
        assert!(Content::decode(b"nonsense".to_vec()).is_none());
    }
}
