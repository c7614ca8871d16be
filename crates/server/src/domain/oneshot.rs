//! One-shot uploads' rules, apart from HTTP: a small file stored whole
//! as a complete drop (what ShareX and `curl -F` send), within the
//! one-shot limit, with a delete token of its own.

use super::drops::{check_name, delete_drop};
use crate::error::{ApiError, ApiResult};
use crate::repo::{Completion, NewDrop, UPLOADING};
use crate::{secrets, sniff, store, App};
use bytes::Bytes;
use dropcast_api::{self as api, ErrorCode};
use futures_util::{Stream, StreamExt};

/// Stores the file `name` of declared type `declared_type`, read from
/// `body`, as a complete drop of `owner_id`'s, with a delete token of its
/// own. Nothing is kept of a file that fails or is over the one-shot limit.
pub async fn store_file<S, E>(
    app: &App,
    owner_id: &str,
    name: String,
    declared_type: Option<&str>,
    body: &mut S,
) -> ApiResult<api::UploadedFile>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    check_name(&name)?;
    let id = secrets::new_drop_id();
    let new = NewDrop {
        id: &id,
        owner_id,
        status: UPLOADING,
        name: &name,
        title: None,
        declared_type,
        declared_size: None,
        visibility: api::Visibility::Unlisted.as_str(),
        // A one-shot upload (ShareX) says nothing of its expiry.
        expires_at: super::drops::default_expiry(app),
        upload_id: None,
    };
    app.repo.insert_drop(&new).await?;
    let nonce = secrets::new_id();
    let _slot = app
        .part_slots
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an upload slot", e))?;
    let stored = async {
        let max = app.config.max_oneshot_size;
        let mut writer = match app.blobs.local() {
            Some(local) => Sink::File(local.store.writer(store::part_path(&id, 1, &nonce)).await?),
            None => Sink::Memory(Vec::new()),
        };
        let mut crc = dropcast_api::Crc64Digest::default();
        let mut head = sniff::Head::default();
        let mut size = 0u64;
        loop {
            let chunk = match body.next().await {
                Some(Ok(c)) => c,
                None => break,
                Some(Err(e)) => {
                    writer.abort().await;
                    return Err(ApiError::invalid(format!(
                        "the form could not be read: {e}"
                    )));
                }
            };
            size += chunk.len() as u64;
            if size > max {
                writer.abort().await;
                return Err(ApiError::new(
                    ErrorCode::TooLarge,
                    format!(
                        "{name} is over {max} bytes, the limit for one-shot uploads; \
                         use the part protocol (`dropcast upload`) for big files"
                    ),
                ));
            }
            head.feed(&chunk);
            crc.update(&chunk);
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                return Err(e.into());
            }
        }
        let crc = crc.finish();
        let content_type = head.content_type();
        // In memory (S3): stored whole, S3 checking the checksum.
        if let Some(bytes) = writer.finish().await? {
            app.blobs
                .put_whole(&id, bytes, crc, &content_type)
                .await
                .map_err(|e| ApiError::internal("storing a one-shot upload", e))?;
        }
        Ok((size, crc.to_hex(), head))
    }
    .await;
    let (size, crc, head) = match stored {
        Ok(s) => s,
        Err(e) => {
            delete_drop(app, &id).await?;
            return Err(e);
        }
    };
    let keep: &[u32] = if app.blobs.local().is_some() {
        app.repo.put_part(&id, 1, size as i64, &crc, &nonce).await?;
        &[1]
    } else {
        &[]
    };
    let content_type = head.content_type();
    let delete_token = secrets::new_token();
    let completion = Completion {
        size: size as i64,
        crc64nvme: &crc,
        content_type: &content_type,
        delete_token_hash: Some(&secrets::token_hash(&delete_token)),
        dimensions: head.dimensions(),
    };
    if app.repo.complete(&id, keep, &completion).await?.is_none() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "the drop was deleted meanwhile",
        ));
    }
    app.wake_events();
    Ok(api::UploadedFile {
        url: app.share_url(&id),
        raw_url: app.raw_url(&id),
        delete_url: format!("{}/{id}/delete?token={delete_token}", app.public_url),
        id,
        name,
        size,
        content_type,
    })
}

/// Where a one-shot upload's bytes go as they arrive: a part file, or
/// memory (within the one-shot limit) for a store that takes whole objects.
enum Sink {
    File(store::Writer),
    Memory(Vec<u8>),
}

impl Sink {
    async fn write(&mut self, chunk: &[u8]) -> Result<(), object_store::Error> {
        match self {
            Sink::File(w) => w.write(chunk).await,
            Sink::Memory(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
        }
    }

    async fn abort(self) {
        if let Sink::File(w) = self {
            w.abort().await;
        }
    }

    /// The bytes, when they were kept in memory.
    async fn finish(self) -> Result<Option<Vec<u8>>, object_store::Error> {
        match self {
            Sink::File(w) => w.finish().await.map(|_| None),
            Sink::Memory(v) => Ok(Some(v)),
        }
    }
}

/// `token` is drop `id`'s delete token; any other answer is "not found".
pub async fn check_delete_token(app: &App, id: &str, token: &str) -> ApiResult<()> {
    let d = app
        .repo
        .drop_by_id(id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let ok = d.delete_token_hash.is_some_and(|h| {
        secrets::constant_time_eq(h.as_bytes(), secrets::token_hash(token).as_bytes())
    });
    if ok {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}
