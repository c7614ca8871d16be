//! `dropcast-clipboard`: the clipboard holder. Short-lived programs (the
//! CLI, the windows process when no tray app runs) start it with the
//! content on stdin; it serves the clipboard until another program takes
//! it over or the display goes away (see `dropcast_clipboard::hold`).
//! Its own small program, so that it starts in a millisecond or two: it
//! links nothing but the C library.

fn main() -> std::process::ExitCode {
    match std::env::args().nth(1).as_deref() {
        None => match dropcast_clipboard::hold() {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("dropcast-clipboard: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Some("--version") => {
            println!("dropcast-clipboard {}", env!("CARGO_PKG_VERSION"));
            std::process::ExitCode::SUCCESS
        }
        Some(_) => {
            eprintln!(
                "dropcast-clipboard: started by dropcast with the content on stdin; it takes \
                 no arguments"
            );
            std::process::ExitCode::from(2)
        }
    }
}
