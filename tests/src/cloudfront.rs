//! CloudFront's side of a signed URL, as its developer guide describes it
//! ("Create a signed URL using a canned policy"), for tests of the URLs
//! the server signs: there is no CloudFront on this machine. openssl
//! makes the RSA key and checks the signature, so the check shares no code
//! with the signer.

use base64::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

/// An RSA 2048 key pair made by `openssl genpkey`, as the README tells an
/// operator to make one: the private key's PEM (PKCS#8) and the public
/// key's file (SPKI PEM), in `dir`.
pub fn key_pair(dir: &Path) -> (String, PathBuf) {
    let private = dir.join("raw-signing-key.pem");
    let public = dir.join("raw-signing-key.pub.pem");
    let made = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&private)
        .output()
        .expect("running openssl");
    assert!(made.status.success(), "openssl genpkey: {made:?}");
    let made = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&private)
        .arg("-out")
        .arg(&public)
        .output()
        .unwrap();
    assert!(made.status.success(), "openssl pkey -pubout: {made:?}");
    (std::fs::read_to_string(&private).unwrap(), public)
}

/// The value of query parameter `name` in `url`, as it stands there.
pub fn query_value<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

/// Whether CloudFront would take `url` at unix time `now`: the policy it
/// rebuilds from the URL (the URL without its signing parameters, and
/// `Expires`) carries a valid SHA-256 RSA signature by `public`'s key,
/// and has not run out.
pub fn accepts(url: &str, public: &Path, now: i64) -> bool {
    let Some((path, query)) = url.split_once('?') else {
        return false;
    };
    let signing = ["Expires", "Signature", "Key-Pair-Id", "Hash-Algorithm"];
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !signing.iter().any(|s| p.split('=').next() == Some(s)))
        .collect();
    let resource = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    let (Some(expires), Some(signature), Some("SHA256")) = (
        query_value(url, "Expires").and_then(|e| e.parse::<i64>().ok()),
        query_value(url, "Signature"),
        query_value(url, "Hash-Algorithm"),
    ) else {
        return false;
    };
    if expires <= now {
        return false;
    }
    let signature: String = signature
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '=',
            '~' => '/',
            c => c,
        })
        .collect();
    let Ok(signature) = base64::engine::general_purpose::STANDARD.decode(signature) else {
        return false;
    };
    let policy = format!(
        r#"{{"Statement":[{{"Resource":"{resource}","Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy"), policy).unwrap();
    std::fs::write(dir.path().join("signature"), signature).unwrap();
    Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(public)
        .arg("-signature")
        .arg(dir.path().join("signature"))
        .arg(dir.path().join("policy"))
        .output()
        .expect("running openssl")
        .status
        .success()
}
