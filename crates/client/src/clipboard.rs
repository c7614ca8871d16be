//! The link, or the image, on the system clipboard, through arboard.
//!
//! On X11 and Wayland the clipboard's content lives in the process that
//! owns it: when that process exits, the content is gone. A short-lived
//! program (the CLI) therefore hands the text to a small detached process
//! of its own ([`hold`]) that serves it until another program takes
//! the clipboard over, as `xclip` does, or until its display goes away
//! (the X server or compositor exits, the session ends), whichever comes
//! first. macOS and Windows keep the content themselves.

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

/// Puts `content` on the clipboard so that it stays there after this
/// process exits. `exe` and `hold_arg` start this program in its holder
/// role (which must call [`hold`]).
pub fn copy_detached(content: Content, exe: &Path, hold_arg: &str) -> Result<(), ClipboardError> {
    if !available() {
        return Err(ClipboardError::Unavailable("no display".into()));
    }
    if cfg!(any(target_os = "macos", windows)) {
        return content.set(&mut open()?);
    }
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(hold_arg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(ClipboardError::Spawn)?;
    std::io::Write::write_all(&mut child.stdin.take().expect("piped"), &content.encode())
        .map_err(ClipboardError::Spawn)?;
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

/// [`copy_detached`] for text.
pub fn copy_text_detached(text: &str, exe: &Path, hold_arg: &str) -> Result<(), ClipboardError> {
    copy_detached(Content::Text(text.to_string()), exe, hold_arg)
}

/// The holder: reads the content from stdin, takes the clipboard and serves
/// it until another program takes the clipboard over, or its display goes
/// away.
pub fn hold() -> Result<(), ClipboardError> {
    if let Some(display) = Display::from_env() {
        std::thread::spawn(move || {
            // Serving the clipboard blocks in the display library, which
            // does not notice a server that is gone: look once a second.
            while display.is_there() {
                std::thread::sleep(Duration::from_secs(1));
            }
            std::process::exit(0);
        });
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(ClipboardError::Spawn)?;
    let content = Content::decode(bytes)
        .ok_or_else(|| ClipboardError::Unavailable("the holder got no valid content".into()))?;
    content.set(&mut open()?)
}

/// Where this process's display listens: the X server's sockets, else
/// the Wayland compositor's.
#[derive(Debug, PartialEq)]
enum Display {
    /// A local X server, display number N: `/tmp/.X11-unix/XN` and, on
    /// Linux, the abstract socket of the same name.
    X11Local(String),
    /// An X server over TCP (`host:N` is port 6000 + N).
    X11Tcp(String, u16),
    /// A Wayland compositor's socket.
    Wayland(std::path::PathBuf),
}

impl Display {
    fn from_env() -> Option<Display> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(display) = var("DISPLAY") {
            return Display::parse_x11(&display);
        }
        let wayland = std::path::PathBuf::from(var("WAYLAND_DISPLAY")?);
        if wayland.is_absolute() {
            Some(Display::Wayland(wayland))
        } else {
            Some(Display::Wayland(
                std::path::PathBuf::from(var("XDG_RUNTIME_DIR")?).join(wayland),
            ))
        }
    }

    /// `:0`, `:1.0`, `unix:2`, `host:3.0`; a path before the colon (as
    /// macOS's launchd gives) is the socket itself.
    fn parse_x11(display: &str) -> Option<Display> {
        let (host, rest) = display.rsplit_once(':')?;
        let number = rest.split('.').next()?;
        let n: u16 = number.parse().ok()?;
        match host {
            "" | "unix" => Some(Display::X11Local(format!("/tmp/.X11-unix/X{n}"))),
            path if path.starts_with('/') => Some(Display::X11Local(path.to_string())),
            host => Some(Display::X11Tcp(host.to_string(), 6000u16.checked_add(n)?)),
        }
    }

    /// Whether something still listens there (a connection is opened and
    /// closed at once).
    fn is_there(&self) -> bool {
        match self {
            #[cfg(unix)]
            Display::X11Local(path) => {
                use std::os::unix::net::UnixStream;
                #[cfg(target_os = "linux")]
                {
                    use std::os::linux::net::SocketAddrExt;
                    let abstract_socket = std::os::unix::net::SocketAddr::from_abstract_name(path)
                        .and_then(|a| UnixStream::connect_addr(&a));
                    if abstract_socket.is_ok() {
                        return true;
                    }
                }
                UnixStream::connect(path).is_ok()
            }
            #[cfg(unix)]
            Display::Wayland(path) => std::os::unix::net::UnixStream::connect(path).is_ok(),
            #[cfg(not(unix))]
            Display::X11Local(_) | Display::Wayland(_) => true,
            Display::X11Tcp(host, port) => {
                use std::net::ToSocketAddrs;
                (host.as_str(), *port)
                    .to_socket_addrs()
                    .is_ok_and(|mut addrs| {
                        addrs.any(|a| {
                            std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok()
                        })
                    })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_are_found_where_their_names_say() {
        let local = |p: &str| Some(Display::X11Local(p.to_string()));
        assert_eq!(Display::parse_x11(":0"), local("/tmp/.X11-unix/X0"));
        assert_eq!(Display::parse_x11(":12.0"), local("/tmp/.X11-unix/X12"));
        assert_eq!(Display::parse_x11("unix:3"), local("/tmp/.X11-unix/X3"));
        assert_eq!(
            Display::parse_x11("/private/tmp/launch-x/org.xquartz:0"),
            local("/private/tmp/launch-x/org.xquartz")
        );
        assert_eq!(
            Display::parse_x11("box:2.0"),
            Some(Display::X11Tcp("box".into(), 6002))
        );
        assert_eq!(Display::parse_x11("nonsense"), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_display_whose_socket_is_gone_is_not_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wayland-9");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let display = Display::Wayland(path.clone());
        assert!(display.is_there());
        drop(listener);
        std::fs::remove_file(&path).unwrap();
        assert!(!display.is_there());
    }

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
