//! The global hotkeys from the settings, registered with global-hotkey
//! (X11 key grabs), or on Wayland bound through the desktop's
//! GlobalShortcuts portal ([`crate::shortcuts`]), and again when the
//! settings change. Which ones could not be had, and why, is said on
//! stderr and written for the settings window
//! ([`resident::hotkey_status_path`]); the menu works either way.

use std::sync::{Arc, Mutex};

use dropcast_actions::resident::{self, Command, HotkeyStatus};
use dropcast_client::settings;
use global_hotkey::hotkey::HotKey;
use global_hotkey::{GlobalHotKeyEvent, GlobalHotKeyManager, HotKeyState};
use tokio::sync::mpsc;

use crate::Request;

pub struct Hotkeys {
    manager: Result<GlobalHotKeyManager, String>,
    held: Arc<Mutex<Vec<(HotKey, Command)>>>,
    /// Where activations of the portal's shortcuts go.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    tx: mpsc::UnboundedSender<Request>,
    /// The GlobalShortcuts portal on Wayland, once asked for.
    #[cfg(target_os = "linux")]
    portal: Option<Result<crate::shortcuts::Shortcuts, String>>,
}

/// What a hotkey does, by the settings' action name: what
/// `dropcast-app` does with the arguments the desktop is told to bind
/// (one table, so a hotkey and its desktop binding cannot differ).
fn command_of(action: &str) -> Option<Command> {
    let args: Vec<&str> = dropcast_hotkeys::app_arguments(action)?
        .split(' ')
        .collect();
    Command::from_args(&args)
}

/// What to say on Wayland, where the desktop binds keys, not programs:
/// how to bind `action` there (on sway, the exact line).
fn wayland_binding(action: &str, keys: &str) -> String {
    let program = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "dropcast-app".into());
    let on_sway = std::env::var_os("SWAYSOCK").is_some()
        || std::env::var("XDG_CURRENT_DESKTOP")
            .is_ok_and(|d| d.to_ascii_lowercase().contains("sway"));
    dropcast_hotkeys::desktop_binding(action, keys, &program, on_sway)
        .unwrap_or_else(|| format!("no such action: {action}"))
}

impl Hotkeys {
    pub fn new(tx: mpsc::UnboundedSender<Request>) -> Hotkeys {
        let portal_tx = tx.clone();
        let held: Arc<Mutex<Vec<(HotKey, Command)>>> = Arc::default();
        let lookup = held.clone();
        GlobalHotKeyEvent::set_event_handler(Some(move |e: GlobalHotKeyEvent| {
            if e.state != HotKeyState::Pressed {
                return;
            }
            let held = lookup.lock().expect("hotkey table");
            if let Some((_, c)) = held.iter().find(|(k, _)| k.id() == e.id) {
                let _ = tx.send(Request::Do(c.clone()));
            }
        }));
        Hotkeys {
            tx: portal_tx,
            #[cfg(target_os = "linux")]
            portal: None,
            manager: GlobalHotKeyManager::new().map_err(|e| e.to_string()),
            held,
        }
    }

    /// Lets go of the held hotkeys and registers `wanted`.
    ///
    /// The table lock is never held while registering: the manager waits
    /// for the X thread, which may be in the event handler waiting for the
    /// table (a hotkey pressed during a reload would deadlock).
    pub fn apply(&mut self, wanted: &settings::Hotkeys) -> Vec<HotkeyStatus> {
        let old = std::mem::take(&mut *self.held.lock().expect("hotkey table"));
        if let Ok(manager) = &self.manager {
            for (key, _) in old {
                let _ = manager.unregister(key);
            }
        }
        let mut held = Vec::new();
        let wayland = std::env::var_os("WAYLAND_DISPLAY").is_some();
        let problems = dropcast_hotkeys::problems(wanted);
        // On Wayland the desktop's GlobalShortcuts portal, where it has one;
        // else each action says how to bind it in the desktop.
        #[cfg(target_os = "linux")]
        if wayland && problems.is_empty() {
            let tx = self.tx.clone();
            let portal = self
                .portal
                .get_or_insert_with(|| crate::shortcuts::Shortcuts::connect(tx));
            let bound = match portal {
                Ok(portal) => portal.bind(wanted, command_of),
                Err(e) => Err(e.clone()),
            };
            match bound {
                Ok(statuses) => {
                    write_statuses(&statuses);
                    return statuses;
                }
                Err(e) => eprintln!("dropcast-app: no global shortcuts from the desktop: {e}"),
            }
        }
        let mut statuses = Vec::new();
        for (action, keys) in wanted.bound() {
            let outcome = (|| {
                if let Some(p) = problems.iter().find(|p| p.action == action) {
                    return Err(p.message.clone());
                }
                let command =
                    command_of(action).ok_or_else(|| format!("no such action: {action}"))?;
                let key = dropcast_hotkeys::parse(keys)?;
                if wayland {
                    return Err(wayland_binding(action, keys));
                }
                let manager = self
                    .manager
                    .as_ref()
                    .map_err(|e| format!("no hotkeys here: {e}"))?;
                manager.register(key).map_err(|e| match e {
                    global_hotkey::Error::AlreadyRegistered(_) => {
                        format!("{keys} is taken by another program; choose other keys in Settings")
                    }
                    e => format!("{keys} cannot be registered: {e}"),
                })?;
                held.push((key, command));
                Ok(())
            })();
            if let Err(e) = &outcome {
                eprintln!("dropcast-app: hotkey for {action} not available: {e}");
            }
            statuses.push(HotkeyStatus {
                action: action.to_string(),
                keys: keys.to_string(),
                ok: outcome.is_ok(),
                error: outcome.err(),
                desktop: None,
            });
        }
        *self.held.lock().expect("hotkey table") = held;
        write_statuses(&statuses);
        statuses
    }
}

/// Writes the hotkeys' statuses where the settings window reads them:
/// whole, through a file renamed into place, as the window reads them
/// every few seconds and must never see half a file. Settings and the
/// desktop's shortcut changes write from different threads, one at a
/// time.
pub(crate) fn write_statuses(statuses: &[HotkeyStatus]) {
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let path = resident::hotkey_status_path();
    let json = serde_json::to_vec_pretty(statuses).expect("statuses serialize");
    let _one = WRITING.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = dropcast_client::share::write_file(&path, &json) {
        eprintln!("dropcast-app: cannot write {}: {e}", path.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropcast_actions::resident::{Rec, Shot, Window};

    #[test]
    fn every_hotkey_action_runs_what_its_desktop_binding_would() {
        for (action, want) in [
            ("screen", Command::Capture(Shot::Screen)),
            ("area", Command::Capture(Shot::Area)),
            ("window", Command::Capture(Shot::Window)),
            ("upload", Command::Open(Window::Drop)),
            ("record", Command::Record(Rec::Screen)),
        ] {
            assert_eq!(command_of(action), Some(want), "{action}");
        }
        assert_eq!(command_of("nonsense"), None);
        for (action, _) in settings::Hotkeys::default().bound() {
            assert!(command_of(action).is_some(), "{action} has a command");
        }
    }
}
