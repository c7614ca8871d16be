//! `cargo xtask fuzz [--seconds N] [TARGET...]`: every fuzz target of
//! `fuzz/` (each parser that takes bytes from outside) under cargo-fuzz
//! and libFuzzer, for a bounded time each, two at a time (one a core).
//! `cargo xtask test` runs each for 60 s; the nightly workflow longer.
//!
//! cargo-fuzz (crates.io, pinned) is installed into `target/xtask/cargo`.
//! It needs a nightly toolchain for its instrumentation: the one rustup
//! has, or else a clear error. Each target starts from its seed corpus
//! (`fuzz/seeds/TARGET`, read only) and grows a scratch one in
//! `target/fuzz/corpus/TARGET`; a crash is written to
//! `target/fuzz/artifacts/TARGET/` and fails the run, saying how to keep
//! it as a regression (`fuzz/regressions/TARGET/`, listed in its README, which the replay test
//! runs on stable in every test run).

use crate::sys;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const CARGO_FUZZ: (&str, &str) = ("cargo-fuzz", "0.13.2");

/// The nightly installed when rustup has none (the one the targets were
/// written against).
const NIGHTLY: &str = "nightly-2026-05-19";

/// Seconds each target runs when not told.
pub const DEFAULT_SECONDS: u64 = 60;

pub fn main(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--seconds" {
            // (0 would be no limit to libFuzzer.)
            seconds = rest
                .next()
                .and_then(|s| s.parse().ok())
                .filter(|s| *s > 0)
                .ok_or("--seconds takes a whole number of seconds, at least 1")?;
        } else {
            only.push(arg.clone());
        }
    }
    sys::ensure_packages(crate::BUILD_PACKAGES)?;
    run(seconds, &only)
}

/// The targets: one file each in `fuzz/fuzz_targets`.
fn targets(fuzz: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz.join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Builds every target (or those of `only`) and runs each `seconds`.
pub fn run(seconds: u64, only: &[String]) -> Result<(), String> {
    let root = sys::workspace_root();
    let fuzz = root.join("fuzz");
    let all = targets(&fuzz)?;
    if let Some(unknown) = only.iter().find(|t| !all.contains(t)) {
        return Err(format!(
            "no fuzz target {unknown}; there are: {}",
            all.join(", ")
        ));
    }
    let chosen: Vec<String> = if only.is_empty() { all } else { only.to_vec() };
    let cargo_fuzz = ensure_cargo_fuzz()?;
    let nightly = ensure_nightly()?;
    let scratch = sys::target_dir().join("fuzz");
    // Debug builds (with overflow checks), no sanitizer: the code under
    // test is safe Rust, so what is wanted is every panic and overflow;
    // and the build is a third of an optimised one's time.
    let build = Command::new(&cargo_fuzz)
        .current_dir(&root)
        .env("RUSTUP_TOOLCHAIN", &nightly)
        .args(["fuzz", "build", "--dev", "--sanitizer", "none"])
        .status()
        .map_err(|e| format!("cargo-fuzz: {e}"))?;
    if !build.success() {
        return Err(format!("building the fuzz targets failed ({build})"));
    }
    let mut failed = Vec::new();
    for pair in chosen.chunks(2) {
        let running: Vec<(String, Result<Child, String>)> = pair
            .iter()
            .map(|t| {
                let child = start(&cargo_fuzz, &nightly, &root, &scratch, t, seconds);
                (t.clone(), child)
            })
            .collect();
        for (target, child) in running {
            let ok = child
                .and_then(|mut c| c.wait().map_err(|e| e.to_string()))
                .map(|s| s.success());
            match ok {
                Ok(true) => eprintln!("xtask: fuzz target {target}: {seconds} s, no failure"),
                Ok(false) => failed.push(target),
                Err(e) => failed.push(format!("{target} ({e})")),
            }
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(format!(
        "fuzz targets failed: {}. Each failing input is in {}/TARGET/; fix the cause, \
         then copy the input into fuzz/regressions/TARGET/ (with a line in fuzz/regressions/README.md) so \
         that the replay test keeps it fixed",
        failed.join(", "),
        scratch.join("artifacts").display()
    ))
}

/// `cargo fuzz run TARGET` for `seconds`, from the seeds, in the background.
fn start(
    cargo_fuzz: &Path,
    nightly: &str,
    root: &Path,
    scratch: &Path,
    target: &str,
    seconds: u64,
) -> Result<Child, String> {
    let corpus = scratch.join("corpus").join(target);
    let artifacts = scratch.join("artifacts").join(target);
    for dir in [&corpus, &artifacts] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let seeds = root.join("fuzz/seeds").join(target);
    Command::new(cargo_fuzz)
        .current_dir(root)
        .env("RUSTUP_TOOLCHAIN", nightly)
        .args(["fuzz", "run", "--dev", "--sanitizer", "none", target])
        .arg(&corpus)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        // libFuzzer prints a status line a second otherwise.
        .arg("-print_final_stats=1")
        .arg("-verbosity=0")
        .spawn()
        .map_err(|e| format!("cargo-fuzz: {e}"))
}

/// cargo-fuzz, pinned, in `target/xtask/cargo/bin`.
fn ensure_cargo_fuzz() -> Result<PathBuf, String> {
    let root = sys::target_dir().join("xtask/cargo");
    let bin = root.join("bin/cargo-fuzz");
    let wanted = format!("{} {}", CARGO_FUZZ.0, CARGO_FUZZ.1);
    let installed = Command::new(&bin)
        .args(["fuzz", "--version"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    if installed == wanted {
        return Ok(bin);
    }
    eprintln!("xtask: installing {wanted} into {}", root.display());
    sys::cargo(&[
        "install",
        "--locked",
        "--quiet",
        "--root",
        &sys::path_str(&root)?,
        CARGO_FUZZ.0,
        "--version",
        CARGO_FUZZ.1,
    ])?;
    Ok(bin)
}

/// The nightly toolchain cargo-fuzz's instrumentation needs: a nightly
/// rustup already has, else [`NIGHTLY`] installed through rustup.
fn ensure_nightly() -> Result<String, String> {
    let listed = sys::output("rustup", &["toolchain", "list"])?;
    if let Some(name) = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .find(|name| name.starts_with("nightly"))
    {
        return Ok(name.to_string());
    }
    eprintln!("xtask: installing the Rust toolchain {NIGHTLY} (for cargo-fuzz)");
    sys::run(
        "rustup",
        &["toolchain", "install", NIGHTLY, "--profile", "minimal"],
    )
    .map_err(|e| {
        format!(
            "{e}\nfuzzing needs a nightly toolchain (cargo-fuzz's instrumentation is \
             unstable): install one with `rustup toolchain install {NIGHTLY} --profile minimal`"
        )
    })?;
    Ok(NIGHTLY.to_string())
}
