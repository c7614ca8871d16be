//! The guard of a serverless deployment: it blocks, at the WAF in front
//! of CloudFront, client addresses that make an abnormal number of failed
//! requests in a minute. (The embedded server answers them 429 itself:
//! [`crate::abuse`].)
//!
//! The API function logs one JSON line per request (client address,
//! status, ...). A CloudWatch Logs subscription hands the guard function
//! the lines of failures; [`count`] adds them up per address and minute
//! in the database (the lines come in batches, to any instance), and an
//! address past `abuse_threshold` failures in a minute is blocked for
//! `abuse_cooldown` seconds. Only failures count, as for the 429: bad
//! tokens, wrong passwords, unknown ids (401, 403, 404), so no amount of
//! successful requests blocks anyone. [`release`], every minute, ends the
//! blocks that ran out. Either way the WAF's IP sets are then made to
//! hold exactly the addresses blocked now.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::aws::waf::IpSet;
use crate::repo::now_ms;
use crate::App;

/// One request, as the access log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub client: IpAddr,
    pub status: u16,
    /// Unix ms.
    pub at: i64,
}

/// The IP sets the guard manages: one per address family (WAF keeps
/// them apart).
pub struct IpSets {
    pub v4: IpSet,
    pub v6: Option<IpSet>,
}

impl IpSets {
    /// From `guard_ip_set_arn` and `guard_ip_set_v6_arn`.
    pub fn from_config(config: &crate::Config) -> anyhow::Result<IpSets> {
        use anyhow::Context;
        let arn = config.guard_ip_set_arn.as_deref().context(
            "the guard needs guard_ip_set_arn (DROPCAST_GUARD_IP_SET_ARN), the WAF IP set it \
             blocks addresses in",
        )?;
        let credentials = crate::aws::sigv4::Credentials::from_env()
            .context("the guard needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?;
        let endpoint = config.waf_endpoint.as_deref();
        let v4 = IpSet::new(arn, endpoint, credentials.clone()).map_err(anyhow::Error::msg)?;
        let v6 = config
            .guard_ip_set_v6_arn
            .as_deref()
            .map(|arn| IpSet::new(arn, endpoint, credentials))
            .transpose()
            .map_err(anyhow::Error::msg)?;
        Ok(IpSets { v4, v6 })
    }
}

/// What a run changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Guarded {
    /// Addresses blocked by this run.
    pub blocked: Vec<String>,
    /// Addresses whose block ran out.
    pub released: Vec<String>,
}

/// Counts the failures among `requests` and blocks the addresses past
/// the threshold.
pub async fn count(app: &App, sets: &IpSets, requests: &[Access]) -> anyhow::Result<Guarded> {
    let threshold = app.config.abuse_threshold as i64;
    let mut per_minute: BTreeMap<(IpAddr, i64), i64> = BTreeMap::new();
    for r in requests
        .iter()
        .filter(|r| crate::abuse::is_failure(r.status))
    {
        *per_minute.entry((r.client, r.at / 60_000)).or_default() += 1;
    }
    let mut done = Guarded::default();
    let until = now_ms() + app.config.abuse_cooldown as i64 * 1000;
    for ((client, minute), failures) in per_minute {
        let address = client.to_string();
        let total = app.repo.add_failures(&address, minute, failures).await?;
        if threshold > 0 && total > threshold && !done.blocked.contains(&address) {
            tracing::warn!(client = %address, failures = total,
                "guard: blocking an address that failed {total} times in a minute");
            app.repo.block_address(&address, until).await?;
            done.blocked.push(address);
        }
    }
    apply(app, sets).await?;
    Ok(done)
}

/// Ends the blocks that ran out.
pub async fn release(app: &App, sets: &IpSets) -> anyhow::Result<Guarded> {
    let now = now_ms();
    let mut released = app.repo.release_blocks(now, now / 60_000 - 60).await?;
    released.sort();
    for address in &released {
        tracing::info!(client = %address, "guard: the block ran out");
    }
    apply(app, sets).await?;
    Ok(Guarded {
        blocked: Vec::new(),
        released,
    })
}

/// Makes the IP sets hold exactly the addresses blocked now.
async fn apply(app: &App, sets: &IpSets) -> anyhow::Result<()> {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for address in app.repo.blocked_addresses(now_ms()).await? {
        match address.parse::<IpAddr>() {
            Ok(IpAddr::V4(a)) => v4.push(format!("{a}/32")),
            Ok(IpAddr::V6(a)) => v6.push(format!("{a}/128")),
            Err(_) => tracing::warn!(%address, "guard: not an address, ignored"),
        }
    }
    sets.v4.set(&v4).await?;
    match &sets.v6 {
        Some(set) => {
            set.set(&v6).await?;
        }
        None if !v6.is_empty() => {
            tracing::warn!("guard: IPv6 addresses to block but no guard_ip_set_v6_arn")
        }
        None => {}
    }
    Ok(())
}
