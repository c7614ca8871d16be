//! Bytes: drops and their parts, through `object_store`.
//!
//! The embedded default is `LocalFileSystem` under `{data_dir}/objects`.
//! A drop's bytes are its parts, in order, at `drops/{drop}/{number:05}-{nonce}`.
//! A retried part gets a new nonce, so a row in `parts` always names exactly
//! one file. Completing a drop verifies the parts and copies nothing: the
//! served file is the parts read one after another ([`Store::read_parts`]).
//!
//! Writes go through a multipart upload, which object_store stages aside and
//! renames into place on completion: a reader never sees a half-written file.

use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResultPayload, MultipartUpload, ObjectStore};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

pub type StoreError = object_store::Error;

/// Bytes handed to the object store at a time while writing. Bounds the
/// memory one upload holds, whatever the client sends.
const WRITE_CHUNK: usize = 256 * 1024;
/// Bytes read from a local file per blocking read while serving.
const READ_CHUNK: usize = 256 * 1024;

#[derive(Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    /// Set for the local file system: where paths live on disk, for fsync.
    local_root: Option<PathBuf>,
    fsync: bool,
}

pub fn part_path(drop_id: &str, number: u32, nonce: &str) -> Path {
    Path::from(format!("drops/{drop_id}/{number:05}-{nonce}"))
}

/// Everything stored for a drop.
pub fn drop_prefix(drop_id: &str) -> Path {
    Path::from(format!("drops/{drop_id}"))
}

impl Store {
    /// Files under `root`, created if missing.
    pub fn local(root: PathBuf, fsync: bool) -> anyhow::Result<Store> {
        std::fs::create_dir_all(&root)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", root.display()))?;
        let root = root.canonicalize()?;
        let fs = LocalFileSystem::new_with_prefix(&root)?;
        Ok(Store {
            inner: Arc::new(fs),
            local_root: Some(root),
            fsync,
        })
    }

    /// Starts writing an object at `path`; nothing is visible until
    /// [`Writer::finish`].
    /// The folder the files are under, for a local store.
    pub fn root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    pub async fn writer(&self, path: Path) -> Result<Writer, StoreError> {
        let upload = self.inner.put_multipart(&path).await?;
        Ok(Writer {
            store: self.clone(),
            path,
            upload: Some(upload),
            buf: BytesMut::new(),
            written: 0,
        })
    }

    /// The bytes of `path` in `range` (all of it when `None`), as a stream.
    pub async fn read(
        &self,
        path: &Path,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<Bytes, StoreError>>, StoreError> {
        if matches!(&range, Some(r) if r.is_empty()) {
            return Ok(futures_util::stream::empty().boxed());
        }
        let opts = GetOptions {
            range: range.clone().map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self.inner.get_opts(path, opts).await?;
        let span = got.range.clone();
        Ok(match got.payload {
            GetResultPayload::File(file, path) => read_file(file, path, span),
            GetResultPayload::Stream(s) => s,
        })
    }

    /// `range` of the concatenation of `parts` (each a path and its size),
    /// opening each part only when the stream reaches it.
    pub fn read_parts(
        &self,
        parts: Vec<(Path, u64)>,
        range: Range<u64>,
    ) -> BoxStream<'static, Result<Bytes, StoreError>> {
        let mut wanted = Vec::new();
        let mut offset = 0u64;
        for (path, size) in parts {
            let (start, end) = (offset, offset + size);
            offset = end;
            let from = range.start.max(start);
            let to = range.end.min(end);
            if from < to {
                wanted.push((path, from - start..to - start));
            }
        }
        let store = self.clone();
        futures_util::stream::iter(wanted)
            .then(move |(path, r)| {
                let store = store.clone();
                async move { store.read(&path, Some(r)).await }
            })
            .try_flatten()
            .boxed()
    }

    pub async fn delete(&self, path: &Path) -> Result<(), StoreError> {
        match self.inner.delete(path).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes every object under `prefix`.
    pub async fn delete_prefix(&self, prefix: &Path) -> Result<(), StoreError> {
        let paths: Vec<Path> = self
            .inner
            .list(Some(prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await?;
        for p in paths {
            self.delete(&p).await?;
        }
        if let Some(root) = &self.local_root {
            // LocalFileSystem leaves empty directories behind.
            let _ = tokio::fs::remove_dir(root.join(prefix.as_ref())).await;
        }
        Ok(())
    }

    async fn sync(&self, path: &Path) -> Result<(), StoreError> {
        let (Some(root), true) = (&self.local_root, self.fsync) else {
            return Ok(());
        };
        let file = root.join(path.as_ref());
        tokio::task::spawn_blocking(move || {
            std::fs::File::open(&file)?.sync_all()?;
            // The rename into place, and a new directory, live in the parents.
            let dir = file.parent().expect("an object has a parent directory");
            std::fs::File::open(dir)?.sync_all()?;
            std::fs::File::open(dir.parent().expect("drops/ is under the root"))?.sync_all()
        })
        .await
        .map_err(|e| generic(e.into()))?
        .map_err(|e| generic(e.into()))
    }
}

fn generic(source: Box<dyn std::error::Error + Send + Sync>) -> StoreError {
    StoreError::Generic {
        store: "local",
        source,
    }
}

/// Reads `span` of a local file in large positioned reads, the next one
/// already under way while the current one is consumed.
fn read_file(
    file: std::fs::File,
    path: PathBuf,
    span: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    let file = Arc::new(file);
    let chunks = (span.start..span.end).step_by(READ_CHUNK).map(move |at| {
        let len = (span.end - at).min(READ_CHUNK as u64) as usize;
        (at, len)
    });
    futures_util::stream::iter(chunks)
        .map(move |(at, len)| {
            let file = file.clone();
            let path = path.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut buf = vec![0u8; len];
                    read_exact_at(&file, &mut buf, at)
                        .map(|()| Bytes::from(buf))
                        .map_err(|e| generic(format!("reading {}: {e}", path.display()).into()))
                })
                .await
                .map_err(|e| generic(e.into()))?
            }
        })
        .buffered(2)
        .boxed()
}

#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
fn read_exact_at(file: &std::fs::File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        let n = file.seek_read(buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}

/// An object being written; see [`Store::writer`].
pub struct Writer {
    store: Store,
    path: Path,
    upload: Option<Box<dyn MultipartUpload>>,
    buf: BytesMut,
    written: u64,
}

impl Writer {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StoreError> {
        if self.buf.capacity() == 0 {
            self.buf.reserve(WRITE_CHUNK);
        }
        self.buf.extend_from_slice(data);
        if self.buf.len() >= WRITE_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = self.buf.split().freeze();
        self.written += chunk.len() as u64;
        let upload = self.upload.as_mut().expect("writer used after finish");
        upload.put_part(chunk.into()).await
    }

    /// Makes the object visible at its path (durably, when fsync is on).
    pub async fn finish(mut self) -> Result<u64, StoreError> {
        self.flush().await?;
        let mut upload = self.upload.take().expect("writer finished twice");
        upload.complete().await?;
        self.store.sync(&self.path).await?;
        Ok(self.written)
    }

    /// Throws away what was written.
    pub async fn abort(mut self) {
        if let Some(mut upload) = self.upload.take() {
            if let Err(e) = upload.abort().await {
                tracing::warn!(path = %self.path, error = %e, "aborting a write");
            }
        }
    }
}
