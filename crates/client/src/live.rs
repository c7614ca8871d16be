//! Sharing a file while it is still being written: a screencast.
//!
//! The drop is made when recording starts, with no size, so its link works
//! at once (the share page says the recording is in progress).
//! [`send_growing`] sends each whole part as soon as the file has grown
//! past it, so when recording stops only the tail is left, which
//! [`upload_file`](crate::upload_file) sends before completing the drop.
//! This relies on the file being append-only (fragmented MP4 is: a byte on
//! disk never changes).
//!
//! A recording holds a lock file ([`RecordingLock`]) for as long as it runs;
//! `resume` leaves a drop whose lock is held alone. After a crash the lock
//! is free: the file is cut back to its last whole fragment and resumed
//! like any other upload (the part size is the one the parts already
//! stored have).

use std::path::{Path, PathBuf};
use std::time::Duration;

use dropcast_api as api;
use tokio::sync::watch;

use crate::settings::Dirs;
use crate::{read_part, Client, Result};

/// Parts of a live upload are the server's smallest, so the tail left at
/// stop is small; but not tiny, so a long recording stays within the
/// server's part count.
pub fn part_size(limits: &api::UploadLimits) -> u64 {
    limits
        .min_part_size
        .max(256 << 10)
        .min(limits.max_part_size)
}

/// Sends the whole `part_size` parts of the growing file at `path` as they
/// appear, until `finished` turns true (then it sends what whole parts
/// there are and returns). Answers how many parts it sent. A part that
/// cannot be sent (the server went away) ends it with the error: the
/// recording goes on, and what is missing is sent at the end or by
/// `resume`.
pub async fn send_growing(
    client: &Client,
    drop_id: &str,
    path: &Path,
    part_size: u64,
    attempts: u32,
    mut finished: watch::Receiver<bool>,
) -> Result<u32> {
    let mut next = 1u32;
    loop {
        let done = *finished.borrow_and_update();
        let len = tokio::fs::metadata(path)
            .await
            .map(|m| m.len())
            .unwrap_or(0);
        while len >= u64::from(next) * part_size {
            let (bytes, crc) = read_part(
                path.to_path_buf(),
                u64::from(next - 1) * part_size,
                part_size,
            )
            .await?;
            let part = api::PartToSend {
                number: next,
                size: part_size,
                crc64nvme: crc,
            };
            client
                .send_part(drop_id, part, bytes, None, attempts)
                .await?;
            next += 1;
        }
        if done {
            return Ok(next - 1);
        }
        // Wake up for the next part or the end, whichever comes first.
        if let Ok(Err(_)) =
            tokio::time::timeout(Duration::from_millis(250), finished.changed()).await
        {
            // The recording went away without saying it finished: what is
            // left is for `resume`.
            return Ok(next - 1);
        }
    }
}

/// Held while a drop's file is being recorded; a lock on a small file
/// beside the captures, released when dropped or when the process dies.
pub struct RecordingLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl RecordingLock {
    pub fn take(dirs: &Dirs, id: &str) -> std::io::Result<RecordingLock> {
        let path = lock_path(dirs, id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(&path)?;
        file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => std::io::Error::other(format!(
                "drop {id} is already being recorded by another process"
            )),
            std::fs::TryLockError::Error(e) => e,
        })?;
        Ok(RecordingLock { path, _file: file })
    }
}

impl Drop for RecordingLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Removes the lock file a recorder that died left behind (it holds no
/// lock any more).
pub fn forget_lock(dirs: &Dirs, id: &str) {
    if !is_recording(dirs, id) {
        let _ = std::fs::remove_file(lock_path(dirs, id));
    }
}

/// Whether drop `id` is being recorded right now (by any process).
pub fn is_recording(dirs: &Dirs, id: &str) -> bool {
    match std::fs::File::open(lock_path(dirs, id)) {
        Ok(file) => matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

fn lock_path(dirs: &Dirs, id: &str) -> PathBuf {
    dirs.captures().join(format!("{id}.recording"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_is_known_as_such_while_its_lock_is_held_and_not_after() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            config: dir.path().join("c"),
            data: dir.path().join("d"),
        };
        assert!(!is_recording(&dirs, "abc"));
        let lock = RecordingLock::take(&dirs, "abc").unwrap();
        assert!(is_recording(&dirs, "abc"));
        assert!(!is_recording(&dirs, "other"));
        assert!(
            RecordingLock::take(&dirs, "abc").is_err(),
            "one recorder per drop"
        );
        drop(lock);
        assert!(!is_recording(&dirs, "abc"));
        assert!(
            !lock_path(&dirs, "abc").exists(),
            "the lock file is removed"
        );
    }

    #[test]
    fn live_parts_are_the_server_s_smallest_within_bounds() {
        let limits = |min, max| api::UploadLimits {
            part_size: 8 << 20,
            min_part_size: min,
            max_part_size: max,
            max_parts: 10_000,
            max_size: 50 << 30,
        };
        assert_eq!(part_size(&limits(1 << 20, 5 << 30)), 1 << 20);
        assert_eq!(part_size(&limits(1, 5 << 30)), 256 << 10);
        assert_eq!(part_size(&limits(1, 1000)), 1000);
    }
}
