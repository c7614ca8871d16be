//! A real browser for tests, driven through the W3C WebDriver HTTP API (a
//! handful of endpoints: new session, navigate, run a script, screenshot):
//! Debian's chromium, headless, through chromedriver; or the real Tauri
//! windows process through WebKitWebDriver.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::Running;

pub struct Browser {
    base: String,
    session: String,
    http: reqwest::blocking::Client,
    _driver: Running,
    _profile: tempfile::TempDir,
}

/// Where tests leave screenshots: `artifacts/` at the workspace root.
pub fn artifacts_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    /// Headless chromium through chromedriver.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--window-size=1280,900",
            "--autoplay-policy=no-user-gesture-required",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args},
        }}});
        let mut driver = Command::new("chromedriver");
        driver.stdout(Stdio::null()).stderr(Stdio::null());
        Self::connect(
            driver,
            "chromedriver is installed (package chromium-driver; cargo xtask test installs it)",
            caps,
            profile,
        )
    }

    /// A WebKitGTK app (our Tauri windows process) through WebKitWebDriver:
    /// it starts `binary args` with `env` and drives its first window.
    pub fn webkit_app(binary: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Browser {
        let mut driver = Command::new("WebKitWebDriver");
        driver
            // Tauri turns WebKit's automation on only when asked.
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            driver.env(k, v);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": binary, "args": args},
        }}});
        Self::connect(
            driver,
            "WebKitWebDriver is installed (package webkit2gtk-driver; cargo xtask test installs it)",
            caps,
            tempfile::tempdir().unwrap(),
        )
    }

    fn connect(
        mut driver: Command,
        missing: &str,
        caps: Value,
        profile: tempfile::TempDir,
    ) -> Browser {
        let port = crate::free_port();
        let driver = Running(
            driver
                .arg(format!("--port={port}"))
                .spawn()
                .unwrap_or_else(|e| panic!("{missing}: {e}")),
        );
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(Instant::now() < deadline, "the WebDriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no browser session: {answer}"))
            .to_string();
        Browser {
            base,
            session,
            http,
            _driver: driver,
            _profile: profile,
        }
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request.send().unwrap().json().unwrap();
        if answer["value"]["error"].is_string() {
            panic!("webdriver {path}: {}", answer["value"]);
        }
        answer["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }));
    }

    /// Runs `script` (a function body: `return ...`) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Polls `script` until it returns something truthy, for up to 15 s.
    pub fn wait_for(&self, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let v = self.eval(script);
            let truthy = match &v {
                Value::Null | Value::Bool(false) => false,
                Value::String(s) => !s.is_empty(),
                Value::Number(n) => n.as_f64() != Some(0.0),
                _ => true,
            };
            if truthy {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot of the window as `artifacts/{name}.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        use base64::Engine;
        let data = self.call(reqwest::Method::GET, "/screenshot", Value::Null);
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap())
            .unwrap();
        let path = artifacts_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send();
    }
}
