//! The sign-in token, kept per server URL: in the OS keyring by default, or
//! by explicit choice (`credentials = "file"`) in a file only its owner can
//! read. With no keyring available the answer is an error that says how to
//! get one; there is never a silent plain-text fallback.

use crate::settings::{CredentialBackend, Dirs};
use crate::Sensitive;
use std::collections::BTreeMap;
use std::path::PathBuf;

const SERVICE: &str = "dropcast";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "no OS keyring to keep the sign-in token in ({0}). On Linux start a Secret Service \
         (gnome-keyring or KeePassXC) on your D-Bus session; or opt in to a file readable only \
         by you: set `credentials = \"file\"` in the client's config.toml or DROPCAST_CREDENTIALS=file"
    )]
    NoKeyring(String),
    #[error("the OS keyring refused: {0}")]
    Keyring(String),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is damaged; delete it and sign in again")]
    Damaged(PathBuf),
}

/// Where tokens are kept.
#[derive(Debug, Clone)]
pub enum Credentials {
    Keyring,
    File(PathBuf),
}

impl Credentials {
    pub fn new(backend: CredentialBackend, dirs: &Dirs) -> Credentials {
        match backend {
            CredentialBackend::Keyring => Credentials::Keyring,
            CredentialBackend::File => Credentials::File(dirs.config.join("credentials.toml")),
        }
    }

    pub fn save(&self, server: &str, token: &Sensitive<String>) -> Result<(), CredentialError> {
        match self {
            Credentials::Keyring => entry(server)?
                .set_password(token.expose())
                .map_err(keyring_error),
            Credentials::File(path) => {
                let mut all = read_file(path)?;
                all.insert(server.to_string(), token.expose().clone());
                write_file(path, &all)
            }
        }
    }

    pub fn load(&self, server: &str) -> Result<Option<Sensitive<String>>, CredentialError> {
        match self {
            Credentials::Keyring => match entry(server)?.get_password() {
                Ok(t) => Ok(Some(Sensitive::new(t))),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(keyring_error(e)),
            },
            Credentials::File(path) => Ok(read_file(path)?.remove(server).map(Sensitive::new)),
        }
    }

    /// Forgets the token; true when there was one.
    pub fn delete(&self, server: &str) -> Result<bool, CredentialError> {
        match self {
            Credentials::Keyring => match entry(server)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(keyring_error(e)),
            },
            Credentials::File(path) => {
                let mut all = read_file(path)?;
                let had = all.remove(server).is_some();
                write_file(path, &all)?;
                Ok(had)
            }
        }
    }
}

fn entry(server: &str) -> Result<keyring::Entry, CredentialError> {
    keyring::Entry::new(SERVICE, server).map_err(keyring_error)
}

fn keyring_error(e: keyring::Error) -> CredentialError {
    match e {
        keyring::Error::NoStorageAccess(inner) => CredentialError::NoKeyring(inner.to_string()),
        keyring::Error::PlatformFailure(inner) => CredentialError::NoKeyring(inner.to_string()),
        other => CredentialError::Keyring(other.to_string()),
    }
}

fn read_file(path: &PathBuf) -> Result<BTreeMap<String, String>, CredentialError> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|_| CredentialError::Damaged(path.clone())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(source) => Err(CredentialError::File {
            path: path.clone(),
            source,
        }),
    }
}

fn write_file(path: &PathBuf, all: &BTreeMap<String, String>) -> Result<(), CredentialError> {
    let io = |source| CredentialError::File {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let text = toml::to_string(all).expect("a string map serializes");
    // Written aside with owner-only permissions, then renamed over: the
    // token is never in a file others can read, not even for a moment.
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    std::io::Write::write_all(&mut f, text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_keeps_tokens_per_server_readable_only_by_the_owner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        let c = Credentials::File(path.clone());
        let t = Sensitive::new("dc_abc".to_string());
        c.save("http://a", &t).unwrap();
        c.save("http://b", &Sensitive::new("dc_b".into())).unwrap();
        assert_eq!(c.load("http://a").unwrap().unwrap().expose(), "dc_abc");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(c.delete("http://a").unwrap());
        assert!(c.load("http://a").unwrap().is_none());
        assert!(!c.delete("http://a").unwrap());
        assert_eq!(c.load("http://b").unwrap().unwrap().expose(), "dc_b");
    }
}
