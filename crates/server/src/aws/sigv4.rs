//! AWS Signature Version 4: presigned URLs (S3's part URLs and download
//! URLs handed to clients) and signed requests (the server's own calls to
//! S3, SNS and WAF). Written from AWS's specification, "Signature Version 4 signing
//! process" and "Authenticating requests: using query parameters".
//!
//! A presigned URL signs the headers it names: a part URL signs
//! `x-amz-checksum-crc64nvme`, so the store refuses a part whose bytes or
//! checksum header differ from what the server signed.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// The longest a presigned URL may live: seven days.
pub const MAX_EXPIRES: u64 = 604_800;

/// The payload hash of a presigned request: the body is not signed.
const UNSIGNED: &str = "UNSIGNED-PAYLOAD";

/// Access keys, from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and, on
/// Lambda, `AWS_SESSION_TOKEN` (which is why a URL dies with the
/// function's session, whatever expiry it asked for).
#[derive(Clone)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    pub fn from_env() -> Option<Credentials> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Some(Credentials {
            access_key: get("AWS_ACCESS_KEY_ID")?,
            secret_key: get("AWS_SECRET_ACCESS_KEY")?,
            session_token: get("AWS_SESSION_TOKEN"),
        })
    }
}

/// One request to sign: everything but the body.
pub struct Request<'a> {
    pub method: &'a str,
    /// `host[:port]`, as the `Host` header will carry it.
    pub host: &'a str,
    /// The path, already percent-encoded (see [`encode_path`]).
    pub path: &'a str,
    /// Query parameters, not encoded.
    pub query: Vec<(String, String)>,
    /// Headers to sign besides `host`, names in lowercase.
    pub headers: Vec<(String, String)>,
}

pub struct Signer {
    pub credentials: Credentials,
    pub region: String,
    /// The service's signing name: `s3`, `sns`, `wafv2`.
    pub service: &'static str,
}

impl Signer {
    /// The query string (without `?`) of a URL that performs `req` until
    /// `expires_in` seconds after `now`. The client must send exactly
    /// `req.headers`.
    pub fn presign(&self, req: &Request, now: OffsetDateTime, expires_in: u64) -> String {
        let (date, stamp) = dates(now);
        let mut query = req.query.clone();
        query.push(("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()));
        query.push((
            "X-Amz-Credential".into(),
            format!("{}/{}", self.credentials.access_key, self.scope(&date)),
        ));
        query.push(("X-Amz-Date".into(), stamp.clone()));
        query.push((
            "X-Amz-Expires".into(),
            expires_in.min(MAX_EXPIRES).to_string(),
        ));
        if let Some(token) = &self.credentials.session_token {
            query.push(("X-Amz-Security-Token".into(), token.clone()));
        }
        let headers = with_host(req);
        query.push(("X-Amz-SignedHeaders".into(), signed_names(&headers)));
        let canonical_query = canonical_query(&query);
        let signature = self.signature(req, &canonical_query, &headers, UNSIGNED, &date, &stamp);
        format!("{canonical_query}&X-Amz-Signature={signature}")
    }

    /// The headers to add to `req` (besides its own) so that AWS takes it:
    /// `authorization`, `x-amz-date`, `x-amz-content-sha256` and maybe
    /// `x-amz-security-token`. `body` is what will be sent.
    pub fn sign(&self, req: &Request, body: &[u8], now: OffsetDateTime) -> Vec<(String, String)> {
        let (date, stamp) = dates(now);
        let payload = hex::encode(Sha256::digest(body));
        let mut extra = vec![
            ("x-amz-content-sha256".to_string(), payload.clone()),
            ("x-amz-date".to_string(), stamp.clone()),
        ];
        if let Some(token) = &self.credentials.session_token {
            extra.push(("x-amz-security-token".to_string(), token.clone()));
        }
        let mut all = Request {
            method: req.method,
            host: req.host,
            path: req.path,
            query: Vec::new(),
            headers: req.headers.clone(),
        };
        all.headers.extend(extra.iter().cloned());
        let headers = with_host(&all);
        let signature = self.signature(
            req,
            &canonical_query(&req.query),
            &headers,
            &payload,
            &date,
            &stamp,
        );
        extra.push((
            "authorization".to_string(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{},SignedHeaders={},Signature={signature}",
                self.credentials.access_key,
                self.scope(&date),
                signed_names(&headers)
            ),
        ));
        extra
    }

    fn scope(&self, date: &str) -> String {
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }

    fn signature(
        &self,
        req: &Request,
        canonical_query: &str,
        headers: &[(String, String)],
        payload: &str,
        date: &str,
        stamp: &str,
    ) -> String {
        let canonical_headers: String = headers
            .iter()
            .map(|(k, v)| {
                // Trimmed, and runs of spaces inside made one.
                let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
                format!("{k}:{value}\n")
            })
            .collect();
        let canonical = format!(
            "{}\n{}\n{canonical_query}\n{canonical_headers}\n{}\n{payload}",
            req.method,
            req.path,
            signed_names(headers)
        );
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{}\n{}",
            self.scope(date),
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(
            format!("AWS4{}", self.credentials.secret_key).as_bytes(),
            date.as_bytes(),
        );
        for part in [
            self.region.as_bytes(),
            self.service.as_bytes(),
            b"aws4_request",
        ] {
            key = hmac(&key, part);
        }
        hex::encode(hmac(&key, to_sign.as_bytes()))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac takes any key");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ`, in UTC.
fn dates(now: OffsetDateTime) -> (String, String) {
    let t = now.to_offset(time::UtcOffset::UTC);
    let date = format!("{:04}{:02}{:02}", t.year(), u8::from(t.month()), t.day());
    let stamp = format!("{date}T{:02}{:02}{:02}Z", t.hour(), t.minute(), t.second());
    (date, stamp)
}

/// The request's headers and `host`, sorted by name.
fn with_host(req: &Request) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    headers.push(("host".into(), req.host.to_string()));
    headers.sort();
    headers
}

fn signed_names(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (encode(k, true), encode(v, true)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A path for [`Request::path`]: each segment percent-encoded, slashes kept.
pub fn encode_path(path: &str) -> String {
    encode(path, false)
}

/// A query value as it goes in a URL: the encoding the signature covers.
pub fn encode_value(v: &str) -> String {
    encode(v, true)
}

/// Percent-encodes all but the unreserved characters (and `/` unless
/// `slash`), as SigV4 wants: uppercase hex, space as `%20`.
fn encode(s: &str, slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b'/' if !slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_signer() -> Signer {
        // The credentials of AWS's published SigV4 examples for S3.
        Signer {
            credentials: Credentials {
                access_key: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
                session_token: None,
            },
            region: "us-east-1".into(),
            service: "s3",
        }
    }

    #[test]
    fn a_presigned_get_matches_the_aws_documentation_example() {
        // "Authenticating Requests: Using Query Parameters", the example
        // GET of /test.txt from examplebucket valid for 86400 s.
        let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
        let req = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: Vec::new(),
            headers: Vec::new(),
        };
        let q = example_signer().presign(&req, now, 86400);
        assert!(
            q.ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{q}"
        );
    }

    #[test]
    fn a_signed_get_with_a_range_matches_the_aws_documentation_example() {
        // "Signature Calculations for the Authorization Header", example
        // "GET Object" with Range: bytes=0-9.
        let now = time::macros::datetime!(2013-05-24 00:00:00 UTC);
        let req = Request {
            method: "GET",
            host: "examplebucket.s3.amazonaws.com",
            path: "/test.txt",
            query: Vec::new(),
            headers: vec![("range".into(), "bytes=0-9".into())],
        };
        let headers = example_signer().sign(&req, b"", now);
        let auth = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        assert!(
            auth.ends_with(
                "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
                 Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
            ),
            "{auth}"
        );
    }

    #[test]
    fn presigned_urls_name_the_headers_they_sign() {
        let req = Request {
            method: "PUT",
            host: "h",
            path: "/b/k",
            query: vec![("partNumber".into(), "1".into())],
            headers: vec![("x-amz-checksum-crc64nvme".into(), "AAAAAAAAAAA=".into())],
        };
        let q = example_signer().presign(&req, OffsetDateTime::UNIX_EPOCH, 60);
        assert!(
            q.contains("X-Amz-SignedHeaders=host%3Bx-amz-checksum-crc64nvme"),
            "{q}"
        );
        assert!(q.contains("partNumber=1"));
    }
}
