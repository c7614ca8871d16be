//! What the server does beside answering requests: the event relay and
//! its handlers (`events`), thumbnails (`thumbnails`, a handler of
//! `drop.completed`), and the cleanup of expired drops and stale uploads
//! (`cleanup`). `serve` runs them in-process; `dropcast-server work` and
//! `cleanup` run them on their own.

pub mod cleanup;
pub mod events;
pub mod thumbnails;
