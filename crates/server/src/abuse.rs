//! Slowing down guessers: a client address that piles up failed requests
//! (bad tokens, wrong passwords, unknown ids: answers 401, 403 and 404)
//! beyond `abuse_threshold` in a minute is answered 429 for
//! `abuse_cooldown` seconds. Counted in memory, per process.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::App;

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered at most; the oldest quiet ones go first.
const MAX_TRACKED: usize = 100_000;

pub struct Abuse {
    threshold: u32,
    cooldown: Duration,
    clients: Mutex<HashMap<IpAddr, Client>>,
}

struct Client {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

impl Abuse {
    pub fn new(threshold: u32, cooldown: Duration) -> Abuse {
        Abuse {
            threshold,
            cooldown,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long `ip` is still refused, if it is.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().expect("abuse table");
        let until = clients.get(&ip)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failed request from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        if self.threshold == 0 {
            return;
        }
        let mut clients = self.clients.lock().expect("abuse table");
        if clients.len() >= MAX_TRACKED {
            clients.retain(|_, c| {
                now.duration_since(c.window_start) < WINDOW
                    || c.blocked_until.is_some_and(|u| u > now)
            });
        }
        let c = clients.entry(ip).or_insert(Client {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.duration_since(c.window_start) >= WINDOW {
            c.window_start = now;
            c.failures = 0;
        }
        c.failures += 1;
        if c.failures > self.threshold {
            c.blocked_until = Some(now + self.cooldown);
        }
    }
}

/// The middleware: refuses blocked addresses, counts failures. Requests
/// without a peer address (behind a Lambda adapter) pass uncounted.
pub async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(ip) = ip else {
        return next.run(request).await;
    };
    if let Some(wait) = app.abuse.blocked(ip, Instant::now()) {
        let secs = wait.as_secs().max(1);
        let mut response = ApiError::new(
            dropcast_api::ErrorCode::RateLimited,
            format!("too many failed requests from this address; try again in {secs} s"),
        )
        .into_response();
        if let Ok(v) = secs.to_string().parse() {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let response = next.run(request).await;
    if is_failure(response.status().as_u16()) {
        app.abuse.failed(ip, Instant::now());
    }
    response
}

/// Whether an answer counts as a failed request: a bad token, a wrong
/// password, an unknown id (401, 403, 404). Here and for the guard.
pub fn is_failure(status: u16) -> bool {
    [
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::NOT_FOUND,
    ]
    .iter()
    .any(|s| s.as_u16() == status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_over_the_threshold_is_refused_for_the_cooldown_only() {
        let abuse = Abuse::new(3, Duration::from_secs(30));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            abuse.failed(ip, t0);
        }
        assert_eq!(
            abuse.blocked(ip, t0),
            None,
            "at the threshold: still served"
        );
        abuse.failed(ip, t0);
        assert_eq!(abuse.blocked(ip, t0), Some(Duration::from_secs(30)));
        assert_eq!(abuse.blocked(other, t0), None, "others are not affected");
        assert_eq!(abuse.blocked(ip, t0 + Duration::from_secs(31)), None);
    }

    #[test]
    fn failures_spread_over_minutes_are_not_abuse() {
        let abuse = Abuse::new(3, Duration::from_secs(30));
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for minute in 0..10 {
            let t = t0 + Duration::from_secs(61 * minute);
            abuse.failed(ip, t);
            abuse.failed(ip, t);
            assert_eq!(abuse.blocked(ip, t), None);
        }
    }
}
