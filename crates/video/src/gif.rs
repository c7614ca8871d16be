//! Short recordings as animated GIFs, made from the recording's MP4.
//!
//! Two passes over the decoded video: the first samples pixels of every
//! frame to choose one 256-colour palette for the whole clip (NeuQuant),
//! so colours do not flicker from frame to frame; the second maps each
//! frame to it. The GIF runs at a fixed `fps`: each of its frames is the
//! video's latest frame at that time (a recording's frames come at varying
//! intervals), scaled to at most `max_width` pixels wide.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{codec, format, frame, media};
use ffmpeg_next as ffmpeg;

use crate::video::VideoError;

/// How a GIF is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GifSettings {
    /// Frames per second, at most.
    pub fps: u32,
    /// Wider videos are scaled down to this.
    pub max_width: u32,
}

impl Default for GifSettings {
    fn default() -> Self {
        GifSettings {
            fps: 15,
            max_width: 800,
        }
    }
}

/// Samples kept for the palette, at most (bytes of RGBA).
const MAX_SAMPLES: usize = 4 << 20;

/// Writes the video at `mp4` as an animated GIF at `gif`; answers the
/// number of frames written.
pub fn mp4_to_gif(mp4: &Path, gif: &Path, settings: GifSettings) -> Result<u64, VideoError> {
    let fps = settings.fps.clamp(1, 50);
    // Pass 1: a palette from pixels of every frame, every `step`th pixel
    // (the step doubles whenever the samples outgrow their budget).
    let mut samples = Vec::new();
    let mut step = 7usize;
    let (width, height) = decode(mp4, settings.max_width, fps, |rgba, _| {
        samples.extend(rgba.chunks_exact(4).step_by(step).flatten());
        if samples.len() > MAX_SAMPLES {
            samples = samples
                .chunks_exact(4)
                .step_by(2)
                .flatten()
                .copied()
                .collect();
            step *= 2;
        }
    })?;
    if samples.is_empty() {
        return Err(VideoError::Empty);
    }
    let quant = color_quant::NeuQuant::new(10, 256, &samples);
    drop(samples);

    // Pass 2: every frame mapped to the palette, each shown until the next.
    let file = std::fs::File::create(gif).map_err(VideoError::Io)?;
    let mut encoder = ::gif::Encoder::new(
        std::io::BufWriter::new(file),
        width as u16,
        height as u16,
        &quant.color_map_rgb(),
    )?;
    encoder.set_repeat(::gif::Repeat::Infinite)?;
    let mut pending: Option<(Vec<u8>, i64)> = None;
    let mut written = 0u64;
    let mut error = None;
    let mut write = |indices: &[u8], from_ms: i64, to_ms: i64| {
        // Delays in hundredths, rounded on the timeline so they add up.
        let delay = (to_ms.div_euclid(10) - from_ms.div_euclid(10)).clamp(2, u16::MAX as i64);
        let frame = ::gif::Frame {
            width: width as u16,
            height: height as u16,
            delay: delay as u16,
            buffer: std::borrow::Cow::Borrowed(indices),
            ..Default::default()
        };
        if let Err(e) = encoder.write_frame(&frame) {
            error.get_or_insert(e);
        }
        written += 1;
    };
    let mut last_ms = 0;
    decode(mp4, settings.max_width, fps, |rgba, ms| {
        let indices: Vec<u8> = rgba
            .chunks_exact(4)
            .map(|px| quant.index_of(px) as u8)
            .collect();
        if let Some((previous, at)) = pending.replace((indices, ms)) {
            write(&previous, at, ms);
        }
        last_ms = ms;
    })?;
    if let Some((last, at)) = pending.take() {
        // The last frame is shown as long as the others.
        write(&last, at, last_ms + 1000 / i64::from(fps));
    }
    if let Some(e) = error {
        return Err(e.into());
    }
    // The trailer, and the buffer flushed: a GIF cut short is an error,
    // never a file passed on as whole.
    encoder
        .into_inner()?
        .into_inner()
        .map_err(|e| VideoError::Io(e.into_error()))?
        .sync_all()
        .map_err(VideoError::Io)?;
    Ok(written)
}

/// Decodes the first video stream of `path`, scaled to at most
/// `max_width` wide (even sizes), calling `each` with tight RGBA rows and
/// the frame's time in milliseconds, at most `fps` frames a second;
/// answers the size.
fn decode(
    path: &Path,
    max_width: u32,
    fps: u32,
    mut each: impl FnMut(&[u8], i64),
) -> Result<(u32, u32), VideoError> {
    ffmpeg::init()?;
    let mut input = format::input(path)?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or(VideoError::Empty)?;
    let index = stream.index();
    let time_base = stream.time_base();
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())?
        .decoder()
        .video()?;
    let (w, h) = (decoder.width(), decoder.height());
    let scale = (max_width.max(2) as f64 / w.max(1) as f64).min(1.0);
    let out = (
        ((w as f64 * scale) as u32 & !1).max(2),
        ((h as f64 * scale) as u32 & !1).max(2),
    );
    let mut scaler = scaling::Context::get(
        decoder.format(),
        w,
        h,
        Pixel::RGBA,
        out.0,
        out.1,
        scaling::Flags::AREA,
    )?;
    // The GIF runs at a fixed rate: each slot shows the latest frame at
    // or before its time (a recording's frames come at varying intervals).
    let slot = 1000.0 / f64::from(fps);
    let end_ms = (input.duration().max(0) as f64) / 1000.0;
    let mut emitted = 0u64;
    let mut current: Vec<u8> = Vec::with_capacity(out.0 as usize * out.1 as usize * 4);
    let mut have_current = false;
    let mut rgba = frame::Video::empty();
    let mut decoded = frame::Video::empty();
    let mut emit_until = |limit_ms: f64, current: &[u8], emitted: &mut u64| {
        // Slots before `limit_ms` (a little tolerance for rounded times).
        while (*emitted as f64) * slot < limit_ms - 1.0 {
            each(current, ((*emitted as f64) * slot).round() as i64);
            *emitted += 1;
        }
    };
    let mut receive = |decoder: &mut ffmpeg::decoder::Video,
                       current: &mut Vec<u8>,
                       have_current: &mut bool,
                       emitted: &mut u64|
     -> Result<(), VideoError> {
        while decoder.receive_frame(&mut decoded).is_ok() {
            let pts = decoded.timestamp().or(decoded.pts()).unwrap_or(0);
            let ms = pts as f64 * f64::from(time_base.numerator())
                / f64::from(time_base.denominator().max(1))
                * 1000.0;
            if *have_current {
                emit_until(ms, current, emitted);
            }
            scaler.run(&decoded, &mut rgba)?;
            let row = out.0 as usize * 4;
            let stride = rgba.stride(0);
            current.clear();
            for y in 0..out.1 as usize {
                current.extend_from_slice(&rgba.data(0)[y * stride..y * stride + row]);
            }
            *have_current = true;
        }
        Ok(())
    };
    for (stream, packet) in input.packets() {
        if stream.index() == index {
            decoder.send_packet(&packet)?;
            receive(&mut decoder, &mut current, &mut have_current, &mut emitted)?;
        }
    }
    decoder.send_eof()?;
    receive(&mut decoder, &mut current, &mut have_current, &mut emitted)?;
    if have_current {
        // The last frame fills the slots to the end of the video (one
        // slot when the video does not say how long it is).
        let end = if end_ms > 0.0 {
            end_ms
        } else {
            emitted as f64 * slot + 1.5
        };
        emit_until(end, &current, &mut emitted);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::{Mp4Writer, VideoSettings};

    #[test]
    fn a_clip_becomes_a_looping_gif_at_its_rate_with_one_palette_and_its_length() {
        let dir = std::env::temp_dir().join(format!("dropcast-gif-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mp4, gif) = (dir.join("clip.mp4"), dir.join("clip.gif"));
        let (w, h) = (320, 180);
        let mut writer = Mp4Writer::create(&mp4, w, h, VideoSettings::default()).unwrap();
        // 2 s at 30 fps: a bar moving across a two-colour background.
        for n in 0..60u32 {
            let rgba: Vec<u8> = (0..w * h)
                .flat_map(|i| {
                    let (x, y) = (i % w, i / w);
                    if x / 8 == n % 40 {
                        [250, 250, 250, 255]
                    } else if y < h / 2 {
                        [200, 30, 30, 255]
                    } else {
                        [30, 30, 200, 255]
                    }
                })
                .collect();
            writer.push(&rgba, i64::from(n) * 1000 / 30).unwrap();
        }
        writer.finish().unwrap();
        let frames = mp4_to_gif(
            &mp4,
            &gif,
            GifSettings {
                fps: 15,
                max_width: 160,
            },
        )
        .unwrap();
        assert_eq!(frames, 30, "2 s at 15 fps");

        let mut options = ::gif::DecodeOptions::new();
        options.set_color_output(::gif::ColorOutput::Indexed);
        let mut decoder = options
            .read_info(std::fs::File::open(&gif).unwrap())
            .unwrap();
        assert_eq!((decoder.width(), decoder.height()), (160, 90));
        assert!(decoder.global_palette().is_some(), "one palette");
        let (mut count, mut hundredths) = (0, 0u32);
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert!(frame.palette.is_none(), "no palette per frame");
            count += 1;
            hundredths += u32::from(frame.delay);
        }
        assert_eq!(count, 30);
        assert!(
            (195..=205).contains(&hundredths),
            "it lasts 2 s: {hundredths}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
