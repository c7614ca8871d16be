//! The cleanup jobs. [`run`] deletes expired drops (bytes, thumbnail and
//! rows), aborts uploads that never completed within `stale_upload_age`
//! and multipart uploads no drop names, and forgets reserved ids past
//! their reservation and handled events after 30 days. `dropcast-server
//! cleanup` runs it once, `serve` every `cleanup_interval`, and on AWS the
//! cleanup function every 10 minutes.
//!
//! [`sweep`] (weekly on AWS, `dropcast-server cleanup --sweep`) compares
//! the store with the rows: it deletes what the store holds of drops no
//! row names, and drops whose bytes are gone from the store. Rows always
//! come before their bytes and go before them, so anything younger than
//! `sweep_grace` (an hour) is left alone rather than raced.

use std::collections::HashSet;

use crate::repo::now_ms;
use crate::App;

/// What one run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cleaned {
    pub expired: usize,
    pub stale: usize,
    /// Multipart uploads open in the store that no drop names.
    pub abandoned_uploads: usize,
}

impl Cleaned {
    pub fn total(&self) -> usize {
        self.expired + self.stale + self.abandoned_uploads
    }
}

impl std::fmt::Display for Cleaned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} expired drops deleted, {} stale uploads or reservations aborted, {} abandoned \
             multipart uploads aborted",
            self.expired, self.stale, self.abandoned_uploads
        )
    }
}

/// How long a handled event is remembered (SNS redelivers within hours).
const HANDLED_EVENTS_KEPT_MS: i64 = 30 * 24 * 3600 * 1000;

/// Drops deleted at a time: one transaction for their rows, and (each
/// with its thumbnail) two S3 DeleteObjects requests sent together.
const BATCH: u32 = 1000;

pub async fn run(app: &App) -> anyhow::Result<Cleaned> {
    let mut done = Cleaned::default();
    loop {
        let ids = app.repo.expired_drops(now_ms(), BATCH).await?;
        if ids.is_empty() {
            break;
        }
        app.purge_drops(&ids).await?;
        done.expired += ids.len();
    }
    let before = now_ms() - app.config.stale_upload_age as i64 * 1000;
    loop {
        let ids = app.repo.stale_drops(before, now_ms(), BATCH).await?;
        if ids.is_empty() {
            break;
        }
        app.purge_drops(&ids).await?;
        done.stale += ids.len();
    }
    // An upload the store began for a drop that was then never made, or
    // whose row went without it.
    for (id, upload, began) in app.blobs.open_uploads().await? {
        if began >= before {
            continue;
        }
        let named = app.repo.drop_by_id(&id).await?.and_then(|d| d.upload_id);
        if named.as_deref() != Some(upload.as_str()) {
            app.blobs.abort(&id, &upload).await?;
            done.abandoned_uploads += 1;
        }
    }
    app.repo
        .forget_handled_events(now_ms() - HANDLED_EVENTS_KEPT_MS)
        .await?;
    Ok(done)
}

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Swept {
    /// Drops no row names whose objects were deleted.
    pub orphans: usize,
    /// Complete drops whose bytes were gone, deleted.
    pub missing: usize,
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} orphaned objects' drops deleted from the store, {} drops whose bytes were gone \
             deleted",
            self.orphans, self.missing
        )
    }
}

pub async fn sweep(app: &App) -> anyhow::Result<Swept> {
    let started = now_ms();
    let grace = app.config.sweep_grace as i64 * 1000;
    let stored = app.blobs.stored().await?;
    let mut orphans = Vec::new();
    for s in &stored {
        if s.at < started - grace && app.repo.drop_by_id(&s.id).await?.is_none() {
            tracing::info!(drop = %s.id, "sweep: no drop names these objects: deleting them");
            orphans.push((s.id.clone(), None));
        }
    }
    app.blobs.delete(&orphans).await?;
    let with_bytes: HashSet<&str> = stored
        .iter()
        .filter(|s| s.bytes)
        .map(|s| s.id.as_str())
        .collect();
    let (mut listed_missing, mut complete) = (Vec::new(), 0usize);
    let mut after = String::new();
    loop {
        let page = app
            .repo
            .complete_drops(started - grace, &after, 500)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.clone();
        complete += page.len();
        listed_missing.extend(
            page.into_iter()
                .filter(|id| !with_bytes.contains(id.as_str())),
        );
    }
    // A listing that names far fewer objects than there are drops is
    // more likely wrong (a prefix, a permission) than the bytes gone.
    if listed_missing.len() > 10 && listed_missing.len() * 10 > complete {
        anyhow::bail!(
            "the store lists no bytes for {} of {complete} complete drops: refusing to delete \
             them; check the bucket and the function's rights to list it",
            listed_missing.len()
        );
    }
    let mut missing = Vec::new();
    for id in listed_missing {
        // Asked of the object itself before anything goes.
        if !app.blobs.has_bytes(&id).await? {
            tracing::warn!(drop = %id, "sweep: the drop's bytes are gone: deleting it");
            missing.push(id);
        }
    }
    app.purge_drops(&missing).await?;
    Ok(Swept {
        orphans: orphans.len(),
        missing: missing.len(),
    })
}
