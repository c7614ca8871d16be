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
//! twice has one ETag. The rules are [`crate::domain::uploads`]'; these
//! handlers map requests to them.

use super::{Auth, Json};
use super::{Path, Query};
use crate::domain::uploads;
use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use dropcast_api as api;
use futures_util::StreamExt;
use serde::Deserialize;

/// Signed URLs to `PUT` parts to.
#[utoipa::path(post, path = "/api/v1/drops/{id}/parts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = api::PartUrlsRequest,
    responses((status = 200, body = api::PartUrls), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 410, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody, description = "a part, or the drop, over the limits")))]
pub async fn part_urls(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(req): Json<api::PartUrlsRequest>,
) -> ApiResult<Json<api::PartUrls>> {
    let parts = uploads::part_urls(&app, &user, &id, &req.parts).await?;
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
    let parts = uploads::stored_parts(&app, &user, &id).await?;
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
    let claim = uploads::PartClaim {
        number,
        expires: sig.expires,
        sig: &sig.sig,
        checksum: headers
            .get(api::CHECKSUM_HEADER)
            .map(|v| v.to_str().unwrap_or("")),
        length: headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok()),
    };
    let mut body = body.into_data_stream();
    let stored = match uploads::check_part(&app, local, &id, &claim).await {
        Ok(expected) => uploads::store_part(&app, local, &id, number, expected, &mut body).await,
        Err(error) => Err(uploads::PartRefused {
            error,
            unread: true,
        }),
    };
    let part = match stored {
        Ok(part) => part,
        Err(refused) => {
            if refused.unread {
                // Read (a bounded amount of) what the client is sending,
                // so it gets to read this answer instead of a reset
                // connection.
                drain(&mut body).await;
            }
            return Err(refused.error);
        }
    };
    let etag = HeaderValue::from_str(&format!("\"{}\"", part.etag)).expect("hex is a valid header");
    let mut resp = Json(part).into_response();
    resp.headers_mut().insert(header::ETAG, etag);
    Ok(resp)
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
        (status = 404, body = api::ErrorBody), (status = 409, body = api::ErrorBody),
        (status = 410, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody, description = "the drop over the limit")))]
pub async fn complete(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(req): Json<api::CompleteRequest>,
) -> ApiResult<Json<api::Drop>> {
    // Run to the end even when the client goes away mid-way: the store
    // may have joined the parts already (S3's upload is then gone), and a
    // handler dropped there would leave the drop's row behind it, which
    // no retry could finish. The client's retry finds it complete.
    use tracing::Instrument;
    let task = {
        let app = app.clone();
        async move { uploads::complete(&app, &user, &id, &req).await }
    };
    let row = tokio::spawn(task.instrument(tracing::Span::current()))
        .await
        .map_err(|e| ApiError::internal("completing an upload", e))??;
    Ok(Json(app.drop_json(&row)))
}
