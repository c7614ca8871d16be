//! The first event handler: a thumbnail for each completed image drop
//! (at most [`THUMB_SIZE`] pixels a side, stored by [`crate::blobs`]), used
//! by the share page's unfurl tags.
//!
//! Images are decoded within limits (dropcast-encode refuses more than
//! 16384 pixels a side or 512 MiB of pixels), on the blocking pool; a
//! broken file or a decompression bomb gets no thumbnail and a log line,
//! never a crash or an endless retry. Videos keep the poster frame their
//! client uploaded (`PUT /api/v1/drops/{id}/poster`); without one, and when
//! an `ffmpeg` program is installed, their first frame. Only the embedded
//! server (local files) runs ffmpeg: on S3 the poster is the client's.

use super::events::{BoxFuture, Event, Handler};
use crate::repo::{COMPLETE, DROP_COMPLETED};
use crate::App;

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIZE: u32 = 640;

/// Larger files are not decoded for a thumbnail.
const MAX_SOURCE: i64 = 64 << 20;

pub struct Thumbnailer;

impl Handler for Thumbnailer {
    fn name(&self) -> &'static str {
        "thumbnail"
    }

    fn handle<'a>(&'a self, app: &'a App, event: &'a Event) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if event.kind != DROP_COMPLETED {
                return Ok(());
            }
            let Some(d) = app
                .repo
                .drop_by_id(&event.drop_id)
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(()); // deleted meanwhile
            };
            let content_type = d.content_type.as_deref().unwrap_or("");
            let image = matches!(
                content_type,
                "image/png" | "image/jpeg" | "image/gif" | "image/webp"
            );
            let video = content_type.starts_with("video/");
            let size = d.size.unwrap_or(0);
            if d.status != COMPLETE || d.thumbnail != 0 || !(image || video) {
                return Ok(());
            }
            if size > if image { MAX_SOURCE } else { MAX_VIDEO_SOURCE } {
                return Ok(());
            }
            if video && app.blobs.local().is_none() {
                return Ok(());
            }
            let mut bytes = app
                .blobs
                .read_prefix(&d.id, size as u64, size as u64)
                .await
                .map_err(|e| e.message)?;
            if video {
                match first_frame(&d.id, bytes).await? {
                    Some(png) => bytes = png,
                    None => return Ok(()),
                }
            }
            match make(bytes).await? {
                Ok((thumb, width, height)) => {
                    // A video's frame size is its own.
                    save(app, &d.id, &thumb, width, height).await
                }
                Err(e) => {
                    tracing::info!(drop = %d.id, "no thumbnail: {e}");
                    Ok(())
                }
            }
        })
    }
}

/// Videos larger than this get no thumbnail from ffmpeg.
const MAX_VIDEO_SOURCE: i64 = 1 << 30;

/// Decodes (within limits) and shrinks an image: the thumbnail and the
/// image's pixel size, or why not.
pub async fn make(
    bytes: Vec<u8>,
) -> Result<Result<(Vec<u8>, u32, u32), dropcast_encode::EncodeError>, String> {
    tokio::task::spawn_blocking(move || {
        let image = dropcast_encode::decode(&bytes)?;
        let thumb = dropcast_encode::thumbnail(&image, THUMB_SIZE)?;
        Ok((thumb, image.width(), image.height()))
    })
    .await
    .map_err(|e| e.to_string())
}

/// Stores a drop's thumbnail and records it.
pub async fn save(
    app: &App,
    id: &str,
    thumb: &[u8],
    width: u32,
    height: u32,
) -> Result<(), String> {
    app.blobs
        .put_thumbnail(id, thumb)
        .await
        .map_err(|e| format!("{e:#}"))?;
    app.repo
        .set_thumbnail(id, width as i64, height as i64)
        .await
        .map_err(|e| e.to_string())
}

/// The first frame of a video as PNG, by the `ffmpeg` program when there
/// is one (none: `Ok(None)`; a file ffmpeg cannot read: `Ok(None)` too).
async fn first_frame(id: &str, video: Vec<u8>) -> Result<Option<Vec<u8>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let input = dir.path().join("video");
    tokio::fs::write(&input, &video)
        .await
        .map_err(|e| e.to_string())?;
    drop(video);
    let output = tokio::process::Command::new("ffmpeg")
        .args(["-nostdin", "-loglevel", "error", "-i"])
        .arg(&input)
        .args([
            "-frames:v",
            "1",
            "-f",
            "image2pipe",
            "-c:v",
            "png",
            "pipe:1",
        ])
        .kill_on_drop(true)
        .output()
        .await;
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("running ffmpeg: {e}")),
        Ok(out) if out.status.success() && !out.stdout.is_empty() => Ok(Some(out.stdout)),
        Ok(out) => {
            tracing::info!(drop = %id, "no video thumbnail: ffmpeg: {}",
                String::from_utf8_lossy(&out.stderr).trim());
            Ok(None)
        }
    }
}
