//! Test kit: runs the real `dropcast-server` (and other binaries) on
//! loopback with their own data dirs, for tests that talk to them over real
//! HTTP. Used by the server's tests and by the end-to-end tests in `tests/`.

use dropcast_api as api;
use dropcast_client::Client;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Server {
    pub bin: PathBuf,
    pub url: String,
    pub port: u16,
    pub data: tempfile::TempDir,
    pub owner_token: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A binary of this workspace, built next to the running test
/// (`cargo build --bins` first; `cargo xtask test` does).
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> -> target/<profile>/<name>
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test runs from target/*/deps");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build the binaries first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}

impl Server {
    /// Starts `bin` (a dropcast-server) with extra `DROPCAST_*` settings.
    pub fn start(bin: &Path, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            bin: bin.to_path_buf(),
            url: String::new(),
            port: free_port(),
            data: tempfile::tempdir().unwrap(),
            owner_token: String::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        let first = s.spawn();
        s.owner_token = first["token"]
            .as_str()
            .expect("first run prints a token")
            .into();
        s
    }

    fn spawn(&mut self) -> serde_json::Value {
        let mut cmd = Command::new(&self.bin);
        cmd.args(["--data-dir"])
            .arg(self.data.path())
            .args(["--json", "serve", "--bind"])
            .arg(format!("127.0.0.1:{}", self.port))
            .env("DROPCAST_FSYNC", "false")
            .env("DROPCAST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("starting dropcast-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("server printed {line:?}: {e}"));
        self.url = info["url"].as_str().unwrap().to_string();
        self.child = Some(child);
        info
    }

    /// Kills the server with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Starts it again on the same port and data dir.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url, Some(self.owner_token.clone()))
    }

    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None)
    }

    /// Runs a `dropcast-server` admin command on this data dir.
    pub fn admin(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--data-dir")
            .arg(self.data.path())
            .arg("--json")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                input.write_all(s.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "dropcast-server {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Adds a user and returns a client signed in as them.
    pub fn new_user(&self, name: &str) -> Client {
        let out = self.admin(&["user", "add", name], None);
        Client::new(&self.url, Some(out["token"].as_str().unwrap().into()))
    }

    pub fn objects(&self) -> PathBuf {
        self.data.path().join("objects")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

pub fn new_drop(name: &str, size: Option<u64>) -> api::CreateDrop {
    api::CreateDrop {
        name: name.into(),
        size,
        ..Default::default()
    }
}

/// Writes `data` to a temp file and returns it.
pub fn temp_file(data: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut f, data).unwrap();
    f
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub async fn get_bytes(client: &Client, url: &str) -> Vec<u8> {
    client
        .get(url)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

pub fn code(e: dropcast_client::Error) -> (u16, api::ErrorCode, Vec<u32>) {
    match e {
        dropcast_client::Error::Api {
            status,
            code,
            parts,
            ..
        } => (status, code, parts),
        other => panic!("expected an API error, got {other}"),
    }
}

pub const MIB: usize = 1024 * 1024;

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("timed out waiting for {what}");
}

/// A private X server (Xvfb) for tests that need a display.
pub struct Xvfb {
    pub display: String,
    child: Child,
}

impl Xvfb {
    pub fn start(width: u32, height: u32) -> Xvfb {
        // A display number no one else uses: the pid spreads parallel tests.
        let base = 100 + (std::process::id() % 400) * 2;
        for n in (base..base + 200).chain(100..base) {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists() {
                continue;
            }
            let mut child = Command::new("Xvfb")
                .arg(format!(":{n}"))
                .args(["-nolisten", "tcp", "-screen", "0"])
                .arg(format!("{width}x{height}x24"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("Xvfb is installed (cargo xtask test installs it)");
            let socket = format!("/tmp/.X11-unix/X{n}");
            for _ in 0..200 {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // lost the race for this number
                }
                if Path::new(&socket).exists() {
                    return Xvfb {
                        display: format!(":{n}"),
                        child,
                    };
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("could not start Xvfb on any display");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
