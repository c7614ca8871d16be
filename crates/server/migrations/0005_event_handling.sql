-- Dropcast metadata, version 5: each event handled once.

-- Which handler took which event. SNS delivers at least once, so the same
-- event may arrive twice, even at once; a handler runs only when it can
-- claim its row here, and marks it done after. A claim left unfinished
-- (its process died) may be taken again after a while. Rows are forgotten
-- by the cleanup job after 30 days.
CREATE TABLE handled_events (
    event_id   TEXT NOT NULL,
    handler    TEXT NOT NULL,
    claimed_at BIGINT NOT NULL,
    done       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, handler)
);

CREATE INDEX handled_events_by_age ON handled_events (claimed_at);
