//! Sound for recordings: the default microphone, what the computer plays
//! (the default output's monitor), or both mixed.
//!
//! On Linux both come from the sound server through libpulse-simple
//! (PulseAudio, or PipeWire's pipewire-pulse), which hands over 48 kHz
//! stereo `f32` whatever the device's own format: no FFmpeg capture device
//! (libavdevice pulls in libavfilter and a long tail of libraries the
//! recorder never uses). macOS reads the microphone through FFmpeg's
//! AVFoundation device; Windows has no sound input yet.
//!
//! Each [`Source`] is read on a thread of its own into a queue that the
//! recorder empties every few milliseconds; a [`Mix`] adds sources
//! together and hands [`crate::video::Mp4Writer`] one stream of
//! interleaved samples to encode to AAC next to the video.

#[cfg(target_os = "macos")]
mod avfoundation;
#[cfg(target_os = "linux")]
mod pulse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::video::VideoError;

/// Samples a second and channels (1 or 2) of a sound track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub rate: u32,
    pub channels: u16,
}

/// At most this many seconds of sound wait for the recorder; older sound
/// goes first (the recorder takes it every few milliseconds).
const MAX_WAITING_SECONDS: usize = 10;

/// Where sound comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The default microphone (the sound server's default source).
    Microphone,
    /// What the computer plays: the monitor of the default output.
    System,
}

impl Input {
    pub fn name(self) -> &'static str {
        match self {
            Input::Microphone => "microphone",
            Input::System => "system sound",
        }
    }
}

/// Samples read by a source's thread, waiting for the recorder, and the
/// flag that ends the thread.
#[derive(Default, Clone)]
struct Reading {
    waiting: Arc<Mutex<Waiting>>,
    stop: Arc<AtomicBool>,
}

#[derive(Default)]
struct Waiting {
    samples: Vec<f32>,
    error: Option<String>,
}

impl Reading {
    /// Adds samples, the oldest dropped beyond [`MAX_WAITING_SECONDS`].
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn add(&self, samples: &[f32], format: AudioFormat) {
        let most = format.rate as usize * usize::from(format.channels) * MAX_WAITING_SECONDS;
        let mut waiting = self.waiting.lock().expect("the sound's lock");
        waiting.samples.extend_from_slice(samples);
        let over = waiting.samples.len().saturating_sub(most);
        waiting.samples.drain(..over);
    }

    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    fn fail(&self, error: String) {
        self.waiting.lock().expect("the sound's lock").error = Some(error);
    }
}

/// A sound input, open and being read.
pub struct Source {
    input: Input,
    format: AudioFormat,
    reading: Reading,
}

impl Source {
    /// Opens `input`; an error says what to do when there is none.
    pub fn open(input: Input) -> Result<Source, VideoError> {
        let opened = open_input(input);
        let (format, reading) = opened.map_err(|why| match input {
            Input::Microphone => VideoError::NoMicrophone { tried: why },
            Input::System => VideoError::NoSystemSound { why },
        })?;
        Ok(Source {
            input,
            format,
            reading,
        })
    }

    pub fn input(&self) -> Input {
        self.input
    }

    /// The sound's rate and channels.
    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// The samples read since the last call (interleaved), or why the
    /// source stopped.
    pub fn take(&self) -> Result<Vec<f32>, VideoError> {
        let mut waiting = self.reading.waiting.lock().expect("the sound's lock");
        if let Some(e) = waiting.error.take() {
            return Err(VideoError::SoundStopped {
                what: self.input.name(),
                why: e,
            });
        }
        Ok(std::mem::take(&mut waiting.samples))
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        // The reading thread sees it after its current read (20 ms).
        self.reading.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(target_os = "linux")]
fn open_input(input: Input) -> Result<(AudioFormat, Reading), String> {
    pulse::open(input)
}

#[cfg(target_os = "macos")]
fn open_input(input: Input) -> Result<(AudioFormat, Reading), String> {
    match input {
        Input::Microphone => avfoundation::open_microphone(),
        Input::System => Err("recording what the computer plays is not done on macOS".into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
fn open_input(_: Input) -> Result<(AudioFormat, Reading), String> {
    Err("no sound input on this system yet".into())
}

/// Sources added together into one stream of samples. All sources have
/// the same format (the sound server converts), except on macOS, where
/// there is only the microphone.
pub struct Mix {
    sources: Vec<(Source, Vec<f32>)>,
    format: AudioFormat,
    name: String,
    /// Nothing taken yet: the sources are lined up at their ends.
    first: bool,
}

/// A source may fall this far behind the others (in seconds) before its
/// missing sound is taken as silence, so one stalled source does not hold
/// the others back.
const MAX_LAG_SECONDS: f32 = 0.2;

impl Mix {
    /// A mix of `sources`; `None` when there is none.
    pub fn new(sources: Vec<Source>) -> Option<Mix> {
        let format = sources.first()?.format();
        let name = sources
            .iter()
            .map(|s| s.input().name())
            .collect::<Vec<_>>()
            .join(" and ");
        Some(Mix {
            sources: sources.into_iter().map(|s| (s, Vec::new())).collect(),
            format,
            name,
            first: true,
        })
    }

    pub fn format(&self) -> AudioFormat {
        self.format
    }

    /// What is mixed: "microphone", "system sound", or both.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The mixed samples since the last call. A source that stopped is
    /// left out from then on, and `stopped` is told why (the others go on;
    /// with none left, the track goes on as silence).
    pub fn take(&mut self, stopped: &mut dyn FnMut(VideoError, bool)) -> Vec<f32> {
        let mut i = 0;
        while i < self.sources.len() {
            match self.sources[i].0.take() {
                Ok(samples) => {
                    self.sources[i].1.extend_from_slice(&samples);
                    i += 1;
                }
                Err(e) => {
                    self.sources.remove(i);
                    stopped(e, self.sources.is_empty());
                }
            }
        }
        if std::mem::take(&mut self.first) {
            // Opened one after the other, the sources hold different
            // amounts of the same past: each is cut to what all heard, so
            // they start in step.
            let ch = usize::from(self.format.channels);
            let shortest = self.sources.iter().map(|(_, p)| p.len()).min().unwrap_or(0);
            for (_, pending) in &mut self.sources {
                let extra = (pending.len() - shortest) / ch * ch;
                pending.drain(..extra);
            }
        }
        let lens = self.sources.iter().map(|(_, p)| p.len());
        let (shortest, longest) = (lens.clone().min().unwrap_or(0), lens.max().unwrap_or(0));
        let lag =
            (MAX_LAG_SECONDS * self.format.rate as f32 * f32::from(self.format.channels)) as usize;
        // In step: as much as every source has; one too far behind counts
        // as silence for the difference.
        let n = if longest - shortest > lag {
            longest
        } else {
            shortest
        };
        let mut out = vec![0.0f32; n];
        for (_, pending) in &mut self.sources {
            let k = n.min(pending.len());
            for (o, s) in out.iter_mut().zip(pending.drain(..k)) {
                *o += s;
            }
        }
        if self.sources.len() > 1 {
            for o in &mut out {
                *o = o.clamp(-1.0, 1.0);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_with(input: Input, samples: &[f32]) -> Source {
        let format = AudioFormat {
            rate: 1000,
            channels: 1,
        };
        let reading = Reading::default();
        reading.add(samples, format);
        Source {
            input,
            format,
            reading,
        }
    }

    #[test]
    fn a_mix_adds_its_sources_in_step_and_clamps() {
        let mic = source_with(Input::Microphone, &[0.5, 0.5, 0.5]);
        let system = source_with(Input::System, &[0.25, 0.75]);
        let mut mix = Mix::new(vec![mic, system]).unwrap();
        assert_eq!(mix.name(), "microphone and system sound");
        let mut told = Vec::new();
        // Lined up at their ends: the microphone's oldest sample, heard
        // before the system sound was open, is left out.
        assert_eq!(mix.take(&mut |e, _| told.push(e.to_string())), [0.75, 1.0]);
        mix.sources[0].0.reading.add(&[0.5], mix.format);
        assert!(mix.take(&mut |_, _| {}).is_empty(), "waits for the other");
        assert!(told.is_empty());
    }

    #[test]
    fn a_source_that_stops_or_stalls_does_not_hold_the_mix_back() {
        let mic = source_with(Input::Microphone, &[0.1; 300]);
        let system = source_with(Input::System, &[]);
        system.reading.fail("it went away".into());
        let mut mix = Mix::new(vec![mic, system]).unwrap();
        let mut told = Vec::new();
        let out = mix.take(&mut |e, last| told.push((e.to_string(), last)));
        assert_eq!(out.len(), 300, "the microphone goes on alone");
        assert_eq!(
            told,
            [("the system sound stopped: it went away".to_string(), false)]
        );

        // Stalled (no error, no sound): after 0.2 s it counts as silence.
        let format = AudioFormat {
            rate: 1000,
            channels: 1,
        };
        let mic = source_with(Input::Microphone, &[]);
        let mut mix = Mix::new(vec![mic, source_with(Input::System, &[])]).unwrap();
        assert!(mix.take(&mut |_, _| {}).is_empty());
        mix.sources[0].0.reading.add(&[0.1; 100], format);
        assert!(mix.take(&mut |_, _| {}).is_empty(), "0.1 s: waited for");
        mix.sources[0].0.reading.add(&[0.1; 200], format);
        assert_eq!(mix.take(&mut |_, _| {}).len(), 300, "0.3 s: goes on alone");
    }
}
