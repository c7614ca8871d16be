//! The Dropcast drop server: accounts and tokens, drops, resumable chunked
//! uploads and raw downloads, as one axum [`Router`](axum::Router).
//!
//! [`App::open`] wires the embedded defaults (SQLite + local files under the
//! data dir); [`App::router`] is the whole HTTP surface, the same one a
//! serverless deployment runs. Handlers keep nothing in memory between
//! requests: upload state lives in the database and the object store.

pub mod abuse;
pub mod aws;
pub mod blobs;
pub mod conditional;
pub mod config;
pub mod domain;
pub mod error;
mod http;
pub mod jobs;
pub mod metrics;
pub mod repo;
pub mod secrets;
pub mod sniff;
pub mod store;

pub use config::Config;

/// The log level `DROPCAST_LOG` asks for (`debug`, `info`, `warn`,
/// `error`); info when unset or unreadable. For every server binary.
pub fn log_level() -> tracing::Level {
    std::env::var("DROPCAST_LOG")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(tracing::Level::INFO)
}
pub use http::openapi_json;

use anyhow::Context;
use repo::Repo;
use std::sync::Arc;
use store::Store;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct App(Arc<AppInner>);

pub struct AppInner {
    pub config: Config,
    pub public_url: String,
    pub repo: Repo,
    pub blobs: blobs::Blobs,
    /// Part bodies being received at once. The rest wait, their bytes held
    /// back by TCP rather than in our memory: this bounds the server's RSS
    /// whatever the number of clients.
    pub part_slots: tokio::sync::Semaphore,
    /// Woken when an event was written to the outbox.
    pub events_waiting: tokio::sync::Notify,
    /// Set with it; see [`App::take_events_written`].
    pub events_written: std::sync::atomic::AtomicBool,
    /// Page views of drops without a view limit, counted here and added to
    /// the database every few seconds (a write per view would cap the
    /// share page at the database's commit rate).
    pub views: Views,
    pub abuse: abuse::Abuse,
    pub metrics: metrics::Metrics,
}

/// View counts not yet in the database.
#[derive(Default)]
pub struct Views(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl Views {
    pub fn add(&self, id: &str) {
        *self
            .0
            .lock()
            .expect("views")
            .entry(id.to_string())
            .or_default() += 1;
    }

    pub fn pending(&self, id: &str) -> i64 {
        self.0.lock().expect("views").get(id).copied().unwrap_or(0)
    }

    fn take(&self) -> Vec<(String, i64)> {
        self.0.lock().expect("views").drain().collect()
    }
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// Opens (creating when missing) the data dir, database and store. With
    /// its bytes in S3 and its metadata elsewhere (a Lambda function, whose
    /// disk is read-only) the server has no data dir. `open` says how to
    /// meet the database.
    pub async fn open(config: Config, open: repo::Open) -> anyhow::Result<App> {
        let needs_data_dir = config.blobs == config::BlobsKind::Local
            || config.database_url().starts_with("sqlite:");
        if needs_data_dir {
            std::fs::create_dir_all(&config.data_dir).with_context(|| {
                format!(
                    "creating the data dir {} (set --data-dir or DROPCAST_DATA_DIR to a writable \
                     place)",
                    config.data_dir.display()
                )
            })?;
        }
        let repo = Repo::open(
            &config.database_url(),
            config.fsync,
            config.database_pool,
            open,
        )
        .await?;
        let blobs = match config.s3() {
            None => blobs::Blobs::Local(blobs::Local {
                store: Store::local(config.data_dir.join("objects"), config.fsync)?,
                repo: repo.clone(),
                public_url: config.public_url(),
            }),
            Some(s3) => {
                let credentials = aws::sigv4::Credentials::from_env().context(
                    "blobs = \"s3\" needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the \
                     environment",
                )?;
                let mut s3 = blobs::s3::S3::new(s3, credentials);
                if let Some(cdn) = config.raw_cdn()? {
                    s3 = s3.with_raw_cdn(cdn);
                }
                blobs::Blobs::S3(Arc::new(s3))
            }
        };
        let abuse = abuse::Abuse::new(
            config.abuse_threshold,
            config.abuse_threshold_signed_in,
            std::time::Duration::from_secs(config.abuse_cooldown),
        );
        Ok(App(Arc::new(AppInner {
            public_url: config.public_url(),
            config,
            repo,
            blobs,
            part_slots: tokio::sync::Semaphore::new(8),
            events_waiting: tokio::sync::Notify::new(),
            events_written: Default::default(),
            views: Views::default(),
            abuse,
            metrics: Default::default(),
        })))
    }

    /// The signer of part URLs, grants and form tokens.
    pub async fn signer(&self) -> error::ApiResult<&secrets::Signer> {
        Ok(self.repo.signer().await?)
    }

    /// Every event handler, in this process: the embedded server's bus,
    /// and what the `events` function runs for each SNS message.
    pub fn handlers(&self) -> jobs::events::InProcess {
        jobs::events::InProcess {
            handlers: vec![
                Arc::new(jobs::thumbnails::Thumbnailer),
                Arc::new(jobs::webhooks::Notifier::new(
                    self.config.webhook_private_addresses,
                )),
            ],
        }
    }

    /// The relay from the outbox to the configured bus: SNS when
    /// `sns_topic_prefix` is set, else [`App::handlers`].
    pub fn relay(&self) -> anyhow::Result<jobs::events::Relay> {
        let bus: Arc<dyn jobs::events::EventBus> = match &self.config.sns_topic_prefix {
            None => Arc::new(self.handlers()),
            Some(prefix) => {
                let credentials = aws::sigv4::Credentials::from_env().context(
                    "sns_topic_prefix needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the \
                     environment",
                )?;
                let region = aws::arn_region(prefix).unwrap_or("us-east-1");
                Arc::new(jobs::events::Sns {
                    sns: aws::sns::Sns::new(
                        region,
                        self.config.sns_endpoint.as_deref(),
                        credentials,
                    ),
                    topic_prefix: prefix.clone(),
                })
            }
        };
        Ok(jobs::events::Relay { bus })
    }

    /// Tells the relay that an event is waiting.
    pub fn wake_events(&self) {
        self.events_written
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.events_waiting.notify_one();
    }

    /// Whether an event was written since the last call: a function that
    /// runs no relay in the background delivers before it answers.
    pub fn take_events_written(&self) -> bool {
        self.events_written
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes the view counts gathered in memory to the database.
    pub async fn flush_views(&self) -> anyhow::Result<()> {
        let counts = self.views.take();
        if !counts.is_empty() {
            self.repo.add_views(&counts).await?;
        }
        Ok(())
    }

    /// Deletes drops: the rows first, in one transaction (so nothing is
    /// served any more), then their bytes and thumbnails, and their
    /// uploads if open, in one batch.
    pub async fn purge_drops(&self, ids: &[String]) -> anyhow::Result<()> {
        let gone = self.repo.delete_drops(ids).await?;
        if !gone.is_empty() {
            self.wake_events(); // drop.deleted
        }
        self.blobs.delete(&gone).await
    }

    /// What `serve` runs beside the HTTP server: the event relay (unless
    /// `worker` is off), the cleanup job every `cleanup_interval`, and the
    /// view counter's flush.
    pub fn spawn_background(&self) -> anyhow::Result<()> {
        if self.config.worker {
            tokio::spawn(self.relay()?.run(self.clone()));
        }
        if self.config.cleanup_interval > 0 {
            let app = self.clone();
            tokio::spawn(async move {
                let every = std::time::Duration::from_secs(app.config.cleanup_interval);
                loop {
                    let done = jobs::cleanup::run(&app).await;
                    app.metrics.job("cleanup", done.is_err());
                    match done {
                        Ok(done) if done.total() > 0 => tracing::info!("cleanup: {done}"),
                        Ok(_) => {}
                        Err(e) => tracing::error!("cleanup: {e:#}"),
                    }
                    tokio::time::sleep(every).await;
                }
            });
        }
        let app = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                if let Err(e) = app.flush_views().await {
                    tracing::error!("saving view counts: {e:#}");
                }
            }
        });
        Ok(())
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
