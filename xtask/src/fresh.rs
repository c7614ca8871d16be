//! The fresh-machine check: builds see only what xtask installs.
//!
//! A package installed by hand on a developer's or CI's machine hides a
//! missing entry in xtask's package lists: the build passes there and fails
//! on a fresh Debian 12 machine. So every cargo command xtask runs sees
//! the system through the packages xtask names, and what they depend on:
//!
//! - pkg-config finds only the `.pc` files of those packages
//!   (`PKG_CONFIG_LIBDIR` is a folder of links to them, and nothing else),
//!   so a `-sys` crate whose library comes from an unlisted package fails
//!   as it would on a fresh machine, hand-installed or not;
//! - every shared library a built binary needs (`ldd`) must belong to one
//!   of those packages, which catches libraries linked without pkg-config.
//!
//! Headers found on the compiler's default path without pkg-config are
//! not covered; every native dependency of ours goes through pkg-config.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The installed Debian packages that `roots` bring, with everything they
/// depend on (Depends and Pre-Depends, any installed alternative, virtual
/// packages through what provides them).
pub fn closure(roots: &[&str]) -> Result<BTreeSet<String>, String> {
    let out = Command::new("dpkg-query")
        .args([
            "-W",
            "-f=${db:Status-Abbrev}\t${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\n",
        ])
        .output()
        .map_err(|e| format!("dpkg-query: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut depends: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut providers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\t');
        let (Some(status), Some(name), Some(deps), provides) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !status.starts_with("ii") {
            continue;
        }
        let names = |list: &str| -> Vec<String> {
            list.split([',', '|'])
                .filter_map(|d| d.split_whitespace().next())
                .map(|d| d.split(':').next().unwrap_or(d).to_string())
                .filter(|d| !d.is_empty())
                .collect()
        };
        depends.insert(name.to_string(), names(deps));
        for virtual_name in names(provides.unwrap_or("")) {
            providers
                .entry(virtual_name)
                .or_default()
                .push(name.to_string());
        }
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.iter().map(|r| r.to_string()).collect();
    while let Some(name) = todo.pop() {
        let real: Vec<String> = if depends.contains_key(&name) {
            vec![name]
        } else {
            providers.get(&name).cloned().unwrap_or_default()
        };
        for package in real {
            if seen.insert(package.clone()) {
                todo.extend(depends[&package].iter().cloned());
            }
        }
    }
    for root in roots {
        if !seen.contains(*root) && !providers.contains_key(*root) {
            return Err(format!("{root} is not installed"));
        }
    }
    Ok(seen)
}

/// Every file the packages installed.
pub fn files_of(packages: &BTreeSet<String>) -> Result<Vec<String>, String> {
    let out = Command::new("dpkg-query")
        .arg("-L")
        .args(packages)
        .output()
        .map_err(|e| format!("dpkg-query -L: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('/'))
        .map(str::to_string)
        .collect())
}

/// Makes a folder under `parent` of links to the `.pc` files among
/// `files` and points pkg-config at it alone, for this process and every
/// command it starts. The folder's name is a hash of what it holds, so a
/// change to the package list changes `PKG_CONFIG_LIBDIR` and cargo runs
/// the build scripts that asked pkg-config again.
pub fn restrict_pkg_config(files: &[String], parent: &Path) -> Result<usize, String> {
    use std::hash::{Hash, Hasher};
    let pc_files: BTreeSet<&Path> = files
        .iter()
        .map(Path::new)
        .filter(|path| {
            path.parent()
                .is_some_and(|p| p.file_name().is_some_and(|n| n == "pkgconfig"))
                && path.extension().is_some_and(|e| e == "pc")
                && path.exists()
        })
        .collect();
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    pc_files.hash(&mut hasher);
    let dir = parent.join(format!("pkgconfig-{:016x}", hasher.finish()));
    if !dir.exists() {
        let partial = parent.join("pkgconfig-partial");
        let _ = std::fs::remove_dir_all(&partial);
        std::fs::create_dir_all(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        for path in &pc_files {
            let link = partial.join(path.file_name().expect("a .pc file has a name"));
            if !link.exists() {
                #[cfg(unix)]
                std::os::unix::fs::symlink(path, &link)
                    .map_err(|e| format!("{}: {e}", link.display()))?;
                #[cfg(not(unix))]
                std::fs::copy(path, &link).map_err(|e| format!("{}: {e}", link.display()))?;
            }
        }
        std::fs::rename(&partial, &dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let count = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
    std::env::set_var("PKG_CONFIG_LIBDIR", &dir);
    std::env::remove_var("PKG_CONFIG_PATH");
    std::env::remove_var("PKG_CONFIG_SYSROOT_DIR");
    Ok(count)
}

/// The shared libraries a binary loads, as `ldd` resolves them.
pub fn linked_libraries(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| format!("ldd: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("ldd {}: {text}", binary.display()));
    }
    let mut libraries = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.contains("not found") {
            return Err(format!(
                "{} needs a library that is not installed: {line}",
                binary.display()
            ));
        }
        // "libfoo.so.1 => /lib/x86_64-linux-gnu/libfoo.so.1 (0x...)", or
        // the loader itself as "/lib64/ld-linux-x86-64.so.2 (0x...)".
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line
                .split_whitespace()
                .next()
                .filter(|p| p.starts_with('/')),
        };
        if let Some(path) = path {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// The same path whether or not it is spelled under `/usr` (Debian 12
/// merges `/lib` into `/usr/lib`, while dpkg records either spelling).
fn merged(path: &str) -> &str {
    path.strip_prefix("/usr").unwrap_or(path)
}

/// The libraries among `libraries` that no file of `files` is.
pub fn foreign_libraries<'a>(libraries: &'a [PathBuf], files: &[String]) -> Vec<&'a PathBuf> {
    let known: BTreeSet<&str> = files.iter().map(|f| merged(f)).collect();
    libraries
        .iter()
        .filter(|lib| {
            let spelled = lib.to_string_lossy();
            let real = std::fs::canonicalize(lib)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            !known.contains(merged(&spelled)) && !known.contains(merged(&real))
        })
        .collect()
}
