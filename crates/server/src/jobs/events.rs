//! Events: what happened to a drop, handed to whatever does the follow-up
//! work (thumbnails first).
//!
//! An event is written to the `outbox` table in the same transaction as the
//! change it announces, so it cannot be lost between the two. The [`Relay`]
//! takes due events from the outbox, gives each to the [`EventBus`] and
//! deletes it once the bus took it, retrying with backoff when the bus
//! fails; a restart picks up where the last run stopped. The embedded bus,
//! [`InProcess`], runs the [`Handler`]s right here; a deployment on AWS
//! swaps in a bus that publishes to SNS, whose subscriber runs the same
//! handlers. Handlers see an [`Event`] either way.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::repo::{now_ms, EventRow};
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

/// The embedded bus: every handler, in this process, in order.
pub struct InProcess {
    pub handlers: Vec<Arc<dyn Handler>>,
}

impl EventBus for InProcess {
    fn deliver<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            for h in &self.handlers {
                h.handle(app, event)
                    .await
                    .map_err(|e| format!("{}: {e}", h.name()))?;
            }
            Ok(())
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

    #[test]
    fn retries_back_off_from_a_second_to_an_hour() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), Duration::from_secs(3600));
    }
}
