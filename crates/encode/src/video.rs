//! Screen recordings to H.264 in fragmented MP4 (ffmpeg-next, libx264).
//!
//! The file is append-only: `empty_moov` writes the header up front and
//! every keyframe (a fixed GOP) starts a new fragment (moof + mdat) that
//! goes to disk as soon as it is complete, so the file plays up to its last
//! fragment at any moment, after a crash too, and its finished bytes can be
//! uploaded while recording goes on. Frames carry their own timestamps
//! (variable frame rate: a still screen sends few frames). Colours are
//! converted with BT.709 coefficients and tagged so; odd sizes lose their
//! last column or row (4:2:0 needs even sizes).

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{codec, color, encoder, format, frame, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

/// How to encode a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSettings {
    /// The frame rate frames are captured at (a hint for rate control).
    pub fps: u32,
    /// Seconds between keyframes, so between fragments.
    pub keyframe_seconds: u32,
    /// x264's constant rate factor: lower is better and bigger.
    pub crf: u8,
}

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            fps: 30,
            keyframe_seconds: 1,
            crf: 23,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("video encoding: {0}")]
    Ffmpeg(#[from] ffmpeg::Error),
    #[error("no H.264 encoder (libx264) in this FFmpeg; install one with libx264")]
    NoEncoder,
    #[error("a {width}x{height} recording is too small to encode (2x2 at least)")]
    TooSmall { width: u32, height: u32 },
    #[error("frame is {got} bytes, a {width}x{height} RGBA frame is {want}")]
    BadFrame {
        got: usize,
        want: usize,
        width: u32,
        height: u32,
    },
}

/// Milliseconds: the encoder's time base.
const TIME_BASE: (i32, i32) = (1, 1000);

/// A recording being written to a fragmented MP4 file.
pub struct Mp4Writer {
    output: format::context::Output,
    encoder: encoder::Video,
    scaler: scaling::Context,
    stream_time_base: Rational,
    /// The source size; the video's is this rounded down to even.
    source: (u32, u32),
    size: (u32, u32),
    rgba: frame::Video,
    yuv: frame::Video,
    last_pts: Option<i64>,
    last_key: Option<i64>,
    keyframe_ms: i64,
    frames: u64,
}

impl Mp4Writer {
    /// Creates `path` for `width` x `height` RGBA frames.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        settings: VideoSettings,
    ) -> Result<Mp4Writer, VideoError> {
        ffmpeg::init()?;
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
        let size = (width & !1, height & !1);
        if size.0 < 2 || size.1 < 2 {
            return Err(VideoError::TooSmall { width, height });
        }
        // The encoder first: no empty file is left when there is none.
        let codec = encoder::find_by_name("libx264").ok_or(VideoError::NoEncoder)?;
        let mut output = format::output_as(path, "mp4")?;
        let mut video = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()?;
        video.set_width(size.0);
        video.set_height(size.1);
        video.set_format(Pixel::YUV420P);
        video.set_time_base(Rational::new(TIME_BASE.0, TIME_BASE.1));
        video.set_frame_rate(Some(Rational::new(settings.fps as i32, 1)));
        // Keyframes are forced by time (see `push`); this is only a cap.
        video.set_gop(settings.fps * settings.keyframe_seconds.max(1) * 2);
        video.set_max_b_frames(0);
        video.set_colorspace(color::Space::BT709);
        video.set_color_range(color::Range::MPEG);
        if output
            .format()
            .flags()
            .contains(format::Flags::GLOBAL_HEADER)
        {
            video.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut options = Dictionary::new();
        options.set("preset", "veryfast");
        options.set("tune", "zerolatency");
        options.set("crf", &settings.crf.to_string());
        // As many threads as cores (the library's default is one, too
        // slow for 1080p at 30 fps on a small machine).
        options.set("threads", "auto");
        // A keyframe exactly every GOP, none at scene cuts: fixed fragments.
        options.set("sc_threshold", "0");
        options.set("forced-idr", "1");
        options.set("color_primaries", "bt709");
        options.set("color_trc", "bt709");
        let encoder = video.open_as_with(codec, options)?;
        let index = {
            let mut stream = output.add_stream(codec)?;
            stream.set_parameters(&encoder);
            stream.index()
        };
        let mut mux = Dictionary::new();
        mux.set(
            "movflags",
            "+frag_keyframe+empty_moov+default_base_moof+write_colr",
        );
        // Every packet is handed to the file at once: the header and each
        // finished fragment are on disk, not in a buffer, when we crash.
        mux.set("flush_packets", "1");
        output.write_header_with(mux)?;
        // The header too: a recording killed before its first fragment is
        // still a file that says what it is.
        // SAFETY: the output context is open and owns its I/O context.
        unsafe {
            ffmpeg::ffi::avio_flush((*output.as_mut_ptr()).pb);
        }
        let stream_time_base = output
            .stream(index)
            .expect("the stream just added")
            .time_base();
        let mut scaler = scaling::Context::get(
            Pixel::RGBA,
            size.0,
            size.1,
            Pixel::YUV420P,
            size.0,
            size.1,
            scaling::Flags::BILINEAR,
        )?;
        // swscale converts with BT.601 unless told otherwise.
        // SAFETY: the context is valid; the coefficient table is static.
        unsafe {
            let bt709 = ffmpeg::ffi::sws_getCoefficients(1);
            ffmpeg::ffi::sws_setColorspaceDetails(
                scaler.as_mut_ptr(),
                bt709,
                1,
                bt709,
                0,
                0,
                1 << 16,
                1 << 16,
            );
        }
        Ok(Mp4Writer {
            output,
            encoder,
            scaler,
            stream_time_base,
            source: (width, height),
            size,
            rgba: frame::Video::new(Pixel::RGBA, size.0, size.1),
            yuv: frame::Video::new(Pixel::YUV420P, size.0, size.1),
            last_pts: None,
            last_key: None,
            keyframe_ms: i64::from(settings.keyframe_seconds.max(1)) * 1000,
            frames: 0,
        })
    }

    /// The video's size (the source's, rounded down to even).
    pub fn size(&self) -> (u32, u32) {
        self.size
    }

    /// Frames encoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Encodes one RGBA frame of the source size, shown from `ms`
    /// milliseconds after the start.
    pub fn push(&mut self, rgba: &[u8], ms: i64) -> Result<(), VideoError> {
        let (sw, sh) = self.source;
        let want = sw as usize * sh as usize * 4;
        if rgba.len() != want {
            return Err(VideoError::BadFrame {
                got: rgba.len(),
                want,
                width: sw,
                height: sh,
            });
        }
        let row = self.size.0 as usize * 4;
        let stride = self.rgba.stride(0);
        let dst = self.rgba.data_mut(0);
        for y in 0..self.size.1 as usize {
            let from = y * sw as usize * 4;
            dst[y * stride..y * stride + row].copy_from_slice(&rgba[from..from + row]);
        }
        self.scaler.run(&self.rgba, &mut self.yuv)?;
        // Timestamps strictly increase.
        let pts = match self.last_pts {
            Some(last) if ms <= last => last + 1,
            _ => ms,
        };
        self.last_pts = Some(pts);
        self.yuv.set_pts(Some(pts));
        // A keyframe, so a new fragment, every `keyframe_seconds` of time,
        // however many frames that is (the frame rate varies).
        let key = self.last_key.is_none_or(|k| pts - k >= self.keyframe_ms);
        if key {
            self.last_key = Some(pts);
        }
        self.yuv.set_kind(if key {
            ffmpeg::picture::Type::I
        } else {
            ffmpeg::picture::Type::None
        });
        self.encoder.send_frame(&self.yuv)?;
        self.frames += 1;
        self.drain()
    }

    fn drain(&mut self) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    packet.rescale_ts(
                        Rational::new(TIME_BASE.0, TIME_BASE.1),
                        self.stream_time_base,
                    );
                    packet.write_interleaved(&mut self.output)?;
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Encodes what is left and closes the file.
    pub fn finish(mut self) -> Result<u64, VideoError> {
        self.encoder.send_eof()?;
        self.drain()?;
        self.output.write_trailer()?;
        Ok(self.frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, n: u32) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let (x, y) = (i % w, i / w);
                [
                    (x * 4 + n * 7) as u8,
                    (y * 5 + n * 3) as u8,
                    (x ^ y ^ n) as u8,
                    255,
                ]
            })
            .collect()
    }

    #[test]
    fn bytes_once_on_disk_never_change_so_they_can_be_uploaded_while_recording() {
        let dir = std::env::temp_dir().join(format!("dropcast-video-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("append.mp4");
        let (w, h) = (97, 65);
        let mut writer = Mp4Writer::create(&path, w, h, VideoSettings::default()).unwrap();
        assert_eq!(writer.size(), (96, 64), "odd sizes are cut to even");
        let mut seen = Vec::new();
        for n in 0..90u32 {
            writer.push(&frame(w, h, n), i64::from(n) * 33).unwrap();
            if n % 30 == 29 {
                seen.push(std::fs::read(&path).unwrap());
            }
        }
        assert_eq!(writer.finish().unwrap(), 90);
        let done = std::fs::read(&path).unwrap();
        assert!(
            seen.windows(2).all(|w| w[0].len() < w[1].len()),
            "fragments reach the disk while recording"
        );
        for prefix in &seen {
            assert!(
                done.starts_with(prefix),
                "the finished file starts with what was on disk earlier"
            );
            let mut cursor = std::io::Cursor::new(prefix);
            assert_eq!(
                crate::mp4::complete_length(&mut cursor, prefix.len() as u64).unwrap(),
                prefix.len() as u64,
                "what is on disk is whole fragments"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
