//! The drops' rules, apart from HTTP: creating (with its upload begun),
//! listing in pages, reserving ids, changing and deleting, for the drop's
//! owner. Everything a request asks is checked before anything is
//! written, so a refused change changes nothing.

use crate::domain::access::owned_drop;
use crate::error::{ApiError, ApiResult};
use crate::repo::{ms_of, now_ms, Claim, DropRow, NewDrop, UserRow, UPLOADING};
use crate::App;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use dropcast_api::{self as api, ErrorCode};

/// The largest page of [`list`].
pub const MAX_PAGE: u32 = 200;
/// The page of [`list`] when none is asked for.
pub const DEFAULT_PAGE: u32 = 50;

/// Checks a file name: it is only metadata (storage paths never use it),
/// but it ends up in headers and on disk on other people's machines.
pub fn check_name(name: &str) -> ApiResult<()> {
    let bad = |why: &str| {
        Err(ApiError::new(
            ErrorCode::InvalidName,
            format!("file name {name:?} {why}; send a plain file name such as `screenshot.png`"),
        ))
    };
    if name.trim().is_empty() {
        return bad("is empty");
    }
    if name.chars().count() > 255 {
        return bad("is longer than 255 characters");
    }
    if name.contains(['/', '\\']) {
        return bad("contains a path separator");
    }
    if name == "." || name == ".." {
        return bad("is a directory reference");
    }
    if name.chars().any(char::is_control) {
        return bad("contains control characters");
    }
    Ok(())
}

/// A drop of `size` bytes is within this server's limit.
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

/// The argon2 hash of a drop password (at most 1000 characters, not empty).
fn password_hash(password: Option<&api::Password>) -> ApiResult<Option<String>> {
    let Some(api::Password(p)) = password else {
        return Ok(None);
    };
    if p.is_empty() || p.chars().count() > 1000 {
        return Err(ApiError::invalid(
            "password must be 1 to 1000 characters; send null to remove one",
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
        // Stored as a signed 64-bit count: a bigger one would wrap.
        Some(n) if n > i64::MAX as u64 => Err(ApiError::invalid(format!(
            "max_views must be at most {}; send null for no limit",
            i64::MAX
        ))),
        _ => Ok(()),
    }
}

fn check_title(title: Option<&str>) -> ApiResult<()> {
    match title {
        Some(t) if t.chars().count() > 1000 => {
            Err(ApiError::invalid("title is longer than 1000 characters"))
        }
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

/// When a drop made now that says nothing of its expiry expires (unix
/// ms): `default_expiry` from now, or never.
pub fn default_expiry(app: &App) -> Option<i64> {
    (app.config.default_expiry > 0)
        .then(|| crate::repo::now_ms() + app.config.default_expiry as i64 * 1000)
}

/// Creates a drop for `user`, with its upload begun, before any byte is
/// sent.
pub async fn create(app: &App, user: &UserRow, req: &api::CreateDrop) -> ApiResult<DropRow> {
    check_name(&req.name)?;
    if let Some(size) = req.size {
        check_drop_size(app, size)?;
    }
    check_title(req.title.as_deref())?;
    if let Some(t) = req.content_type.as_deref() {
        if t.chars().count() > 255 || t.chars().any(char::is_control) {
            return Err(ApiError::invalid("content_type is not a plain media type"));
        }
    }
    let expires_at = req.expires_at.map(ms_of).or_else(|| default_expiry(app));
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
    if made.is_ok() {
        app.wake_events(); // drop.created
    }
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
    app.repo
        .drop_by_id(new.id)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// A page of `user`'s drops, newest first, after `cursor` (from a
/// previous page), with the cursor of the next page if there is one.
pub async fn list(
    app: &App,
    user: &UserRow,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> ApiResult<(Vec<DropRow>, Option<String>)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let after = cursor.map(decode_cursor).transpose()?;
    let mut rows = app.repo.list_drops(&user.id, after, limit + 1).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last())
        .flatten()
        .map(|r| URL_SAFE_NO_PAD.encode(format!("{}.{}", r.created_at, r.id)));
    Ok((rows, next_cursor))
}

fn decode_cursor(c: &str) -> ApiResult<(i64, String)> {
    let bad = || ApiError::invalid("cursor is not one this server handed out");
    let text = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_string()))
}

/// Holds `count` drop ids for `user`; answers them and when they expire
/// (unix ms).
pub async fn reserve(app: &App, user: &UserRow, count: u32) -> ApiResult<(Vec<String>, i64)> {
    let max = app.config.max_reserve;
    if count == 0 || count > max {
        return Err(ApiError::invalid(format!(
            "count must be between 1 and {max}"
        )));
    }
    let until = now_ms() + app.config.reservation_ttl as i64 * 1000;
    let ids = app.repo.reserve(&user.id, count, until).await?;
    Ok((ids, until))
}

/// Changes `user`'s drop `id` as `req` asks: all of it, or (on a bad
/// value) none of it.
pub async fn update(
    app: &App,
    user: &UserRow,
    id: &str,
    req: &api::UpdateDrop,
) -> ApiResult<DropRow> {
    owned_drop(app, user, id).await?;
    check_title(req.title.as_ref().and_then(|t| t.as_deref()))?;
    let expires_at = req.expires_at.map(|e| e.map(ms_of));
    check_expiry(expires_at.flatten())?;
    if let Some(max) = req.max_views {
        check_max_views(max)?;
    }
    let hash = match &req.password {
        Some(p) => Some(password_hash(p.as_ref())?),
        None => None,
    };
    app.repo
        .update_drop(
            id,
            req.title.as_ref().map(|t| t.as_deref()),
            expires_at,
            req.visibility.map(api::Visibility::as_str),
        )
        .await?;
    app.repo
        .set_protection(
            id,
            hash.as_ref().map(|h| h.as_deref()),
            req.max_views.map(|m| m.map(|m| m as i64)),
        )
        .await?;
    owned_drop(app, user, id).await
}

/// Deletes `user`'s drop `id` and its bytes.
pub async fn delete(app: &App, user: &UserRow, id: &str) -> ApiResult<()> {
    owned_drop(app, user, id).await?;
    delete_drop(app, id).await
}

/// Deletes drop `id` and its bytes (an upload in progress is aborted),
/// whoever owns it: the caller has checked the right to.
pub async fn delete_drop(app: &App, id: &str) -> ApiResult<()> {
    app.purge_drops(&[id.to_string()])
        .await
        .map_err(|e| ApiError::internal("deleting a drop", e))
}
