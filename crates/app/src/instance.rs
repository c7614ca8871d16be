//! One `dropcast-app` per user: the first claims the resident socket
//! ([`resident::claim`]); later ones send their command to it as one
//! line and exit. The windows process and tests use the same socket.

use dropcast_actions::resident::{self, Command, Listening};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::Request;

pub enum Claim {
    /// Another instance runs and has the command.
    Forwarded,
    /// This is the first instance.
    First(Listening),
}

/// Becomes the instance, or hands `command` to the one that is.
pub async fn claim(command: Option<&Command>) -> Result<Claim, String> {
    let claimed =
        resident::claim().map_err(|e| format!("becoming the resident dropcast-app: {e}"))?;
    if let Some(listening) = claimed {
        return Ok(Claim::First(listening));
    }
    if let Some(c) = command {
        forward(c).await?;
    }
    eprintln!("dropcast-app: already running; passed the request on");
    Ok(Claim::Forwarded)
}

/// Sends `command` to the running instance, which may have claimed the
/// socket a moment ago and not listen yet.
async fn forward(command: &Command) -> Result<(), String> {
    let mut tries = 0;
    loop {
        match resident::send(command).await {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput || tries == 20 => {
                return Err(format!("talking to the running dropcast-app: {e}"));
            }
            Err(_) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Turns lines from later instances and the windows process into requests.
pub fn serve(listening: Listening, tx: mpsc::UnboundedSender<Request>) {
    tokio::spawn(async move {
        while let Ok(stream) = listening.accept().await {
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
