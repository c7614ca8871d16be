//! moto's server as the SNS and SQS of the tests (and WAFv2): `moto_server`
//! on loopback, from PyPI `moto[server]`, installed by `cargo xtask test`.
//! Only for these services: it checks no S3 signatures, so S3 is
//! SeaweedFS.
//!
//! Each test makes topics and queues of its own names, so one moto serves
//! the whole run (`dropcast-test-stack`, named in [`SHARED_ENV`]); a test
//! run by hand starts its own. moto tells services apart by the
//! credential scope of a request's `Authorization` header, which is all
//! the kit sends of one (moto checks no signature).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The port of the run's moto, set by `cargo xtask test`.
pub const SHARED_ENV: &str = "TESTKIT_MOTO";

/// moto's account.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub struct Moto {
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
    pub port: u16,
    own: Option<Child>,
}

impl Moto {
    /// The run's moto, or one of its own outside `cargo xtask test`.
    pub fn start() -> Moto {
        match std::env::var(SHARED_ENV) {
            Ok(port) => {
                let port: u16 = port.parse().expect("TESTKIT_MOTO is a port");
                Moto {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    port,
                    own: None,
                }
            }
            Err(_) => Moto::start_own(),
        }
    }

    pub fn start_own() -> Moto {
        let port = crate::free_port();
        let child = Command::new(crate::venv_tool("moto_server", "moto[server]"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting moto_server");
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            own: Some(child),
        };
        crate::wait_up_to(Duration::from_secs(60), "moto_server to answer", || {
            crate::http_get(port, "/").is_some()
        });
        moto
    }

    pub fn shared_env(&self) -> String {
        self.port.to_string()
    }

    /// A call in AWS's query protocol to `service`: its XML answer.
    pub fn query(&self, service: &str, version: &str, params: &[(&str, &str)]) -> String {
        let mut form: Vec<(&str, &str)> = vec![("Version", version)];
        form.extend_from_slice(params);
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/", self.endpoint))
            .header("authorization", authorization(service))
            .form(&form)
            .send()
            .unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(
            status.is_success(),
            "moto {service} {params:?}: {status} {text}"
        );
        text
    }

    /// A call in AWS's JSON protocol (WAFv2): its JSON answer.
    pub fn json(&self, service: &str, target: &str, body: serde_json::Value) -> serde_json::Value {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/", self.endpoint))
            .header("authorization", authorization(service))
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target)
            .body(body.to_string())
            .send()
            .unwrap();
        let status = resp.status();
        let text = resp.text().unwrap();
        assert!(status.is_success(), "moto {target}: {status} {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Makes an SNS topic; its ARN.
    pub fn create_topic(&self, name: &str) -> String {
        let answer = self.query(
            "sns",
            "2010-03-31",
            &[("Action", "CreateTopic"), ("Name", name)],
        );
        xml_text(&answer, "TopicArn").expect("CreateTopic answers the ARN")
    }

    /// An SQS queue subscribed to `topic_arn`: its URL.
    pub fn queue_on(&self, topic_arn: &str, name: &str) -> String {
        let made = self.query(
            "sqs",
            "2012-11-05",
            &[("Action", "CreateQueue"), ("QueueName", name)],
        );
        let url = xml_text(&made, "QueueUrl").expect("CreateQueue answers the URL");
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
        self.query(
            "sns",
            "2010-03-31",
            &[
                ("Action", "Subscribe"),
                ("TopicArn", topic_arn),
                ("Protocol", "sqs"),
                ("Endpoint", &arn),
            ],
        );
        url
    }

    /// The bodies of the messages waiting in `queue_url` (deleting them),
    /// waiting up to `wait` for the first.
    pub fn receive(&self, queue_url: &str, wait: Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + wait;
        loop {
            let answer = self.query(
                "sqs",
                "2012-11-05",
                &[
                    ("Action", "ReceiveMessage"),
                    ("QueueUrl", queue_url),
                    ("MaxNumberOfMessages", "10"),
                ],
            );
            let bodies = xml_all(&answer, "Body");
            for handle in xml_all(&answer, "ReceiptHandle") {
                self.query(
                    "sqs",
                    "2012-11-05",
                    &[
                        ("Action", "DeleteMessage"),
                        ("QueueUrl", queue_url),
                        ("ReceiptHandle", &handle),
                    ],
                );
            }
            if !bodies.is_empty() || std::time::Instant::now() > deadline {
                return bodies;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.own {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An `Authorization` header that names `service` in its scope.
fn authorization(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=testing/20260101/{REGION}/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

fn xml_all(doc: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find(&open) {
        let inner = &rest[start + open.len()..];
        let Some(end) = inner.find(&close) else { break };
        out.push(
            inner[..end]
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&#39;", "'")
                .replace("&apos;", "'")
                .replace("&amp;", "&"),
        );
        rest = &inner[end + close.len()..];
    }
    out
}

fn xml_text(doc: &str, tag: &str) -> Option<String> {
    xml_all(doc, tag).into_iter().next()
}
