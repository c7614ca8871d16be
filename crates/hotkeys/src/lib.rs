//! Checking the hotkeys in the settings, for the settings window (before
//! saving) and the tray app (before registering): each is modifiers and
//! one key ("Ctrl+Shift+4"), and no two actions share keys however they
//! are written.

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

#[cfg(test)]
mod tests {
    use super::*;

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
