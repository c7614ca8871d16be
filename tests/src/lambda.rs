//! The API function on a Lambda runtime: cargo-lambda's emulator of the
//! Lambda runtime API (`cargo lambda watch --only-lambda-apis`, PyPI
//! `cargo-lambda`, installed by `cargo xtask test`) with the real
//! `dropcast-lambda-api` binary polling it, as on AWS. HTTP requests reach
//! it as API Gateway v2 events.
//!
//! The emulator has no payload limits, so a [`Tamper::guard`] in front of
//! it puts Lambda's 6 MB cap on every request and response: a design that
//! passes a drop's bytes through the function fails.

use crate::Tamper;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Lambda's cap on a synchronous invocation's request and response.
pub const LAMBDA_PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;

const NAME: &str = "dropcast-lambda-api";

pub struct LambdaApi {
    /// The function's public base URL, through the guard.
    pub url: String,
    pub guard: Tamper,
    function: Child,
    /// The other functions on the same emulator.
    others: Vec<Child>,
    emulator: Emulator,
}

/// cargo-lambda's emulator of the Lambda runtime API, serving the
/// functions it was started for.
pub struct Emulator {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Emulator {
    pub fn start(functions: &[&str]) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        // The emulator wants a Cargo project around it with a binary of
        // each function's name; it builds nothing.
        let bins: String = functions
            .iter()
            .map(|f| format!("[[bin]]\nname = \"{f}\"\npath = \"src/main.rs\"\n"))
            .collect();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            format!(
                "[package]\nname = \"{}\"\nversion = \"0.0.0\"\n{bins}",
                functions[0]
            ),
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/main.rs"), "fn main() {}\n").unwrap();
        let port = crate::free_port();
        let child = Command::new(crate::venv_tool("cargo-lambda", "cargo-lambda"))
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "-A",
                "127.0.0.1",
                "-P",
            ])
            .arg(port.to_string())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting cargo lambda watch");
        crate::wait_up_to(Duration::from_secs(30), "cargo lambda watch", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Emulator {
            port,
            child,
            _dir: dir,
        }
    }

    /// `bin` as function `name` polling this emulator, with the
    /// environment Lambda gives a function.
    pub fn function(&self, bin: &Path, name: &str) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env(
            "AWS_LAMBDA_RUNTIME_API",
            format!("http://127.0.0.1:{}/.rt/{name}", self.port),
        )
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test");
        cmd
    }

    /// The path of function `name`'s URL, `/lambda-url/{name}`.
    pub fn path(name: &str) -> String {
        format!("/lambda-url/{name}")
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LambdaApi {
    /// Starts the emulator and `bin` under it with `env` (its `DROPCAST_*`
    /// configuration; `DROPCAST_PUBLIC_URL` is set here).
    pub fn start(bin: &Path, env: &[(String, String)]) -> LambdaApi {
        LambdaApi::start_with_log(bin, env, Stdio::inherit())
    }

    /// [`LambdaApi::start`], the function's log (its stderr) going to `log`.
    /// It is up once it answers a request that needs no database.
    pub fn start_with_log(bin: &Path, env: &[(String, String)], log: Stdio) -> LambdaApi {
        LambdaApi::start_with_others(bin, env, log, &[])
    }

    /// [`LambdaApi::start_with_log`], with `others` (binary, function name)
    /// polling the same emulator with the same settings, for
    /// [`LambdaApi::invoke`].
    pub fn start_with_others(
        bin: &Path,
        env: &[(String, String)],
        log: Stdio,
        others: &[(&Path, &str)],
    ) -> LambdaApi {
        let mut names = vec![NAME];
        names.extend(others.iter().map(|(_, name)| *name));
        let emulator = Emulator::start(&names);
        let guard = Tamper::guard(emulator.port, LAMBDA_PAYLOAD_LIMIT);
        let url = format!("{}{}", guard.url(), Emulator::path(NAME));
        let function = emulator
            .function(bin, NAME)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("DROPCAST_PUBLIC_URL", &url)
            .env("DROPCAST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting the API function");
        let others = others
            .iter()
            .map(|(bin, name)| {
                emulator
                    .function(bin, name)
                    .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .env("DROPCAST_PUBLIC_URL", &url)
                    .env("DROPCAST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting function {name}: {e}"))
            })
            .collect();
        let api = LambdaApi {
            url,
            guard,
            function,
            others,
            emulator,
        };
        crate::wait_up_to(
            Duration::from_secs(30),
            "the API function to answer",
            || {
                crate::http_get(
                    api.guard.port,
                    &format!("{}/assets/dropcast.css", Emulator::path(NAME)),
                )
                .is_some_and(|(status, _)| status == 200)
            },
        );
        api
    }
}

impl LambdaApi {
    /// Invokes function `name` with `event`, as Lambda's Invoke does: the
    /// function's answer, or its error (`errorType` and `errorMessage`).
    pub fn invoke(
        &self,
        name: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let resp = reqwest::blocking::Client::new()
            .post(format!(
                "http://127.0.0.1:{}/2015-03-31/functions/{name}/invocations",
                self.emulator.port
            ))
            .timeout(Duration::from_secs(120))
            .json(event)
            .send()
            .unwrap_or_else(|e| panic!("invoking {name}: {e}"));
        let ok = resp.status().is_success();
        let text = resp.text().unwrap();
        let answer = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        if ok {
            Ok(answer)
        } else {
            Err(answer)
        }
    }

    /// Freezes the function (SIGSTOP): requests wait until [`thaw`].
    ///
    /// [`thaw`]: LambdaApi::thaw
    pub fn freeze(&self) {
        signal(self.function.id(), "-STOP");
    }

    pub fn thaw(&self) {
        signal(self.function.id(), "-CONT");
    }
}

fn signal(pid: u32, sig: &str) {
    let done = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(done.success(), "kill {sig} {pid}");
}

impl Drop for LambdaApi {
    fn drop(&mut self) {
        // The functions first; the emulator goes when its field drops.
        for f in std::iter::once(&mut self.function).chain(&mut self.others) {
            let _ = f.kill();
            let _ = f.wait();
        }
    }
}

/// The whole AWS-local stack: SeaweedFS as S3, PostgreSQL, and the API
/// function on them, with an owner account.
pub struct AwsLocal {
    pub api: LambdaApi,
    pub s3: crate::Seaweed,
    pub owner_token: String,
    /// The functions' settings.
    pub env: Vec<(String, String)>,
    _pg: crate::Postgres,
}

/// `dropcast-server --json ARGS` with the `DROPCAST_*` settings `env`
/// (an admin command on a stack's database): its JSON answer.
pub fn server_admin(env: &[(String, String)], args: &[&str]) -> serde_json::Value {
    let out = Command::new(crate::workspace_bin("dropcast-server"))
        .arg("--json")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dropcast-server {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

impl AwsLocal {
    /// Starts it all, the function being `function` (a
    /// `dropcast-lambda-api`) with `extra` `DROPCAST_*` settings.
    pub fn start(function: &Path, extra: &[(&str, &str)]) -> AwsLocal {
        AwsLocal::start_with_others(function, extra, &[], Stdio::inherit())
    }

    /// [`AwsLocal::start`], with the functions `others` (binary, name) on
    /// the same emulator and settings, the API function's log going to
    /// `log`.
    pub fn start_with_others(
        function: &Path,
        extra: &[(&str, &str)],
        others: &[(&Path, &str)],
        log: Stdio,
    ) -> AwsLocal {
        let s3 = crate::Seaweed::start();
        let pg = crate::Postgres::start();
        let mut env = s3.server_env();
        env.extend(pg.server_env());
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // The account, made as an operator would: the server's own admin
        // command on the same database.
        let made = server_admin(&env, &["user", "add", "owner"]);
        let owner_token = made["token"].as_str().unwrap().to_string();
        AwsLocal {
            api: LambdaApi::start_with_others(function, &env, log, others),
            s3,
            owner_token,
            env,
            _pg: pg,
        }
    }

    pub fn client(&self) -> dropcast_client::Client {
        dropcast_client::Client::new(&self.api.url, Some(self.owner_token.clone()))
    }

    pub fn anonymous(&self) -> dropcast_client::Client {
        dropcast_client::Client::new(&self.api.url, None)
    }
}
