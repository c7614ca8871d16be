//! Links libpulse-simple on Linux (the sound for recordings), found by
//! pkg-config, so that a machine without its -dev package is told which
//! library is missing.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        if let Err(e) = pkg_config::Config::new()
            .atleast_version("12")
            .probe("libpulse-simple")
        {
            panic!("libpulse-simple (Debian: libpulse-dev) is needed to record sound: {e}");
        }
    }
}
