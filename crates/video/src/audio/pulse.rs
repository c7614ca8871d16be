//! Linux: sound from the sound server through libpulse-simple (PulseAudio
//! itself, or PipeWire's pulse server), which converts whatever the device
//! gives to 48 kHz stereo `f32`.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::atomic::Ordering;

use super::{AudioFormat, Input, Reading};

/// What every source is read as.
const FORMAT: AudioFormat = AudioFormat {
    rate: 48_000,
    channels: 2,
};

/// Read in 20 ms pieces: a sound server's default can be seconds.
const PIECE_SAMPLES: usize = FORMAT.rate as usize / 50 * FORMAT.channels as usize;

#[repr(C)]
struct SampleSpec {
    format: c_int,
    rate: u32,
    channels: u8,
}

#[repr(C)]
struct BufferAttr {
    maxlength: u32,
    tlength: u32,
    prebuf: u32,
    minreq: u32,
    fragsize: u32,
}

/// `pa_simple`, opaque.
#[repr(C)]
struct Simple {
    _private: [u8; 0],
}

const PA_STREAM_RECORD: c_int = 2;
const PA_SAMPLE_FLOAT32LE: c_int = 5;

// Linked by build.rs (pkg-config: libpulse-simple, which brings libpulse).
unsafe extern "C" {
    fn pa_simple_new(
        server: *const c_char,
        name: *const c_char,
        dir: c_int,
        dev: *const c_char,
        stream_name: *const c_char,
        ss: *const SampleSpec,
        map: *const c_void,
        attr: *const BufferAttr,
        error: *mut c_int,
    ) -> *mut Simple;
    fn pa_simple_read(s: *mut Simple, data: *mut c_void, bytes: usize, error: *mut c_int) -> c_int;
    fn pa_simple_free(s: *mut Simple);
}

unsafe extern "C" {
    fn pa_strerror(error: c_int) -> *const c_char;
}

fn error_text(error: c_int) -> String {
    // SAFETY: pa_strerror answers a static string, or NULL for an unknown
    // code.
    let text = unsafe { pa_strerror(error) };
    if text.is_null() {
        format!("error {error}")
    } else {
        // SAFETY: non-NULL: a NUL-terminated static string.
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }
}

/// A connection to the sound server, used by one thread at a time.
struct Stream(*mut Simple);

// SAFETY: a pa_simple may move between threads; it is only ever used by
// the one that owns this value.
unsafe impl Send for Stream {}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: made by pa_simple_new, freed once, here.
        unsafe { pa_simple_free(self.0) }
    }
}

/// Opens `input` on the sound server (PULSE_SERVER, else the session's)
/// and starts reading it on a thread of its own.
pub(super) fn open(input: Input) -> Result<(AudioFormat, Reading), String> {
    // The default source, or the default sink's monitor.
    let device: Option<&CStr> = match input {
        Input::Microphone => None,
        Input::System => Some(c"@DEFAULT_MONITOR@"),
    };
    let spec = SampleSpec {
        format: PA_SAMPLE_FLOAT32LE,
        rate: FORMAT.rate,
        channels: FORMAT.channels as u8,
    };
    let attr = BufferAttr {
        maxlength: u32::MAX,
        tlength: u32::MAX,
        prebuf: u32::MAX,
        minreq: u32::MAX,
        fragsize: (PIECE_SAMPLES * 4) as u32,
    };
    let mut error = 0;
    // SAFETY: every pointer is valid for the call (NUL-terminated strings,
    // structs that outlive it) or NULL where the API allows it.
    let simple = unsafe {
        pa_simple_new(
            std::ptr::null(),
            c"Dropcast".as_ptr(),
            PA_STREAM_RECORD,
            device.map_or(std::ptr::null(), CStr::as_ptr),
            c"recording".as_ptr(),
            &spec,
            std::ptr::null(),
            &attr,
            &mut error,
        )
    };
    if simple.is_null() {
        return Err(format!("the sound server: {}", error_text(error)));
    }
    let stream = Stream(simple);
    let reading = Reading::default();
    let r = reading.clone();
    std::thread::Builder::new()
        .name(format!("dropcast-{}", input.name().replace(' ', "-")))
        .spawn(move || {
            let stream = stream;
            let mut piece = vec![0f32; PIECE_SAMPLES];
            while !r.stop.load(Ordering::Relaxed) {
                let mut error = 0;
                // SAFETY: `piece` is PIECE_SAMPLES f32s long, which is the
                // byte count given; the stream is open and this thread's.
                let read = unsafe {
                    pa_simple_read(
                        stream.0,
                        piece.as_mut_ptr().cast(),
                        piece.len() * 4,
                        &mut error,
                    )
                };
                if read < 0 {
                    return r.fail(format!("it went away ({})", error_text(error)));
                }
                r.add(&piece, FORMAT);
            }
        })
        .map_err(|e| e.to_string())?;
    Ok((FORMAT, reading))
}
