//! Where the client keeps things, and its settings: one sign-in, config and
//! history per OS user, shared by the CLI and the tray app.
//!
//! Directories come from `directories` (XDG on Linux, so `XDG_CONFIG_HOME`
//! and `XDG_DATA_HOME` move them). Settings: defaults -> `config.toml` in
//! the config dir -> `DROPCAST_*` environment.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("no home directory to keep settings in; set HOME")]
    NoHome,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The client's directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub data: PathBuf,
}

impl Dirs {
    pub fn for_user() -> Result<Dirs, SettingsError> {
        let p = directories::ProjectDirs::from("org", "dropcast", "dropcast")
            .ok_or(SettingsError::NoHome)?;
        Ok(Dirs {
            config: p.config_dir().join("client"),
            data: p.data_dir().join("client"),
        })
    }

    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }

    /// Where captures wait until the server has them.
    pub fn captures(&self) -> PathBuf {
        self.data.join("captures")
    }

    /// A drop's thumbnail in the history (a small PNG), when it has one.
    pub fn thumbnail(&self, id: &str) -> PathBuf {
        self.data.join("thumbnails").join(format!("{id}.png"))
    }
}

/// Where the sign-in token is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialBackend {
    /// The OS keyring (Secret Service, Keychain, Credential Manager).
    #[default]
    Keyring,
    /// A file readable by this user only (0600), by explicit choice.
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The drop server signed in to.
    pub server: Option<String>,
    pub credentials: CredentialBackend,
    /// Parts sent at once.
    pub parallel: usize,
    /// What goes on the clipboard after a capture.
    pub copy: OnClipboard,
    /// How captures are encoded.
    pub image: dropcast_encode::Settings,
    /// Draw the mouse pointer into captures.
    pub cursor: bool,
    /// What else happens after a capture is shared.
    pub after: After,
    /// The tray app's global hotkeys.
    pub hotkeys: Hotkeys,
    /// How screencasts are recorded.
    pub record: Record,
}

/// How screencasts are recorded and shared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct Record {
    /// Frames per second, 1 to 60.
    pub fps: u32,
    /// A recording stops by itself after this many minutes; 0: never.
    pub max_minutes: u32,
    /// The link goes to the clipboard when recording starts (else when it
    /// stops).
    pub link_at_start: bool,
    /// Draw the mouse pointer in.
    pub cursor: bool,
    /// Record the default microphone too.
    pub audio: bool,
    /// Record what the computer plays too (the default output's monitor),
    /// mixed with the microphone when both are on.
    pub system_audio: bool,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            fps: 30,
            max_minutes: 60,
            link_at_start: true,
            cursor: true,
            audio: false,
            system_audio: false,
        }
    }
}

/// What happens after a capture is shared, besides the clipboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct After {
    /// Open the drop's page in the browser.
    pub open: bool,
    /// Keep a copy of every capture in this folder.
    pub save_folder: Option<PathBuf>,
    /// Show a notification with the link (or the failure).
    pub notify: bool,
    /// Play a short sound with it.
    pub sound: bool,
}

impl Default for After {
    fn default() -> Self {
        After {
            open: false,
            save_folder: None,
            notify: true,
            sound: true,
        }
    }
}

/// The tray app's global hotkeys, as "Ctrl+Shift+3" (modifiers and one
/// key); an empty string leaves that action without one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default, deny_unknown_fields)]
pub struct Hotkeys {
    pub screen: String,
    pub area: String,
    pub window: String,
    pub record: String,
    pub upload: String,
}

impl Default for Hotkeys {
    fn default() -> Self {
        Hotkeys {
            screen: "Ctrl+Shift+3".into(),
            area: "Ctrl+Shift+4".into(),
            window: "Ctrl+Shift+W".into(),
            record: "Ctrl+Shift+5".into(),
            upload: "Ctrl+Shift+U".into(),
        }
    }
}

impl Hotkeys {
    /// (action, keys) for each bound action.
    pub fn bound(&self) -> Vec<(&'static str, &str)> {
        [
            ("screen", self.screen.as_str()),
            ("area", self.area.as_str()),
            ("window", self.window.as_str()),
            ("record", self.record.as_str()),
            ("upload", self.upload.as_str()),
        ]
        .into_iter()
        .filter(|(_, keys)| !keys.trim().is_empty())
        .collect()
    }
}

/// What goes on the clipboard when a drop is made (the `copy` setting,
/// `--copy` on the command line, the Settings window's choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum OnClipboard {
    /// The link (several: one per line).
    #[default]
    Link,
    /// The captured image itself (captures only; files copy their link).
    Image,
    /// Nothing.
    None,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: None,
            credentials: CredentialBackend::Keyring,
            parallel: 4,
            copy: OnClipboard::Link,
            image: dropcast_encode::Settings::default(),
            cursor: false,
            after: After::default(),
            hotkeys: Hotkeys::default(),
            record: Record::default(),
        }
    }
}

impl Settings {
    /// Reads `config.toml` (absent is fine) and applies `DROPCAST_SERVER`,
    /// `DROPCAST_CREDENTIALS` and `DROPCAST_PARALLEL`.
    pub fn load(dirs: &Dirs) -> Result<Settings, SettingsError> {
        let path = dirs.config_file();
        let mut s: Settings = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| SettingsError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
            Err(source) => return Err(SettingsError::Io { path, source }),
        };
        let env_error = |name: &str, message: String| SettingsError::Invalid {
            path: PathBuf::from(format!("${name}")),
            message,
        };
        if let Ok(v) = std::env::var("DROPCAST_SERVER") {
            s.server = Some(v);
        }
        if let Ok(v) = std::env::var("DROPCAST_CREDENTIALS") {
            s.credentials = match v.as_str() {
                "keyring" => CredentialBackend::Keyring,
                "file" => CredentialBackend::File,
                other => {
                    return Err(env_error(
                        "DROPCAST_CREDENTIALS",
                        format!("{other:?}: use \"keyring\" or \"file\""),
                    ))
                }
            };
        }
        if let Ok(v) = std::env::var("DROPCAST_PARALLEL") {
            s.parallel = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                env_error("DROPCAST_PARALLEL", format!("{v:?}: use a number >= 1"))
            })?;
        }
        Ok(s)
    }

    /// Writes `config.toml` (the environment's overrides included).
    pub fn save(&self, dirs: &Dirs) -> Result<(), SettingsError> {
        let path = dirs.config_file();
        let io = |source| SettingsError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(&dirs.config).map_err(io)?;
        let text = toml::to_string_pretty(self).expect("settings serialize");
        std::fs::write(&path, text).map_err(io)
    }
}
