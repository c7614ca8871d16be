//! Random ids, API tokens, password hashes and signed part URLs.
//!
//! Tokens are 256 random bits; the server keeps only their SHA-256 (a fast
//! hash is right for high-entropy secrets). Passwords, which people choose,
//! are hashed with argon2. Part URLs carry an HMAC-SHA256 over the drop id,
//! the part number and the expiry, keyed by a secret kept in the database,
//! so any server process (or a Lambda) can check them without shared memory.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dropcast_api::Crc64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A drop id: 72 random bits as 12 URL-safe characters.
pub fn new_drop_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<9>())
}

/// An id for a user, token or stored part: 96 random bits.
pub fn new_id() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<12>())
}

/// A fresh API (or per-drop delete) token: `dc_` and 256 random bits.
pub fn new_token() -> String {
    format!("dc_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// A webhook's signing secret: `whsec_` and 256 random bits.
pub fn new_webhook_secret() -> String {
    format!("whsec_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares two strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| anyhow::anyhow!("making a salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Signs and checks part URLs, and the grants a browser holds for a
/// protected drop (a correct password, or a counted view).
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: Vec<u8>) -> Self {
        Signer { key }
    }

    /// A new random signing key, hex encoded for storage.
    pub fn generate_key() -> String {
        hex::encode(random_bytes::<32>())
    }

    /// An HMAC of `what`, whose first line names its purpose, so a
    /// signature for one purpose never passes for another.
    fn mac(&self, what: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("hmac takes any key");
        mac.update(what.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The signature of a part URL: for one drop, part number, expiry and
    /// the checksum the part's bytes must have (its header is signed, as in
    /// an S3 presigned URL).
    pub fn sign(&self, drop_id: &str, number: u32, expires: i64, crc: Crc64) -> String {
        self.mac(&format!(
            "part\n{drop_id}\n{number}\n{expires}\n{}",
            crc.to_hex()
        ))
    }

    /// A grant for `drop_id` until `expires` (unix ms): `{expires}.{mac}`.
    pub fn grant(&self, drop_id: &str, expires: i64) -> String {
        format!(
            "{expires}.{}",
            self.mac(&format!("grant\n{drop_id}\n{expires}"))
        )
    }

    /// Whether `grant` is one of ours for `drop_id`, unexpired at `now`.
    pub fn check_grant(&self, drop_id: &str, grant: &str, now: i64) -> bool {
        let Some((expires, _)) = grant.split_once('.') else {
            return false;
        };
        let Ok(expires) = expires.parse::<i64>() else {
            return false;
        };
        expires > now && constant_time_eq(self.grant(drop_id, expires).as_bytes(), grant.as_bytes())
    }

    /// The token a drop's password form carries.
    pub fn form_token(&self, drop_id: &str) -> String {
        self.mac(&format!("form\n{drop_id}"))
    }

    pub fn verify(&self, drop_id: &str, number: u32, expires: i64, crc: Crc64, sig: &str) -> bool {
        constant_time_eq(
            self.sign(drop_id, number, expires, crc).as_bytes(),
            sig.as_bytes(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_ids_are_short_url_safe_and_distinct() {
        let a = new_drop_id();
        assert_eq!(a.len(), 12);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, new_drop_id());
    }

    #[test]
    fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn grants_bind_their_drop_and_expire() {
        let s = Signer::new(b"k".to_vec());
        let g = s.grant("abc", 1000);
        assert!(s.check_grant("abc", &g, 999));
        assert!(!s.check_grant("abc", &g, 1000), "expired");
        assert!(!s.check_grant("abd", &g, 999), "another drop");
        assert!(!s.check_grant("abc", "2000.00", 999), "forged");
        assert!(!s.check_grant("abc", &g.replace("1000.", "9000."), 999));
    }

    #[test]
    fn signatures_bind_drop_part_expiry_and_checksum() {
        let s = Signer::new(b"k".to_vec());
        let crc = Crc64::of(b"part");
        let sig = s.sign("abc", 3, 100, crc);
        assert!(s.verify("abc", 3, 100, crc, &sig));
        assert!(!s.verify("abc", 4, 100, crc, &sig));
        assert!(!s.verify("abd", 3, 100, crc, &sig));
        assert!(!s.verify("abc", 3, 101, crc, &sig));
        assert!(!s.verify("abc", 3, 100, Crc64::of(b"other"), &sig));
        assert!(!Signer::new(b"other".to_vec()).verify("abc", 3, 100, crc, &sig));
    }
}
