//! The Dropcast drop server: accounts and tokens, drops, resumable chunked
//! uploads and raw downloads, as one axum [`Router`](axum::Router).
//!
//! [`App::open`] wires the embedded defaults (SQLite + local files under the
//! data dir); [`App::router`] is the whole HTTP surface, the same one a
//! serverless deployment runs. Handlers keep nothing in memory between
//! requests: upload state lives in the database and the object store.

pub mod config;
pub mod error;
mod http;
pub mod repo;
pub mod secrets;
pub mod sniff;
pub mod store;

pub use config::Config;
pub use http::openapi_json;

use anyhow::Context;
use repo::Repo;
use secrets::Signer;
use std::sync::Arc;
use store::Store;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub public_url: String,
    pub repo: Repo,
    pub store: Store,
    pub signer: Signer,
    /// Part bodies being received at once. The rest wait, their bytes held
    /// back by TCP rather than in our memory: this bounds the server's RSS
    /// whatever the number of clients.
    pub part_slots: tokio::sync::Semaphore,
    /// Completions (whole-file hashing) at once: CPU-bound, one per core.
    pub complete_slots: tokio::sync::Semaphore,
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// Opens (creating when missing) the data dir, database and store.
    pub async fn open(config: Config) -> anyhow::Result<App> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!(
                "creating the data dir {} (set --data-dir or DROPCAST_DATA_DIR to a writable place)",
                config.data_dir.display()
            )
        })?;
        let repo = Repo::open(&config.database_url(), config.fsync).await?;
        let store = Store::local(config.data_dir.join("objects"), config.fsync)?;
        let key = repo.signing_key().await?;
        let signer = Signer::new(hex::decode(key).context("signing key in the database")?);
        Ok(App(Arc::new(AppInner {
            public_url: config.public_url(),
            config,
            repo,
            store,
            signer,
            part_slots: tokio::sync::Semaphore::new(8),
            complete_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
        })))
    }

    pub fn router(&self) -> axum::Router {
        http::router(self.clone())
    }

    /// Makes sure the owner account exists. On an empty database it is
    /// created and a first token is issued and returned (shown once).
    pub async fn ensure_owner(&self) -> anyhow::Result<Option<FirstToken>> {
        if self.repo.user_count().await? > 0 {
            return Ok(None);
        }
        let name = &self.config.owner_name;
        let Some(user) = self.repo.create_user(name, None).await? else {
            return Ok(None); // another process just made it
        };
        let (token_id, token) = self.repo.create_token(&user.id, "first run").await?;
        Ok(Some(FirstToken {
            user: user.name,
            token_id,
            token,
        }))
    }
}

pub struct FirstToken {
    pub user: String,
    pub token_id: String,
    pub token: String,
}
