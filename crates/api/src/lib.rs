//! Wire types shared by the Dropcast client and server.
//!
//! Everything that crosses HTTP is defined here once: request and response
//! bodies, and the stable [`ErrorCode`]s that every API error carries as
//! `{"error":{"code":"...","message":"..."}}`. The UI and the CLI map codes,
//! never message strings. This crate depends on serde, on crc-fast and
//! base64 for the [`checksum`] (and, with the `openapi` feature, on utoipa
//! for schema generation), and nothing else.

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Prefix of every API path.
pub const API_PREFIX: &str = "/api/v1";

pub mod checksum;
mod sensitive;
pub mod webhook;
pub use checksum::{Crc64, Crc64Digest, CHECKSUM_HEADER};
pub use sensitive::Sensitive;

/// Stable error codes. The string form (snake_case) is part of the API:
/// serde and [`ErrorCode::as_str`] derive it from the same variant names,
/// and [`ErrorCode::iter`] lists every code (for tests and documents).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    /// No token, a malformed one, or one that does not exist or was revoked.
    Unauthorized,
    /// User name or password wrong.
    InvalidCredentials,
    /// The thing does not exist, or belongs to someone else.
    NotFound,
    /// The drop existed but has expired.
    Expired,
    /// The request body is not valid JSON of the expected shape.
    MalformedJson,
    /// A field has a value the server cannot accept; the message says which.
    InvalidInput,
    /// A file or drop name is unusable (empty, too long, control characters).
    InvalidName,
    /// A part URL's signature does not match.
    InvalidSignature,
    /// A part URL is past its `expires_at`; ask for a new one.
    UrlExpired,
    /// A part was sent without the checksum header its URL was signed with.
    ChecksumRequired,
    /// The bytes received do not match the checksum sent with them.
    ChecksumMismatch,
    /// A part other than the last is smaller than the minimum part size.
    PartTooSmall,
    /// A part, a drop or a one-shot file is over the server's size limit.
    TooLarge,
    /// A part number outside 1..=max_parts, or more parts than allowed.
    TooManyParts,
    /// `complete` named parts that are missing or whose ETag differs.
    InvalidParts,
    /// `complete`'s size differs from the sum of the parts or the declared size.
    SizeMismatch,
    /// The drop is not accepting parts (already complete) or is in a state
    /// that conflicts with the request.
    Conflict,
    /// The drop's upload has not completed; its bytes cannot be served yet.
    NotReady,
    /// A reserved id was used after its reservation expired.
    ReservationExpired,
    /// A user with that name already exists.
    UserExists,
    /// The requested byte range lies outside the file.
    RangeNotSatisfiable,
    /// Too many failed requests; wait and retry.
    RateLimited,
    /// Something broke on the server; retrying may help.
    Internal,
    /// The drop has a password: open its page and enter it.
    PasswordRequired,
    /// This deployment answers through its CDN's address only.
    EdgeRequired,
    /// The path does not take this method; `Allow` lists those it takes.
    MethodNotAllowed,
    /// The body is not of a type this operation takes.
    UnsupportedMediaType,
}

impl ErrorCode {
    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            Unauthorized | InvalidCredentials | PasswordRequired => 401,
            InvalidSignature | UrlExpired | EdgeRequired => 403,
            NotFound => 404,
            MethodNotAllowed => 405,
            Conflict | NotReady => 409,
            Expired | ReservationExpired => 410,
            TooLarge => 413,
            UnsupportedMediaType => 415,
            RangeNotSatisfiable => 416,
            RateLimited => 429,
            Internal => 500,
            MalformedJson | InvalidInput | InvalidName | ChecksumRequired | ChecksumMismatch
            | PartTooSmall | TooManyParts | InvalidParts | SizeMismatch | UserExists => 400,
        }
    }

    /// The snake_case string sent on the wire.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code.
    pub fn iter() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// Human-readable, says what to do. Not for matching.
    pub message: String,
    /// Part numbers at fault, on `invalid_parts`, `part_too_small` and friends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u32>,
}

/// Who may fetch a drop's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Listed publicly (reserved for galleries); readable by anyone.
    Public,
    /// Readable by anyone who has the link. The default.
    #[default]
    Unlisted,
    /// Readable by its owner only.
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Unlisted => "unlisted",
            Visibility::Private => "private",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Visibility::Public),
            "unlisted" => Some(Visibility::Unlisted),
            "private" => Some(Visibility::Private),
            _ => None,
        }
    }
}

/// Where a drop's upload stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DropStatus {
    /// Created; parts may be uploaded; nothing is served yet.
    Uploading,
    /// All bytes stored and verified; served.
    Complete,
}

impl DropStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DropStatus::Uploading => "uploading",
            DropStatus::Complete => "complete",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LoginRequest {
    pub user: String,
    pub password: String,
    /// A label for the token, shown by `token list` (e.g. "laptop app").
    #[serde(default)]
    pub token_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: String,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A freshly issued API token. The token itself is shown once, never again.
#[derive(Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenIssued {
    pub user: User,
    pub token_id: String,
    pub token: String,
}

// Secrets never reach a log line through Debug.
impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("token_name", &self.token_name)
            .finish()
    }
}

impl std::fmt::Debug for TokenIssued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssued")
            .field("user", &self.user)
            .field("token_id", &self.token_id)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Tuning for the part protocol, sent with every uploading drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadLimits {
    /// The part size the client should use.
    pub part_size: u64,
    /// Every part but the last must be at least this big.
    pub min_part_size: u64,
    /// No part may be bigger than this.
    pub max_part_size: u64,
    /// Part numbers run from 1 to this.
    pub max_parts: u32,
    /// No drop may be bigger than this.
    pub max_size: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateDrop {
    /// A reserved id (from `POST /drops/reserve`) to use; a new one if absent.
    #[serde(default)]
    pub id: Option<String>,
    /// The file name, e.g. `screenshot.png`: 1 to 255 characters, not
    /// only spaces, without a slash, a backslash or control characters, and not `.`
    /// or `..`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 255,
            pattern = r"^(?!\.\.?$)[^/\\\x00-\x1f\x7f-\x9f]*[^\s/\\\x00-\x1f\x7f-\x9f][^/\\\x00-\x1f\x7f-\x9f]*$"
        )
    )]
    pub name: String,
    /// What the uploader says the content is. Advisory: the server decides
    /// the served type from the bytes.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 255, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")
    )]
    pub content_type: Option<String>,
    /// Total size when known; absent for a screencast still recording.
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 1000))]
    pub title: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// Viewers must enter it to see the drop: 1 to 1000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub password: Option<Password>,
    /// The drop is gone after this many page views ("burn after reading").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 9223372036854775807_u64)
    )]
    pub max_views: Option<u64>,
}

/// A drop's password, as sent once by its owner; never shown by Debug.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(ToSchema), schema(value_type = String))]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A field that may be absent (leave as is), `null` (clear) or a value (set).
pub type Patch<T> = Option<Option<T>>;

fn patch<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Patch<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn patch_time<'de, D: Deserializer<'de>>(d: D) -> Result<Patch<OffsetDateTime>, D::Error> {
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UpdateDrop {
    /// Absent: unchanged; null: cleared.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 1000))]
    pub title: Patch<String>,
    /// Absent: unchanged; null: never expires.
    #[serde(
        default,
        deserialize_with = "patch_time",
        serialize_with = "ser_patch_time",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Patch<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Visibility>,
    /// Absent: unchanged; null: no password any more.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, min_length = 1, max_length = 1000))]
    pub password: Patch<Password>,
    /// Absent: unchanged; null: no view limit.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u64>, minimum = 1, maximum = 9223372036854775807_u64))]
    pub max_views: Patch<u64>,
}

fn ser_patch_time<S: serde::Serializer>(
    v: &Patch<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::option::serialize(&v.flatten(), s)
}

/// One drop, as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Drop {
    pub id: String,
    /// The share page.
    pub url: String,
    /// The bytes.
    pub raw_url: String,
    pub name: String,
    pub title: Option<String>,
    /// Decided by the server from the bytes once complete; the declared type before.
    pub content_type: Option<String>,
    pub size: Option<u64>,
    /// CRC64-NVME of the whole file, once complete (base64, as S3 gives it).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub crc64nvme: Option<Crc64>,
    pub status: DropStatus,
    pub visibility: Visibility,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub completed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    /// Present while uploading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadLimits>,
    /// Share-page views so far.
    #[serde(default)]
    pub views: u64,
    #[serde(default)]
    pub max_views: Option<u64>,
    /// Whether viewers need a password.
    #[serde(default)]
    pub protected: bool,
    /// A small PNG of the drop, once made (images).
    #[serde(default)]
    pub thumbnail_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DropList {
    pub drops: Vec<Drop>,
    /// Pass as `?cursor=` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReserveRequest {
    /// How many ids, 1 to the server's `max_reserve`.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub count: u32,
}

/// A drop id held for this user, usable in `CreateDrop.id` until `expires_at`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Reservation {
    pub id: String,
    pub url: String,
    pub raw_url: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ReserveResponse {
    pub reservations: Vec<Reservation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartUrlsRequest {
    /// The parts to be sent: the URLs are signed for these exact checksums.
    pub parts: Vec<PartToSend>,
}

/// A part the client is about to send.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartToSend {
    /// 1 to the server's `max_parts`.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub number: u32,
    pub size: u64,
    /// CRC64-NVME of the part's bytes (base64 of its 8 big-endian bytes).
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=$"))]
    pub crc64nvme: Crc64,
}

impl PartToSend {
    /// Part `number`, whose bytes are `bytes`.
    pub fn of(number: u32, bytes: &[u8]) -> PartToSend {
        PartToSend {
            number,
            size: bytes.len() as u64,
            crc64nvme: Crc64::of(bytes),
        }
    }
}

/// Where and how to send one part: `PUT url` with exactly `headers` (they
/// include the checksum header). The URL may point at another host than the
/// API's. The response's `ETag` header names the stored part in `complete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PartUrls {
    pub parts: Vec<PartUrl>,
}

/// A part the server has stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoredPart {
    pub number: u32,
    /// What the store answered the part's PUT with; opaque.
    pub etag: String,
    pub size: u64,
    /// The stored bytes' CRC64-NVME, when the store says it (S3 may not).
    /// A client resuming from a file compares it with the file's part and
    /// sends the part again when the file has changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub crc64nvme: Option<Crc64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StoredParts {
    pub parts: Vec<StoredPart>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompletePart {
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub number: u32,
    pub etag: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CompleteRequest {
    /// In ascending order of number.
    pub parts: Vec<CompletePart>,
    pub size: u64,
    /// CRC64-NVME of the whole file: the parts' values combined in order.
    #[cfg_attr(feature = "openapi", schema(value_type = String, pattern = "^[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=$"))]
    pub crc64nvme: Crc64,
}

/// `GET /{id}/status`: how far a drop's upload is, for its uploading page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadStatus {
    /// `uploading`, `stalled` (no part for a while) or `complete`.
    pub status: String,
    /// Bytes stored so far.
    pub received: u64,
    /// The whole size, when known.
    pub size: Option<u64>,
}

/// One file stored by `POST /api/v1/upload`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadedFile {
    pub id: String,
    pub url: String,
    pub raw_url: String,
    /// Opening it offers to delete the drop; it carries a per-drop token,
    /// never the account's.
    pub delete_url: String,
    pub name: String,
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UploadResponse {
    pub files: Vec<UploadedFile>,
}

/// What a webhook's deliveries look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// A [`WebhookEvent`].
    #[default]
    Dropcast,
    /// A Slack incoming webhook's `{"text": ...}`.
    Slack,
}

/// `PUT /api/v1/me/webhook`: where to tell of the caller's completed drops.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SetWebhook {
    /// `https://...` (or `http://`).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[^\\s/?#@]+", max_length = 2048)
    )]
    pub url: String,
    #[serde(default)]
    pub format: WebhookFormat,
}

/// A user's webhook. The secret that signs its deliveries is in the
/// answer to `PUT` only: keep it then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Webhook {
    pub url: String,
    pub format: WebhookFormat,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// The body of a `dropcast`-format delivery, signed (see [`webhook`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct WebhookEvent {
    /// The event's id, also in `Dropcast-Delivery`: the same delivery may
    /// come twice.
    pub id: String,
    /// `drop.completed`.
    pub event: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub drop: Drop,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Health {
    pub status: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_has_one_wire_name_and_an_error_status() {
        let mut names = std::collections::BTreeSet::new();
        for code in ErrorCode::iter() {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()), "{code:?}");
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code:?} is not snake_case on the wire: {}",
                code.as_str()
            );
            assert!(names.insert(code.as_str()), "{code:?}'s name is taken");
            let status = code.http_status();
            assert!((400..600).contains(&status), "{code:?} answers {status}");
        }
    }

    #[test]
    fn debug_output_never_shows_passwords_or_tokens() {
        let login = LoginRequest {
            user: "u".into(),
            password: "hunter2hunter2".into(),
            token_name: None,
        };
        assert!(!format!("{login:?}").contains("hunter2"));
        let issued = TokenIssued {
            user: User {
                id: "i".into(),
                name: "u".into(),
                created_at: OffsetDateTime::UNIX_EPOCH,
            },
            token_id: "t".into(),
            token: "dc_secret".into(),
        };
        assert!(!format!("{issued:?}").contains("dc_secret"));
    }

    #[test]
    fn update_drop_distinguishes_absent_null_and_value() {
        let absent: UpdateDrop = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.title, None);
        assert_eq!(absent.expires_at, None);
        let null: UpdateDrop = serde_json::from_str(r#"{"title":null,"expires_at":null}"#).unwrap();
        assert_eq!(null.title, Some(None));
        assert_eq!(null.expires_at, Some(None));
        let set: UpdateDrop =
            serde_json::from_str(r#"{"title":"t","expires_at":"2030-01-02T03:04:05Z"}"#).unwrap();
        assert_eq!(set.title, Some(Some("t".into())));
        assert_eq!(set.expires_at.unwrap().unwrap().year(), 2030);
    }
}
