//! The AWS services the server calls itself, with no SDK: request signing
//! ([`sigv4`]), the XML of their answers ([`xml`]), SNS's Publish
//! ([`sns`]) and WAF's IP sets ([`waf`]). S3 is [`crate::blobs::s3`].
//! [`cloudfront`] signs the URLs a CloudFront distribution in front of the
//! bucket accepts (no call to AWS).
//!
//! Each call is one signed HTTPS request; [`Service`] holds what they
//! share: the endpoint, the signer and an HTTP client with timeouts.

pub mod cloudfront;
pub mod sigv4;
pub mod sns;
pub mod waf;
pub mod xml;

use sigv4::{Credentials, Request, Signer};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{service} {operation}: {source}")]
    Http {
        service: &'static str,
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{service} {operation} was refused ({status} {code}): {message}")]
    Refused {
        service: &'static str,
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{service} {operation}: unexpected answer: {detail}")]
    Unexpected {
        service: &'static str,
        operation: &'static str,
        detail: String,
    },
}

/// The one HTTP client of every call to AWS (S3, SNS, WAF) in a process:
/// building a client builds a TLS configuration with its root store, which
/// a Lambda function would otherwise pay for once per service at each cold
/// start. Each call sets its own total timeout.
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .build()
                .expect("a plain HTTP client builds")
        })
        .clone()
}

/// One AWS service at one endpoint.
pub struct Service {
    /// `scheme://host[:port]`.
    endpoint: String,
    signer: Signer,
    http: reqwest::Client,
}

impl Service {
    /// `service` (its signing name) in `region`, at `endpoint` when given
    /// (a local stand-in), else at AWS's `https://{service}.{region}.amazonaws.com`.
    pub fn new(
        service: &'static str,
        region: &str,
        endpoint: Option<&str>,
        credentials: Credentials,
    ) -> Service {
        let endpoint = endpoint.map_or_else(
            || format!("https://{service}.{region}.amazonaws.com"),
            |e| e.trim_end_matches('/').to_string(),
        );
        Service {
            endpoint,
            signer: Signer {
                credentials,
                region: region.to_string(),
                service,
            },
            http: http_client(),
        }
    }

    /// A POST of `body` to `/`, signed; the answer's body when 2xx.
    /// `headers` are sent and signed (names in lowercase).
    async fn post(
        &self,
        operation: &'static str,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<String, AwsError> {
        let service = self.signer.service;
        let host = self
            .endpoint
            .split_once("://")
            .map_or(self.endpoint.as_str(), |(_, h)| h);
        let req = Request {
            method: "POST",
            host,
            path: "/",
            query: Vec::new(),
            headers: headers.clone(),
        };
        let auth = self.signer.sign(&req, &body, OffsetDateTime::now_utc());
        let mut rb = self
            .http
            .post(format!("{}/", self.endpoint))
            .timeout(std::time::Duration::from_secs(20));
        for (k, v) in headers.iter().chain(auth.iter()) {
            rb = rb.header(k, v);
        }
        let resp = rb
            .body(body)
            .send()
            .await
            .map_err(|source| AwsError::Http {
                service,
                operation,
                source,
            })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(|source| AwsError::Http {
            service,
            operation,
            source,
        })?;
        if (200..300).contains(&status) {
            return Ok(text);
        }
        // XML (query protocol) or JSON (`__type` and `message`).
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        let field = |k: &str| {
            json.as_ref()
                .and_then(|j| j.get(k).or_else(|| j.get(k.to_ascii_lowercase())))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        Err(AwsError::Refused {
            service,
            operation,
            status,
            code: xml::first(&text, "Code")
                .or_else(|| field("__type").map(|t| t.rsplit('#').next().unwrap_or(&t).to_string()))
                .unwrap_or_else(|| format!("HTTP {status}")),
            message: xml::first(&text, "Message")
                .or_else(|| field("Message"))
                .unwrap_or_default(),
        })
    }

    /// A call in the query protocol (SNS): `Action` and its parameters as
    /// a form; the XML answer.
    pub async fn query(
        &self,
        action: &'static str,
        version: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsError> {
        let mut form = vec![
            ("Action".to_string(), action.to_string()),
            ("Version".to_string(), version.to_string()),
        ];
        form.extend(params.iter().cloned());
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", sigv4::encode_value(k), sigv4::encode_value(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.post(
            action,
            vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded; charset=utf-8".into(),
            )],
            body.into_bytes(),
        )
        .await
    }

    /// A call in the JSON protocol (WAFv2): `X-Amz-Target: {target}`.
    pub async fn json(
        &self,
        operation: &'static str,
        target: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, AwsError> {
        let text = self
            .post(
                operation,
                vec![
                    ("content-type".into(), "application/x-amz-json-1.1".into()),
                    ("x-amz-target".into(), target.to_string()),
                ],
                body.to_string().into_bytes(),
            )
            .await?;
        serde_json::from_str(&text).map_err(|e| AwsError::Unexpected {
            service: self.signer.service,
            operation,
            detail: e.to_string(),
        })
    }
}

/// The region of an ARN, `arn:PARTITION:SERVICE:REGION:ACCOUNT:...`.
pub fn arn_region(arn: &str) -> Option<&str> {
    let mut fields = arn.split(':');
    (fields.next()? == "arn").then_some(())?;
    fields.nth(2).filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_arn_names_its_region() {
        assert_eq!(
            super::arn_region("arn:aws:sns:eu-west-1:123456789012:dropcast-prod-"),
            Some("eu-west-1")
        );
        assert_eq!(super::arn_region("arn:aws:s3:::bucket"), None);
        assert_eq!(super::arn_region("dropcast"), None);
    }
}
