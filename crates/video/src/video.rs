//! Screen recordings to H.264 in fragmented MP4 (ffmpeg-next): a hardware
//! encoder when one opens, else libx264 (see [`ENCODERS`]).
//!
//! The file is append-only: `empty_moov` writes the header up front and
//! every keyframe (a fixed GOP) starts a new fragment (moof + mdat) that
//! goes to disk as soon as it is complete, so the file plays up to its last
//! fragment at any moment, after a crash too, and its finished bytes can be
//! uploaded while recording goes on. Frames carry their own timestamps
//! (variable frame rate: a still screen sends few frames). Colours are
//! converted with BT.709 coefficients and tagged so; odd sizes lose their
//! last column or row (4:2:0 needs even sizes). Sound from the microphone
//! ([`crate::audio`]), when asked for, goes in as a second track, AAC, kept
//! in step with the video's clock.

use std::path::Path;

use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
use ffmpeg::{codec, color, encoder, format, frame, ChannelLayout, Dictionary, Packet, Rational};
use ffmpeg_next as ffmpeg;

use crate::audio::AudioFormat;

/// How to encode a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoSettings {
    /// The frame rate frames are captured at (a hint for rate control).
    pub fps: u32,
    /// Seconds between keyframes, so between fragments.
    pub keyframe_seconds: u32,
    /// x264's constant rate factor: lower is better and bigger (NVENC's
    /// constant quality takes the same number).
    pub crf: u8,
    /// H.264 encoders to try, in order; the first that opens is used.
    pub encoders: &'static [&'static str],
    /// A sound track for samples of this format (see
    /// [`Mp4Writer::push_audio`]), or none.
    pub audio: Option<AudioFormat>,
}

/// Hardware encoders first (they use little CPU), then libx264, which is
/// always there. Each is tried at run time: one that is built in but has
/// no device (NVENC without an NVIDIA GPU, VAAPI without a render node
/// that encodes H.264, say) fails to open and the next is tried. VAAPI
/// takes its frames in GPU memory: each is uploaded (see [`HwUpload`]).
pub const ENCODERS: &[&str] = &[
    "h264_nvenc",
    "h264_vaapi",
    "h264_videotoolbox",
    "h264_mf",
    "libx264",
];

impl Default for VideoSettings {
    fn default() -> Self {
        VideoSettings {
            fps: 30,
            keyframe_seconds: 1,
            crf: 23,
            encoders: ENCODERS,
            audio: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error("video encoding: {0}")]
    Ffmpeg(#[from] ffmpeg::Error),
    #[error("no H.264 encoder opens here (tried {tried}); install an FFmpeg with libx264")]
    NoEncoder { tried: String },
    #[error("the video has no frames")]
    Empty,
    #[error("{0}")]
    Io(std::io::Error),
    #[error("GIF: {0}")]
    Gif(#[from] ::gif::EncodingError),
    #[error(
        "no microphone to record from ({tried}); plug one in or start the sound server, \
         or record without sound"
    )]
    NoMicrophone { tried: String },
    #[error(
        "no system sound to record ({why}); start the sound server (PulseAudio, or PipeWire \
         with pipewire-pulse), or record without --system-audio"
    )]
    NoSystemSound { why: String },
    #[error("the {what} stopped: {why}")]
    SoundStopped { what: &'static str, why: String },
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
    encoder_name: &'static str,
    fps: i64,
    /// The last packet out of the encoder, written when the next comes.
    held: Option<Packet>,
    audio: Option<AudioTrack>,
    /// Frames go to the GPU first (VAAPI).
    hw: Option<HwUpload>,
}

/// GPU frames for an encoder that takes nothing else (VAAPI): each NV12
/// frame is copied into one from the pool before it is sent.
struct HwUpload {
    frames: *mut ffmpeg::ffi::AVBufferRef,
}

impl HwUpload {
    /// A VAAPI device (the default render node) and a pool of NV12
    /// surfaces of `size` on it, set on `video`; None when there is no
    /// device.
    fn vaapi(video: &mut encoder::video::Video, size: (u32, u32)) -> Option<HwUpload> {
        use ffmpeg::ffi;
        // SAFETY: FFmpeg's hwcontext calls, each result checked; the
        // references made here are released on every path (the frames
        // context keeps its device alive, the codec context its frames).
        unsafe {
            let mut device = std::ptr::null_mut();
            if ffi::av_hwdevice_ctx_create(
                &mut device,
                ffi::AVHWDeviceType::AV_HWDEVICE_TYPE_VAAPI,
                std::ptr::null(),
                std::ptr::null_mut(),
                0,
            ) < 0
            {
                return None;
            }
            let mut frames = ffi::av_hwframe_ctx_alloc(device);
            ffi::av_buffer_unref(&mut device);
            if frames.is_null() {
                return None;
            }
            let ctx = (*frames).data as *mut ffi::AVHWFramesContext;
            (*ctx).format = ffi::AVPixelFormat::AV_PIX_FMT_VAAPI;
            (*ctx).sw_format = ffi::AVPixelFormat::AV_PIX_FMT_NV12;
            (*ctx).width = size.0 as i32;
            (*ctx).height = size.1 as i32;
            (*ctx).initial_pool_size = 20;
            if ffi::av_hwframe_ctx_init(frames) < 0 {
                ffi::av_buffer_unref(&mut frames);
                return None;
            }
            (*video.as_mut_ptr()).hw_frames_ctx = ffi::av_buffer_ref(frames);
            Some(HwUpload { frames })
        }
    }

    /// `frame` (NV12, with its time and kind) in a GPU surface.
    fn upload(&self, frame: &frame::Video) -> Result<frame::Video, VideoError> {
        use ffmpeg::ffi;
        let mut gpu = frame::Video::empty();
        // SAFETY: `gpu` is a fresh frame that takes a surface from the
        // pool; `frame` is a filled NV12 frame of the pool's size.
        unsafe {
            let e = ffi::av_hwframe_get_buffer(self.frames, gpu.as_mut_ptr(), 0);
            if e < 0 {
                return Err(ffmpeg::Error::from(e).into());
            }
            let e = ffi::av_hwframe_transfer_data(gpu.as_mut_ptr(), frame.as_ptr(), 0);
            if e < 0 {
                return Err(ffmpeg::Error::from(e).into());
            }
        }
        gpu.set_pts(frame.pts());
        gpu.set_kind(frame.kind());
        Ok(gpu)
    }
}

impl Drop for HwUpload {
    fn drop(&mut self) {
        // SAFETY: our one reference, released once.
        unsafe { ffmpeg::ffi::av_buffer_unref(&mut self.frames) };
    }
}

/// The sound track: AAC from interleaved `f32` samples.
struct AudioTrack {
    encoder: encoder::Audio,
    stream: usize,
    stream_time_base: Rational,
    format: AudioFormat,
    /// Samples per AAC frame.
    frame_size: usize,
    /// Samples not yet in a frame, interleaved.
    waiting: Vec<f32>,
    /// Samples (per channel) given to the encoder: the next frame's time.
    sent: i64,
    /// Samples were pushed (the track's start is set).
    started: bool,
}

/// Once started, sound may run this far ahead of or behind the video's
/// clock before it is cut or padded with silence: far more than a
/// device's bursts and jitter (tens of ms), so only a stalled microphone
/// or one whose clock ran off is corrected.
const AUDIO_SLACK_MS: i64 = 1000;

impl AudioTrack {
    fn open(format: AudioFormat) -> Result<(encoder::Audio, ffmpeg::Codec), VideoError> {
        let codec = encoder::find(codec::Id::AAC).ok_or(VideoError::NoEncoder {
            tried: "aac".into(),
        })?;
        let mut audio = codec::context::Context::new_with_codec(codec)
            .encoder()
            .audio()?;
        audio.set_rate(format.rate as i32);
        audio.set_channel_layout(ChannelLayout::default(i32::from(format.channels)));
        audio.set_format(format::Sample::F32(format::sample::Type::Planar));
        audio.set_bit_rate(64_000 * usize::from(format.channels));
        audio.set_time_base(Rational::new(1, format.rate as i32));
        audio.set_flags(codec::Flags::GLOBAL_HEADER);
        Ok((audio.open_as(codec)?, codec))
    }

    /// Samples (per channel) in the track so far, encoded or waiting.
    fn length(&self) -> i64 {
        self.sent + (self.waiting.len() / usize::from(self.format.channels)) as i64
    }

    /// Adds `samples` that end at `at_ms` of the video's clock. The first
    /// ones set where the track starts (silence before them, or those
    /// heard before the video started left out); after that samples follow
    /// each other, unless the track is more than [`AUDIO_SLACK_MS`] behind
    /// (silence first) or ahead (fewer of them).
    fn push(
        &mut self,
        output: &mut format::context::Output,
        samples: &[f32],
        at_ms: i64,
    ) -> Result<(), VideoError> {
        let ch = usize::from(self.format.channels);
        let rate = i64::from(self.format.rate);
        let want = at_ms * rate / 1000;
        let slack = if self.started {
            AUDIO_SLACK_MS * rate / 1000
        } else {
            0
        };
        self.started = true;
        let end = self.length() + (samples.len() / ch) as i64;
        let mut samples = &samples[..samples.len() / ch * ch];
        if end + slack < want {
            let silence = (want - end) as usize * ch;
            self.waiting.resize(self.waiting.len() + silence, 0.0);
        } else if end > want + slack {
            let cut = ((end - want) as usize * ch).min(samples.len());
            samples = &samples[cut..];
        }
        self.waiting.extend_from_slice(samples);
        self.encode(output, false)
    }

    /// Encodes every whole frame waiting (and, at the end, the rest).
    fn encode(
        &mut self,
        output: &mut format::context::Output,
        last: bool,
    ) -> Result<(), VideoError> {
        let ch = usize::from(self.format.channels);
        while self.waiting.len() >= self.frame_size * ch || (last && !self.waiting.is_empty()) {
            let n = (self.waiting.len() / ch).min(self.frame_size);
            let mut frame = frame::Audio::new(
                format::Sample::F32(format::sample::Type::Planar),
                n,
                ChannelLayout::default(i32::from(self.format.channels)),
            );
            frame.set_rate(self.format.rate);
            for c in 0..ch {
                let plane = frame.plane_mut::<f32>(c);
                for (i, sample) in plane.iter_mut().enumerate().take(n) {
                    *sample = self.waiting[i * ch + c];
                }
            }
            self.waiting.drain(..n * ch);
            frame.set_pts(Some(self.sent));
            self.sent += n as i64;
            self.encoder.send_frame(&frame)?;
            self.drain(output)?;
        }
        Ok(())
    }

    fn drain(&mut self, output: &mut format::context::Output) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(self.stream);
                    packet.rescale_ts(
                        Rational::new(1, self.format.rate as i32),
                        self.stream_time_base,
                    );
                    packet.write_interleaved(output)?;
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Ends the track at `end_ms` (silence to there, or cut there).
    fn finish_at(
        &mut self,
        output: &mut format::context::Output,
        end_ms: i64,
    ) -> Result<(), VideoError> {
        let ch = usize::from(self.format.channels);
        let want = end_ms * i64::from(self.format.rate) / 1000;
        let keep = (want - self.sent).max(0) as usize * ch;
        self.waiting.resize(keep, 0.0);
        self.encode(output, true)?;
        self.encoder.send_eof()?;
        self.drain(output)
    }
}

/// Opens the first of `settings.encoders` that this FFmpeg has and that
/// opens (has its device), for `size` frames; with the pixel format it
/// takes.
/// An open encoder, its codec, the pixel format frames are converted to,
/// its name, and the upload to the GPU it needs (if any).
type Opened = (
    encoder::Video,
    ffmpeg::Codec,
    Pixel,
    &'static str,
    Option<HwUpload>,
);

fn open_encoder(size: (u32, u32), settings: &VideoSettings) -> Result<Opened, VideoError> {
    for &name in settings.encoders {
        let Some(codec) = encoder::find_by_name(name) else {
            continue;
        };
        let formats: Vec<Pixel> = codec
            .video()
            .ok()
            .and_then(|v| v.formats().map(|f| f.collect()))
            .unwrap_or_default();
        let gpu = formats.contains(&Pixel::VAAPI);
        let Some(pixel) = [Pixel::YUV420P, Pixel::NV12]
            .into_iter()
            .find(|p| (gpu && *p == Pixel::NV12) || formats.is_empty() || formats.contains(p))
        else {
            continue;
        };
        let mut video = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()?;
        video.set_width(size.0);
        video.set_height(size.1);
        let hw = if gpu {
            // Quiet: no device here is the common case.
            ffmpeg::log::set_level(ffmpeg::log::Level::Quiet);
            let hw = HwUpload::vaapi(&mut video, size);
            ffmpeg::log::set_level(ffmpeg::log::Level::Error);
            match hw {
                Some(hw) => Some(hw),
                None => continue,
            }
        } else {
            None
        };
        video.set_format(if hw.is_some() { Pixel::VAAPI } else { pixel });
        video.set_time_base(Rational::new(TIME_BASE.0, TIME_BASE.1));
        video.set_frame_rate(Some(Rational::new(settings.fps as i32, 1)));
        // Keyframes are forced by time (see `push`); this is only a cap.
        video.set_gop(settings.fps * settings.keyframe_seconds.max(1) * 2);
        video.set_max_b_frames(0);
        video.set_colorspace(color::Space::BT709);
        video.set_color_range(color::Range::MPEG);
        // The MP4 muxer wants the codec's headers up front.
        video.set_flags(codec::Flags::GLOBAL_HEADER);
        let mut options = Dictionary::new();
        // A keyframe exactly when asked (every second), an IDR so each
        // starts a fragment that plays on its own.
        options.set("forced-idr", "1");
        options.set("color_primaries", "bt709");
        options.set("color_trc", "bt709");
        match name {
            "libx264" => {
                options.set("preset", "veryfast");
                options.set("tune", "zerolatency");
                options.set("crf", &settings.crf.to_string());
                // None at scene cuts either: fixed fragments.
                options.set("sc_threshold", "0");
                // Threads (the library's default is one, too slow for
                // 1080p at 30 fps on a small machine), each on a frame of
                // its own rather than slices of one: frames are encoded
                // while the next is captured and converted (zerolatency's
                // slices encode each before `push` returns). Each thread
                // holds a frame back, so at most 6: what is on disk, and
                // uploaded while recording, stays a few frames behind.
                options.set("threads", &x264_threads().to_string());
                options.set("x264-params", "sliced-threads=0");
            }
            "h264_vaapi" => {
                // Constant quality, the same number as x264's CRF.
                options.set("rc_mode", "CQP");
                options.set("qp", &settings.crf.to_string());
            }
            "h264_nvenc" => {
                options.set("preset", "p4");
                options.set("tune", "ll");
                options.set("rc", "vbr");
                options.set("cq", &settings.crf.to_string());
                options.set("zerolatency", "1");
            }
            _ => {
                // Others take a bit rate: about 0.1 bit a pixel.
                let rate = u64::from(size.0) * u64::from(size.1) * u64::from(settings.fps) / 10;
                video.set_bit_rate(rate as usize);
                options.set("realtime", "1");
            }
        }
        // A missing device is expected, not worth FFmpeg's error line.
        ffmpeg::log::set_level(ffmpeg::log::Level::Quiet);
        let opened = video.open_as_with(codec, options);
        ffmpeg::log::set_level(ffmpeg::log::Level::Error);
        match opened {
            Ok(encoder) => return Ok((encoder, codec, pixel, name, hw)),
            // Built in, but no device for it here: the next one.
            Err(_) => continue,
        }
    }
    Err(VideoError::NoEncoder {
        tried: settings.encoders.join(", "),
    })
}

/// x264's own choice for frame threads (one and a half per core), at
/// most 6.
fn x264_threads() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores * 3 / 2).clamp(1, 6)
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
        let (encoder, codec, pixel, name, hw) = open_encoder(size, &settings)?;
        let audio = settings.audio.map(AudioTrack::open).transpose()?;
        let mut output = format::output_as(path, "mp4")?;
        let index = {
            let mut stream = output.add_stream(codec)?;
            stream.set_parameters(&encoder);
            stream.index()
        };
        let audio_index = match &audio {
            Some((audio, codec)) => {
                let mut stream = output.add_stream(*codec)?;
                stream.set_parameters(audio);
                Some(stream.index())
            }
            None => None,
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
        let audio = match (audio, audio_index, settings.audio) {
            (Some((encoder, _)), Some(stream), Some(format)) => Some(AudioTrack {
                frame_size: (encoder.frame_size() as usize).max(1),
                encoder,
                stream,
                stream_time_base: output
                    .stream(stream)
                    .expect("the stream just added")
                    .time_base(),
                format,
                waiting: Vec::new(),
                sent: 0,
                started: false,
            }),
            _ => None,
        };
        let mut scaler = scaling::Context::get(
            Pixel::RGBA,
            size.0,
            size.1,
            pixel,
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
            yuv: frame::Video::new(pixel, size.0, size.1),
            encoder_name: name,
            fps: i64::from(settings.fps),
            held: None,
            audio,
            hw,
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

    /// The H.264 encoder in use (see [`ENCODERS`]).
    pub fn encoder_name(&self) -> &'static str {
        self.encoder_name
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
        match &self.hw {
            Some(hw) => {
                let gpu = hw.upload(&self.yuv)?;
                self.encoder.send_frame(&gpu)?
            }
            None => self.encoder.send_frame(&self.yuv)?,
        }
        self.frames += 1;
        self.drain()
    }

    /// Adds microphone samples (interleaved, in the format given at
    /// create) that end at `at_ms` of the recording: the sound track
    /// starts in step with the video and is kept within a second of it by
    /// silence or by cutting (see `AudioTrack::push`). Nothing without a
    /// sound track.
    pub fn push_audio(&mut self, samples: &[f32], at_ms: i64) -> Result<(), VideoError> {
        match &mut self.audio {
            Some(track) => track.push(&mut self.output, samples, at_ms),
            None => Ok(()),
        }
    }

    /// Writes the packets the encoder has ready. Each is held until the
    /// next one comes, which gives its duration (frames come at varying
    /// intervals); the last one's is set by [`Mp4Writer::finish_at`].
    fn drain(&mut self) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        loop {
            match self.encoder.receive_packet(&mut packet) {
                Ok(()) => {
                    packet.set_stream(0);
                    let next = std::mem::replace(&mut packet, Packet::empty());
                    if let Some(mut held) = self.held.replace(next) {
                        let until = self.held.as_ref().and_then(Packet::pts);
                        self.write(&mut held, until)?;
                    }
                }
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => {
                    return Ok(())
                }
                Err(ffmpeg::Error::Eof) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes `packet`, shown until `until` (ms) when known.
    fn write(&mut self, packet: &mut Packet, until: Option<i64>) -> Result<(), VideoError> {
        if let (Some(pts), Some(until)) = (packet.pts(), until) {
            packet.set_duration((until - pts).max(1));
        }
        packet.rescale_ts(
            Rational::new(TIME_BASE.0, TIME_BASE.1),
            self.stream_time_base,
        );
        packet.write_interleaved(&mut self.output)?;
        Ok(())
    }

    /// Encodes what is left and closes the file; the last frame is shown
    /// one frame interval.
    pub fn finish(self) -> Result<u64, VideoError> {
        let end = self.last_pts.map(|p| p + 1000 / self.fps.max(1));
        self.finish_at(end.unwrap_or(0))
    }

    /// Encodes what is left and closes the file, the last frame shown until
    /// `end_ms` (the video lasts as long as the recording, however long the
    /// screen was still before the stop).
    pub fn finish_at(mut self, end_ms: i64) -> Result<u64, VideoError> {
        self.encoder.send_eof()?;
        self.drain()?;
        if let Some(mut last) = self.held.take() {
            let end = end_ms.max(last.pts().unwrap_or(0) + 1);
            self.write(&mut last, Some(end))?;
        }
        if let Some(track) = &mut self.audio {
            track.finish_at(&mut self.output, end_ms)?;
        }
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
    fn encoders_that_are_missing_or_have_no_device_are_passed_over() {
        let dir = std::env::temp_dir().join(format!("dropcast-probe-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("probe.mp4");
        let tried: &'static [&'static str] =
            &["no_such_encoder", "h264_vaapi", "h264_nvenc", "libx264"];
        let settings = VideoSettings {
            encoders: tried,
            ..VideoSettings::default()
        };
        let mut writer = Mp4Writer::create(&path, 64, 48, settings).unwrap();
        // The first that opens on this machine: a GPU's encoder where there
        // is one, else libx264. Each passed over does not open alone.
        let chosen = writer.encoder_name().to_string();
        let at = tried
            .iter()
            .position(|e| *e == chosen)
            .expect("one of those tried");
        assert!(at > 0, "the missing encoder was not passed over");
        writer.push(&frame(64, 48, 0), 0).unwrap();
        assert_eq!(writer.finish().unwrap(), 1);
        for passed_over in &tried[..at] {
            let alone = VideoSettings {
                encoders: std::slice::from_ref(passed_over),
                ..VideoSettings::default()
            };
            let opened = Mp4Writer::create(&dir.join("alone.mp4"), 64, 48, alone);
            assert!(
                opened.is_err(),
                "{passed_over} opens, yet {chosen} was chosen"
            );
        }
        // libx264 is always there to fall back on.
        let software = VideoSettings {
            encoders: &["no_such_encoder", "libx264"],
            ..VideoSettings::default()
        };
        let writer = Mp4Writer::create(&dir.join("x264.mp4"), 64, 48, software).unwrap();
        assert_eq!(writer.encoder_name(), "libx264");
        let none = VideoSettings {
            encoders: &["no_such_encoder"],
            ..VideoSettings::default()
        };
        let e = Mp4Writer::create(&dir.join("none.mp4"), 64, 48, none)
            .err()
            .expect("no encoder");
        assert!(e.to_string().contains("no_such_encoder"), "{e}");
        assert!(!dir.join("none.mp4").exists(), "no empty file is left");
        std::fs::remove_dir_all(&dir).unwrap();
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
                dropcast_encode::mp4::complete_length(&mut cursor, prefix.len() as u64).unwrap(),
                prefix.len() as u64,
                "what is on disk is whole fragments"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Decoded sound of `path`: samples of its first channel.
    fn sound_of(path: &Path) -> Vec<f32> {
        let mut input = ffmpeg::format::input(path).unwrap();
        let stream = input
            .streams()
            .best(ffmpeg::media::Type::Audio)
            .expect("a sound track");
        let index = stream.index();
        let mut decoder = codec::context::Context::from_parameters(stream.parameters())
            .unwrap()
            .decoder()
            .audio()
            .unwrap();
        let mut samples = Vec::new();
        let mut frame = frame::Audio::empty();
        for (stream, packet) in input.packets() {
            if stream.index() == index {
                decoder.send_packet(&packet).unwrap();
                while decoder.receive_frame(&mut frame).is_ok() {
                    samples.extend_from_slice(&frame.plane::<f32>(0)[..frame.samples()]);
                }
            }
        }
        samples
    }

    #[test]
    fn sound_that_starts_late_or_runs_ahead_is_kept_in_step_with_the_video() {
        let dir = std::env::temp_dir().join(format!("dropcast-sound-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sound.mp4");
        let format = AudioFormat {
            rate: 48_000,
            channels: 2,
        };
        let settings = VideoSettings {
            fps: 10,
            audio: Some(format),
            ..VideoSettings::default()
        };
        let mut writer = Mp4Writer::create(&path, 64, 48, settings).unwrap();
        // A 440 Hz tone in 20 ms pieces: the first arrives at 500 ms, the
        // microphone stalls from 1.5 s to 3 s, then sends 2 s of sound at
        // once at 3.6 s, as if its clock ran fast.
        let tone = |from: usize, n: usize| -> Vec<f32> {
            (from..from + n)
                .flat_map(|i| {
                    let v = (i as f32 * 440.0 * std::f32::consts::TAU / 48_000.0).sin() * 0.5;
                    [v, v]
                })
                .collect()
        };
        let mut given = 0;
        for n in 0..40u32 {
            let ms = i64::from(n) * 100;
            writer.push(&frame(64, 48, n), ms).unwrap();
            if (500..1500).contains(&ms) || (3000..3500).contains(&ms) {
                for piece in 0..5 {
                    writer
                        .push_audio(&tone(given, 960), ms + 20 * (piece + 1))
                        .unwrap();
                    given += 960;
                }
            }
        }
        writer.push_audio(&tone(given, 96_000), 3600).unwrap();
        writer.finish_at(4000).unwrap();

        let file = std::fs::read(&path).unwrap();
        let mut cursor = std::io::Cursor::new(&file);
        assert_eq!(
            dropcast_encode::mp4::complete_length(&mut cursor, file.len() as u64).unwrap(),
            file.len() as u64,
            "the file is whole fragments, sound and video"
        );
        let sound = sound_of(&path);
        let seconds = sound.len() as f32 / 48_000.0;
        // AAC adds up to one frame of its own start-up delay.
        assert!((4.0..4.05).contains(&seconds), "{seconds} s of sound");
        let loud = |from: f32, to: f32| {
            let part = &sound[(from * 48_000.0) as usize..(to * 48_000.0) as usize];
            (part.iter().map(|v| v * v).sum::<f32>() / part.len() as f32).sqrt()
        };
        assert!(loud(0.05, 0.45) < 0.01, "silence before the first sound");
        assert!(loud(0.6, 1.4) > 0.3, "the tone while it came");
        assert!(
            loud(1.6, 2.9) < 0.01,
            "silence while the microphone stalled"
        );
        assert!(loud(3.05, 3.55) > 0.3, "the tone again, in step");
        assert!(
            loud(3.7, 3.95) < 0.01,
            "what ran ahead is cut, silence to the end"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
