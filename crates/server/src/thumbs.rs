//! The first event handler: a thumbnail for each completed image drop,
//! stored beside its parts as `drops/{id}/thumb.png` (at most
//! [`THUMB_SIZE`] pixels a side), used by the share page's unfurl tags.
//!
//! Images are decoded within limits (dropcast-encode refuses more than
//! 16384 pixels a side or 512 MiB of pixels), on the blocking pool, one at
//! a time per core; a broken file or a decompression bomb gets no
//! thumbnail and a log line, never a crash or an endless retry. Videos get
//! theirs from the poster frame their client uploads (screencasts).

use object_store::path::Path;

use crate::events::{BoxFuture, Event, Handler};
use crate::repo::{COMPLETE, DROP_COMPLETED};
use crate::App;

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIZE: u32 = 640;

/// Larger files are not decoded for a thumbnail.
const MAX_SOURCE: i64 = 64 << 20;

pub fn thumb_path(drop_id: &str) -> Path {
    Path::from(format!("drops/{drop_id}/thumb.png"))
}

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
            let decodable = matches!(
                content_type,
                "image/png" | "image/jpeg" | "image/gif" | "image/webp"
            );
            if d.status != COMPLETE || !decodable || d.size.unwrap_or(0) > MAX_SOURCE {
                return Ok(());
            }
            let size = d.size.unwrap_or(0) as u64;
            let pieces = crate::http::pieces(app, &d.id)
                .await
                .map_err(|e| e.message)?;
            let bytes = read_all(app, pieces, size).await?;
            let made = tokio::task::spawn_blocking(move || {
                let image = dropcast_encode::decode(&bytes)?;
                let thumb = dropcast_encode::thumbnail(&image, THUMB_SIZE)?;
                Ok::<_, dropcast_encode::EncodeError>((thumb, image.width(), image.height()))
            })
            .await
            .map_err(|e| e.to_string())?;
            let (thumb, width, height) = match made {
                Ok(made) => made,
                Err(e) => {
                    tracing::info!(drop = %d.id, "no thumbnail: {e}");
                    return Ok(());
                }
            };
            let mut writer = app
                .store
                .writer(thumb_path(&d.id))
                .await
                .map_err(|e| e.to_string())?;
            writer.write(&thumb).await.map_err(|e| e.to_string())?;
            writer.finish().await.map_err(|e| e.to_string())?;
            app.repo
                .set_thumbnail(&d.id, width as i64, height as i64)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

async fn read_all(app: &App, pieces: Vec<(Path, u64)>, size: u64) -> Result<Vec<u8>, String> {
    use futures_util::TryStreamExt;
    let mut bytes = Vec::with_capacity(size as usize);
    let mut stream = app.store.read_pieces(pieces, 0..size);
    while let Some(chunk) = stream.try_next().await.map_err(|e| e.to_string())? {
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
