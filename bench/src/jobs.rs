//! `dropcast-bench jobs`: the server's jobs, on the AWS-local stack
//! (SeaweedFS from PyPI, a throwaway PostgreSQL) and on the embedded one.
//!
//! - **cleanup**: `dropcast-server cleanup` of `--drops N` (10,000)
//!   expired drops, each an object in the bucket and rows in PostgreSQL:
//!   wall time, and the requests it sent to S3 as a proxy in front of
//!   SeaweedFS counts them, with deletes in batches of 1,000
//!   (DeleteObjects, the default) against one DeleteObject per key
//!   (`s3_batch_delete = false`), on the same number of drops.
//! - **thumbnail**: from `complete` answered to the drop's thumbnail being
//!   there (a 1920x1080 PNG capture, the in-process worker), embedded
//!   (files, SQLite) against AWS-local (S3, PostgreSQL), median of
//!   `--runs N` (20).

use crate::server::{start_server_with, Killed};
use crate::{flag, median};
use dropcast_client::{upload_file, Client};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

pub async fn run(args: &[String]) -> Result<(), String> {
    let bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let drops: usize =
        flag(args, "--drops").map_or(Ok(10_000), |n| n.parse().map_err(|_| "--drops N"))?;
    let runs: usize = flag(args, "--runs").map_or(Ok(20), |n| n.parse().map_err(|_| "--runs N"))?;
    let dir = tempfile::Builder::new()
        .prefix("dropcast-bench-jobs-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    cleanup(&bin, dir.path(), drops).await?;
    thumbnails(&bin, dir.path(), runs).await
}

/// What one cleanup run did.
struct Cleaned {
    seconds: f64,
    /// Requests to S3, all kinds.
    requests: usize,
    /// DeleteObjects requests, and DeleteObject ones.
    batches: usize,
    single: usize,
}

async fn cleanup(bin: &str, dir: &Path, drops: usize) -> Result<(), String> {
    let s3 = dropcast_tests::Seaweed::start_own();
    let watch = dropcast_tests::Tamper::watch(s3.s3_port);
    let mut env: Vec<(String, String)> = s3
        .server_env()
        .into_iter()
        .filter(|(k, _)| k != "DROPCAST_S3_ENDPOINT")
        .collect();
    env.push(("DROPCAST_S3_ENDPOINT".into(), watch.url()));
    // Every drop made expires a second later; no thumbnails are made of
    // them (the worker is off), so only cleanup talks to S3 afterwards.
    env.extend(
        [
            ("DROPCAST_DEFAULT_EXPIRY", "1"),
            ("DROPCAST_WORKER", "false"),
            ("DROPCAST_CLEANUP_INTERVAL", "0"),
            ("DROPCAST_ABUSE_THRESHOLD", "0"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut results = Vec::new();
    for batch in ["true", "false"] {
        // A database and a data dir of its own: a new owner, who is told
        // a token.
        let pg = dropcast_tests::Postgres::start_own();
        let data = dir.join(format!("batch-{batch}"));
        let mut owned = env.clone();
        owned.extend(pg.server_env());
        owned.push(("DROPCAST_S3_BATCH_DELETE".into(), batch.into()));
        let env: Vec<(&str, String)> = owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        let (server, url, token) =
            start_server_with(bin, &data, false, crate::server::free_port(), &env)?;
        let t = Instant::now();
        seed(&url, &token, drops).await?;
        eprintln!(
            "jobs: {drops} drops made in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        drop::<Killed>(server);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let before = watch.requests().len();
        let t = Instant::now();
        let out = Command::new(bin)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .arg("--data-dir")
            .arg(data.join("dropcast-data-false"))
            .args(["--json", "cleanup"])
            .env("DROPCAST_LOG", "warn")
            .output()
            .map_err(|e| format!("running {bin} cleanup: {e}"))?;
        let seconds = t.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!("cleanup: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let done: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("cleanup said: {e}"))?;
        if done["expired"] != drops {
            return Err(format!("cleanup deleted {done}, not {drops} expired drops"));
        }
        if !s3.objects().keys().is_empty() {
            return Err("objects are left in the bucket after cleanup".into());
        }
        let sent = watch.requests()[before..].to_vec();
        let batches = sent
            .iter()
            .filter(|r| r.starts_with("post ") && r.contains("?delete"))
            .count();
        let single = sent
            .iter()
            .filter(|r| r.starts_with("delete ") && !r.contains("uploadid="))
            .count();
        results.push(Cleaned {
            seconds,
            requests: sent.len(),
            batches,
            single,
        });
    }
    let (ours, theirs) = (&results[0], &results[1]);
    for (name, c) in [("batched", ours), ("one at a time", theirs)] {
        println!(
            "cleanup of {drops} expired drops, deletes {name}: {:.2} s, {} S3 requests \
             ({} DeleteObjects, {} DeleteObject)",
            c.seconds, c.requests, c.batches, c.single
        );
    }
    crate::figure(
        &format!("cleanup of {drops} expired drops on AWS-local, time"),
        format!("{:.2} s", ours.seconds),
        Some(("a DeleteObject per key", format!("{:.2} s", theirs.seconds))),
        Some(ours.seconds / theirs.seconds),
        "< 1x",
    );
    crate::figure(
        &format!("cleanup of {drops} expired drops on AWS-local, S3 requests"),
        ours.requests.to_string(),
        Some(("a DeleteObject per key", theirs.requests.to_string())),
        Some(ours.requests as f64 / theirs.requests as f64),
        "",
    );
    drop((watch, s3));
    Ok(())
}

/// `n` one-shot uploads of a few bytes each, 16 at a time.
async fn seed(url: &str, token: &str, n: usize) -> Result<(), String> {
    use futures_util::StreamExt;
    let http = reqwest::Client::new();
    let mut sent = futures_util::stream::iter(0..n)
        .map(|i| {
            let body = format!(
                "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"note{i}.txt\"\r\nContent-Type: text/plain\r\n\r\nnote {i}\r\n\
                 --b0undary--\r\n"
            );
            http.post(format!("{url}/api/v1/upload"))
                .bearer_auth(token)
                .header("content-type", "multipart/form-data; boundary=b0undary")
                .body(body)
                .send()
        })
        .buffer_unordered(16);
    while let Some(answer) = sent.next().await {
        let answer = answer.map_err(|e| e.to_string())?;
        if !answer.status().is_success() {
            return Err(format!(
                "a one-shot upload got {}: {}",
                answer.status(),
                answer.text().await.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

async fn thumbnails(bin: &str, dir: &Path, runs: usize) -> Result<(), String> {
    let png = capture_png();
    let file = dir.join("capture.png");
    std::fs::write(&file, &png).map_err(|e| e.to_string())?;
    let embedded = {
        let (server, url, token) = start_server_with(
            bin,
            &dir.join("embedded"),
            true,
            crate::server::free_port(),
            &[],
        )?;
        let times = completion_to_thumbnail(&url, &token, &file, runs).await?;
        drop(server);
        times
    };
    let s3 = dropcast_tests::Seaweed::start_own();
    let pg = dropcast_tests::Postgres::start_own();
    let mut env = s3.server_env();
    env.extend(pg.server_env());
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let aws = {
        let (server, url, token) = start_server_with(
            bin,
            &dir.join("aws"),
            true,
            crate::server::free_port(),
            &env,
        )?;
        let times = completion_to_thumbnail(&url, &token, &file, runs).await?;
        drop(server);
        times
    };
    drop((s3, pg));
    let (embedded, aws) = (median(embedded) * 1e3, median(aws) * 1e3);
    println!(
        "completion to thumbnail, 1920x1080 PNG, median of {runs}: embedded {embedded:.1} ms, \
         AWS-local {aws:.1} ms ({:.2}x)",
        aws / embedded
    );
    crate::figure(
        "completion to thumbnail, AWS-local (vs embedded)",
        format!("{aws:.1} ms"),
        Some(("embedded", format!("{embedded:.1} ms"))),
        Some(aws / embedded),
        "",
    );
    Ok(())
}

/// Seconds from each upload's `complete` answered to its thumbnail URL.
async fn completion_to_thumbnail(
    url: &str,
    token: &str,
    file: &Path,
    runs: usize,
) -> Result<Vec<f64>, String> {
    let c = Client::new(url, Some(token.to_string()));
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    let mut times = Vec::new();
    for i in 0..runs {
        let d = c
            .create_drop(&dropcast_api::CreateDrop {
                name: format!("capture{i}.png"),
                size: Some(size),
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
        upload_file(&c, &d, file, Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let t = Instant::now();
        loop {
            let info = c.drop_info(&d.id).await.map_err(|e| e.to_string())?;
            if info.thumbnail_url.is_some() {
                break;
            }
            if t.elapsed() > Duration::from_secs(30) {
                return Err(format!("no thumbnail of {} after 30 s", d.id));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        times.push(t.elapsed().as_secs_f64());
    }
    Ok(times)
}

/// A 1920x1080 PNG with a capture's mix: flat areas and detail.
fn capture_png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(1920, 1080, |x, y| {
        if y < 40 || x < 240 {
            image::Rgb([40, 44, 52])
        } else {
            let v = (x.wrapping_mul(31) ^ y.wrapping_mul(17)) as u8;
            image::Rgb([v, v.wrapping_add(60), 200u8.wrapping_sub(v / 2)])
        }
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("a PNG encodes in memory");
    out.into_inner()
}
