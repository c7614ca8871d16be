//! [`Sensitive`]: a secret (token, password, key) that never shows itself
//! in `Debug` or `Display` output and has no `Serialize`. It deserializes
//! like what it holds, so a configuration can read one.

use serde::{Deserialize, Deserializer};
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(secret: T) -> Self {
        Sensitive(secret)
    }

    /// The secret itself, for the one place that must send or store it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Sensitive<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Sensitive)
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let s = Sensitive::new("dc_topsecret".to_string());
        assert_eq!(format!("{s:?} {s}"), "<redacted> <redacted>");
        assert_eq!(s.expose(), "dc_topsecret");
    }

    #[test]
    fn a_deserialized_secret_does_not_print_either() {
        #[derive(Debug, Deserialize)]
        struct Settings {
            key: Sensitive<String>,
        }
        let s: Settings = serde_json::from_str(r#"{"key":"hunter2"}"#).unwrap();
        assert_eq!(s.key.expose(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
