//! `POST /api/v1/upload`: small files in one multipart/form-data request
//! (what ShareX and `curl -F` send), and the per-drop delete links it hands out.

use super::{check_name, Auth};
use crate::error::{ApiError, ApiResult};
use crate::repo::{Completion, NewDrop, UPLOADING};
use crate::{secrets, sniff, store, App};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Html;
use dropcast_api::{self as api, ErrorCode};
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
        while let Some(field) = multipart.next_field().await.map_err(bad_form)? {
            if field.name() != Some("file") {
                continue;
            }
            if files.len() == MAX_FILES {
                return Err(ApiError::invalid(format!(
                    "at most {MAX_FILES} files per request"
                )));
            }
            files.push(store_file(&app, &user.id, field).await?);
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

async fn store_file(
    app: &App,
    owner_id: &str,
    mut field: axum::extract::multipart::Field<'_>,
) -> ApiResult<api::UploadedFile> {
    let name = field.file_name().unwrap_or("file").to_string();
    check_name(&name)?;
    let id = secrets::new_drop_id();
    let new = NewDrop {
        id: &id,
        owner_id,
        status: UPLOADING,
        name: &name,
        title: None,
        declared_type: field.content_type(),
        declared_size: None,
        visibility: api::Visibility::Unlisted.as_str(),
        expires_at: None,
        upload_id: None,
    };
    app.repo.insert_drop(&new).await?;
    let nonce = secrets::new_id();
    let _slot = app
        .part_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an upload slot", e))?;
    let stored = async {
        let max = app.config.max_oneshot_size;
        let mut writer = match app.blobs.local() {
            Some(local) => Sink::File(local.store.writer(store::part_path(&id, 1, &nonce)).await?),
            None => Sink::Memory(Vec::new()),
        };
        let mut crc = dropcast_api::Crc64Digest::default();
        let mut head = sniff::Head::default();
        let mut size = 0u64;
        loop {
            let chunk = match field.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break,
                Err(e) => {
                    writer.abort().await;
                    return Err(bad_form(e));
                }
            };
            size += chunk.len() as u64;
            if size > max {
                writer.abort().await;
                return Err(ApiError::new(
                    ErrorCode::TooLarge,
                    format!(
                        "{name} is over {max} bytes, the limit for one-shot uploads; \
                         use the part protocol (`dropcast upload`) for big files"
                    ),
                ));
            }
            head.feed(&chunk);
            crc.update(&chunk);
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                return Err(e.into());
            }
        }
        let crc = crc.finish();
        let content_type = head.content_type();
        // In memory (S3): stored whole, S3 checking the checksum.
        if let Some(bytes) = writer.finish().await? {
            app.blobs
                .put_whole(&id, bytes, crc, &content_type)
                .await
                .map_err(|e| ApiError::internal("storing a one-shot upload", e))?;
        }
        Ok((size, crc.to_hex(), head))
    }
    .await;
    let (size, crc, head) = match stored {
        Ok(s) => s,
        Err(e) => {
            crate::domain::drops::delete_drop(app, &id).await?;
            return Err(e);
        }
    };
    let keep: &[u32] = if app.blobs.local().is_some() {
        app.repo.put_part(&id, 1, size as i64, &crc, &nonce).await?;
        &[1]
    } else {
        &[]
    };
    let content_type = head.content_type();
    let delete_token = secrets::new_token();
    let completion = Completion {
        size: size as i64,
        crc64nvme: &crc,
        content_type: &content_type,
        delete_token_hash: Some(&secrets::token_hash(&delete_token)),
        dimensions: head.dimensions(),
    };
    if app.repo.complete(&id, keep, &completion).await?.is_none() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the drop was deleted meanwhile",
        ));
    }
    app.wake_events();
    Ok(api::UploadedFile {
        url: app.share_url(&id),
        raw_url: app.raw_url(&id),
        delete_url: format!("{}/{id}/delete?token={delete_token}", app.public_url),
        id,
        name,
        size,
        content_type,
    })
}

/// Where a one-shot upload's bytes go as they arrive: a part file, or
/// memory (within the one-shot limit) for a store that takes whole objects.
enum Sink {
    File(store::Writer),
    Memory(Vec<u8>),
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), object_store::Error> {
        match self {
            Sink::File(w) => w.write(chunk).await,
            Sink::Memory(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    async fn abort(self) {
        if let Sink::File(w) = self {
            w.abort().await;
        }
    }

    /// The bytes, when they were kept in memory.
    async fn finish(self) -> Result<Option<Vec<u8>>, object_store::Error> {
        match self {
            Sink::File(w) => w.finish().await.map(|_| None),
            Sink::Memory(v) => Ok(Some(v)),
        }
    }
}

#[derive(Deserialize)]
pub struct DeleteToken {
    token: String,
}

async fn check_delete_token(app: &App, id: &str, token: &str) -> ApiResult<()> {
    let d = app
        .repo
        .drop_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let ok = d.delete_token_hash.is_some_and(|h| {
        secrets::constant_time_eq(h.as_bytes(), secrets::token_hash(token).as_bytes())
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// Opening a delete link asks first: link previews and prefetchers follow
/// GET links, and must not delete anything.
pub async fn delete_page(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<DeleteToken>,
) -> ApiResult<Html<String>> {
    check_delete_token(&app, &id, &q.token).await?;
    Ok(Html(format!(
        "<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>\
         <title>Delete drop</title><form method=post>\
         <p>Delete drop <code>{id}</code> for good?</p>\
         <input type=hidden name=confirm value=1><button>Delete</button></form>",
        id = html_escape(&id)
    )))
}

pub async fn delete_confirmed(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<DeleteToken>,
) -> ApiResult<Html<&'static str>> {
    check_delete_token(&app, &id, &q.token).await?;
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
