//! The house rules that the build can check, so that none is only written
//! down (ARCHITECTURE.md, "Rules of the house"):
//!
//! - heavy native libraries stay out of the binaries that must not load
//!   them: [`LIBRARY_BANS`], checked with `ldd` on the built binaries;
//! - crates that belong to one process stay out of the others:
//!   [`CRATE_BANS`], checked with `cargo tree` per package;
//! - `rust-version` is true: no dependency asks for a newer Rust;
//! - nothing a test started outlives the test run.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

/// Which binaries: an exact name, or a prefix ending in `*`.
pub struct LibraryBan {
    pub binaries: &'static [&'static str],
    /// Shared-library name prefixes (`libavcodec.so.59` starts with `libav`).
    pub libraries: &'static [&'static str],
    pub why: &'static str,
}

/// The server and every Lambda function run where there is no desktop and
/// no FFmpeg (an arm64 Lambda has none of them). The CLI, the tray app and
/// the clipboard holder start for every shot: only the recorder
/// (`dropcast-record`) loads FFmpeg, and only the windows process
/// (`dropcast-ui`) GTK and WebKit.
pub const LIBRARY_BANS: &[LibraryBan] = &[
    LibraryBan {
        binaries: &["dropcast-server", "dropcast-lambda-*"],
        libraries: &[
            "libav",
            "libsw",
            "libpostproc",
            "libgtk",
            "libgdk",
            "libwebkit",
            "libjavascriptcore",
            "libX",
            "libxcb",
            "libwayland",
            "libpipewire",
        ],
        why: "the server and the Lambda functions run without FFmpeg, GTK, WebKit or a display",
    },
    LibraryBan {
        binaries: &["dropcast", "dropcast-app", "dropcast-clipboard"],
        libraries: &[
            "libav",
            "libsw",
            "libpostproc",
            "libgtk",
            "libgdk",
            "libwebkit",
            "libjavascriptcore",
            "libtesseract",
            "libleptonica",
        ],
        why: "a shot starts these: FFmpeg is the recorder's (dropcast-record), GTK and \
              WebKit the windows process's, OCR the editor's",
    },
];

pub struct CrateBan {
    pub package: &'static str,
    pub crates: &'static [&'static str],
    pub why: &'static str,
}

/// What neither the server nor a Lambda function may build in.
const SERVER_CRATE_BANS: &[&str] = &[
    "ffmpeg-next",
    "ffmpeg-sys-next",
    "dropcast-video",
    "gtk",
    "webkit2gtk",
    "wry",
    "tauri",
    "xcb",
    "xcap",
    "x11-dl",
    "arboard",
    "global-hotkey",
    "tray-icon",
    "keyring",
];

pub const CRATE_BANS: &[CrateBan] = &[
    CrateBan {
        package: "dropcast-server",
        crates: SERVER_CRATE_BANS,
        why: "the server needs no video encoder, desktop, clipboard or keyring",
    },
    CrateBan {
        package: "dropcast-lambda",
        crates: SERVER_CRATE_BANS,
        why: "a Lambda function needs no video encoder, desktop, clipboard or keyring",
    },
    CrateBan {
        package: "dropcast",
        crates: &[
            "global-hotkey",
            "dropcast-hotkeys",
            "tray-icon",
            "ksni",
            "muda",
            "tauri",
            "wry",
            "webkit2gtk",
            "gtk",
        ],
        why: "the CLI registers no hotkeys and shows no tray or window",
    },
];

/// The binaries in `dir` a ban names.
fn matching_binaries(dir: &Path, names: &[&str]) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            !name.contains('.')
                && names.iter().any(|n| match n.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == *n,
                })
        })
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Fails when a built binary in `dir` loads a library its ban names.
pub fn check_library_bans(dir: &Path) -> Result<(), String> {
    let mut problems = Vec::new();
    for ban in LIBRARY_BANS {
        let binaries = matching_binaries(dir, ban.binaries);
        if binaries.is_empty() {
            return Err(format!(
                "no binary named {:?} in {}: build them first",
                ban.binaries,
                dir.display()
            ));
        }
        for binary in binaries {
            for lib in crate::fresh::linked_libraries(&binary)? {
                let name = lib.file_name().unwrap_or_default().to_string_lossy();
                if ban.libraries.iter().any(|b| name.starts_with(b)) {
                    problems.push(format!(
                        "{} links {name} ({})",
                        binary.file_name().unwrap_or_default().to_string_lossy(),
                        ban.why
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "binaries link libraries they must not:\n  {}\n\
             `cargo tree -e normal -i CRATE -p PACKAGE` shows which dependency brings one in",
            problems.join("\n  ")
        ))
    }
}

/// `cargo tree` of `package`'s normal and build dependencies, for this
/// machine's target, resolved for that package alone.
fn cargo_tree(package: &str, extra: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "tree",
        "--locked",
        "-q",
        "-e",
        "normal,build",
        "-p",
        package,
    ];
    args.extend_from_slice(extra);
    crate::sys::output(&crate::sys::cargo_program(), &args)
}

/// The crate names among `package`'s dependencies.
fn crates_of(package: &str) -> Result<BTreeSet<String>, String> {
    Ok(cargo_tree(package, &["--prefix", "none", "-f", "{p}"])?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Fails unless `functions` (what `cargo xtask lambda` builds) are
/// exactly the zips `deploy/serverless.yml` deploys and the binaries of
/// `crates/lambda`: a function missing from one would fail a deploy.
pub fn check_lambda_functions(functions: &[&str]) -> Result<(), String> {
    let root = crate::sys::workspace_root();
    let read = |p: &str| std::fs::read_to_string(root.join(p)).map_err(|e| format!("{p}: {e}"));
    let template = read("deploy/serverless.yml")?;
    let mut deployed: Vec<String> = template
        .split("${param:artifacts}/")
        .skip(1)
        .filter_map(|rest| rest.split(".zip").next().map(str::to_string))
        .collect();
    let manifest = read("crates/lambda/Cargo.toml")?;
    let mut bins: Vec<String> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|b| {
            let name = b.split("name = \"").nth(1)?;
            Some(name.split('"').next()?.to_string())
        })
        .collect();
    let mut built: Vec<String> = functions.iter().map(|f| f.to_string()).collect();
    for list in [&mut deployed, &mut bins, &mut built] {
        list.sort();
    }
    if deployed != built || bins != built {
        return Err(format!(
            "the Lambda functions disagree: cargo xtask lambda builds {built:?}, \
             deploy/serverless.yml deploys {deployed:?}, crates/lambda has binaries {bins:?}"
        ));
    }
    Ok(())
}

/// Fails when a package depends, however indirectly, on a crate its ban
/// names, and says through which path.
pub fn check_crate_bans() -> Result<(), String> {
    let mut problems = Vec::new();
    for ban in CRATE_BANS {
        let crates = crates_of(ban.package)?;
        for banned in ban.crates.iter().filter(|c| crates.contains(**c)) {
            let path = cargo_tree(ban.package, &["-i", banned, "--depth", "6"]).unwrap_or_default();
            problems.push(format!(
                "{} depends on {banned} ({}):\n{path}",
                ban.package, ban.why
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

fn version_of(text: &str) -> Vec<u32> {
    text.split('.').filter_map(|n| n.parse().ok()).collect()
}

/// The `rust-version` of the workspace's Cargo.toml.
pub fn workspace_rust_version() -> Result<String, String> {
    let manifest = std::fs::read_to_string(crate::sys::workspace_root().join("Cargo.toml"))
        .map_err(|e| format!("Cargo.toml: {e}"))?;
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version"))
        .and_then(|rest| rest.split('"').nth(1))
        .map(str::to_string)
        .ok_or_else(|| "the workspace's Cargo.toml has no rust-version".to_string())
}

/// Fails when a dependency of the workspace declares a `rust-version`
/// newer than the workspace's own. (Clippy's `incompatible_msrv` lint
/// does the same for the standard library's APIs in our code.)
pub fn check_rust_version() -> Result<(), String> {
    let ours = workspace_rust_version()?;
    let json = crate::sys::output(
        &crate::sys::cargo_program(),
        &["metadata", "--locked", "--format-version", "1"],
    )?;
    // Each package object has `"name":"..","version":"..",` and, when it
    // declares one, `"rust_version":".."`; read them in order.
    let mut newer = Vec::new();
    for package in json.split("{\"name\":\"").skip(1) {
        let name = package.split('"').next().unwrap_or_default();
        let Some(at) = package.find("\"rust_version\":\"") else {
            continue;
        };
        let wanted = package[at + 16..].split('"').next().unwrap_or_default();
        if version_of(wanted) > version_of(&ours) {
            newer.push(format!("{name} needs Rust {wanted}"));
        }
    }
    if newer.is_empty() {
        Ok(())
    } else {
        newer.sort();
        newer.dedup();
        Err(format!(
            "rust-version = \"{ours}\" in Cargo.toml is not true:\n  {}\n\
             raise it (and the MSRV job in .github/workflows/ci.yml), or pin an older release",
            newer.join("\n  ")
        ))
    }
}

/// Processes whose parent is this one: with [`become_subreaper`], also
/// every orphan of a process this one started.
pub fn children() -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        let Some((comm, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") "))
        else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: u32 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        if ppid == me && state != "Z" {
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            let shown = if cmdline.trim().is_empty() {
                comm.to_string()
            } else {
                cmdline.trim().to_string()
            };
            found.push((pid, shown));
        }
    }
    found.sort();
    found
}

/// Makes orphans of this process's descendants its children (Linux's
/// child subreaper), so [`children`] finds what a test left running
/// however it detached.
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    {
        extern "C" {
            fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
        }
        const PR_SET_CHILD_SUBREAPER: i32 = 36;
        // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes plain integers
        // and changes nothing but this process's attribute.
        unsafe {
            prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        }
    }
}

/// Fails, naming them, when processes the test run started are still
/// running after it, and ends them.
pub fn check_nothing_left_running() -> Result<(), String> {
    // Give processes that are on their way out a moment to go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut left = children();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
        left = children();
    }
    if left.is_empty() {
        return Ok(());
    }
    for (pid, _) in &left {
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
    }
    Err(format!(
        "the tests left {} process(es) running (now killed); whatever a test starts, it stops:\n  {}",
        left.len(),
        left.iter()
            .map(|(pid, cmd)| format!("{pid} {cmd}"))
            .collect::<Vec<_>>()
            .join("\n  ")
    ))
}
