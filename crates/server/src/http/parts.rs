//! The part protocol: hand out signed part URLs, take parts (any order, in
//! parallel, retried), list what is stored, and complete.
//!
//! Where parts go is [`crate::blobs`]' business: to this server (local
//! files) or straight to S3. Either way a part URL is signed for the part's
//! CRC64-NVME, which its PUT must carry in [`api::CHECKSUM_HEADER`], and
//! `complete` checks the whole file's CRC without reading the bytes again.
//!
//! The PUT handler here takes the local parts: the bytes are checked
//! against the signed CRC as they stream to disk. Such a part's ETag is its
//! CRC in hex: like S3's, it depends only on the bytes, so a part sent
//! twice has one ETag.

use super::{owned_drop, Auth, Json};
use crate::error::{ApiError, ApiResult};
use crate::repo::{now_ms, Completion, PutPart, COMPLETE, COMPLETING, UPLOADING};
use crate::{store, App};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use dropcast_api::{self as api, Crc64, Crc64Digest, ErrorCode};
use futures_util::StreamExt;
use serde::Deserialize;

/// Most part URLs handed out by one request.
const MAX_URLS_PER_REQUEST: usize = 1000;

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

/// How long a part body may stall before the server gives up on it, so a
/// stalled client does not hold an upload slot for ever.
const BODY_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Signed URLs to `PUT` parts to.
#[utoipa::path(post, path = "/api/v1/drops/{id}/parts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = api::PartUrlsRequest,
    responses((status = 200, body = api::PartUrls), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn part_urls(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(req): Json<api::PartUrlsRequest>,
) -> ApiResult<Json<api::PartUrls>> {
    let d = owned_drop(&app, &user, &id).await?;
    if d.status != UPLOADING {
        return Err(not_uploading());
    }
    if req.parts.is_empty() || req.parts.len() > MAX_URLS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "ask for 1 to {MAX_URLS_PER_REQUEST} parts at a time"
        )));
    }
    let bad: Vec<u32> = req
        .parts
        .iter()
        .map(|p| p.number)
        .filter(|&n| check_part_number(&app, n).is_err())
        .collect();
    if !bad.is_empty() {
        return Err(check_part_number(&app, bad[0]).unwrap_err().with_parts(bad));
    }
    let max = app.config.max_part_size;
    let big: Vec<u32> = req
        .parts
        .iter()
        .filter(|p| p.size > max)
        .map(|p| p.number)
        .collect();
    if let Some(&first) = big.first() {
        return Err(part_too_large(max, first).with_parts(big));
    }
    let parts = app
        .blobs
        .part_urls(
            &id,
            d.upload_id.as_deref(),
            &req.parts,
            app.config.part_url_ttl,
        )
        .await?;
    Ok(Json(api::PartUrls { parts }))
}

/// The parts the server has stored for an upload in progress: what a
/// resuming client need not send again.
#[utoipa::path(get, path = "/api/v1/drops/{id}/parts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = api::StoredParts), (status = 404, body = api::ErrorBody)))]
pub async fn stored_parts(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<api::StoredParts>> {
    let d = owned_drop(&app, &user, &id).await?;
    if d.status == COMPLETE {
        return Ok(Json(api::StoredParts { parts: Vec::new() }));
    }
    let parts = app.blobs.stored_parts(&id, d.upload_id.as_deref()).await?;
    Ok(Json(api::StoredParts { parts }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Signature {
    expires: i64,
    sig: String,
}

/// Stores one part. Authorised by the URL's signature, not a token, like an
/// S3 presigned URL; the signature covers the part's checksum. The body's
/// CRC64-NVME must match the `x-amz-checksum-crc64nvme` header (base64 of
/// its 8 big-endian bytes). Answers the ETag in the `ETag` header (and the
/// body).
#[utoipa::path(put, path = "/api/v1/drops/{id}/parts/{number}",
    params(("id" = String, Path), ("number" = u32, Path), Signature,
        ("x-amz-checksum-crc64nvme" = String, Header,
            description = "base64 CRC64-NVME of the body, the value the URL was signed for")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = api::StoredPart), (status = 400, body = api::ErrorBody),
        (status = 403, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody)))]
pub async fn put_part(
    State(app): State<App>,
    Path((id, number)): Path<(String, u32)>,
    Query(sig): Query<Signature>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    // Part URLs point here only when this server stores the bytes.
    let Some(local) = app.blobs.local() else {
        return Err(ApiError::not_found());
    };
    let checked = check_part_request(&app, local, &id, number, &sig, &headers).await;
    let (expected, max) = match checked {
        Ok(v) => v,
        Err(e) => {
            // Read (a bounded amount of) what the client is sending, so it
            // gets to read this answer instead of a reset connection.
            drain(&mut body.into_data_stream()).await;
            return Err(e);
        }
    };

    let _slot = app
        .part_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an upload slot", e))?;
    let nonce = crate::secrets::new_id();
    let path = store::part_path(&id, number, &nonce);
    let mut writer = local.store.writer(path.clone()).await?;
    let mut crc = Crc64Digest::default();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    loop {
        let next = match tokio::time::timeout(BODY_IDLE_TIMEOUT, stream.next()).await {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(_) => {
                writer.abort().await;
                return Err(ApiError::invalid(
                    "the part's body stalled for 60 s; send the part again",
                ));
            }
        };
        let chunk = match next {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(ApiError::invalid(format!(
                    "the part's body broke off ({e}); send the part again"
                )));
            }
        };
        size += chunk.len() as u64;
        if size > max {
            writer.abort().await;
            drain(&mut stream).await;
            return Err(part_too_large(max, number));
        }
        crc.update(&chunk);
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(e.into());
        }
    }
    if crc.finish() != expected {
        writer.abort().await;
        return Err(ApiError::new(
            ErrorCode::ChecksumMismatch,
            "the part's bytes do not match its checksum (damaged in transit?); send it again",
        )
        .with_parts(vec![number]));
    }
    writer.finish().await?;
    let etag = expected.to_hex();
    match app
        .repo
        .put_part(&id, number, size as i64, &etag, &nonce)
        .await?
    {
        PutPart::Stored { replaced } => {
            if let Some(old) = replaced.filter(|old| *old != nonce) {
                local
                    .store
                    .delete(&store::part_path(&id, number, &old))
                    .await?;
            }
        }
        PutPart::NotUploading => {
            // Completed or deleted while this part was on its way.
            local.store.delete(&path).await?;
            return Err(not_uploading());
        }
    }
    let mut resp = Json(api::StoredPart {
        number,
        etag: etag.clone(),
        size,
        crc64nvme: Crc64::from_hex(&etag),
    })
    .into_response();
    resp.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{etag}\"")).expect("hex is a valid header"),
    );
    Ok(resp)
}

/// The checks a part PUT passes before its body is read: checksum header,
/// signature (which covers the checksum), expiry, number, declared size,
/// drop state. Returns the expected CRC and the size limit.
async fn check_part_request(
    app: &App,
    local: &crate::blobs::Local,
    id: &str,
    number: u32,
    sig: &Signature,
    headers: &HeaderMap,
) -> ApiResult<(Crc64, u64)> {
    let expected = headers
        .get(api::CHECKSUM_HEADER)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ChecksumRequired,
                format!(
                    "send the headers the part URL came with, including {}",
                    api::CHECKSUM_HEADER
                ),
            )
        })?
        .to_str()
        .ok()
        .and_then(Crc64::from_base64)
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
        .verify(id, number, sig.expires, expected, &sig.sig)
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "this part URL is not valid for these bytes; ask POST /api/v1/drops/{id}/parts \
             for one, with the part's checksum",
        ));
    }
    if sig.expires * 1000 < now_ms() {
        return Err(ApiError::new(
            ErrorCode::UrlExpired,
            "this part URL has expired; ask POST /api/v1/drops/{id}/parts for a new one",
        ));
    }
    check_part_number(app, number)?;
    let max = app.config.max_part_size;
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(part_too_large(max, number));
    }
    match app.repo.drop_by_id(id).await? {
        Some(d) if d.status == UPLOADING => {}
        Some(d) if d.status == COMPLETE || d.status == COMPLETING => return Err(not_uploading()),
        _ => return Err(ApiError::not_found()),
    }

    Ok((expected, max))
}

fn part_too_large(max: u64, number: u32) -> ApiError {
    ApiError::new(
        ErrorCode::TooLarge,
        format!("a part may be at most {max} bytes; use smaller parts"),
    )
    .with_parts(vec![number])
}

/// Reads and discards up to 16 MiB more of a request body, for at most 10 s.
async fn drain(stream: &mut axum::body::BodyDataStream) {
    let mut left: usize = 16 << 20;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(Ok(chunk)) = stream.next().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                break;
            }
        }
    })
    .await;
}

/// Assembles the listed parts into the drop, checking the part list, the
/// total size and the whole file's CRC64-NVME (combined from the parts',
/// so no byte is read again). Until this succeeds nothing of the drop is
/// served.
#[utoipa::path(post, path = "/api/v1/drops/{id}/complete", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = api::CompleteRequest,
    responses((status = 200, body = api::Drop), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody)))]
pub async fn complete(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(req): Json<api::CompleteRequest>,
) -> ApiResult<Json<api::Drop>> {
    let d = owned_drop(&app, &user, &id).await?;
    let want = req.crc64nvme.to_hex();
    if d.status == COMPLETE {
        return same_completion(&app, d, &req, &want);
    }
    super::drops::check_drop_size(&app, req.size)?;
    // Freeze the parts: from here on no PUT can change them.
    if !app.repo.begin_completing(&id).await? {
        let d = owned_drop(&app, &user, &id).await?;
        return same_completion(&app, d, &req, &want);
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
                .complete(
                    &id,
                    d.upload_id.as_deref(),
                    &req,
                    app.config.min_part_size(),
                )
                .await
        }
    };
    let head = match checked {
        Ok(v) => v,
        Err(e) => {
            app.repo.abandon_completing(&id).await?;
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
    match app.repo.complete(&id, &keep, &completion).await? {
        Some(unlisted) => {
            app.wake_events();
            if let Some(local) = app.blobs.local() {
                for p in unlisted {
                    local
                        .store
                        .delete(&store::part_path(&id, p.number as u32, &p.nonce))
                        .await?;
                }
            }
            let row = owned_drop(&app, &user, &id).await?;
            Ok(Json(app.drop_json(&row)))
        }
        // Completed by a concurrent request, or deleted meanwhile.
        None => {
            let d = owned_drop(&app, &user, &id).await?;
            same_completion(&app, d, &req, &want)
        }
    }
}

/// A complete for a drop that is already complete succeeds when it names
/// the same file (its answer got lost and it was retried), else conflicts.
fn same_completion(
    app: &App,
    d: crate::repo::DropRow,
    req: &api::CompleteRequest,
    want: &str,
) -> ApiResult<Json<api::Drop>> {
    if d.status == COMPLETE
        && d.crc64nvme.as_deref() == Some(want)
        && d.size == Some(req.size as i64)
    {
        return Ok(Json(app.drop_json(&d)));
    }
    if d.status == COMPLETE {
        return Err(not_uploading());
    }
    Err(ApiError::new(
        ErrorCode::Conflict,
        "another complete of this drop is under way; retry in a moment",
    ))
}
