//! `dropcast-lambda-api`: the drop server's REST API and share pages as an
//! AWS Lambda function behind API Gateway (HTTP API, payload 2.0).
//!
//! It runs the same [`axum::Router`] as `dropcast-server serve`, built once
//! per instance and kept across invocations with its database pool. The
//! configuration is the server's, from `DROPCAST_*` variables (secrets
//! such as a database password are injected the same way, from Parameter
//! Store, and never logged); on Lambda that means `blobs = "s3"` and a
//! `postgres://` `database_url`. Logs are JSON lines, one per event, on
//! stderr, where Lambda sends them to CloudWatch.
//!
//! Nothing here keeps state between requests that the next one needs:
//! bytes are in S3, metadata in PostgreSQL. The in-memory helpers are
//! correct per instance: the row cache lives 1 s, view counts are flushed
//! after every request, and the failed-request guard counts per instance
//! (the WAF's rate rules stand in front of it).

use anyhow::Context;
use axum::extract::State;
use axum::middleware::Next;
use dropcast_server::repo::Open;
use dropcast_server::{App, Config};

/// The most a one-shot upload may be here. Lambda takes 6 MB a request,
/// and API Gateway hands a binary body (a multipart form) over in base64,
/// a third bigger: about 4.4 MiB of file, less the form's own bytes.
const ONESHOT_ON_LAMBDA: u64 = 4 << 20;

fn main() -> anyhow::Result<()> {
    init_logging();
    let mut config = Config::load(None, std::env::vars(), Default::default())
        .context("reading the DROPCAST_* configuration")?;
    // Bigger files are refused by the server, with an answer that says what
    // to use instead, not by Lambda with a bare 413.
    config.max_oneshot_size = config.max_oneshot_size.min(ONESHOT_ON_LAMBDA);
    // One request at a time per instance: one thread is all it uses.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Nothing is asked of the database before the first request, and
        // the schema is the deploy's job (`dropcast-server migrate`).
        let app = App::open(config, Open::Lazy).await?;
        tracing::info!(blobs = ?app.config.blobs, "dropcast API function ready");
        let router = app.router().layer(axum::middleware::from_fn_with_state(
            app.clone(),
            flush_views,
        ));
        lambda_http::run(router)
            .await
            .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
    })
}

fn init_logging() {
    let level = dropcast_server::log_level();
    tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(false)
        .with_writer(std::io::stderr)
        .init();
}

/// Writes the view counts a request gathered before its answer goes: an
/// instance may be frozen, or never thawed, once it has answered.
async fn flush_views(
    State(app): State<App>,
    request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if let Err(e) = app.flush_views().await {
        tracing::error!("saving view counts: {e:#}");
    }
    response
}
