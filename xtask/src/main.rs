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

/// Packages every build needs: a C toolchain (SQLite is compiled in) and pkg-config.
pub const BUILD_PACKAGES: &[&str] = &["build-essential", "pkg-config"];

fn run(args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
    sys::cargo(&["build", "--release", "-p", "dropcast-server"])?;
    let bin = sys::target_dir().join("release").join("dropcast-server");
    let bin = bin.to_str().ok_or("target dir is not UTF-8")?;
    // A fresh sign-in token each run (the owner account is made on first use).
    sys::run(bin, &["token", "create", "--name", "cargo xtask run"])?;
    let mut serve = vec!["serve"];
    serve.extend(args.iter().map(String::as_str));
    sys::run(bin, &serve)
}

fn test(_args: &[String]) -> Result<(), String> {
    sys::ensure_packages(BUILD_PACKAGES)?;
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
    sys::cargo(&["test", "--workspace"])
}
