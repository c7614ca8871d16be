-- The object store's id for a drop's multipart upload (S3's UploadId);
-- NULL with local files, which need none, and once the upload is over.
ALTER TABLE drops ADD COLUMN upload_id TEXT;
