//! `cargo xtask run|test|bench`: the project's entry points.
//!
//! Each command first installs the Debian/Ubuntu packages it needs when they
//! are missing (apt-get, as root or through sudo), then builds and runs.
//! Plain std only, so it compiles in seconds.

mod bench;
mod sys;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>
  run            start the drop server on the embedded defaults, print its URL and a token
                 (and sign the `dropcast` CLI in to it)
  test           format check, clippy, and every test in the workspace
  bench [NAME]   benchmarks against peer tools (NAME: server; default all)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(&args[1..]),
        Some("bench") => bench::main(&args[1..]),
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
    // A tray host (StatusNotifierItem) with its own watcher, for the tray
    // app's tests.
    "haskell-gtk-sni-tray-utils",
];

fn run(args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    let release = sys::build_release(&["dropcast-server", "dropcast"])?;
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
    // Sign the CLI in, so `dropcast upload FILE` works right away.
    let login = sys::run_with_stdin(
        &sys::bin_path(&release, "dropcast")?,
        &["login", "--server", &url, "--token-stdin"],
        &token,
    );
    if let Err(e) = login {
        eprintln!("xtask: the dropcast CLI is not signed in ({e}); see its message above");
    }
    let mut serve = vec!["serve"];
    serve.extend(args.iter().map(String::as_str));
    sys::run(server, &serve)
}

/// The string value of `"key":"..."` in a flat JSON object.
fn json_string(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let end = start + json[start..].find('"')?;
    Some(json[start..end].to_string())
}

fn test(_args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    sys::ensure_packages(TEST_PACKAGES)?;
    sys::ensure_rust_components(&["rustfmt", "clippy"])?;
    sys::cargo(&["fmt", "--all", "--", "--check"])
        .map_err(|e| format!("{e}\nrun `cargo fmt --all` to fix the formatting"))?;
    sys::cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // End-to-end tests run the workspace's binaries: build them first.
    sys::cargo(&["build", "--workspace", "--bins"])?;
    sys::cargo(&["test", "--workspace"])
}
