//! One `dropcast-app` per user: the first binds the resident socket
//! ([`resident::socket_path`]); later ones send their command to it as one
//! line and exit. The windows process and tests use the same socket.

use dropcast_actions::resident::{self, Command};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;

use crate::Request;

pub enum Claim {
    /// Another instance runs and has the command.
    Forwarded,
    /// This is the first instance.
    First(UnixListener),
}

/// Becomes the instance, or hands `command` to the one that is.
pub async fn claim(command: Option<&Command>) -> Result<Claim, String> {
    let path = resident::socket_path();
    if tokio::net::UnixStream::connect(&path).await.is_ok() {
        if let Some(c) = command {
            resident::send(c)
                .await
                .map_err(|e| format!("talking to the running dropcast-app: {e}"))?;
        }
        eprintln!("dropcast-app: already running; passed the request on");
        return Ok(Claim::Forwarded);
    }
    // Nobody answers: a socket file left by a crash is stale.
    let _ = std::fs::remove_file(&path);
    let listener =
        UnixListener::bind(&path).map_err(|e| format!("listening on {}: {e}", path.display()))?;
    Ok(Claim::First(listener))
}

/// Turns lines from later instances and the windows process into requests.
pub fn serve(listener: UnixListener, tx: mpsc::UnboundedSender<Request>) {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    match Command::from_line(&line) {
                        Some(c) => {
                            let _ = tx.send(Request::Do(c));
                        }
                        None => eprintln!("dropcast-app: ignored {line:?}"),
                    }
                }
            });
        }
    });
}
