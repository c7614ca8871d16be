//! `dropcast-lambda-cleanup`: the scheduled jobs, on EventBridge
//! schedules. The event's `job` (the schedule's `input`) says which:
//!
//! - `expire` (`rate(10 minutes)`, and any event without a `job`): deletes
//!   expired drops, aborts uploads that went stale and multipart uploads
//!   no drop names, and publishes the events the API function could not;
//! - `sweep` (weekly, `cron(0 5 ? * MON *)`): deletes objects no drop
//!   names, and drops whose bytes are gone.
//!
//! It answers what it did, as JSON, and logs it.

use dropcast_lambda::failure;
use dropcast_server::jobs::cleanup;
use dropcast_server::App;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

fn main() -> anyhow::Result<()> {
    dropcast_lambda::init_logging();
    let config = dropcast_lambda::config()?;
    dropcast_lambda::run(config, |app| async move {
        let app = &app;
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| {
            dropcast_lambda::timed("cleanup", job(app, e.payload))
        }))
        .await
        .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
    })
}

async fn job(
    app: &App,
    event: serde_json::Value,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let name = event
        .get("job")
        .and_then(|j| j.as_str())
        .unwrap_or("expire");
    let done = match name {
        "expire" => {
            // The events the API function could not publish go whatever
            // the cleanup does.
            let cleaned = cleanup::run(app).await;
            let published = match app.relay() {
                Ok(relay) => relay.run_once(app).await,
                Err(e) => Err(e),
            };
            let cleaned = cleaned.map_err(|e| failure(format!("{e:#}")))?;
            let published = published.map_err(|e| failure(format!("publishing events: {e:#}")))?;
            tracing::info!(published, "cleanup: {cleaned}");
            serde_json::json!({ "job": name, "cleaned": cleaned, "published": published })
        }
        "sweep" => {
            let swept = cleanup::sweep(app)
                .await
                .map_err(|e| failure(format!("{e:#}")))?;
            tracing::info!("sweep: {swept}");
            serde_json::json!({ "job": name, "swept": swept })
        }
        other => {
            return Err(failure(format!(
                "unknown job {other:?}: the schedule's input names `expire` or `sweep`"
            )))
        }
    };
    Ok(done)
}
