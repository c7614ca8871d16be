//! Delivers `drop.completed` to the drop owner's webhook, a handler of
//! the event bus (so each event is delivered once however often it comes,
//! and retried when the receiver fails).
//!
//! A delivery is a POST of a [`api::WebhookEvent`] (or, in the `slack`
//! format, Slack's `{"text": ...}`), signed in `Dropcast-Signature` (see
//! [`api::webhook`]), with the event's id in `Dropcast-Delivery`. A 2xx
//! answer is done. A 5xx, 408 or 429, or no answer within 10 s, is tried
//! again later; any other answer means the receiver does not want it,
//! which is logged and not retried.
//!
//! The server must not become a way into the network it runs in: a
//! webhook's host must resolve to public addresses only (not loopback,
//! private, link-local such as the cloud's metadata service, or
//! unique-local), checked at each delivery, and redirects are not
//! followed. `webhook_private_addresses` lifts that, for a server on a
//! private network (and the tests).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dropcast_api as api;

use super::events::{BoxFuture, Event, Handler};
use crate::repo::{COMPLETE, DROP_COMPLETED};
use crate::App;

pub struct Notifier {
    http: reqwest::Client,
    private_ok: bool,
}

impl Notifier {
    pub fn new(private_ok: bool) -> Notifier {
        // No proxy from the environment: the resolver must see the
        // webhook's own host, not a proxy's.
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Dropcast-Webhooks/", env!("CARGO_PKG_VERSION")));
        if !private_ok {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Notifier {
            http: builder.build().expect("a plain HTTP client builds"),
            private_ok,
        }
    }
}

impl Handler for Notifier {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn handle<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if event.kind != DROP_COMPLETED {
                return Ok(());
            }
            let db = |e: sqlx::Error| e.to_string();
            let Some(d) = app.repo.drop_by_id(&event.drop_id).await.map_err(db)? else {
                return Ok(()); // deleted meanwhile
            };
            if d.status != COMPLETE {
                return Ok(());
            }
            let Some(hook) = app.repo.webhook(&d.owner_id).await.map_err(db)? else {
                return Ok(());
            };
            let url = match reqwest::Url::parse(&hook.url) {
                Ok(u) => u,
                Err(e) => {
                    tracing::info!(drop = %d.id, "webhook not sent: its url: {e}");
                    return Ok(());
                }
            };
            if let Some(ip) = url
                .host_str()
                .and_then(|h| h.trim_matches(['[', ']']).parse().ok())
            {
                if !self.private_ok && !is_public(ip) {
                    tracing::info!(drop = %d.id, "webhook not sent: {ip} is not a public address");
                    return Ok(());
                }
            }
            let drop = app.drop_json(&d);
            let body = match crate::domain::webhooks::parse_format(&hook.format) {
                api::WebhookFormat::Dropcast => serde_json::to_vec(&api::WebhookEvent {
                    id: event.id.clone(),
                    event: event.kind.clone(),
                    at: crate::repo::time_of(event.at),
                    drop,
                }),
                api::WebhookFormat::Slack => serde_json::to_vec(&serde_json::json!({
                    "text": format!("New drop: <{}|{}> ({})", drop.url, slack_escape(&drop.name),
                        drop.size.map_or("size unknown".into(), |s| format!("{s} bytes"))),
                })),
            }
            .map_err(|e| e.to_string())?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let sent = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .header(api::webhook::EVENT_HEADER, &event.kind)
                .header(api::webhook::DELIVERY_HEADER, &event.id)
                .header(
                    api::webhook::SIGNATURE_HEADER,
                    api::webhook::sign(&hook.secret, now, &body),
                )
                .body(body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r)
                    if r.status().is_server_error() || matches!(r.status().as_u16(), 408 | 429) =>
                {
                    Err(format!("the receiver answered {}", r.status()))
                }
                Ok(r) => {
                    tracing::info!(drop = %d.id, status = r.status().as_u16(),
                        "webhook refused by its receiver: not sent again");
                    Ok(())
                }
                // The URL's reason, never the URL itself (it may hold a key).
                Err(e) => Err(format!("sending the webhook: {}", e.without_url())),
            }
        })
    }
}

/// `<`, `>` and `&` as Slack's mrkdwn wants them.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Whether `ip` is an address on the internet, not one of this network's
/// (nor a special-use one). IPv6 forms that carry an IPv4 address (mapped,
/// compatible, NAT64, 6to4) are judged by that address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let [o0, o1, o2, _] = a.octets();
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.is_multicast()
                || o0 == 0
                || o0 >= 240
                || (o0 == 100 && (64..128).contains(&o1))
                || (o0 == 192 && o1 == 0 && o2 == 0)
                || (o0 == 198 && (18..20).contains(&o1)))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            let embedded = |hi: u16, lo: u16| {
                IpAddr::V4(std::net::Ipv4Addr::new(
                    (hi >> 8) as u8,
                    hi as u8,
                    (lo >> 8) as u8,
                    lo as u8,
                ))
            };
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            // ::a.b.c.d (IPv4-compatible), 64:ff9b::/96 and 64:ff9b:1::/48
            // (NAT64): the IPv4 address is the last 32 bits.
            if s[..6] == [0; 6] && !a.is_loopback() && !a.is_unspecified()
                || s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                || s[..3] == [0x64, 0xff9b, 1]
            {
                return is_public(embedded(s[6], s[7]));
            }
            // 2002::/16 (6to4): the IPv4 address follows the prefix.
            if s[0] == 0x2002 {
                return is_public(embedded(s[1], s[2]));
            }
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xffc0) == 0xfec0)
        }
    }
}

/// A resolver that answers only a name's public addresses, and an error
/// when it has none.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} has no public address").into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_public;

    #[test]
    fn only_internet_addresses_are_public() {
        for ok in [
            "93.184.216.34",
            "2606:2800:220:1:248:1893:25c8:1946",
            "8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(is_public(ok.parse().unwrap()), "{ok}");
        }
        for no in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "fec0::1",
            "::10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::a00:1",
            "2002:a00:1::1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(no.parse().unwrap()), "{no}");
        }
    }
}
