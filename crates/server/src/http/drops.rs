//! Sign-in and the drops API: create, reserve, list, get, update, delete.

use super::{owned_drop, time_of, Auth, Json};
use super::{Path, Query};
use crate::domain::drops;
use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::extract::State;
use axum::http::StatusCode;
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

/// The signed-in user's webhook (without its secret).
#[utoipa::path(get, path = "/api/v1/me/webhook", security(("bearer" = [])),
    responses((status = 200, body = api::Webhook), (status = 401, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody)))]
pub async fn webhook(State(app): State<App>, Auth(user): Auth) -> ApiResult<Json<api::Webhook>> {
    Ok(Json(crate::domain::webhooks::get(&app, &user).await?))
}

/// Sets where the signed-in user's completed drops are told of; answers
/// the secret that signs each delivery, once.
#[utoipa::path(put, path = "/api/v1/me/webhook", security(("bearer" = [])),
    request_body = api::SetWebhook,
    responses((status = 200, body = api::Webhook), (status = 400, body = api::ErrorBody),
        (status = 401, body = api::ErrorBody)))]
pub async fn set_webhook(
    State(app): State<App>,
    Auth(user): Auth,
    Json(req): Json<api::SetWebhook>,
) -> ApiResult<Json<api::Webhook>> {
    Ok(Json(crate::domain::webhooks::set(&app, &user, &req).await?))
}

/// Removes the signed-in user's webhook.
#[utoipa::path(delete, path = "/api/v1/me/webhook", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody)))]
pub async fn delete_webhook(State(app): State<App>, Auth(user): Auth) -> ApiResult<StatusCode> {
    crate::domain::webhooks::remove(&app, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates a drop, returning its id and share URL before any byte is sent.
#[utoipa::path(post, path = "/api/v1/drops", security(("bearer" = [])), request_body = api::CreateDrop,
    responses((status = 201, body = api::Drop), (status = 400, body = api::ErrorBody),
        (status = 404, body = api::ErrorBody, description = "no such reserved id"),
        (status = 409, body = api::ErrorBody, description = "the reserved id is used already"),
        (status = 410, body = api::ErrorBody, description = "the reservation ran out"),
        (status = 413, body = api::ErrorBody)))]
pub async fn create(
    State(app): State<App>,
    Auth(user): Auth,
    Json(req): Json<api::CreateDrop>,
) -> ApiResult<(StatusCode, Json<api::Drop>)> {
    let row = drops::create(&app, &user, &req).await?;
    Ok((StatusCode::CREATED, Json(app.drop_json(&row))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
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
    let (rows, next_cursor) = drops::list(&app, &user, q.cursor.as_deref(), q.limit).await?;
    Ok(Json(api::DropList {
        drops: rows.iter().map(|r| app.drop_json(r)).collect(),
        next_cursor,
    }))
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
    let (ids, until) = drops::reserve(&app, &user, req.count).await?;
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
    let row = drops::update(&app, &user, &id, &req).await?;
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
    drops::delete(&app, &user, &id).await?;
    Ok(StatusCode::NO_CONTENT)
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
pub const MAX_POSTER: usize = 16 << 20;

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
