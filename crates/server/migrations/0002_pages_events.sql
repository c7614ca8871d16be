-- Dropcast metadata, version 2: share pages, limits per drop, events.

-- Page views so far, and the most a drop allows (burn after N views).
ALTER TABLE drops ADD COLUMN views BIGINT NOT NULL DEFAULT 0;
ALTER TABLE drops ADD COLUMN max_views BIGINT;
-- argon2 hash of the drop's password, when it has one.
ALTER TABLE drops ADD COLUMN password_hash TEXT;
-- Pixel size of an image or video, and its density in pixels per metre
-- (PNG pHYs): a 2x HiDPI capture is shown at half its pixel size.
ALTER TABLE drops ADD COLUMN width BIGINT;
ALTER TABLE drops ADD COLUMN height BIGINT;
ALTER TABLE drops ADD COLUMN density BIGINT;
-- Whether thumbnails/{id}.png exists in the store.
ALTER TABLE drops ADD COLUMN thumbnail BIGINT NOT NULL DEFAULT 0;

CREATE INDEX drops_by_expiry ON drops (expires_at);

-- Events not yet handled (the outbox): written in the transaction that
-- causes them, deleted once every handler has run.
CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    drop_id    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    next_at    BIGINT NOT NULL,
    last_error TEXT
);

CREATE INDEX outbox_due ON outbox (next_at);
