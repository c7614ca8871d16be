//! Sign-in and the drops API: create, reserve, list, get, update, delete.

use super::{check_name, ms_of, owned_drop, time_of, Auth, Json};
use crate::error::{ApiError, ApiResult};
use crate::repo::{now_ms, Claim, NewDrop, UPLOADING};
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dropcast_api::{self as api, ErrorCode};
use serde::Deserialize;

/// Exchanges a user name and password for a new API token.
#[utoipa::path(post, path = "/api/v1/auth/login", request_body = api::LoginRequest,
    responses((status = 200, body = api::TokenIssued), (status = 401, body = api::ErrorBody)))]
pub async fn login(
    State(app): State<App>,
    Json(req): Json<api::LoginRequest>,
) -> ApiResult<Json<api::TokenIssued>> {
    let wrong = || {
        ApiError::new(
            ErrorCode::InvalidCredentials,
            "wrong user name or password (an owner can set one with `dropcast-server user passwd NAME`)",
        )
    };
    let user = app.repo.user_by_name(&req.user).await?.ok_or_else(wrong)?;
    let hash = user.password_hash.clone().ok_or_else(wrong)?;
    let password = req.password.clone();
    // argon2 is deliberately slow: keep it off the async workers.
    let ok = tokio::task::spawn_blocking(move || crate::secrets::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::internal("checking a password", e))?;
    if !ok {
        return Err(wrong());
    }
    let label = req.token_name.as_deref().unwrap_or("login");
    let (token_id, token) = app.repo.create_token(&user.id, label).await?;
    Ok(Json(api::TokenIssued {
        user: user_json(&user),
        token_id,
        token,
    }))
}

fn user_json(u: &crate::repo::UserRow) -> api::User {
    api::User {
        id: u.id.clone(),
        name: u.name.clone(),
        created_at: time_of(u.created_at),
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", security(("bearer" = [])),
    responses((status = 200, body = api::User), (status = 401, body = api::ErrorBody)))]
pub async fn me(Auth(user): Auth) -> Json<api::User> {
    Json(user_json(&user))
}

/// Creates a drop, returning its id and share URL before any byte is sent.
#[utoipa::path(post, path = "/api/v1/drops", security(("bearer" = [])), request_body = api::CreateDrop,
    responses((status = 201, body = api::Drop), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    Auth(user): Auth,
    Json(req): Json<api::CreateDrop>,
) -> ApiResult<(StatusCode, Json<api::Drop>)> {
    check_name(&req.name)?;
    if let Some(size) = req.size {
        check_drop_size(&app, size)?;
    }
    check_title(req.title.as_deref())?;
    if let Some(t) = req.content_type.as_deref() {
        if t.len() > 255 || t.chars().any(char::is_control) {
            return Err(ApiError::invalid("content_type is not a plain media type"));
        }
    }
    let expires_at = req.expires_at.map(ms_of).or_else(|| {
        (app.config.default_expiry > 0)
            .then(|| crate::repo::now_ms() + app.config.default_expiry as i64 * 1000)
    });
    check_expiry(expires_at)?;
    let password_hash = password_hash(req.password.as_ref())?;
    check_max_views(req.max_views)?;
    let fresh_id;
    let new = NewDrop {
        id: match &req.id {
            Some(id) => id,
            None => {
                fresh_id = crate::secrets::new_drop_id();
                &fresh_id
            }
        },
        owner_id: &user.id,
        status: UPLOADING,
        name: &req.name,
        title: req.title.as_deref(),
        declared_type: req.content_type.as_deref(),
        declared_size: req.size.map(|s| s as i64),
        visibility: req.visibility.unwrap_or_default().as_str(),
        expires_at,
        upload_id: None,
    };
    // The upload is begun first and its id written with the row, so that
    // no drop row ever lacks one. (An upload begun for a row that is then
    // not made is aborted below; after a crash, the bucket's rule for
    // incomplete uploads ends it.)
    let upload_id = app.blobs.begin(new.id).await?;
    let new = NewDrop {
        upload_id: upload_id.as_deref(),
        ..new
    };
    let made = if req.id.is_some() {
        match app.repo.claim(&new).await {
            Ok(Claim::Claimed) => Ok(()),
            Ok(Claim::NotFound) => Err(ApiError::not_found()),
            Ok(Claim::Expired) => Err(ApiError::new(
                ErrorCode::ReservationExpired,
                "this reserved id has expired; reserve new ids or create without an id",
            )),
            Ok(Claim::AlreadyUsed) => Err(ApiError::new(
                ErrorCode::Conflict,
                "this reserved id is already used by another drop",
            )),
            Err(e) => Err(e.into()),
        }
    } else {
        app.repo.insert_drop(&new).await.map_err(ApiError::from)
    };
    if let Err(e) = made {
        if let Some(u) = &upload_id {
            if let Err(abort) = app.blobs.abort(new.id, u).await {
                tracing::warn!(drop = %new.id, "aborting an upload nobody will use: {abort:#}");
            }
        }
        return Err(e);
    }
    if password_hash.is_some() || req.max_views.is_some() {
        app.repo
            .set_protection(
                new.id,
                Some(password_hash.as_deref()),
                Some(req.max_views.map(|m| m as i64)),
            )
            .await?;
    }
    let row = app
        .repo
        .drop_by_id(new.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok((StatusCode::CREATED, Json(app.drop_json(&row))))
}

pub fn check_drop_size(app: &App, size: u64) -> ApiResult<()> {
    let max = app.config.max_drop_size;
    if size > max {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("{size} bytes is over this server's limit of {max} bytes per drop"),
        ));
    }
    Ok(())
}

/// The argon2 hash of a drop password (at most 1000 bytes, not empty).
fn password_hash(password: Option<&api::Password>) -> ApiResult<Option<String>> {
    let Some(api::Password(p)) = password else {
        return Ok(None);
    };
    if p.is_empty() || p.len() > 1000 {
        return Err(ApiError::invalid(
            "password must be 1 to 1000 bytes; send null to remove one",
        ));
    }
    crate::secrets::hash_password(p)
        .map(Some)
        .map_err(|e| ApiError::internal("hashing a drop password", e))
}

fn check_max_views(max_views: Option<u64>) -> ApiResult<()> {
    match max_views {
        Some(0) => Err(ApiError::invalid(
            "max_views must be at least 1; send null for no limit",
        )),
        _ => Ok(()),
    }
}

fn check_title(title: Option<&str>) -> ApiResult<()> {
    match title {
        Some(t) if t.len() > 1000 => Err(ApiError::invalid("title is longer than 1000 bytes")),
        _ => Ok(()),
    }
}

fn check_expiry(expires_at: Option<i64>) -> ApiResult<()> {
    match expires_at {
        Some(t) if t <= now_ms() => Err(ApiError::invalid(
            "expires_at is in the past; send a future time or leave it out",
        )),
        _ => Ok(()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<u32>,
}

/// The signed-in user's drops, newest first.
#[utoipa::path(get, path = "/api/v1/drops", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = api::DropList), (status = 401, body = api::ErrorBody)))]
pub async fn list(
    State(app): State<App>,
    Auth(user): Auth,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<api::DropList>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be between 1 and 200"));
    }
    let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
    let rows = app.repo.list_drops(&user.id, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|r| URL_SAFE_NO_PAD.encode(format!("{}.{}", r.created_at, r.id)));
    Ok(Json(api::DropList {
        drops: rows.iter().map(|r| app.drop_json(r)).collect(),
        next_cursor,
    }))
}

fn decode_cursor(c: &str) -> ApiResult<(i64, String)> {
    let bad = || ApiError::invalid("cursor is not one this server handed out");
    let text = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_string()))
}

/// Holds drop ids ahead of time, so a client can hand out a link with no
/// network round trip. Unused ids expire.
#[utoipa::path(post, path = "/api/v1/drops/reserve", security(("bearer" = [])),
    request_body = api::ReserveRequest,
    responses((status = 200, body = api::ReserveResponse), (status = 400, body = api::ErrorBody)))]
pub async fn reserve(
    State(app): State<App>,
    Auth(user): Auth,
    Json(req): Json<api::ReserveRequest>,
) -> ApiResult<Json<api::ReserveResponse>> {
    let max = app.config.max_reserve;
    if req.count == 0 || req.count > max {
        return Err(ApiError::invalid(format!(
            "count must be between 1 and {max}"
        )));
    }
    let until = now_ms() + app.config.reservation_ttl as i64 * 1000;
    let ids = app.repo.reserve(&user.id, req.count, until).await?;
    Ok(Json(api::ReserveResponse {
        reservations: ids
            .into_iter()
            .map(|id| api::Reservation {
                url: app.share_url(&id),
                raw_url: app.raw_url(&id),
                id,
                expires_at: time_of(until),
            })
            .collect(),
    }))
}

/// One of the signed-in user's drops.
#[utoipa::path(get, path = "/api/v1/drops/{id}", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = api::Drop), (status = 404, body = api::ErrorBody)))]
pub async fn get_one(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<api::Drop>> {
    let row = owned_drop(&app, &user, &id).await?;
    Ok(Json(app.drop_json(&row)))
}

/// Changes a drop's title, expiry or visibility.
#[utoipa::path(patch, path = "/api/v1/drops/{id}", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = api::UpdateDrop,
    responses((status = 200, body = api::Drop), (status = 404, body = api::ErrorBody)))]
pub async fn update(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    Json(req): Json<api::UpdateDrop>,
) -> ApiResult<Json<api::Drop>> {
    owned_drop(&app, &user, &id).await?;
    check_title(req.title.as_ref().and_then(|t| t.as_deref()))?;
    let expires_at = req.expires_at.map(|e| e.map(ms_of));
    check_expiry(expires_at.flatten())?;
    app.repo
        .update_drop(
            &id,
            req.title.as_ref().map(|t| t.as_deref()),
            expires_at,
            req.visibility.map(api::Visibility::as_str),
        )
        .await?;
    let hash = match &req.password {
        Some(p) => Some(password_hash(p.as_ref())?),
        None => None,
    };
    if let Some(max) = req.max_views {
        check_max_views(max)?;
    }
    app.repo
        .set_protection(
            &id,
            hash.as_ref().map(|h| h.as_deref()),
            req.max_views.map(|m| m.map(|m| m as i64)),
        )
        .await?;
    let row = owned_drop(&app, &user, &id).await?;
    Ok(Json(app.drop_json(&row)))
}

/// Deletes a drop and its bytes; also aborts an upload in progress.
#[utoipa::path(delete, path = "/api/v1/drops/{id}", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = api::ErrorBody)))]
pub async fn delete(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    owned_drop(&app, &user, &id).await?;
    delete_drop(&app, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_drop(app: &App, id: &str) -> ApiResult<()> {
    app.purge_drops(&[id.to_string()])
        .await
        .map_err(|e| ApiError::internal("deleting a drop", e))
}

/// A ShareX custom uploader for this server: uploads go to the one-shot
/// endpoint with a token of their own (named "ShareX", revocable on its
/// own), and each upload's deletion URL carries that drop's delete token,
/// never the account token.
#[utoipa::path(get, path = "/api/v1/sharex.sxcu", security(("bearer" = [])),
    responses((status = 200, description = "a .sxcu file"), (status = 401, body = api::ErrorBody)))]
pub async fn sharex(
    State(app): State<App>,
    Auth(user): Auth,
) -> ApiResult<axum::response::Response> {
    use axum::response::IntoResponse;
    let (_, token) = app.repo.create_token(&user.id, "ShareX").await?;
    let host = app
        .public_url
        .split("://")
        .nth(1)
        .unwrap_or(&app.public_url)
        .to_string();
    let sxcu = serde_json::json!({
        "Version": "15.0.0",
        "Name": format!("Dropcast ({host})"),
        "DestinationType": "ImageUploader, TextUploader, FileUploader",
        "RequestMethod": "POST",
        "RequestURL": format!("{}/api/v1/upload", app.public_url),
        "Headers": { "Authorization": format!("Bearer {token}") },
        "Body": "MultipartFormData",
        "FileFormName": "file",
        "URL": "{json:files[0].url}",
        "ThumbnailURL": "{json:files[0].raw_url}",
        "DeletionURL": "{json:files[0].delete_url}",
        "ErrorMessage": "{json:error.message}",
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/json"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"dropcast.sxcu\"",
            ),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
        serde_json::to_string_pretty(&sxcu).unwrap_or_default(),
    )
        .into_response())
}

/// The most a poster image may weigh.
const MAX_POSTER: usize = 16 << 20;

/// Sets a drop's thumbnail from an image the client sends (a screencast's
/// poster frame); it is shown until playback starts and used for unfurls.
#[utoipa::path(put, path = "/api/v1/drops/{id}/poster", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Vec<u8>, content_type = "image/png"),
    responses((status = 200, body = api::Drop), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody), (status = 413, body = api::ErrorBody)))]
pub async fn poster(
    State(app): State<App>,
    Auth(user): Auth,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<api::Drop>> {
    owned_drop(&app, &user, &id).await?;
    if body.len() > MAX_POSTER {
        return Err(ApiError::new(
            ErrorCode::TooLarge,
            format!("a poster may be at most {MAX_POSTER} bytes"),
        ));
    }
    let made = crate::jobs::thumbnails::make(body.to_vec())
        .await
        .map_err(|e| ApiError::internal("making a poster", e))?;
    let (thumb, width, height) = made.map_err(|e| {
        ApiError::invalid(format!(
            "the poster is not a PNG, JPEG, GIF or WebP image: {e}"
        ))
    })?;
    crate::jobs::thumbnails::save(&app, &id, &thumb, width, height)
        .await
        .map_err(|e| ApiError::internal("storing a poster", e))?;
    let row = owned_drop(&app, &user, &id).await?;
    Ok(Json(app.drop_json(&row)))
}
