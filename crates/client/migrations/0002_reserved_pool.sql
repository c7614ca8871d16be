-- The pool of drop ids reserved ahead of time (648f3bb): a drop may take
-- its id from it before the server has created it (on_server = 0).
ALTER TABLE drops ADD COLUMN on_server INTEGER NOT NULL DEFAULT 1;
CREATE TABLE reserved (
    id         TEXT PRIMARY KEY,
    server     TEXT NOT NULL,
    url        TEXT NOT NULL,
    raw_url    TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
