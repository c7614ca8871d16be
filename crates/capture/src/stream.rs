//! A stream of frames of one target at a steady rate, for recordings.
//!
//! A thread captures every `1/fps` s and hands frames over a channel that
//! holds two: when the consumer (the encoder) falls behind, new frames are
//! dropped and counted, so memory never grows. A frame identical to the
//! last one sent is not sent again (the recording is variable frame rate:
//! a still screen costs almost nothing), except once a second so the
//! recording keeps moving.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{repeating, CaptureError, Frame, Options, Target};

/// How a stream went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Frames captured.
    pub captured: u64,
    /// Frames not sent: the same as the one before.
    pub unchanged: u64,
    /// Frames dropped because the consumer was behind.
    pub dropped: u64,
}

/// Capturing has ended (see [`FrameStream::stop`] for why).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended;

pub struct FrameStream {
    frames: Receiver<(Frame, Duration)>,
    stop: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<Counts, CaptureError>>>,
}

/// Starts capturing `target` `fps` times a second. The first frame is
/// taken before this returns, so a bad target fails here.
pub fn stream(target: Target, fps: u32, options: Options) -> Result<FrameStream, CaptureError> {
    let mut grab = repeating(target, options)?;
    let first = grab()?;
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
        frames: rx,
        stop,
        dropped,
        thread: Some(thread),
    })
}

fn run(
    mut grab: Box<dyn FnMut() -> Result<Frame, CaptureError> + Send>,
    fps: u32,
    first: Frame,
    started: Instant,
    tx: SyncSender<(Frame, Duration)>,
    stop: &AtomicBool,
    dropped: &AtomicU64,
) -> Result<Counts, CaptureError> {
    let period = Duration::from_secs(1) / fps;
    let mut counts = Counts {
        captured: 1,
        ..Counts::default()
    };
    let mut last: Option<Frame> = None;
    let mut last_sent_at = Duration::ZERO;
    let mut next = started;
    let mut frame = Some(first);
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let f = match frame.take() {
            Some(f) => f,
            None => {
                let f = grab()?;
                counts.captured += 1;
                f
            }
        };
        let at = started.elapsed();
        let unchanged = last.as_ref().is_some_and(|l| l.image == f.image)
            && at - last_sent_at < Duration::from_secs(1);
        if unchanged {
            counts.unchanged += 1;
        } else {
            match tx.try_send((f.clone(), at)) {
                Ok(()) => {
                    last_sent_at = at;
                    last = Some(f);
                }
                Err(TrySendError::Full(_)) => {
                    dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Disconnected(_)) => break,
            }
        }
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else {
            // Behind (capture slower than the rate): skip the missed ticks.
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
    pub fn next(&self, timeout: Duration) -> Result<Option<(Frame, Duration)>, Ended> {
        match self.frames.recv_timeout(timeout) {
            Ok(f) => Ok(Some(f)),
            Err(mpsc::RecvTimeoutError::Timeout) => Ok(None),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Ended),
        }
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
