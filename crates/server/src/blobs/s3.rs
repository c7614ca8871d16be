//! Bytes in S3 (or anything that speaks its API and checks its
//! signatures and checksums, such as SeaweedFS in the tests).
//!
//! A drop's bytes are one object, `drops/{id}`, written by a multipart
//! upload whose checksum is CRC64-NVME of type `FULL_OBJECT`. Clients send
//! the parts straight to S3 through presigned `UploadPart` URLs that sign
//! each part's checksum header, so S3 refuses a damaged part, and S3 checks
//! the whole file's checksum at `CompleteMultipartUpload`. No byte of a
//! drop passes through the server, either way: downloads are presigned
//! `GetObject` URLs. The server itself reads only the first bytes of an
//! object (to sniff its type) and thumbnails' sources.
//!
//! The requests are the few S3 calls this needs, signed with [`sigv4`],
//! and their XML answers are read with [`xml`]; see each call for the
//! S3 operation it is.

use crate::aws::sigv4::{self, Credentials, Request};
use crate::aws::xml;
use dropcast_api::{self as api, Crc64};
use std::ops::Range;
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    /// S3 answered with an error document.
    #[error("S3 {operation}: {code}: {message} (HTTP {status})")]
    Refused {
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("S3 {operation}: {source}")]
    Http {
        operation: &'static str,
        source: reqwest::Error,
    },
    #[error("S3 {operation}: an answer without {what}")]
    Unexpected {
        operation: &'static str,
        what: &'static str,
    },
}

impl S3Error {
    /// S3's error code, such as `BadDigest` or `InvalidPart`.
    pub fn code(&self) -> Option<&str> {
        match self {
            S3Error::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

type Result<T, E = S3Error> = std::result::Result<T, E>;

#[derive(Debug, Clone)]
pub struct S3Config {
    /// `http(s)://host[:port]`, no trailing slash: the API endpoint.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// `endpoint/bucket/key` rather than `bucket.endpoint/key`.
    pub path_style: bool,
    /// Deletes go in batches of up to 1,000 keys (DeleteObjects); off,
    /// one DeleteObject per key, for stores without DeleteObjects.
    pub batch_delete: bool,
}

pub struct S3 {
    config: S3Config,
    signer: sigv4::Signer,
    http: reqwest::Client,
    /// A CloudFront distribution that serves the bucket: download URLs
    /// are its signed URLs rather than presigned ones on the bucket.
    raw_cdn: Option<crate::aws::cloudfront::UrlSigner>,
}

impl S3 {
    pub fn new(config: S3Config, credentials: Credentials) -> S3 {
        let http = crate::aws::http_client();
        S3 {
            signer: sigv4::Signer {
                credentials,
                region: config.region.clone(),
                service: "s3",
            },
            config,
            http,
            raw_cdn: None,
        }
    }

    /// Downloads go through the CloudFront distribution `cdn` signs for.
    pub fn with_raw_cdn(self, cdn: crate::aws::cloudfront::UrlSigner) -> S3 {
        S3 {
            raw_cdn: Some(cdn),
            ..self
        }
    }

    /// (scheme, host, path) of `key`.
    fn location(&self, key: &str) -> (&str, String, String) {
        let (scheme, host) = self
            .config
            .endpoint
            .split_once("://")
            .unwrap_or(("https", &self.config.endpoint));
        let key = sigv4::encode_path(key);
        if self.config.path_style {
            (
                scheme,
                host.to_string(),
                format!("/{}/{key}", self.config.bucket),
            )
        } else {
            (
                scheme,
                format!("{}.{host}", self.config.bucket),
                format!("/{key}"),
            )
        }
    }

    /// `scheme://host[:port]` of the objects' URLs.
    pub fn origin(&self) -> String {
        let (scheme, host, _) = self.location("");
        format!("{scheme}://{host}")
    }

    fn url(&self, key: &str, query: &str) -> String {
        let (scheme, host, path) = self.location(key);
        if query.is_empty() {
            format!("{scheme}://{host}{path}")
        } else {
            format!("{scheme}://{host}{path}?{query}")
        }
    }

    /// Sends a request signed in its headers; answers the response if 2xx.
    async fn call(
        &self,
        operation: &'static str,
        method: reqwest::Method,
        key: &str,
        query: Vec<(String, String)>,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<reqwest::Response> {
        let (_, host, path) = self.location(key);
        let req = Request {
            method: method.as_str(),
            host: &host,
            path: &path,
            query: query.clone(),
            headers: headers.clone(),
        };
        let auth = self.signer.sign(&req, &body, OffsetDateTime::now_utc());
        let query_string = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={}", sigv4::encode_value(v))
                }
            })
            .collect::<Vec<_>>()
            .join("&");
        let mut rb = self
            .http
            .request(method, self.url(key, &query_string))
            .timeout(std::time::Duration::from_secs(60));
        for (k, v) in headers.iter().chain(auth.iter()) {
            rb = rb.header(k, v);
        }
        let resp = rb
            .body(body)
            .send()
            .await
            .map_err(|source| S3Error::Http { operation, source })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Err(S3Error::Refused {
            operation,
            status,
            code: xml::first(&text, "Code").unwrap_or_else(|| format!("HTTP {status}")),
            message: xml::first(&text, "Message").unwrap_or_default(),
        })
    }

    /// CreateMultipartUpload, with a CRC64-NVME full-object checksum.
    /// Answers the upload id.
    pub async fn begin(&self, key: &str) -> Result<String> {
        let op = "CreateMultipartUpload";
        let resp = self
            .call(
                op,
                reqwest::Method::POST,
                key,
                vec![("uploads".into(), String::new())],
                vec![
                    ("x-amz-checksum-algorithm".into(), "CRC64NVME".into()),
                    ("x-amz-checksum-type".into(), "FULL_OBJECT".into()),
                ],
                Vec::new(),
            )
            .await?;
        let text = text(op, resp).await?;
        xml::first(&text, "UploadId").ok_or(S3Error::Unexpected {
            operation: op,
            what: "an UploadId",
        })
    }

    /// A presigned UploadPart URL for `part`, valid for `ttl` seconds (at
    /// most S3's seven days; with session credentials, as on Lambda, S3
    /// also refuses it once they lapse, and the client asks again). It
    /// signs the part's checksum and length, which the client must send as
    /// given: S3 refuses other bytes, and a part bigger than was declared.
    pub fn part_url(
        &self,
        key: &str,
        upload_id: &str,
        part: api::PartToSend,
        ttl: u64,
    ) -> api::PartUrl {
        let (_, host, path) = self.location(key);
        let signed = vec![
            (api::CHECKSUM_HEADER.to_string(), part.crc64nvme.to_base64()),
            ("content-length".to_string(), part.size.to_string()),
        ];
        let req = Request {
            method: "PUT",
            host: &host,
            path: &path,
            query: vec![
                ("partNumber".into(), part.number.to_string()),
                ("uploadId".into(), upload_id.to_string()),
            ],
            headers: signed.clone(),
        };
        let now = OffsetDateTime::now_utc();
        let ttl = ttl.min(sigv4::MAX_EXPIRES);
        let query = self.signer.presign(&req, now, ttl);
        api::PartUrl {
            number: part.number,
            url: self.url(key, &query),
            headers: signed.into_iter().collect(),
            expires_at: now + time::Duration::seconds(ttl as i64),
        }
    }

    /// ListParts, every page of it.
    pub async fn parts(&self, key: &str, upload_id: &str) -> Result<Vec<api::StoredPart>> {
        Ok(self
            .list_parts(key, upload_id)
            .await?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    /// Bytes stored so far by an upload, and when its last part arrived
    /// (unix ms; `None`: no part yet), from ListParts.
    pub async fn received(&self, key: &str, upload_id: &str) -> Result<(u64, Option<i64>)> {
        let parts = self.list_parts(key, upload_id).await?;
        let bytes = parts.iter().map(|(p, _)| p.size).sum();
        let last = parts.iter().filter_map(|(_, at)| *at).max();
        Ok((bytes, last))
    }

    /// ListParts, every page of it: each part with when it was stored.
    async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
    ) -> Result<Vec<(api::StoredPart, Option<i64>)>> {
        let op = "ListParts";
        let mut parts = Vec::new();
        let mut marker = 0u32;
        loop {
            let mut query = vec![("uploadId".to_string(), upload_id.to_string())];
            if marker > 0 {
                query.push(("part-number-marker".into(), marker.to_string()));
            }
            let resp = self
                .call(op, reqwest::Method::GET, key, query, Vec::new(), Vec::new())
                .await?;
            let text = text(op, resp).await?;
            for part in xml::all(&text, "Part") {
                let number = xml::first(&part, "PartNumber").and_then(|v| v.parse().ok());
                let size = xml::first(&part, "Size").and_then(|v| v.parse().ok());
                let etag = xml::first(&part, "ETag");
                let (Some(number), Some(size), Some(etag)) = (number, size, etag) else {
                    return Err(S3Error::Unexpected {
                        operation: op,
                        what: "a part's number, size and ETag",
                    });
                };
                let stored_at = xml::first(&part, "LastModified")
                    .and_then(|t| {
                        OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
                parts.push((
                    api::StoredPart {
                        number,
                        etag: etag.trim_matches('"').to_string(),
                        size,
                        // AWS lists it for an upload begun with CRC64NVME;
                        // SeaweedFS does not.
                        crc64nvme: xml::first(&part, "ChecksumCRC64NVME")
                            .and_then(|c| Crc64::from_base64(&c)),
                    },
                    stored_at,
                ));
            }
            let truncated = xml::first(&text, "IsTruncated").as_deref() == Some("true");
            let next = xml::first(&text, "NextPartNumberMarker").and_then(|v| v.parse().ok());
            match next {
                Some(n) if truncated && n > marker => marker = n,
                _ => return Ok(parts),
            }
        }
    }

    /// CompleteMultipartUpload with the whole object's CRC64-NVME, which S3
    /// checks against the parts it holds.
    pub async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[api::CompletePart],
        whole: Crc64,
        size: u64,
    ) -> Result<()> {
        let op = "CompleteMultipartUpload";
        let mut body = String::from("<CompleteMultipartUpload>");
        for p in parts {
            body.push_str(&format!(
                "<Part><PartNumber>{}</PartNumber><ETag>\"{}\"</ETag></Part>",
                p.number,
                xml::escape(p.etag.trim_matches('"'))
            ));
        }
        body.push_str("</CompleteMultipartUpload>");
        let resp = self
            .call(
                op,
                reqwest::Method::POST,
                key,
                vec![("uploadId".into(), upload_id.to_string())],
                vec![
                    (api::CHECKSUM_HEADER.into(), whole.to_base64()),
                    ("x-amz-checksum-type".into(), "FULL_OBJECT".into()),
                    ("x-amz-mp-object-size".into(), size.to_string()),
                    ("content-type".into(), "application/xml".into()),
                ],
                body.into_bytes(),
            )
            .await?;
        // S3 can answer 200 with an error document once it has started.
        let text = text(op, resp).await?;
        if let Some(code) = xml::first(&text, "Code") {
            return Err(S3Error::Refused {
                operation: op,
                status: 200,
                code,
                message: xml::first(&text, "Message").unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// AbortMultipartUpload; an upload already gone is not an error.
    pub async fn abort(&self, key: &str, upload_id: &str) -> Result<()> {
        match self
            .call(
                "AbortMultipartUpload",
                reqwest::Method::DELETE,
                key,
                vec![("uploadId".into(), upload_id.to_string())],
                Vec::new(),
                Vec::new(),
            )
            .await
        {
            Err(e) if e.code() == Some("NoSuchUpload") => Ok(()),
            other => other.map(drop),
        }
    }

    /// DeleteObject; S3 answers success for a key that is not there.
    pub async fn delete(&self, key: &str) -> Result<()> {
        self.call(
            "DeleteObject",
            reqwest::Method::DELETE,
            key,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// HeadBucket: whether the bucket is there and these keys may use it.
    pub async fn check(&self) -> Result<()> {
        self.call(
            "HeadBucket",
            reqwest::Method::HEAD,
            "",
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
        .await
        .map(drop)
    }

    /// ListObjectsV2 under `prefix`, every page: each key with when it
    /// was last written (unix ms).
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, i64)>> {
        let op = "ListObjectsV2";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("list-type".to_string(), "2".to_string()),
                ("prefix".to_string(), prefix.to_string()),
            ];
            if let Some(t) = &token {
                query.push(("continuation-token".into(), t.clone()));
            }
            let resp = self
                .call(op, reqwest::Method::GET, "", query, Vec::new(), Vec::new())
                .await?;
            let text = text(op, resp).await?;
            for object in xml::all(&text, "Contents") {
                let Some(key) = xml::first(&object, "Key") else {
                    continue;
                };
                let at = xml::first(&object, "LastModified").map_or(0, |t| unix_ms(&t));
                out.push((key, at));
            }
            if xml::first(&text, "IsTruncated").as_deref() != Some("true") {
                return Ok(out);
            }
            // More to come, but no way to ask: a listing that stopped
            // short must not pass for the whole (the sweep acts on it).
            token = Some(xml::first(&text, "NextContinuationToken").ok_or(
                S3Error::Unexpected {
                    operation: op,
                    what: "a NextContinuationToken in a truncated listing",
                },
            )?);
        }
    }

    /// ListMultipartUploads under `prefix`, every page: each open upload's
    /// key, upload id and when it began (unix ms).
    pub async fn open_uploads(&self, prefix: &str) -> Result<Vec<(String, String, i64)>> {
        let op = "ListMultipartUploads";
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut query = vec![
                ("uploads".to_string(), String::new()),
                ("prefix".to_string(), prefix.to_string()),
            ];
            if let Some((key, upload)) = &markers {
                query.push(("key-marker".into(), key.clone()));
                query.push(("upload-id-marker".into(), upload.clone()));
            }
            let resp = self
                .call(op, reqwest::Method::GET, "", query, Vec::new(), Vec::new())
                .await?;
            let text = text(op, resp).await?;
            for upload in xml::all(&text, "Upload") {
                let (Some(key), Some(id)) =
                    (xml::first(&upload, "Key"), xml::first(&upload, "UploadId"))
                else {
                    continue;
                };
                let at = xml::first(&upload, "Initiated").map_or(0, |t| unix_ms(&t));
                out.push((key, id, at));
            }
            if xml::first(&text, "IsTruncated").as_deref() != Some("true") {
                return Ok(out);
            }
            let next =
                xml::first(&text, "NextKeyMarker").zip(xml::first(&text, "NextUploadIdMarker"));
            markers = Some(next.ok_or(S3Error::Unexpected {
                operation: op,
                what: "the next markers in a truncated listing",
            })?);
        }
    }

    /// DeleteObjects of `keys`, in requests of up to 1,000 (S3's limit),
    /// four at a time (a store may work through a request's keys one by
    /// one). Quiet mode: S3 answers only the keys it could not delete, and
    /// the first of them is the error. Every request is sent whatever the
    /// others answered. Without `batch_delete`, a DeleteObject per key,
    /// eight at a time.
    pub async fn delete_many(&self, keys: &[String]) -> Result<()> {
        use futures_util::stream::{self, StreamExt};
        let mut done = if self.config.batch_delete {
            stream::iter(keys.chunks(1000).map(<[String]>::to_vec))
                .map(|batch| async move { self.delete_batch(&batch).await })
                .buffer_unordered(4)
                .boxed()
        } else {
            stream::iter(keys.to_vec())
                .map(|key| async move { self.delete(&key).await })
                .buffer_unordered(8)
                .boxed()
        };
        let mut first_error = None;
        while let Some(answer) = done.next().await {
            if let Err(e) = answer {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn delete_batch(&self, keys: &[String]) -> Result<()> {
        const OPERATION: &str = "DeleteObjects";
        let mut body = String::from("<Delete><Quiet>true</Quiet>");
        for key in keys {
            body.push_str(&format!("<Object><Key>{}</Key></Object>", xml::escape(key)));
        }
        body.push_str("</Delete>");
        let body = body.into_bytes();
        // S3 wants the body's checksum on this call; CRC64-NVME is one it
        // takes, in place of Content-MD5.
        let headers = vec![
            ("content-type".to_string(), "application/xml".to_string()),
            (
                api::CHECKSUM_HEADER.to_string(),
                Crc64::of(&body).to_base64(),
            ),
            (
                "x-amz-sdk-checksum-algorithm".to_string(),
                "CRC64NVME".to_string(),
            ),
        ];
        let resp = self
            .call(
                OPERATION,
                reqwest::Method::POST,
                "",
                vec![("delete".into(), String::new())],
                headers,
                body,
            )
            .await?;
        let answer = text(OPERATION, resp).await?;
        let errors = xml::all(&answer, "Error");
        let Some(error) = errors.first() else {
            return Ok(());
        };
        Err(S3Error::Refused {
            operation: OPERATION,
            status: 200,
            code: xml::first(error, "Code").unwrap_or_else(|| "InternalError".into()),
            message: format!(
                "{} of {} keys not deleted, the first {}: {}",
                errors.len(),
                keys.len(),
                xml::first(error, "Key").unwrap_or_default(),
                xml::first(error, "Message").unwrap_or_default()
            ),
        })
    }

    /// PutObject of a small object (a thumbnail, a one-shot upload), with
    /// its CRC64-NVME for S3 to check and keep when given.
    pub async fn put(
        &self,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
        crc: Option<Crc64>,
    ) -> Result<()> {
        let mut headers = vec![("content-type".to_string(), content_type.to_string())];
        if let Some(crc) = crc {
            headers.push((api::CHECKSUM_HEADER.into(), crc.to_base64()));
        }
        self.call(
            "PutObject",
            reqwest::Method::PUT,
            key,
            Vec::new(),
            headers,
            body,
        )
        .await
        .map(drop)
    }

    /// GetObject of `range` (which must not be empty).
    pub async fn read(&self, key: &str, range: Range<u64>) -> Result<reqwest::Response> {
        self.call(
            "GetObject",
            reqwest::Method::GET,
            key,
            Vec::new(),
            vec![(
                "range".into(),
                format!("bytes={}-{}", range.start, range.end.saturating_sub(1)),
            )],
            Vec::new(),
        )
        .await
    }

    /// GetObject of the whole (small) object.
    pub async fn get(&self, key: &str) -> Result<reqwest::Response> {
        self.call(
            "GetObject",
            reqwest::Method::GET,
            key,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
        .await
    }

    /// HeadObject: the object's size and its full-object CRC64-NVME (when
    /// it was stored with one).
    pub async fn stat(&self, key: &str) -> Result<(u64, Option<Crc64>)> {
        let op = "HeadObject";
        let resp = self
            .call(
                op,
                reqwest::Method::HEAD,
                key,
                Vec::new(),
                vec![("x-amz-checksum-mode".into(), "ENABLED".into())],
                Vec::new(),
            )
            .await?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let size = header("content-length")
            .and_then(|v| v.parse().ok())
            .ok_or(S3Error::Unexpected {
                operation: op,
                what: "a Content-Length",
            })?;
        let crc = header(api::CHECKSUM_HEADER).and_then(|v| Crc64::from_base64(&v));
        Ok((size, crc))
    }

    /// A URL for `key`'s bytes valid for `ttl` seconds, whose response
    /// carries `content_type` and `disposition` whatever the object says:
    /// a signed URL of the CloudFront distribution in front of the bucket
    /// when there is one, else a presigned GetObject URL.
    pub fn download_url(
        &self,
        key: &str,
        content_type: &str,
        disposition: &str,
        ttl: u64,
    ) -> String {
        let now = OffsetDateTime::now_utc();
        if let Some(cdn) = &self.raw_cdn {
            return cdn.url(
                key,
                &[
                    ("response-content-type", content_type),
                    ("response-content-disposition", disposition),
                ],
                now.unix_timestamp() + ttl as i64,
            );
        }
        let (_, host, path) = self.location(key);
        let req = Request {
            method: "GET",
            host: &host,
            path: &path,
            query: vec![
                ("response-content-type".into(), content_type.into()),
                ("response-content-disposition".into(), disposition.into()),
            ],
            headers: Vec::new(),
        };
        let query = self.signer.presign(&req, now, ttl);
        self.url(key, &query)
    }
}

async fn text(operation: &'static str, resp: reqwest::Response) -> Result<String> {
    resp.text()
        .await
        .map_err(|source| S3Error::Http { operation, source })
}

/// An RFC 3339 time (S3's `LastModified`, `Initiated`) as unix ms; 0 when
/// unreadable.
fn unix_ms(t: &str) -> i64 {
    OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map_or(0, |t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}
