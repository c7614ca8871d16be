//! `dropcast-app`: the resident Dropcast process. A tray icon with its menu
//! (StatusNotifierItem over D-Bus, no GTK), global hotkeys (X11 key grabs),
//! and the same actions as the `dropcast` CLI (dropcast-actions), holding
//! the clipboard itself. No webview lives here, so it idles small; windows
//! (settings, history, region picker) are a separate process started on
//! demand.
//!
//! One instance per user: a second `dropcast-app [--capture screen|window]`
//! hands its request to the running one over a Unix socket and exits.

mod instance;
mod tray;

use std::time::Instant;

use dropcast_actions::{self as actions, ClipboardRoute, Session, ShotOptions};
use dropcast_capture::Target;
use global_hotkey::hotkey::{Code, HotKey, Modifiers};
use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};
use tokio::sync::mpsc;

/// What the app is asked to do, from a hotkey, the tray menu or a second
/// instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    CaptureScreen,
    CaptureWindow,
    CopyLink(String),
    Open(String),
    Delete(String),
    Resume,
    Quit,
}

impl Request {
    /// A request as a second instance sends it (`--capture screen`).
    fn from_args(args: &[String]) -> Result<Option<Request>, String> {
        match args
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            [] => Ok(None),
            ["--capture", "screen"] => Ok(Some(Request::CaptureScreen)),
            ["--capture", "window"] => Ok(Some(Request::CaptureWindow)),
            ["--resume"] => Ok(Some(Request::Resume)),
            ["--quit"] => Ok(Some(Request::Quit)),
            other => Err(format!(
                "unknown arguments {other:?}; use --capture screen|window, --resume or --quit"
            )),
        }
    }

    fn to_line(&self) -> Option<&'static str> {
        match self {
            Request::CaptureScreen => Some("capture screen"),
            Request::CaptureWindow => Some("capture window"),
            Request::Resume => Some("resume"),
            Request::Quit => Some("quit"),
            _ => None,
        }
    }

    fn from_line(line: &str) -> Option<Request> {
        match line.trim() {
            "capture screen" => Some(Request::CaptureScreen),
            "capture window" => Some(Request::CaptureWindow),
            "resume" => Some(Request::Resume),
            "quit" => Some(Request::Quit),
            _ => None,
        }
    }
}

/// The default hotkeys: Ctrl+Shift+3 the screen, Ctrl+Shift+W the window
/// in front.
fn hotkeys() -> [(HotKey, Request); 2] {
    let ctrl_shift = Some(Modifiers::CONTROL | Modifiers::SHIFT);
    [
        (
            HotKey::new(ctrl_shift, Code::Digit3),
            Request::CaptureScreen,
        ),
        (HotKey::new(ctrl_shift, Code::KeyW), Request::CaptureWindow),
    ]
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let first = match Request::from_args(&args) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dropcast-app: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(first)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dropcast-app: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(first: Option<Request>) -> Result<(), String> {
    let listener = match instance::claim(first.as_ref().and_then(Request::to_line)).await? {
        instance::Claim::Forwarded => return Ok(()),
        instance::Claim::First(listener) => listener,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    instance::serve(listener, tx.clone());

    // Hotkeys: a failure is said and the menu still works.
    let manager = GlobalHotKeyManager::new().map_err(|e| format!("global hotkeys: {e}"))?;
    let keys = hotkeys();
    if std::env::var_os("WAYLAND_DISPLAY").is_some() {
        eprintln!(
            "dropcast-app: global hotkeys are not available on Wayland; bind \
             `dropcast-app --capture screen` in your desktop's keyboard settings"
        );
    } else {
        for (key, request) in &keys {
            if let Err(e) = manager.register(*key) {
                eprintln!("dropcast-app: hotkey for {request:?} not available: {e}");
            }
        }
    }
    let hotkey_tx = tx.clone();
    let ids: Vec<(u32, Request)> = keys.iter().map(|(k, r)| (k.id(), r.clone())).collect();
    GlobalHotKeyEvent::set_event_handler(Some(move |e: GlobalHotKeyEvent| {
        if e.state == HotKeyState::Pressed {
            if let Some((_, r)) = ids.iter().find(|(id, _)| *id == e.id) {
                let _ = hotkey_tx.send(r.clone());
            }
        }
    }));

    let mut tray = tray::Tray::new(tx.clone());
    let session = Session::load().map_err(|e| e.message)?;
    tray.show_recent(&session).await;
    eprintln!("dropcast-app: ready");
    if let Some(r) = first {
        let _ = tx.send(r);
    }
    while let Some(request) = rx.recv().await {
        if request == Request::Quit {
            break;
        }
        // Settings and sign-in may have changed (the CLI shares them).
        let session = match Session::load() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dropcast-app: {e}");
                continue;
            }
        };
        tray.busy(true);
        let outcome = handle(&session, request).await;
        tray.busy(false);
        match outcome {
            Ok(done) => {
                tray.failed(false);
                eprintln!("dropcast-app: {done}");
            }
            Err(e) => {
                tray.failed(true);
                eprintln!("dropcast-app: {e}");
            }
        }
        tray.show_recent(&session).await;
    }
    drop(manager);
    Ok(())
}

/// Does one request; answers what happened, in a line.
async fn handle(session: &Session, request: Request) -> Result<String, actions::Error> {
    let route = ClipboardRoute::InProcess;
    match request {
        Request::CaptureScreen | Request::CaptureWindow => {
            let started = Instant::now();
            let target = if request == Request::CaptureWindow {
                front_window().await?
            } else {
                Target::AllMonitors
            };
            let frame = actions::capture(target, session.settings.cursor).await?;
            let options = ShotOptions {
                image: session.settings.image,
                out: None,
                copy: session.settings.copy,
            };
            let no_progress = |_: &str, _: u64| None;
            let shared =
                actions::share_frame(session, frame, &options, &route, &no_progress).await?;
            Ok(format!(
                "shared {} ({}x{}) in {} ms",
                shared.drop.url,
                shared.width,
                shared.height,
                started.elapsed().as_millis()
            ))
        }
        Request::CopyLink(url) => {
            route.copy_links(&[url.as_str()]);
            Ok(format!("copied {url}"))
        }
        Request::Open(url) => {
            let opened = std::process::Command::new("xdg-open")
                .arg(&url)
                .status()
                .is_ok_and(|s| s.success());
            Ok(format!("opened {url}: {opened}"))
        }
        Request::Delete(id) => {
            actions::delete(session, &id).await?;
            Ok(format!("deleted {id}"))
        }
        Request::Resume => {
            let sharer = session.sharer().await?;
            let done = actions::resume_all(&sharer, &|_: &str, _: u64| None).await?;
            Ok(format!("resumed {} uploads", done.len()))
        }
        Request::Quit => Ok("quitting".into()),
    }
}

/// The focused window, else the front-most one.
async fn front_window() -> Result<Target, actions::Error> {
    let windows = tokio::task::spawn_blocking(dropcast_capture::windows)
        .await
        .expect("window listing does not panic")?;
    let window = windows
        .iter()
        .find(|w| w.focused && !w.minimized)
        .or_else(|| windows.iter().find(|w| !w.minimized))
        .ok_or_else(|| {
            actions::Error::new(actions::Kind::Capture, "there is no window to capture")
        })?;
    Ok(Target::Window(window.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_instance_s_arguments_travel_as_lines_and_come_back() {
        for args in [["--capture", "screen"], ["--capture", "window"]] {
            let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            let r = Request::from_args(&args).unwrap().unwrap();
            assert_eq!(Request::from_line(r.to_line().unwrap()), Some(r));
        }
        assert_eq!(Request::from_args(&[]), Ok(None));
        assert!(Request::from_args(&["--capture".into(), "area".into()])
            .unwrap_err()
            .contains("--capture screen|window"));
    }
}
