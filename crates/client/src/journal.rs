//! The local record of every drop this user made: its link, the file it
//! came from, its size and where its upload stands. Written before the first
//! byte is sent, so an upload cut short by a crash, a reboot or the network
//! is still known and `resume` can finish it. It is also the history.
//!
//! It also holds the pool of drop ids reserved on the server ahead of time:
//! a new drop takes one, so its link exists before any network round trip,
//! and even while the server cannot be reached. Such a drop is recorded
//! with `on_server = false` until the server has created it.
//!
//! One SQLite file in the client's data dir, shared by the CLI and the app.

use crate::settings::Dirs;
use dropcast_api as api;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{FromRow, Row};
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const UPLOADING: &str = "uploading";
pub const COMPLETE: &str = "complete";
pub const FAILED: &str = "failed";

#[derive(Debug, thiserror::Error)]
#[error("the local history at {path}: {source}")]
pub struct JournalError {
    path: PathBuf,
    source: sqlx::Error,
}

/// One drop as this client remembers it.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct Entry {
    pub id: String,
    pub server: String,
    pub url: String,
    pub raw_url: String,
    pub name: String,
    pub local_path: Option<String>,
    pub size: Option<i64>,
    /// `uploading`, `complete` or `failed`.
    pub status: String,
    /// Whether the server has created the drop (false: only its id is
    /// reserved; `resume` creates it first).
    pub on_server: bool,
    pub error: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
}

pub struct Journal {
    pool: SqlitePool,
    path: PathBuf,
}

/// The schema's versions, oldest first (`migrations/`). A file made before
/// there were migrations is adopted first (see [`adopt_unversioned`]).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Tables of a history file from before versioned migrations, whose rows
/// are carried over into the versioned tables of the same name.
const UNVERSIONED_TABLES: &[&str] = &["drops", "reserved"];

/// Reserved ids closer than this to expiry are not handed out.
const RESERVATION_MARGIN_MS: i64 = 3600 * 1000;

const COLUMNS: &str = "id, server, url, raw_url, name, local_path, size, status, \
     on_server, error, created_at, completed_at";

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Brings the file to the newest schema. The CLI and the tray app may open
/// it at the same moment, so one migrates at a time (a lock file beside
/// it); the other then finds nothing left to do.
async fn migrate(pool: &SqlitePool, path: &Path) -> Result<(), sqlx::Error> {
    let lock_path = path.with_extension("db.migrating");
    let lock = std::fs::File::create(&lock_path)?;
    let locked = tokio::task::spawn_blocking(move || lock.lock().map(|()| lock))
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))??;
    adopt_unversioned(pool).await?;
    MIGRATOR.run(pool).await?;
    carry_over_unversioned(pool).await?;
    drop(locked);
    Ok(())
}

async fn table_exists(pool: &SqlitePool, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
            .bind(name)
            .fetch_one(pool)
            .await?;
    Ok(n > 0)
}

async fn columns_of(pool: &SqlitePool, table: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
        .bind(table)
        .fetch_all(pool)
        .await
}

/// A history file from before versioned migrations (created with
/// `CREATE TABLE IF NOT EXISTS`, in whichever shape its release had) has
/// tables but no migration record. Its tables are set aside as
/// `unversioned_*`, the migrations then build today's tables, and
/// [`carry_over_unversioned`] copies the rows across. Each step can be
/// cut short and is taken up again on the next open.
async fn adopt_unversioned(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    if table_exists(pool, "_sqlx_migrations").await? || !table_exists(pool, "drops").await? {
        return Ok(());
    }
    // One statement list, so it is one transaction on one connection (a
    // failure leaves the file as it was; the pool is then dropped).
    let mut sql = String::from("BEGIN IMMEDIATE; DROP INDEX IF EXISTS drops_by_time;");
    for table in UNVERSIONED_TABLES {
        if table_exists(pool, table).await? {
            sql += &format!(" ALTER TABLE {table} RENAME TO unversioned_{table};");
        }
    }
    sql += " COMMIT;";
    sqlx::raw_sql(&sql).execute(pool).await?;
    Ok(())
}

/// Copies the rows of set-aside tables into today's, column by column
/// where both have it (newer columns take their defaults), then drops them.
async fn carry_over_unversioned(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    for table in UNVERSIONED_TABLES {
        let old = format!("unversioned_{table}");
        if !table_exists(pool, &old).await? {
            continue;
        }
        let new_columns = columns_of(pool, table).await?;
        let shared: Vec<String> = columns_of(pool, &old)
            .await?
            .into_iter()
            .filter(|c| new_columns.contains(c))
            .collect();
        let list = shared.join(", ");
        sqlx::raw_sql(&format!(
            "BEGIN IMMEDIATE; INSERT OR IGNORE INTO {table} ({list}) SELECT {list} FROM {old}; \
             DROP TABLE {old}; COMMIT;"
        ))
        .execute(pool)
        .await?;
    }
    Ok(())
}

impl Journal {
    pub async fn open(dirs: &Dirs) -> Result<Journal, JournalError> {
        Journal::open_at(&dirs.data.join("history.db")).await
    }

    pub async fn open_at(path: &Path) -> Result<Journal, JournalError> {
        let err = |source| JournalError {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| err(sqlx::Error::Io(e)))?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(opts)
            .await
            .map_err(err)?;
        migrate(&pool, path).await.map_err(err)?;
        Ok(Journal {
            pool,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, source: sqlx::Error) -> JournalError {
        JournalError {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a drop the server has created, about to be uploaded from
    /// `local_path`.
    pub async fn start(
        &self,
        server: &str,
        d: &api::Drop,
        local_path: Option<&Path>,
        size: Option<u64>,
    ) -> Result<(), JournalError> {
        let link = (d.id.as_str(), d.url.as_str(), d.raw_url.as_str());
        self.insert(server, link, &d.name, local_path, size, true)
            .await
    }

    /// Records a drop that has only a reserved id so far: its link is
    /// known, the server has not created it yet. No size: a recording,
    /// still growing.
    pub async fn start_reserved(
        &self,
        server: &str,
        r: &api::Reservation,
        name: &str,
        local_path: &Path,
        size: Option<u64>,
    ) -> Result<(), JournalError> {
        let link = (r.id.as_str(), r.url.as_str(), r.raw_url.as_str());
        self.insert(server, link, name, Some(local_path), size, false)
            .await
    }

    /// `link`: the drop's id, url and raw url.
    async fn insert(
        &self,
        server: &str,
        link: (&str, &str, &str),
        name: &str,
        local_path: Option<&Path>,
        size: Option<u64>,
        on_server: bool,
    ) -> Result<(), JournalError> {
        sqlx::query(
            "INSERT INTO drops (id, server, url, raw_url, name, local_path, size, status, \
             on_server, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET local_path = excluded.local_path, \
             size = excluded.size, status = excluded.status, on_server = excluded.on_server, \
             error = NULL",
        )
        .bind(link.0)
        .bind(server)
        .bind(link.1)
        .bind(link.2)
        .bind(name)
        .bind(local_path.map(|p| p.to_string_lossy().into_owned()))
        .bind(size.map(|s| s as i64))
        .bind(UPLOADING)
        .bind(on_server)
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The server has created the drop.
    pub async fn on_server(&self, id: &str) -> Result<(), JournalError> {
        sqlx::query("UPDATE drops SET on_server = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Adds ids the server reserved for this user.
    pub async fn add_reservations(
        &self,
        server: &str,
        list: &[api::Reservation],
    ) -> Result<(), JournalError> {
        for r in list {
            sqlx::query(
                "INSERT OR IGNORE INTO reserved (id, server, url, raw_url, expires_at) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&r.id)
            .bind(server)
            .bind(&r.url)
            .bind(&r.raw_url)
            .bind((r.expires_at.unix_timestamp_nanos() / 1_000_000) as i64)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Takes a reserved id for `server` (forgetting expired ones), if any.
    pub async fn take_reservation(
        &self,
        server: &str,
    ) -> Result<Option<api::Reservation>, JournalError> {
        let fresh = now_ms() + RESERVATION_MARGIN_MS;
        sqlx::query("DELETE FROM reserved WHERE expires_at < ?")
            .bind(fresh)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        let row = sqlx::query(
            "DELETE FROM reserved WHERE id = (SELECT id FROM reserved WHERE server = ? \
             ORDER BY expires_at LIMIT 1) RETURNING id, url, raw_url, expires_at",
        )
        .bind(server)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        row.map(|r| {
            let ms: i64 = r.try_get("expires_at")?;
            Ok(api::Reservation {
                id: r.try_get("id")?,
                url: r.try_get("url")?,
                raw_url: r.try_get("raw_url")?,
                expires_at: time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
                    .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            })
        })
        .transpose()
        .map_err(|e| self.err(e))
    }

    pub async fn reservations_left(&self, server: &str) -> Result<i64, JournalError> {
        sqlx::query("SELECT COUNT(*) AS n FROM reserved WHERE server = ? AND expires_at >= ?")
            .bind(server)
            .bind(now_ms() + RESERVATION_MARGIN_MS)
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(|e| self.err(e))
    }

    pub async fn complete(&self, d: &api::Drop) -> Result<(), JournalError> {
        sqlx::query(
            "UPDATE drops SET status = ?, on_server = 1, error = NULL, size = ?, completed_at = ? \
             WHERE id = ?",
        )
        .bind(COMPLETE)
        .bind(d.size.map(|s| s as i64))
        .bind(now_ms())
        .bind(&d.id)
        .execute(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The drop's local file is gone (a capture deleted once uploaded).
    pub async fn forget_local(&self, id: &str) -> Result<(), JournalError> {
        sqlx::query("UPDATE drops SET local_path = NULL WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub async fn fail(&self, id: &str, error: &str) -> Result<(), JournalError> {
        sqlx::query("UPDATE drops SET status = ?, error = ? WHERE id = ?")
            .bind(FAILED)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Drops whose upload has not completed, oldest first.
    pub async fn unfinished(&self, server: &str) -> Result<Vec<Entry>, JournalError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops WHERE server = ? AND status <> ? ORDER BY created_at"
        ))
        .bind(server)
        .bind(COMPLETE)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    /// The newest `limit` drops.
    pub async fn recent(&self, limit: u32) -> Result<Vec<Entry>, JournalError> {
        sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM drops ORDER BY created_at DESC, rowid DESC LIMIT ?"
        ))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))
    }

    pub async fn get(&self, id: &str) -> Result<Option<Entry>, JournalError> {
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM drops WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.err(e))
    }

    pub async fn forget(&self, id: &str) -> Result<bool, JournalError> {
        let done = sqlx::query("DELETE FROM drops WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.err(e))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count(&self) -> Result<i64, JournalError> {
        sqlx::query("SELECT COUNT(*) AS n FROM drops")
            .fetch_one(&self.pool)
            .await
            .and_then(|r| r.try_get("n"))
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drop_of(id: &str) -> api::Drop {
        api::Drop {
            id: id.into(),
            url: format!("http://s/{id}"),
            raw_url: format!("http://s/{id}/raw"),
            name: "a.png".into(),
            title: None,
            content_type: None,
            size: Some(10),
            crc64nvme: None,
            status: api::DropStatus::Uploading,
            visibility: api::Visibility::Unlisted,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            completed_at: None,
            expires_at: None,
            upload: None,
            views: 0,
            max_views: None,
            protected: false,
            thumbnail_url: None,
        }
    }

    #[tokio::test]
    async fn unfinished_uploads_survive_reopening_until_completed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.db");
        {
            let j = Journal::open_at(&path).await.unwrap();
            j.start(
                "http://s",
                &drop_of("a"),
                Some(Path::new("/x/a.png")),
                Some(10),
            )
            .await
            .unwrap();
            j.start("http://s", &drop_of("b"), None, None)
                .await
                .unwrap();
            j.fail("b", "network down").await.unwrap();
        }
        let j = Journal::open_at(&path).await.unwrap();
        let open: Vec<String> = j
            .unfinished("http://s")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(open, ["a", "b"]);
        assert!(j.unfinished("http://other").await.unwrap().is_empty());
        j.complete(&drop_of("a")).await.unwrap();
        let e = j.get("a").await.unwrap().unwrap();
        assert_eq!(e.status, COMPLETE);
        assert_eq!(e.local_path.as_deref(), Some("/x/a.png"));
        assert_eq!(
            j.get("b").await.unwrap().unwrap().error.as_deref(),
            Some("network down")
        );
        assert_eq!(j.recent(1).await.unwrap().len(), 1);
        assert!(j.forget("a").await.unwrap());
        assert_eq!(j.count().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn reserved_ids_are_handed_out_once_and_never_when_about_to_expire() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open_at(&dir.path().join("h.db")).await.unwrap();
        let soon = time::OffsetDateTime::now_utc() + time::Duration::minutes(5);
        let later = time::OffsetDateTime::now_utc() + time::Duration::days(7);
        let res = |id: &str, at| api::Reservation {
            id: id.into(),
            url: format!("http://s/{id}"),
            raw_url: format!("http://s/{id}/raw"),
            expires_at: at,
        };
        j.add_reservations(
            "http://s",
            &[res("x", soon), res("y", later), res("z", later)],
        )
        .await
        .unwrap();
        assert_eq!(j.reservations_left("http://s").await.unwrap(), 2);
        let a = j.take_reservation("http://s").await.unwrap().unwrap();
        let b = j.take_reservation("http://s").await.unwrap().unwrap();
        assert_ne!(a.id, b.id);
        assert!(a.id != "x" && b.id != "x", "x expires within the margin");
        assert!(j.take_reservation("http://s").await.unwrap().is_none());
        assert!(j.take_reservation("http://other").await.unwrap().is_none());
    }

    /// Makes a history file the way a release before versioned migrations
    /// did, with one row of each kind in it.
    async fn unversioned_file(path: &Path, schema: &str, rows: &str) {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .unwrap()
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new().connect_with(opts).await.unwrap();
        sqlx::raw_sql(schema).execute(&pool).await.unwrap();
        sqlx::raw_sql(rows).execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// The schema 97d22ad shipped, the first with a history.
    const FIRST_SCHEMA: &str = "
        CREATE TABLE IF NOT EXISTS drops (
            id TEXT PRIMARY KEY, server TEXT NOT NULL, url TEXT NOT NULL,
            raw_url TEXT NOT NULL, name TEXT NOT NULL, local_path TEXT, size INTEGER,
            status TEXT NOT NULL, error TEXT, created_at INTEGER NOT NULL,
            completed_at INTEGER);
        CREATE INDEX IF NOT EXISTS drops_by_time ON drops (created_at);";

    #[tokio::test]
    async fn a_history_from_the_first_release_keeps_its_rows_and_gains_the_pool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        unversioned_file(
            &path,
            FIRST_SCHEMA,
            "INSERT INTO drops VALUES ('done', 'http://s', 'http://s/done', 'http://s/done/raw',
                 'a.png', '/x/a.png', 10, 'complete', NULL, 1000, 2000);
             INSERT INTO drops VALUES ('half', 'http://s', 'http://s/half', 'http://s/half/raw',
                 'b.mp4', '/x/b.mp4', 99, 'uploading', NULL, 3000, NULL);",
        )
        .await;
        let j = Journal::open_at(&path).await.unwrap();
        let recent: Vec<(String, String, bool)> = j
            .recent(10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.status, e.on_server))
            .collect();
        assert_eq!(
            recent,
            [
                ("half".to_string(), UPLOADING.to_string(), true),
                ("done".to_string(), COMPLETE.to_string(), true)
            ]
        );
        let done = j.get("done").await.unwrap().unwrap();
        assert_eq!(done.local_path.as_deref(), Some("/x/a.png"));
        assert_eq!((done.size, done.completed_at), (Some(10), Some(2000)));
        // Usable: the unfinished one can be resumed and completed, and the
        // pool, which that release did not have, works.
        let unfinished = j.unfinished("http://s").await.unwrap();
        assert_eq!(unfinished.len(), 1);
        j.complete(&drop_of("half")).await.unwrap();
        assert_eq!(j.get("half").await.unwrap().unwrap().status, COMPLETE);
        let later = time::OffsetDateTime::now_utc() + time::Duration::days(7);
        j.add_reservations(
            "http://s",
            &[api::Reservation {
                id: "r".into(),
                url: "http://s/r".into(),
                raw_url: "http://s/r/raw".into(),
                expires_at: later,
            }],
        )
        .await
        .unwrap();
        assert_eq!(
            j.take_reservation("http://s").await.unwrap().unwrap().id,
            "r"
        );
        drop(j);
        // Opening it again changes nothing.
        let j = Journal::open_at(&path).await.unwrap();
        assert_eq!(j.count().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_history_with_the_pool_but_no_migrations_keeps_its_reserved_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.db");
        let schema = format!(
            "{FIRST_SCHEMA}
             ALTER TABLE drops ADD COLUMN on_server INTEGER NOT NULL DEFAULT 1;
             CREATE TABLE IF NOT EXISTS reserved (id TEXT PRIMARY KEY, server TEXT NOT NULL,
                 url TEXT NOT NULL, raw_url TEXT NOT NULL, expires_at INTEGER NOT NULL);"
        );
        let far = now_ms() + 7 * 24 * 3600 * 1000;
        unversioned_file(
            &path,
            &schema,
            &format!(
                "INSERT INTO drops (id, server, url, raw_url, name, status, on_server, created_at)
                     VALUES ('pooled', 'http://s', 'http://s/pooled', 'http://s/pooled/raw',
                     'c.png', 'uploading', 0, 5000);
                 INSERT INTO reserved VALUES ('next', 'http://s', 'http://s/next',
                     'http://s/next/raw', {far});"
            ),
        )
        .await;
        let j = Journal::open_at(&path).await.unwrap();
        let pooled = j.get("pooled").await.unwrap().unwrap();
        assert!(!pooled.on_server, "a drop not yet created stays so");
        assert_eq!(j.reservations_left("http://s").await.unwrap(), 1);
        assert_eq!(
            j.take_reservation("http://s").await.unwrap().unwrap().id,
            "next"
        );
    }
}
