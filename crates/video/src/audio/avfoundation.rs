//! macOS: the default input through FFmpeg's AVFoundation capture device
//! (libavdevice, linked on macOS only), decoded to interleaved `f32`.

use std::ffi::CString;
use std::sync::atomic::Ordering;

use ffmpeg::format::sample::{Sample, Type};
use ffmpeg::{codec, frame, media, Dictionary};
use ffmpeg_next as ffmpeg;

use super::{AudioFormat, Reading, MAX_WAITING_SECONDS};

/// Opens the default microphone.
pub(super) fn open_microphone() -> Result<(AudioFormat, Reading), String> {
    ffmpeg::init().map_err(|e| e.to_string())?;
    ffmpeg::device::register_all();
    // A missing device is expected, not worth FFmpeg's lines.
    ffmpeg::log::set_level(ffmpeg::log::Level::Quiet);
    let opened = open_device("avfoundation", ":default");
    ffmpeg::log::set_level(ffmpeg::log::Level::Error);
    opened
}

fn open_device(device: &str, url: &str) -> Result<(AudioFormat, Reading), String> {
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
    let reading = Reading::default();
    let (w, s) = (reading.waiting.clone(), reading.stop.clone());
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
    Ok((format, reading))
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
