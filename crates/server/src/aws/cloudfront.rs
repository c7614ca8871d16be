//! CloudFront signed URLs: how a browser is sent to a drop's bytes when a
//! CloudFront distribution serves the bucket (through origin access
//! control, so the bucket answers no one else) and adds the headers that
//! keep uploaded content inert (`nosniff`, a sandbox CSP, CORP).
//!
//! The distribution trusts a key group holding the public half of an RSA
//! 2048 key; the API signs each URL with the private half after its own
//! access rules (password, expiry, privacy) have said yes, so the URL is
//! the grant, as a presigned S3 URL is without CloudFront. A URL has a
//! canned policy: the exact URL, valid until a time. Its signature is
//! RSASSA-PKCS1-v1_5 with SHA-256 over the policy (`Hash-Algorithm=SHA256`).
//! Written from CloudFront's developer guide, "Create a signed URL using a
//! canned policy".

use crate::aws::sigv4::{encode_path, encode_value};
use base64::Engine;
use dropcast_api::Sensitive;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};

/// Signs URLs under one CloudFront distribution's domain.
pub struct UrlSigner {
    /// `https://d111111abcdef8.cloudfront.net`, no trailing slash.
    base: String,
    /// The CloudFront public key's id (`K2JCJMDEHXQW5F`).
    key_id: String,
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl UrlSigner {
    /// `pem` is the private key: PKCS#8 (`BEGIN PRIVATE KEY`, what
    /// `openssl genpkey` writes) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn new(base: &str, key_id: &str, pem: &Sensitive<String>) -> Result<UrlSigner, String> {
        const HOW: &str = "make one with `openssl genpkey -algorithm RSA -pkeyopt \
                           rsa_keygen_bits:2048` (see README.md, \"Deploy to AWS\")";
        let (label, der) =
            pem_body(pem.expose()).ok_or_else(|| format!("the key is not a PEM block; {HOW}"))?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => {
                return Err(format!(
                    "the key is a {other}, not an RSA private key; {HOW}"
                ))
            }
        }
        .map_err(|e| format!("the key is not a usable RSA private key ({e}); {HOW}"))?;
        let bits = key.public().modulus_len() * 8;
        if bits != 2048 {
            return Err(format!(
                "the key has {bits} bits; CloudFront takes RSA keys of 2048 bits: {HOW}"
            ));
        }
        Ok(UrlSigner {
            base: base.trim_end_matches('/').to_string(),
            key_id: key_id.to_string(),
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The signed URL of `key` (an object key, as in the bucket) with
    /// `query` (S3's `response-*` overrides, which the distribution
    /// forwards), valid until `expires` (unix seconds).
    pub fn url(&self, key: &str, query: &[(&str, &str)], expires: i64) -> String {
        let mut resource = format!("{}/{}", self.base, encode_path(key));
        for (i, (name, value)) in query.iter().enumerate() {
            resource.push(if i == 0 { '?' } else { '&' });
            resource.push_str(&format!("{}={}", encode_value(name), encode_value(value)));
        }
        let signature = self.sign(canned_policy(&resource, expires).as_bytes());
        let sep = if query.is_empty() { '?' } else { '&' };
        format!(
            "{resource}{sep}Expires={expires}&Signature={signature}&Key-Pair-Id={}\
             &Hash-Algorithm=SHA256",
            self.key_id
        )
    }

    /// The policy's signature, in CloudFront's URL-safe base64.
    fn sign(&self, policy: &[u8]) -> String {
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, policy, &mut signature)
            .expect("an RSA key that loaded signs");
        url_safe(&signature)
    }
}

/// CloudFront checks a canned policy it rebuilds from the URL it was
/// asked for, so this must be that text to the byte: no white space.
fn canned_policy(resource: &str, expires: i64) -> String {
    format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// Base64 with CloudFront's substitutions: `+` `-`, `=` `_`, `/` `~`.
fn url_safe(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// The label and the decoded body of the first PEM block in `pem`.
fn pem_body(pem: &str) -> Option<(String, Vec<u8>)> {
    let start = pem.find("-----BEGIN ")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_string();
    let body_start = label_end + 5;
    let end = rest.find(&format!("-----END {label}-----"))?;
    let body: String = rest[body_start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dropcast_tests::cloudfront::{accepts, key_pair, query_value};

    #[test]
    fn a_signed_url_verifies_with_the_public_key_and_a_changed_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let (pem, public) = key_pair(dir.path());
        let signer = UrlSigner::new(
            "https://raw.example/",
            "K2JCJMDEHXQW5F",
            &Sensitive::new(pem),
        )
        .unwrap();
        let expires = 1_800_000_000;
        let url = signer.url(
            "drops/abc123",
            &[
                ("response-content-type", "image/png"),
                (
                    "response-content-disposition",
                    "inline; filename=\"a b.png\"",
                ),
            ],
            expires,
        );
        assert!(
            url.starts_with(
                "https://raw.example/drops/abc123?response-content-type=image%2Fpng&\
                 response-content-disposition=inline%3B%20filename%3D%22a%20b.png%22&\
                 Expires=1800000000&Signature="
            ),
            "{url}"
        );
        assert!(
            url.ends_with("&Key-Pair-Id=K2JCJMDEHXQW5F&Hash-Algorithm=SHA256"),
            "{url}"
        );
        assert!(!query_value(&url, "Signature")
            .unwrap()
            .contains(['+', '=', '/']));
        assert!(accepts(&url, &public, expires - 1), "{url}");
        assert!(!accepts(&url, &public, expires), "run out: {url}");

        // Another drop, a longer life, another type: each breaks it.
        for (from, to) in [
            ("abc123", "abc124"),
            ("Expires=1800000000", "Expires=1800000001"),
            ("image%2Fpng", "text%2Fhtml"),
        ] {
            let changed = url.replace(from, to);
            assert!(!accepts(&changed, &public, expires - 1), "{changed}");
        }
        // Another key pair's public half does not take it.
        let elsewhere = tempfile::tempdir().unwrap();
        let (_, other) = key_pair(elsewhere.path());
        assert!(!accepts(&url, &other, expires - 1));
    }

    #[test]
    fn keys_cloudfront_cannot_use_are_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let genpkey = |name: &str, args: &[&str]| {
            let path = dir.path().join(name);
            let ok = std::process::Command::new("openssl")
                .arg("genpkey")
                .args(args)
                .arg("-out")
                .arg(&path)
                .status()
                .unwrap()
                .success();
            assert!(ok, "openssl genpkey {args:?}");
            std::fs::read_to_string(path).unwrap()
        };
        let ec = genpkey(
            "ec.pem",
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        let big = genpkey(
            "big.pem",
            &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
        );
        for (pem, says) in [
            ("not a key".to_string(), "not a PEM block"),
            (ec, "not a usable RSA private key"),
            (big, "3072 bits"),
            (
                "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n".into(),
                "is a PUBLIC KEY",
            ),
        ] {
            let err = UrlSigner::new("https://raw.example", "K1", &Sensitive::new(pem))
                .err()
                .expect("refused");
            assert!(
                err.contains(says) && err.contains("openssl genpkey"),
                "{err}"
            );
        }
    }
}
