//! Events: what happened to a drop, handed to whatever does the follow-up
//! work (thumbnails first).
//!
//! An event is written to the `outbox` table in the same transaction as the
//! change it announces, so it cannot be lost between the two. The [`Relay`]
//! takes due events from the outbox, gives each to the [`EventBus`] and
//! deletes it once the bus took it, retrying with backoff when the bus
//! fails; a restart picks up where the last run stopped. The embedded bus,
//! [`InProcess`], runs the [`Handler`]s right here; a deployment on AWS
//! swaps in [`Sns`], which publishes each kind to its own topic, whose
//! subscriber (the `events` function) runs the same handlers through
//! [`InProcess`]. Handlers see an [`Event`] either way.
//!
//! Delivery is at least once: the relay may publish an event twice (it
//! died before deleting it), and SNS may deliver it twice. So each
//! handler claims the event in `handled_events` before it runs and marks
//! it done after: a second delivery finds it claimed and skips it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::repo::{now_ms, EventClaim, EventRow};
use crate::App;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that happened, as handlers see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: String,
    /// e.g. `drop.completed`.
    pub kind: String,
    pub drop_id: String,
    /// Unix milliseconds.
    pub at: i64,
}

impl From<EventRow> for Event {
    fn from(r: EventRow) -> Self {
        Event {
            id: r.id,
            kind: r.kind,
            drop_id: r.drop_id,
            at: r.created_at,
        }
    }
}

/// Follow-up work on an event. `Err` means "try again later" (the store or
/// the database failed); an event the handler can never process (a broken
/// file, say) is `Ok` after logging why.
pub trait Handler: Send + Sync {
    fn name(&self) -> &'static str;
    fn handle<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>>;
}

/// Where the relay hands events.
pub trait EventBus: Send + Sync {
    fn deliver<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>>;
}

/// The embedded bus: every handler, in this process, in order, each at
/// most once per event.
pub struct InProcess {
    pub handlers: Vec<Arc<dyn Handler>>,
}

/// How long a claim on an event may stay unfinished before another
/// delivery may take it: longer than a handler takes (the events
/// function's timeout is 2 minutes), short enough that Lambda's retries
/// (after about 1 and 3 minutes) find a dead run's claim stale.
const CLAIM_TTL_MS: i64 = 150 * 1000;

impl EventBus for InProcess {
    /// Each handler in turn, each at most once; a failure does not stop
    /// the others. `Err` when any failed or is still running elsewhere
    /// (so the event is delivered again later).
    fn deliver<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut failed = Vec::new();
            for h in &self.handlers {
                let now = now_ms();
                let claim = app
                    .repo
                    .claim_event(&event.id, h.name(), now, now - CLAIM_TTL_MS)
                    .await
                    .map_err(|e| format!("{}: claiming the event: {e}", h.name()))?;
                let claimed_at = match claim {
                    EventClaim::Mine(at) => at,
                    EventClaim::Done => continue,
                    EventClaim::Busy => {
                        failed.push(format!("{}: being handled elsewhere", h.name()));
                        continue;
                    }
                };
                let done = h.handle(app, event).await;
                app.metrics.job(h.name(), done.is_err());
                match done {
                    Ok(()) => app
                        .repo
                        .event_handled(&event.id, h.name(), claimed_at)
                        .await
                        .map_err(|e| format!("{}: {e}", h.name()))?,
                    Err(e) => {
                        if let Err(db) = app
                            .repo
                            .release_event(&event.id, h.name(), claimed_at)
                            .await
                        {
                            tracing::warn!(event = %event.id, "releasing the claim: {db}");
                        }
                        failed.push(format!("{}: {e}", h.name()));
                    }
                }
            }
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            }
        })
    }
}

/// The bus of a deployment on AWS: each event, as JSON, to its kind's
/// SNS topic (see [`crate::Config::sns_topic_prefix`]), with its kind as
/// the message attribute `kind`.
pub struct Sns {
    pub sns: crate::aws::sns::Sns,
    pub topic_prefix: String,
}

impl Sns {
    /// The topic of events of `kind`.
    pub fn topic(&self, kind: &str) -> String {
        format!("{}{}", self.topic_prefix, kind.replace('.', "-"))
    }
}

impl EventBus for Sns {
    fn deliver<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let message = serde_json::to_string(event).map_err(|e| e.to_string())?;
            let sent = self
                .sns
                .publish(&self.topic(&event.kind), &message, &[("kind", &event.kind)])
                .await;
            app.metrics.job("publish", sent.is_err());
            sent.map(|_| ()).map_err(|e| e.to_string())
        })
    }
}

/// Moves events from the outbox to the bus.
pub struct Relay {
    pub bus: Arc<dyn EventBus>,
}

/// How long a failed event waits before its next try: doubling from 1 s,
/// at most an hour.
fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 12) as u32).min(Duration::from_secs(3600))
}

impl Relay {
    /// Delivers every event due now; returns how many were handled.
    pub async fn run_once(&self, app: &App) -> anyhow::Result<usize> {
        let mut handled = 0;
        loop {
            let due = app.repo.due_events(now_ms(), 32).await?;
            let batch = due.len();
            for row in due {
                let attempts = row.attempts;
                let event = Event::from(row);
                match self.bus.deliver(app, &event).await {
                    Ok(()) => {
                        app.repo.event_done(&event.id).await?;
                        handled += 1;
                    }
                    Err(e) => {
                        let wait = backoff(attempts);
                        tracing::warn!(event = %event.id, kind = %event.kind,
                            drop = %event.drop_id, "event failed, retrying in {wait:?}: {e}");
                        let next = now_ms() + wait.as_millis() as i64;
                        app.repo.event_retry(&event.id, next, &e).await?;
                    }
                }
            }
            if batch < 32 {
                return Ok(handled);
            }
        }
    }

    /// Runs for ever: delivers what is due, then sleeps until the next event
    /// is due or [`App::wake_events`] is called.
    pub async fn run(self, app: App) {
        loop {
            if let Err(e) = self.run_once(&app).await {
                tracing::error!("event relay: {e:#}");
            }
            let next = app.repo.next_event_at().await.ok().flatten();
            let wait = next.map_or(Duration::from_secs(60), |t| {
                Duration::from_millis((t - now_ms()).clamp(0, 60_000) as u64)
            });
            tokio::select! {
                _ = app.events_waiting.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts its runs; fails while `failing` is set.
    struct Counting {
        name: &'static str,
        runs: AtomicUsize,
        failing: std::sync::atomic::AtomicBool,
    }

    impl Handler for Counting {
        fn name(&self) -> &'static str {
            self.name
        }

        fn handle<'a>(&'a self, _: &'a App, _: &'a Event) -> BoxFuture<'a, Result<(), String>> {
            Box::pin(async move {
                self.runs.fetch_add(1, Ordering::SeqCst);
                if self.failing.load(Ordering::SeqCst) {
                    Err("down".into())
                } else {
                    Ok(())
                }
            })
        }
    }

    /// An App on SQLite and files in a folder of its own (kept while the
    /// folder lives).
    async fn embedded() -> (App, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            data_dir: dir.path().to_path_buf(),
            fsync: false,
            ..Default::default()
        };
        let app = App::open(config, crate::repo::Open::Migrate).await.unwrap();
        (app, dir)
    }

    #[tokio::test]
    async fn a_handler_runs_once_per_event_however_often_it_is_delivered_and_again_after_failing() {
        let (app, _dir) = embedded().await;
        let counting = Arc::new(Counting {
            name: "counting",
            runs: AtomicUsize::new(0),
            failing: true.into(),
        });
        let after = Arc::new(Counting {
            name: "after",
            runs: AtomicUsize::new(0),
            failing: false.into(),
        });
        let bus = InProcess {
            handlers: vec![counting.clone(), after.clone()],
        };
        let event = Event {
            id: "e1".into(),
            kind: crate::repo::DROP_COMPLETED.into(),
            drop_id: "d1".into(),
            at: 0,
        };
        // A failure gives the event back: the next delivery runs it again.
        // It does not hold back the handlers after it, which run once.
        assert!(bus
            .deliver(&app, &event)
            .await
            .unwrap_err()
            .contains("counting: down"));
        assert_eq!(after.runs.load(Ordering::SeqCst), 1);
        counting.failing.store(false, Ordering::SeqCst);
        bus.deliver(&app, &event).await.unwrap();
        assert_eq!(counting.runs.load(Ordering::SeqCst), 2);
        assert_eq!(after.runs.load(Ordering::SeqCst), 1);
        // Done: delivered again, it does not run.
        bus.deliver(&app, &event).await.unwrap();
        assert_eq!(counting.runs.load(Ordering::SeqCst), 2);
        // Another event does.
        let other = Event {
            id: "e2".into(),
            ..event.clone()
        };
        bus.deliver(&app, &other).await.unwrap();
        assert_eq!(counting.runs.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_claim_left_unfinished_is_taken_again_only_once_it_is_stale() {
        let (app, _dir) = embedded().await;
        let repo = &app.repo;
        assert_eq!(
            repo.claim_event("e", "h", 1000, 0).await.unwrap(),
            EventClaim::Mine(1000)
        );
        // Someone holds it: busy while fresh, taken once stale.
        assert_eq!(
            repo.claim_event("e", "h", 2000, 500).await.unwrap(),
            EventClaim::Busy
        );
        assert_eq!(
            repo.claim_event("e", "h", 3000, 1500).await.unwrap(),
            EventClaim::Mine(3000)
        );
        // The first claimer, back late, neither finishes nor releases it.
        repo.release_event("e", "h", 1000).await.unwrap();
        repo.event_handled("e", "h", 1000).await.unwrap();
        assert_eq!(
            repo.claim_event("e", "h", 3500, 2000).await.unwrap(),
            EventClaim::Busy
        );
        repo.event_handled("e", "h", 3000).await.unwrap();
        // Done is done, however old.
        assert_eq!(
            repo.claim_event("e", "h", 9000, 8000).await.unwrap(),
            EventClaim::Done
        );
        // Each handler claims for itself.
        assert_eq!(
            repo.claim_event("e", "other", 9000, 0).await.unwrap(),
            EventClaim::Mine(9000)
        );
    }

    #[test]
    fn retries_back_off_from_a_second_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
