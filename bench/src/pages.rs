//! `dropcast-bench pages`: the share page of an image drop vs nginx
//! serving a static HTML file of the same size, both loaded by wrk (2
//! threads, 50 connections, `--duration` seconds, default 10) on loopback.
//! Prints requests per second, their ratio and p99 latency.

use crate::flag;
use std::process::Command;

struct Load {
    rps: f64,
    p99_ms: f64,
}

/// wrk's "Requests/sec" and the 99% line of `--latency`.
fn wrk(url: &str, seconds: &str) -> Result<Load, String> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            "-c50",
            "-d",
            &format!("{seconds}s"),
            "--latency",
            url,
        ])
        .output()
        .map_err(|e| format!("running wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() || text.contains("Non-2xx") {
        return Err(format!("wrk {url} failed or got errors:\n{text}"));
    }
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .ok_or(format!("no 99% line in wrk's output:\n{text}"))?;
    Ok(Load {
        rps,
        p99_ms: latency_ms(p99)?,
    })
}

/// `812.00us`, `1.23ms`, `2.00s` as milliseconds.
fn latency_ms(v: &str) -> Result<f64, String> {
    let (num, scale) = if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(format!("latency {v:?}"));
    };
    num.parse::<f64>()
        .map(|n| n * scale)
        .map_err(|e| format!("latency {v:?}: {e}"))
}

pub async fn run(args: &[String]) -> Result<(), String> {
    let bin = flag(args, "--server-bin").ok_or("--server-bin PATH is required")?;
    let seconds = flag(args, "--duration").unwrap_or_else(|| "10".into());
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_server, url, token) = crate::server::start_server(&bin, dir.path(), false)?;
    let client = dropcast_client::Client::new(&url, Some(token));
    let image = image::RgbaImage::from_fn(1280, 720, |x, y| {
        image::Rgba([(x / 5) as u8, (y / 3) as u8, 128, 255])
    });
    let png = dropcast_encode::png(&image, 1.0).map_err(|e| e.to_string())?;
    let file = dir.path().join("shot.png");
    std::fs::write(&file, &png).map_err(|e| e.to_string())?;
    let d = client
        .create_drop(&dropcast_api::CreateDrop {
            name: "shot.png".into(),
            size: Some(png.len() as u64),
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    dropcast_client::upload_file(&client, &d, &file, Default::default())
        .await
        .map_err(|e| e.to_string())?;
    let page = reqwest::get(&d.url)
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;

    let (_nginx, nginx_url) = crate::server::start_nginx(dir.path())?;
    std::fs::write(dir.path().join("www").join("page.html"), &page).map_err(|e| e.to_string())?;

    println!(
        "share page ({} bytes of HTML) vs nginx serving the same bytes statically; \
         wrk -t2 -c50 -d{seconds}s",
        page.len()
    );
    let ours = tokio::task::block_in_place(|| wrk(&d.url, &seconds))?;
    let theirs = tokio::task::block_in_place(|| wrk(&format!("{nginx_url}/page.html"), &seconds))?;
    println!(
        "  dropcast-server  {:>9.0} req/s  p99 {:>6.2} ms",
        ours.rps, ours.p99_ms
    );
    println!(
        "  nginx            {:>9.0} req/s  p99 {:>6.2} ms",
        theirs.rps, theirs.p99_ms
    );
    crate::figure(
        "share page req/s (vs nginx, same bytes)",
        format!("{:.0}/s, p99 {:.2} ms", ours.rps, ours.p99_ms),
        Some(("nginx", format!("{:.0}/s", theirs.rps))),
        Some(ours.rps / theirs.rps),
        ">= 0.5x, p99 <= 5 ms",
    );
    println!(
        "  throughput ratio {:.2}x (target >= 0.5x), our p99 {:.2} ms (target <= 5 ms)",
        ours.rps / theirs.rps,
        ours.p99_ms
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn wrk_latencies_read_in_milliseconds() {
        assert_eq!(super::latency_ms("812.00us"), Ok(0.812));
        assert_eq!(super::latency_ms("1.50ms"), Ok(1.5));
        assert_eq!(super::latency_ms("2.00s"), Ok(2000.0));
    }
}
