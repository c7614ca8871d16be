-- The history as first shipped (97d22ad): one row per drop made here.
CREATE TABLE drops (
    id           TEXT PRIMARY KEY,
    server       TEXT NOT NULL,
    url          TEXT NOT NULL,
    raw_url      TEXT NOT NULL,
    name         TEXT NOT NULL,
    local_path   TEXT,
    size         INTEGER,
    status       TEXT NOT NULL,
    error        TEXT,
    created_at   INTEGER NOT NULL,
    completed_at INTEGER
);
CREATE INDEX drops_by_time ON drops (created_at);
