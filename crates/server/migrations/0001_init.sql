-- Dropcast metadata, version 1.
-- Portable SQL: runs on SQLite and PostgreSQL unchanged. Ids are TEXT made by
-- the application, integers are BIGINT, times are unix milliseconds.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

-- status: 'reserved' (an id handed out ahead of time), 'uploading', 'complete'.
CREATE TABLE drops (
    id                TEXT PRIMARY KEY,
    owner_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    status            TEXT NOT NULL,
    name              TEXT NOT NULL,
    title             TEXT,
    declared_type     TEXT,
    content_type      TEXT,
    declared_size     BIGINT,
    size              BIGINT,
    sha256            TEXT,
    visibility        TEXT NOT NULL,
    delete_token_hash TEXT,
    created_at        BIGINT NOT NULL,
    completed_at      BIGINT,
    expires_at        BIGINT,
    reserved_until    BIGINT
);

CREATE INDEX drops_by_owner ON drops (owner_id, created_at, id);
CREATE INDEX drops_by_status ON drops (status, reserved_until);

-- One row per stored part; the bytes are at uploads/{drop_id}/{number}-{nonce}.
CREATE TABLE parts (
    drop_id    TEXT NOT NULL REFERENCES drops(id) ON DELETE CASCADE,
    number     BIGINT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (drop_id, number)
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
