//! Serving a drop's bytes: `/{id}/raw` and the pretty `/{id}.{ext}`, with
//! ranges, ETags, a server-decided content type and headers that keep
//! uploaded content from running script on our origin.

use super::{Path, Query};
use crate::conditional::{not_modified, parse_range, range_applies, RangeSpec};
use crate::error::{ApiError, ApiResult};
use crate::repo::COMPLETE;
use crate::{sniff, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use dropcast_api::{ErrorCode, Visibility};

/// `GET /{id}.{ext}`: the bytes under a pretty name (the extension is
/// decoration).
pub async fn pretty(app: &App, id_ext: &str, headers: &HeaderMap) -> ApiResult<Response> {
    let id = id_ext.split_once('.').map_or(id_ext, |(id, _)| id);
    serve(app, id, headers, false).await
}

/// A drop's bytes. Public and unlisted drops need only the link; private
/// ones the owner's token; protected ones (password, view limit) the grant
/// their page gives. `?download` asks for an attachment.
#[utoipa::path(get, path = "/{id}/raw", params(("id" = String, Path),
        ("range" = Option<String>, Header, description = "one `bytes=` range")),
    responses((status = 200, description = "the bytes"), (status = 206, description = "a range"),
        (status = 304), (status = 401, body = dropcast_api::ErrorBody),
        (status = 404, body = dropcast_api::ErrorBody),
        (status = 409, body = dropcast_api::ErrorBody, description = "still uploading"),
        (status = 410, body = dropcast_api::ErrorBody), (status = 416)))]
pub async fn raw(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    serve(&app, &id, &headers, query.contains_key("download")).await
}

async fn serve(app: &App, id: &str, headers: &HeaderMap, download: bool) -> ApiResult<Response> {
    let reader = super::reader(app, id, headers).await?;
    let d = crate::domain::access::readable(app, id, &reader).await?;
    if d.status != COMPLETE {
        return Err(ApiError::new(
            ErrorCode::NotReady,
            "this drop is still uploading; try again in a moment",
        ));
    }
    let size = d.size.unwrap_or(0) as u64;
    // The whole file's checksum names this exact content.
    let etag = format!("\"{}\"", d.crc64nvme.as_deref().unwrap_or_default());
    let content_type = d
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let inline = !download && sniff::inline(&content_type, &d.name);
    let disposition = sniff::disposition(inline, &d.name);
    let mut h = HeaderMap::new();
    let mut put = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(header::ETAG, &etag);
    put(header::ACCEPT_RANGES, "bytes");
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(header::CONTENT_SECURITY_POLICY, sniff::RAW_CSP);
    put(header::CONTENT_DISPOSITION, &disposition);
    put(
        header::CACHE_CONTROL,
        if d.visibility == Visibility::Private.as_str()
            || d.password_hash.is_some()
            || d.max_views.is_some()
        {
            "private, no-cache"
        } else {
            "public, max-age=60, must-revalidate"
        },
    );
    put(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-site",
    );

    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if header_str(header::IF_NONE_MATCH).is_some_and(|inm| not_modified(inm, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    let if_range_ok = range_applies(header_str(header::IF_RANGE), &etag);
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(spec) if if_range_ok => match parse_range(spec, size) {
            RangeSpec::Whole => None,
            RangeSpec::Part(r) => Some(r),
            RangeSpec::Unsatisfiable => {
                put(header::CONTENT_RANGE, &format!("bytes */{size}"));
                let mut resp = ApiError::new(
                    ErrorCode::RangeNotSatisfiable,
                    format!("the file is {size} bytes long"),
                )
                .into_response();
                resp.headers_mut().extend(h);
                return Ok(resp);
            }
        },
        _ => None,
    };
    // Bytes served by another origin (S3): a short-lived URL there, which
    // answers with the type decided here and the same disposition. The
    // access rules above have been applied; the URL is the grant. What
    // needs no bytes (a 304, a 416) was answered above, the same on every
    // backend; a satisfiable Range goes along to the bucket.
    if let Some(url) =
        app.blobs
            .download_url(id, &content_type, &disposition, app.config.download_url_ttl)
    {
        return Ok((
            StatusCode::FOUND,
            [
                (header::LOCATION, url.as_str()),
                (header::CACHE_CONTROL, "private, no-store"),
                (header::REFERRER_POLICY, "no-referrer"),
            ],
        )
            .into_response());
    }

    put(header::CONTENT_TYPE, &content_type);
    let (status, span) = match range {
        Some(r) => {
            put(
                header::CONTENT_RANGE,
                &format!("bytes {}-{}/{size}", r.start, r.end - 1),
            );
            (StatusCode::PARTIAL_CONTENT, r)
        }
        None => (StatusCode::OK, 0..size),
    };
    put(header::CONTENT_LENGTH, &(span.end - span.start).to_string());
    let stream = app.blobs.read(id, size, span).await?;
    Ok((status, h, Body::from_stream(stream)).into_response())
}
