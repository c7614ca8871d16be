//! The `dropcast:` protocol: `dropcast://localhost/pick/monitor-1.png` (the
//! region picker's frozen screen) and `dropcast://localhost/thumb/{id}` (a
//! history thumbnail). Names are checked to be plain file names; nothing
//! outside those two folders is served.

use std::path::PathBuf;

use dropcast_actions::resident;
use tauri::http::{Request, Response, StatusCode};
use tauri::{Runtime, UriSchemeContext, UriSchemeResponder};

fn plain(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The file a path names, if it may be served.
fn file_of(path: &str) -> Option<PathBuf> {
    match path.trim_start_matches('/').split_once('/')? {
        ("pick", name) if plain(name) => Some(resident::pick_dir().join(name)),
        ("thumb", id) if plain(id) => {
            let dirs = dropcast_client::settings::Dirs::for_user().ok()?;
            Some(dirs.thumbnail(id))
        }
        _ => None,
    }
}

pub fn serve<R: Runtime>(
    _ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let path = request.uri().path().to_string();
    std::thread::spawn(move || {
        let found = file_of(&path).and_then(|f| std::fs::read(f).ok());
        let response = match found {
            Some(bytes) => Response::builder()
                .header("Content-Type", "image/png")
                .header("Cache-Control", "no-store")
                .body(bytes),
            None => Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Vec::new()),
        };
        responder.respond(response.expect("a valid response"));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_in_the_two_folders_are_served() {
        assert!(file_of("/pick/monitor-1.png").is_some());
        assert!(file_of("/pick/../secret").is_none());
        assert!(file_of("/pick/a/b.png").is_none());
        assert!(file_of("/etc/passwd").is_none());
        assert!(file_of("/thumb/..").is_none());
        assert!(file_of("/thumb/").is_none());
    }
}
