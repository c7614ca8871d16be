//! Start-up of each of our programs (`--version`: the loader, the
//! libraries, `main`), timed by hyperfine side by side with `scrot
//! --version` in the same run, with each program's shared libraries and
//! size on disk. What a shot pays before it captures anything.

use std::process::Command;

use crate::flag;

/// Ours, and what each is for.
const PROGRAMS: &[(&str, &str)] = &[
    ("dropcast", "the CLI: every shot"),
    ("dropcast-clipboard", "the clipboard holder: every CLI shot"),
    ("dropcast-app", "the tray app"),
    ("dropcast-record", "the recorder: each recording"),
    ("dropcast-server", "the server"),
];

pub fn run(args: &[String]) -> Result<(), String> {
    let dir = flag(args, "--bin-dir").ok_or("--bin-dir DIR is required")?;
    let runs = flag(args, "--runs").unwrap_or_else(|| "50".into());
    let out = tempfile::NamedTempFile::new().map_err(|e| e.to_string())?;
    let mut hyperfine = Command::new("hyperfine");
    hyperfine.args(["-N", "--warmup", "5", "--runs", &runs, "--export-json"]);
    hyperfine.arg(out.path()).arg("scrot --version");
    for (name, _) in PROGRAMS {
        hyperfine.arg(format!("{dir}/{name} --version"));
    }
    let done = hyperfine
        .output()
        .map_err(|e| format!("hyperfine (package hyperfine): {e}"))?;
    if !done.status.success() {
        return Err(format!(
            "hyperfine failed: {}",
            String::from_utf8_lossy(&done.stderr)
        ));
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path()).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    let medians: Vec<f64> = json["results"]
        .as_array()
        .ok_or("hyperfine wrote no results")?
        .iter()
        .map(|r| r["median"].as_f64().unwrap_or(f64::NAN) * 1000.0)
        .collect();
    let scrot = medians[0];
    println!("`--version`, median of {runs} (hyperfine -N), libraries (ldd), size on disk:");
    println!("  {:<20} {:>8.2} ms", "scrot", scrot);
    for ((name, what), ms) in PROGRAMS.iter().zip(&medians[1..]) {
        let path = format!("{dir}/{name}");
        let libraries = Command::new("ldd")
            .arg(&path)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) as f64 / 1048576.0;
        println!(
            "  {name:<20} {ms:>8.2} ms  {:>5.2}x scrot  {libraries:>3} libraries  {size:>6.1} MiB  ({what})",
            ms / scrot
        );
        crate::figure(
            &format!("`{name} --version`"),
            format!("{ms:.2} ms, {libraries} libs, {size:.1} MiB"),
            Some(("scrot", format!("{scrot:.2} ms"))),
            Some(ms / scrot),
            if *name == "dropcast" { "<= 10 ms" } else { "" },
        );
    }
    Ok(())
}
