-- Dropcast metadata, version 6: the guard (serverless deployments).

-- Failed requests per client address and minute, as the guard function
-- counted them from the API's access logs (which reach it in batches).
-- Forgotten after an hour.
CREATE TABLE guard_failures (
    address  TEXT NOT NULL,
    minute   BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (address, minute)
);

-- Addresses the guard blocks at the WAF, and until when (unix ms). The
-- WAF's IP set is made to match this table.
CREATE TABLE guard_blocks (
    address TEXT PRIMARY KEY,
    until   BIGINT NOT NULL
);
