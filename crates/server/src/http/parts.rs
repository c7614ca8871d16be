//! The part protocol: hand out signed part URLs, take parts (any order, in
//! parallel, retried), list what is stored, and complete.

use super::{owned_drop, time_of, Auth, Json};
use crate::error::{ApiError, ApiResult};
use crate::repo::{now_ms, Completion, PutPart, COMPLETE, UPLOADING};
use crate::{sniff, store, App};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use dropcast_api::{self as api, ErrorCode};
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

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
        "this drop is complete and takes no more parts; create a new drop to upload again",
    )
}

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
    if req.numbers.is_empty() || req.numbers.len() > MAX_URLS_PER_REQUEST {
        return Err(ApiError::invalid(format!(
            "ask for 1 to {MAX_URLS_PER_REQUEST} part numbers at a time"
        )));
    }
    let bad: Vec<u32> = req
        .numbers
        .iter()
        .copied()
        .filter(|&n| check_part_number(&app, n).is_err())
        .collect();
    if !bad.is_empty() {
        return Err(check_part_number(&app, bad[0]).unwrap_err().with_parts(bad));
    }
    let expires_ms = now_ms() + app.config.part_url_ttl as i64 * 1000;
    let expires = expires_ms / 1000;
    let parts = req
        .numbers
        .iter()
        .map(|&n| api::PartUrl {
            number: n,
            url: format!(
                "{}/api/v1/drops/{id}/parts/{n}?expires={expires}&sig={}",
                app.public_url,
                app.signer.sign(&id, n, expires)
            ),
            headers: BTreeMap::from([(
                "content-type".to_string(),
                "application/octet-stream".to_string(),
            )]),
            expires_at: time_of(expires * 1000),
        })
        .collect();
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
    owned_drop(&app, &user, &id).await?;
    let parts = app
        .repo
        .parts(&id)
        .await?
        .into_iter()
        .map(|p| api::StoredPart {
            number: p.number as u32,
            etag: p.sha256,
            size: p.size as u64,
        })
        .collect();
    Ok(Json(api::StoredParts { parts }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Signature {
    expires: i64,
    sig: String,
}

/// Stores one part. Authorised by the URL's signature, not a token, like an
/// S3 presigned URL. The body's SHA-256 must match the
/// `x-amz-checksum-sha256` header (base64). Answers the etag in the `ETag`
/// header (and the body).
#[utoipa::path(put, path = "/api/v1/drops/{id}/parts/{number}",
    params(("id" = String, Path), ("number" = u32, Path), Signature,
        ("x-amz-checksum-sha256" = String, Header, description = "base64 SHA-256 of the body")),
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
    if !app.signer.verify(&id, number, sig.expires, &sig.sig) {
        return Err(ApiError::new(
            ErrorCode::InvalidSignature,
            "this part URL is not valid; ask POST /api/v1/drops/{id}/parts for one",
        ));
    }
    if sig.expires * 1000 < now_ms() {
        return Err(ApiError::new(
            ErrorCode::UrlExpired,
            "this part URL has expired; ask POST /api/v1/drops/{id}/parts for a new one",
        ));
    }
    check_part_number(&app, number)?;
    let expected = headers
        .get(api::CHECKSUM_HEADER)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ChecksumRequired,
                format!(
                    "send the part's base64 SHA-256 in the {} header",
                    api::CHECKSUM_HEADER
                ),
            )
        })?
        .to_str()
        .ok()
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .filter(|d| d.len() == 32)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "{} must be the base64 of a 32-byte SHA-256",
                api::CHECKSUM_HEADER
            ))
        })?;
    let max = app.config.max_part_size;
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!("a part may be at most {max} bytes; use smaller parts"),
        )
        .with_parts(vec![number])
    };
    let declared: Option<u64> = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|len| len > max) {
        return Err(too_large());
    }
    match app.repo.drop_by_id(&id).await? {
        Some(d) if d.status == UPLOADING => {}
        Some(d) if d.status == COMPLETE => return Err(not_uploading()),
        _ => return Err(ApiError::not_found()),
    }

    let _slot = app
        .part_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an upload slot", e))?;
    let nonce = crate::secrets::new_id();
    let path = store::part_path(&id, number, &nonce);
    let mut writer = app.store.writer(path.clone()).await?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
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
            return Err(too_large());
        }
        hasher.update(&chunk);
        if let Err(e) = writer.write(&chunk).await {
            writer.abort().await;
            return Err(e.into());
        }
    }
    if hasher.finalize()[..] != expected[..] {
        writer.abort().await;
        return Err(ApiError::new(
            ErrorCode::ChecksumMismatch,
            "the part's bytes do not match its checksum (damaged in transit?); send it again",
        )
        .with_parts(vec![number]));
    }
    writer.finish().await?;
    let sha = hex::encode(&expected);
    match app
        .repo
        .put_part(&id, number, size as i64, &sha, &nonce)
        .await?
    {
        PutPart::Stored { replaced } => {
            if let Some(old) = replaced.filter(|old| *old != nonce) {
                app.store
                    .delete(&store::part_path(&id, number, &old))
                    .await?;
            }
        }
        PutPart::NotUploading => {
            // Completed or deleted while this part was on its way.
            app.store.delete(&path).await?;
            return Err(not_uploading());
        }
    }
    let mut resp = Json(api::StoredPart {
        number,
        etag: sha.clone(),
        size,
    })
    .into_response();
    resp.headers_mut().insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{sha}\"")).expect("hex is a valid header"),
    );
    Ok(resp)
}

/// Assembles the listed parts into the drop, checking the part list, the
/// total size and the whole file's SHA-256. Until this succeeds nothing of
/// the drop is served.
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
    let want_sha = req.sha256.trim().to_ascii_lowercase();
    if d.status == COMPLETE {
        // A retried complete (the answer got lost) succeeds again.
        if d.sha256.as_deref() == Some(want_sha.as_str()) && d.size == Some(req.size as i64) {
            return Ok(Json(app.drop_json(&d)));
        }
        return Err(not_uploading());
    }
    if want_sha.len() != 64 || !want_sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid("sha256 must be 64 hex digits"));
    }
    super::drops::check_drop_size(&app, req.size)?;
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
    let stored: BTreeMap<u32, crate::repo::PartRow> = app
        .repo
        .parts(&id)
        .await?
        .into_iter()
        .map(|p| (p.number as u32, p))
        .collect();
    let unknown: Vec<u32> = req
        .parts
        .iter()
        .filter(|p| {
            stored
                .get(&p.number)
                .is_none_or(|s| s.sha256 != p.etag.trim_matches('"'))
        })
        .map(|p| p.number)
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::new(
            ErrorCode::InvalidParts,
            "these parts are not stored or their etags differ; list the stored parts \
             (GET .../parts) and send the missing ones",
        )
        .with_parts(unknown));
    }
    let listed: Vec<&crate::repo::PartRow> = req.parts.iter().map(|p| &stored[&p.number]).collect();
    let small: Vec<u32> = listed
        .iter()
        .take(listed.len().saturating_sub(1))
        .filter(|p| (p.size as u64) < app.config.min_part_size)
        .map(|p| p.number as u32)
        .collect();
    if !small.is_empty() {
        return Err(ApiError::new(
            ErrorCode::PartTooSmall,
            format!(
                "every part but the last must be at least {} bytes",
                app.config.min_part_size
            ),
        )
        .with_parts(small));
    }
    let total: u64 = listed.iter().map(|p| p.size as u64).sum();
    if total != req.size || d.declared_size.is_some_and(|s| s as u64 != req.size) {
        return Err(ApiError::new(
            ErrorCode::SizeMismatch,
            format!(
                "the parts add up to {total} bytes, the request says {}{}",
                req.size,
                d.declared_size
                    .map(|s| format!(" and the drop was created with {s}"))
                    .unwrap_or_default()
            ),
        ));
    }

    let _slot = app
        .complete_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for a completion slot", e))?;
    // Read the parts in order and hash them: nothing is copied, the
    // drop's file is its parts.
    let pieces: Vec<_> = listed
        .iter()
        .map(|p| {
            (
                store::part_path(&id, p.number as u32, &p.nonce),
                p.size as u64,
            )
        })
        .collect();
    let mut bytes = app.store.read_pieces(pieces, 0..total);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(sniff::SNIFF_LEN);
    while let Some(chunk) = bytes.try_next().await? {
        if head.len() < sniff::SNIFF_LEN {
            let take = (sniff::SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
    }
    let got_sha = hex::encode(hasher.finalize());
    if got_sha != want_sha {
        return Err(ApiError::new(
            ErrorCode::ChecksumMismatch,
            format!(
                "the parts hash to {got_sha}, not the sha256 sent; the parts are kept: \
                 re-send the wrong ones and complete again"
            ),
        ));
    }
    let content_type = sniff::content_type(&head);
    let done = app
        .repo
        .complete(
            &id,
            &Completion {
                size: total as i64,
                sha256: &got_sha,
                content_type: &content_type,
                delete_token_hash: None,
            },
        )
        .await?;
    if !done {
        // Completed by a concurrent request (same bytes), or deleted meanwhile.
        return match app.repo.drop_by_id(&id).await? {
            Some(row) => Ok(Json(app.drop_json(&row))),
            None => Err(ApiError::not_found()),
        };
    }
    // Parts stored but not listed are not part of the drop.
    let unlisted = app
        .repo
        .delete_unlisted_parts(&id, &req.parts.iter().map(|p| p.number).collect::<Vec<_>>())
        .await?;
    for p in unlisted {
        app.store
            .delete(&store::part_path(&id, p.number as u32, &p.nonce))
            .await?;
    }
    let row = owned_drop(&app, &user, &id).await?;
    Ok(Json(app.drop_json(&row)))
}
