//! A stream of frames of one target at a steady rate, for recordings.
//!
//! A thread captures every `1/fps` s and hands frames over a channel that
//! holds two: when the consumer (the encoder) falls behind, new frames are
//! dropped and counted, so memory never grows. A frame identical to the
//! last one sent is not sent again (the recording is variable frame rate:
//! a still screen costs almost nothing), except once a second so the
//! recording keeps moving. On X11 a screen nothing was drawn on is not
//! even read (the DAMAGE extension says so).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{repeating, CaptureError, Frame, Grabber, Options, Target};

/// How a stream went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counts {
    /// Frames read from the screen.
    pub captured: u64,
    /// Ticks that sent no frame: the screen was as before.
    pub unchanged: u64,
    /// Frames dropped because the consumer was behind, or ticks missed
    /// because capturing was.
    pub dropped: u64,
}

/// Capturing has ended (see [`FrameStream::stop`] for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

pub struct FrameStream {
    started: Instant,
    frames: Receiver<(Arc<Frame>, Duration)>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<Counts, CaptureError>>>,
}

/// Starts capturing `target` `fps` times a second. The first frame is
/// taken before this returns, so a bad target fails here.
pub fn stream(target: Target, fps: u32, options: Options) -> Result<FrameStream, CaptureError> {
    let mut grab = repeating(target, options)?;
    let first = grab()?.ok_or_else(|| CaptureError::Platform("no first frame".into()))?;
    let (tx, rx) = mpsc::sync_channel(2);
    let stop = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let thread = {
        let (stop, dropped) = (stop.clone(), dropped.clone());
        std::thread::Builder::new()
            .name("dropcast-capture".into())
            .spawn(move || run(grab, fps.clamp(1, 60), first, started, tx, &stop, &dropped))
            .expect("a capture thread")
    };
    Ok(FrameStream {
        started,
        frames: rx,
        stop,
        dropped,
        thread: Some(thread),
    })
}

fn run(
    mut grab: Grabber,
    fps: u32,
    first: Frame,
    started: Instant,
    tx: SyncSender<(Arc<Frame>, Duration)>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) -> Result<Counts, CaptureError> {
    let period = Duration::from_secs(1) / fps;
    let mut counts = Counts {
        captured: 1,
        ..Counts::default()
    };
    // Shared with the consumer, not copied (a 1080p frame is 8 MB).
    let mut last: Option<Arc<Frame>> = None;
    // A frame the consumer had no room for: sent at the next tick when
    // nothing newer came (else a still screen would keep showing the one
    // before it).
    let mut unsent: Option<Arc<Frame>> = None;
    let mut last_sent_at = Duration::ZERO;
    let mut next = started;
    let mut frame = Some(Arc::new(first));
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let grabbed = match frame.take() {
            Some(f) => Some(f),
            None => grab()?.map(Arc::new),
        };
        counts.captured += u64::from(grabbed.is_some());
        let grabbed = match grabbed {
            Some(f) => {
                unsent = None;
                Some(f)
            }
            None => unsent.take(),
        };
        let at = started.elapsed();
        let due = at - last_sent_at >= Duration::from_secs(1);
        let send = match grabbed {
            Some(f) if due || last.as_ref().is_none_or(|l| l.image != f.image) => Some(f),
            // Nothing changed; once a second the last frame goes again.
            None if due => last.clone(),
            _ => None,
        };
        match send {
            None => counts.unchanged += 1,
            Some(f) => match tx.try_send((Arc::clone(&f), at)) {
                Ok(()) => {
                    last_sent_at = at;
                    last = Some(f);
                }
                Err(TrySendError::Full((f, _))) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                    unsent = Some(f);
                }
                Err(TrySendError::Disconnected(_)) => break,
            },
        }
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // Behind (capture slower than the rate): the missed ticks are
            // skipped, and count as dropped.
            let missed = (now - next).as_nanos() / period.as_nanos().max(1);
            dropped.fetch_add(missed as u64, Ordering::Relaxed);
            next = now;
        }
    }
    counts.dropped = dropped.load(Ordering::Relaxed);
    Ok(counts)
}

impl FrameStream {
    /// The next frame and when it was taken (since the start): `Ok(None)`
    /// when none came within `timeout`, `Err` once capturing has ended
    /// (stopped, or failed: [`FrameStream::stop`] says why).
    pub fn next(&self, timeout: Duration) -> Result<Option<(Arc<Frame>, Duration)>, Ended> {
        match self.frames.recv_timeout(timeout) {
            Ok(f) => Ok(Some(f)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Ended),
        }
    }

    /// Time since the stream started, on the clock frames are stamped by.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Frames dropped so far because the consumer was behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Stops capturing; answers the counts.
    pub fn stop(mut self) -> Result<Counts, CaptureError> {
        self.stop.store(true, Ordering::Relaxed);
        // Unblock nothing: the thread only try_sends, so it ends at its
        // next tick.
        self.thread
            .take()
            .expect("stopped once")
            .join()
            .expect("the capture thread does not panic")
    }
}
