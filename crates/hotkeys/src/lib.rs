//! Checking the hotkeys in the settings, for the settings window (before
//! saving) and the tray app (before registering): each is modifiers and
//! one key ("Ctrl+Shift+4"), and no two actions share keys however they
//! are written.
//!
//! Where a program cannot take global hotkeys itself (Wayland without the
//! GlobalShortcuts portal), [`desktop_binding`] says how to bind an
//! action in the desktop's own settings: the command to run, and on sway
//! the exact `bindsym` line.

use dropcast_client::settings::Hotkeys;
use global_hotkey::hotkey::HotKey;

/// An action's hotkey that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub action: &'static str,
    pub message: String,
}

/// The hotkey `keys` names.
pub fn parse(keys: &str) -> Result<HotKey, String> {
    HotKey::try_from(keys.trim()).map_err(|_| {
        format!("{keys:?} is not a hotkey: write modifiers and one key, like Ctrl+Shift+4")
    })
}

/// Keys that do not parse, and actions on keys an earlier action has.
pub fn problems(hotkeys: &Hotkeys) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen: Vec<(&str, u32)> = Vec::new();
    for (action, keys) in hotkeys.bound() {
        match parse(keys) {
            Err(message) => problems.push(Problem { action, message }),
            Ok(key) => match seen.iter().find(|(_, id)| *id == key.id()) {
                Some((other, _)) => problems.push(Problem {
                    action,
                    message: format!("{} is already the hotkey for {other}", keys.trim()),
                }),
                None => seen.push((action, key.id())),
            },
        }
    }
    problems
}

/// The arguments of `dropcast-app` that do `action` (a running tray app
/// is handed them).
pub fn app_arguments(action: &str) -> Option<&'static str> {
    Some(match action {
        "screen" => "--capture screen",
        "area" => "--capture area",
        "window" => "--capture window",
        "record" => "--record screen",
        "upload" => "--open drop",
        _ => return None,
    })
}

/// A modifier or a key of `keys` as XKB names it, with the modifier names
/// `modifiers` gives (Ctrl, Shift, Alt, Super).
fn xkb(keys: &str, modifiers: [&str; 4]) -> String {
    let [ctrl, shift, alt, logo] = modifiers;
    keys.split('+')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| {
            let lower = k.to_ascii_lowercase();
            match lower.as_str() {
                "ctrl" | "control" | "cmdorctrl" | "commandorcontrol" => ctrl.to_string(),
                "shift" => shift.to_string(),
                "alt" | "option" => alt.to_string(),
                "super" | "meta" | "cmd" | "command" | "win" => logo.to_string(),
                "printscreen" | "print" => "Print".to_string(),
                "space" => "space".to_string(),
                "enter" | "return" => "Return".to_string(),
                "escape" | "esc" => "Escape".to_string(),
                "tab" => "Tab".to_string(),
                _ => {
                    let key = lower
                        .strip_prefix("key")
                        .or_else(|| lower.strip_prefix("digit"))
                        .filter(|rest| rest.len() == 1)
                        .unwrap_or(k);
                    if key.len() == 1 {
                        key.to_ascii_lowercase()
                    } else {
                        key.to_string()
                    }
                }
            }
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// `keys` as sway's `bindsym` writes them: its modifier names (Mod1 is
/// Alt, Mod4 the Super key) and XKB key names.
pub fn sway_keys(keys: &str) -> String {
    xkb(keys, ["Ctrl", "Shift", "Mod1", "Mod4"])
}

/// `keys` as the GlobalShortcuts portal's `preferred_trigger` writes them
/// (the XDG shortcuts format: `CTRL+SHIFT+a`).
pub fn portal_trigger(keys: &str) -> String {
    xkb(keys, ["CTRL", "SHIFT", "ALT", "LOGO"])
}

/// What an action does, as the desktop's list of shortcuts shows it.
pub fn describe(action: &str) -> &'static str {
    match action {
        "screen" => "Capture the screen and share it",
        "area" => "Capture an area and share it",
        "window" => "Capture the window in front and share it",
        "record" => "Record the screen (again: stop)",
        "upload" => "Upload files",
        _ => "Dropcast",
    }
}

/// How to bind `action` on `keys` in the desktop's own settings, for
/// `program` (the tray app's path): on sway (`on_sway`), the exact line
/// for its config; elsewhere, the command and the keys.
pub fn desktop_binding(action: &str, keys: &str, program: &str, on_sway: bool) -> Option<String> {
    let args = app_arguments(action)?;
    Some(if on_sway {
        format!(
            "this desktop gives programs no global hotkeys; add this line to sway's config \
             (~/.config/sway/config) and run `swaymsg reload`: bindsym {} exec {program} {args}",
            sway_keys(keys)
        )
    } else {
        format!(
            "this desktop gives programs no global hotkeys; in its keyboard settings, bind \
             {} to the command `{program} {args}`",
            keys.trim()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sway_gets_the_exact_bindsym_line_for_each_action() {
        assert_eq!(
            desktop_binding("area", "Ctrl+Shift+4", "/usr/bin/dropcast-app", true)
                .unwrap()
                .rsplit(": ")
                .next()
                .unwrap(),
            "bindsym Ctrl+Shift+4 exec /usr/bin/dropcast-app --capture area"
        );
        assert_eq!(sway_keys("Alt+Super+KeyR"), "Mod1+Mod4+r");
        assert_eq!(
            sway_keys("control + shift + PrintScreen"),
            "Ctrl+Shift+Print"
        );
        assert_eq!(sway_keys("Ctrl+Digit5"), "Ctrl+5");
        assert_eq!(sway_keys("Ctrl+F12"), "Ctrl+F12");
        assert_eq!(portal_trigger("Ctrl+Shift+KeyW"), "CTRL+SHIFT+w");
        assert_eq!(portal_trigger("Super+PrintScreen"), "LOGO+Print");
        let elsewhere = desktop_binding("record", "Ctrl+Shift+5", "dropcast-app", false).unwrap();
        assert!(
            elsewhere.contains("bind Ctrl+Shift+5 to the command `dropcast-app --record screen`")
        );
        assert!(desktop_binding("nonsense", "Ctrl+1", "x", true).is_none());
    }

    fn set(screen: &str, area: &str) -> Hotkeys {
        Hotkeys {
            screen: screen.into(),
            area: area.into(),
            window: String::new(),
            ..Hotkeys::default()
        }
    }

    #[test]
    fn two_actions_on_the_same_keys_are_a_conflict_however_they_are_written() {
        let problems = problems(&set("Ctrl+Shift+3", "shift+control+3"));
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].action, "area");
        assert!(problems[0].message.contains("hotkey for screen"));
        assert!(super::problems(&set("Ctrl+Shift+3", "Ctrl+Shift+4")).is_empty());
    }

    #[test]
    fn keys_that_do_not_parse_say_how_to_write_them() {
        let problems = problems(&set("Ctrl+Shift+Banana", ""));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("like Ctrl+Shift+4"));
    }
}
