//! The cleanup job: deletes expired drops (bytes, thumbnail and rows) and
//! aborts uploads that never completed within `stale_upload_age`, and
//! forgets reserved ids past their reservation. `dropcast-server cleanup`
//! runs it once; `serve` every `cleanup_interval`.

use crate::repo::now_ms;
use crate::App;

/// What one run removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Cleaned {
    pub expired: usize,
    pub stale: usize,
}

impl Cleaned {
    pub fn total(&self) -> usize {
        self.expired + self.stale
    }
}

impl std::fmt::Display for Cleaned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} expired drops deleted, {} stale uploads or reservations aborted",
            self.expired, self.stale
        )
    }
}

pub async fn run(app: &App) -> anyhow::Result<Cleaned> {
    let mut done = Cleaned::default();
    loop {
        let ids = app.repo.expired_drops(now_ms(), 200).await?;
        if ids.is_empty() {
            break;
        }
        app.purge_drops(&ids).await?;
        done.expired += ids.len();
    }
    let before = now_ms() - app.config.stale_upload_age as i64 * 1000;
    loop {
        let ids = app.repo.stale_drops(before, now_ms(), 200).await?;
        if ids.is_empty() {
            break;
        }
        app.purge_drops(&ids).await?;
        done.stale += ids.len();
    }
    Ok(done)
}
