//! Webhooks: what Dropcast POSTs to a user's URL when one of their drops
//! completes, and how a receiver checks it came from their server.
//!
//! Each delivery carries `Dropcast-Signature: t=UNIX_SECONDS,v1=HEX`, the
//! HMAC-SHA256, keyed with the webhook's secret, of `"{t}.{body}"`. A
//! receiver recomputes it with [`verify`], which also refuses a signature
//! older than the tolerance it is given (a replayed delivery).
//! `Dropcast-Delivery` is the event's id: the same delivery may come twice,
//! so a receiver that must act once keys on it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "dropcast-signature";
pub const DELIVERY_HEADER: &str = "dropcast-delivery";
pub const EVENT_HEADER: &str = "dropcast-event";

/// The `Dropcast-Signature` value of `body` signed at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac(secret, timestamp, body))
    )
}

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The header is not `t=...,v1=...`.
    Malformed,
    /// Signed longer ago (or further ahead) than the tolerance.
    Stale,
    /// Not signed with this secret, or the body changed.
    Mismatch,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VerifyError::Malformed => "the signature header is not t=...,v1=...",
            VerifyError::Stale => "the signature is too old: a replay, or a clock far off",
            VerifyError::Mismatch => "the signature does not match the body and the secret",
        })
    }
}

impl std::error::Error for VerifyError {}

/// Checks a delivery: `header` is its `Dropcast-Signature`, `now` the
/// receiver's clock (unix seconds).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for field in header.split(',') {
        match field.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    if (now - timestamp).abs() > tolerance_secs {
        return Err(VerifyError::Stale);
    }
    // verify_slice compares in constant time.
    let ok = signatures.iter().any(|s| {
        hex::decode(s)
            .is_ok_and(|given| keyed(secret, timestamp, body).verify_slice(&given).is_ok())
    });
    if ok {
        Ok(())
    } else {
        Err(VerifyError::Mismatch)
    }
}

fn keyed(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    m.update(format!("{timestamp}.").as_bytes());
    m.update(body);
    m
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    keyed(secret, timestamp, body)
        .finalize()
        .into_bytes()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_with_its_secret_and_body_only_and_not_when_stale() {
        let body = br#"{"event":"drop.completed"}"#;
        let header = sign("s3cret", 1_000, body);
        assert!(header.starts_with("t=1000,v1="));
        assert_eq!(verify("s3cret", &header, body, 1_010, 300), Ok(()));
        assert_eq!(
            verify("other", &header, body, 1_010, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(
                "s3cret",
                &header,
                b"{\"event\":\"drop.deleted\"}",
                1_010,
                300
            ),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify("s3cret", &header, body, 2_000, 300),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify("s3cret", "v1=00", body, 1_000, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify("s3cret", "t=1000,v1=zz", body, 1_000, 300),
            Err(VerifyError::Mismatch)
        );
    }
}
