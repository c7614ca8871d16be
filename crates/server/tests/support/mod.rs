//! The shared test kit, pointed at this crate's own binary.

#![allow(dead_code)]

pub mod cases;

pub use dropcast_tests::*;

pub fn start() -> Server {
    start_with(&[])
}

/// Whether this test binary runs its tests on the AWS-local stack:
/// `api_on_aws.rs` and `pages_on_aws.rs` hold `api.rs` and `pages.rs`, so
/// the same tests, with the same assertions, run on both backends.
pub fn on_aws() -> bool {
    env!("CARGO_CRATE_NAME").ends_with("_on_aws")
}

/// The server on the backend of this test binary ([`on_aws`]), with
/// extra `DROPCAST_*` settings.
pub fn start_with(env: &[(&str, &str)]) -> Server {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_dropcast-server"));
    if !on_aws() {
        return Server::start(bin, env);
    }
    let (s3, pg) = (Seaweed::start(), Postgres::start());
    let mut all = s3.server_env();
    all.extend(pg.server_env());
    all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut server = Server::start(bin, &all);
    server.s3 = Some(s3);
    server.keep(pg);
    server
}
