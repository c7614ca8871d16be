//! The part protocol's rules, apart from HTTP: which part URLs a drop's
//! owner gets, what is stored so far, taking a part's bytes (local
//! blobs), and completing. Each returns the drop's state or an
//! [`ApiError`] with its code, which `http::parts` answers as JSON.

use crate::blobs::Local;
use crate::domain::access::owned_drop;
use crate::error::{ApiError, ApiResult};
use crate::repo::{now_ms, Completion, DropRow, PutPart, UserRow, COMPLETE, COMPLETING, UPLOADING};
use crate::{store, App};
use bytes::Bytes;
use dropcast_api::{self as api, Crc64, Crc64Digest, ErrorCode};
use futures_util::{Stream, StreamExt};

/// Most part URLs handed out by one request.
const MAX_URLS_PER_REQUEST: usize = 1000;

/// How long a part body may stall before the server gives up on it, so a
/// stalled client does not hold an upload slot for ever.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

fn check_part_number(app: &App, n: u32) -> ApiResult<()> {
    let max = app.config.max_parts;
    if n == 0 || n > max {
        return Err(ApiError::new(
            ErrorCode::TooManyParts,
            format!("part numbers run from 1 to {max}; use bigger parts"),
        )
        .with_parts(vec![n]));
    }
    Ok(())
}

fn not_uploading() -> ApiError {
    ApiError::new(
        ErrorCode::Conflict,
        "this drop is complete (or being completed) and takes no more parts; \
         create a new drop to upload again",
    )
}

fn part_too_large(max: u64, number: u32) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("a part may be at most {max} bytes; use smaller parts"),
    )
    .with_parts(vec![number])
}

/// URLs for `user` to send `parts` of drop `id` to, signed for each
/// part's checksum.
pub async fn part_urls(
    app: &App,
    user: &UserRow,
    id: &str,
    parts: &[api::PartToSend],
) -> ApiResult<Vec<api::PartUrl>> {
    let d = owned_drop(app, user, id).await?;
    if d.status != UPLOADING {
        return Err(not_uploading());
    }
    if parts.is_empty() || parts.len() > MAX_URLS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "ask for 1 to {MAX_URLS_PER_REQUEST} parts at a time"
        )));
    }
    let bad: Vec<u32> = parts
        .iter()
        .map(|p| p.number)
        .filter(|&n| check_part_number(app, n).is_err())
        .collect();
    if !bad.is_empty() {
        return Err(check_part_number(app, bad[0]).unwrap_err().with_parts(bad));
    }
    let max = app.config.max_part_size;
    let big: Vec<u32> = parts
        .iter()
        .filter(|p| p.size > max)
        .map(|p| p.number)
        .collect();
    if let Some(&first) = big.first() {
        return Err(part_too_large(max, first).with_parts(big));
    }
    app.blobs
        .part_urls(id, d.upload_id.as_deref(), parts, app.config.part_url_ttl)
        .await
}

/// The parts stored so far of `user`'s drop `id`: what a resuming client
/// need not send again. None once it is complete.
pub async fn stored_parts(app: &App, user: &UserRow, id: &str) -> ApiResult<Vec<api::StoredPart>> {
    let d = owned_drop(app, user, id).await?;
    if d.status == COMPLETE {
        return Ok(Vec::new());
    }
    app.blobs.stored_parts(id, d.upload_id.as_deref()).await
}

/// What a part PUT to a local part URL claims, read before its body.
pub struct PartClaim<'a> {
    pub number: u32,
    /// The URL's expiry (unix seconds) and signature.
    pub expires: i64,
    pub sig: &'a str,
    /// The checksum header's value, base64 of the CRC64-NVME.
    pub checksum: Option<&'a str>,
    /// The declared body length, if any.
    pub length: Option<u64>,
}

/// The checks a part passes before its body is read: checksum, signature
/// (which covers the checksum), expiry, number, declared size, drop
/// state. Returns the CRC its bytes must have and the size limit.
pub async fn check_part(
    app: &App,
    local: &Local,
    id: &str,
    claim: &PartClaim<'_>,
) -> ApiResult<(Crc64, u64)> {
    let number = claim.number;
    let expected = claim
        .checksum
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ChecksumRequired,
                format!(
                    "send the headers the part URL came with, including {}",
                    api::CHECKSUM_HEADER
                ),
            )
        })
        .map(Crc64::from_base64)?
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{} must be the base64 of the part's 8-byte CRC64-NVME",
                api::CHECKSUM_HEADER
            ))
        })?;
    if !local
        .repo
        .signer()
        .await?
        .verify(id, number, claim.expires, expected, claim.sig)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "this part URL is not valid for these bytes; ask POST /api/v1/drops/{id}/parts \
             for one, with the part's checksum",
        ));
    }
    if claim.expires * 1000 < now_ms() {
        return Err(ApiError::new(
            ErrorCode::UrlExpired,
            "this part URL has expired; ask POST /api/v1/drops/{id}/parts for a new one",
        ));
    }
    check_part_number(app, number)?;
    let max = app.config.max_part_size;
    if claim.length.is_some_and(|len| len > max) {
        return Err(part_too_large(max, number));
    }
    match app.repo.drop_by_id(id).await? {
        Some(d) if d.status == UPLOADING => {}
        Some(d) if d.status == COMPLETE || d.status == COMPLETING => return Err(not_uploading()),
        _ => return Err(ApiError::not_found()),
    }
    Ok((expected, max))
}

/// Why [`store_part`] stopped short: the error, and whether the rest of the
/// body is still unread (the caller may drain it so the client reads the
/// answer).
pub struct PartRefused {
    pub error: ApiError,
    pub unread: bool,
}

impl From<ApiError> for PartRefused {
    fn from(error: ApiError) -> Self {
        PartRefused {
            error,
            unread: false,
        }
    }
}

/// Stores part `number` of drop `id` from `body`, checking its bytes
/// against `expected` as they stream to disk and holding at most `max`
/// of them. Nothing is kept of a part that fails. An earlier copy of the
/// part is replaced.
pub async fn store_part<S, E>(
    app: &App,
    local: &Local,
    id: &str,
    number: u32,
    (expected, max): (Crc64, u64),
    body: &mut S,
) -> Result<api::StoredPart, PartRefused>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let _slot = app
        .part_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an upload slot", e))?;
    let nonce = crate::secrets::new_id();
    let path = store::part_path(id, number, &nonce);
    let mut writer = local
        .store
        .writer(path.clone())
        .await
        .map_err(ApiError::from)?;
    let mut crc = Crc64Digest::default();
    let mut size: u64 = 0;
    loop {
        let next = match tokio::time::timeout(BODY_IDLE_TIMEOUT, body.next()).await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(_) => {
                writer.abort().await;
                return Err(ApiError::invalid(
                    "the part's body stalled for 60 s; send the part again",
                )
                .into());
            }
        };
        let chunk = match next {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(ApiError::invalid(format!(
                    "the part's body broke off ({e}); send the part again"
                ))
                .into());
            }
        };
        size += chunk.len() as u64;
        if size > max {
            writer.abort().await;
            return Err(PartRefused {
                error: part_too_large(max, number),
                unread: true,
            });
        }
        crc.update(&chunk);
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(ApiError::from(e).into());
        }
    }
    if crc.finish() != expected {
        writer.abort().await;
        return Err(ApiError::new(
            ErrorCode::ChecksumMismatch,
            "the part's bytes do not match its checksum (damaged in transit?); send it again",
        )
        .with_parts(vec![number])
        .into());
    }
    writer.finish().await.map_err(ApiError::from)?;
    let etag = expected.to_hex();
    match app
        .repo
        .put_part(id, number, size as i64, &etag, &nonce)
        .await
        .map_err(ApiError::from)?
    {
        PutPart::Stored { replaced } => {
            if let Some(old) = replaced.filter(|old| *old != nonce) {
                local
                    .store
                    .delete(&store::part_path(id, number, &old))
                    .await
                    .map_err(ApiError::from)?;
            }
        }
        PutPart::NotUploading => {
            // Completed or deleted while this part was on its way.
            local.store.delete(&path).await.map_err(ApiError::from)?;
            return Err(not_uploading().into());
        }
    }
    Ok(api::StoredPart {
        number,
        crc64nvme: Crc64::from_hex(&etag),
        etag,
        size,
    })
}

/// Completes `user`'s drop `id` from the listed parts, checking the part list, the
/// total size and the whole file's CRC64-NVME (combined from the parts',
/// so no byte is read again). Until this succeeds nothing of the drop is
/// served.
pub async fn complete(
    app: &App,
    user: &UserRow,
    id: &str,
    req: &api::CompleteRequest,
) -> ApiResult<DropRow> {
    let d = owned_drop(app, user, id).await?;
    let want = req.crc64nvme.to_hex();
    if d.status == COMPLETE {
        return same_completion(d, req, &want);
    }
    crate::domain::drops::check_drop_size(app, req.size)?;
    // Freeze the parts: from here on no PUT can change them.
    if !app.repo.begin_completing(id).await? {
        let d = owned_drop(app, user, id).await?;
        return same_completion(d, req, &want);
    }
    let checked = match d.declared_size {
        Some(declared) if declared as u64 != req.size => Err(ApiError::new(
            ErrorCode::SizeMismatch,
            format!(
                "the drop was created with {declared} bytes, the request says {}",
                req.size
            ),
        )),
        _ => {
            app.blobs
                .complete(id, d.upload_id.as_deref(), req, app.config.min_part_size())
                .await
        }
    };
    let head = match checked {
        Ok(v) => v,
        Err(e) => {
            app.repo.abandon_completing(id).await?;
            return Err(e);
        }
    };
    let total = req.size;
    let keep: Vec<u32> = req.parts.iter().map(|p| p.number).collect();
    let content_type = head.content_type();
    let completion = Completion {
        size: total as i64,
        crc64nvme: &want,
        content_type: &content_type,
        delete_token_hash: None,
        dimensions: head.dimensions(),
    };
    match app.repo.complete(id, &keep, &completion).await? {
        Some(unlisted) => {
            app.wake_events();
            if let Some(local) = app.blobs.local() {
                for p in unlisted {
                    local
                        .store
                        .delete(&store::part_path(id, p.number as u32, &p.nonce))
                        .await?;
                }
            }
            owned_drop(app, user, id).await
        }
        // Completed by a concurrent request, or deleted meanwhile.
        None => {
            let d = owned_drop(app, user, id).await?;
            same_completion(d, req, &want)
        }
    }
}

/// A complete for a drop that is already complete succeeds when it names
/// the same file (its answer got lost and it was retried), else conflicts.
fn same_completion(d: DropRow, req: &api::CompleteRequest, want: &str) -> ApiResult<DropRow> {
    if d.status == COMPLETE
        && d.crc64nvme.as_deref() == Some(want)
        && d.size == Some(req.size as i64)
    {
        return Ok(d);
    }
    if d.status == COMPLETE {
        return Err(not_uploading());
    }
    Err(ApiError::new(
        ErrorCode::Conflict,
        "another complete of this drop is under way; retry in a moment",
    ))
}
