//! The shared test kit, pointed at this crate's own binary.

#![allow(dead_code)]

pub mod cases;

pub use dropcast_tests::*;

pub fn start() -> Server {
    start_with(&[])
}

/// Starts the server with extra `DROPCAST_*` settings.
pub fn start_with(env: &[(&str, &str)]) -> Server {
    Server::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_dropcast-server")),
        env,
    )
}
