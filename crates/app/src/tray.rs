//! The tray icon and its menu: capture and record actions (with the
//! recording's time while one runs), the sound recordings carry
//! (microphone, system sound), upload, the ten most
//! recent drops (each to copy, open or delete), history, resume,
//! settings, sign in or out, quit. Menu choices become
//! [`Request`]s, the same the hotkeys and other instances send. Without a
//! tray host (no StatusNotifierWatcher on the session bus) the app runs on
//! without an icon and says so.

use std::time::Duration;

use dropcast_actions::resident::{Command, Rec, Shot, Window};
use dropcast_actions::Session;
use dropcast_client::journal::Journal;
use dropcast_client::settings::Hotkeys;
use tokio::sync::mpsc;
use tray_icon::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tray_icon::{Icon, TrayIcon, TrayIconBuilder};

use crate::{Request, SoundSetting};

pub struct Tray {
    icon: Option<TrayIcon>,
    busy: bool,
    failed: bool,
    /// What the menu shows now (kept to redraw the recording's time).
    state: MenuState,
}

/// A 32x32 drop on a rounded square, in `rgb`.
fn icon(rgb: [u8; 3]) -> Icon {
    let size = 32u32;
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // The drop: a circle at the bottom, narrowing to a point on top.
            let (cx, cy, r) = (16.0, 20.0, 7.0);
            let d = ((fx - cx).powi(2) + (fy - cy).powi(2)).sqrt();
            let tip = fy >= 6.0 && fy <= cy && (fx - cx).abs() <= (fy - 6.0) * r / (cy - 6.0);
            let inside_drop = d <= r || tip;
            let corner = 7.0f32;
            let dx = (fx - fx.clamp(corner, size as f32 - corner)).abs();
            let dy = (fy - fy.clamp(corner, size as f32 - corner)).abs();
            let inside_square = dx * dx + dy * dy <= corner * corner;
            let px = match (inside_square, inside_drop) {
                (true, true) => [255, 255, 255, 255],
                (true, false) => [rgb[0], rgb[1], rgb[2], 255],
                _ => [0, 0, 0, 0],
            };
            rgba.extend_from_slice(&px);
        }
    }
    Icon::from_rgba(rgba, size, size).expect("a valid icon")
}

const IDLE: [u8; 3] = [79, 70, 229];
const BUSY: [u8; 3] = [217, 119, 6];
const FAILED: [u8; 3] = [220, 38, 38];
const RECORDING: [u8; 3] = [190, 18, 60];

impl Tray {
    pub fn new(tx: mpsc::UnboundedSender<Request>) -> Tray {
        MenuEvent::set_event_handler(Some(move |e: MenuEvent| {
            if let Some(r) = request_of(e.id.as_ref()) {
                let _ = tx.send(r);
            }
        }));
        let mut tray = Tray {
            icon: None,
            busy: false,
            failed: false,
            state: MenuState::default(),
        };
        if let Err(e) = tray.show() {
            // On Wayland the desktop binds the keys, not this program.
            let keys = if std::env::var_os("WAYLAND_DISPLAY").is_some() {
                "Keys bound in the desktop's settings still work."
            } else {
                "Hotkeys still work."
            };
            eprintln!(
                "dropcast-app: no tray icon yet ({e}); is a tray (StatusNotifierItem host) \
                 running? Trying again while it is not. {keys}"
            );
        }
        tray
    }

    /// Whether the icon is in a tray.
    pub fn shown(&self) -> bool {
        self.icon.is_some()
    }

    /// Puts the icon in the tray if it is not there yet. The tray host
    /// (a panel) may start after the app, as at login, or refuse an item
    /// until its own host half has registered: the app calls this again
    /// until it works.
    pub fn show(&mut self) -> Result<(), String> {
        if self.icon.is_some() {
            return Ok(());
        }
        let icon = TrayIconBuilder::new()
            .with_tooltip("Dropcast")
            .with_title("Dropcast")
            .with_icon(icon(IDLE))
            .with_menu(Box::new(menu(&self.state)))
            .build()
            .map_err(|e| e.to_string())?;
        self.icon = Some(icon);
        self.repaint();
        Ok(())
    }

    fn repaint(&self) {
        if let Some(t) = &self.icon {
            let (rgb, tip) = match (self.state.recording, self.busy, self.failed) {
                (Some(r), _, _) if r.paused => {
                    (BUSY, format!("Dropcast: paused at {}", clock(r.time)))
                }
                (Some(r), _, _) => (RECORDING, format!("Dropcast: recording {}", clock(r.time))),
                (None, true, _) => (BUSY, "Dropcast: uploading".into()),
                (None, false, true) => (FAILED, "Dropcast: the last upload failed".into()),
                _ => (IDLE, "Dropcast".into()),
            };
            let _ = t.set_icon(Some(icon(rgb)));
            let _ = t.set_tooltip(Some(tip));
        }
    }

    pub fn busy(&mut self, busy: bool) {
        self.busy = busy;
        self.repaint();
    }

    pub fn failed(&mut self, failed: bool) {
        self.failed = failed;
        self.repaint();
    }

    /// Shows a recording (its menu items pause and stop it), or none.
    pub fn recording(&mut self, shown: Option<RecordingShown>) {
        self.state.recording = shown;
        self.repaint();
        if let Some(t) = &self.icon {
            t.set_menu(Some(Box::new(menu(&self.state))));
        }
    }

    /// Rebuilds the menu: the newest drops from the history, the
    /// hotkeys, signed in or not.
    pub async fn refresh(&mut self, session: &Session) {
        let recent = match Journal::open(&session.dirs).await {
            Ok(j) => j.recent(10).await.unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        let now = dropcast_client::journal::now_ms();
        self.state = MenuState {
            recording: self.state.recording,
            recent: recent
                .into_iter()
                .map(|e| Recent {
                    label: format!("{} · {}", e.name, age(now - e.created_at)),
                    id: e.id,
                    url: e.url,
                })
                .collect(),
            hotkeys: session.settings.hotkeys.clone(),
            signed_in: session.client().is_ok(),
            microphone: session.settings.record.audio,
            system_sound: session.settings.record.system_audio,
        };
        if let Some(t) = &self.icon {
            t.set_menu(Some(Box::new(menu(&self.state))));
        }
    }
}

/// What the menu shows.
#[derive(Default)]
struct MenuState {
    /// The recording running.
    recording: Option<RecordingShown>,
    recent: Vec<Recent>,
    hotkeys: Hotkeys,
    signed_in: bool,
    /// Recordings carry the microphone, and what the computer plays.
    microphone: bool,
    system_sound: bool,
}

/// What the tray says of a recording running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingShown {
    /// Recorded so far (pauses not counted).
    pub time: Duration,
    pub paused: bool,
}

pub struct Recent {
    pub id: String,
    pub url: String,
    pub label: String,
}

/// "just now", "5 min ago", "3 h ago", "2 d ago".
fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..=59 => "just now".into(),
        60..=3599 => format!("{} min ago", s / 60),
        3600..=86_399 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// "0:07", "12:30", "1:02:03".
fn clock(time: Duration) -> String {
    let s = time.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Menu ids carry what to do: `copy\t{url}`, `open\t{url}`,
/// `delete\t{id}`, or a resident command's line (`capture area`).
fn request_of(id: &str) -> Option<Request> {
    match id.split_once('\t') {
        Some(("copy", url)) => Some(Request::Do(Command::Copy(vec![url.into()]))),
        Some(("open", url)) => Some(Request::OpenLink(url.into())),
        Some(("delete", id)) => Some(Request::Delete(id.into())),
        _ => match id {
            "sign-out" => Some(Request::SignOut),
            "toggle-microphone" => Some(Request::ToggleSound(SoundSetting::Microphone)),
            "toggle-system-sound" => Some(Request::ToggleSound(SoundSetting::System)),
            _ => Command::from_line(id).map(Request::Do),
        },
    }
}

/// "Capture area (Ctrl+Shift+4)", or without the keys when unbound.
fn with_keys(text: &str, keys: &str) -> String {
    if keys.trim().is_empty() {
        text.to_string()
    } else {
        format!("{text} ({keys})")
    }
}

fn menu(state: &MenuState) -> Menu {
    let menu = Menu::new();
    let item = |id: &str, text: &str| MenuItem::with_id(id, text, true, None);
    let line = |c: Command| c.to_line();
    let keys = &state.hotkeys;
    let recent_menu = Submenu::new("Recent drops", !state.recent.is_empty());
    for r in &state.recent {
        let entry = Submenu::new(&r.label, true);
        let _ = entry.append_items(&[
            &item(&format!("copy\t{}", r.url), "Copy link"),
            &item(&format!("open\t{}", r.url), "Open"),
            &item(&format!("delete\t{}", r.id), "Delete"),
        ]);
        let _ = recent_menu.append(&entry);
    }
    let sign = if state.signed_in {
        item("sign-out", "Sign out")
    } else {
        item(&line(Command::Open(Window::Settings)), "Sign in...")
    };
    let (record_item, second_item) = match state.recording {
        Some(r) => (
            item(
                &line(Command::Record(Rec::Stop)),
                &with_keys(&format!("Stop recording ({})", clock(r.time)), &keys.record),
            ),
            item(
                &line(Command::Record(Rec::Pause)),
                if r.paused {
                    "Resume recording"
                } else {
                    "Pause recording"
                },
            ),
        ),
        None => (
            item(
                &line(Command::Record(Rec::Screen)),
                &with_keys("Record screen", &keys.record),
            ),
            item(&line(Command::Record(Rec::Area)), "Record area..."),
        ),
    };
    let _ = menu.append_items(&[
        &item(
            &line(Command::Capture(Shot::Area)),
            &with_keys("Capture area", &keys.area),
        ),
        &item(
            &line(Command::Capture(Shot::Screen)),
            &with_keys("Capture screen", &keys.screen),
        ),
        &item(
            &line(Command::Capture(Shot::Window)),
            &with_keys("Capture window", &keys.window),
        ),
        &record_item,
        &second_item,
        &CheckMenuItem::with_id(
            "toggle-microphone",
            "Record the microphone",
            true,
            state.microphone,
            None,
        ),
        &CheckMenuItem::with_id(
            "toggle-system-sound",
            "Record system sound",
            true,
            state.system_sound,
            None,
        ),
        &item(
            &line(Command::Open(Window::Drop)),
            &with_keys("Upload file...", &keys.upload),
        ),
        &PredefinedMenuItem::separator(),
        &recent_menu,
        &item(&line(Command::Open(Window::History)), "History..."),
        &item(&line(Command::Resume), "Resume uploads"),
        &PredefinedMenuItem::separator(),
        &item(&line(Command::Open(Window::Settings)), "Settings..."),
        &sign,
        &item(&line(Command::Quit), "Quit Dropcast"),
    ]);
    menu
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_ids_say_what_to_do() {
        assert_eq!(
            request_of("copy\thttp://h/abc"),
            Some(Request::Do(Command::Copy(vec!["http://h/abc".into()])))
        );
        assert_eq!(
            request_of("delete\tabc"),
            Some(Request::Delete("abc".into()))
        );
        assert_eq!(
            request_of("capture area"),
            Some(Request::Do(Command::Capture(Shot::Area)))
        );
        assert_eq!(request_of("sign-out"), Some(Request::SignOut));
        assert_eq!(
            request_of("toggle-system-sound"),
            Some(Request::ToggleSound(SoundSetting::System))
        );
        assert_eq!(request_of("nonsense"), None);
    }

    #[test]
    fn ages_read_like_people_say_them() {
        assert_eq!(age(5_000), "just now");
        assert_eq!(age(5 * 60_000), "5 min ago");
        assert_eq!(age(3 * 3_600_000), "3 h ago");
        assert_eq!(age(2 * 86_400_000), "2 d ago");
    }

    #[test]
    fn the_recording_s_time_reads_like_a_clock() {
        assert_eq!(clock(Duration::from_millis(7_400)), "0:07");
        assert_eq!(clock(Duration::from_secs(750)), "12:30");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }
}
