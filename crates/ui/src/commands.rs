//! The commands and events between the windows (TypeScript) and Rust,
//! typed on both sides: tauri-specta writes `ui/src/bindings.ts` from
//! these definitions (a test fails when the checked-in file is stale).
//! Errors carry an [`actions::Kind`] that the UI maps to what the user should
//! do; the message says the details.

use std::path::PathBuf;
use std::sync::Arc;

use dropcast_actions::resident::{self, Command, HotkeyStatus, PickSetup};
use dropcast_actions::{self as actions, ClipboardRoute, Session};
use dropcast_client::settings::{After, Hotkeys, OnClipboard, Record};
use dropcast_client::Sensitive;
use dropcast_encode::Format;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, Manager};
use tauri_specta::{collect_commands, collect_events, Event};

#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct UiError {
    /// What kind of failure, for the UI to say what to do.
    pub code: actions::Kind,
    pub message: String,
}

impl UiError {
    fn invalid(message: impl Into<String>) -> UiError {
        UiError {
            code: actions::Kind::Invalid,
            message: message.into(),
        }
    }
}

impl From<actions::Error> for UiError {
    fn from(e: actions::Error) -> Self {
        UiError {
            code: e.kind,
            message: e.message,
        }
    }
}

type Result<T> = std::result::Result<T, UiError>;

fn session() -> Result<Session> {
    Ok(Session::load()?)
}

/// Tells the tray app that settings or the sign-in changed; it may not
/// run (then there is nobody to tell).
async fn tell_tray() {
    let _ = resident::send(&Command::Reload).await;
}

/// What the settings window edits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Preferences {
    pub format: Format,
    pub jpeg_quality: u8,
    pub downscale: bool,
    pub cursor: bool,
    pub copy: OnClipboard,
    pub open_in_browser: bool,
    pub save_folder: Option<String>,
    pub notify: bool,
    pub sound: bool,
    pub start_at_login: bool,
    pub hotkeys: Hotkeys,
    pub recording: Record,
}

/// Starting `dropcast-app` at login (XDG autostart on Linux, a launch
/// agent on macOS, the Run key on Windows).
fn autostart() -> std::result::Result<auto_launch::AutoLaunch, UiError> {
    let exe = std::env::current_exe()
        .map_err(|e| UiError::invalid(format!("where is this program? {e}")))?
        .with_file_name(if cfg!(windows) {
            "dropcast-app.exe"
        } else {
            "dropcast-app"
        });
    auto_launch::AutoLaunchBuilder::new()
        .set_app_name("Dropcast")
        .set_app_path(&exe.to_string_lossy())
        .build()
        .map_err(|e| UiError::invalid(format!("start at login is not available here: {e}")))
}

#[tauri::command]
#[specta::specta]
pub async fn preferences() -> Result<Preferences> {
    let s = session()?.settings;
    Ok(Preferences {
        format: s.image.format,
        jpeg_quality: s.image.jpeg_quality,
        downscale: s.image.downscale,
        cursor: s.cursor,
        copy: s.copy,
        open_in_browser: s.after.open,
        save_folder: s
            .after
            .save_folder
            .map(|p| p.to_string_lossy().into_owned()),
        notify: s.after.notify,
        sound: s.after.sound,
        start_at_login: autostart()
            .and_then(|a| a.is_enabled().map_err(|e| UiError::invalid(e.to_string())))
            .unwrap_or(false),
        hotkeys: s.hotkeys,
        recording: s.record,
    })
}

/// A hotkey that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Type)]
pub struct HotkeyProblem {
    pub action: String,
    pub message: String,
}

fn hotkeys_of(set: &Hotkeys) -> Hotkeys {
    Hotkeys {
        screen: set.screen.trim().to_string(),
        area: set.area.trim().to_string(),
        window: set.window.trim().to_string(),
        record: set.record.trim().to_string(),
        upload: set.upload.trim().to_string(),
    }
}

/// Keys that do not parse, and two actions on the same keys.
#[tauri::command]
#[specta::specta]
pub fn check_hotkeys(hotkeys: Hotkeys) -> Vec<HotkeyProblem> {
    dropcast_hotkeys::problems(&hotkeys_of(&hotkeys))
        .into_iter()
        .map(|p| HotkeyProblem {
            action: p.action.into(),
            message: p.message,
        })
        .collect()
}

#[tauri::command]
#[specta::specta]
pub async fn save_preferences(preferences: Preferences) -> Result<()> {
    let p = preferences;
    if let Some(problem) = check_hotkeys(p.hotkeys.clone()).first() {
        return Err(UiError::invalid(format!(
            "{}: {}",
            problem.action, problem.message
        )));
    }
    if !(1..=100).contains(&p.jpeg_quality) {
        return Err(UiError::invalid("JPEG quality is 1 to 100"));
    }
    if !(1..=60).contains(&p.recording.fps) {
        return Err(UiError::invalid("recordings are 1 to 60 frames per second"));
    }
    let save_folder = match p.save_folder.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(folder) => {
            let folder = PathBuf::from(folder);
            if !folder.is_absolute() {
                return Err(UiError::invalid(format!(
                    "the folder for local copies must be a full path, like /home/you/Pictures (not {})",
                    folder.display()
                )));
            }
            std::fs::create_dir_all(&folder).map_err(|e| UiError {
                code: actions::Kind::LocalFile,
                message: format!("cannot make the folder {}: {e}", folder.display()),
            })?;
            Some(folder)
        }
    };
    let mut session = session()?;
    let s = &mut session.settings;
    s.image.format = p.format;
    s.image.jpeg_quality = p.jpeg_quality;
    s.image.downscale = p.downscale;
    s.cursor = p.cursor;
    s.copy = p.copy;
    s.after = After {
        open: p.open_in_browser,
        save_folder,
        notify: p.notify,
        sound: p.sound,
    };
    s.hotkeys = hotkeys_of(&p.hotkeys);
    s.record = p.recording;
    session
        .settings
        .save(&session.dirs)
        .map_err(actions::Error::from)?;
    // The settings are saved: the tray app takes them whatever follows.
    tell_tray().await;
    let now = autostart()
        .and_then(|a| a.is_enabled().map_err(|e| UiError::invalid(e.to_string())))
        .unwrap_or(false);
    if p.start_at_login != now {
        let launch = autostart()?;
        let changed = if p.start_at_login {
            launch.enable()
        } else {
            launch.disable()
        };
        changed.map_err(|e| UiError::invalid(format!("cannot change start at login: {e}")))?;
    }
    Ok(())
}

/// Which hotkeys the tray app holds, as it last said.
#[tauri::command]
#[specta::specta]
pub async fn hotkey_status() -> Vec<HotkeyStatus> {
    std::fs::read(resident::hotkey_status_path())
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Who is signed in where, or why not.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Account {
    pub server: Option<String>,
    pub user: Option<String>,
    pub problem: Option<UiError>,
}

#[tauri::command]
#[specta::specta]
pub async fn account() -> Result<Account> {
    let session = session()?;
    let server = session.settings.server.clone();
    let asked = match session.client() {
        Ok(client) => client.me().await.map_err(actions::Error::from),
        Err(e) => Err(e),
    };
    Ok(match asked {
        Ok(me) => Account {
            server,
            user: Some(me.name),
            problem: None,
        },
        Err(e) => Account {
            server,
            user: None,
            problem: Some(e.into()),
        },
    })
}

#[tauri::command]
#[specta::specta]
pub async fn sign_in(server: String, user: String, password: String) -> Result<String> {
    if user.trim().is_empty() || password.is_empty() {
        return Err(UiError::invalid("enter your user name and password"));
    }
    let mut session = session()?;
    let password = Sensitive::new(password);
    let name = actions::sign_in(
        &mut session,
        &server,
        actions::SignIn::Password {
            user: user.trim(),
            password: &password,
            program: "dropcast app",
        },
    )
    .await?;
    tell_tray().await;
    Ok(name)
}

#[tauri::command]
#[specta::specta]
pub async fn sign_out() -> Result<()> {
    actions::sign_out(&session()?)?;
    tell_tray().await;
    Ok(())
}

/// The signed-in user's webhook, where their completed drops are told
/// of. `secret` only in the answer to [`set_webhook`].
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct WebhookInfo {
    pub url: String,
    /// Slack's message format rather than Dropcast's signed event.
    pub slack: bool,
    pub secret: Option<String>,
}

impl From<dropcast_api::Webhook> for WebhookInfo {
    fn from(w: dropcast_api::Webhook) -> Self {
        WebhookInfo {
            url: w.url,
            slack: w.format == dropcast_api::WebhookFormat::Slack,
            secret: w.secret,
        }
    }
}

#[tauri::command]
#[specta::specta]
pub async fn webhook() -> Result<Option<WebhookInfo>> {
    let client = session()?.client()?;
    match client.webhook().await {
        Ok(w) => Ok(Some(w.into())),
        Err(e) if e.code() == Some(dropcast_api::ErrorCode::NotFound) => Ok(None),
        Err(e) => Err(actions::Error::from(e).into()),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn set_webhook(url: String, slack: bool) -> Result<WebhookInfo> {
    let url = url.trim();
    if url.is_empty() {
        return Err(UiError::invalid("enter the URL to send to"));
    }
    let format = if slack {
        dropcast_api::WebhookFormat::Slack
    } else {
        dropcast_api::WebhookFormat::Dropcast
    };
    let client = session()?.client()?;
    let set = client
        .set_webhook(&dropcast_api::SetWebhook {
            url: url.to_string(),
            format,
        })
        .await
        .map_err(actions::Error::from)?;
    Ok(set.into())
}

#[tauri::command]
#[specta::specta]
pub async fn remove_webhook() -> Result<()> {
    let client = session()?.client()?;
    client
        .delete_webhook()
        .await
        .map_err(actions::Error::from)?;
    Ok(())
}

/// A drop in the history.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    pub id: String,
    pub name: String,
    pub url: String,
    /// `uploading`, `complete` or `failed`.
    pub status: String,
    pub size: Option<f64>,
    pub error: Option<String>,
    /// Milliseconds since 1970.
    pub created_at: f64,
    /// Served at `dropcast://localhost/thumb/{id}`.
    pub has_thumbnail: bool,
}

#[tauri::command]
#[specta::specta]
pub async fn history(limit: u32) -> Result<Vec<HistoryItem>> {
    let session = session()?;
    let journal = dropcast_client::journal::Journal::open(&session.dirs)
        .await
        .map_err(actions::Error::from)?;
    let entries = journal.recent(limit).await.map_err(actions::Error::from)?;
    Ok(entries
        .into_iter()
        .map(|e| HistoryItem {
            has_thumbnail: session.dirs.thumbnail(&e.id).exists(),
            id: e.id,
            name: e.name,
            url: e.url,
            status: e.status,
            size: e.size.map(|s| s as f64),
            error: e.error,
            created_at: e.created_at as f64,
        })
        .collect())
}

/// Puts links on the clipboard: the tray app holds them; without it, a
/// detached holder (this program) does.
#[tauri::command]
#[specta::specta]
pub async fn copy_links(links: Vec<String>) -> Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    if resident::send(&Command::Copy(links.clone())).await.is_ok() {
        return Ok(());
    }
    let links: Vec<&str> = links.iter().map(String::as_str).collect();
    if ClipboardRoute::Holder.copy_links(&links) {
        Ok(())
    } else {
        Err(UiError::invalid("the clipboard cannot be reached"))
    }
}

#[tauri::command]
#[specta::specta]
pub fn open_link(url: String) -> Result<()> {
    Ok(actions::open_in_browser(&url)?)
}

#[tauri::command]
#[specta::specta]
pub async fn delete_drop(id: String) -> Result<()> {
    actions::delete(&session()?, &id).await?;
    tell_tray().await;
    Ok(())
}

/// Resumes every unfinished upload; answers how many completed.
#[tauri::command]
#[specta::specta]
pub async fn resume_uploads() -> Result<u32> {
    let sharer = session()?.sharer().await?;
    let done = actions::resume_all(&sharer, &|_: &str, _: u64| None).await?;
    tell_tray().await;
    Ok(done.len() as u32)
}

/// Asks for files to share with the desktop's file chooser; none when
/// cancelled.
#[tauri::command]
#[specta::specta]
pub async fn choose_files(app: AppHandle) -> Vec<String> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Choose files to share")
        .pick_files(move |paths| {
            let _ = tx.send(paths);
        });
    rx.await
        .ok()
        .flatten()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|p| p.into_path().ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// How one file's upload goes.
#[derive(Debug, Clone, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(rename_all = "camelCase")]
pub struct ShareProgress {
    pub path: String,
    pub name: String,
    pub sent: f64,
    pub total: f64,
}

/// One shared file: its link, or why not.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct SharedFile {
    pub path: String,
    pub url: Option<String>,
    pub error: Option<UiError>,
}

/// Shares files one after another (progress as [`ShareProgress`]
/// events); a failure does not stop the others. The links go to the
/// clipboard, one per line.
#[tauri::command]
#[specta::specta]
pub async fn share_files(app: AppHandle, paths: Vec<String>) -> Result<Vec<SharedFile>> {
    let sharer = session()?.sharer().await?;
    let mut shared = Vec::new();
    for path in paths {
        let app = app.clone();
        let progress_path = path.clone();
        let progress_for = move |name: &str, total: u64| -> Option<dropcast_client::Progress> {
            let (app, path, name) = (app.clone(), progress_path.clone(), name.to_string());
            Some(Arc::new(move |sent: u64| {
                let _ = ShareProgress {
                    path: path.clone(),
                    name: name.clone(),
                    sent: sent as f64,
                    total: total as f64,
                }
                .emit(&app);
            }))
        };
        let outcome =
            actions::share_file(&sharer, std::path::Path::new(&path), &progress_for).await;
        shared.push(match outcome {
            Ok(d) => SharedFile {
                path,
                url: Some(d.url),
                error: None,
            },
            Err(e) => SharedFile {
                path,
                url: None,
                error: Some(e.into()),
            },
        });
    }
    let links: Vec<String> = shared.iter().filter_map(|s| s.url.clone()).collect();
    copy_links(links).await?;
    tell_tray().await;
    Ok(shared)
}

pub fn read_pick_setup() -> Result<PickSetup> {
    let path = resident::pick_dir().join("pick.json");
    let bytes = std::fs::read(&path).map_err(|e| UiError {
        code: actions::Kind::Capture,
        message: format!(
            "no frozen screen at {} ({e}): capture an area from the tray",
            path.display()
        ),
    })?;
    serde_json::from_slice(&bytes).map_err(|e| UiError::invalid(format!("{}: {e}", path.display())))
}

/// The frozen screen the picker shows.
#[tauri::command]
#[specta::specta]
pub fn pick_setup() -> Result<PickSetup> {
    read_pick_setup()
}

/// A region in desktop pixels.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, Type)]
pub struct Region {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// The picker is done: the region to share, or none (cancelled). The
/// tray app cuts it from the frozen screen and shares it.
#[tauri::command]
#[specta::specta]
pub async fn pick_done(app: AppHandle, region: Option<Region>) -> Result<()> {
    let command = match region {
        Some(r) if r.width > 0 && r.height > 0 => {
            Command::Region(dropcast_actions::resident::Region {
                x: r.x,
                y: r.y,
                width: r.width,
                height: r.height,
            })
        }
        _ => Command::PickCancelled,
    };
    // Sent before the windows close: closing the last one ends this
    // process, and a failure is shown in the picker.
    resident::send(&command).await.map_err(|e| UiError {
        code: actions::Kind::Failed,
        message: format!("the tray app is not running ({e}): start dropcast-app and try again"),
    })?;
    for (label, window) in app.webview_windows() {
        if label.starts_with("pick-") {
            let _ = window.destroy();
        }
    }
    Ok(())
}

pub fn builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            preferences,
            check_hotkeys,
            save_preferences,
            hotkey_status,
            account,
            sign_in,
            sign_out,
            webhook,
            set_webhook,
            remove_webhook,
            history,
            copy_links,
            open_link,
            delete_drop,
            resume_uploads,
            choose_files,
            share_files,
            pick_setup,
            pick_done,
        ])
        .events(collect_events![ShareProgress])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_typescript_bindings_in_ui_are_current() {
        let fresh =
            std::env::temp_dir().join(format!("dropcast-bindings-{}.ts", std::process::id()));
        builder()
            .export(
                specta_typescript::Typescript::default().header(
                    "// Generated by dropcast-ui's tests from src/commands.rs: do not edit.\n",
                ),
                &fresh,
            )
            .expect("bindings export");
        let fresh_text = std::fs::read_to_string(&fresh).unwrap();
        let _ = std::fs::remove_file(&fresh);
        let checked_in =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/bindings.ts");
        if std::env::var_os("DROPCAST_WRITE_BINDINGS").is_some() {
            std::fs::write(&checked_in, &fresh_text).unwrap();
        }
        let current = std::fs::read_to_string(&checked_in).unwrap_or_default();
        assert!(
            current == fresh_text,
            "ui/src/bindings.ts is stale: run `DROPCAST_WRITE_BINDINGS=1 cargo test -p dropcast-ui bindings`"
        );
    }
}
