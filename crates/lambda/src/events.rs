//! `dropcast-lambda-events`: the subscriber of the event topics. Each SNS
//! message is a Dropcast event (as the API function's relay published it);
//! it runs the same handlers the embedded server runs in-process
//! ([`App::handlers`]), each at most once per event, however often SNS
//! delivers it.
//!
//! A handler that fails makes the invocation fail: Lambda retries it
//! (twice, for SNS's asynchronous invocations), then sends it to the
//! dead-letter queue that `serverless.yml` names. A message that is not a
//! Dropcast event fails too, so it lands there for someone to look at.

use dropcast_lambda::failure;
use dropcast_server::jobs::events::{Event, EventBus, InProcess};
use dropcast_server::App;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

/// The part of Lambda's SNS event this reads.
#[derive(serde::Deserialize)]
struct SnsEvent {
    #[serde(rename = "Records")]
    records: Vec<SnsRecord>,
}

#[derive(serde::Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns")]
    sns: SnsMessage,
}

#[derive(serde::Deserialize)]
struct SnsMessage {
    #[serde(rename = "MessageId")]
    message_id: String,
    #[serde(rename = "Message")]
    message: String,
}

fn main() -> anyhow::Result<()> {
    dropcast_lambda::init_logging();
    let config = dropcast_lambda::config()?;
    dropcast_lambda::run(config, |app| async move {
        let handlers = app.handlers();
        let (app, handlers) = (&app, &handlers);
        lambda_runtime::run(service_fn(move |e: LambdaEvent<SnsEvent>| {
            dropcast_lambda::timed("events", handle(app, handlers, e.payload))
        }))
        .await
        .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
    })
}

async fn handle(
    app: &App,
    handlers: &InProcess,
    event: SnsEvent,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let mut handled = Vec::new();
    for record in event.records {
        let SnsMessage {
            message_id,
            message,
        } = record.sns;
        let event: Event = serde_json::from_str(&message).map_err(|e| {
            failure(format!(
                "SNS message {message_id} is not a Dropcast event ({e}): {message:.200}"
            ))
        })?;
        handlers.deliver(app, &event).await.map_err(|e| {
            tracing::error!(event = %event.id, kind = %event.kind, drop = %event.drop_id,
                "handling the event failed: {e}");
            failure(format!("event {} ({}): {e}", event.id, event.kind))
        })?;
        handled.push(event.id);
    }
    Ok(serde_json::json!({ "handled": handled }))
}
