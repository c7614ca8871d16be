//! The server's figures, in Prometheus's text format at `GET /metrics`:
//! requests by route, method and status; their latency as histograms;
//! bytes in and out; uploads open; how long the oldest waiting event has
//! waited; and runs and failures of the background jobs and event
//! handlers. Counted in memory, per process, since it started.
//!
//! `/metrics` answers a request with `Authorization: Bearer
//! {metrics_token}` when one is set; without one, a loopback peer of a
//! server whose public URL is this machine (the embedded default);
//! anyone else gets 404. On Lambda, where an instance's memory is no place to keep
//! figures, the functions write the same figures as CloudWatch Embedded
//! Metric Format lines instead ([`emf`]).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::App;

/// Latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    jobs: Mutex<BTreeMap<String, (u64, u64)>>,
}

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Metrics {
    /// One answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64, bytes: (u64, u64)) {
        *self
            .requests
            .lock()
            .expect("metrics")
            .entry((route.to_string(), method.to_string(), status))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics");
        let h = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
        self.bytes_in.fetch_add(bytes.0, Ordering::Relaxed);
        self.bytes_out.fetch_add(bytes.1, Ordering::Relaxed);
    }

    /// One run of a job or event handler, and whether it failed.
    pub fn job(&self, name: &str, failed: bool) {
        let mut jobs = self.jobs.lock().expect("metrics");
        let entry = jobs.entry(name.to_string()).or_default();
        entry.0 += 1;
        entry.1 += u64::from(failed);
    }

    /// The text format, with the gauges read from the database now.
    fn render(&self, uploads_open: i64, event_lag_seconds: f64) -> String {
        let mut out = String::new();
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        out.push_str(
            "# HELP dropcast_http_requests_total Requests answered, by route, method and status.\n\
             # TYPE dropcast_http_requests_total counter\n",
        );
        for ((route, method, status), n) in self.requests.lock().expect("metrics").iter() {
            let _ = writeln!(
                out,
                "dropcast_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                esc(route)
            );
        }
        out.push_str(
            "# HELP dropcast_http_request_duration_seconds Time to answer, by route.\n\
             # TYPE dropcast_http_request_duration_seconds histogram\n",
        );
        for (route, h) in self.latency.lock().expect("metrics").iter() {
            let route = esc(route);
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "dropcast_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "dropcast_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 dropcast_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 dropcast_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let _ = write!(
            out,
            "# HELP dropcast_http_request_bytes_total Request body bytes received.\n\
             # TYPE dropcast_http_request_bytes_total counter\n\
             dropcast_http_request_bytes_total {}\n\
             # HELP dropcast_http_response_bytes_total Response body bytes sent.\n\
             # TYPE dropcast_http_response_bytes_total counter\n\
             dropcast_http_response_bytes_total {}\n\
             # HELP dropcast_uploads_open Drops whose upload has begun and not completed.\n\
             # TYPE dropcast_uploads_open gauge\n\
             dropcast_uploads_open {uploads_open}\n\
             # HELP dropcast_event_lag_seconds How long the oldest event not yet handled has waited.\n\
             # TYPE dropcast_event_lag_seconds gauge\n\
             dropcast_event_lag_seconds {event_lag_seconds}\n",
            self.bytes_in.load(Ordering::Relaxed),
            self.bytes_out.load(Ordering::Relaxed),
        );
        out.push_str(
            "# HELP dropcast_job_runs_total Runs of background jobs and event handlers.\n\
             # TYPE dropcast_job_runs_total counter\n",
        );
        let jobs = self.jobs.lock().expect("metrics").clone();
        for (name, (runs, _)) in &jobs {
            let _ = writeln!(
                out,
                "dropcast_job_runs_total{{job=\"{}\"}} {runs}",
                esc(name)
            );
        }
        out.push_str(
            "# HELP dropcast_job_failures_total Runs that failed.\n\
             # TYPE dropcast_job_failures_total counter\n",
        );
        for (name, (_, failures)) in &jobs {
            let _ = writeln!(
                out,
                "dropcast_job_failures_total{{job=\"{}\"}} {failures}",
                esc(name)
            );
        }
        out
    }
}

/// The middleware that counts each request (inside the router, so the
/// route is the pattern, `/{id}/raw`, never a drop's id).
pub async fn count(State(app): State<App>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().as_str().to_string();
    let bytes_in = content_length(request.headers());
    let mut response = next.run(request).await;
    let bytes_out = content_length(response.headers());
    app.metrics.request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
        (bytes_in, bytes_out),
    );
    response.extensions_mut().insert(Route(route));
    response
}

/// The route that answered, on the response, for layers outside the
/// router (the API function's access line).
#[derive(Debug, Clone)]
pub struct Route(pub String);

/// Whether `url`'s host is this machine (`http://127.0.0.1:8080`).
fn local_only(url: &str) -> bool {
    let url = reqwest::Url::parse(url).ok();
    let host = url.as_ref().and_then(|u| u.host_str()).unwrap_or_default();
    let host = host.trim_matches(['[', ']']);
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// A message's `Content-Length`, 0 when it has none.
pub fn content_length(headers: &axum::http::HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics",
    description = "The server's figures. With `metrics_token` set, for requests with \
                   `Authorization: Bearer` that token; without, for this machine only.",
    responses((status = 200, description = "Prometheus text format",
            content_type = "text/plain; version=0.0.4"),
        (status = 404, description = "not for this caller")))]
pub async fn serve(State(app): State<App>, request: Request) -> Response {
    let loopback = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&app.config.metrics_token, bearer) {
        (Some(token), Some(given)) => {
            crate::secrets::constant_time_eq(token.expose().as_bytes(), given.as_bytes())
        }
        (Some(_), None) => false,
        // Without a token, only a server meant for this machine answers
        // this machine: behind a reverse proxy every peer is loopback.
        (None, _) => loopback && local_only(&app.public_url),
    };
    if !allowed {
        return crate::error::ApiError::new(
            dropcast_api::ErrorCode::NotFound,
            "no such endpoint; see /api/v1/openapi.json",
        )
        .into_response();
    }
    let gauges = async {
        let open = app.repo.uploads_open().await?;
        let oldest = app.repo.oldest_event_at().await?;
        Ok::<_, sqlx::Error>((open, oldest))
    };
    match gauges.await {
        Ok((open, oldest)) => {
            let lag = oldest.map_or(0.0, |t| ((crate::repo::now_ms() - t).max(0)) as f64 / 1e3);
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                app.metrics.render(open, lag),
            )
                .into_response()
        }
        Err(e) => {
            crate::error::ApiError::internal("reading the metrics' gauges", e).into_response()
        }
    }
}

/// CloudWatch Embedded Metric Format: a JSON line in the log that
/// CloudWatch Logs turns into metrics in the `Dropcast` namespace, for
/// the Lambda functions.
pub mod emf {
    use serde_json::json;

    /// One request the API function answered: `requests`, `latency` and
    /// `bytes_out`, by route.
    pub fn request(route: &str, status: u16, latency_ms: f64, bytes_out: u64) {
        let class = format!("{}xx", status / 100);
        emit(json!({
            "_aws": meta(&[("requests", "Count"), ("latency", "Milliseconds"), ("bytes_out", "Bytes")],
                &["route"], &["route", "status_class"]),
            "route": route, "status_class": class, "status": status,
            "requests": 1, "latency": latency_ms, "bytes_out": bytes_out,
        }));
    }

    /// One run of a job (`cleanup.expire`, `events`, `guard`, ...).
    pub fn job(name: &str, failed: bool, seconds: f64) {
        emit(json!({
            "_aws": meta(&[("runs", "Count"), ("failures", "Count"), ("duration", "Seconds")],
                &["job"], &[]),
            "job": name, "runs": 1, "failures": u8::from(failed), "duration": seconds,
        }));
    }

    fn meta(metrics: &[(&str, &str)], dims: &[&str], more: &[&str]) -> serde_json::Value {
        let mut dimensions = vec![dims.to_vec()];
        if !more.is_empty() {
            dimensions.push(more.to_vec());
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        json!({
            "Timestamp": now,
            "CloudWatchMetrics": [{
                "Namespace": "Dropcast",
                "Dimensions": dimensions,
                "Metrics": metrics.iter().map(|(n, u)| json!({"Name": n, "Unit": u})).collect::<Vec<_>>(),
            }],
        })
    }

    /// On stderr, beside the log lines (Lambda sends both streams to
    /// CloudWatch Logs), whole: in one write, as `writeln!` on unbuffered
    /// stderr made one per JSON token (about 140 a line, before the
    /// answer went).
    fn emit(line: serde_json::Value) {
        use std::io::Write;
        let line = format!("{line}\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}
