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
//! and events published after every request, and the failed-request guard
//! counts per instance (the WAF's rate rules stand in front of it).

use axum::extract::State;
use axum::middleware::Next;
use dropcast_server::jobs::events::Relay;
use dropcast_server::{metrics, App};

/// The most a one-shot upload may be here. Lambda takes 6 MB a request,
/// and API Gateway hands a binary body (a multipart form) over in base64,
/// a third bigger: about 4.4 MiB of file, less the form's own bytes.
const ONESHOT_ON_LAMBDA: u64 = 4 << 20;

fn main() -> anyhow::Result<()> {
    dropcast_lambda::init_logging();
    let mut config = dropcast_lambda::config()?;
    // Bigger files are refused by the server, with an answer that says what
    // to use instead, not by Lambda with a bare 413.
    config.max_oneshot_size = config.max_oneshot_size.min(ONESHOT_ON_LAMBDA);
    dropcast_lambda::run(config, |app| async move {
        tracing::info!(blobs = ?app.config.blobs, "dropcast API function ready");
        let relay = std::sync::Arc::new(app.relay()?);
        let router = app
            .router()
            .layer(axum::middleware::from_fn_with_state(
                (app.clone(), relay),
                after_each_request,
            ))
            .layer(axum::middleware::from_fn_with_state(
                app.clone(),
                access_log,
            ));
        lambda_http::run(router)
            .await
            .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
    })
}

/// What a request left to do is done before its answer goes, since an
/// instance may be frozen, or never thawed, once it has answered: the view
/// counts it gathered are written, and the events it wrote are published
/// (what fails to publish stays in the outbox for the cleanup function's
/// next run).
async fn after_each_request(
    State((app, relay)): State<(App, std::sync::Arc<Relay>)>,
    request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    if let Err(e) = app.flush_views().await {
        tracing::error!("saving view counts: {e:#}");
    }
    if app.take_events_written() {
        if let Err(e) = relay.run_once(&app).await {
            tracing::error!("publishing events: {e:#}");
        }
    }
    response
}

/// One JSON line per request, which the guard function reads: request id,
/// method, route, path (never the query, which may hold a signature),
/// status, latency and client address; and the request's figures as an
/// Embedded Metric Format line, for CloudWatch. The client's address is also handed to
/// the router, whose failed-request limit counts per address.
async fn access_log(
    State(app): State<App>,
    mut request: axum::extract::Request,
    next: Next,
) -> axum::response::Response {
    use lambda_http::RequestExt;
    let started = std::time::Instant::now();
    let (through_edge, client) = client_address(&app, &request);
    // Behind CloudFront, nothing but CloudFront may reach the API: the WAF
    // and the guard stand there. The keep-warm health check (Lambda
    // invokes it itself) and the pages' static files are the same for all.
    let open = request.uri().path() == "/healthz" || request.uri().path().starts_with("/assets/");
    if app.config.edge_secret.is_some() && !through_edge && !open {
        use axum::response::IntoResponse;
        return dropcast_server::error::ApiError::new(
            dropcast_api::ErrorCode::EdgeRequired,
            "this API answers through its CloudFront address only; use the PublicUrl",
        )
        .into_response();
    }
    if let Some(ip) = client {
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::new(ip, 0)));
    }
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let request_id = request
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .unwrap_or_default();
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<metrics::Route>()
        .map_or("unmatched", |r| r.0.as_str());
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    // Its bearer token named a user: the guard leaves such lines alone.
    let signed_in = response
        .extensions()
        .get::<dropcast_server::abuse::SignedIn>()
        .is_some();
    tracing::info!(
        target: "access",
        request_id,
        method = %method,
        route,
        path,
        status,
        latency_ms,
        client = client.map(|c| c.to_string()).unwrap_or_default(),
        signed_in,
        "request"
    );
    let bytes_out = metrics::content_length(response.headers());
    metrics::emf::request(route, status, latency_ms, bytes_out);
    response
}

/// Whether `request` proves it came through CloudFront (the edge secret),
/// and who sent it: the address CloudFront saw when it does, else API
/// Gateway's peer.
fn client_address(app: &App, request: &axum::extract::Request) -> (bool, Option<std::net::IpAddr>) {
    use lambda_http::request::RequestContext;
    use lambda_http::RequestExt;
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let proven = app.config.edge_secret.as_ref().is_some_and(|secret| {
        header("x-dropcast-edge-secret").is_some_and(|s| {
            dropcast_server::secrets::constant_time_eq(s.as_bytes(), secret.expose().as_bytes())
        })
    });
    if proven {
        if let Some(ip) = header("x-dropcast-client-ip").and_then(|v| v.trim().parse().ok()) {
            return (true, Some(ip));
        }
    }
    let peer = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            ctx.http.source_ip.as_deref().and_then(|ip| ip.parse().ok())
        }
        #[allow(unreachable_patterns)]
        _ => None,
    };
    (proven, peer)
}
