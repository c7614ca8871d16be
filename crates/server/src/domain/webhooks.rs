//! A user's webhook: where the server tells of their completed drops
//! (`jobs::webhooks` delivers). One per user, set with its URL and format;
//! the secret that signs deliveries is made here and shown once.

use dropcast_api as api;

use crate::error::{ApiError, ApiResult};
use crate::repo::{UserRow, WebhookRow};
use crate::App;

/// The longest URL taken.
const MAX_URL: usize = 2048;

/// Sets (or replaces, with a new secret) `user`'s webhook.
pub async fn set(app: &App, user: &UserRow, req: &api::SetWebhook) -> ApiResult<api::Webhook> {
    check_url(&req.url)?;
    let row = WebhookRow {
        user_id: user.id.clone(),
        url: req.url.clone(),
        format: format_name(req.format).into(),
        secret: crate::secrets::new_webhook_secret(),
    };
    app.repo.set_webhook(&row).await?;
    Ok(api::Webhook {
        url: row.url,
        format: req.format,
        secret: Some(row.secret),
    })
}

/// `user`'s webhook, without its secret.
pub async fn get(app: &App, user: &UserRow) -> ApiResult<api::Webhook> {
    let row = app.repo.webhook(&user.id).await?.ok_or_else(none)?;
    Ok(api::Webhook {
        url: row.url,
        format: parse_format(&row.format),
        secret: None,
    })
}

pub async fn remove(app: &App, user: &UserRow) -> ApiResult<()> {
    if app.repo.delete_webhook(&user.id).await? {
        Ok(())
    } else {
        Err(none())
    }
}

fn none() -> ApiError {
    ApiError::new(
        api::ErrorCode::NotFound,
        "no webhook is set: PUT /api/v1/me/webhook {\"url\": ...} sets one",
    )
}

pub fn format_name(f: api::WebhookFormat) -> &'static str {
    match f {
        api::WebhookFormat::Dropcast => "dropcast",
        api::WebhookFormat::Slack => "slack",
    }
}

pub fn parse_format(name: &str) -> api::WebhookFormat {
    match name {
        "slack" => api::WebhookFormat::Slack,
        _ => api::WebhookFormat::Dropcast,
    }
}

/// An `http(s)://host...` URL with no credentials in it. (Where it points
/// is checked at each delivery, when its name is resolved.)
fn check_url(url: &str) -> ApiResult<reqwest::Url> {
    let bad = |why: &str| ApiError::invalid(format!("webhook url {url:?}: {why}"));
    if url.len() > MAX_URL {
        return Err(bad("longer than 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(bad("must start with https:// (or http://)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("must not hold a user name or password"));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_plain_http_urls_with_a_host_and_no_credentials_are_taken() {
        for ok in [
            "https://hooks.slack.com/services/T/B/x",
            "http://example.com:8080/in",
        ] {
            assert!(super::check_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "example.com",
            "https://",
        ] {
            assert!(super::check_url(bad).is_err(), "{bad}");
        }
    }
}
