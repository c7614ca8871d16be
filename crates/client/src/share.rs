//! Sharing a file: the one path the CLI and the tray app take from "here is
//! a file" to "here is its link, and the bytes are on the server".
//!
//! 1. [`Sharer::link`] hands out a drop id and link from the reserved pool
//!    kept in the journal, with no round trip, so a caller can put the link
//!    on the clipboard before anything is sent.
//! 2. [`Sharer::share`] records the drop in the journal (before the first
//!    byte), creates it on the server under that id, and uploads it.
//! 3. [`Sharer::resume`] finishes what a crash, a reboot or a lost network
//!    cut short, from the journal.
//!
//! A failure leaves the journal saying `failed`, with the file and the link
//! kept: the link works once a later `resume` has sent the bytes.

use std::path::{Path, PathBuf};

use dropcast_api as api;

use crate::journal::{Entry, Journal};
use crate::settings::Dirs;
use crate::{upload_file, Client, Error, Progress, UploadOptions};

/// Keep at least this many reserved ids, so new drops have a link at once.
const POOL_LOW: i64 = 5;
const POOL_REFILL: u32 = 10;

/// Files larger than this get no thumbnail in the history.
const MAX_THUMBNAIL_SOURCE: u64 = 64 << 20;

/// A failed share: what went wrong, and the drop's link when it has one
/// (it works once the upload is resumed).
#[derive(Debug)]
pub struct ShareError {
    pub error: Error,
    pub link: Option<String>,
}

impl std::fmt::Display for ShareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ShareError {}

impl From<Error> for ShareError {
    fn from(error: Error) -> Self {
        ShareError { error, link: None }
    }
}

impl From<crate::journal::JournalError> for ShareError {
    fn from(e: crate::journal::JournalError) -> Self {
        Error::from(e).into()
    }
}

/// What is being shared.
pub struct Source<'a> {
    /// The file whose bytes become the drop (kept until the server has them).
    pub path: &'a Path,
    /// The drop's name, as the share page shows it.
    pub name: String,
    /// A link taken from [`Sharer::link`] earlier, or `None` for a new one.
    pub link: Option<api::Reservation>,
    pub progress: Option<Progress>,
}

pub struct Sharer {
    pub client: Client,
    pub journal: Journal,
    pub dirs: Dirs,
    /// Parts in flight at once.
    pub parallel: usize,
}

impl Sharer {
    /// A drop id and link from the pool, without a round trip; `None` when
    /// the pool is empty (then [`Sharer::share`] asks the server for one).
    /// Reads only the journal, so it needs no token: callers can show the
    /// link before the keyring has answered.
    pub async fn link_from_pool(
        journal: &Journal,
        server: &str,
    ) -> Result<Option<api::Reservation>, Error> {
        Ok(journal.take_reservation(server).await?)
    }

    /// Like [`Sharer::link_from_pool`], topping the pool up first when it
    /// runs low (which needs the server; unreachable is fine).
    pub async fn link(&self) -> Result<Option<api::Reservation>, Error> {
        self.top_up_pool().await?;
        Self::link_from_pool(&self.journal, self.client.base()).await
    }

    /// Refills the pool of reserved ids when it runs low; an unreachable
    /// server is not an error here (the next share tries again).
    pub async fn top_up_pool(&self) -> Result<(), Error> {
        if self.journal.reservations_left(self.client.base()).await? < POOL_LOW {
            if let Ok(list) = self.client.reserve(POOL_REFILL).await {
                self.journal
                    .add_reservations(self.client.base(), &list)
                    .await?;
            }
        }
        Ok(())
    }

    /// Shares `source.path` as a new drop and waits until it is complete.
    pub async fn share(&self, source: Source<'_>) -> Result<api::Drop, ShareError> {
        let path = source.path;
        let meta = std::fs::metadata(path).map_err(|e| local_file(path, e))?;
        if !meta.is_file() {
            return Err(local_file(
                path,
                std::io::Error::other("not a regular file"),
            ));
        }
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        // Always a reserved id, and in the journal before the server is
        // asked to make the drop: a share that fails from here on stays
        // queued, and `resume` finishes it.
        let r = match source.link {
            Some(link) => link,
            None => match self.link().await? {
                Some(link) => link,
                None => self.reserve_one().await?,
            },
        };
        self.journal
            .start_reserved(self.client.base(), &r, &source.name, &abs, Some(meta.len()))
            .await?;
        self.write_thumbnail(&r.id, &abs, meta.len()).await;
        let d = self
            .create_reserved(
                &r.id,
                &r.url,
                &source.name,
                Some(meta.len()),
                crate::ATTEMPTS,
            )
            .await?;
        let done = self.send(&d, &abs, None, source.progress).await;
        let _ = self.top_up_pool().await;
        done
    }

    /// One id reserved now, for a share when the pool is empty (the pool
    /// is topped up when the server answers, so this is after a spell
    /// without it). Retried: an id reserved twice is only unused.
    async fn reserve_one(&self) -> Result<api::Reservation, Error> {
        let list = crate::with_retries(crate::ATTEMPTS, || self.client.reserve(1)).await?;
        list.into_iter().next().ok_or_else(|| Error::Unexpected {
            status: 200,
            body: "the server reserved no id".into(),
        })
    }

    /// Finishes one interrupted upload from the file it was made from.
    pub async fn resume(
        &self,
        e: &Entry,
        progress: Option<Progress>,
    ) -> Result<api::Drop, ShareError> {
        let with_link = |error: Error| ShareError {
            error,
            link: Some(e.url.clone()),
        };
        if is_live(e) {
            self.settle_recording(e).await.map_err(with_link)?;
        }
        let d = if e.on_server {
            match crate::with_retries(crate::ATTEMPTS, || self.client.drop_info(&e.id)).await {
                Ok(d) => d,
                Err(err) => {
                    self.journal.fail(&e.id, &err.to_string()).await?;
                    return Err(with_link(err));
                }
            }
        } else {
            let size = e.size.map(|s| s as u64);
            self.create_reserved(&e.id, &e.url, &e.name, size, crate::ATTEMPTS)
                .await?
        };
        if d.status == api::DropStatus::Complete {
            self.journal.complete(&d).await?;
            return Ok(d);
        }
        let path = e.local_path.as_ref().ok_or_else(|| {
            with_link(Error::Io(std::io::Error::other(format!(
                "drop {} has no local file to resume from",
                e.id
            ))))
        })?;
        self.send(&d, Path::new(path), None, progress).await
    }

    /// Readies a recording that was cut short for sending: not while its
    /// recorder still runs; cut to what plays (its whole fragments); and
    /// when nothing plays, its drop and history entry are removed.
    async fn settle_recording(&self, e: &Entry) -> Result<(), Error> {
        if crate::live::is_recording(&self.dirs, &e.id) {
            return Err(Error::Io(std::io::Error::other(format!(
                "{} is still being recorded; it is shared when it stops",
                e.name
            ))));
        }
        crate::live::forget_lock(&self.dirs, &e.id);
        let path = PathBuf::from(e.local_path.clone().unwrap_or_default());
        let fragments = tokio::task::spawn_blocking(move || {
            dropcast_encode::mp4::trim_incomplete(&path)?;
            dropcast_encode::mp4::fragments(&path)
        })
        .await
        .map_err(|err| std::io::Error::other(err.to_string()))?;
        match fragments {
            Ok(n) if n > 0 => Ok(()),
            outcome => {
                // Killed before its first second was written: no video.
                if e.on_server {
                    let _ = self.client.delete_drop(&e.id).await;
                }
                self.journal.forget(&e.id).await?;
                if let Some(path) = &e.local_path {
                    if Path::new(path).starts_with(self.dirs.captures()) {
                        let _ = std::fs::remove_file(path);
                    }
                }
                let why = match outcome {
                    Err(err) => explain_io(&err),
                    Ok(_) => "it stopped before its first second was written".into(),
                };
                Err(Error::Io(std::io::Error::other(format!(
                    "the recording {} holds no video ({why}); its link was removed",
                    e.name
                ))))
            }
        }
    }

    /// Starts sharing a recording that is still being written to `path`:
    /// recorded in the journal (no size yet) and made on the server (its
    /// page says it is in progress). The caller holds a
    /// [`RecordingLock`](crate::live::RecordingLock) for it meanwhile,
    /// sends its parts with [`send_growing`](crate::live::send_growing)
    /// and ends with [`Sharer::finish_live`].
    pub async fn start_live(
        &self,
        link: &api::Reservation,
        name: &str,
        path: &Path,
    ) -> Result<api::Drop, ShareError> {
        self.journal
            .start_reserved(self.client.base(), link, name, path, None)
            .await?;
        // Asked once: the recording waits for this, and a server that
        // cannot be reached must not hold it up (its parts are sent, and
        // the drop made, later).
        self.create_reserved(&link.id, &link.url, name, None, 1)
            .await
    }

    /// Sends what is left of a finished recording (parts of `part_size`)
    /// and completes the drop.
    pub async fn finish_live(
        &self,
        d: &api::Drop,
        path: &Path,
        part_size: u64,
        progress: Option<Progress>,
    ) -> Result<api::Drop, ShareError> {
        self.send(d, path, Some(part_size), progress).await
    }

    /// Whether a drop of the journal is being recorded right now (then
    /// `resume` leaves it alone).
    pub fn is_recording(&self, e: &Entry) -> bool {
        is_live(e) && crate::live::is_recording(&self.dirs, &e.id)
    }

    /// Creates a drop whose id was reserved earlier; an earlier attempt may
    /// already have created it. Tried up to `attempts` times.
    async fn create_reserved(
        &self,
        id: &str,
        url: &str,
        name: &str,
        size: Option<u64>,
        attempts: u32,
    ) -> Result<api::Drop, ShareError> {
        let req = api::CreateDrop {
            id: Some(id.to_string()),
            name: name.to_string(),
            content_type: content_type_of(name).map(str::to_string),
            size,
            ..Default::default()
        };
        // With its id, making the drop is safe to repeat: made already
        // (the answer lost in a restart) is a conflict, and then it is
        // looked up.
        let created = crate::with_retries(attempts, || async {
            match self.client.create_drop(&req).await {
                Err(e) if e.code() == Some(api::ErrorCode::Conflict) => {
                    self.client.drop_info(id).await
                }
                other => other,
            }
        })
        .await;
        match created {
            Ok(d) => {
                self.journal.on_server(id).await?;
                Ok(d)
            }
            Err(error) => {
                self.journal.fail(id, &error.to_string()).await?;
                Err(ShareError {
                    error,
                    link: Some(url.to_string()),
                })
            }
        }
    }

    /// Sends a drop's file (what the server lacks of it) and records the
    /// outcome.
    async fn send(
        &self,
        d: &api::Drop,
        path: &Path,
        part_size: Option<u64>,
        progress: Option<Progress>,
    ) -> Result<api::Drop, ShareError> {
        let opts = UploadOptions {
            part_size,
            parallel: self.parallel,
            progress,
            ..Default::default()
        };
        match upload_file(&self.client, d, path, opts).await {
            Ok(d) => {
                self.journal.complete(&d).await?;
                Ok(d)
            }
            Err(error) => {
                self.journal.fail(&d.id, &error.to_string()).await?;
                Err(ShareError {
                    error,
                    link: Some(d.url.clone()),
                })
            }
        }
    }

    /// A history thumbnail for image files (best effort: a file that is not
    /// an image, or a broken one, simply has none).
    async fn write_thumbnail(&self, id: &str, path: &Path, size: u64) {
        let is_image = matches!(
            path.extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("png" | "jpg" | "jpeg" | "webp")
        );
        if !is_image || size > MAX_THUMBNAIL_SOURCE || self.dirs.thumbnail(id).exists() {
            return;
        }
        let (path, out) = (path.to_path_buf(), self.dirs.thumbnail(id));
        let _ = tokio::task::spawn_blocking(move || -> Option<()> {
            let bytes = std::fs::read(&path).ok()?;
            let image = dropcast_encode::decode(&bytes).ok()?;
            let png = dropcast_encode::thumbnail(&image, dropcast_encode::THUMBNAIL_SIZE).ok()?;
            write_file(&out, &png).ok().map(drop)
        })
        .await;
    }
}

/// A drop journaled without a size is a recording that was shared while
/// it was being made.
fn is_live(e: &Entry) -> bool {
    e.size.is_none() && e.local_path.is_some()
}

/// What the uploader says a drop is, from its name (the server decides
/// from the bytes; this only tells its page what is coming).
fn content_type_of(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "mp4" => "video/mp4",
        "gif" => "image/gif",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        _ => return None,
    })
}

/// A local file that cannot be read, with what to do about it.
fn local_file(path: &Path, e: std::io::Error) -> ShareError {
    ShareError {
        error: Error::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {}", path.display(), explain_io(&e)),
        )),
        link: None,
    }
}

/// An I/O error in words that say what to do.
pub fn explain_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::StorageFull => "the disk is full: free some space and try again".into(),
        std::io::ErrorKind::PermissionDenied => format!("{e}: check the file's permissions"),
        _ => e.to_string(),
    }
}

/// Writes `bytes` to `path` through a temporary file beside it, so a
/// reader never sees half a file; the directory is created when missing.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("partial");
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| path.to_path_buf())
}
