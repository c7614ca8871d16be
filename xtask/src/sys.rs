//! Running commands and installing system packages.

use std::path::PathBuf;
use std::process::Command;

/// Runs a program, inheriting stdio; an error when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    run_with_env(program, args, &[])
}

/// [`run`], with `env` added to the environment.
pub fn run_with_env(program: &str, args: &[&str], env: &[(String, String)]) -> Result<(), String> {
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// Runs a program and returns what it printed on stdout.
pub fn output(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} {}` failed ({})",
            args.join(" "),
            out.status
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program with `input` on its stdin.
pub fn run_with_stdin(program: &str, args: &[&str], input: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .map_err(|e| e.to_string())?;
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}

/// The cargo that runs xtask.
pub fn cargo_program() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub fn cargo(args: &[&str]) -> Result<(), String> {
    run(&cargo_program(), args)
}

/// The workspace root (xtask lives one level below it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// Builds these packages in release mode; returns where their binaries are.
pub fn build_release(packages: &[&str]) -> Result<PathBuf, String> {
    let mut args = vec!["build", "--release"];
    for p in packages {
        args.extend(["-p", p]);
    }
    cargo(&args)?;
    Ok(target_dir().join("release"))
}

/// A path as a string, for passing on a command line.
pub fn path_str(path: &std::path::Path) -> Result<String, String> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

/// The path of a binary as a string, for passing on a command line.
pub fn bin_path(dir: &std::path::Path, name: &str) -> Result<String, String> {
    path_str(&dir.join(name))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_absolute() {
                p
            } else {
                workspace_root().join(p)
            }
        })
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Whether this is a Debian or Ubuntu system (dpkg is there).
pub fn is_debian() -> bool {
    Command::new("dpkg-query").arg("--version").output().is_ok()
}

/// Installs the Debian packages that are missing, with apt-get.
pub fn ensure_packages(packages: &[&str]) -> Result<(), String> {
    if !is_debian() {
        eprintln!("xtask: not a Debian/Ubuntu system; make sure these are installed: {packages:?}");
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !is_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    let sudo: &[&str] = if is_root() { &[] } else { &["sudo"] };
    let apt = |args: &[&str]| {
        let mut all: Vec<&str> = sudo.to_vec();
        all.push("apt-get");
        all.extend_from_slice(args);
        let (program, rest) = all.split_first().unwrap();
        Command::new(program)
            .args(rest)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("cannot run apt-get: {e}"))
            .and_then(|s| {
                if s.success() {
                    Ok(())
                } else {
                    Err(format!("apt-get {} failed", args.join(" ")))
                }
            })
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args).map_err(|e| {
        format!(
            "{e}; install these packages by hand and try again: {}",
            missing.join(" ")
        )
    })
}

/// Makes sure rustup components (rustfmt, clippy) are there.
pub fn ensure_rust_components(components: &[&str]) -> Result<(), String> {
    for c in components {
        let probe = match *c {
            "rustfmt" => ["fmt", "--version"],
            "clippy" => ["clippy", "--version"],
            other => return Err(format!("unknown component {other}")),
        };
        let ok = Command::new(cargo_program())
            .args(probe)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if !ok {
            run("rustup", &["component", "add", c])?;
        }
    }
    Ok(())
}

/// A Rust target's standard library, through rustup when missing.
pub fn ensure_rust_target(target: &str) -> Result<(), String> {
    let installed = output("rustup", &["target", "list", "--installed"])?;
    if !installed.lines().any(|l| l.trim() == target) {
        run("rustup", &["target", "add", target])?;
    }
    Ok(())
}

/// Node.js 20.19 or newer (Vite 8 needs it) with npm; Debian's package
/// when none is there.
pub fn ensure_node() -> Result<(), String> {
    if Command::new("node").arg("--version").output().is_err() {
        ensure_packages(&["nodejs", "npm"])?;
    }
    let version = output("node", &["--version"])?;
    let numbers: Vec<u32> = version
        .trim()
        .trim_start_matches('v')
        .split('.')
        .filter_map(|n| n.parse().ok())
        .collect();
    if numbers.as_slice() < [20, 19].as_slice() {
        return Err(format!(
            "node {} is too old for the UI build: install Node.js 20.19 or newer \
             (e.g. from nodesource.com) and run again",
            version.trim()
        ));
    }
    Ok(())
}

/// Runs npm in `ui/`.
pub fn npm(args: &[&str]) -> Result<(), String> {
    npm_in(&workspace_root().join("ui"), args)
}

/// `npm ARGS` in `dir`.
pub fn npm_in(dir: &std::path::Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new("npm")
        .args(args)
        .current_dir(dir)
        // Playwright drives Debian's chromium: it downloads no browser.
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .status()
        .map_err(|e| format!("npm: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "npm {} failed in {} ({status})",
            args.join(" "),
            dir.display()
        ))
    }
}

/// `npm ci` in `dir` when its lock file is newer than what is installed.
pub fn npm_install(dir: &std::path::Path) -> Result<(), String> {
    ensure_node()?;
    let stamp = dir.join("node_modules/.package-lock.json");
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&stamp) < modified(&dir.join("package-lock.json")) || !stamp.exists() {
        npm_in(dir, &["ci", "--no-audit", "--no-fund"])?;
    }
    Ok(())
}

/// Installs the UI's packages (when the lock file changed) and builds
/// `ui/dist`, which the dropcast-ui binary embeds.
pub fn build_ui() -> Result<(), String> {
    npm_install(&workspace_root().join("ui"))?;
    npm(&["run", "build"])
}

/// Waits up to 20 s for `url` to answer 200 (plain HTTP on loopback, std
/// only).
pub fn wait_for_http(url: &str) -> Result<(), String> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url} is not http://"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(20) {
        if let Ok(mut stream) = std::net::TcpStream::connect(host) {
            let _ = write!(stream, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n");
            let mut head = [0u8; 12];
            if stream.read_exact(&mut head).is_ok() && head.ends_with(b"200") {
                return Ok(());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(format!("{url} did not answer within 20 s"))
}
