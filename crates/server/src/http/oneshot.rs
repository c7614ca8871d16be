//! `POST /api/v1/upload`: small files in one multipart/form-data request
//! (what ShareX and `curl -F` send), and the per-drop delete links it hands
//! out. The rules are [`crate::domain::oneshot`]'s.

use super::Auth;
use super::{Path, Query};
use crate::domain::oneshot;
use crate::error::{ApiError, ApiResult};
use crate::App;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::Html;
use dropcast_api as api;
use serde::Deserialize;

/// Most files in one request.
const MAX_FILES: usize = 20;

/// Stores each `file` field as a complete drop.
#[utoipa::path(post, path = "/api/v1/upload", security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "one or more `file` fields"),
    responses((status = 201, body = api::UploadResponse), (status = 400, body = api::ErrorBody),
        (status = 413, body = api::ErrorBody)))]
pub async fn upload(
    State(app): State<App>,
    Auth(user): Auth,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, super::Json<api::UploadResponse>)> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::invalid(format!(
            "{}; send multipart/form-data with one or more `file` fields",
            e.body_text()
        ))
    })?;
    let mut files = Vec::new();
    let result = async {
        while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
            if field.name() != Some("file") {
                continue;
            }
            if files.len() == MAX_FILES {
                return Err(ApiError::invalid(format!(
                    "at most {MAX_FILES} files per request"
                )));
            }
            let name = field.file_name().unwrap_or("file").to_string();
            let declared = field.content_type().map(str::to_string);
            files.push(
                oneshot::store_file(&app, &user.id, name, declared.as_deref(), &mut field).await?,
            );
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        // All or nothing: forget the files of this request already stored.
        for f in &files {
            crate::domain::drops::delete_drop(&app, &f.id).await?;
        }
        return Err(e);
    }
    if files.is_empty() {
        return Err(ApiError::invalid(
            "no `file` field in the form; send the file as `file`",
        ));
    }
    Ok((
        StatusCode::CREATED,
        super::Json(api::UploadResponse { files }),
    ))
}

fn bad_form(e: axum::extract::multipart::MultipartError) -> ApiError {
    ApiError::invalid(format!("the form could not be read: {}", e.body_text()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteToken {
    /// The drop's delete token, from its delete URL.
    token: String,
}

/// Opening a delete link asks first: link previews and prefetchers follow
/// GET links, and must not delete anything.
#[utoipa::path(get, path = "/{id}/delete", params(("id" = String, Path), DeleteToken),
    responses((status = 200, description = "a page that asks", content_type = "text/html"),
        (status = 404, body = api::ErrorBody, description = "no such drop, or not its token")))]
pub async fn delete_page(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<DeleteToken>,
) -> ApiResult<Html<String>> {
    oneshot::check_delete_token(&app, &id, &q.token).await?;
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>\
         <title>Delete drop</title><form method=post>\
         <p>Delete drop <code>{id}</code> for good?</p>\
         <input type=hidden name=confirm value=1><button>Delete</button></form>",
        id = html_escape(&id)
    )))
}

/// The delete link's page, confirmed: the drop is deleted.
#[utoipa::path(post, path = "/{id}/delete", params(("id" = String, Path), DeleteToken),
    responses((status = 200, description = "deleted", content_type = "text/html"),
        (status = 404, body = api::ErrorBody, description = "no such drop, or not its token")))]
pub async fn delete_confirmed(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<DeleteToken>,
) -> ApiResult<Html<&'static str>> {
    oneshot::check_delete_token(&app, &id, &q.token).await?;
    crate::domain::drops::delete_drop(&app, &id).await?;
    Ok(Html(
        "<!doctype html><meta charset=utf-8><title>Deleted</title><p>The drop is deleted.</p>",
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
