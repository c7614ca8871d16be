//! A network that damages bytes: a TCP proxy on loopback that flips one
//! byte in the body of the first few part uploads passing through it, and
//! passes everything else through untouched.
//!
//! It reads just enough HTTP/1.1 to find request bodies (a request line,
//! headers, then `Content-Length` bytes). A part upload is a `PUT` whose
//! target names a part: `/parts/` (our server's URLs) or `partNumber=` (S3's).
//! A chunked request body makes it stop parsing and only copy.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct Tamper {
    pub port: u16,
    /// Part uploads still to damage.
    budget: Arc<AtomicUsize>,
    damaged: Arc<AtomicUsize>,
}

impl Tamper {
    /// A proxy to `127.0.0.1:{target}` (which need not be up yet) that
    /// damages the first `count` part uploads.
    pub fn start(target: u16, count: usize) -> Tamper {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let budget = Arc::new(AtomicUsize::new(count));
        let damaged = Arc::new(AtomicUsize::new(0));
        let (b, d) = (budget.clone(), damaged.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (b, d) = (b.clone(), d.clone());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || copy(s2, c2));
                std::thread::spawn(move || requests(client, server, &b, &d));
            }
        });
        Tamper {
            port,
            budget,
            damaged,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Part uploads damaged so far.
    pub fn damaged(&self) -> usize {
        self.damaged.load(Ordering::SeqCst)
    }

    /// Damages `count` more part uploads.
    pub fn damage_next(&self, count: usize) {
        self.budget.store(count, Ordering::SeqCst);
    }
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Client to server, request by request.
fn requests(mut from: TcpStream, mut to: TcpStream, budget: &AtomicUsize, damaged: &AtomicUsize) {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        // The head of the next request.
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match from.read(&mut chunk) {
                Ok(0) | Err(_) => {
                    let _ = to.write_all(&buf);
                    let _ = to.shutdown(Shutdown::Write);
                    return;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        if to.write_all(&buf[..end]).is_err() {
            return;
        }
        buf.drain(..end);
        if head.contains("transfer-encoding: chunked") {
            let _ = to.write_all(&buf);
            copy(from, to);
            return;
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let target = head.lines().next().unwrap_or_default();
        let part = target.starts_with("put ")
            && (target.contains("/parts/") || target.contains("partnumber="));
        let mut flip = (part
            && length > 0
            && budget
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1))
                .is_ok())
        .then_some(length / 2);
        // The body, with one byte flipped if this one is to be damaged.
        let mut left = length;
        while left > 0 {
            if buf.is_empty() {
                match from.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let take = left.min(buf.len());
            let at = length - left;
            if let Some(f) = flip.filter(|f| (at..at + take).contains(f)) {
                buf[f - at] ^= 0x01;
                damaged.fetch_add(1, Ordering::SeqCst);
                flip = None;
            }
            if to.write_all(&buf[..take]).is_err() {
                return;
            }
            buf.drain(..take);
            left -= take;
        }
    }
}
