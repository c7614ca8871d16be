//! One `dropcast-app` per user: the first binds a Unix socket in the
//! runtime dir; later ones send their request to it as one line and exit.

use std::path::PathBuf;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::Request;

pub enum Claim {
    /// Another instance runs and has the request.
    Forwarded,
    /// This is the first instance.
    First(UnixListener),
}

fn socket_path() -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let user = std::env::var("USER").unwrap_or_default();
    dir.join(format!("dropcast-app-{user}.sock"))
}

/// Becomes the instance, or hands `line` to the one that is.
pub async fn claim(line: Option<&str>) -> Result<Claim, String> {
    let path = socket_path();
    if let Ok(mut stream) = UnixStream::connect(&path).await {
        let line = line.unwrap_or("");
        stream
            .write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| format!("talking to the running dropcast-app: {e}"))?;
        eprintln!("dropcast-app: already running; passed the request on");
        return Ok(Claim::Forwarded);
    }
    // Nobody answers: a socket file left by a crash is stale.
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).map_err(|e| format!("listening on {}: {e}", path.display()))?;
    Ok(Claim::First(listener))
}

/// Turns lines from later instances into requests.
pub fn serve(listener: UnixListener, tx: mpsc::UnboundedSender<Request>) {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(r) = Request::from_line(&line) {
                        let _ = tx.send(r);
                    }
                }
            });
        }
    });
}
