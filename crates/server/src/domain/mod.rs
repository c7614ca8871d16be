//! The server's rules, apart from HTTP: functions that take what a
//! request means and return a domain error (`access::Denied`), which
//! `http/` shows as a page or a JSON error. So far,
//! `access` (who may read a drop); the upload rules still sit in
//! `http::drops` and `http::parts`.

pub mod access;
