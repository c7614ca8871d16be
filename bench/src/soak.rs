//! `dropcast-bench soak`: load and faults, on loopback, bounded in time.
//!
//! `--clients N` (50) clients, each a `dropcast` CLI home of its own, loop
//! for `--seconds S` (300): upload a file (sizes from a few KiB to a few
//! parts), view its share page and raw bytes as an anonymous visitor,
//! and delete one drop in three. Meanwhile the server is killed with
//! SIGKILL and started again on the same port and data every
//! `--kill-every S` (30) seconds; on the AWS-local stack (`--stack aws`:
//! SeaweedFS and a throwaway PostgreSQL), SeaweedFS and then PostgreSQL are
//! also crashed and restarted once each.
//!
//! Every request to the server goes through a proxy that records each
//! answer's status and time. At the end, with the faults stopped:
//!
//! - each client with uploads that failed runs `dropcast resume`, which
//!   must finish every one of them;
//! - every upload acknowledged as complete (and not deleted) must be
//!   byte-identical at its raw URL;
//! - no request may have had a 5xx outside a restart window (from a
//!   kill until the service answers again, and 3 s more);
//! - the server's resident memory, sampled every 100 ms, must stay under
//!   100 MiB.
//!
//! It prints the counts, and fails when any of these does not hold.

use crate::server::{start_server_with, Killed};
use crate::{flag, proc_status_kib};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// The most the server may hold in memory.
const RSS_LIMIT: u64 = 100 * MIB;
/// How long after a service answers again its clients may still see the
/// restart (pools reconnecting, retries in flight).
const GRACE: Duration = Duration::from_secs(3);

pub async fn run(args: &[String]) -> Result<(), String> {
    let server_bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let dropcast_bin = flag(args, "--dropcast-bin").ok_or("--dropcast-bin PATH is required")?;
    let number = |name: &str, default: u64| -> Result<u64, String> {
        flag(args, name).map_or(Ok(default), |n| {
            n.parse().map_err(|_| format!("{name} takes a number"))
        })
    };
    let clients = number("--clients", 50)? as usize;
    let seconds = number("--seconds", 300)?;
    let every = number("--kill-every", 30)?;
    let stacks: Vec<&str> = match flag(args, "--stack").as_deref() {
        None | Some("both") => vec!["embedded", "aws"],
        Some("embedded") => vec!["embedded"],
        Some("aws") => vec!["aws"],
        Some(other) => return Err(format!("--stack embedded|aws|both, not {other}")),
    };
    let mut failed = Vec::new();
    for stack in stacks {
        let soak = Soak {
            server_bin: server_bin.clone(),
            dropcast_bin: dropcast_bin.clone(),
            clients,
            length: Duration::from_secs(seconds),
            every: Duration::from_secs(every.max(1)),
            aws: stack == "aws",
        };
        let summary = soak.run().await?;
        summary.print(stack, &soak);
        if summary.failures() > 0 {
            failed.push(stack);
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("the soak failed on: {}", failed.join(", ")))
    }
}

struct Soak {
    server_bin: String,
    dropcast_bin: String,
    clients: usize,
    length: Duration,
    every: Duration,
    aws: bool,
}

/// What happened, for the summary.
#[derive(Default)]
struct Summary {
    seconds: f64,
    uploads_acked: u64,
    uploads_failed: u64,
    resumed: u64,
    not_resumed: Vec<String>,
    bytes_up: u64,
    views: u64,
    deletes: u64,
    deletes_failed: u64,
    server_restarts: u64,
    seaweed_restarts: u64,
    postgres_restarts: u64,
    requests: u64,
    errors_in_windows: u64,
    errors_outside: Vec<String>,
    checked: u64,
    not_identical: Vec<String>,
    lost_bytes: u64,
    peak_rss: u64,
    reasons: std::collections::BTreeMap<String, u64>,
    /// Uploads killed before they were in the client's history.
    never_queued: u64,
    /// Uploads killed after they were complete, before they said so.
    complete_before_kill: u64,
}

impl Summary {
    fn failures(&self) -> usize {
        self.not_resumed.len()
            + self.errors_outside.len()
            + self.not_identical.len()
            + usize::from(self.peak_rss >= RSS_LIMIT)
    }

    fn print(&self, stack: &str, soak: &Soak) {
        let mib = |b: u64| b as f64 / MIB as f64;
        println!(
            "soak ({stack}): {} clients for {:.0} s, the server killed -9 every {} s",
            soak.clients,
            self.seconds,
            soak.every.as_secs()
        );
        println!(
            "  restarts: server {}, SeaweedFS {}, PostgreSQL {}",
            self.server_restarts, self.seaweed_restarts, self.postgres_restarts
        );
        println!(
            "  uploads: {} acknowledged complete, {} failed as the client saw it, {} of those finished by `dropcast resume` \
             ({} were complete before they were killed, {} killed before they were queued: nothing to finish)",
            self.uploads_acked, self.uploads_failed, self.resumed, self.complete_before_kill, self.never_queued
        );
        for (reason, count) in &self.reasons {
            println!("    {count} x {reason}");
        }
        println!(
            "  bytes uploaded: {:.1} MiB; share page and raw views: {}; deletes: {} ({} failed as the client saw it: each checked gone or whole at the end)",
            mib(self.bytes_up),
            self.views,
            self.deletes,
            self.deletes_failed
        );
        println!(
            "  requests answered through the proxy and to visitors: {}; 5xx in restart windows: {}, outside them: {}",
            self.requests,
            self.errors_in_windows,
            self.errors_outside.len()
        );
        println!(
            "  drops checked byte for byte at the end: {}; not identical: {}; lost bytes: {}",
            self.checked,
            self.not_identical.len(),
            self.lost_bytes
        );
        println!(
            "  server peak RSS: {:.1} MiB (limit {:.0} MiB)",
            mib(self.peak_rss),
            mib(RSS_LIMIT)
        );
        println!("  failures: {}", self.failures());
        for line in self
            .not_resumed
            .iter()
            .chain(&self.errors_outside)
            .chain(&self.not_identical)
            .take(20)
        {
            println!("    {line}");
        }
    }
}

/// When a service was down: from its kill until it answered again, plus
/// [`GRACE`]. An open window has no end yet.
#[derive(Default)]
struct Windows(Mutex<Vec<(Instant, Option<Instant>)>>);

impl Windows {
    /// Does `fault` (a crash and restart) inside a window of its own,
    /// which ends [`GRACE`] after `fault` returns.
    fn during<T>(&self, fault: impl FnOnce() -> T) -> T {
        let which = {
            let mut w = self.0.lock().unwrap();
            w.push((Instant::now(), None));
            w.len() - 1
        };
        let done = fault();
        self.0.lock().unwrap()[which].1 = Some(Instant::now() + GRACE);
        done
    }

    fn contains(&self, at: Instant) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|(from, to)| *from <= at && to.is_none_or(|to| at <= to))
    }
}

/// An upload the server acknowledged as complete.
struct Acked {
    id: String,
    raw_url: String,
    /// Its bytes are `dropcast_tests::bytes(size, seed)`: the file is
    /// removed once uploaded (a soak uploads gigabytes).
    seed: u64,
    size: u64,
    /// When the client was told, since the soak began.
    at: Duration,
}

/// One client's home and what it did.
struct Client {
    home: PathBuf,
    acked: Vec<Acked>,
    /// The uploads that failed as the client saw it (their files kept for
    /// `dropcast resume`).
    failed: Vec<Failed>,
    /// Drops whose delete failed: deleted or not, never half.
    unsure: Vec<Acked>,
}

/// An upload that failed as its client saw it.
struct Failed {
    name: String,
    seed: u64,
    size: u64,
    /// Killed -9 by the soak (else it failed by itself).
    killed: bool,
}

/// The server, as the killer restarts it.
struct Running {
    server: Option<Killed>,
    pid: Arc<AtomicU32>,
}

impl Soak {
    async fn run(&self) -> Result<Summary, String> {
        let dir = tempfile::Builder::new()
            .prefix("dropcast-soak-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let mut seaweed = self.aws.then(dropcast_tests::Seaweed::start_own);
        // Durable: the soak crashes it, and a commit it acknowledged must
        // survive that, as in production.
        let postgres = self.aws.then(dropcast_tests::Postgres::start_own_durable);
        let port = crate::server::free_port();
        let proxy = dropcast_tests::Tamper::watch(port);
        let mut env: Vec<(String, String)> = vec![
            // Links (and the part URLs of the embedded store) through the
            // proxy, so that it sees every request.
            ("DROPCAST_PUBLIC_URL".into(), proxy.url()),
        ];
        for stack in [
            seaweed.as_ref().map(|s| s.server_env()),
            postgres.as_ref().map(|p| p.server_env()),
        ]
        .into_iter()
        .flatten()
        {
            env.extend(stack);
        }
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let data = dir.path().join("server");
        let start =
            |env: &[(&str, String)]| start_server_with(&self.server_bin, &data, true, port, env);
        let (server, _, token) = start(&env)?;
        let pid = Arc::new(AtomicU32::new(server.pid()));
        let mut running = Running {
            server: Some(server),
            pid: pid.clone(),
        };

        // Memory, sampled until the end.
        let peak = Arc::new(AtomicU64::new(0));
        let sampling = Arc::new(AtomicBool::new(true));
        let sampler = {
            let (peak, sampling, pid) = (peak.clone(), sampling.clone(), pid.clone());
            std::thread::spawn(move || {
                while sampling.load(Ordering::SeqCst) {
                    let rss = proc_status_kib(pid.load(Ordering::SeqCst), "VmRSS:") * 1024;
                    peak.fetch_max(rss, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };

        let mut clients = Vec::new();
        for n in 0..self.clients {
            let home = dir.path().join(format!("client-{n}"));
            std::fs::create_dir_all(home.join("files")).map_err(|e| e.to_string())?;
            crate::login(self.dropcast(&home), &proxy.url(), &token)?;
            clients.push(Client {
                home,
                acked: Vec::new(),
                failed: Vec::new(),
                unsure: Vec::new(),
            });
        }

        let windows = Arc::new(Windows::default());
        let views = Arc::new(Mutex::new(Vec::<(Instant, u16, String)>::new()));
        let counts = Arc::new(Counts::default());
        let began = Instant::now();
        let deadline = began + self.length;
        let mut tasks = Vec::new();
        for (n, client) in clients.into_iter().enumerate() {
            let (views, counts, bin) = (views.clone(), counts.clone(), self.dropcast_bin.clone());
            tasks.push(tokio::spawn(async move {
                client_loop(n as u64, client, &bin, began, deadline, &views, &counts).await
            }));
        }

        // The faults, until the deadline.
        let mut summary = Summary::default();
        let mut round = 0u32;
        while Instant::now() + self.every < deadline {
            tokio::time::sleep(self.every).await;
            round += 1;
            if let (Some(s3), 3) = (seaweed.as_mut(), round) {
                windows.during(|| tokio::task::block_in_place(|| s3.restart()));
                summary.seaweed_restarts += 1;
                eprintln!("soak: SeaweedFS restarted");
            }
            if let (Some(pg), 6) = (postgres.as_ref(), round) {
                windows.during(|| tokio::task::block_in_place(|| pg.restart()));
                summary.postgres_restarts += 1;
                eprintln!("soak: PostgreSQL restarted");
            }
            let restarted = windows.during(|| {
                if let Some(server) = running.server.take() {
                    server.kill9();
                }
                tokio::task::block_in_place(|| start(&env))
            });
            let (server, _, _) = restarted?;
            running.pid.store(server.pid(), Ordering::SeqCst);
            running.server = Some(server);
            summary.server_restarts += 1;
            eprintln!(
                "soak: server killed and restarted ({} s in)",
                began.elapsed().as_secs()
            );
        }
        let mut clients = Vec::new();
        for task in tasks {
            clients.push(task.await.map_err(|e| e.to_string())??);
        }
        summary.seconds = began.elapsed().as_secs_f64();

        // The end: resume what failed, check every byte, count.
        let visitor = visitor();
        let owner = dropcast_client::Client::new(&proxy.url(), Some(token.clone()));
        let mut to_check = Vec::new();
        for client in &clients {
            let finished = self.resume(client)?;
            summary.uploads_failed += client.failed.len() as u64;
            let history = if client.failed.iter().all(|f| finished.contains_key(&f.name)) {
                HashMap::new()
            } else {
                self.history(client)?
            };
            for Failed {
                name,
                seed,
                size,
                killed,
            } in &client.failed
            {
                // Finished by resume; or complete before the kill (only
                // its answer was lost), as the history says.
                let done = match (finished.get(name), history.get(name)) {
                    (Some((id, raw_url)), _) => {
                        summary.resumed += 1;
                        Some((id.clone(), raw_url.clone()))
                    }
                    (None, Some((id, status))) if status == "complete" => {
                        summary.complete_before_kill += 1;
                        let info = owner.drop_info(id).await.map_err(|e| e.to_string())?;
                        Some((id.clone(), info.raw_url))
                    }
                    (None, None) if *killed => {
                        // Killed before it wrote a line anywhere: nothing
                        // was begun, so there is nothing to finish.
                        summary.never_queued += 1;
                        continue;
                    }
                    // Failed by itself with nothing queued, or queued and
                    // not finished: lost for the user.
                    (None, _) => None,
                };
                let Some((id, raw_url)) = done else {
                    summary.not_resumed.push(format!(
                        "{}: {name} failed and `dropcast resume` did not finish it",
                        client.home.display()
                    ));
                    continue;
                };
                let acked = Acked {
                    id,
                    raw_url,
                    seed: *seed,
                    size: *size,
                    at: began.elapsed(),
                };
                to_check.push((acked, false));
            }
        }
        for client in clients {
            to_check.extend(client.acked.into_iter().map(|a| (a, false)));
            // A delete whose answer was lost: gone, or whole.
            to_check.extend(client.unsure.into_iter().map(|a| (a, true)));
        }
        // Eight at a time: a soak leaves ten thousand drops or more. With
        // the owner's token: the gone ones are 404s, which anonymous would
        // count against the address (and soon get 429).
        let problems: Vec<Option<(String, u64)>> = futures_util::stream::iter(&to_check)
            .map(|(acked, gone_is_fine)| check(&visitor, &token, acked, *gone_is_fine))
            .buffer_unordered(8)
            .collect()
            .await;
        summary.checked = to_check.len() as u64;
        for (problem, lost) in problems.into_iter().flatten() {
            summary.not_identical.push(problem);
            summary.lost_bytes += lost;
        }
        sampling.store(false, Ordering::SeqCst);
        let _ = sampler.join();
        summary.peak_rss = peak.load(Ordering::SeqCst);
        summary.uploads_acked = counts.acked.load(Ordering::SeqCst);
        summary.bytes_up = counts.bytes.load(Ordering::SeqCst);
        summary.deletes = counts.deletes.load(Ordering::SeqCst);
        summary.deletes_failed = counts.deletes_failed.load(Ordering::SeqCst);
        summary.reasons = std::mem::take(&mut *counts.reasons.lock().unwrap());
        let answers: Vec<(Instant, u16, String)> = proxy
            .answers()
            .into_iter()
            .map(|a| (a.at, a.status, a.request))
            .chain(views.lock().unwrap().drain(..))
            .collect();
        summary.views = counts.views.load(Ordering::SeqCst);
        summary.requests = answers.len() as u64;
        for (at, status, request) in answers {
            if status < 500 {
                continue;
            }
            if windows.contains(at) {
                summary.errors_in_windows += 1;
            } else {
                summary.errors_outside.push(format!(
                    "{status} at {:.1} s: {request}",
                    at.saturating_duration_since(began).as_secs_f64()
                ));
            }
        }
        drop(running);
        Ok(summary)
    }

    /// `dropcast` with `home` as its home, credentials in a file.
    fn dropcast(&self, home: &Path) -> Command {
        dropcast_command(&self.dropcast_bin, home)
    }

    /// A client's history (`dropcast history`): id and status by name.
    fn history(&self, client: &Client) -> Result<HashMap<String, (String, String)>, String> {
        let out = self
            .dropcast(&client.home)
            .args(["--json", "history", "--limit", "100000"])
            .output()
            .map_err(|e| e.to_string())?;
        let json = last_json(&out.stdout).ok_or_else(|| {
            format!(
                "dropcast history in {}: {}",
                client.home.display(),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        Ok(drops(&json)
            .iter()
            .filter_map(|d| {
                let id = d["id"].as_str()?.to_string();
                let status = d["status"].as_str()?.to_string();
                Some((d["name"].as_str()?.to_string(), (id, status)))
            })
            .collect())
    }

    /// `dropcast resume` in a client's home: what it finished (id, raw
    /// URL), by name.
    fn resume(&self, client: &Client) -> Result<HashMap<String, (String, String)>, String> {
        if client.failed.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self
            .dropcast(&client.home)
            .args(["--json", "resume"])
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            eprintln!(
                "soak: dropcast resume in {}: {}",
                client.home.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let Some(json) = last_json(&out.stdout) else {
            return Ok(HashMap::new());
        };
        Ok(drops(&json)
            .into_iter()
            .filter(|d| d["status"] == "complete")
            .filter_map(|d| {
                let name = d["name"].as_str()?.to_string();
                let id = d["id"].as_str()?.to_string();
                Some((name, (id, d["raw_url"].as_str()?.to_string())))
            })
            .collect())
    }
}

#[derive(Default)]
struct Counts {
    /// Why uploads and deletes failed, as the CLI said it (its last
    /// line), by count.
    reasons: Mutex<std::collections::BTreeMap<String, u64>>,
    acked: AtomicU64,
    bytes: AtomicU64,
    views: AtomicU64,
    deletes: AtomicU64,
    deletes_failed: AtomicU64,
}

fn dropcast_command(bin: &str, home: &Path) -> Command {
    let mut cmd = Command::new(bin);
    crate::in_home(&mut cmd, home)
        .env_remove("DROPCAST_SERVER")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::null());
    cmd
}

/// The last line a program said, shortened: why it failed.
fn last_line(said: &[u8]) -> String {
    String::from_utf8_lossy(said)
        .lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or("(nothing said)")
        .chars()
        .take(160)
        .collect()
}

/// The JSON of the last line `dropcast --json` printed.
fn last_json(stdout: &[u8]) -> Option<serde_json::Value> {
    let text = String::from_utf8_lossy(stdout);
    let last = text.lines().rfind(|l| !l.trim().is_empty())?;
    serde_json::from_str(last).ok()
}

fn drops(json: &serde_json::Value) -> Vec<serde_json::Value> {
    json["drops"].as_array().cloned().unwrap_or_default()
}

/// The size of the upload made from `seed`: mostly screenshots (2 KiB to
/// half a MiB), some bigger images, and one in 25 a screencast of two or
/// three parts.
fn size_of(seed: u64) -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    match x % 25 {
        0 => 9 * MIB + x % (8 * MIB),
        1..=3 => MIB + x % (3 * MIB),
        _ => 2048 + x % (MIB / 2),
    }
}

/// One client, until the deadline: upload, view, and sometimes delete.
async fn client_loop(
    n: u64,
    mut client: Client,
    bin: &str,
    began: Instant,
    deadline: Instant,
    views: &Mutex<Vec<(Instant, u16, String)>>,
    counts: &Counts,
) -> Result<Client, String> {
    let visitor = visitor();
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let seed = n * 1_000_003 + round;
        let size = size_of(seed);
        let name = format!("c{n}-{round}.bin");
        let file = client.home.join("files").join(&name);
        std::fs::write(&file, dropcast_tests::bytes(size as usize, seed))
            .map_err(|e| e.to_string())?;
        // One upload in fifteen is killed -9 part-way, as a crash or a
        // reboot would: `dropcast resume` must finish it.
        let kill_after = round
            .is_multiple_of(15)
            .then(|| Duration::from_millis(200 + seed % 400));
        let upload = {
            let mut cmd = dropcast_command(bin, &client.home);
            cmd.args(["--json", "upload", "--copy", "none"])
                .arg(&file)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            tokio::task::spawn_blocking(move || {
                let mut child = cmd.spawn()?;
                if let Some(after) = kill_after {
                    std::thread::sleep(after);
                    child.kill()?;
                }
                child.wait_with_output()
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
        };
        let drop = last_json(&upload.stdout)
            .filter(|_| upload.status.success())
            .and_then(|j| drops(&j).into_iter().next())
            .filter(|d| d["status"] == "complete");
        let Some(drop) = drop else {
            let reason = if upload.status.code().is_none() {
                "upload: killed -9 by the soak part-way".into()
            } else {
                format!("upload: {}", last_line(&upload.stderr))
            };
            *counts.reasons.lock().unwrap().entry(reason).or_default() += 1;
            client.failed.push(Failed {
                name,
                seed,
                size,
                killed: kill_after.is_some(),
            });
            continue;
        };
        let _ = std::fs::remove_file(&file);
        counts.acked.fetch_add(1, Ordering::SeqCst);
        counts.bytes.fetch_add(size, Ordering::SeqCst);
        let acked = Acked {
            id: drop["id"].as_str().unwrap_or_default().to_string(),
            raw_url: drop["raw_url"].as_str().unwrap_or_default().to_string(),
            seed,
            size,
            at: Instant::now().saturating_duration_since(began),
        };
        // A visitor looks at it: the page, then the bytes (the first MiB).
        let page = drop["url"].as_str().unwrap_or_default().to_string();
        for (url, range) in [
            (page, None),
            (acked.raw_url.clone(), Some("bytes=0-1048575")),
        ] {
            let mut req = visitor.get(&url);
            if let Some(r) = range {
                req = req.header("range", r);
            }
            let sent = req.send().await;
            // When it was answered (a body can take longer than a window).
            let at = Instant::now();
            let status = match sent {
                Ok(r) => match (r.status().as_u16(), r.bytes().await) {
                    (_, Err(e)) if e.is_timeout() => 504,
                    (s, _) => s,
                },
                // No answer in a minute: counted as a 5xx would be.
                Err(e) if e.is_timeout() => 504,
                // Refused or cut during a restart: not an answer.
                Err(_) => continue,
            };
            counts.views.fetch_add(1, Ordering::SeqCst);
            views
                .lock()
                .unwrap()
                .push((at, status, format!("get {url} (visitor)")));
        }
        if round.is_multiple_of(3) {
            let mut cmd = dropcast_command(bin, &client.home);
            cmd.args(["--json", "delete", &acked.id]);
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            counts.deletes.fetch_add(1, Ordering::SeqCst);
            if out.status.success() {
                continue;
            }
            let reason = format!("delete: {}", last_line(&out.stderr));
            *counts.reasons.lock().unwrap().entry(reason).or_default() += 1;
            counts.deletes_failed.fetch_add(1, Ordering::SeqCst);
            client.unsure.push(acked);
            continue;
        }
        client.acked.push(acked);
    }
    Ok(client)
}

/// Whether `acked` is served whole, every byte of its file (or, when
/// `gone_is_fine`, not at all); if not, what is wrong and the bytes lost.
/// Asked with its owner's `token`.
async fn check(
    visitor: &reqwest::Client,
    token: &str,
    acked: &Acked,
    gone_is_fine: bool,
) -> Option<(String, u64)> {
    let (status, got) = match visitor.get(&acked.raw_url).bearer_auth(token).send().await {
        Ok(r) if gone_is_fine && matches!(r.status().as_u16(), 404 | 410) => return None,
        Ok(r) => (
            r.status().to_string(),
            r.bytes().await.map(|b| b.to_vec()).ok(),
        ),
        Err(e) => (e.to_string(), None),
    };
    let want = dropcast_tests::bytes(acked.size as usize, acked.seed);
    if got.as_deref() == Some(want.as_slice()) {
        return None;
    }
    let problem = format!(
        "{} (acknowledged {:.1} s in): {} bytes acknowledged, {} served ({status})",
        acked.id,
        acked.at.as_secs_f64(),
        want.len(),
        got.map_or("nothing".to_string(), |g| g.len().to_string())
    );
    Some((problem, want.len() as u64))
}

/// An anonymous client that gives up on an answer after a minute: a hung
/// request is a failure to count, not a soak that never ends.
fn visitor() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a reqwest client")
}
