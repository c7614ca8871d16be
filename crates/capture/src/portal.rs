//! The desktop portal (xdg-desktop-portal): [`request`], how every portal
//! call is made and answered (the tray app's GlobalShortcuts use it too),
//! and the Screenshot portal (`org.freedesktop.portal.Screenshot`), for
//! Wayland desktops without wlroots' screencopy (GNOME, KDE).
//!
//! One non-interactive `Screenshot` call: the portal writes the whole
//! desktop to a PNG file and answers its URI on a `Request` object's
//! `Response` signal. The desktop may ask the user once whether Dropcast
//! may take screenshots (its Access dialog); after that it does not. The
//! file is read, and removed when it is in the temporary folder.
//!
//! On wlroots the portal needs an Access backend (xdg-desktop-portal-gtk
//! provides one) before it offers Screenshot at all: a missing interface
//! gets an error that says so.
//!
//! `DROPCAST_WAYLAND_CAPTURE=portal` uses the portal even where
//! screencopy is offered.

use std::collections::HashMap;
use std::time::Duration;

use image::RgbaImage;
use zbus::zvariant::{OwnedValue, Value};

use crate::{CaptureError, Result};

const DESTINATION: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";

/// How long the user has to answer the portal's dialog, if it shows one.
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

fn failed(what: &str, e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Platform(format!("the Screenshot portal: {what}: {e}"))
}

/// A portal request: `method` of `interface` called with `args` (whose
/// last member is the options, which must hold `handle_token`), and the
/// results its `Request` answers with. The request's object path is known
/// before the call (the sender's name and the token), so the answer is
/// listened for first and cannot be missed. A refusal by the user is
/// [`Refused`], another failure an error saying what failed.
pub fn request<B>(
    conn: &zbus::blocking::Connection,
    interface: &str,
    method: &str,
    token: &str,
    args: &B,
) -> std::result::Result<HashMap<String, OwnedValue>, RequestError>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    let sender = conn
        .unique_name()
        .ok_or(RequestError::Failed("the bus gave no name".into()))?
        .trim_start_matches(':')
        .replace('.', "_");
    let request_path = format!("{PATH}/request/{sender}/{token}");
    let failed = |e: zbus::Error| RequestError::Failed(e.to_string());
    let request = zbus::blocking::Proxy::new(
        conn,
        DESTINATION,
        request_path.as_str(),
        "org.freedesktop.portal.Request",
    )
    .map_err(failed)?;
    let mut answers = request.receive_signal("Response").map_err(failed)?;
    let portal = zbus::blocking::Proxy::new(conn, DESTINATION, PATH, interface).map_err(failed)?;
    let _: zbus::zvariant::OwnedObjectPath = portal
        .call(method, args)
        .map_err(|e| RequestError::Call(e.to_string()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(answers.next());
    });
    let message = rx
        .recv_timeout(ANSWER_WITHIN)
        .map_err(|_| RequestError::Failed("no answer within 2 minutes".into()))?
        .ok_or(RequestError::Failed("the bus closed".into()))?;
    let (response, results): (u32, HashMap<String, OwnedValue>) = message
        .body()
        .deserialize()
        .map_err(|e| RequestError::Failed(format!("reading its answer: {e}")))?;
    match response {
        0 => Ok(results),
        1 => Err(RequestError::Refused),
        _ => Err(RequestError::Failed("the desktop could not do it".into())),
    }
}

/// Why a portal request came to nothing.
#[derive(Debug)]
pub enum RequestError {
    /// The call itself failed, most often as there is no such portal.
    Call(String),
    /// The user said no.
    Refused,
    Failed(String),
}

/// A token for a request or session, unique in this process.
pub fn token() -> String {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("dropcast{}_{call}", std::process::id())
}

/// The whole desktop, as the portal hands it over: all monitors in one
/// image, in physical pixels.
pub(crate) fn screenshot() -> Result<RgbaImage> {
    let conn =
        zbus::blocking::Connection::session().map_err(|e| failed("no D-Bus session bus", e))?;
    let token = token();
    let mut options: HashMap<&str, Value> = HashMap::new();
    options.insert("handle_token", Value::from(token.as_str()));
    options.insert("interactive", Value::from(false));
    let results = request(
        &conn,
        "org.freedesktop.portal.Screenshot",
        "Screenshot",
        &token,
        &("", options),
    )
    .map_err(|e| match e {
        RequestError::Call(text) => missing(text),
        RequestError::Refused => CaptureError::Platform(
            "the screenshot was not allowed (the desktop's dialog was refused); allow \
             Dropcast to take screenshots in the desktop's privacy settings"
                .into(),
        ),
        RequestError::Failed(text) => failed("it failed", text),
    })?;
    let uri: String = results
        .get("uri")
        .and_then(|v| v.downcast_ref::<String>().ok())
        .ok_or_else(|| failed("reading its answer", "no uri"))?;
    let path = file_path(&uri).ok_or_else(|| failed("reading its answer", &uri))?;
    let image = image::open(&path)
        .map_err(|e| failed(&format!("reading {}", path.display()), e))?
        .to_rgba8();
    // A file the portal left in the temporary folder was made for this
    // call only; one elsewhere (a desktop may save into Pictures) is the
    // user's to keep.
    if path.starts_with(std::env::temp_dir()) {
        let _ = std::fs::remove_file(&path);
    }
    Ok(image)
}

/// Whether a failed call's error says the portal (or this interface of
/// it) is not there.
pub(crate) fn is_missing(text: &str) -> bool {
    text.contains("ServiceUnknown")
        || text.contains("UnknownInterface")
        || text.contains("UnknownMethod")
        || text.contains("No such interface")
}

/// What to say when the call itself fails: most often there is no portal.
fn missing(text: String) -> CaptureError {
    if is_missing(&text) {
        return CaptureError::Platform(format!(
            "this desktop offers no Screenshot portal ({text}); install xdg-desktop-portal and \
             your desktop's backend (xdg-desktop-portal-gnome, -kde, or on wlroots -wlr with \
             xdg-desktop-portal-gtk)"
        ));
    }
    failed("the call failed", text)
}

/// The local path of a `file://` URI, percent-decoded.
fn file_path(uri: &str) -> Option<std::path::PathBuf> {
    let rest = uri.strip_prefix("file://")?;
    let mut bytes = Vec::with_capacity(rest.len());
    let mut it = rest.bytes();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hex = [it.next()?, it.next()?];
            bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            bytes.push(b);
        }
    }
    use std::os::unix::ffi::OsStringExt;
    Some(std::ffi::OsString::from_vec(bytes).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_uris_become_paths_with_their_escapes_undone() {
        assert_eq!(
            file_path("file:///home/a/Pictures/Screenshot%20from%202026.png"),
            Some("/home/a/Pictures/Screenshot from 2026.png".into())
        );
        assert_eq!(file_path("https://x/y.png"), None);
        assert_eq!(file_path("file:///bad%2"), None);
    }
}
