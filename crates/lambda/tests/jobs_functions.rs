//! The `events`, `cleanup` and `guard` functions on the AWS-local stack:
//! the real binaries under cargo-lambda's emulator beside the API
//! function, SeaweedFS as S3, PostgreSQL, and moto as SNS, SQS and WAFv2.
//! Events reach the `events` function as a real SNS message: the one SNS
//! delivered to an SQS queue the test subscribed to the topic.

use dropcast_server::aws::sigv4::Credentials;
use dropcast_server::blobs::s3::{S3Config, S3};
use dropcast_tests::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

const EVENTS: &str = "dropcast-lambda-events";
const CLEANUP: &str = "dropcast-lambda-cleanup";
const GUARD: &str = "dropcast-lambda-guard";

struct Stack {
    st: AwsLocal,
    moto: Moto,
    /// The queue subscribed to the `drop.completed` topic.
    completed: String,
    /// The guard's WAF IP set: (ARN, name, id).
    ip_set: (String, String, String),
}

/// The stack with events on SNS topics of this test's own.
fn stack(extra: &[(&str, &str)]) -> Stack {
    stack_logged(extra, std::process::Stdio::inherit())
}

/// [`stack`], the API function's log going to `log`.
fn stack_logged(extra: &[(&str, &str)], log: std::process::Stdio) -> Stack {
    let moto = Moto::start();
    let prefix = unique_name("dc");
    let made = moto.json(
        "wafv2",
        "AWSWAF_20190729.CreateIPSet",
        json!({"Name": format!("{prefix}-blocked"), "Scope": "CLOUDFRONT",
               "IPAddressVersion": "IPV4", "Addresses": []}),
    );
    let summary = &made["Summary"];
    let ip_set = [&summary["ARN"], &summary["Name"], &summary["Id"]]
        .map(|v| v.as_str().unwrap().to_string());
    let topics: Vec<String> = dropcast_server::repo::EVENT_KINDS
        .iter()
        .map(|kind| moto.create_topic(&format!("{prefix}-{}", kind.replace('.', "-"))))
        .collect();
    let completed = moto.queue_on(&topics[1], &format!("{prefix}-completed"));
    let topic_prefix = format!("arn:aws:sns:{}:{}:{prefix}-", moto::REGION, moto::ACCOUNT);
    let mut settings = vec![
        ("DROPCAST_SNS_TOPIC_PREFIX", topic_prefix.as_str()),
        ("DROPCAST_SNS_ENDPOINT", moto.endpoint.as_str()),
        ("DROPCAST_GUARD_IP_SET_ARN", ip_set[0].as_str()),
        ("DROPCAST_WAF_ENDPOINT", moto.endpoint.as_str()),
    ];
    settings.extend_from_slice(extra);
    let st = AwsLocal::start_with_others(
        Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-api")),
        &settings,
        &[
            (
                Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-events")),
                EVENTS,
            ),
            (
                Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-cleanup")),
                CLEANUP,
            ),
            (
                Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-guard")),
                GUARD,
            ),
        ],
        log,
    );
    let [arn, name, id] = ip_set;
    Stack {
        st,
        moto,
        completed,
        ip_set: (arn, name, id),
    }
}

/// Lambda's SNS event for one message SNS delivered to SQS (its envelope).
fn sns_event(envelope: &str) -> Value {
    let m: Value = serde_json::from_str(envelope).unwrap();
    json!({ "Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{}:subscription", m["TopicArn"].as_str().unwrap()),
        "Sns": {
            "Type": m["Type"], "MessageId": m["MessageId"], "TopicArn": m["TopicArn"],
            "Subject": m["Subject"], "Message": m["Message"], "Timestamp": m["Timestamp"],
            "SignatureVersion": m["SignatureVersion"], "Signature": m["Signature"],
            "SigningCertUrl": m["SigningCertURL"], "UnsubscribeUrl": m["UnsubscribeURL"],
            "MessageAttributes": m["MessageAttributes"],
        }
    }]})
}

/// The S3 client the server uses, on the test's bucket, for what a test
/// does behind the server's back.
fn s3(st: &AwsLocal) -> S3 {
    S3::new(
        S3Config {
            endpoint: st.s3.endpoint.clone(),
            bucket: st.s3.bucket.clone(),
            region: "us-east-1".into(),
            path_style: true,
            batch_delete: true,
        },
        Credentials {
            access_key: seaweed::ACCESS_KEY.into(),
            secret_key: seaweed::SECRET_KEY.into(),
            session_token: None,
        },
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completed_drop_is_published_and_its_message_makes_one_thumbnail_and_one_webhook_call_however_often_it_comes(
) {
    let Stack {
        st,
        moto,
        completed,
        ..
    } = tokio::task::block_in_place(|| stack(&[("DROPCAST_WEBHOOK_PRIVATE_ADDRESSES", "true")]));
    let c = st.client();
    let hook = Receiver::start();
    c.set_webhook(&dropcast_api::SetWebhook {
        url: hook.url.clone(),
        format: dropcast_api::WebhookFormat::Dropcast,
    })
    .await
    .unwrap();
    let d = share_bytes(&c, new_drop("shot.png", None), &png(300, 200)).await;
    // The API function published the event before it answered, and ran no
    // handler itself: the thumbnail is the events function's job.
    let messages =
        tokio::task::block_in_place(|| moto.receive(&completed, Duration::from_secs(10)));
    assert_eq!(
        messages.len(),
        1,
        "one drop.completed message: {messages:?}"
    );
    let envelope: Value = serde_json::from_str(&messages[0]).unwrap();
    let event: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(event["kind"], "drop.completed");
    assert_eq!(event["drop_id"], d.id.as_str());
    assert_eq!(
        envelope["MessageAttributes"]["kind"]["Value"],
        "drop.completed"
    );
    assert!(st.s3.keys_under("thumbnails/").keys().is_empty());

    let sns = sns_event(&messages[0]);
    let first = tokio::task::block_in_place(|| st.api.invoke(EVENTS, &sns)).unwrap();
    assert_eq!(first["handled"], json!([event["id"]]));
    let thumb = format!("thumbnails/{}.png", d.id);
    let written = st.s3.written_under("thumbnails/");
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].0, thumb);

    let calls = hook.received();
    assert_eq!(calls.len(), 1, "one webhook call: {calls:?}");
    assert_eq!(calls[0].header("dropcast-delivery"), event["id"].as_str());

    // SNS delivers at least once: the same message again, a second later,
    // runs no handler again (the thumbnail is not written again, the
    // webhook not called again).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = tokio::task::block_in_place(|| st.api.invoke(EVENTS, &sns)).unwrap();
    assert_eq!(again["handled"], json!([event["id"]]));
    assert_eq!(st.s3.written_under("thumbnails/"), written);
    assert_eq!(hook.received().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_handler_that_keeps_failing_fails_the_invocation_for_lambdas_retries_and_dead_letters() {
    let Stack {
        st,
        moto,
        completed,
        ..
    } = tokio::task::block_in_place(|| stack(&[]));
    let c = st.client();
    let d = share_bytes(&c, new_drop("shot.png", None), &png(64, 64)).await;
    let messages =
        tokio::task::block_in_place(|| moto.receive(&completed, Duration::from_secs(10)));
    assert_eq!(messages.len(), 1);
    // The bytes vanish from the store: the thumbnailer cannot read them.
    s3(&st).delete(&format!("drops/{}", d.id)).await.unwrap();
    let sns = sns_event(&messages[0]);
    for _ in 0..2 {
        let failed = tokio::task::block_in_place(|| st.api.invoke(EVENTS, &sns)).unwrap_err();
        let message = failed["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("thumbnail"), "{failed}");
    }
    // A message that is no Dropcast event fails too, saying what it got.
    let mut junk = sns.clone();
    junk["Records"][0]["Sns"]["Message"] = json!("hello");
    let failed = tokio::task::block_in_place(|| st.api.invoke(EVENTS, &junk)).unwrap_err();
    assert!(
        failed["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("not a Dropcast event")),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cleanup_function_deletes_exactly_the_expired_and_aborts_the_stale_and_the_abandoned() {
    let Stack { st, .. } = tokio::task::block_in_place(|| {
        stack(&[
            ("DROPCAST_STALE_UPLOAD_AGE", "2"),
            ("DROPCAST_SWEEP_GRACE", "0"),
        ])
    });
    let c = st.client();
    let store = s3(&st);
    let live = share_bytes(&c, new_drop("live.bin", None), &bytes(1000, 1)).await;
    let mut short = new_drop("short.bin", None);
    short.expires_at = Some(time::OffsetDateTime::now_utc() + Duration::from_secs(1));
    let expiring = share_bytes(&c, short, &bytes(1000, 2)).await;
    // An upload begun and never finished, and one the store holds for no
    // drop at all (its row never written).
    let stale = c
        .create_drop(&new_drop("stale.bin", Some(10 << 20)))
        .await
        .unwrap();
    let abandoned = store.begin("drops/ghost").await.unwrap();
    assert_eq!(st.s3.open_uploads().keys().len(), 2);
    tokio::time::sleep(Duration::from_millis(2500)).await;

    // The 10-minute schedule's event, its input replacing the event.
    let done =
        tokio::task::block_in_place(|| st.api.invoke(CLEANUP, &json!({"job": "expire"}))).unwrap();
    assert_eq!(
        done["cleaned"],
        json!({"expired": 1, "stale": 1, "abandoned_uploads": 1}),
        "{done}"
    );
    assert_eq!(st.s3.open_uploads().keys(), Vec::<String>::new());
    assert_eq!(st.s3.objects().keys(), vec![format!("drops/{}", live.id)]);
    assert!(c.drop_info(&live.id).await.is_ok());
    for gone in [&expiring.id, &stale.id] {
        assert_eq!(code(c.drop_info(gone).await.unwrap_err()).0, 404);
    }
    drop(abandoned);

    // The weekly sweep: an object no row names goes, and so does a drop
    // whose bytes are gone; the live drop stays.
    let other = share_bytes(&c, new_drop("other.bin", None), &bytes(1000, 3)).await;
    store.delete(&format!("drops/{}", other.id)).await.unwrap();
    store
        .put(
            "drops/orphan",
            "application/octet-stream",
            b"x".to_vec(),
            None,
        )
        .await
        .unwrap();
    let swept =
        tokio::task::block_in_place(|| st.api.invoke(CLEANUP, &json!({"job": "sweep"}))).unwrap();
    assert_eq!(
        swept["swept"],
        json!({"orphans": 1, "missing": 1}),
        "{swept}"
    );
    assert_eq!(st.s3.objects().keys(), vec![format!("drops/{}", live.id)]);
    assert_eq!(code(c.drop_info(&other.id).await.unwrap_err()).0, 404);
    assert!(c.drop_info(&live.id).await.is_ok());

    // An unknown job is refused with what to name.
    let refused = tokio::task::block_in_place(|| st.api.invoke(CLEANUP, &json!({"job": "nope"})))
        .unwrap_err();
    assert!(refused["errorMessage"]
        .as_str()
        .unwrap()
        .contains("`expire` or `sweep`"));
}

/// A CloudWatch Logs subscription's event holding `lines`, logged at `at`.
fn logs_event(lines: &[String], at: i64) -> Value {
    use base64::Engine;
    use std::io::Write;
    let events: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": i.to_string(), "timestamp": at, "message": m}))
        .collect();
    let data = json!({
        "messageType": "DATA_MESSAGE", "owner": moto::ACCOUNT,
        "logGroup": "/aws/lambda/dropcast-test-api", "logStream": "s",
        "subscriptionFilters": ["failures"], "logEvents": events,
    });
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data.to_string().as_bytes()).unwrap();
    let zipped = gz.finish().unwrap();
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(zipped)}})
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guard_blocks_exactly_the_address_that_fails_too_often_then_lets_it_go() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let Stack {
        st, moto, ip_set, ..
    } = tokio::task::block_in_place(|| {
        stack_logged(
            &[
                ("DROPCAST_ABUSE_THRESHOLD", "100"),
                ("DROPCAST_ABUSE_COOLDOWN", "2"),
            ],
            log.reopen().unwrap().into(),
        )
    });
    // The API function's own access line for a failed request: the guard
    // reads these.
    let missing = reqwest::get(format!("{}/api/v1/drops/nosuchdrop", st.api.url))
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
    let mut line = String::new();
    wait_until("the API function's access line", || {
        let text = std::fs::read_to_string(log.path()).unwrap();
        match text
            .lines()
            .find(|l| l.contains(r#""message":"request""#) && l.contains("401"))
        {
            Some(l) => {
                line = l.to_string();
                true
            }
            None => false,
        }
    });
    let real: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(real["fields"]["route"], "/api/v1/drops/{id}", "{line}");
    // The request's figures for CloudWatch, as an Embedded Metric Format line.
    let text = std::fs::read_to_string(log.path()).unwrap();
    let emf: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["_aws"].is_object() && l["route"] == "/api/v1/drops/{id}")
        .unwrap_or_else(|| panic!("no EMF line in\n{text}"));
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Dropcast");
    assert_eq!(
        (emf["status"].clone(), emf["requests"].clone()),
        (json!(401), json!(1))
    );
    assert_eq!(real["fields"]["path"], "/api/v1/drops/nosuchdrop", "{line}");
    assert!(
        !line.contains("authorization") && !line.contains('?'),
        "{line}"
    );
    // The same line from other clients, with other answers.
    let from = |client: &str, status: u16| {
        let mut l = real.clone();
        l["fields"]["client"] = json!(client);
        l["fields"]["status"] = json!(status);
        l.to_string()
    };
    let mut sample = Vec::new();
    for i in 0..200 {
        sample.push(from("203.0.113.9", [401, 403, 404][i % 3]));
        sample.push(from("198.51.100.7", 200));
        sample.push(from("198.51.100.8", 302));
        sample.push(from("198.51.100.9", 206));
    }
    sample.extend((0..60).map(|_| from("198.51.100.1", 404)));
    sample.extend((0..50).map(|i| from(&format!("192.0.2.{i}"), 404)));
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let ips = |moto: &Moto| {
        let (_, name, id) = &ip_set;
        let got = moto.json(
            "wafv2",
            "AWSWAF_20190729.GetIPSet",
            json!({"Name": name, "Scope": "CLOUDFRONT", "Id": id}),
        );
        got["IPSet"]["Addresses"].clone()
    };
    let done =
        tokio::task::block_in_place(|| st.api.invoke(GUARD, &logs_event(&sample, now))).unwrap();
    assert_eq!(done, json!({"blocked": ["203.0.113.9"], "released": []}));
    assert_eq!(
        tokio::task::block_in_place(|| ips(&moto)),
        json!(["203.0.113.9/32"])
    );
    // Counts add up across batches: 60 + 60 in the same minute is over.
    let more: Vec<String> = (0..60).map(|_| from("198.51.100.1", 404)).collect();
    let done =
        tokio::task::block_in_place(|| st.api.invoke(GUARD, &logs_event(&more, now))).unwrap();
    assert_eq!(done["blocked"], json!(["198.51.100.1"]));
    assert_eq!(
        tokio::task::block_in_place(|| ips(&moto)),
        json!(["198.51.100.1/32", "203.0.113.9/32"])
    );
    // After the cooldown, the minute's schedule lets them go.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let done =
        tokio::task::block_in_place(|| st.api.invoke(GUARD, &json!({"job": "release"}))).unwrap();
    assert_eq!(done["released"], json!(["198.51.100.1", "203.0.113.9"]));
    assert_eq!(tokio::task::block_in_place(|| ips(&moto)), json!([]));
}
