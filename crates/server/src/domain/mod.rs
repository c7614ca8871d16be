//! The server's rules, apart from HTTP: functions that take what a
//! request means and return the drop's state or a domain error
//! ([`access::Denied`], or an `ApiError` with its code), which `http/`
//! shows as a page or a JSON error: `access` is who may read a drop,
//! `drops` what an owner may do with theirs, `uploads` the part protocol,
//! `oneshot` a small file in one request and `webhooks` where a user's
//! completed drops are told of.

pub mod access;
pub mod drops;
pub mod oneshot;
pub mod uploads;
pub mod webhooks;
