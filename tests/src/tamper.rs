//! A network with rules, as an HTTP/1.1 proxy on loopback:
//!
//! - [`Tamper::start`] flips one byte in the body of the first few part
//!   uploads passing through it: a network that damages bytes;
//! - [`Tamper::guard`] refuses any request or response whose body is over
//!   a limit, as Lambda does past 6 MB: a function that bytes pass through
//!   fails;
//! - [`Tamper::watch`] only passes everything on.
//!
//! Each keeps the start line of every request it passed
//! ([`Tamper::requests`]), to count what a client asked a store.
//!
//! Everything else passes untouched. It reads just enough HTTP/1.1 to find
//! bodies (a start line, headers, then `Content-Length` bytes). A part
//! upload is a `PUT` whose target names a part: `/parts/` (our server's
//! URLs) or `partNumber=` (S3's). A chunked body makes it stop parsing that
//! direction and only copy.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub struct Tamper {
    pub port: u16,
    rules: Arc<Rules>,
}

struct Rules {
    /// Part uploads still to damage.
    budget: AtomicUsize,
    damaged: AtomicUsize,
    /// The largest body either way, when set.
    limit: Option<usize>,
    /// Bodies refused for their size.
    tripped: AtomicUsize,
    /// The largest request body seen.
    largest: AtomicUsize,
    /// Each request's start line, in lower case.
    requests: Mutex<Vec<String>>,
    /// Each response: when, its status, and its request's start line.
    answers: Mutex<Vec<Answer>>,
}

/// A response that passed through a proxy.
#[derive(Clone, Debug)]
pub struct Answer {
    pub at: std::time::Instant,
    pub status: u16,
    /// The request's start line, in lower case.
    pub request: String,
}

impl Tamper {
    /// A proxy to `127.0.0.1:{target}` (which need not be up yet) that
    /// damages the first `count` part uploads.
    pub fn start(target: u16, count: usize) -> Tamper {
        Tamper::run(target, count, None)
    }

    /// A proxy to `127.0.0.1:{target}` that answers 413 to a request whose
    /// body is over `limit` bytes, and 502 in place of such a response.
    pub fn guard(target: u16, limit: usize) -> Tamper {
        Tamper::run(target, 0, Some(limit))
    }

    /// A proxy to `127.0.0.1:{target}` that changes nothing.
    pub fn watch(target: u16) -> Tamper {
        Tamper::run(target, 0, None)
    }

    fn run(target: u16, count: usize, limit: Option<usize>) -> Tamper {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let rules = Arc::new(Rules {
            budget: AtomicUsize::new(count),
            damaged: AtomicUsize::new(0),
            limit,
            tripped: AtomicUsize::new(0),
            largest: AtomicUsize::new(0),
            requests: Mutex::default(),
            answers: Mutex::default(),
        });
        let r = rules.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let (r1, r2) = (r.clone(), r.clone());
                let (c2, s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // The start line of each request on this connection whose
                // answer has not come, in order (a HEAD's answer has a
                // length but no body).
                let heads = Arc::new(Mutex::new(VecDeque::new()));
                let h2 = heads.clone();
                let (c3, s3) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    messages(s2, c2, Side::Responses, &r1, &h2);
                    // The server is done, or gone mid-answer: so is the
                    // connection, both ways (the other thread holds
                    // handles of both sockets, which would keep them open
                    // and the client waiting for the rest of a body).
                    let _ = c3.shutdown(Shutdown::Both);
                    let _ = s3.shutdown(Shutdown::Both);
                });
                std::thread::spawn(move || messages(client, server, Side::Requests, &r2, &heads));
            }
        });
        Tamper { port, rules }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Part uploads damaged so far.
    pub fn damaged(&self) -> usize {
        self.rules.damaged.load(Ordering::SeqCst)
    }

    /// Damages `count` more part uploads.
    pub fn damage_next(&self, count: usize) {
        self.rules.budget.store(count, Ordering::SeqCst);
    }

    /// Requests and responses refused for their size so far.
    pub fn tripped(&self) -> usize {
        self.rules.tripped.load(Ordering::SeqCst)
    }

    /// The largest request body that went through.
    pub fn largest_request(&self) -> usize {
        self.rules.largest.load(Ordering::SeqCst)
    }

    /// The start line of each request so far, in lower case
    /// (`delete /bucket/drops/abc http/1.1`).
    pub fn requests(&self) -> Vec<String> {
        self.rules.requests.lock().unwrap().clone()
    }

    /// Every response so far. (A connection whose body is chunked is only
    /// copied from there on: its later responses are not seen.)
    pub fn answers(&self) -> Vec<Answer> {
        self.rules.answers.lock().unwrap().clone()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Requests,
    Responses,
}

fn copy(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// One direction, message by message: requests from the client, or
/// responses from the server.
fn messages(
    mut from: TcpStream,
    mut to: TcpStream,
    side: Side,
    rules: &Rules,
    heads: &Mutex<VecDeque<String>>,
) {
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
        let start = head.lines().next().unwrap_or_default().to_string();
        let no_body = match side {
            Side::Requests => {
                heads.lock().unwrap().push_back(start.clone());
                false
            }
            // A response to HEAD, and a 1xx, 204 or 304, has no body
            // whatever its length says. (A 100 Continue comes before the
            // request's real answer, which keeps the HEAD flag.)
            Side::Responses => {
                let status = start.split(' ').nth(1).unwrap_or_default();
                let interim = status.starts_with('1');
                let mut was_head = false;
                if !interim {
                    let request = heads.lock().unwrap().pop_front().unwrap_or_default();
                    was_head = request.starts_with("head ");
                    rules.answers.lock().unwrap().push(Answer {
                        at: std::time::Instant::now(),
                        status: status.parse().unwrap_or(0),
                        request,
                    });
                }
                was_head || interim || status == "204" || status == "304"
            }
        };
        let length: usize = if no_body {
            0
        } else {
            head.lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        if side == Side::Requests {
            rules.largest.fetch_max(length, Ordering::SeqCst);
            rules.requests.lock().unwrap().push(start.clone());
        }
        if rules.limit.is_some_and(|limit| length > limit) {
            // What Lambda does: the request is refused, or the invocation's
            // answer replaced by an error.
            rules.tripped.fetch_add(1, Ordering::SeqCst);
            let answer = if side == Side::Requests {
                "HTTP/1.1 413 Payload Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            } else {
                "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            };
            let client = if side == Side::Requests {
                &mut from
            } else {
                &mut to
            };
            let _ = client.write_all(answer.as_bytes());
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        if to.write_all(&buf[..end]).is_err() {
            return;
        }
        buf.drain(..end);
        if head.contains("transfer-encoding: chunked") {
            let _ = to.write_all(&buf);
            copy(from, to);
            return;
        }
        let target = start.as_str();
        let part = side == Side::Requests
            && target.starts_with("put ")
            && (target.contains("/parts/") || target.contains("partnumber="));
        let mut flip = (part
            && length > 0
            && rules
                .budget
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
                rules.damaged.fetch_add(1, Ordering::SeqCst);
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
