//! `dropcast-bench server`: the drop server vs nginx. See the crate docs.

use crate::{flag, median, peak_rss};
use dropcast_api as api;
use dropcast_client::{upload_file, Client, UploadOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const MIB: u64 = 1024 * 1024;

pub(crate) struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
        // TERM, not KILL: nginx's master takes its workers down with it.
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Killed {
    pub(crate) fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL, as a crash: nothing is flushed or closed.
    pub(crate) fn kill9(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A file of `size` pseudo-random bytes.
fn make_file(path: &Path, size: u64, seed: u64) -> Result<(), String> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| e.to_string())?);
    let mut x = seed | 1;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = size;
    while left > 0 {
        for c in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
        }
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n]).map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    f.flush().map_err(|e| e.to_string())
}

pub(crate) fn start_server(
    bin: &str,
    dir: &Path,
    fsync: bool,
) -> Result<(Killed, String, String), String> {
    start_server_with(bin, dir, fsync, free_port(), &[])
}

/// [`start_server`] on `port`, with more `DROPCAST_*` settings in `env`.
pub(crate) fn start_server_with(
    bin: &str,
    dir: &Path,
    fsync: bool,
    port: u16,
    env: &[(&str, String)],
) -> Result<(Killed, String, String), String> {
    let mut child = Command::new(bin)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--data-dir")
        .arg(dir.join(format!("dropcast-data-{fsync}")))
        .env("DROPCAST_FSYNC", fsync.to_string())
        .args(["--json", "serve", "--bind", &format!("127.0.0.1:{port}")])
        .env(
            "DROPCAST_LOG",
            std::env::var("DROPCAST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {bin}: {e}"))?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    let info: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| format!("server said {line:?}: {e}"))?;
    let url = info["url"].as_str().unwrap_or_default().to_string();
    let token = info["token"].as_str().unwrap_or_default().to_string();
    Ok((Killed(child), url, token))
}

pub(crate) fn start_nginx(dir: &Path) -> Result<(Killed, String), String> {
    let port = free_port();
    let www = dir.join("www");
    std::fs::create_dir_all(www.join("up")).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir.join("nginx-tmp")).map_err(|e| e.to_string())?;
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let conf = format!(
        "{user}daemon off; worker_processes 2; pid {d}/nginx.pid; error_log {d}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; sendfile on; tcp_nopush on;
  client_body_temp_path {d}/nginx-tmp;
  server {{
    listen 127.0.0.1:{port}; root {www}; client_max_body_size 0;
    location /up/ {{ dav_methods PUT; create_full_put_path on; }}
  }}
}}
",
        user = if root { "user root; " } else { "" },
        d = dir.display(),
        www = www.display(),
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(dir)
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting nginx: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((Killed(child), url));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err("nginx did not start; see nginx-error.log".into())
}

/// Writes every dirty page back (`sync`), so the next timed transfer
/// does not pay for an earlier one's.
fn flush_page_cache() -> Result<(), String> {
    let status = Command::new("sync")
        .status()
        .map_err(|e| format!("sync: {e}"))?;
    if !status.success() {
        return Err(format!("sync failed: {status}"));
    }
    Ok(())
}

fn curl(args: &[&str]) -> Result<f64, String> {
    let t = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "--fail"])
        .args(args)
        .output()
        .map_err(|e| format!("running curl: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(t.elapsed().as_secs_f64())
}

async fn upload_once(
    c: &Client,
    file: &Path,
    size: u64,
    parallel: usize,
) -> Result<api::Drop, String> {
    let d = c
        .create_drop(&api::CreateDrop {
            name: "bench.bin".into(),
            size: Some(size),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    upload_file(
        c,
        &d,
        file,
        UploadOptions {
            part_size: Some(8 * MIB),
            parallel,
            attempts: 3,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| e.to_string())
}

fn nginx_worker_pids(master: u32) -> Vec<u32> {
    Command::new("pgrep")
        .args(["-P", &master.to_string()])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// CRC64-NVME, what parts and files are checked with, against SHA-256,
/// what they were checked with before; one thread, 256 MiB in memory. And
/// what `complete` costs now: combining the values of 10,000 parts (S3's
/// most).
fn checksums() {
    use sha2::Digest;
    let data: Vec<u8> = (0..256 * MIB)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let gbs = |secs: f64| data.len() as f64 / secs / 1e9;
    let (mut crc_secs, mut sha_secs) = (Vec::new(), Vec::new());
    let mut whole = api::Crc64::default();
    for _ in 0..3 {
        let t = Instant::now();
        whole = api::Crc64::of(&data);
        crc_secs.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(sha2::Sha256::digest(&data));
        sha_secs.push(t.elapsed().as_secs_f64());
    }
    let (crc, sha) = (gbs(median(crc_secs)), gbs(median(sha_secs)));
    let parts: Vec<(api::Crc64, u64)> = data
        .chunks(data.len().div_ceil(10_000))
        .map(|p| (api::Crc64::of(p), p.len() as u64))
        .collect();
    let t = Instant::now();
    let combined = parts
        .iter()
        .fold(api::Crc64::default(), |w, (c, len)| w.then(*c, *len));
    let combine_us = t.elapsed().as_secs_f64() * 1e6;
    assert_eq!(combined, whole, "combined part CRCs equal the file's");
    crate::figure(
        "CRC64-NVME vs SHA-256, one thread",
        format!("{crc:.1} GB/s"),
        Some(("SHA-256", format!("{sha:.1} GB/s"))),
        Some(crc / sha),
        "(measure)",
    );
    crate::figure(
        "combine 10,000 part CRCs (at complete)",
        format!("{combine_us:.0} us"),
        None,
        None,
        "(measure)",
    );
    println!(
        "checksums: CRC64-NVME {crc:.1} GB/s, SHA-256 {sha:.1} GB/s ({:.1}x); \
         combining {} part CRCs: {combine_us:.0} us",
        crc / sha,
        parts.len()
    );
}

pub async fn run(args: &[String]) -> Result<(), String> {
    checksums();
    let bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let size = flag(args, "--size-mib")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
        * MIB;
    let runs: usize = flag(args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let base = PathBuf::from(std::env::var("BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into()));
    std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
    let dir = tempfile::Builder::new()
        .prefix("dropcast-bench-")
        .tempdir_in(&base)
        .map_err(|e| e.to_string())?;
    let file = dir.path().join("big.bin");
    make_file(&file, size, 42)?;
    let file_s = file.to_str().unwrap();

    let (server, url, token) = start_server(&bin, dir.path(), true)?;
    let (server_nosync, url_nosync, token_nosync) = start_server(&bin, dir.path(), false)?;
    let (nginx, nginx_url) = start_nginx(dir.path())?;
    let c = Client::new(&url, Some(token));
    let c_nosync = Client::new(&url_nosync, Some(token_nosync));
    let gib = size as f64 / (1u64 << 30) as f64;
    println!(
        "server bench: {gib:.2} GiB file, {runs} runs each, median; dropcast-server vs nginx \
         (curl -T to WebDAV PUT / static file), all on loopback"
    );

    // Upload: the server's default (fsync each part before acknowledging
    // it), and without fsync, which is what nginx does.
    let (mut ours, mut ours_nosync, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    // Each starts with nothing left to write back: else the one after
    // nginx (which leaves its gigabyte in the page cache) pays for it.
    for i in 0..runs {
        flush_page_cache()?;
        let t = Instant::now();
        let d = upload_once(&c, &file, size, 4).await?;
        ours.push(t.elapsed().as_secs_f64());
        c.delete_drop(&d.id).await.map_err(|e| e.to_string())?;
        flush_page_cache()?;
        theirs.push(curl(&[
            "-T",
            file_s,
            &format!("{nginx_url}/up/big{i}.bin"),
        ])?);
        flush_page_cache()?;
        let t = Instant::now();
        let d = upload_once(&c_nosync, &file, size, 4).await?;
        ours_nosync.push(t.elapsed().as_secs_f64());
        if let Some(prev) = last.replace(d) {
            let prev: api::Drop = prev;
            c_nosync
                .delete_drop(&prev.id)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    let up_ours = size as f64 / median(ours) / MIB as f64;
    let up_ours_nosync = size as f64 / median(ours_nosync) / MIB as f64;
    let up_nginx = size as f64 / median(theirs) / MIB as f64;

    // Download.
    let d = last.ok_or("no upload ran")?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(curl(&["-o", "/dev/null", &d.raw_url])?);
        theirs.push(curl(&[
            "-o",
            "/dev/null",
            &format!("{nginx_url}/up/big0.bin"),
        ])?);
    }
    let down_ours = size as f64 / median(ours) / MIB as f64;
    let down_nginx = size as f64 / median(theirs) / MIB as f64;
    c_nosync
        .delete_drop(&d.id)
        .await
        .map_err(|e| e.to_string())?;
    drop(server_nosync);
    for i in 0..runs {
        let _ = std::fs::remove_file(dir.path().join(format!("www/up/big{i}.bin")));
    }

    // Memory under 50 concurrent 100 MiB uploads.
    let small = dir.path().join("100m.bin");
    make_file(&small, 100 * MIB, 7)?;
    let server_pid = server.0.id();
    let before = peak_rss(server_pid);
    let t = Instant::now();
    let uploads = (0..50).map(|_| upload_once(&c, &small, 100 * MIB, 2));
    let done = futures_util::future::join_all(uploads).await;
    let conc_secs = t.elapsed().as_secs_f64();
    let mut drops = Vec::new();
    for d in done {
        drops.push(d?);
    }
    let rss_ours = peak_rss(server_pid);
    for d in drops {
        c.delete_drop(&d.id).await.map_err(|e| e.to_string())?;
    }
    let small_s = small.to_str().unwrap().to_string();
    let t = Instant::now();
    let curls: Vec<Child> = (0..50)
        .map(|i| {
            Command::new("curl")
                .args(["-sS", "--fail", "-T", &small_s])
                .arg(format!("{nginx_url}/up/c{i}.bin"))
                .spawn()
                .expect("curl")
        })
        .collect();
    for mut ch in curls {
        ch.wait().map_err(|e| e.to_string())?;
    }
    let conc_nginx_secs = t.elapsed().as_secs_f64();
    let rss_nginx: u64 = nginx_worker_pids(nginx.0.id())
        .into_iter()
        .chain([nginx.0.id()])
        .map(peak_rss)
        .sum();

    let mib = |b: u64| b as f64 / MIB as f64;
    let mbs = |v: f64| format!("{v:.0} MB/s");
    crate::figure(
        "upload, no fsync (vs curl -T to nginx)",
        mbs(up_ours_nosync),
        Some(("nginx", mbs(up_nginx))),
        Some(up_ours_nosync / up_nginx),
        ">= 0.8x",
    );
    crate::figure(
        "download /{id}/raw (vs nginx static)",
        mbs(down_ours),
        Some(("nginx", mbs(down_nginx))),
        Some(down_ours / down_nginx),
        ">= 0.7x",
    );
    crate::figure(
        "server peak RSS, 50 concurrent uploads",
        format!("{:.1} MiB", mib(rss_ours)),
        Some(("nginx", format!("{:.1} MiB", mib(rss_nginx)))),
        Some(rss_ours as f64 / rss_nginx.max(1) as f64),
        "<= 100 MiB",
    );
    println!(
        "{:<44} {:>12} {:>12} {:>8}  target",
        "", "dropcast", "nginx", "ratio"
    );
    println!(
        "{:<44} {:>9.0} MB/s {:>9.0} MB/s {:>8.2}  >= 0.8",
        "upload, no fsync (8 MiB parts x4 / curl -T)",
        up_ours_nosync,
        up_nginx,
        up_ours_nosync / up_nginx
    );
    println!(
        "{:<44} {:>9.0} MB/s {:>9.0} MB/s {:>8.2}  (default: durable parts)",
        "upload, fsync each part (the default)",
        up_ours,
        up_nginx,
        up_ours / up_nginx
    );
    println!(
        "{:<44} {:>9.0} MB/s {:>9.0} MB/s {:>8.2}  >= 0.7",
        "download (/{id}/raw / static), curl",
        down_ours,
        down_nginx,
        down_ours / down_nginx
    );
    println!(
        "{:<44} {:>9.1} MiB {:>9.1} MiB {:>8.2}  dropcast <= 100 MiB",
        "peak RSS, 50 concurrent 100 MiB uploads",
        mib(rss_ours),
        mib(rss_nginx),
        rss_ours as f64 / rss_nginx.max(1) as f64
    );
    println!(
        "{:<44} {:>10.1} s {:>10.1} s {:>8.2}  (time for all 50; dropcast RSS before: {:.1} MiB)",
        "  50 x 100 MiB wall time",
        conc_secs,
        conc_nginx_secs,
        conc_secs / conc_nginx_secs,
        mib(before)
    );
    drop(nginx);
    drop(server);
    let lambda_bins = (flag(args, "--lambda-bin"), flag(args, "--hello-lambda-bin"));
    let lambda_bins = (lambda_bins.0.as_deref(), lambda_bins.1.as_deref());
    aws_local(&bin, lambda_bins, dir.path(), &file, size, runs).await
}

/// The AWS-local stack: 1 GiB through presigned parts (the server on S3
/// and PostgreSQL hands out the URLs; the bytes go straight to SeaweedFS)
/// against `aws s3 cp` (awscli from PyPI) to the same SeaweedFS, with the
/// same part size (8 MiB) and concurrency (4).
async fn aws_local(
    bin: &str,
    lambda_bins: (Option<&str>, Option<&str>),
    dir: &Path,
    file: &Path,
    size: u64,
    runs: usize,
) -> Result<(), String> {
    let s3 = dropcast_tests::Seaweed::start_own();
    let pg = dropcast_tests::Postgres::start_own();
    let mut env: Vec<(String, String)> = s3.server_env();
    env.extend(pg.server_env());
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let (server, url, token) = start_server_with(bin, dir, false, free_port(), &env)?;
    let c = Client::new(&url, Some(token));
    let aws = dropcast_tests::venv_tool("aws", "awscli");
    let config = dir.join("aws-config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 8MB\n  \
         multipart_chunksize = 8MB\n  max_concurrent_requests = 4\n  addressing_style = path\n",
    )
    .map_err(|e| e.to_string())?;
    let aws_s3 = || {
        let mut cmd = Command::new(&aws);
        cmd.arg("s3")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env("AWS_ACCESS_KEY_ID", dropcast_tests::seaweed::ACCESS_KEY)
            .env("AWS_SECRET_ACCESS_KEY", dropcast_tests::seaweed::SECRET_KEY);
        cmd
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        let d = upload_once(&c, file, size, 4).await?;
        ours.push(t.elapsed().as_secs_f64());
        c.delete_drop(&d.id).await.map_err(|e| e.to_string())?;
        let t = Instant::now();
        let out = aws_s3()
            .args(["cp", "--only-show-errors", "--endpoint-url", &s3.endpoint])
            .arg(file)
            .arg(format!("s3://{}/peer{i}.bin", s3.bucket))
            .output()
            .map_err(|e| format!("running aws: {e}"))?;
        theirs.push(t.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(format!(
                "aws s3 cp: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let rm = aws_s3()
            .args(["rm", "--only-show-errors", "--endpoint-url", &s3.endpoint])
            .arg(format!("s3://{}/peer{i}.bin", s3.bucket))
            .status();
        if !rm.is_ok_and(|s| s.success()) {
            return Err("aws s3 rm failed".into());
        }
    }
    let (ours, theirs) = (
        size as f64 / median(ours) / MIB as f64,
        size as f64 / median(theirs) / MIB as f64,
    );
    crate::figure(
        "AWS-local upload, presigned parts (vs aws s3 cp)",
        format!("{ours:.0} MB/s"),
        Some(("aws s3 cp", format!("{theirs:.0} MB/s"))),
        Some(ours / theirs),
        ">= 1.0x",
    );
    println!(
        "AWS-local, 8 MiB parts x4 to SeaweedFS: dropcast {ours:.0} MB/s, aws s3 cp {theirs:.0} \
         MB/s ({:.2}x)",
        ours / theirs
    );
    drop(server);
    if let (Some(api), Some(hello)) = (lambda_bins.0, lambda_bins.1) {
        function_start(api, hello, &env, runs.max(51))?;
    }
    drop((s3, pg));
    Ok(())
}

/// The API function's size, and its time from process start to its first
/// answered invocation under cargo-lambda's emulator (its App built on
/// the AWS-local stack's PostgreSQL and SeaweedFS, as on a cold start),
/// against a hello-world lambda_http function built the same way. Real
/// cold starts (the sandbox, the download of the zip) need AWS.
fn function_start(
    api: &str,
    hello: &str,
    env: &[(&str, String)],
    runs: usize,
) -> Result<(), String> {
    const API: &str = "dropcast-lambda-api";
    const HELLO: &str = "hello-lambda";
    let emulator = dropcast_tests::Emulator::start(&[API, HELLO]);
    let first_answer =
        |bin: &str, name: &str, path: &str, more: &[(&str, String)]| -> Result<f64, String> {
            let t = Instant::now();
            let mut child = emulator
                .function(Path::new(bin), name)
                .envs(env.iter().chain(more).map(|(k, v)| (k, v)))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("starting {bin}: {e}"))?;
            // The emulator holds the request until the function asks for it.
            let answer = dropcast_tests::http_get(
                emulator.port,
                &format!("{}{path}", dropcast_tests::Emulator::path(name)),
            );
            let secs = t.elapsed().as_secs_f64();
            let _ = child.kill();
            let _ = child.wait();
            match answer {
                Some((200, _)) => Ok(secs),
                other => Err(format!("{name}'s first invocation answered {other:?}")),
            }
        };
    // Twice: a first request that needs nothing but the function itself
    // (the OpenAPI document), against the bare hello-world; and one that
    // needs the database (`/healthz`), against the hello-world asking
    // PostgreSQL `SELECT 1` over the connection it opens on first use.
    let database = env
        .iter()
        .find(|(k, _)| *k == "DROPCAST_DATABASE_URL")
        .map(|(_, v)| v.clone())
        .ok_or("the function's settings name no DROPCAST_DATABASE_URL")?;
    let (mut ours, mut theirs, mut ours_db, mut theirs_db) = (vec![], vec![], vec![], vec![]);
    for _ in 0..runs {
        ours.push(first_answer(api, API, "/assets/dropcast.css", &[])?);
        theirs.push(first_answer(hello, HELLO, "/", &[])?);
        ours_db.push(first_answer(api, API, "/healthz", &[])?);
        theirs_db.push(first_answer(
            hello,
            HELLO,
            "/",
            &[("HELLO_DATABASE_URL", database.clone())],
        )?);
    }
    let ms = |v: Vec<f64>| median(v) * 1e3;
    let (ours, theirs) = (ms(ours), ms(theirs));
    let (ours_db, theirs_db) = (ms(ours_db), ms(theirs_db));
    crate::figure(
        "API function: start to first answer (vs hello-world lambda_http)",
        format!("{ours:.1} ms"),
        Some(("hello", format!("{theirs:.1} ms"))),
        Some(ours / theirs),
        "<= 1.5x",
    );
    crate::figure(
        "  same, first answer needs PostgreSQL (vs hello + SELECT 1)",
        format!("{ours_db:.1} ms"),
        Some(("hello", format!("{theirs_db:.1} ms"))),
        Some(ours_db / theirs_db),
        "<= 1.5x",
    );
    let size = |bin: &str| std::fs::metadata(bin).map_or(0, |m| m.len()) as f64 / MIB as f64;
    let (api_mib, hello_mib) = (size(api), size(hello));
    crate::figure(
        "API function binary (release)",
        format!("{api_mib:.1} MiB"),
        Some(("hello", format!("{hello_mib:.1} MiB"))),
        Some(api_mib / hello_mib),
        "(measure)",
    );
    println!(
        "API function under the emulator, start to first answer: {ours:.1} ms, hello-world \
         {theirs:.1} ms ({:.2}x); needing PostgreSQL {ours_db:.1} ms vs {theirs_db:.1} ms \
         ({:.2}x); binaries {api_mib:.1} MiB and {hello_mib:.1} MiB",
        ours / theirs,
        ours_db / theirs_db
    );
    Ok(())
}

/// `upload-once URL TOKEN FILE`: one upload through the part protocol, timed.
pub async fn upload_once_cli(args: &[String]) -> Result<(), String> {
    let [url, token, file] = args else {
        return Err("usage: dropcast-bench upload-once URL TOKEN FILE".into());
    };
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    let c = Client::new(url, Some(token.clone()));
    let t = Instant::now();
    let d = upload_once(&c, Path::new(file), size, 4).await?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} {:.0} MB/s in {secs:.2} s",
        d.id,
        size as f64 / secs / MIB as f64
    );
    Ok(())
}
