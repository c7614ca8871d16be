//! Slowing down guessers: who piles up failed requests (bad tokens,
//! wrong passwords, unknown ids: answers 401, 403 and 404) is answered 429
//! for `abuse_cooldown` seconds. Counted in memory, per process, a minute
//! at a time, and by who is asking:
//!
//! - a request with a valid token counts against that token, up to
//!   `abuse_threshold_signed_in` failures a minute (600): a signed-in
//!   client looking up many deleted drops (a History refresh after a
//!   cleanup) goes on, and its failures never lock out other users behind
//!   the same address, whose own valid tokens keep working while it waits;
//! - any other request (no token, or one that is not valid) counts
//!   against its client address, up to `abuse_threshold` (60).

use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::App;

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses and tokens remembered at most; the oldest quiet ones go first.
const MAX_TRACKED: usize = 100_000;

/// Who a failure counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    /// A client address: anonymous requests, and bad tokens.
    Address(IpAddr),
    /// A token that named a user: the first bytes of its SHA-256, so no
    /// token is kept in memory.
    Token([u8; 16]),
}

impl Who {
    /// The [`Who::Token`] of a bearer token.
    pub fn token(token: &str) -> Who {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(token.as_bytes());
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Who::Token(key)
    }
}

pub struct Abuse {
    /// Failures a minute: of an address, and of a signed-in token.
    threshold: u32,
    threshold_signed_in: u32,
    cooldown: Duration,
    clients: Mutex<HashMap<Who, Client>>,
}

struct Client {
    window_start: Instant,
    failures: u32,
    blocked_until: Option<Instant>,
}

impl Abuse {
    /// A threshold of 0 counts nothing of that kind.
    pub fn new(threshold: u32, threshold_signed_in: u32, cooldown: Duration) -> Abuse {
        Abuse {
            threshold,
            threshold_signed_in,
            cooldown,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// How long `who` is still refused, if it is.
    pub fn blocked(&self, who: Who, now: Instant) -> Option<Duration> {
        let clients = self.clients.lock().expect("abuse table");
        let until = clients.get(&who)?.blocked_until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failed request of `who`.
    pub fn failed(&self, who: Who, now: Instant) {
        let threshold = match who {
            Who::Address(_) => self.threshold,
            Who::Token(_) => self.threshold_signed_in,
        };
        if threshold == 0 {
            return;
        }
        let mut clients = self.clients.lock().expect("abuse table");
        if clients.len() >= MAX_TRACKED {
            clients.retain(|_, c| {
                now.duration_since(c.window_start) < WINDOW
                    || c.blocked_until.is_some_and(|u| u > now)
            });
        }
        let c = clients.entry(who).or_insert(Client {
            window_start: now,
            failures: 0,
            blocked_until: None,
        });
        if now.duration_since(c.window_start) >= WINDOW {
            c.window_start = now;
            c.failures = 0;
        }
        c.failures += 1;
        if c.failures > threshold {
            c.blocked_until = Some(now + self.cooldown);
        }
    }
}

tokio::task_local! {
    /// Set while a request runs: whether its bearer token named a user.
    static SIGNED_IN: Cell<bool>;
}

/// Says that the request being handled carries a valid token
/// ([`crate::http::user_from_headers`] calls it). Outside the guard, a
/// no-op.
pub fn signed_in() {
    let _ = SIGNED_IN.try_with(|s| s.set(true));
}

/// On a response whose request carried a valid token, for the layers
/// outside the router (the Lambda function's access line).
#[derive(Debug, Clone, Copy)]
pub struct SignedIn;

/// The bearer token of `headers`, as sent.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(str::trim)
}

/// The middleware: refuses who is blocked, counts failures against who
/// asked. Requests without a peer address (behind a Lambda adapter that
/// gives none) pass uncounted.
pub async fn guard(State(app): State<App>, request: Request, next: Next) -> Response {
    let ip = request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(ip) = ip else {
        return next.run(request).await;
    };
    let now = Instant::now();
    let token = bearer(request.headers()).map(Who::token);
    if let Some(wait) = token.and_then(|t| app.abuse.blocked(t, now)) {
        return too_many(wait, "with this token");
    }
    if let Some(wait) = app.abuse.blocked(Who::Address(ip), now) {
        // A valid token is judged by its own failures, not by others'
        // behind the same address. (Only asked when the address waits.)
        let valid = token.is_some()
            && matches!(
                crate::http::user_from_headers(&app, request.headers()).await,
                Ok(Some(_))
            );
        if !valid {
            return too_many(wait, "from this address");
        }
    }
    let (mut response, signed_in) = SIGNED_IN
        .scope(Cell::new(false), async {
            let response = next.run(request).await;
            (response, SIGNED_IN.with(Cell::get))
        })
        .await;
    if signed_in {
        response.extensions_mut().insert(SignedIn);
    }
    if is_failure(response.status().as_u16()) {
        let who = match token {
            Some(token) if signed_in => token,
            _ => Who::Address(ip),
        };
        app.abuse.failed(who, Instant::now());
    }
    response
}

fn too_many(wait: Duration, whose: &str) -> Response {
    let secs = wait.as_secs().max(1);
    let mut response = ApiError::new(
        dropcast_api::ErrorCode::RateLimited,
        format!("too many failed requests {whose}; try again in {secs} s"),
    )
    .into_response();
    if let Ok(v) = secs.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, v);
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
        let abuse = Abuse::new(3, 10, Duration::from_secs(30));
        let ip = Who::Address("192.0.2.1".parse().unwrap());
        let other = Who::Address("192.0.2.2".parse().unwrap());
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
        let abuse = Abuse::new(3, 10, Duration::from_secs(30));
        let ip = Who::Address("192.0.2.1".parse().unwrap());
        let t0 = Instant::now();
        for minute in 0..10 {
            let t = t0 + Duration::from_secs(61 * minute);
            abuse.failed(ip, t);
            abuse.failed(ip, t);
            assert_eq!(abuse.blocked(ip, t), None);
        }
    }

    #[test]
    fn a_signed_in_token_has_a_budget_of_its_own() {
        let abuse = Abuse::new(3, 10, Duration::from_secs(30));
        let ip = Who::Address("192.0.2.1".parse().unwrap());
        let token = Who::token("dc_token");
        let t0 = Instant::now();
        for _ in 0..10 {
            abuse.failed(token, t0);
        }
        assert_eq!(abuse.blocked(token, t0), None, "ten is within its budget");
        assert_eq!(abuse.blocked(ip, t0), None, "and nothing of its address's");
        abuse.failed(token, t0);
        assert_eq!(abuse.blocked(token, t0), Some(Duration::from_secs(30)));
        assert_eq!(abuse.blocked(Who::token("dc_other"), t0), None);
        assert_ne!(Who::token("dc_token"), Who::token("dc_tokeN"));
    }
}
