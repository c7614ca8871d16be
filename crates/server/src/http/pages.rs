//! Share pages: what the person who receives a link sees at `/{id}`.
//!
//! Rendered on the server (askama templates in `templates/`, checked at
//! compile time), with their stylesheet and script embedded in the binary
//! and served from `/assets/`; no third-party requests. Every page carries
//! a strict CSP: no inline script or style, nothing from elsewhere.
//!
//! Who may see what ([`access`]): private drops only their owner (bearer
//! token); expired drops answer 410; a drop with a password shows a form,
//! and a correct password earns a signed cookie (a *grant*) for that drop,
//! which its raw bytes and thumbnail also require; a drop with a view limit
//! counts page views and is gone (410) once they are used up, the viewer
//! who used the last one keeping a grant to load it.

use super::Path;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use dropcast_api::{self as api, ErrorCode};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

use crate::domain::access::{self, Denied};
use crate::error::{ApiError, ApiResult};
use crate::repo::{now_ms, DropRow, COMPLETE};
use crate::secrets::Signer;
use crate::{sniff, App};

const CSS: &str = include_str!("../../assets/dropcast.css");
const JS: &str = include_str!("../../assets/share.js");

/// What the share pages allow; `connect-src` for the upload-status poll.
const PAGE_CSP: &str = "default-src 'none'; img-src 'self' data:; media-src 'self'; \
     style-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// How much of a text file the page shows.
const TEXT_PREVIEW: u64 = 64 * 1024;

/// A short hash of the assets, so their URLs change when they do and they
/// can be cached for ever.
fn asset_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(CSS);
        h.update(JS);
        hex::encode(&h.finalize()[..6])
    })
}

/// `GET /assets/{name}`: the share pages' stylesheet and script.
#[utoipa::path(get, path = "/assets/{name}", params(("name" = String, Path)),
    responses((status = 200, description = "`dropcast.css` or `share.js`",
            content(("text/css"), ("text/javascript"))),
        (status = 404, description = "no such asset")))]
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "dropcast.css" => (CSS, "text/css; charset=utf-8"),
        "share.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return ApiError::new(ErrorCode::NotFound, "no such asset").into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "drop.html")]
struct DropPage<'a> {
    title: String,
    asset_version: &'a str,
    name: String,
    size_human: String,
    created: String,
    created_human: String,
    views: u64,
    kind: &'a str,
    raw_url: String,
    download_url: String,
    page_url: String,
    og_image: Option<String>,
    og_video: Option<String>,
    content_type: String,
    width: Option<u32>,
    height: Option<u32>,
    og_width: Option<u32>,
    og_height: Option<u32>,
    poster: Option<String>,
    text_preview: Option<String>,
    text_truncated: bool,
}

#[derive(Template)]
#[template(path = "uploading.html")]
struct UploadingPage<'a> {
    title: String,
    asset_version: &'a str,
    name: String,
    id: String,
    status_url: String,
    received: u64,
    size: Option<u64>,
    stalled: bool,
    /// A screencast still being recorded (and sent as it records).
    recording: bool,
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage<'a> {
    title: String,
    asset_version: &'a str,
    form_action: String,
    wrong: bool,
    csrf: String,
}

#[derive(Template)]
#[template(path = "gone.html")]
struct GonePage<'a> {
    title: String,
    asset_version: &'a str,
    heading: String,
    message: String,
}

/// A rendered page with the headers every page carries.
fn page(status: StatusCode, html: Result<String, askama::Error>, cache: &str) -> Response {
    let html = match html {
        Ok(html) => html,
        Err(e) => return ApiError::internal("rendering a page", e).into_response(),
    };
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    let mut put = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, "text/html; charset=utf-8");
    put(header::CONTENT_SECURITY_POLICY, PAGE_CSP);
    put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    put(header::REFERRER_POLICY, "same-origin");
    put(header::CACHE_CONTROL, cache);
    response
}

fn gone(status: StatusCode, heading: &str, message: &str) -> Response {
    page(
        status,
        GonePage {
            title: heading.to_string(),
            asset_version: asset_version(),
            heading: heading.to_string(),
            message: message.to_string(),
        }
        .render(),
        "no-store",
    )
}

/// A [`Denied`] as a page, for `/{id}`.
trait DeniedPage {
    fn page(self) -> Response;
}

impl DeniedPage for Denied {
    fn page(self) -> Response {
        match self {
            Denied::NotFound => gone(
                StatusCode::NOT_FOUND,
                "Nothing here",
                "There is no drop at this link. Check that it was copied whole.",
            ),
            Denied::Expired => gone(
                StatusCode::GONE,
                "This drop has expired",
                "Its owner set it to expire, and it has. Ask them to share it again.",
            ),
            Denied::Burnt => gone(
                StatusCode::GONE,
                "This drop is gone",
                "It could be viewed a limited number of times, and has been.",
            ),
            Denied::NeedsGrant => gone(
                StatusCode::UNAUTHORIZED,
                "This drop is protected",
                "Open its link to enter the password.",
            ),
            Denied::Error(e) => e.into_response(),
        }
    }
}

/// A `Set-Cookie` granting this browser drop `id` for `unlock_ttl`.
fn grant_cookie(app: &App, signer: &Signer, id: &str) -> String {
    let ttl = app.config.unlock_ttl;
    let grant = signer.grant(id, now_ms() + ttl as i64 * 1000);
    let secure = if app.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={grant}; Max-Age={ttl}; Path=/; HttpOnly; SameSite=Lax{secure}",
        super::grant_cookie_name(id)
    )
}

/// [`access::check`] for the request's [`Reader`](access::Reader).
async fn access(app: &App, id: &str, headers: &HeaderMap) -> Result<(DropRow, bool), Denied> {
    let reader = super::reader(app, id, headers).await?;
    access::check(app, id, &reader).await
}

/// `GET /{id}`: the share page.
pub async fn share(app: &App, id: &str, headers: &HeaderMap) -> Response {
    match share_page(app, id, headers).await {
        Ok(r) => r,
        Err(denied) => denied.page(),
    }
}

async fn share_page(app: &App, id: &str, headers: &HeaderMap) -> Result<Response, Denied> {
    let (d, grant_needed) = access(app, id, headers).await?;
    if d.password_hash.is_some() && grant_needed {
        return Ok(password_page(app.signer().await?, id, false));
    }
    if d.status != COMPLETE {
        let (received, last) = app.blobs.received(id, d.upload_id.as_deref()).await?;
        let html = UploadingPage {
            title: title_of(&d),
            asset_version: asset_version(),
            name: d.name.clone(),
            id: d.id.clone(),
            status_url: format!("/{id}/status"),
            received: received as u64,
            size: d.declared_size.map(|s| s as u64),
            stalled: stalled(&d, last),
            recording: is_recording(&d),
        }
        .render();
        return Ok(page(StatusCode::OK, html, "no-store"));
    }
    // A page view: counted, and the last allowed one burns the drop.
    let mut set_grant = d.password_hash.is_some() && !grant_needed;
    let mut took_view = false;
    if d.max_views.is_some() {
        if grant_needed || set_grant {
            if !app.repo.take_limited_view(id).await? {
                return Err(Denied::Burnt);
            }
            set_grant = true;
            took_view = true;
        }
    } else {
        app.views.add(id);
    }
    let views = (d.views + app.views.pending(id) + i64::from(took_view)) as u64;
    let mut response = page(
        StatusCode::OK,
        viewer(app, &d, views).await?.render(),
        if d.password_hash.is_some() || d.max_views.is_some() {
            "no-store"
        } else {
            "no-cache"
        },
    );
    if set_grant {
        if let Ok(v) = HeaderValue::from_str(&grant_cookie(app, app.signer().await?, id)) {
            response.headers_mut().insert(header::SET_COOKIE, v);
        }
    }
    // The image or video is a redirect to the bucket when it serves the
    // bytes, and a browser checks where a redirect leads against the CSP.
    if let Some(origin) = app.blobs.bytes_origin() {
        let csp = PAGE_CSP
            .replace(
                "img-src 'self' data:",
                &format!("img-src 'self' data: {origin}"),
            )
            .replace("media-src 'self'", &format!("media-src 'self' {origin}"));
        if let Ok(v) = HeaderValue::from_str(&csp) {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    Ok(response)
}

/// An upload with nothing new for this long has stopped (its sender may
/// still resume it; the page then says so again).
const STALLED_AFTER_MS: i64 = 10 * 60 * 1000;
const RECORDING_STALLED_AFTER_MS: i64 = 24 * 3600 * 1000;

fn stalled(d: &DropRow, last_part_at: Option<i64>) -> bool {
    // A recording may be paused, or a still screen slow to fill a part.
    let limit = if is_recording(d) {
        RECORDING_STALLED_AFTER_MS
    } else {
        STALLED_AFTER_MS
    };
    now_ms() - last_part_at.unwrap_or(d.created_at) > limit
}

/// A video made with no size: a screencast shared while it records.
fn is_recording(d: &DropRow) -> bool {
    d.declared_size.is_none()
        && d.declared_type
            .as_deref()
            .is_some_and(|t| t.starts_with("video/"))
}

fn title_of(d: &DropRow) -> String {
    d.title.clone().unwrap_or_else(|| d.name.clone())
}

fn password_page(signer: &Signer, id: &str, wrong: bool) -> Response {
    let html = PasswordPage {
        title: "Protected drop".into(),
        asset_version: asset_version(),
        form_action: format!("/{id}/unlock"),
        wrong,
        csrf: signer.form_token(id),
    }
    .render();
    let status = if wrong {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    page(status, html, "no-store")
}

/// The password page's form.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct UnlockForm {
    password: String,
    /// The form token the page carries.
    csrf: String,
}

/// `POST /{id}/unlock`: a correct password earns the grant cookie and a
/// redirect to the page; a wrong one the form again, with a 401 (which the
/// abuse guard counts).
#[utoipa::path(post, path = "/{id}/unlock", params(("id" = String, Path)),
    request_body(content = UnlockForm, content_type = "application/x-www-form-urlencoded",
        description = "the password page's form"),
    responses((status = 303, description = "to the share page, with the grant cookie"),
        (status = 401, description = "the form again: a wrong password",
            content_type = "text/html"),
        (status = 404, description = "no such drop", content_type = "text/html"),
        (status = 410, description = "expired, or viewed its last time",
            content_type = "text/html")))]
pub async fn unlock(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<UnlockForm>,
) -> Response {
    let (d, _) = match access(&app, &id, &headers).await {
        Ok(found) => found,
        Err(denied) => return denied.page(),
    };
    let Some(hash) = d.password_hash.clone() else {
        return Redirect::to(&format!("/{id}")).into_response();
    };
    let signer = match app.signer().await {
        Ok(s) => s,
        Err(e) => return Denied::from(e).page(),
    };
    let token_ok =
        crate::secrets::constant_time_eq(signer.form_token(&id).as_bytes(), form.csrf.as_bytes());
    let password = form.password;
    let right = token_ok
        && tokio::task::spawn_blocking(move || crate::secrets::verify_password(&password, &hash))
            .await
            .unwrap_or(false);
    if !right {
        return password_page(signer, &id, true);
    }
    let mut response = Redirect::to(&format!("/{id}")).into_response();
    if let Ok(v) = HeaderValue::from_str(&grant_cookie(&app, signer, &id)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `GET /{id}/status`: how far the upload is, for the uploading page.
#[utoipa::path(get, path = "/{id}/status", params(("id" = String, Path)),
    responses((status = 200, body = api::UploadStatus),
        (status = 401, body = api::ErrorBody, description = "a password drop, not unlocked"),
        (status = 404, body = api::ErrorBody), (status = 410, body = api::ErrorBody)))]
pub async fn status(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    // Progress is no secret of a view-limited drop (its page polls this
    // before any view is counted), but it is of a password-protected one.
    let d = match access(&app, &id, &headers).await {
        Ok((d, grant_needed)) if !(grant_needed && d.password_hash.is_some()) => d,
        Ok(_) => return Err(Denied::NeedsGrant.api()),
        Err(denied) => return Err(denied.api()),
    };
    let complete = d.status == COMPLETE;
    let (received, last) = if complete {
        (d.size.unwrap_or(0), None)
    } else {
        app.blobs.received(&id, d.upload_id.as_deref()).await?
    };
    let status = if complete {
        "complete"
    } else if stalled(&d, last) {
        "stalled"
    } else {
        "uploading"
    };
    let body = api::UploadStatus {
        status: status.into(),
        received: received.max(0) as u64,
        size: d.size.or(d.declared_size).map(|s| s as u64),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response())
}

/// `GET /{id}/thumb.png`: a drop's thumbnail, or its poster.
#[utoipa::path(get, path = "/{id}/thumb.png", params(("id" = String, Path)),
    responses((status = 200, description = "a PNG", content_type = "image/png"),
        (status = 401, body = api::ErrorBody, description = "a password drop, not unlocked"),
        (status = 404, body = api::ErrorBody, description = "no such drop, or no thumbnail yet"),
        (status = 410, body = api::ErrorBody)))]
pub async fn thumbnail(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let reader = super::reader(&app, &id, &headers).await?;
    let d = access::readable(&app, &id, &reader).await?;
    if d.thumbnail == 0 {
        return Err(ApiError::new(
            ErrorCode::NotFound,
            "this drop has no thumbnail (yet)",
        ));
    }
    let stream = app.blobs.read_thumbnail(&id).await?;
    // A CDN may keep the thumbnail of a drop anyone with the link may see
    // (a few minutes, and never past its expiry); no one else's.
    let open = d.password_hash.is_none() && d.max_views.is_none() && d.visibility != "private";
    let cache = match d.expires_at.map(|at| (at - crate::repo::now_ms()) / 1000) {
        _ if !open => "private, max-age=300".to_string(),
        Some(left) if left < 300 => "private, max-age=60".to_string(),
        _ => "public, max-age=300".to_string(),
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/png".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CACHE_CONTROL, cache),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Bytes as people read them (SI: 1 kB = 1000 bytes, as the page's script).
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value < 10.0 { 1 } else { 0 };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// Scales `(w, h)` to fit `max` on its longer side.
fn fit(w: u32, h: u32, max: u32) -> (u32, u32) {
    let scale = (max as f64 / w.max(h) as f64).min(1.0);
    (
        ((w as f64 * scale).round() as u32).max(1),
        ((h as f64 * scale).round() as u32).max(1),
    )
}

async fn viewer<'a>(app: &App, d: &DropRow, views: u64) -> Result<DropPage<'a>, Denied> {
    let id = &d.id;
    let content_type = d
        .content_type
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let inline = sniff::inline(&content_type, &d.name);
    let major = content_type.split('/').next().unwrap_or("");
    let kind = match major {
        "image" if inline => "image",
        "video" if inline => "video",
        "audio" if inline => "audio",
        _ if is_text(&content_type) => "text",
        _ => "file",
    };
    let size = d.size.unwrap_or(0) as u64;
    let (text_preview, text_truncated) = if kind == "text" {
        let bytes = app
            .blobs
            .read_prefix(id, size, TEXT_PREVIEW)
            .await
            .map_err(Denied::from)?;
        (
            Some(String::from_utf8_lossy(&bytes).into_owned()),
            size > TEXT_PREVIEW,
        )
    } else {
        (None, false)
    };
    // Pixel size, and the size to show it at: a 2x capture at half.
    let pixels = match (d.width, d.height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Some((w as u32, h as u32)),
        _ => None,
    };
    let scale = d
        .density
        .filter(|&ppm| ppm > 3780)
        .map_or(1.0, |ppm| ppm as f64 / 3780.0);
    let shown = pixels.map(|(w, h)| {
        (
            ((w as f64 / scale).round() as u32).max(1),
            ((h as f64 / scale).round() as u32).max(1),
        )
    });
    let page_url = app.share_url(id);
    let public = d.password_hash.is_none() && d.max_views.is_none();
    let thumb = (d.thumbnail != 0).then(|| format!("/{id}/thumb.png"));
    // Unfurl tags: the thumbnail when there is one, else the image itself;
    // nothing for protected drops (crawlers have no grant).
    let (og_image, og_size) = match (&thumb, kind) {
        _ if !public => (None, None),
        (Some(t), _) => (
            Some(format!("{}{t}", app.public_url)),
            pixels.map(|(w, h)| fit(w, h, crate::jobs::thumbnails::THUMB_SIZE)),
        ),
        (None, "image") => (Some(app.raw_url(id)), pixels),
        _ => (None, None),
    };
    let og_video = (kind == "video" && public).then(|| app.raw_url(id));
    let og_size = if kind == "video" { pixels } else { og_size };
    let created = super::time_of(d.completed_at.unwrap_or(d.created_at));
    Ok(DropPage {
        title: title_of(d),
        asset_version: asset_version(),
        name: d.name.clone(),
        size_human: human_size(size),
        created: created
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        created_human: format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            created.year(),
            created.month() as u8,
            created.day(),
            created.hour(),
            created.minute()
        ),
        views,
        kind,
        raw_url: format!("/{id}/raw"),
        download_url: format!("/{id}/raw?download"),
        page_url,
        og_image,
        og_video,
        content_type,
        width: shown.map(|s| s.0),
        height: shown.map(|s| s.1),
        og_width: og_size.map(|s| s.0),
        og_height: og_size.map(|s| s.1),
        poster: if kind == "video" { thumb } else { None },
        text_preview,
        text_truncated,
    })
}

fn is_text(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || matches!(
            content_type,
            "application/json" | "application/xml" | "application/javascript"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_the_page_script_writes_them() {
        assert_eq!(human_size(999), "999 bytes");
        assert_eq!(human_size(1_400_000), "1.4 MB");
        assert_eq!(human_size(52_000_000), "52 MB");
        assert_eq!(human_size(3_000_000_000_000_000), "3000 TB");
    }

    #[test]
    fn thumbnails_fit_their_box() {
        assert_eq!(fit(3840, 2160, 640), (640, 360));
        assert_eq!(fit(100, 50, 640), (100, 50));
    }
}
