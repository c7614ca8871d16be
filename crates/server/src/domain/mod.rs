//! The server's rules, apart from HTTP: functions that take what a
//! request means and return domain errors, for `http/` to map. So far,
//! `access` (who may read a drop); the upload rules still sit in
//! `http::drops` and `http::parts`.

pub mod access;
