//! What the server does beside answering requests: the event relay and
//! its handlers (`events`), thumbnails and webhooks (`thumbnails`,
//! `webhooks`: handlers of `drop.completed`), the cleanup of expired drops
//! and stale uploads (`cleanup`), and the guard of a serverless deployment
//! (`guard`). `serve` runs the relay and the cleanup in-process;
//! `dropcast-server work` and `cleanup` run them on their own.

pub mod cleanup;
pub mod events;
pub mod guard;
pub mod thumbnails;
pub mod webhooks;
