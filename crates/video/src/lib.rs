//! Screen recordings: H.264 (and AAC sound) in fragmented MP4, and GIF
//! export, through the system's FFmpeg libraries (ffmpeg-next).
//!
//! This is the only crate that links FFmpeg. Images, thumbnails and the
//! MP4 box scanner live in `dropcast-encode`, which links nothing native,
//! so the server and everything that only takes screenshots build and
//! start without FFmpeg.

pub mod audio;
pub mod gif;
pub mod video;
