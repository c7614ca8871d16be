//! Client side of Dropcast: the typed API client and the part uploader.
//!
//! [`Client`] speaks the drop server's JSON API and maps every error body to
//! an [`Error::Api`] carrying its stable [`ErrorCode`]. [`upload_file`]
//! sends a file through the part protocol: each part is read once at its
//! offset and its CRC64-NVME computed as it is read; the parts are sent in
//! parallel to whatever URLs the server hands out, with exactly the headers
//! it names, retried; then the drop is completed with the whole file's
//! CRC64-NVME, combined from the parts' values. It first asks the server
//! which parts it already has, so calling it again after a crash or a
//! server restart sends only the rest (reading the others once, for their
//! checksums).

pub use dropcast_clipboard as clipboard;
pub mod credentials;
pub mod journal;
pub mod live;
pub mod settings;
pub mod share;

pub use dropcast_api::Sensitive;

use dropcast_api as api;
use dropcast_api::ErrorCode;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with an API error.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        status: u16,
        code: ErrorCode,
        message: String,
        parts: Vec<u32>,
    },
    /// The server answered something that is not the API (a proxy, a wrong URL).
    #[error("unexpected answer from the server (HTTP {status}): {body}")]
    Unexpected { status: u16, body: String },
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Journal(#[from] journal::JournalError),
}

impl Error {
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Worth trying again: the network, or the server's own trouble.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Http(_) => true,
            Error::Api { status, .. } | Error::Unexpected { status, .. } => *status >= 500,
            Error::Io(_) | Error::Journal(_) => false,
        }
    }

    /// A part URL that its store no longer takes: expired, or its
    /// signature refused. Asking for a new URL is the cure.
    pub fn is_refused_url(&self) -> bool {
        match self {
            Error::Api { code, .. } => {
                matches!(code, ErrorCode::UrlExpired | ErrorCode::InvalidSignature)
            }
            // An object store's own answer (S3: AccessDenied, "Request has
            // expired", SignatureDoesNotMatch).
            Error::Unexpected { status, .. } => *status == 403,
            _ => false,
        }
    }

    /// The store refused a part because its bytes do not match their
    /// checksum.
    pub fn is_bad_checksum(&self) -> bool {
        match self {
            Error::Api { code, .. } => *code == ErrorCode::ChecksumMismatch,
            Error::Unexpected { status, body } => {
                *status == 400 && (body.contains("BadDigest") || body.contains("InvalidDigest"))
            }
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A signed-in (or anonymous) connection to one drop server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Client {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(16)
            .build()
            .expect("a plain HTTP client builds");
        Client {
            http,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn with_token(&self, token: Option<String>) -> Client {
        Client {
            token,
            ..self.clone()
        }
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let rb = self.http.request(method, url);
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn json<T: DeserializeOwned>(rb: RequestBuilder) -> Result<T> {
        let resp = check(rb.send().await?).await?;
        Ok(resp.json().await?)
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T> {
        Self::json(self.request(method, path).json(body)).await
    }

    pub async fn login(&self, user: &str, password: &str, label: &str) -> Result<api::TokenIssued> {
        let body = api::LoginRequest {
            user: user.into(),
            password: password.into(),
            token_name: Some(label.into()),
        };
        self.call(Method::POST, "/api/v1/auth/login", &body).await
    }

    pub async fn me(&self) -> Result<api::User> {
        Self::json(self.request(Method::GET, "/api/v1/me")).await
    }

    /// The signed-in user's webhook (without its secret).
    pub async fn webhook(&self) -> Result<api::Webhook> {
        Self::json(self.request(Method::GET, "/api/v1/me/webhook")).await
    }

    /// Sets the signed-in user's webhook; the answer holds the secret
    /// that signs its deliveries, once.
    pub async fn set_webhook(&self, req: &api::SetWebhook) -> Result<api::Webhook> {
        self.call(Method::PUT, "/api/v1/me/webhook", req).await
    }

    pub async fn delete_webhook(&self) -> Result<()> {
        check(
            self.request(Method::DELETE, "/api/v1/me/webhook")
                .send()
                .await?,
        )
        .await?;
        Ok(())
    }

    pub async fn create_drop(&self, req: &api::CreateDrop) -> Result<api::Drop> {
        self.call(Method::POST, "/api/v1/drops", req).await
    }

    pub async fn reserve(&self, count: u32) -> Result<Vec<api::Reservation>> {
        let r: api::ReserveResponse = self
            .call(
                Method::POST,
                "/api/v1/drops/reserve",
                &api::ReserveRequest { count },
            )
            .await?;
        Ok(r.reservations)
    }

    pub async fn drop_info(&self, id: &str) -> Result<api::Drop> {
        Self::json(self.request(Method::GET, &format!("/api/v1/drops/{id}"))).await
    }

    pub async fn list_drops(&self, cursor: Option<&str>, limit: u32) -> Result<api::DropList> {
        let mut rb = self
            .request(Method::GET, "/api/v1/drops")
            .query(&[("limit", limit)]);
        if let Some(c) = cursor {
            rb = rb.query(&[("cursor", c)]);
        }
        Self::json(rb).await
    }

    pub async fn update_drop(&self, id: &str, req: &api::UpdateDrop) -> Result<api::Drop> {
        self.call(Method::PATCH, &format!("/api/v1/drops/{id}"), req)
            .await
    }

    /// Deletes a drop; rides out a server restart as uploads do. Gone
    /// when asked again (the first answer lost on the way) is done.
    pub async fn delete_drop(&self, id: &str) -> Result<()> {
        // Whether an earlier try may have reached the server (not one
        // whose connection was refused).
        let reached = std::sync::atomic::AtomicBool::new(false);
        with_retries(ATTEMPTS, || async {
            use std::sync::atomic::Ordering::Relaxed;
            let again = reached.load(Relaxed);
            let sent = self
                .request(Method::DELETE, &format!("/api/v1/drops/{id}"))
                .send()
                .await;
            if !matches!(&sent, Err(e) if e.is_connect()) {
                reached.store(true, Relaxed);
            }
            match check(sent?).await {
                Err(e) if again && e.code() == Some(ErrorCode::NotFound) => Ok(()),
                other => other.map(drop),
            }
        })
        .await
    }

    /// URLs for sending `parts`, signed for their sizes and checksums.
    pub async fn part_urls(
        &self,
        id: &str,
        parts: Vec<api::PartToSend>,
    ) -> Result<Vec<api::PartUrl>> {
        let r: api::PartUrls = self
            .call(
                Method::POST,
                &format!("/api/v1/drops/{id}/parts"),
                &api::PartUrlsRequest { parts },
            )
            .await?;
        Ok(r.parts)
    }

    pub async fn stored_parts(&self, id: &str) -> Result<Vec<api::StoredPart>> {
        let r: api::StoredParts =
            Self::json(self.request(Method::GET, &format!("/api/v1/drops/{id}/parts"))).await?;
        Ok(r.parts)
    }

    /// Sends one part to its URL with exactly the headers it names; returns
    /// the ETag. No bearer token: the URL is its own authorisation, and it
    /// may point at another host (an object store).
    pub async fn put_part(&self, part: &api::PartUrl, bytes: bytes::Bytes) -> Result<String> {
        let mut rb = self.http.put(&part.url).body(bytes);
        for (k, v) in &part.headers {
            rb = rb.header(k, v);
        }
        // A presigned URL carries a signature and, on Lambda, a session
        // token: it stays out of every error (and so of logs and the
        // journal).
        let sent = rb.send().await.map_err(|e| Error::Http(e.without_url()))?;
        let resp = check(sent).await?;
        let etag = resp
            .headers()
            .get(reqwest::header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches('"').to_string())
            .ok_or_else(|| Error::Unexpected {
                status: resp.status().as_u16(),
                body: "a stored part came back without an ETag".into(),
            })?;
        Ok(etag)
    }

    /// Sends part `part` of drop `id` (whose bytes are `bytes`) to `url`,
    /// or to a new URL when `url` is `None`, and returns its ETag.
    ///
    /// Network and server errors are retried (`attempts` tries). A URL the
    /// store refuses (expired, or its signature no longer valid, as when
    /// the credentials that signed it have lapsed) is replaced by a fresh
    /// one. A part whose checksum the store refuses (damaged on the wire)
    /// is sent once more, then reported.
    pub async fn send_part(
        &self,
        id: &str,
        part: api::PartToSend,
        bytes: bytes::Bytes,
        url: Option<api::PartUrl>,
        attempts: u32,
    ) -> Result<String> {
        let mut url = url;
        let mut renewed = 0;
        let mut resent = false;
        loop {
            let to = match url.take() {
                Some(u) => u,
                None => with_retries(attempts, || self.part_urls(id, vec![part]))
                    .await?
                    .into_iter()
                    .find(|u| u.number == part.number)
                    .ok_or_else(|| Error::Unexpected {
                        status: 200,
                        body: format!("no URL came back for part {}", part.number),
                    })?,
            };
            match with_retries(attempts, || self.put_part(&to, bytes.clone())).await {
                Ok(etag) => return Ok(etag),
                Err(e) if e.is_refused_url() && renewed < 3 => renewed += 1,
                Err(e) if e.is_bad_checksum() && !resent => {
                    resent = true;
                    url = Some(to);
                }
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn complete(&self, id: &str, req: &api::CompleteRequest) -> Result<api::Drop> {
        self.call(Method::POST, &format!("/api/v1/drops/{id}/complete"), req)
            .await
    }

    /// A GET of any path or URL with this client's token, for raw bytes.
    pub async fn get(&self, path: &str) -> Result<Response> {
        check(self.request(Method::GET, path).send().await?).await
    }
}

/// Passes 2xx responses; turns the rest into [`Error`]s.
async fn check(resp: Response) -> Result<Response> {
    let status = resp.status();
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<api::ErrorBody>(&body) {
        Ok(e) => Err(Error::Api {
            status: status.as_u16(),
            code: e.error.code,
            message: e.error.message,
            parts: e.error.parts,
        }),
        Err(_) => Err(Error::Unexpected {
            status: status.as_u16(),
            body: store_error(&body),
        }),
    }
}

/// What to keep of a body that is not ours: an object store's error
/// document is cut down to its `<Code>` and `<Message>` (S3's can echo the
/// access key and the string it signed); anything else to 500 characters.
fn store_error(body: &str) -> String {
    let element = |tag: &str| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = start + body[start..].find(&format!("</{tag}>"))?;
        Some(body[start..end].to_string())
    };
    match (element("Code"), element("Message")) {
        (Some(code), message) => format!("{code}: {}", message.unwrap_or_default()),
        (None, _) => body.chars().take(500).collect(),
    }
}

/// Told the bytes sent so far (of parts acknowledged by the server).
pub type Progress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// How to send a file.
#[derive(Clone)]
pub struct UploadOptions {
    /// Part size; the server's suggestion when `None`.
    pub part_size: Option<u64>,
    /// Parts in flight at once.
    pub parallel: usize,
    /// Tries per request before giving up; with the backoff (0.2 s doubling
    /// to 10 s) the default rides out about 20 s of server or network outage.
    pub attempts: u32,
    pub progress: Option<Progress>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            part_size: None,
            parallel: 4,
            attempts: ATTEMPTS,
            progress: None,
        }
    }
}

/// Sends the file at `path` as drop `drop` (created by the caller), sending
/// only the parts the server does not already have, and completes it. The
/// part size is `opts.part_size`, else that of a part 1 sent earlier, else
/// the server's suggestion.
pub async fn upload_file(
    client: &Client,
    drop: &api::Drop,
    path: &Path,
    opts: UploadOptions,
) -> Result<api::Drop> {
    let size = tokio::fs::metadata(path).await?.len();
    let limits = drop.upload.ok_or_else(|| Error::Unexpected {
        status: 200,
        body: format!("drop {} is not uploading", drop.id),
    })?;
    let have: HashMap<u32, api::StoredPart> =
        with_retries(opts.attempts, || client.stored_parts(&drop.id))
            .await?
            .into_iter()
            .map(|p| (p.number, p))
            .collect();
    // An earlier attempt's part size (a live recording's is not the
    // server's suggestion), so what it sent is not sent again.
    // Never under the server's least (S3 refuses parts under 5 MiB at
    // complete, after every byte was sent), unless the file is one part.
    let part_size = opts
        .part_size
        .or_else(|| have.get(&1).map(|p| p.size))
        .unwrap_or(limits.part_size)
        .max(limits.min_part_size)
        .max(1);
    let count = size.div_ceil(part_size).max(1) as u32;
    let span = |n: u32| {
        let start = (n as u64 - 1) * part_size;
        (start, part_size.min(size - start))
    };
    let missing: Vec<u32> = (1..=count)
        .filter(|n| have.get(n).is_none_or(|p| p.size != span(*n).1))
        .collect();

    // Everything the pipeline below holds is owned: futures that borrow
    // through stream combinators are not `Send` to the compiler.
    let done = Arc::new(std::sync::atomic::AtomicU64::new(
        have.iter()
            .filter(|(n, _)| !missing.contains(n))
            .map(|(_, p)| p.size)
            .sum(),
    ));
    let progress = opts.progress.clone();
    let report = move |bytes: u64| {
        let total = done.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed) + bytes;
        if let Some(p) = &progress {
            p(total);
        }
    };
    report(0);
    let report = Arc::new(report);
    let have = Arc::new(have);
    let missing: Arc<std::collections::HashSet<u32>> = Arc::new(missing.into_iter().collect());
    let id: Arc<str> = drop.id.as_str().into();
    let attempts = opts.attempts;

    // Every part is read once, in order, and its CRC computed as it is
    // read: a stored part only for its CRC, a missing one to be sent.
    // Parts read together share one request for their URLs. At most about
    // three times `parallel` parts are in memory at once.
    let parallel = opts.parallel.max(1);
    let path = path.to_path_buf();
    let reads = futures_util::stream::iter(1..=count)
        .map(move |n| {
            let path = path.clone();
            let (offset, len) = span(n);
            async move {
                let (bytes, crc) = read_part(path, offset, len).await?;
                let part = api::PartToSend {
                    number: n,
                    size: len,
                    crc64nvme: crc,
                };
                Ok::<_, Error>((part, bytes))
            }
        })
        .buffered(parallel);
    let with_urls = reads.ready_chunks(parallel).then({
        let (client, id, missing, have) =
            (client.clone(), id.clone(), missing.clone(), have.clone());
        move |read| {
            let (client, id, missing, have) =
                (client.clone(), id.clone(), missing.clone(), have.clone());
            async move {
                let read: Vec<(api::PartToSend, bytes::Bytes)> =
                    read.into_iter().collect::<Result<_>>()?;
                let wanted: Vec<api::PartToSend> = read
                    .iter()
                    .map(|(p, _)| *p)
                    .filter(|p| to_send(&missing, &have, p).is_some())
                    .collect();
                let mut urls: HashMap<u32, api::PartUrl> = if wanted.is_empty() {
                    HashMap::new()
                } else {
                    with_retries(attempts, || client.part_urls(&id, wanted.clone()))
                        .await?
                        .into_iter()
                        .map(|u| (u.number, u))
                        .collect()
                };
                let items: Vec<Result<_>> = read
                    .into_iter()
                    .map(|(p, bytes)| Ok((p, bytes, urls.remove(&p.number))))
                    .collect();
                Ok::<_, Error>(futures_util::stream::iter(items))
            }
        }
    });
    let mut sent: Vec<(api::PartToSend, String)> = with_urls
        .try_flatten()
        .map_ok({
            let client = client.clone();
            move |(part, bytes, url)| {
                let (client, id, have, missing, report) = (
                    client.clone(),
                    id.clone(),
                    have.clone(),
                    missing.clone(),
                    report.clone(),
                );
                async move {
                    let Some(why) = to_send(&missing, &have, &part) else {
                        return Ok((part, have[&part.number].etag.clone()));
                    };
                    let etag = client.send_part(&id, part, bytes, url, attempts).await?;
                    if why == Sending::Missing {
                        // A changed part's bytes were counted as stored.
                        report(part.size);
                    }
                    Ok((part, etag))
                }
            }
        })
        .try_buffer_unordered(parallel)
        .try_collect()
        .await?;
    sent.sort_by_key(|(p, _)| p.number);
    let crc64nvme = sent.iter().fold(api::Crc64::default(), |whole, (p, _)| {
        whole.then(p.crc64nvme, p.size)
    });
    let req = api::CompleteRequest {
        parts: sent
            .into_iter()
            .map(|(p, etag)| api::CompletePart {
                number: p.number,
                etag,
            })
            .collect(),
        size,
        crc64nvme,
    };
    with_retries(opts.attempts, || client.complete(&drop.id, &req)).await
}

/// Why a part read from the file is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sending {
    /// The server does not have it.
    Missing,
    /// The server has a part of that number whose CRC is not the file's:
    /// the file changed since.
    Changed,
}

/// Whether `part`, as just read from the file, must be sent, and why;
/// `None` when the server already has exactly it (or has it and does not
/// say its CRC).
fn to_send(
    missing: &std::collections::HashSet<u32>,
    have: &HashMap<u32, api::StoredPart>,
    part: &api::PartToSend,
) -> Option<Sending> {
    if missing.contains(&part.number) {
        return Some(Sending::Missing);
    }
    let stored = have.get(&part.number)?.crc64nvme?;
    (stored != part.crc64nvme).then_some(Sending::Changed)
}

/// Tries per request by default: with the backoff of [`with_retries`]
/// (0.2 s doubling to 10 s), about 20 s of server or network outage.
pub const ATTEMPTS: u32 = 8;

/// `f` until it succeeds, fails for good, or has been tried `attempts`
/// times; network errors and 5xx are worth another try. Only for requests
/// that may be made twice.
pub(crate) async fn with_retries<T, F, Fut>(attempts: u32, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut delay = Duration::from_millis(200);
    let mut tried = 0;
    loop {
        tried += 1;
        match f().await {
            Err(e) if e.is_transient() && tried < attempts => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
            }
            other => return other,
        }
    }
}

/// `len` bytes of the file at `path` from `offset`, with their CRC64-NVME
/// computed as they are read; an error if the file is shorter.
async fn read_part(
    path: std::path::PathBuf,
    offset: u64,
    len: u64,
) -> Result<(bytes::Bytes, api::Crc64)> {
    let (buf, crc) = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Seek, SeekFrom};
        // Its own handle, so parts read in parallel each have their own
        // position.
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut file = file.take(len);
        // Read into spare capacity (no zero-filling of the part first),
        // a block at a time, each summed while still in the cache.
        let mut buf = Vec::with_capacity(len as usize);
        let mut crc = api::Crc64Digest::default();
        loop {
            let at = buf.len();
            let n = (&mut file).take(1 << 20).read_to_end(&mut buf)?;
            if n == 0 {
                break;
            }
            crc.update(&buf[at..]);
        }
        if buf.len() as u64 != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("{} changed while it was being uploaded", path.display()),
            ));
        }
        Ok::<_, std::io::Error>((buf, crc.finish()))
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok((buf.into(), crc))
}
