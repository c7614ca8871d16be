//! Talking to the resident `dropcast-app`: the Unix socket it listens on
//! and the one-line commands it takes, from a second `dropcast-app`, from
//! the windows process (`dropcast-ui`) and from tests.
//!
//! The windows process is short-lived, so it asks the resident one to hold
//! the clipboard (`copy`), to shoot the region the picker chose (`region`)
//! and to pick up changed settings (`reload`).

use std::path::{Path, PathBuf};

pub use dropcast_resident::{is_plain_link, Command, Rec, Region, Shot, Window};
use serde::{Deserialize, Serialize};

/// Where the resident app listens: one socket per user in the runtime dir
/// (private to the user), else in the user's own data dir, never in a
/// shared one like /tmp. On Windows the socket is a named pipe of the
/// file's name, and the file's folder holds the app's other files.
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
    let file = format!("dropcast-app-{}.sock", user_name());
    let path = dir.join(&file);
    // A Unix socket's path has room for 103 bytes on macOS (107 on
    // Linux); the temp dir is per user there, and short.
    if path.as_os_str().len() > 100 {
        return std::env::temp_dir().join(file);
    }
    path
}

/// The user's login name, for file and pipe names: `USER` on Unix,
/// `USERNAME` on Windows; services and cron may set neither.
fn user_name() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "user".into())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
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
    /// The keys the settings ask for.
    pub keys: String,
    pub ok: bool,
    pub error: Option<String>,
    /// The keys the desktop bound the action to, in its own words, where
    /// the desktop chooses them (the GlobalShortcuts portal): the asked-for
    /// keys are only a preference there, and the user may change them in
    /// the desktop's settings.
    pub desktop: Option<String>,
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
    /// The rectangles are in logical units (Wayland), not physical
    /// pixels: a monitor's window is then its rectangle as it is, else
    /// its rectangle divided by its scale factor.
    pub logical: bool,
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

/// Sends one command; an error means no resident app is running, or a
/// command that cannot be sent (a link that is not a plain http(s) URL).
pub async fn send(command: &Command) -> std::io::Result<()> {
    send_to(&socket_path(), command).await
}

async fn send_to(socket: &Path, command: &Command) -> std::io::Result<()> {
    use interprocess::local_socket::tokio::{prelude::*, Stream};
    use tokio::io::AsyncWriteExt;
    if let Command::Copy(links) = command {
        if let Some(bad) = links.iter().find(|l| !is_plain_link(l)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("{bad:?} is not a plain http(s) link"),
            ));
        }
    }
    let mut stream = Stream::connect(name_of(socket)?).await?;
    stream
        .write_all(format!("{}\n", command.to_line()).as_bytes())
        .await?;
    stream.shutdown().await
}

/// The resident app's end of the socket, with the lock that makes it the
/// only one, both held for its life.
pub struct Listening {
    listener: interprocess::local_socket::tokio::Listener,
    _lock: std::fs::File,
}

impl Listening {
    /// The next connection: a later instance, the windows process or a
    /// test, sending command lines.
    pub async fn accept(&self) -> std::io::Result<interprocess::local_socket::tokio::Stream> {
        use interprocess::local_socket::traits::tokio::Listener;
        self.listener.accept().await
    }
}

/// Becomes the resident app, or `None` when another one is. An error
/// names the lock file or the socket it concerns.
///
/// Who is first is decided by a lock on a file beside the socket, which
/// the system lets go when its holder exits however it exits: two apps
/// started at once never both listen, and a socket file left by a crash
/// is removed by the next holder, never by a second comer.
pub fn claim() -> std::io::Result<Option<Listening>> {
    claim_at(&socket_path())
}

fn claim_at(socket: &Path) -> std::io::Result<Option<Listening>> {
    use interprocess::local_socket::ListenerOptions;
    let lock_path = socket.with_extension("lock");
    let at =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", lock_path.display()));
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(at)?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(at(e)),
    }
    let at =
        |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", socket.display()));
    #[cfg(unix)]
    match std::fs::remove_file(socket) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(at(e)),
        _ => {}
    }
    let listener = ListenerOptions::new()
        .name(name_of(socket)?)
        .create_tokio()
        .map_err(at)?;
    Ok(Some(Listening {
        listener,
        _lock: lock,
    }))
}

/// The local socket's name: the file itself on Unix, a named pipe of the
/// file's name on Windows.
fn name_of(socket: &Path) -> std::io::Result<interprocess::local_socket::Name<'static>> {
    #[cfg(unix)]
    {
        use interprocess::local_socket::{GenericFilePath, ToFsName};
        socket.to_path_buf().to_fs_name::<GenericFilePath>()
    }
    #[cfg(not(unix))]
    {
        use interprocess::local_socket::{GenericNamespaced, ToNsName};
        socket
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
            .to_ns_name::<GenericNamespaced>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_first_claim_listens_a_second_is_refused_and_its_commands_arrive() {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let socket = dir
            .path()
            .join(format!("dropcast-app-{}.sock", user_name()));
        // A socket file left by a crash does not stop the first claim.
        std::fs::write(&socket, b"").unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let first = claim_at(&socket).unwrap().expect("the first claim listens");
            assert!(
                claim_at(&socket).unwrap().is_none(),
                "a second claim is refused"
            );
            let sent = tokio::spawn({
                let socket = socket.clone();
                async move { send_to(&socket, &Command::Reload).await }
            });
            let stream = first.accept().await.unwrap();
            let line = tokio::io::BufReader::new(stream)
                .lines()
                .next_line()
                .await
                .unwrap();
            assert_eq!(line.as_deref(), Some(Command::Reload.to_line().as_str()));
            sent.await.unwrap().unwrap();
            drop(first);
            assert!(
                claim_at(&socket).unwrap().is_some(),
                "free again once it ends"
            );
        });
    }
}
