//! Where drops' bytes live: the seam between the upload protocol and the
//! store, with two implementations.
//!
//! - [`Local`]: files under the data dir, as [`crate::store`] lays them
//!   out. Each part is a file; this server signs its own part URLs, takes
//!   the parts itself (`PUT /api/v1/drops/{id}/parts/{n}`, which checks
//!   each part's CRC as it streams to disk) and serves the bytes. The
//!   `parts` table lists what is stored.
//! - [`s3::S3`]: one object per drop, written by a multipart upload whose
//!   parts clients send straight to S3 through presigned URLs; S3 checks
//!   every part's and the whole object's CRC64-NVME, and serves the bytes
//!   through presigned download URLs. No byte passes through the server.
//!
//! Handlers call the operations here and never ask which one they have,
//! except that only `Local` takes part PUTs.

pub mod s3;

use crate::error::{ApiError, ApiResult};
use crate::repo::{PartRow, Repo};
use crate::sniff;
use crate::store::{self, Store};
use bytes::Bytes;
use dropcast_api::{self as api, Crc64, ErrorCode};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

#[derive(Clone)]
pub enum Blobs {
    Local(Local),
    S3(Arc<s3::S3>),
}

/// Files under the data dir; see the module docs.
#[derive(Clone)]
pub struct Local {
    pub store: Store,
    pub repo: Repo,
    /// Where part URLs point: this server's public URL.
    pub public_url: String,
}

/// A stream of a drop's bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, std::io::Error>>;

/// The object key of a drop's bytes (S3).
fn object_key(id: &str) -> String {
    format!("drops/{id}")
}

/// The key of a drop's thumbnail. Locally it sits beside the parts, so
/// deleting the drop's folder deletes it; in S3 a key cannot be both an
/// object and a folder in every store, so thumbnails have their own.
fn thumbnail_key(local: bool, id: &str) -> String {
    if local {
        format!("drops/{id}/thumb.png")
    } else {
        format!("thumbnails/{id}.png")
    }
}

/// What the store holds of one drop.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: String,
    /// When it was last written, unix ms.
    pub at: i64,
    /// Its bytes (not only a thumbnail).
    pub bytes: bool,
}

impl Blobs {
    /// Starts the upload of drop `id`. Answers what the drop's row must
    /// keep to go on with it (S3's upload id).
    pub async fn begin(&self, id: &str) -> ApiResult<Option<String>> {
        match self {
            Blobs::Local(_) => Ok(None),
            Blobs::S3(s3) => s3
                .begin(&object_key(id))
                .await
                .map(Some)
                .map_err(|e| ApiError::internal("starting an upload in S3", e)),
        }
    }

    /// Where and how to send `parts`: URLs valid for `ttl` seconds, signed
    /// for each part's checksum.
    pub async fn part_urls(
        &self,
        id: &str,
        upload_id: Option<&str>,
        parts: &[api::PartToSend],
        ttl: u64,
    ) -> ApiResult<Vec<api::PartUrl>> {
        match self {
            Blobs::Local(local) => local.part_urls(id, parts, ttl).await,
            Blobs::S3(s3) => {
                let upload_id = upload_id.ok_or_else(lost_upload)?;
                let key = object_key(id);
                Ok(parts
                    .iter()
                    .map(|p| s3.part_url(&key, upload_id, *p, ttl))
                    .collect())
            }
        }
    }

    /// The parts stored so far, in order of number.
    pub async fn stored_parts(
        &self,
        id: &str,
        upload_id: Option<&str>,
    ) -> ApiResult<Vec<api::StoredPart>> {
        match self {
            // A part stored before checksums were CRCs is not listed: the
            // client sends it again.
            Blobs::Local(local) => Ok(local
                .repo
                .parts(id)
                .await?
                .iter()
                .filter(|p| Crc64::from_hex(&p.crc64nvme).is_some())
                .map(stored_part)
                .collect()),
            Blobs::S3(s3) => {
                let upload_id = upload_id.ok_or_else(lost_upload)?;
                s3.parts(&object_key(id), upload_id)
                    .await
                    .map_err(|e| s3_error("listing the stored parts", e))
            }
        }
    }

    /// Bytes of an upload in progress stored so far, and when its last
    /// part arrived (unix ms; `None`: no part yet), for its share page.
    pub async fn received(
        &self,
        id: &str,
        upload_id: Option<&str>,
    ) -> ApiResult<(i64, Option<i64>)> {
        match (self, upload_id) {
            (Blobs::Local(local), _) => Ok(local.repo.received(id).await?),
            (Blobs::S3(s3), Some(upload_id)) => match s3.received(&object_key(id), upload_id).await
            {
                Ok((bytes, last)) => Ok((bytes as i64, last)),
                // Being completed, or aborted: nothing more to show.
                Err(e) if e.code() == Some("NoSuchUpload") => Ok((0, None)),
                Err(e) => Err(s3_error("listing the stored parts", e)),
            },
            (Blobs::S3(_), None) => Ok((0, None)),
        }
    }

    /// Joins the listed parts into the drop's bytes, checking the part
    /// list, the total size and the whole file's CRC64-NVME without reading
    /// the bytes again. Answers the file's first bytes, for its type.
    /// Every part but the last must be at least `min_part_size`.
    pub async fn complete(
        &self,
        id: &str,
        upload_id: Option<&str>,
        req: &api::CompleteRequest,
        min_part_size: u64,
    ) -> ApiResult<sniff::Head> {
        if req.parts.is_empty() && req.size != 0 {
            return Err(ApiError::new(ErrorCode::InvalidParts, "no parts listed"));
        }
        if let Some(w) = req.parts.windows(2).find(|w| w[0].number >= w[1].number) {
            return Err(ApiError::new(
                ErrorCode::InvalidParts,
                "list parts in ascending order of number, each once",
            )
            .with_parts(vec![w[1].number]));
        }
        match self {
            Blobs::Local(local) => {
                let stored = local.repo.parts(id).await?;
                let listed: Vec<api::StoredPart> = stored.iter().map(stored_part).collect();
                check_listed(&listed, req, min_part_size)?;
                local.complete(id, stored, req).await
            }
            Blobs::S3(s3) => {
                let key = object_key(id);
                let upload_id = upload_id.ok_or_else(lost_upload)?;
                // The same checks, with the same answers, as for local
                // files; then S3 checks the whole file's CRC itself.
                let mut verified_by_s3 = false;
                match s3.parts(&key, upload_id).await {
                    Ok(listed) => {
                        check_listed(&listed, req, min_part_size)?;
                        match s3
                            .complete(&key, upload_id, &req.parts, req.crc64nvme, req.size)
                            .await
                        {
                            Ok(()) => verified_by_s3 = true,
                            Err(e) if e.code() == Some("NoSuchUpload") => {}
                            Err(e) => return Err(s3_error("completing the upload", e)),
                        }
                    }
                    // Completed before, its answer lost: the object says.
                    Err(e) if e.code() == Some("NoSuchUpload") => {}
                    Err(e) => return Err(s3_error("listing the stored parts", e)),
                }
                let (total, crc) = s3
                    .stat(&key)
                    .await
                    .map_err(|e| s3_error("looking at the stored file", e))?;
                if total != req.size {
                    return Err(ApiError::new(
                        ErrorCode::SizeMismatch,
                        format!(
                            "the stored file is {total} bytes, the request says {}",
                            req.size
                        ),
                    ));
                }
                // S3 checked the CRC at complete; an object completed
                // earlier (its answer lost) must show the same one.
                if !verified_by_s3 && crc != Some(req.crc64nvme) {
                    return Err(ApiError::new(
                        ErrorCode::ChecksumMismatch,
                        format!(
                            "the stored file's CRC64-NVME is {}, not the {} sent",
                            crc.map(|c| c.to_string())
                                .unwrap_or_else(|| "unknown".into()),
                            req.crc64nvme
                        ),
                    ));
                }
                // Only the first bytes are read, to decide what the file is.
                let mut sniffed = sniff::Head::default();
                sniffed.feed(&self.read_prefix(id, total, sniff::SNIFF_LEN as u64).await?);
                Ok(sniffed)
            }
        }
    }

    /// Gives up an upload that was begun for a drop that then could not
    /// be made; touches no stored bytes.
    pub async fn abort(&self, id: &str, upload_id: &str) -> anyhow::Result<()> {
        match self {
            Blobs::Local(_) => Ok(()),
            Blobs::S3(s3) => Ok(s3.abort(&object_key(id), upload_id).await?),
        }
    }

    /// Deletes everything of each drop, given as its id and its upload if
    /// one is open: the upload, the bytes and the thumbnail. On S3 the
    /// objects go in batches (DeleteObjects), not a request each.
    pub async fn delete(&self, drops: &[(String, Option<String>)]) -> anyhow::Result<()> {
        // Each step is tried whatever the others did: the rows are gone,
        // so nothing would try again.
        let mut first_error = None;
        match self {
            Blobs::Local(local) => {
                for (id, _) in drops {
                    if let Err(e) = local.store.delete_prefix(&store::drop_prefix(id)).await {
                        first_error.get_or_insert(anyhow::Error::from(e));
                    }
                }
            }
            Blobs::S3(s3) => {
                use futures_util::StreamExt;
                let open: Vec<(String, String)> = drops
                    .iter()
                    .filter_map(|(id, upload)| Some((object_key(id), upload.clone()?)))
                    .collect();
                let mut aborted = futures_util::stream::iter(open)
                    .map(|(key, upload)| async move { s3.abort(&key, &upload).await })
                    .buffer_unordered(8);
                while let Some(done) = aborted.next().await {
                    if let Err(e) = done {
                        first_error.get_or_insert(e.into());
                    }
                }
                let keys: Vec<String> = drops
                    .iter()
                    .flat_map(|(id, _)| [object_key(id), thumbnail_key(false, id)])
                    .collect();
                if let Err(e) = s3.delete_many(&keys).await {
                    first_error.get_or_insert(e.into());
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Whether the store answers: the bucket (HeadBucket), or the objects'
    /// folder.
    pub async fn check(&self) -> anyhow::Result<()> {
        match self {
            Blobs::Local(local) => {
                if let Some(root) = local.store.root() {
                    tokio::fs::metadata(root).await.map_err(|e| {
                        anyhow::anyhow!("the objects folder {}: {e}", root.display())
                    })?;
                }
                Ok(())
            }
            Blobs::S3(s3) => Ok(s3.check().await?),
        }
    }

    /// Multipart uploads open in the store: (drop id, upload id, when it
    /// began, unix ms). Local files have none: their parts are rows.
    pub async fn open_uploads(&self) -> anyhow::Result<Vec<(String, String, i64)>> {
        match self {
            Blobs::Local(_) => Ok(Vec::new()),
            Blobs::S3(s3) => Ok(s3
                .open_uploads("drops/")
                .await?
                .into_iter()
                .filter_map(|(key, upload, at)| {
                    Some((key.strip_prefix("drops/")?.to_string(), upload, at))
                })
                .collect()),
        }
    }

    /// Whether the store holds drop `id`'s bytes (not only a thumbnail),
    /// asked of the object itself.
    pub async fn has_bytes(&self, id: &str) -> anyhow::Result<bool> {
        match self {
            Blobs::Local(local) => {
                let Some(root) = local.store.root() else {
                    return Ok(false);
                };
                let dir = root.join("drops").join(id);
                Ok(match std::fs::read_dir(&dir) {
                    Ok(entries) => entries
                        .filter_map(Result::ok)
                        .any(|f| f.file_name() != "thumb.png"),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
                    Err(e) => return Err(anyhow::anyhow!("{}: {e}", dir.display())),
                })
            }
            Blobs::S3(s3) => match s3.stat(&object_key(id)).await {
                Ok(_) => Ok(true),
                Err(s3::S3Error::Refused { status: 404, .. }) => Ok(false),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Every drop the store holds something of, for the sweep.
    pub async fn stored(&self) -> anyhow::Result<Vec<Stored>> {
        let mut found: BTreeMap<String, Stored> = BTreeMap::new();
        match self {
            Blobs::Local(local) => {
                let Some(root) = local.store.root() else {
                    return Ok(Vec::new());
                };
                let dir = root.join("drops");
                let entries = match std::fs::read_dir(&dir) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    other => other?,
                };
                for entry in entries {
                    let entry = entry?;
                    let at = entry
                        .metadata()?
                        .modified()
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or(0, |d| d.as_millis() as i64);
                    let bytes = std::fs::read_dir(entry.path())?
                        .filter_map(Result::ok)
                        .any(|f| f.file_name() != "thumb.png");
                    let id = entry.file_name().to_string_lossy().into_owned();
                    found.insert(id.clone(), Stored { id, at, bytes });
                }
            }
            Blobs::S3(s3) => {
                for (prefix, bytes) in [("drops/", true), ("thumbnails/", false)] {
                    for (key, at) in s3.list(prefix).await? {
                        let id = key[prefix.len()..].trim_end_matches(".png").to_string();
                        let entry = found.entry(id.clone()).or_insert(Stored {
                            id,
                            at,
                            bytes: false,
                        });
                        entry.at = entry.at.max(at);
                        entry.bytes |= bytes;
                    }
                }
            }
        }
        Ok(found.into_values().collect())
    }

    /// `range` of a complete drop's bytes (`size` of them in all).
    pub async fn read(&self, id: &str, size: u64, range: Range<u64>) -> ApiResult<ByteStream> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        match self {
            Blobs::Local(local) => {
                let parts = local_locations(id, local.repo.parts(id).await?);
                let stored: u64 = parts.iter().map(|(_, len)| len).sum();
                if stored != size {
                    return Err(ApiError::internal(
                        "reading a drop",
                        format!("drop {id} has {stored} bytes stored, its row says {size}"),
                    ));
                }
                Ok(local
                    .store
                    .read_parts(parts, range)
                    .map_err(std::io::Error::other)
                    .boxed())
            }
            Blobs::S3(s3) => {
                let resp = s3
                    .read(&object_key(id), range)
                    .await
                    .map_err(|e| s3_error("reading a drop", e))?;
                Ok(resp.bytes_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// The first `len` bytes (or fewer) of a complete drop of `size` bytes.
    pub async fn read_prefix(&self, id: &str, size: u64, len: u64) -> ApiResult<Vec<u8>> {
        let len = len.min(size);
        let mut stream = self.read(id, size, 0..len).await?;
        let mut bytes = Vec::with_capacity(len as usize);
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| ApiError::internal("reading a drop", e))?
        {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    /// Where to send a browser for a drop's bytes, when they are served by
    /// another origin (S3): a URL valid for `ttl` seconds whose answer
    /// carries `content_type` and `disposition`. `None`: this server
    /// serves them.
    pub fn download_url(
        &self,
        id: &str,
        content_type: &str,
        disposition: &str,
        ttl: u64,
    ) -> Option<String> {
        match self {
            Blobs::Local(_) => None,
            Blobs::S3(s3) => Some(s3.download_url(&object_key(id), content_type, disposition, ttl)),
        }
    }

    /// Stores a small drop's bytes in one request, the store checking
    /// `crc` (S3; locally one-shot uploads are written as their one part).
    pub async fn put_whole(
        &self,
        id: &str,
        bytes: Vec<u8>,
        crc: Crc64,
        content_type: &str,
    ) -> anyhow::Result<()> {
        match self {
            Blobs::Local(_) => anyhow::bail!("local drops are written as parts"),
            Blobs::S3(s3) => Ok(s3
                .put(&object_key(id), content_type, bytes, Some(crc))
                .await?),
        }
    }

    /// The origin that serves drops' bytes when it is not this server (the
    /// bucket's, `scheme://host[:port]`), for the share pages' CSP.
    pub fn bytes_origin(&self) -> Option<String> {
        match self {
            Blobs::Local(_) => None,
            Blobs::S3(s3) => Some(s3.origin()),
        }
    }

    pub async fn put_thumbnail(&self, id: &str, png: &[u8]) -> anyhow::Result<()> {
        match self {
            Blobs::Local(local) => {
                let mut writer = local
                    .store
                    .writer(Path::from(thumbnail_key(true, id)))
                    .await?;
                writer.write(png).await?;
                writer.finish().await?;
                Ok(())
            }
            Blobs::S3(s3) => Ok(s3
                .put(&thumbnail_key(false, id), "image/png", png.to_vec(), None)
                .await?),
        }
    }

    pub async fn read_thumbnail(&self, id: &str) -> ApiResult<ByteStream> {
        match self {
            Blobs::Local(local) => Ok(local
                .store
                .read(&Path::from(thumbnail_key(true, id)), None)
                .await?
                .map_err(std::io::Error::other)
                .boxed()),
            Blobs::S3(s3) => {
                let resp = s3
                    .get(&thumbnail_key(false, id))
                    .await
                    .map_err(|e| s3_error("reading a thumbnail", e))?;
                Ok(resp.bytes_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// The local implementation, which alone takes part PUTs.
    pub fn local(&self) -> Option<&Local> {
        match self {
            Blobs::Local(local) => Some(local),
            Blobs::S3(_) => None,
        }
    }
}

impl Local {
    async fn part_urls(
        &self,
        id: &str,
        parts: &[api::PartToSend],
        ttl: u64,
    ) -> ApiResult<Vec<api::PartUrl>> {
        let signer = self.repo.signer().await?;
        let expires = (crate::repo::now_ms() / 1000) + ttl as i64;
        Ok(parts
            .iter()
            .map(|p| api::PartUrl {
                number: p.number,
                url: format!(
                    "{}/api/v1/drops/{id}/parts/{}?expires={expires}&sig={}",
                    self.public_url,
                    p.number,
                    signer.sign(id, p.number, expires, p.crc64nvme)
                ),
                headers: BTreeMap::from([
                    (
                        "content-type".to_string(),
                        "application/octet-stream".to_string(),
                    ),
                    (api::CHECKSUM_HEADER.to_string(), p.crc64nvme.to_base64()),
                ]),
                expires_at: crate::repo::time_of(expires * 1000),
            })
            .collect())
    }

    /// Combines the listed parts' CRCs (already checked against the
    /// stored ones) and compares; reads back only the first bytes.
    async fn complete(
        &self,
        id: &str,
        stored: Vec<PartRow>,
        req: &api::CompleteRequest,
    ) -> ApiResult<sniff::Head> {
        let stored: BTreeMap<u32, PartRow> =
            stored.into_iter().map(|p| (p.number as u32, p)).collect();
        let listed: Vec<&PartRow> = req.parts.iter().map(|p| &stored[&p.number]).collect();
        let total = req.size;
        let whole = listed.iter().try_fold(Crc64::default(), |whole, p| {
            Crc64::from_hex(&p.crc64nvme).map(|crc| whole.then(crc, p.size as u64))
        });
        let Some(whole) = whole else {
            // Stored before checksums were CRCs.
            let old: Vec<u32> = listed
                .iter()
                .filter(|p| Crc64::from_hex(&p.crc64nvme).is_none())
                .map(|p| p.number as u32)
                .collect();
            return Err(ApiError::new(
                ErrorCode::InvalidParts,
                "these parts were stored by an older server without a CRC64-NVME; send them again",
            )
            .with_parts(old));
        };
        if whole != req.crc64nvme {
            return Err(ApiError::new(
                ErrorCode::ChecksumMismatch,
                format!(
                    "the parts' CRC64-NVME combine to {whole}, not the {} sent; the parts are \
                     kept: re-send the wrong ones and complete again",
                    req.crc64nvme
                ),
            ));
        }
        // Only the first bytes are read back, to decide what the file is.
        let locations = local_locations(id, listed.into_iter().cloned().collect());
        let head_len = total.min(sniff::SNIFF_LEN as u64);
        let mut bytes = self.store.read_parts(locations, 0..head_len);
        let mut head = sniff::Head::default();
        while let Some(chunk) = bytes.try_next().await? {
            head.feed(&chunk);
        }
        Ok(head)
    }
}

fn stored_part(p: &PartRow) -> api::StoredPart {
    api::StoredPart {
        number: p.number as u32,
        etag: p.crc64nvme.clone(),
        size: p.size as u64,
        crc64nvme: Crc64::from_hex(&p.crc64nvme),
    }
}

/// The checks `complete` makes of the listed parts against the stored
/// ones, on either backend: each is stored with that ETag, every part but
/// the last is big enough, and the sizes add up.
fn check_listed(
    stored: &[api::StoredPart],
    req: &api::CompleteRequest,
    min_part_size: u64,
) -> ApiResult<()> {
    let stored: BTreeMap<u32, &api::StoredPart> = stored.iter().map(|p| (p.number, p)).collect();
    let unknown: Vec<u32> = req
        .parts
        .iter()
        .filter(|p| {
            stored
                .get(&p.number)
                .is_none_or(|s| s.etag.trim_matches('"') != p.etag.trim_matches('"'))
        })
        .map(|p| p.number)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidParts,
            "these parts are not stored or their ETags differ; list the stored parts \
             (GET .../parts) and send the missing ones",
        )
        .with_parts(unknown));
    }
    let listed: Vec<&api::StoredPart> = req.parts.iter().map(|p| stored[&p.number]).collect();
    let small: Vec<u32> = listed
        .iter()
        .take(listed.len().saturating_sub(1))
        .filter(|p| p.size < min_part_size)
        .map(|p| p.number)
        .collect();
    if !small.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PartTooSmall,
            format!("every part but the last must be at least {min_part_size} bytes"),
        )
        .with_parts(small));
    }
    let total: u64 = listed.iter().map(|p| p.size).sum();
    if total != req.size {
        return Err(ApiError::new(
            ErrorCode::SizeMismatch,
            format!(
                "the parts add up to {total} bytes, the request says {}",
                req.size
            ),
        ));
    }
    Ok(())
}

/// Where each part's file is, with its size, in order.
fn local_locations(id: &str, parts: Vec<PartRow>) -> Vec<(Path, u64)> {
    parts
        .into_iter()
        .map(|p| {
            (
                store::part_path(id, p.number as u32, &p.nonce),
                p.size as u64,
            )
        })
        .collect()
}

/// An S3 drop row without its upload id: it was made before the upload
/// began, which `create` never lets happen.
fn lost_upload() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "this drop has no upload in progress; create a new drop to upload again",
    )
}

/// S3's refusals as API errors the client can act on; the rest internal.
fn s3_error(context: &str, e: s3::S3Error) -> ApiError {
    let code = e.code().map(str::to_string);
    match code.as_deref() {
        Some("BadDigest" | "InvalidDigest") => ApiError::new(
            ErrorCode::ChecksumMismatch,
            "the parts' CRC64-NVME do not combine to the whole file's value sent; re-send the \
             parts and complete again",
        ),
        Some("InvalidPart" | "InvalidPartOrder") => ApiError::new(
            ErrorCode::InvalidParts,
            "some listed parts are not stored or their ETags differ; list the stored parts \
             (GET .../parts) and send the missing ones",
        ),
        Some("EntityTooSmall") => ApiError::new(
            ErrorCode::PartTooSmall,
            "every part but the last must be at least 5 MiB (S3's minimum)",
        ),
        Some("NoSuchUpload" | "NoSuchKey" | "HTTP 404") => ApiError::new(
            ErrorCode::Conflict,
            "this drop's upload is no longer open (completed or aborted); create a new drop",
        ),
        Some("InvalidRange") => ApiError::new(ErrorCode::RangeNotSatisfiable, "no such range"),
        _ => ApiError::internal(context, e),
    }
}
