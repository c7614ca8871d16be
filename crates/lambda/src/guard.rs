//! `dropcast-lambda-guard`: blocks, at the WAF, client addresses that
//! make an abnormal number of failed requests a minute
//! ([`dropcast_server::jobs::guard`]).
//!
//! Two kinds of event reach it:
//! - a CloudWatch Logs subscription's batch of the API function's access
//!   lines (`{"awslogs": {"data": base64 of gzip of JSON}}`), whose
//!   failures it counts;
//! - `{"job": "release"}`, every minute, which ends the blocks that ran
//!   out.

use std::io::Read;

use base64::Engine;
use dropcast_lambda::failure;
use dropcast_server::jobs::guard::{self, Access, IpSets};
use dropcast_server::App;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};

/// What CloudWatch Logs hands a subscribed function, once unpacked.
#[derive(serde::Deserialize)]
struct LogsData {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<LogEvent>,
}

#[derive(serde::Deserialize)]
struct LogEvent {
    timestamp: i64,
    message: String,
}

fn main() -> anyhow::Result<()> {
    dropcast_lambda::init_logging();
    let config = dropcast_lambda::config()?;
    let sets = IpSets::from_config(&config)?;
    dropcast_lambda::run(config, |app| async move {
        let (app, sets) = (&app, &sets);
        lambda_runtime::run(service_fn(move |e: LambdaEvent<serde_json::Value>| {
            dropcast_lambda::timed("guard", handle(app, sets, e.payload))
        }))
        .await
        .map_err(|e| anyhow::anyhow!("the Lambda runtime stopped: {e}"))
    })
}

async fn handle(
    app: &App,
    sets: &IpSets,
    event: serde_json::Value,
) -> Result<serde_json::Value, lambda_runtime::Error> {
    let done = if let Some(data) = event["awslogs"]["data"].as_str() {
        let logs = unpack(data).map_err(failure)?;
        if logs.message_type != "DATA_MESSAGE" {
            // CloudWatch's check that the subscription works.
            return Ok(serde_json::json!({ "ignored": logs.message_type }));
        }
        let requests: Vec<Access> = logs.log_events.iter().filter_map(access).collect();
        guard::count(app, sets, &requests).await
    } else if event["job"] == "release" {
        guard::release(app, sets).await
    } else {
        return Err(failure(
            "expected a CloudWatch Logs subscription's event or {\"job\": \"release\"}",
        ));
    };
    let done = done.map_err(|e| failure(format!("{e:#}")))?;
    Ok(serde_json::to_value(done)?)
}

/// base64, then gzip, then JSON.
fn unpack(data: &str) -> Result<LogsData, String> {
    let zipped = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("the log data is not base64: {e}"))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut json)
        .map_err(|e| format!("the log data is not gzip: {e}"))?;
    serde_json::from_slice(&json).map_err(|e| format!("the log data is not CloudWatch's JSON: {e}"))
}

/// One access line of the API function (a `request` line with a client
/// and a status) of a request without a valid token; anything else in the
/// log is not one. (A valid token's failures count against the token, in
/// the API function, never against the address other users share.)
fn access(event: &LogEvent) -> Option<Access> {
    let line: serde_json::Value = serde_json::from_str(&event.message).ok()?;
    let fields = &line["fields"];
    (fields["message"] == "request" && fields["signed_in"] != true).then_some(())?;
    Some(Access {
        client: fields["client"].as_str()?.parse().ok()?,
        status: u16::try_from(fields["status"].as_u64()?).ok()?,
        at: event.timestamp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_api_functions_anonymous_access_lines_and_nothing_else() {
        let line = |message: &str| LogEvent {
            timestamp: 120_000,
            message: message.into(),
        };
        let ok = line(
            r#"{"timestamp":"t","level":"INFO","fields":{"message":"request","request_id":"r","method":"GET","path":"/x","status":404,"latency_ms":1.5,"client":"203.0.113.9"},"target":"access"}"#,
        );
        assert_eq!(
            access(&ok),
            Some(Access {
                client: "203.0.113.9".parse().unwrap(),
                status: 404,
                at: 120_000
            })
        );
        for other in [
            r#"{"fields":{"message":"dropcast API function ready"}}"#,
            r#"{"fields":{"message":"request","status":404,"client":""}}"#,
            r#"{"fields":{"message":"request","status":404,"client":"203.0.113.9","signed_in":true}}"#,
            "START RequestId: abc Version: $LATEST",
        ] {
            assert_eq!(access(&line(other)), None, "{other}");
        }
    }
}
