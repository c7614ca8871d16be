//! Talking to the resident `dropcast-app`: the Unix socket it listens on
//! and the one-line commands it takes, from a second `dropcast-app`, from
//! the windows process (`dropcast-ui`) and from tests.
//!
//! The windows process is short-lived, so it asks the resident one to hold
//! the clipboard (`copy`), to shoot the region the picker chose (`region`)
//! and to pick up changed settings (`reload`).

use std::path::PathBuf;

pub use dropcast_resident::{is_plain_link, Command, Rec, Region, Shot, Window};
use serde::{Deserialize, Serialize};

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
}
