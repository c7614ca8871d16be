//! API errors: a stable [`ErrorCode`], a message that says what to do, and
//! for part problems the part numbers at fault. Rendered as
//! `{"error":{"code","message"}}` with the code's HTTP status.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dropcast_api::{ErrorBody, ErrorCode, ErrorDetail};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub parts: Vec<u32>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            parts: Vec::new(),
        }
    }

    pub fn with_parts(mut self, parts: Vec<u32>) -> Self {
        self.parts = parts;
        self
    }

    pub fn not_found() -> Self {
        ApiError::new(ErrorCode::NotFound, "no such drop (check the link)")
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            ErrorCode::Unauthorized,
            "missing, unknown or revoked token: send `Authorization: Bearer <token>`; get one \
             with `dropcast login`, POST /api/v1/auth/login or `dropcast-server token create`",
        )
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidInput, message)
    }

    /// An internal failure: logged in full, answered without detail.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "{context}");
        ApiError::new(
            ErrorCode::Internal,
            format!(
                "internal error while {context}; try again, and see the server log if it persists"
            ),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                parts: self.parts,
            },
        };
        (status, axum::Json(body)).into_response()
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal("using the database", e)
    }
}

impl From<object_store::Error> for ApiError {
    fn from(e: object_store::Error) -> Self {
        ApiError::internal("using storage", e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!(
                "{}; send a JSON body as described in /api/v1/openapi.json",
                e.body_text()
            ),
        )
    }
}

impl From<PathRejection> for ApiError {
    fn from(e: PathRejection) -> Self {
        ApiError::invalid(e.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> Self {
        ApiError::invalid(e.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_error_code_is_answered_with_its_status_and_its_code_in_the_body() {
        for code in ErrorCode::iter() {
            let response = ApiError::new(code, "what to do").into_response();
            assert_eq!(response.status().as_u16(), code.http_status(), "{code:?}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            let body: ErrorBody = serde_json::from_slice(&body).unwrap();
            assert_eq!(body.error.code, code);
            assert_eq!(body.error.message, "what to do");
        }
    }
}
