//! The HTTP surface: routes, auth, and conversions between rows and wire types.

mod contract;
mod drops;
mod oneshot;
mod pages;
mod parts;
mod raw;

use crate::error::{ApiError, ApiResult};
use crate::repo::{DropRow, UserRow, COMPLETE};
use crate::App;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Router;
use dropcast_api as api;

pub fn router(app: App) -> Router {
    contract::router()
        .fallback(|| async {
            ApiError::new(
                api::ErrorCode::NotFound,
                "no such endpoint; see /api/v1/openapi.json",
            )
        })
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::abuse::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            crate::metrics::count,
        ))
        .with_state(app)
}

pub use contract::openapi_json;

/// Liveness: the server answers, and so do its database and its store.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = api::Health)))]
async fn healthz(State(app): State<App>) -> ApiResult<axum::Json<api::Health>> {
    app.repo.user_count().await?;
    app.blobs
        .check()
        .await
        .map_err(|e| ApiError::internal("checking the store", format!("{e:#}")))?;
    Ok(axum::Json(api::Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// A query string whose rejections are API errors (`invalid_input`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// Path parameters whose rejections are API errors (`invalid_input`).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Every error is the API's JSON error: what axum answers by itself in
/// plain text or with no body (a method a route does not take, a body
/// over its limit, a form of the wrong type) is turned into one, with a
/// stable code and the headers that go with it (`Allow`). Share pages'
/// HTML, and answers already in JSON, pass as they are.
///
/// A body refused as too large (413) was not read to its end, so the
/// connection closes after the answer, and says so (`Connection: close`):
/// a client that took it for reusable would send its next request into a
/// closing socket and fail.
async fn json_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut response = answer_in_json(next.run(request).await).await;
    if response.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// `response` as the API's JSON error, when it is an error in another
/// shape.
async fn answer_in_json(response: Response) -> Response {
    use axum::http::{header, StatusCode};
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if kind.starts_with("application/json") || kind.starts_with("text/html") {
        return response;
    }
    let code = match status {
        StatusCode::METHOD_NOT_ALLOWED => api::ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => api::ErrorCode::TooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => api::ErrorCode::UnsupportedMediaType,
        StatusCode::NOT_FOUND => api::ErrorCode::NotFound,
        s if s.is_server_error() => api::ErrorCode::Internal,
        _ => api::ErrorCode::InvalidInput,
    };
    let (parts, body) = response.into_parts();
    let said = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let said = String::from_utf8_lossy(&said);
    let message = match code {
        api::ErrorCode::MethodNotAllowed => format!(
            "this path does not take that method; it takes {} (see /api/v1/openapi.json)",
            parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("others")
        ),
        _ if said.trim().is_empty() => format!(
            "{}; see /api/v1/openapi.json",
            status.canonical_reason().unwrap_or("refused")
        ),
        _ => format!("{}; see /api/v1/openapi.json", said.trim()),
    };
    let mut answer = ApiError::new(code, message).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = parts.headers.get(&name) {
            answer.headers_mut().insert(name, v.clone());
        }
    }
    answer
}

/// A JSON object body whose rejections are API errors
/// (`malformed_json`). Only an object: serde would also fill a struct
/// from an array of its fields in order, which no client means.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) =
            axum::Json::<serde_json::Value>::from_request(request, state).await?;
        let malformed = |why: String| {
            ApiError::new(
                api::ErrorCode::MalformedJson,
                format!("{why}; send a JSON object as described in /api/v1/openapi.json"),
            )
        };
        if !value.is_object() {
            return Err(malformed("the body is not a JSON object".into()));
        }
        serde_json::from_value(value)
            .map(Json)
            .map_err(|e| malformed(e.to_string()))
    }
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// The signed-in user, from `Authorization: Bearer <token>`.
pub struct Auth(pub UserRow);

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        user_from_headers(app, &parts.headers)
            .await?
            .map(Auth)
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The user a request's bearer token names, if any.
pub async fn user_from_headers(app: &App, headers: &HeaderMap) -> ApiResult<Option<UserRow>> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(ApiError::unauthorized)?;
    match app.repo.user_by_token(token).await? {
        Some(user) => {
            // Its failures count against this token, not the address.
            crate::abuse::signed_in();
            Ok(Some(user))
        }
        None => Err(ApiError::unauthorized()),
    }
}

pub use crate::domain::access::owned_drop;

pub use crate::repo::time_of;

impl App {
    pub fn share_url(&self, id: &str) -> String {
        format!("{}/{id}", self.public_url)
    }

    pub fn raw_url(&self, id: &str) -> String {
        format!("{}/{id}/raw", self.public_url)
    }

    pub fn drop_json(&self, d: &DropRow) -> api::Drop {
        let uploading = d.status != COMPLETE;
        api::Drop {
            url: self.share_url(&d.id),
            raw_url: self.raw_url(&d.id),
            id: d.id.clone(),
            name: d.name.clone(),
            title: d.title.clone(),
            content_type: d.content_type.clone().or_else(|| d.declared_type.clone()),
            size: d.size.or(d.declared_size).map(|s| s as u64),
            crc64nvme: d.crc64nvme.as_deref().and_then(api::Crc64::from_hex),
            status: if uploading {
                api::DropStatus::Uploading
            } else {
                api::DropStatus::Complete
            },
            visibility: api::Visibility::parse(&d.visibility).unwrap_or_default(),
            created_at: time_of(d.created_at),
            completed_at: d.completed_at.map(time_of),
            expires_at: d.expires_at.map(time_of),
            upload: uploading.then(|| self.config.upload_limits()),
            views: (d.views + self.views.pending(&d.id)).max(0) as u64,
            max_views: d.max_views.map(|m| m as u64),
            protected: d.password_hash.is_some(),
            thumbnail_url: (d.thumbnail != 0)
                .then(|| format!("{}/{}/thumb.png", self.public_url, d.id)),
        }
    }
}

/// `GET /{id}`: the share page; `/{id}.{ext}` is the bytes.
#[utoipa::path(get, path = "/{id}", params(("id" = String, Path,
        description = "a drop id; `ID.EXT` (`abc.png`) is its bytes, as `/{id}/raw`")),
    responses(
        (status = 200, description = "the share page (or, for `ID.EXT`, the bytes)",
            content(("text/html"), ("*/*"))),
        (status = 206, description = "`ID.EXT` with a Range: that range", content_type = "*/*"),
        (status = 302, description = "`ID.EXT` with the bytes in S3: a short-lived URL there"),
        (status = 304, description = "`ID.EXT`: not modified"),
        (status = 401, description = "a password drop: the password page",
            content_type = "text/html"),
        (status = 404, description = "no such drop", content_type = "text/html"),
        (status = 409, description = "`ID.EXT` of a drop still uploading",
            body = api::ErrorBody),
        (status = 410, description = "expired, or viewed its last time",
            content_type = "text/html"),
        (status = 416, body = api::ErrorBody)))]
async fn share_or_file(
    State(app): State<App>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    if id.contains('.') {
        return raw::pretty(&app, &id, &headers)
            .await
            .unwrap_or_else(IntoResponse::into_response);
    }
    pages::share(&app, &id, &headers).await
}

/// Who is asking to read drop `id`: the user of the request's bearer
/// token (a bad token is a 401), and whether it carries a valid grant
/// cookie for the drop.
pub async fn reader(
    app: &App,
    id: &str,
    headers: &HeaderMap,
) -> ApiResult<crate::domain::access::Reader> {
    let user_id = match headers.contains_key(axum::http::header::AUTHORIZATION) {
        true => user_from_headers(app, headers).await?.map(|u| u.id),
        false => None,
    };
    let name = grant_cookie_name(id);
    let grants: Vec<&str> = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .collect();
    let granted = match grants.is_empty() {
        true => false,
        false => {
            let signer = app.signer().await?;
            let now = crate::repo::now_ms();
            grants.iter().any(|v| signer.check_grant(id, v, now))
        }
    };
    Ok(crate::domain::access::Reader { user_id, granted })
}

/// The name of the cookie that holds a browser's grant for drop `id`.
pub fn grant_cookie_name(id: &str) -> String {
    format!("dc_{id}")
}
