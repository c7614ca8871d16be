//! Benchmarks of Dropcast against peer tools, side by side in one run,
//! printed as ratios. Run through `cargo xtask bench`, which builds the
//! release binaries and installs the peers.
//!
//! `server`: the drop server vs nginx on loopback.
//! - upload of a 1 GiB file through the part protocol (8 MiB parts, 4 in
//!   parallel, by `dropcast_client::upload_file`) vs `curl -T` to nginx's
//!   WebDAV PUT;
//! - download of the same file from `/{id}/raw` vs nginx serving it
//!   statically, both fetched by curl;
//! - peak RSS of the server during 50 concurrent 100 MiB uploads vs the
//!   peak RSS of nginx's workers during 50 concurrent `curl -T`.
//!
//! `capture`: `dropcast shot` vs scrot, maim and flameshot on one Xvfb
//! screen (see capture.rs), and the time to the link on the clipboard.
//!
//! `jobs`: cleanup of 10,000 expired drops on the AWS-local stack, with
//! batched deletes vs one DeleteObject per key (time, S3 requests), and
//! completion to thumbnail, AWS-local vs embedded (see jobs.rs).
//!
//! `soak`: load and faults, not a comparison: 50 clients for 5 minutes
//! while the server is killed -9 every 30 s; nothing acknowledged may be
//! lost (see soak.rs). Run by `cargo xtask soak`.
//!
//! `pages`: the share page vs nginx serving the same HTML, under wrk.
//!
//! `app`: the tray app vs the Flameshot daemon: idle memory of the process
//! tree, and hotkey to link on the clipboard (see app.rs).
//!
//! `record`: `dropcast record` vs `ffmpeg -f x11grab` (CPU, dropped frames,
//! size, peak RSS), and stop to playable link with throttled uploads (see
//! record.rs).
//!
//! `editor`: exporting a capture with 20 shapes vs a plain encode, and
//! finding secrets on a screen of text vs tesseract alone (see editor.rs).
//!
//! `startup`: each of our programs' `--version` vs `scrot --version`
//! (hyperfine), their shared libraries and sizes.
//!
//! `summary`: every benchmark, briefly, then one table of the figures each
//! recorded with [`figure`].

mod app;
mod capture;
mod editor;
mod jobs;
mod pages;
mod record;
mod server;
mod soak;
mod startup;
#[cfg(target_os = "linux")]
mod wayland;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("server") => server::run(&args[1..]).await,
        Some("capture") => tokio::task::block_in_place(|| capture::run(&args[1..])),
        Some("pages") => pages::run(&args[1..]).await,
        Some("jobs") => jobs::run(&args[1..]).await,
        Some("soak") => soak::run(&args[1..]).await,
        Some("app") => tokio::task::block_in_place(|| app::run(&args[1..])),
        Some("record") => tokio::task::block_in_place(|| record::run(&args[1..])),
        Some("startup") => tokio::task::block_in_place(|| startup::run(&args[1..])),
        Some("editor") => tokio::task::block_in_place(|| editor::run(&args[1..])),
        #[cfg(target_os = "linux")]
        Some("wayland") => tokio::task::block_in_place(|| wayland::run(&args[1..])),
        Some("summary") => summary(&args[1..]).await,
        // One upload against a running server, for profiling by hand.
        Some("upload-once") => server::upload_once_cli(&args[1..]).await,
        _ => Err(
            "usage: dropcast-bench server --server-bin PATH [--size-mib N] [--runs N]\n       \
                  dropcast-bench capture --dropcast-bin PATH --server-bin PATH [--runs N]\n       \
                  dropcast-bench pages --server-bin PATH [--duration S]\n       \
                  dropcast-bench jobs --server-bin PATH [--drops N] [--runs N]\n       \
                  dropcast-bench soak --server-bin PATH --dropcast-bin PATH [--stack embedded|aws|both]\n       \
                  \x20                   [--clients N] [--seconds N] [--kill-every N]\n       \
                  dropcast-bench app --app-bin PATH --dropcast-bin PATH --server-bin PATH [--runs N]\n       \
                  dropcast-bench record --dropcast-bin PATH --server-bin PATH [--seconds N]\n       \
                  dropcast-bench startup --bin-dir DIR [--runs N]\n       \
                  dropcast-bench editor [--runs N]\n       \
                  dropcast-bench wayland --dropcast-bin PATH [--runs N] [--seconds N]\n       \
                  dropcast-bench summary --bin-dir DIR"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One figure of a benchmark, for the summary's table.
pub struct Figure {
    pub what: String,
    pub ours: String,
    /// The peer and its figure, when there is one.
    pub peer: Option<(String, String)>,
    /// Ours over the peer's.
    pub ratio: Option<f64>,
    pub target: String,
}

static FIGURES: std::sync::Mutex<Vec<Figure>> = std::sync::Mutex::new(Vec::new());

/// Keeps a figure for the summary (each benchmark prints its own too).
pub fn figure(
    what: &str,
    ours: String,
    peer: Option<(&str, String)>,
    ratio: Option<f64>,
    target: &str,
) {
    FIGURES.lock().unwrap().push(Figure {
        what: what.into(),
        ours,
        peer: peer.map(|(n, v)| (n.to_string(), v)),
        ratio,
        target: target.into(),
    });
}

/// Every benchmark, briefly (fewer runs, smaller files, shorter
/// recordings), then the table of their figures. A benchmark that fails is
/// said in the table and the others go on.
async fn summary(args: &[String]) -> Result<(), String> {
    let dir = flag(args, "--bin-dir").ok_or("--bin-dir DIR is required")?;
    let bin = |name: &str| format!("{dir}/{name}");
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    let (dropcast, app, server) = (bin("dropcast"), bin("dropcast-app"), bin("dropcast-server"));
    let mut failed = Vec::new();
    let started = std::time::Instant::now();
    type Bench = fn(&[String]) -> Result<(), String>;
    let blocking: Vec<(&str, Bench, Vec<String>)> = vec![
        (
            "startup",
            startup::run,
            s(&["--bin-dir", &dir, "--runs", "20"]),
        ),
        ("editor", editor::run, s(&["--runs", "3"])),
        (
            "capture",
            capture::run,
            s(&[
                "--dropcast-bin",
                &dropcast,
                "--server-bin",
                &server,
                "--runs",
                "3",
            ]),
        ),
        (
            "app",
            app::run,
            s(&[
                "--app-bin",
                &app,
                "--dropcast-bin",
                &dropcast,
                "--server-bin",
                &server,
                "--runs",
                "8",
            ]),
        ),
        (
            "record",
            record::run,
            s(&[
                "--dropcast-bin",
                &dropcast,
                "--server-bin",
                &server,
                "--seconds",
                "10",
            ]),
        ),
    ];
    // The Wayland bench runs on sway, on Linux only.
    #[cfg(target_os = "linux")]
    let blocking = [
        blocking,
        vec![(
            "wayland",
            wayland::run as Bench,
            s(&[
                "--dropcast-bin",
                &dropcast,
                "--runs",
                "3",
                "--seconds",
                "10",
            ]),
        )],
    ]
    .concat();
    for (name, run, args) in blocking {
        println!("\n=== {name} ===");
        if let Err(e) = tokio::task::block_in_place(|| run(&args)) {
            failed.push(format!("{name}: {e}"));
        }
    }
    println!("\n=== server ===");
    let (lambda, hello) = (
        bin("dropcast-lambda-api"),
        format!("{dir}/examples/hello-lambda"),
    );
    if let Err(e) = server::run(&s(&[
        "--server-bin",
        &server,
        "--lambda-bin",
        &lambda,
        "--hello-lambda-bin",
        &hello,
        "--size-mib",
        "256",
        "--runs",
        "1",
    ]))
    .await
    {
        failed.push(format!("server: {e}"));
    }
    println!("\n=== jobs ===");
    if let Err(e) = jobs::run(&s(&[
        "--server-bin",
        &server,
        "--drops",
        "1000",
        "--runs",
        "5",
    ]))
    .await
    {
        failed.push(format!("jobs: {e}"));
    }
    println!("\n=== pages ===");
    if let Err(e) = pages::run(&s(&["--server-bin", &server, "--duration", "3"])).await {
        failed.push(format!("pages: {e}"));
    }

    println!(
        "\nSummary ({:.0} s; brief runs: read the trend, and run a benchmark alone for its \
         figure):\n",
        started.elapsed().as_secs_f64()
    );
    println!("| figure | dropcast | peer | ratio | target |");
    println!("|---|---|---|---|---|");
    for f in FIGURES.lock().unwrap().iter() {
        let peer = f
            .peer
            .as_ref()
            .map_or("".to_string(), |(n, v)| format!("{n} {v}"));
        let ratio = f.ratio.map_or("".to_string(), |r| format!("{r:.2}x"));
        println!(
            "| {} | {} | {peer} | {ratio} | {} |",
            f.what, f.ours, f.target
        );
    }
    for f in &failed {
        println!("| {f} | not measured | | | |");
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} benchmarks failed", failed.len()))
    }
}

/// The value after `--name` in `args`.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// `cmd` (a `dropcast` program) with `home` as its home: its own config
/// and data dirs, the token in a file there.
pub fn in_home<'a>(
    cmd: &'a mut std::process::Command,
    home: &std::path::Path,
) -> &'a mut std::process::Command {
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("DROPCAST_CREDENTIALS", "file")
}

/// Signs `dropcast` (a command with its home's environment) in to the
/// server at `url` with `token`.
pub fn login(mut dropcast: std::process::Command, url: &str, token: &str) -> Result<(), String> {
    use std::process::Stdio;
    let mut child = dropcast
        .args(["login", "--server", url, "--token-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes())
        .map_err(|e| e.to_string())?;
    drop(child.stdin.take());
    if !child.wait().map_err(|e| e.to_string())?.success() {
        return Err("dropcast login failed".into());
    }
    Ok(())
}

/// Peak resident set (VmHWM) of a process, in bytes.
pub fn peak_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:") * 1024
}

pub fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
