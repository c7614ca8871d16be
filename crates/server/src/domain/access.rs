//! Who may read a drop: the rules for its share page, its bytes, its
//! thumbnail and its upload status, apart from HTTP. The asker is a
//! [`Reader`] (made from a request by `http::reader`); the answer is the
//! drop, or why not as a [`Denied`], which each caller shows its own way
//! (a page, or a JSON error).

use crate::error::ApiError;
use crate::repo::{now_ms, DropRow, RESERVED};
use crate::App;
use dropcast_api::{ErrorCode, Visibility};

/// Who asks to read a drop.
#[derive(Debug, Clone, Default)]
pub struct Reader {
    /// The user whose valid token came with the request, if any.
    pub user_id: Option<String>,
    /// The request carries a valid grant for the drop (a password entered,
    /// or a counted view, in this browser).
    pub granted: bool,
}

/// Why a reader may not see a drop.
#[derive(Debug)]
pub enum Denied {
    NotFound,
    Expired,
    /// Used up its views.
    Burnt,
    /// Needs a grant (password, or a counted view) it does not have.
    NeedsGrant,
    Error(ApiError),
}

impl From<ApiError> for Denied {
    fn from(e: ApiError) -> Self {
        Denied::Error(e)
    }
}

impl From<sqlx::Error> for Denied {
    fn from(e: sqlx::Error) -> Self {
        Denied::Error(e.into())
    }
}

impl Denied {
    /// As an API (JSON) error, for raw bytes, thumbnails and status.
    pub fn api(self) -> ApiError {
        match self {
            Denied::NotFound => ApiError::not_found(),
            Denied::Expired => ApiError::new(ErrorCode::Expired, "this drop has expired"),
            Denied::Burnt => ApiError::new(
                ErrorCode::Expired,
                "this drop could be viewed a limited number of times, and has been",
            ),
            Denied::NeedsGrant => ApiError::new(
                ErrorCode::PasswordRequired,
                "this drop is protected: open its page (the link without /raw) first",
            ),
            Denied::Error(e) => e,
        }
    }
}

/// Whether `id` has the shape of a drop id (URL-safe, short). Anything
/// else is not found without a lookup, and never echoed into a redirect.
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The drop `id` if `reader` may see it (in any upload state), and
/// whether it still needs a grant: a password or view limit applies, and
/// the reader is neither the owner nor granted. A private drop is "not
/// found" to anyone but its owner, so as not to tell that it exists.
pub async fn check(app: &App, id: &str, reader: &Reader) -> Result<(DropRow, bool), Denied> {
    if !valid_id(id) {
        return Err(Denied::NotFound);
    }
    let d = app
        .repo
        .drop_for_serving(id)
        .await?
        .filter(|d| d.status != RESERVED)
        .ok_or(Denied::NotFound)?;
    let owner = reader.user_id.as_deref() == Some(d.owner_id.as_str());
    if Visibility::parse(&d.visibility) == Some(Visibility::Private) && !owner {
        return Err(Denied::NotFound);
    }
    if d.expires_at.is_some_and(|e| e <= now_ms()) {
        return Err(Denied::Expired);
    }
    let guarded = d.password_hash.is_some() || d.max_views.is_some();
    let grant_needed = guarded && !owner && !reader.granted;
    Ok((d, grant_needed))
}

/// [`check`] for what has no page to show (bytes, thumbnail): a missing
/// grant is an error.
pub async fn readable(app: &App, id: &str, reader: &Reader) -> Result<DropRow, ApiError> {
    match check(app, id, reader).await {
        Ok((_, true)) => Err(Denied::NeedsGrant.api()),
        Ok((d, false)) => Ok(d),
        Err(denied) => Err(denied.api()),
    }
}

/// The drop `id` if `user` owns it; anyone else's, or a reserved id, is
/// "not found" so as not to tell that it exists.
pub async fn owned_drop(
    app: &App,
    user: &crate::repo::UserRow,
    id: &str,
) -> crate::error::ApiResult<DropRow> {
    match app.repo.drop_by_id(id).await? {
        Some(d) if d.owner_id == user.id && d.status != RESERVED => Ok(d),
        _ => Err(ApiError::not_found()),
    }
}
