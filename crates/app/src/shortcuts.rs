//! Global hotkeys on Wayland through the desktop's GlobalShortcuts portal
//! (KDE Plasma 5.27+, GNOME 48+, Hyprland), where a program cannot grab
//! keys itself.
//!
//! Every action is bound in one `BindShortcuts` call, each with its keys
//! from the settings as the preferred trigger. The desktop decides (it may
//! ask the user, or choose other keys); the triggers it chose are what the
//! settings window shows, and follow `ShortcutsChanged`. An `Activated`
//! signal runs the action. The session lives as long as its D-Bus
//! connection, so one connection is kept for the app's life; new settings
//! get a new session.
//!
//! Where the portal has no GlobalShortcuts (sway, older desktops),
//! [`Shortcuts::connect`] says so and the caller explains how to bind the
//! keys in the desktop's own settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dropcast_actions::resident::{Command, HotkeyStatus};
use dropcast_capture::portal::{self, RequestError};
use dropcast_client::settings;
use tokio::sync::mpsc;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::Request;

const DESTINATION: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const INTERFACE: &str = "org.freedesktop.portal.GlobalShortcuts";

/// What the listener needs: the session whose signals count, each
/// shortcut's command, and the statuses to rewrite when the triggers
/// change.
#[derive(Default)]
struct Bound {
    session: Option<OwnedObjectPath>,
    commands: HashMap<String, Command>,
    statuses: Vec<HotkeyStatus>,
}

pub struct Shortcuts {
    conn: zbus::blocking::Connection,
    bound: Arc<Mutex<Bound>>,
}

/// A shortcut as the portal lists it: its id and properties.
type Listed = Vec<(String, HashMap<String, OwnedValue>)>;

impl Shortcuts {
    /// The portal's GlobalShortcuts, if this desktop has them; activations
    /// are sent on `tx` from then on.
    pub fn connect(tx: mpsc::UnboundedSender<Request>) -> Result<Shortcuts, String> {
        let conn = zbus::blocking::Connection::session()
            .map_err(|e| format!("no D-Bus session bus: {e}"))?;
        let proxy = zbus::blocking::Proxy::new(&conn, DESTINATION, PATH, INTERFACE)
            .map_err(|e| e.to_string())?;
        proxy
            .get_property::<u32>("version")
            .map_err(|_| "this desktop has no GlobalShortcuts portal".to_string())?;
        register_app_id(&conn);
        let bound = Arc::new(Mutex::new(Bound::default()));
        let mut activated = proxy
            .receive_signal("Activated")
            .map_err(|e| e.to_string())?;
        let mut changed = proxy
            .receive_signal("ShortcutsChanged")
            .map_err(|e| e.to_string())?;
        let on_activated = bound.clone();
        std::thread::spawn(move || {
            for message in &mut activated {
                let Ok((session, id, _, _)) =
                    message
                        .body()
                        .deserialize::<(OwnedObjectPath, String, u64, HashMap<String, OwnedValue>)>(
                        )
                else {
                    continue;
                };
                let bound = on_activated.lock().expect("shortcuts");
                if bound.session.as_ref() != Some(&session) {
                    continue;
                }
                if let Some(command) = bound.commands.get(&id) {
                    let _ = tx.send(Request::Do(command.clone()));
                }
            }
        });
        let on_changed = bound.clone();
        std::thread::spawn(move || {
            for message in &mut changed {
                let Ok((session, listed)) =
                    message.body().deserialize::<(OwnedObjectPath, Listed)>()
                else {
                    continue;
                };
                let mut bound = on_changed.lock().expect("shortcuts");
                if bound.session.as_ref() != Some(&session) {
                    continue;
                }
                apply_triggers(&mut bound.statuses, &listed);
                crate::hotkeys::write_statuses(&bound.statuses);
            }
        });
        Ok(Shortcuts { conn, bound })
    }

    /// Binds `wanted` in a new session (the last one is closed), and
    /// answers each action's status with the trigger the desktop chose.
    pub fn bind(
        &mut self,
        wanted: &settings::Hotkeys,
        command_of: impl Fn(&str) -> Option<Command>,
    ) -> Result<Vec<HotkeyStatus>, String> {
        let old = self.bound.lock().expect("shortcuts").session.take();
        if let Some(old) = old {
            let _ = self.conn.call_method(
                Some(DESTINATION),
                old.as_str(),
                Some("org.freedesktop.portal.Session"),
                "Close",
                &(),
            );
        }
        let said = |e: RequestError| match e {
            RequestError::Call(text) | RequestError::Failed(text) => text,
            RequestError::Refused => "the desktop's dialog was refused".to_string(),
        };
        let token = portal::token();
        let mut options: HashMap<&str, Value> = HashMap::new();
        options.insert("handle_token", Value::from(token.as_str()));
        options.insert("session_handle_token", Value::from(token.as_str()));
        let created = portal::request(&self.conn, INTERFACE, "CreateSession", &token, &(options,))
            .map_err(said)?;
        // An object path by the specification; older portals answer a
        // string.
        let session = created
            .get("session_handle")
            .and_then(|v| match &**v {
                Value::ObjectPath(p) => Some(OwnedObjectPath::from(p.clone())),
                Value::Str(s) => OwnedObjectPath::try_from(s.as_str()).ok(),
                _ => None,
            })
            .ok_or("the portal made no session")?;
        let mut commands = HashMap::new();
        let mut asked: Vec<(String, HashMap<&str, Value>)> = Vec::new();
        for (action, keys) in wanted.bound() {
            let Some(command) = command_of(action) else {
                continue;
            };
            commands.insert(action.to_string(), command);
            let mut properties: HashMap<&str, Value> = HashMap::new();
            properties.insert(
                "description",
                Value::from(dropcast_hotkeys::describe(action)),
            );
            properties.insert(
                "preferred_trigger",
                Value::from(dropcast_hotkeys::portal_trigger(keys)),
            );
            asked.push((action.to_string(), properties));
        }
        let token = portal::token();
        let mut options: HashMap<&str, Value> = HashMap::new();
        options.insert("handle_token", Value::from(token.as_str()));
        let results = portal::request(
            &self.conn,
            INTERFACE,
            "BindShortcuts",
            &token,
            &(&session, asked, "", options),
        )
        .map_err(said)?;
        let listed: Listed = results
            .get("shortcuts")
            .and_then(|v| Listed::try_from(v.try_clone().ok()?).ok())
            .unwrap_or_default();
        let mut statuses: Vec<HotkeyStatus> = wanted
            .bound()
            .into_iter()
            .map(|(action, keys)| HotkeyStatus {
                action: action.to_string(),
                keys: keys.to_string(),
                ok: false,
                error: Some("the desktop did not bind it".into()),
                desktop: None,
            })
            .collect();
        apply_triggers(&mut statuses, &listed);
        let mut bound = self.bound.lock().expect("shortcuts");
        *bound = Bound {
            session: Some(session),
            commands,
            statuses: statuses.clone(),
        };
        Ok(statuses)
    }
}

/// The app id the desktop files our shortcuts under (GNOME wants one
/// from a program that is not sandboxed; a desktop entry of the same name
/// ships with the installers). The Registry appeared in xdg-desktop-portal
/// 1.19; an older portal has none, and does without.
const APP_ID: &str = "org.dropcast.app";

fn register_app_id(conn: &zbus::blocking::Connection) {
    let options: HashMap<&str, Value> = HashMap::new();
    let _ = conn.call_method(
        Some(DESTINATION),
        PATH,
        Some("org.freedesktop.host.portal.Registry"),
        "Register",
        &(APP_ID, options),
    );
}

/// The desktop's own words for each bound shortcut's keys.
fn apply_triggers(statuses: &mut [HotkeyStatus], listed: &Listed) {
    for (id, properties) in listed {
        if let Some(status) = statuses.iter_mut().find(|s| &s.action == id) {
            status.ok = true;
            status.error = None;
            status.desktop = properties
                .get("trigger_description")
                .and_then(|v| v.downcast_ref::<String>().ok())
                .filter(|t| !t.is_empty());
        }
    }
}
