-- Dropcast metadata, version 7: webhooks.

-- Where to tell a user of their completed drops, and the secret that
-- signs each delivery (kept as is: it is a key, not a password).
CREATE TABLE webhooks (
    user_id    TEXT PRIMARY KEY,
    url        TEXT NOT NULL,
    format     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
