//! Microphone sound for recordings. The system's default input is read
//! through FFmpeg's capture devices (PulseAudio on Linux, which PipeWire
//! serves too; AVFoundation on macOS) on a thread of its own, and
//! handed to the recorder as interleaved `f32` samples in the device's own
//! rate and channels; [`crate::video::Mp4Writer`] encodes them to AAC next
//! to the video. Windows' DirectShow needs a device's name and is not done.

use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ffmpeg::format::sample::{Sample, Type};
use ffmpeg::{codec, frame, media, Dictionary};
use ffmpeg_next as ffmpeg;

use crate::video::VideoError;

/// Samples a second and channels (1 or 2) of a sound track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub rate: u32,
    pub channels: u16,
}

/// The capture devices tried, in order: FFmpeg's input format and the
/// device it opens.
#[cfg(target_os = "linux")]
const DEVICES: &[(&str, &str)] = &[("pulse", "default")];
#[cfg(target_os = "macos")]
const DEVICES: &[(&str, &str)] = &[("avfoundation", ":default")];
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
const DEVICES: &[(&str, &str)] = &[];

/// At most this many seconds of sound wait for the recorder; older sound
/// goes first (the recorder takes it every few milliseconds).
const MAX_WAITING_SECONDS: usize = 10;

/// The microphone, open and being read.
pub struct Microphone {
    format: AudioFormat,
    source: String,
    waiting: Arc<Mutex<Waiting>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Waiting {
    samples: Vec<f32>,
    error: Option<String>,
}

impl Microphone {
    /// Opens the default input, the first of the devices that opens.
    pub fn open() -> Result<Microphone, VideoError> {
        ffmpeg::init()?;
        ffmpeg::device::register_all();
        let mut tried = Vec::new();
        for (device, url) in DEVICES {
            // A missing sound server is expected, not worth FFmpeg's lines.
            ffmpeg::log::set_level(ffmpeg::log::Level::Quiet);
            let opened = open_device(device, url);
            ffmpeg::log::set_level(ffmpeg::log::Level::Error);
            match opened {
                Ok(m) => return Ok(m),
                Err(e) => tried.push(format!("{device} {url}: {e}")),
            }
        }
        Err(VideoError::NoMicrophone {
            tried: if tried.is_empty() {
                "no capture device on this system".into()
            } else {
                tried.join("; ")
            },
        })
    }

    /// The sound's rate and channels.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// Which device this is ("pulse default").
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The samples read since the last call (interleaved), or why the
    /// microphone stopped.
    pub fn take(&self) -> Result<Vec<f32>, VideoError> {
        let mut waiting = self.waiting.lock().expect("the microphone's lock");
        if let Some(e) = waiting.error.take() {
            return Err(VideoError::Microphone(e));
        }
        Ok(std::mem::take(&mut waiting.samples))
    }
}

impl Drop for Microphone {
    fn drop(&mut self) {
        // The reading thread sees it at its next packet (a few ms).
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn open_device(device: &str, url: &str) -> Result<Microphone, String> {
    let name = CString::new(device).expect("a device name has no NUL");
    // SAFETY: looks up a static table by a NUL-terminated name.
    let found = unsafe { ffmpeg::ffi::av_find_input_format(name.as_ptr()) };
    if found.is_null() {
        return Err("not in this FFmpeg".into());
    }
    // SAFETY: the format is a static FFmpeg table entry, never freed.
    let format = ffmpeg::Format::Input(unsafe { ffmpeg::format::Input::wrap(found as *mut _) });
    let mut options = Dictionary::new();
    options.set("sample_rate", "48000");
    options.set("channels", "2");
    // Sound in 20 ms pieces (the server's default can be seconds).
    options.set("fragment_size", "3840");
    let mut input = match ffmpeg::format::open_with(url, &format, options) {
        Ok(ffmpeg::format::context::Context::Input(input)) => input,
        Ok(_) => return Err("not an input".into()),
        Err(e) => return Err(e.to_string()),
    };
    let stream = input
        .streams()
        .best(media::Type::Audio)
        .ok_or("no sound in it")?;
    let index = stream.index();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().audio())
        .map_err(|e| e.to_string())?;
    let format = AudioFormat {
        rate: decoder.rate(),
        channels: decoder.channels(),
    };
    if format.rate == 0 || !(1..=2).contains(&format.channels) {
        return Err(format!(
            "it gives {} channels at {} Hz; only mono or stereo is recorded",
            format.channels, format.rate
        ));
    }
    let waiting = Arc::new(Mutex::new(Waiting::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let (w, s) = (waiting.clone(), stop.clone());
    let most = format.rate as usize * usize::from(format.channels) * MAX_WAITING_SECONDS;
    std::thread::Builder::new()
        .name("dropcast-microphone".into())
        .spawn(move || {
            let mut decoded = frame::Audio::empty();
            let mut samples = Vec::new();
            let failed = |e: String| w.lock().expect("the microphone's lock").error = Some(e);
            let mut packet = ffmpeg::Packet::empty();
            loop {
                if s.load(Ordering::Relaxed) {
                    return;
                }
                match packet.read(&mut input) {
                    Ok(()) => {}
                    // A damaged packet: the device goes on after it.
                    Err(ffmpeg::Error::InvalidData) => continue,
                    Err(e) => return failed(format!("it went away ({e})")),
                }
                if packet.stream() != index {
                    continue;
                }
                if let Err(e) = decoder.send_packet(&packet) {
                    return failed(e.to_string());
                }
                while decoder.receive_frame(&mut decoded).is_ok() {
                    samples.clear();
                    if let Err(e) = interleave(&decoded, format.channels, &mut samples) {
                        return failed(e);
                    }
                    let mut waiting = w.lock().expect("the microphone's lock");
                    waiting.samples.extend_from_slice(&samples);
                    let over = waiting.samples.len().saturating_sub(most);
                    waiting.samples.drain(..over);
                }
            }
        })
        .map_err(|e| e.to_string())?;
    Ok(Microphone {
        format,
        source: format!("{device} {url}"),
        waiting,
        stop,
    })
}

/// Appends `frame`'s samples to `out` as interleaved `f32` in -1..1.
fn interleave(frame: &frame::Audio, channels: u16, out: &mut Vec<f32>) -> Result<(), String> {
    let n = frame.samples();
    let ch = usize::from(channels);
    let packed = |bytes: usize| &frame.data(0)[..n * ch * bytes];
    match frame.format() {
        Sample::I16(Type::Packed) => out.extend(
            packed(2)
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_ne_bytes([b[0], b[1]])) / 32768.0),
        ),
        Sample::I32(Type::Packed) => out.extend(
            packed(4)
                .chunks_exact(4)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as f32 / 2_147_483_648.0),
        ),
        Sample::F32(Type::Packed) => out.extend(
            packed(4)
                .chunks_exact(4)
                .map(|b| f32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        ),
        Sample::F32(Type::Planar) => {
            for i in 0..n {
                for c in 0..ch {
                    out.push(frame.plane::<f32>(c)[i]);
                }
            }
        }
        Sample::I16(Type::Planar) => {
            for i in 0..n {
                for c in 0..ch {
                    out.push(f32::from(frame.plane::<i16>(c)[i]) / 32768.0);
                }
            }
        }
        other => return Err(format!("the microphone gives samples as {other:?}")),
    }
    Ok(())
}
