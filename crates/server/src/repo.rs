//! Metadata: users, tokens, drops and parts, in SQL through sqlx's `Any`
//! driver, so one set of queries and migrations serves SQLite (embedded
//! default) and PostgreSQL. Queries use `$n` placeholders, which both accept.
//!
//! Nothing about an upload is kept in memory: every request reads and writes
//! its state here.

use crate::secrets;
use anyhow::Context;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, FromRow, Row};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub type DbResult<T> = Result<T, sqlx::Error>;

/// A time stored as unix milliseconds.
pub fn time_of(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A time as unix milliseconds, as it is stored.
pub fn ms_of(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Clone)]
pub struct Repo {
    pool: AnyPool,
    rows: std::sync::Arc<RowCache>,
    signer: std::sync::Arc<tokio::sync::OnceCell<secrets::Signer>>,
}

/// Drop rows read for serving, kept for [`ROW_TTL`]: a share page or a
/// raw download is then mostly a hash lookup instead of a database round
/// trip (which cost two thirds of the page's throughput). A change made
/// through this `Repo` forgets the row once it is done, and a read that
/// started before that is not cached; a change made by another process
/// (another serverless instance, `dropcast-server cleanup`) shows within
/// the TTL.
#[derive(Default)]
struct RowCache(std::sync::Mutex<Rows>);

#[derive(Default)]
struct Rows {
    rows: std::collections::HashMap<String, (Instant, DropRow)>,
    /// When each recently changed drop's change finished.
    changed: std::collections::HashMap<String, Instant>,
}

const ROW_TTL: std::time::Duration = std::time::Duration::from_secs(1);
const ROW_CACHE_MAX: usize = 10_000;

impl RowCache {
    fn get(&self, id: &str) -> Option<DropRow> {
        let cache = self.0.lock().expect("row cache");
        cache
            .rows
            .get(id)
            .filter(|(at, _)| at.elapsed() < ROW_TTL)
            .map(|(_, row)| row.clone())
    }

    /// Caches a row read by a query that started at `started`.
    fn put(&self, row: DropRow, started: Instant) {
        let mut cache = self.0.lock().expect("row cache");
        if cache.changed.get(&row.id).is_some_and(|at| *at >= started) {
            return; // read before a change finished: may be stale
        }
        if cache.rows.len() >= ROW_CACHE_MAX {
            cache.rows.retain(|_, (at, _)| at.elapsed() < ROW_TTL);
            if cache.rows.len() >= ROW_CACHE_MAX {
                cache.rows.clear();
            }
        }
        cache.rows.insert(row.id.clone(), (Instant::now(), row));
    }

    /// Forgets `id` when the returned guard drops, i.e. once the change
    /// the caller is making has finished (or failed).
    fn changing(&self, id: &str) -> Changing<'_> {
        Changing(self, id.to_string())
    }
}

struct Changing<'a>(&'a RowCache, String);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        let mut cache = self.0 .0.lock().expect("row cache");
        cache.rows.remove(&self.1);
        if cache.changed.len() >= ROW_CACHE_MAX {
            cache.changed.retain(|_, at| at.elapsed() < ROW_TTL * 10);
        }
        cache
            .changed
            .insert(std::mem::take(&mut self.1), Instant::now());
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub id: String,
    pub user_id: String,
    pub user_name: String,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct DropRow {
    pub id: String,
    pub owner_id: String,
    pub status: String,
    pub name: String,
    pub title: Option<String>,
    pub declared_type: Option<String>,
    pub content_type: Option<String>,
    pub declared_size: Option<i64>,
    pub size: Option<i64>,
    /// Hex CRC64-NVME of the whole file, once complete.
    pub crc64nvme: Option<String>,
    pub visibility: String,
    pub delete_token_hash: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub reserved_until: Option<i64>,
    pub views: i64,
    pub max_views: Option<i64>,
    pub password_hash: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub density: Option<i64>,
    /// 1 when `thumbnails/{id}.png` is in the store.
    pub thumbnail: i64,
    /// The object store's id of the upload in progress (S3's UploadId).
    pub upload_id: Option<String>,
}

pub const RESERVED: &str = "reserved";
pub const UPLOADING: &str = "uploading";
/// `complete` is checking the parts: no part may change meanwhile.
pub const COMPLETING: &str = "completing";
pub const COMPLETE: &str = "complete";

#[derive(Debug, Clone, FromRow)]
pub struct PartRow {
    pub number: i64,
    pub size: i64,
    /// Hex CRC64-NVME of the part's bytes.
    pub crc64nvme: String,
    pub nonce: String,
}

/// The fields a new drop is created with.
pub struct NewDrop<'a> {
    pub id: &'a str,
    pub owner_id: &'a str,
    pub status: &'a str,
    pub name: &'a str,
    pub title: Option<&'a str>,
    pub declared_type: Option<&'a str>,
    pub declared_size: Option<i64>,
    pub visibility: &'a str,
    pub expires_at: Option<i64>,
    /// The object store's id of the drop's upload (S3's UploadId).
    pub upload_id: Option<&'a str>,
}

/// What `complete` records once the bytes are verified.
pub struct Completion<'a> {
    pub size: i64,
    pub crc64nvme: &'a str,
    pub content_type: &'a str,
    pub delete_token_hash: Option<&'a str>,
    /// Pixel size and density, when the file's first bytes tell.
    pub dimensions: Option<crate::sniff::Dimensions>,
}

/// An event waiting in the outbox.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    pub id: String,
    pub kind: String,
    pub drop_id: String,
    pub created_at: i64,
    pub attempts: i64,
}

/// A user's webhook.
#[derive(Debug, Clone, FromRow)]
pub struct WebhookRow {
    pub user_id: String,
    pub url: String,
    /// `dropcast` or `slack`.
    pub format: String,
    pub secret: String,
}

/// What claiming an event for a handler found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClaim {
    /// This caller runs it; the claim's time, to finish or release it.
    Mine(i64),
    /// It was handled.
    Done,
    /// Another delivery is handling it now.
    Busy,
}

/// A drop was created (its upload begins).
pub const DROP_CREATED: &str = "drop.created";
/// A drop's bytes are all stored and checked: it can be served.
pub const DROP_COMPLETED: &str = "drop.completed";
/// A drop was deleted (by its owner, its delete token or its expiry).
pub const DROP_DELETED: &str = "drop.deleted";
/// Every kind of event, for the topics to publish them on.
pub const EVENT_KINDS: [&str; 3] = [DROP_CREATED, DROP_COMPLETED, DROP_DELETED];

/// Writes an event to the outbox, in the transaction of the change it
/// announces: it cannot be lost between the two.
async fn announce(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    drop_id: &str,
    now: i64,
) -> DbResult<()> {
    sqlx::query(
        "INSERT INTO outbox (id, kind, drop_id, created_at, next_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(secrets::new_id())
    .bind(kind)
    .bind(drop_id)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// [`announce`] of `kind` for each of `drop_ids`, in one statement.
async fn announce_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    kind: &str,
    drop_ids: &[String],
    now: i64,
) -> DbResult<()> {
    if drop_ids.is_empty() {
        return Ok(());
    }
    // Each row: its event id, its drop; the kind and the time are shared
    // ($1, $2).
    let values = (0..drop_ids.len())
        .map(|i| format!("(${}, $1, ${}, $2, $2)", 3 + 2 * i, 4 + 2 * i))
        .collect::<Vec<_>>()
        .join(", ");
    let sql =
        format!("INSERT INTO outbox (id, kind, drop_id, created_at, next_at) VALUES {values}");
    let mut insert = sqlx::query(&sql).bind(kind).bind(now);
    for drop_id in drop_ids {
        insert = insert.bind(secrets::new_id()).bind(drop_id);
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// How claiming a reserved id went.
pub enum Claim {
    Claimed,
    NotFound,
    Expired,
    AlreadyUsed,
}

const DROP_COLUMNS: &str = "id, owner_id, status, name, title, declared_type, content_type, \
     declared_size, size, crc64nvme, visibility, delete_token_hash, created_at, completed_at, \
     expires_at, reserved_until, views, max_views, password_hash, width, height, density, \
     thumbnail, upload_id";

/// A database URL fit for a message: whatever stands between `user:` and
/// the last `@` of the authority (a password, even one with `/` or `@` in
/// it) and a `password=` in the query are masked.
pub fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => rest.to_string(),
    };
    let query: Vec<String> = query
        .split('&')
        .filter(|q| !q.is_empty())
        .map(|q| match q.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => q.to_string(),
        })
        .collect();
    if query.is_empty() {
        format!("{scheme}://{rest}")
    } else {
        format!("{scheme}://{rest}?{}", query.join("&"))
    }
}

/// The schema, one set of versioned migrations for SQLite and PostgreSQL.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How [`Repo::open`] meets the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Open {
    /// Connect now and bring the schema up to date: the embedded server
    /// and every `dropcast-server` command, which fail at once on a bad
    /// URL.
    Migrate,
    /// Connect on first use and never migrate: a serverless function,
    /// whose instance then starts with no round trip, and whose many cold
    /// starts must not each take the migration lock. `dropcast-server
    /// migrate` brings the schema up at deploy; a connection to a schema
    /// older than this build says so in the log.
    Lazy,
}

/// The newest migration applied through `db` (0 for none).
async fn applied_version<'e>(db: impl Executor<'e, Database = sqlx::Any>) -> DbResult<i64> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(db)
            .await?;
    Ok(v.unwrap_or(0))
}

/// Logs an error when the database's schema is older than this build's,
/// with what to do: a function never migrates (see [`Open::Lazy`]).
async fn warn_if_behind(conn: &mut sqlx::AnyConnection) {
    let needed = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    let found = applied_version(&mut *conn).await.unwrap_or(0);
    if found < needed {
        tracing::error!(
            "the database schema is at version {found} and this build needs {needed}: run \
             `dropcast-server migrate` with this DROPCAST_DATABASE_URL (functions never migrate)"
        );
    }
}

impl Repo {
    /// Opens the database at `url` (see [`Open`]).
    /// `durable`: every commit reaches the disk before it returns (SQLite's
    /// `synchronous = FULL`), as the stored bytes do with `fsync` on.
    /// `connections`: the pool's size; 0 picks 8 for SQLite and 16 for
    /// PostgreSQL (a Lambda instance, which serves one request at a time,
    /// wants 1 or 2).
    pub async fn open(
        url: &str,
        durable: bool,
        connections: u32,
        open: Open,
    ) -> anyhow::Result<Repo> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && cfg!(not(feature = "sqlite")) {
            anyhow::bail!(
                "this build has no SQLite (a Lambda function): set database_url \
                 (DROPCAST_DATABASE_URL) to a postgres:// URL"
            );
        }
        let connections = match connections {
            0 if sqlite => 8,
            0 => 16,
            n => n,
        };
        let options = AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        let sync = if durable { "FULL" } else { "NORMAL" };
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; \
                                 PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    if open == Open::Lazy {
                        warn_if_behind(conn).await;
                    }
                    Ok(())
                })
            });
        let opening = || format!("opening the database at {}", without_password(url));
        let pool = match open {
            Open::Migrate => {
                let pool = options.connect(url).await.with_context(opening)?;
                MIGRATOR
                    .run(&pool)
                    .await
                    .context("migrating the database")?;
                pool
            }
            Open::Lazy => options.connect_lazy(url).with_context(opening)?,
        };
        Ok(Repo {
            pool,
            rows: Default::default(),
            signer: Default::default(),
        })
    }

    /// The signer of part URLs and grants, its key read once.
    pub async fn signer(&self) -> DbResult<&secrets::Signer> {
        self.signer
            .get_or_try_init(|| async {
                let key = self.signing_key().await?;
                hex::decode(key)
                    .map(secrets::Signer::new)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))
            })
            .await
    }

    /// The newest migration applied to this database.
    pub async fn schema_version(&self) -> DbResult<i64> {
        applied_version(&self.pool).await
    }

    // ----- settings -----

    /// The part-URL signing key, made on first use.
    async fn signing_key(&self) -> DbResult<String> {
        let fresh = secrets::Signer::generate_key();
        self.pool
            .execute(
                sqlx::query(
                    "INSERT INTO settings (name, value) VALUES ('signing_key', $1) \
                     ON CONFLICT (name) DO NOTHING",
                )
                .bind(&fresh),
            )
            .await?;
        sqlx::query("SELECT value FROM settings WHERE name = 'signing_key'")
            .fetch_one(&self.pool)
            .await?
            .try_get("value")
    }

    // ----- users -----

    pub async fn user_count(&self) -> DbResult<i64> {
        sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }

    /// Creates a user; `Ok(None)` when the name is taken.
    pub async fn create_user(
        &self,
        name: &str,
        password_hash: Option<&str>,
    ) -> DbResult<Option<UserRow>> {
        let row = UserRow {
            id: secrets::new_id(),
            name: name.to_string(),
            password_hash: password_hash.map(str::to_string),
            created_at: now_ms(),
        };
        let done = sqlx::query(
            "INSERT INTO users (id, name, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.password_hash)
        .bind(row.created_at)
        .execute(&self.pool)
        .await?;
        Ok((done.rows_affected() == 1).then_some(row))
    }

    pub async fn user_by_name(&self, name: &str) -> DbResult<Option<UserRow>> {
        sqlx::query_as("SELECT id, name, password_hash, created_at FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn users(&self) -> DbResult<Vec<UserRow>> {
        sqlx::query_as("SELECT id, name, password_hash, created_at FROM users ORDER BY created_at")
            .fetch_all(&self.pool)
            .await
    }

    pub async fn set_password(&self, user_id: &str, hash: &str) -> DbResult<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ----- tokens -----

    /// Issues a token for a user; returns (token id, the token itself).
    pub async fn create_token(&self, user_id: &str, name: &str) -> DbResult<(String, String)> {
        let id = secrets::new_id();
        let token = secrets::new_token();
        sqlx::query(
            "INSERT INTO tokens (id, user_id, name, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&id)
        .bind(user_id)
        .bind(name)
        .bind(secrets::token_hash(&token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok((id, token))
    }

    /// The user a live token belongs to.
    pub async fn user_by_token(&self, token: &str) -> DbResult<Option<UserRow>> {
        sqlx::query_as(
            "SELECT u.id, u.name, u.password_hash, u.created_at FROM tokens t \
             JOIN users u ON u.id = t.user_id WHERE t.hash = $1 AND t.revoked_at IS NULL",
        )
        .bind(secrets::token_hash(token))
        .fetch_optional(&self.pool)
        .await
    }

    pub async fn tokens(&self, user_name: Option<&str>) -> DbResult<Vec<TokenRow>> {
        let filter = if user_name.is_some() {
            "WHERE u.name = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT t.id, t.user_id, u.name AS user_name, t.name, t.created_at, t.revoked_at \
             FROM tokens t JOIN users u ON u.id = t.user_id {filter} ORDER BY t.created_at"
        );
        let mut q = sqlx::query_as(&sql);
        if let Some(name) = user_name {
            q = q.bind(name);
        }
        q.fetch_all(&self.pool).await
    }

    /// Revokes a token; false when no live token has that id.
    pub async fn revoke_token(&self, id: &str) -> DbResult<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now_ms())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    // ----- drops -----

    /// [`Repo::drop_by_id`] through the row cache, for serving.
    pub async fn drop_for_serving(&self, id: &str) -> DbResult<Option<DropRow>> {
        if let Some(row) = self.rows.get(id) {
            return Ok(Some(row));
        }
        let started = Instant::now();
        let row = self.drop_by_id(id).await?;
        if let Some(row) = &row {
            self.rows.put(row.clone(), started);
        }
        Ok(row)
    }

    pub async fn drop_by_id(&self, id: &str) -> DbResult<Option<DropRow>> {
        sqlx::query_as(&format!("SELECT {DROP_COLUMNS} FROM drops WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
    }

    pub async fn insert_drop(&self, d: &NewDrop<'_>) -> DbResult<()> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO drops (id, owner_id, status, name, title, declared_type, declared_size, \
             visibility, created_at, expires_at, upload_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(d.id)
        .bind(d.owner_id)
        .bind(d.status)
        .bind(d.name)
        .bind(d.title)
        .bind(d.declared_type)
        .bind(d.declared_size)
        .bind(d.visibility)
        .bind(now)
        .bind(d.expires_at)
        .bind(d.upload_id)
        .execute(&mut *tx)
        .await?;
        announce(&mut tx, DROP_CREATED, d.id, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Holds `count` fresh ids for `owner_id` until `until`; forgets expired
    /// reservations on the way.
    pub async fn reserve(&self, owner_id: &str, count: u32, until: i64) -> DbResult<Vec<String>> {
        let now = now_ms();
        sqlx::query("DELETE FROM drops WHERE status = $1 AND reserved_until < $2")
            .bind(RESERVED)
            .bind(now)
            .execute(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        let mut ids = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let id = secrets::new_drop_id();
            sqlx::query(
                "INSERT INTO drops (id, owner_id, status, name, visibility, created_at, \
                 reserved_until) VALUES ($1, $2, $3, '', 'unlisted', $4, $5)",
            )
            .bind(&id)
            .bind(owner_id)
            .bind(RESERVED)
            .bind(now)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            ids.push(id);
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Turns a reserved id into an uploading drop.
    pub async fn claim(&self, d: &NewDrop<'_>) -> DbResult<Claim> {
        let _changed = self.rows.changing(d.id);
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE drops SET status = $1, name = $2, title = $3, declared_type = $4, \
             declared_size = $5, visibility = $6, created_at = $7, expires_at = $8, \
             reserved_until = NULL, upload_id = $12 \
             WHERE id = $9 AND owner_id = $10 AND status = $11 AND reserved_until >= $7",
        )
        .bind(d.status)
        .bind(d.name)
        .bind(d.title)
        .bind(d.declared_type)
        .bind(d.declared_size)
        .bind(d.visibility)
        .bind(now)
        .bind(d.expires_at)
        .bind(d.id)
        .bind(d.owner_id)
        .bind(RESERVED)
        .bind(d.upload_id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            announce(&mut tx, DROP_CREATED, d.id, now).await?;
            tx.commit().await?;
            return Ok(Claim::Claimed);
        }
        drop(tx);
        Ok(match self.drop_by_id(d.id).await? {
            Some(row) if row.owner_id == d.owner_id && row.status == RESERVED => Claim::Expired,
            Some(row) if row.owner_id == d.owner_id => Claim::AlreadyUsed,
            _ => Claim::NotFound,
        })
    }

    /// A page of the owner's drops, newest first, strictly older than `after`.
    pub async fn list_drops(
        &self,
        owner_id: &str,
        after: Option<(i64, String)>,
        limit: u32,
    ) -> DbResult<Vec<DropRow>> {
        let page = if after.is_some() {
            "AND (created_at < $4 OR (created_at = $4 AND id < $5))"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {DROP_COLUMNS} FROM drops WHERE owner_id = $1 AND status <> $2 {page} \
             ORDER BY created_at DESC, id DESC LIMIT $3"
        );
        let mut q = sqlx::query_as(&sql)
            .bind(owner_id)
            .bind(RESERVED)
            .bind(limit as i64);
        if let Some((at, id)) = after {
            q = q.bind(at).bind(id);
        }
        q.fetch_all(&self.pool).await
    }

    pub async fn update_drop(
        &self,
        id: &str,
        title: Option<Option<&str>>,
        expires_at: Option<Option<i64>>,
        visibility: Option<&str>,
    ) -> DbResult<()> {
        let _changed = self.rows.changing(id);
        // Each field only when given; three tiny statements keep the SQL plain.
        if let Some(title) = title {
            sqlx::query("UPDATE drops SET title = $1 WHERE id = $2")
                .bind(title)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if let Some(expires_at) = expires_at {
            sqlx::query("UPDATE drops SET expires_at = $1 WHERE id = $2")
                .bind(expires_at)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if let Some(visibility) = visibility {
            sqlx::query("UPDATE drops SET visibility = $1 WHERE id = $2")
                .bind(visibility)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Deletes the drop row and its parts; true when it existed.
    pub async fn delete_drop(&self, id: &str) -> DbResult<bool> {
        Ok(!self.delete_drops(&[id.to_string()]).await?.is_empty())
    }

    /// Deletes the rows of the drops `ids` (up to a few hundred) and their
    /// parts in one transaction, announcing each drop deleted; answers the
    /// id and open upload of each drop that existed. A handful of round
    /// trips whatever the count: cleanup deletes thousands at a time.
    pub async fn delete_drops(&self, ids: &[String]) -> DbResult<Vec<(String, Option<String>)>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let _changed: Vec<Changing<'_>> = ids.iter().map(|id| self.rows.changing(id)).collect();
        let list = (1..=ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut tx = self.pool.begin().await?;
        let sql = format!("DELETE FROM parts WHERE drop_id IN ({list})");
        let mut parts = sqlx::query(&sql);
        for id in ids {
            parts = parts.bind(id);
        }
        parts.execute(&mut *tx).await?;
        let sql = format!("DELETE FROM drops WHERE id IN ({list}) RETURNING id, status, upload_id");
        let mut drops = sqlx::query(&sql);
        for id in ids {
            drops = drops.bind(id);
        }
        let mut gone = Vec::new();
        let mut announced = Vec::new();
        for row in drops.fetch_all(&mut *tx).await? {
            let id: String = row.try_get("id")?;
            let status: String = row.try_get("status")?;
            // An id that was only reserved was never a drop to announce.
            if status != RESERVED {
                announced.push(id.clone());
            }
            gone.push((id, row.try_get("upload_id")?));
        }
        announce_all(&mut tx, DROP_DELETED, &announced, now_ms()).await?;
        tx.commit().await?;
        Ok(gone)
    }

    /// Freezes an uploading drop's parts while `complete` checks them.
    /// True when the drop is now (or already was) completing.
    pub async fn begin_completing(&self, id: &str) -> DbResult<bool> {
        let _changed = self.rows.changing(id);
        sqlx::query("UPDATE drops SET status = $1 WHERE id = $2 AND status = $3")
            .bind(COMPLETING)
            .bind(id)
            .bind(UPLOADING)
            .execute(&self.pool)
            .await?;
        let status: Option<String> = sqlx::query("SELECT status FROM drops WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r: AnyRow| r.try_get("status"))
            .transpose()?;
        Ok(status.as_deref() == Some(COMPLETING))
    }

    /// Lets parts in again after a failed `complete`.
    pub async fn abandon_completing(&self, id: &str) -> DbResult<()> {
        let _changed = self.rows.changing(id);
        sqlx::query("UPDATE drops SET status = $1 WHERE id = $2 AND status = $3")
            .bind(UPLOADING)
            .bind(id)
            .bind(COMPLETING)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Marks a completing (or, for one-shot uploads, uploading) drop
    /// complete, and in the same transaction forgets the parts not in
    /// `keep`, so the served file is exactly the listed parts. Returns the
    /// forgotten parts (their bytes are garbage), or `None` when the drop was
    /// not completing (completed or deleted meanwhile).
    pub async fn complete(
        &self,
        id: &str,
        keep: &[u32],
        c: &Completion<'_>,
    ) -> DbResult<Option<Vec<PartRow>>> {
        let _changed = self.rows.changing(id);
        let gone: Vec<PartRow> = self
            .parts(id)
            .await?
            .into_iter()
            .filter(|p| !keep.contains(&(p.number as u32)))
            .collect();
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let dims = c.dimensions;
        let done = sqlx::query(
            "UPDATE drops SET status = $1, size = $2, crc64nvme = $3, content_type = $4, \
             completed_at = $5, delete_token_hash = COALESCE($6, delete_token_hash), upload_id = NULL, \
             width = $10, height = $11, density = $12 \
             WHERE id = $7 AND (status = $8 OR status = $9)",
        )
        .bind(COMPLETE)
        .bind(c.size)
        .bind(c.crc64nvme)
        .bind(c.content_type)
        .bind(now)
        .bind(c.delete_token_hash)
        .bind(id)
        .bind(COMPLETING)
        .bind(UPLOADING)
        .bind(dims.map(|d| d.width as i64))
        .bind(dims.map(|d| d.height as i64))
        .bind(dims.and_then(|d| d.density).map(|d| d as i64))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(None);
        }
        announce(&mut tx, DROP_COMPLETED, id, now).await?;
        for p in &gone {
            sqlx::query("DELETE FROM parts WHERE drop_id = $1 AND number = $2")
                .bind(id)
                .bind(p.number)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(gone))
    }

    /// Bytes of a drop received so far (its stored parts), and when the
    /// last part arrived (`None`: no part yet).
    pub async fn received(&self, id: &str) -> DbResult<(i64, Option<i64>)> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n, MAX(created_at) AS t FROM parts \
             WHERE drop_id = $1",
        )
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get("n")?, row.try_get("t")?))
    }

    /// Counts one view of a drop that has a view limit; false when the
    /// limit was already reached (the drop is burnt).
    pub async fn take_limited_view(&self, id: &str) -> DbResult<bool> {
        let _changed = self.rows.changing(id);
        let done =
            sqlx::query("UPDATE drops SET views = views + 1 WHERE id = $1 AND views < max_views")
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Adds views counted in memory (drops without a view limit).
    pub async fn add_views(&self, counts: &[(String, i64)]) -> DbResult<()> {
        let _changed: Vec<_> = counts
            .iter()
            .map(|(id, _)| self.rows.changing(id))
            .collect();
        let mut tx = self.pool.begin().await?;
        for (id, n) in counts {
            sqlx::query("UPDATE drops SET views = views + $1 WHERE id = $2")
                .bind(n)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    pub async fn set_protection(
        &self,
        id: &str,
        password_hash: Option<Option<&str>>,
        max_views: Option<Option<i64>>,
    ) -> DbResult<()> {
        let _changed = self.rows.changing(id);
        if let Some(hash) = password_hash {
            sqlx::query("UPDATE drops SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        if let Some(max) = max_views {
            sqlx::query("UPDATE drops SET max_views = $1 WHERE id = $2")
                .bind(max)
                .bind(id)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Records a drop's thumbnail and, when they were unknown, its pixel size.
    pub async fn set_thumbnail(&self, id: &str, width: i64, height: i64) -> DbResult<()> {
        let _changed = self.rows.changing(id);
        sqlx::query(
            "UPDATE drops SET thumbnail = 1, width = COALESCE(width, $1), \
             height = COALESCE(height, $2) WHERE id = $3",
        )
        .bind(width)
        .bind(height)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Drops whose expiry has passed, oldest first.
    pub async fn expired_drops(&self, now: i64, limit: u32) -> DbResult<Vec<String>> {
        sqlx::query("SELECT id FROM drops WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2")
            .bind(now)
            .bind(limit as i64)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect()
    }

    /// Uploads started before `before` and never completed, and reserved
    /// ids past their reservation.
    pub async fn stale_drops(&self, before: i64, now: i64, limit: u32) -> DbResult<Vec<String>> {
        sqlx::query(
            "SELECT id FROM drops WHERE ((status = $1 OR status = $2) AND created_at < $3) \
             OR (status = $4 AND reserved_until < $5) LIMIT $6",
        )
        .bind(UPLOADING)
        .bind(COMPLETING)
        .bind(before)
        .bind(RESERVED)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
    }

    /// Complete drops with bytes, completed before `before`: a page of
    /// ids after `after` (in id order), for the sweep.
    pub async fn complete_drops(
        &self,
        before: i64,
        after: &str,
        limit: u32,
    ) -> DbResult<Vec<String>> {
        sqlx::query(
            "SELECT id FROM drops WHERE status = $1 AND completed_at < $2 AND size > 0 AND id > $3 \
             ORDER BY id LIMIT $4",
        )
        .bind(COMPLETE)
        .bind(before)
        .bind(after)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect()
    }

    /// Drops whose upload has begun and not completed.
    pub async fn uploads_open(&self) -> DbResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM drops WHERE status = $1 OR status = $2")
            .bind(UPLOADING)
            .bind(COMPLETING)
            .fetch_one(&self.pool)
            .await
    }

    /// When the oldest event still in the outbox was written.
    pub async fn oldest_event_at(&self) -> DbResult<Option<i64>> {
        sqlx::query_scalar("SELECT MIN(created_at) FROM outbox")
            .fetch_one(&self.pool)
            .await
    }

    // ----- webhooks -----

    /// Sets (or replaces) `user_id`'s webhook.
    pub async fn set_webhook(&self, w: &WebhookRow) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO webhooks (user_id, url, format, secret, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE \
             SET url = $2, format = $3, secret = $4, created_at = $5",
        )
        .bind(&w.user_id)
        .bind(&w.url)
        .bind(&w.format)
        .bind(&w.secret)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn webhook(&self, user_id: &str) -> DbResult<Option<WebhookRow>> {
        sqlx::query_as("SELECT user_id, url, format, secret FROM webhooks WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await
    }

    /// Removes `user_id`'s webhook; true when there was one.
    pub async fn delete_webhook(&self, user_id: &str) -> DbResult<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    // ----- the guard -----

    /// Adds `failures` to `address`'s count for `minute`; the new count.
    pub async fn add_failures(&self, address: &str, minute: i64, failures: i64) -> DbResult<i64> {
        sqlx::query_scalar(
            "INSERT INTO guard_failures (address, minute, failures) VALUES ($1, $2, $3) \
             ON CONFLICT (address, minute) DO UPDATE \
             SET failures = guard_failures.failures + $3 RETURNING failures",
        )
        .bind(address)
        .bind(minute)
        .bind(failures)
        .fetch_one(&self.pool)
        .await
    }

    /// Blocks `address` until `until` (or keeps a later block).
    pub async fn block_address(&self, address: &str, until: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO guard_blocks (address, until) VALUES ($1, $2) ON CONFLICT (address) \
             DO UPDATE SET until = $2 WHERE guard_blocks.until < $2",
        )
        .bind(address)
        .bind(until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends the blocks that ran out by `now`, and forgets counts of minutes
    /// before `forget_before`; the addresses released.
    pub async fn release_blocks(&self, now: i64, forget_before: i64) -> DbResult<Vec<String>> {
        let released: Vec<String> =
            sqlx::query_scalar("DELETE FROM guard_blocks WHERE until <= $1 RETURNING address")
                .bind(now)
                .fetch_all(&self.pool)
                .await?;
        sqlx::query("DELETE FROM guard_failures WHERE minute < $1")
            .bind(forget_before)
            .execute(&self.pool)
            .await?;
        Ok(released)
    }

    /// The addresses blocked now, in order.
    pub async fn blocked_addresses(&self, now: i64) -> DbResult<Vec<String>> {
        sqlx::query_scalar("SELECT address FROM guard_blocks WHERE until > $1 ORDER BY address")
            .bind(now)
            .fetch_all(&self.pool)
            .await
    }

    // ----- events -----

    /// Events due now, oldest first.
    pub async fn due_events(&self, now: i64, limit: u32) -> DbResult<Vec<EventRow>> {
        sqlx::query_as(
            "SELECT id, kind, drop_id, created_at, attempts FROM outbox WHERE next_at <= $1 \
             ORDER BY created_at LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
    }

    /// Claims `event_id` for `handler`: [`EventClaim::Mine`] when this
    /// caller is to run it (nobody has, nobody is, or a claim older than
    /// `stale_before` never finished).
    pub async fn claim_event(
        &self,
        event_id: &str,
        handler: &str,
        now: i64,
        stale_before: i64,
    ) -> DbResult<EventClaim> {
        let done = sqlx::query(
            "INSERT INTO handled_events (event_id, handler, claimed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (event_id, handler) DO UPDATE SET claimed_at = $3 \
             WHERE handled_events.done = 0 AND handled_events.claimed_at < $4",
        )
        .bind(event_id)
        .bind(handler)
        .bind(now)
        .bind(stale_before)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(EventClaim::Mine(now));
        }
        let finished: Option<i64> = sqlx::query_scalar(
            "SELECT done FROM handled_events WHERE event_id = $1 AND handler = $2",
        )
        .bind(event_id)
        .bind(handler)
        .fetch_optional(&self.pool)
        .await?;
        Ok(if finished == Some(1) {
            EventClaim::Done
        } else {
            EventClaim::Busy
        })
    }

    /// Marks an event handled for good, if the claim made at `claimed_at`
    /// still holds it.
    pub async fn event_handled(
        &self,
        event_id: &str,
        handler: &str,
        claimed_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "UPDATE handled_events SET done = 1 WHERE event_id = $1 AND handler = $2 \
             AND claimed_at = $3",
        )
        .bind(event_id)
        .bind(handler)
        .bind(claimed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives the claim made at `claimed_at` back after its handler failed
    /// (unless another took it meanwhile): the next delivery runs it.
    pub async fn release_event(
        &self,
        event_id: &str,
        handler: &str,
        claimed_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "DELETE FROM handled_events WHERE event_id = $1 AND handler = $2 AND done = 0 \
             AND claimed_at = $3",
        )
        .bind(event_id)
        .bind(handler)
        .bind(claimed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets which events were handled before `before`; how many.
    pub async fn forget_handled_events(&self, before: i64) -> DbResult<u64> {
        let done = sqlx::query("DELETE FROM handled_events WHERE claimed_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// When the next event is due, if any is waiting.
    pub async fn next_event_at(&self) -> DbResult<Option<i64>> {
        sqlx::query("SELECT MIN(next_at) AS t FROM outbox")
            .fetch_one(&self.pool)
            .await?
            .try_get("t")
    }

    pub async fn event_done(&self, id: &str) -> DbResult<()> {
        sqlx::query("DELETE FROM outbox WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn event_retry(&self, id: &str, next_at: i64, error: &str) -> DbResult<()> {
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_at = $1, last_error = $2 WHERE id = $3",
        )
        .bind(next_at)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ----- parts -----

    /// Records a stored part, replacing an earlier upload of the same number;
    /// returns the replaced part's nonce (its bytes are now garbage).
    /// `NotUploading` when the drop is gone or no longer takes parts.
    ///
    /// No read-then-write transaction: with SQLite in WAL mode such a
    /// transaction fails at once (SQLITE_BUSY_SNAPSHOT) when a parallel part
    /// was written meanwhile; the insert checks the drop's state itself.
    pub async fn put_part(
        &self,
        drop_id: &str,
        number: u32,
        size: i64,
        crc64nvme: &str,
        nonce: &str,
    ) -> DbResult<PutPart> {
        let old: Option<String> =
            sqlx::query("SELECT nonce FROM parts WHERE drop_id = $1 AND number = $2")
                .bind(drop_id)
                .bind(number as i64)
                .fetch_optional(&self.pool)
                .await?
                .map(|r: AnyRow| r.try_get("nonce"))
                .transpose()?;
        // Only while the drop takes parts: a late or replayed PUT must not
        // touch a drop that is completing or complete.
        let inserted = sqlx::query(
            "INSERT INTO parts (drop_id, number, size, crc64nvme, nonce, created_at) \
             SELECT $1, CAST($2 AS BIGINT), CAST($3 AS BIGINT), $4, $5, CAST($6 AS BIGINT) \
             WHERE EXISTS (SELECT 1 FROM drops WHERE id = $1 AND status = $7) \
             ON CONFLICT (drop_id, number) DO UPDATE SET \
             size = excluded.size, crc64nvme = excluded.crc64nvme, nonce = excluded.nonce, \
             created_at = excluded.created_at",
        )
        .bind(drop_id)
        .bind(number as i64)
        .bind(size)
        .bind(crc64nvme)
        .bind(nonce)
        .bind(now_ms())
        .bind(UPLOADING)
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Ok(PutPart::NotUploading);
        }
        Ok(PutPart::Stored { replaced: old })
    }

    pub async fn parts(&self, drop_id: &str) -> DbResult<Vec<PartRow>> {
        sqlx::query_as(
            "SELECT number, size, crc64nvme, nonce FROM parts WHERE drop_id = $1 ORDER BY number",
        )
        .bind(drop_id)
        .fetch_all(&self.pool)
        .await
    }
}

pub enum PutPart {
    Stored { replaced: Option<String> },
    NotUploading,
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_urls_lose_their_password_in_messages() {
        assert_eq!(
            super::without_password("postgres://dc:hunter2@db.example/dropcast"),
            "postgres://dc:***@db.example/dropcast"
        );
        assert_eq!(
            super::without_password("postgres://dc@localhost/x?host=/tmp/s"),
            "postgres://dc@localhost/x?host=/tmp/s"
        );
        assert_eq!(
            super::without_password("sqlite:///data/dropcast.db?mode=rwc"),
            "sqlite:///data/dropcast.db?mode=rwc"
        );
        for url in [
            "postgres://dc:a/b@c@db/x",
            "postgres://dc@db/x?password=hunter2&sslmode=require",
        ] {
            let shown = super::without_password(url);
            assert!(
                !shown.contains("a/b") && !shown.contains("hunter2"),
                "{shown}"
            );
        }
    }

    #[tokio::test]
    async fn drops_deleted_together_are_each_announced_but_reserved_ids_and_say_their_uploads() {
        use super::*;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let repo = Repo::open(&url, false, 0, Open::Migrate).await.unwrap();
        let owner = repo.create_user("ada", None).await.unwrap().unwrap();
        for (id, upload) in [("d1", Some("upload-1")), ("d2", None)] {
            repo.insert_drop(&NewDrop {
                id,
                owner_id: &owner.id,
                status: UPLOADING,
                name: "a.bin",
                title: None,
                declared_type: None,
                declared_size: None,
                visibility: "unlisted",
                expires_at: None,
                upload_id: upload,
            })
            .await
            .unwrap();
        }
        repo.put_part("d1", 1, 3, "AAAAAAAAAAA=", "n1")
            .await
            .unwrap();
        let reserved = repo.reserve(&owner.id, 1, now_ms() + 60_000).await.unwrap();
        let before: Vec<String> = repo
            .due_events(i64::MAX, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();

        let ids = ["d1", "d2", reserved[0].as_str(), "never-was"].map(String::from);
        let mut gone = repo.delete_drops(&ids).await.unwrap();
        gone.sort();
        let mut expected = vec![
            ("d1".to_string(), Some("upload-1".to_string())),
            ("d2".to_string(), None),
            (reserved[0].clone(), None),
        ];
        expected.sort();
        assert_eq!(gone, expected);
        let mut deleted: Vec<(String, String)> = repo
            .due_events(i64::MAX, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| !before.contains(&e.id))
            .map(|e| (e.kind, e.drop_id))
            .collect();
        deleted.sort();
        assert_eq!(
            deleted,
            [
                (DROP_DELETED.to_string(), "d1".to_string()),
                (DROP_DELETED.to_string(), "d2".to_string()),
            ]
        );
        assert!(repo.parts("d1").await.unwrap().is_empty());
        assert!(repo.drop_by_id("d1").await.unwrap().is_none());
        // Gone is gone: a second time finds nothing, announces nothing.
        assert!(repo.delete_drops(&ids).await.unwrap().is_empty());
        assert!(!repo.delete_drop("d2").await.unwrap());
    }
}
