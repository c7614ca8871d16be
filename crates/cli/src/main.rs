//! `dropcast`: Dropcast on the command line.
//!
//! A shell over `dropcast-client`: parse the command, call the client,
//! print the result (`--json`: one JSON document on stdout).
//!
//! Exit codes: 0 done; 1 failed (the message says why); 2 bad usage;
//! 3 not signed in or the token was refused (run `dropcast login`);
//! 4 the server cannot be reached; 5 a local file cannot be read.

use clap::{Parser, Subcommand};
use dropcast_api as api;
use dropcast_client::credentials::Credentials;
use dropcast_client::journal::{Entry, Journal};
use dropcast_client::settings::{Dirs, Settings};
use dropcast_client::{upload_file, Client, Sensitive, UploadOptions};
use serde_json::json;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "dropcast",
    version,
    about = "Share screenshots, screencasts and files"
)]
struct Cli {
    /// Print one machine-readable JSON result on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in to a drop server; the token goes to the OS keyring.
    Login {
        /// The server's URL, e.g. http://127.0.0.1:8080
        #[arg(long, env = "DROPCAST_SERVER")]
        server: String,
        /// User name (asked for when missing and not using --token-stdin).
        #[arg(long)]
        user: Option<String>,
        /// Read an API token (from `dropcast-server token create`) from stdin.
        #[arg(long, conflicts_with = "password_stdin")]
        token_stdin: bool,
        /// Read the password from stdin instead of asking for it.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Forget the sign-in token.
    Logout,
    /// Who this client is signed in as, and where.
    Whoami,
    /// Upload files; their links are printed, one per line, and copied.
    Upload {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// What goes on the clipboard [default: link when there is a
        /// clipboard (a display), else none]
        #[arg(long, value_enum)]
        copy: Option<Copy>,
    },
    /// Delete a drop, on the server and from the local history.
    Delete { id: String },
    /// Finish uploads that were cut short (crash, reboot, network).
    Resume,
    /// Drops made from this machine, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Open a drop's page in the browser.
    Open { id: String },
    /// (internal) Serve text on the clipboard until another program takes it.
    #[command(name = "__hold-clipboard", hide = true)]
    HoldClipboard,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Copy {
    /// The links, one per line.
    Link,
    /// Nothing.
    None,
}

/// A failure with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

impl From<dropcast_client::Error> for Failure {
    fn from(e: dropcast_client::Error) -> Self {
        use dropcast_client::Error;
        let code = match &e {
            Error::Api {
                code: api::ErrorCode::Unauthorized | api::ErrorCode::InvalidCredentials,
                ..
            } => 3,
            Error::Http(_) => 4,
            Error::Io(_) => 5,
            _ => 1,
        };
        let hint = match code {
            3 => "; sign in again with `dropcast login --server URL`",
            4 => "; is the server running, and is the URL right?",
            _ => "",
        };
        Failure::new(code, format!("{e}{hint}"))
    }
}

macro_rules! fail_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::new(1, e.to_string())
            }
        }
    )*};
}
fail_from!(
    dropcast_client::settings::SettingsError,
    dropcast_client::credentials::CredentialError,
    dropcast_client::journal::JournalError
);

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                println!(
                    "{}",
                    json!({"error": {"message": f.message, "exit_code": f.code}})
                );
            }
            eprintln!("dropcast: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

struct Ctx {
    dirs: Dirs,
    settings: Settings,
    credentials: Credentials,
}

impl Ctx {
    fn load() -> Result<Ctx, Failure> {
        let dirs = Dirs::for_user()?;
        let settings = Settings::load(&dirs)?;
        let credentials = Credentials::new(settings.credentials, &dirs);
        Ok(Ctx {
            dirs,
            settings,
            credentials,
        })
    }

    /// The signed-in client, or exit code 3 with what to do.
    fn client(&self) -> Result<Client, Failure> {
        let not_signed_in =
            || Failure::new(3, "not signed in: run `dropcast login --server URL` first");
        let server = self.settings.server.clone().ok_or_else(not_signed_in)?;
        let token = self.credentials.load(&server)?.ok_or_else(not_signed_in)?;
        Ok(Client::new(&server, Some(token.expose().clone())))
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut ctx = Ctx::load()?;
    let json = cli.json;
    match cli.command {
        Command::Login {
            server,
            user,
            token_stdin,
            password_stdin,
        } => {
            let server = server.trim_end_matches('/').to_string();
            let anon = Client::new(&server, None);
            let token = if token_stdin {
                Sensitive::new(read_stdin("the token")?)
            } else {
                let user = match user {
                    Some(u) => u,
                    None => prompt("User: ")?,
                };
                let password = if password_stdin {
                    Sensitive::new(read_stdin("the password")?)
                } else {
                    Sensitive::new(rpassword::prompt_password("Password: ").map_err(|e| {
                        Failure::new(
                            2,
                            format!("cannot ask for a password: {e}; use --password-stdin"),
                        )
                    })?)
                };
                let issued = anon
                    .login(
                        &user,
                        password.expose(),
                        &format!("dropcast cli on {}", hostname()),
                    )
                    .await?;
                Sensitive::new(issued.token)
            };
            let me = anon.with_token(Some(token.expose().clone())).me().await?;
            ctx.credentials.save(&server, &token)?;
            ctx.settings.server = Some(server.clone());
            ctx.settings.save(&ctx.dirs)?;
            if json {
                println!(
                    "{}",
                    json!({"server": server, "user": me.name, "status": "signed_in"})
                );
            } else {
                println!("Signed in to {server} as {}.", me.name);
            }
        }
        Command::Logout => {
            let server = ctx
                .settings
                .server
                .clone()
                .ok_or_else(|| Failure::new(3, "not signed in"))?;
            let had = ctx.credentials.delete(&server)?;
            if json {
                println!(
                    "{}",
                    json!({"server": server, "status": "signed_out", "had_token": had})
                );
            } else {
                println!("Signed out of {server}.");
            }
        }
        Command::Whoami => {
            let c = ctx.client()?;
            let me = c.me().await?;
            if json {
                println!("{}", json!({"server": c.base(), "user": me.name}));
            } else {
                println!("{} on {}", me.name, c.base());
            }
        }
        Command::HoldClipboard => {
            dropcast_client::clipboard::hold_text().map_err(|e| Failure::new(1, e.to_string()))?;
        }
        Command::Upload { files, copy } => {
            let c = ctx.client()?;
            let journal = Journal::open(&ctx.dirs).await?;
            let mut drops = Vec::new();
            for path in &files {
                drops.push(upload_one(&c, &journal, path, ctx.settings.parallel, json).await?);
            }
            let copy = copy.unwrap_or(if dropcast_client::clipboard::available() {
                Copy::Link
            } else {
                Copy::None
            });
            let copied = copy == Copy::Link && copy_links(&drops);
            if json {
                let list: Vec<_> = drops.iter().map(drop_json).collect();
                println!("{}", json!({ "drops": list, "copied": copied }));
            } else {
                for d in &drops {
                    println!("{}", d.url);
                }
            }
        }
        Command::Delete { id } => {
            let c = ctx.client()?;
            c.delete_drop(&id).await?;
            Journal::open(&ctx.dirs).await?.forget(&id).await?;
            if json {
                println!("{}", json!({"id": id, "status": "deleted"}));
            } else {
                println!("Deleted {id}.");
            }
        }
        Command::Resume => {
            let c = ctx.client()?;
            let journal = Journal::open(&ctx.dirs).await?;
            let mut done = Vec::new();
            for e in journal.unfinished(c.base()).await? {
                done.push(resume_one(&c, &journal, &e, ctx.settings.parallel, json).await?);
            }
            if json {
                let list: Vec<_> = done.iter().map(drop_json).collect();
                println!("{}", json!({ "drops": list }));
            } else if done.is_empty() {
                println!("Nothing to resume.");
            } else {
                for d in &done {
                    println!("{}", d.url);
                }
            }
        }
        Command::History { limit } => {
            let journal = Journal::open(&ctx.dirs).await?;
            let entries = journal.recent(limit).await?;
            if json {
                println!("{}", json!({ "drops": entries }));
            } else {
                for e in entries {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        e.id,
                        e.status,
                        e.url,
                        e.size.map(|s| s.to_string()).unwrap_or_default(),
                        e.local_path.unwrap_or_default()
                    );
                }
            }
        }
        Command::Open { id } => {
            let journal = Journal::open(&ctx.dirs).await?;
            let url = match journal.get(&id).await? {
                Some(e) => e.url,
                None => ctx.client()?.drop_info(&id).await?.url,
            };
            let opened = open_in_browser(&url);
            if json {
                println!("{}", json!({"id": id, "url": url, "opened": opened}));
            } else {
                println!("{url}");
            }
        }
    }
    Ok(())
}

/// Finishes one interrupted upload from the file it was made from.
async fn resume_one(
    c: &Client,
    journal: &Journal,
    e: &Entry,
    parallel: usize,
    json: bool,
) -> Result<api::Drop, Failure> {
    let d = if e.on_server {
        match c.drop_info(&e.id).await {
            Ok(d) => d,
            Err(err) => {
                journal.fail(&e.id, &err.to_string()).await?;
                return Err(Failure::from(err));
            }
        }
    } else {
        let size = e.size.unwrap_or(0) as u64;
        create_on_server(c, journal, &e.id, &e.url, &e.name, size).await?
    };
    if d.status == api::DropStatus::Complete {
        journal.complete(&d).await?;
        return Ok(d);
    }
    let path = e.local_path.as_ref().ok_or_else(|| {
        Failure::new(5, format!("drop {} has no local file to resume from", e.id))
    })?;
    send(c, journal, &d, std::path::Path::new(path), parallel, json).await
}

/// Puts the links on the clipboard, one per line; a failure is reported
/// but does not fail the upload.
fn copy_links(drops: &[api::Drop]) -> bool {
    let text = drops
        .iter()
        .map(|d| d.url.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("dropcast: not copied: {e}");
            return false;
        }
    };
    match dropcast_client::clipboard::copy_text_detached(&text, &exe, "__hold-clipboard") {
        Ok(()) => true,
        Err(e) => {
            eprintln!("dropcast: not copied: {e}");
            false
        }
    }
}

/// Opens a URL with the desktop's browser; false when there is none.
fn open_in_browser(url: &str) -> bool {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn drop_json(d: &api::Drop) -> serde_json::Value {
    json!({
        "id": d.id,
        "url": d.url,
        "raw_url": d.raw_url,
        "status": d.status,
        "name": d.name,
        "size": d.size,
        "content_type": d.content_type,
    })
}

/// Keep at least this many reserved ids, so new drops have a link at once.
const POOL_LOW: i64 = 5;
const POOL_REFILL: u32 = 10;

async fn top_up_pool(c: &Client, journal: &Journal) -> Result<(), Failure> {
    if journal.reservations_left(c.base()).await? < POOL_LOW {
        if let Ok(list) = c.reserve(POOL_REFILL).await {
            journal.add_reservations(c.base(), &list).await?;
        }
    }
    Ok(())
}

async fn upload_one(
    c: &Client,
    journal: &Journal,
    path: &PathBuf,
    parallel: usize,
    json: bool,
) -> Result<api::Drop, Failure> {
    let meta =
        std::fs::metadata(path).map_err(|e| Failure::new(5, format!("{}: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Failure::new(5, format!("{} is not a file", path.display())));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    // The drop's id (and so its link) comes from the reserved pool: it
    // exists before any round trip, and while the server is unreachable.
    top_up_pool(c, journal).await?;
    let d = match journal.take_reservation(c.base()).await? {
        Some(r) => {
            journal
                .start_reserved(c.base(), &r, &name, &abs, meta.len())
                .await?;
            create_on_server(c, journal, &r.id, &r.url, &name, meta.len()).await?
        }
        None => {
            let d = c
                .create_drop(&api::CreateDrop {
                    name,
                    size: Some(meta.len()),
                    ..Default::default()
                })
                .await?;
            journal
                .start(c.base(), &d, Some(&abs), Some(meta.len()))
                .await?;
            d
        }
    };
    let done = send(c, journal, &d, &abs, parallel, json).await;
    let _ = top_up_pool(c, journal).await;
    done
}

/// Creates a drop whose id was reserved earlier; an earlier attempt may
/// already have created it.
async fn create_on_server(
    c: &Client,
    journal: &Journal,
    id: &str,
    url: &str,
    name: &str,
    size: u64,
) -> Result<api::Drop, Failure> {
    let req = api::CreateDrop {
        id: Some(id.to_string()),
        name: name.to_string(),
        size: Some(size),
        ..Default::default()
    };
    let created = match c.create_drop(&req).await {
        Err(e) if e.code() == Some(api::ErrorCode::Conflict) => c.drop_info(id).await,
        other => other,
    };
    match created {
        Ok(d) => {
            journal.on_server(id).await?;
            Ok(d)
        }
        Err(e) => {
            journal.fail(id, &e.to_string()).await?;
            let mut f = Failure::from(e);
            f.message.push_str(&format!(
                "; the file is kept and its link {url} works once `dropcast resume` has sent it"
            ));
            Err(f)
        }
    }
}

/// Sends a drop's file (what the server lacks of it) and records the outcome.
async fn send(
    c: &Client,
    journal: &Journal,
    d: &api::Drop,
    path: &std::path::Path,
    parallel: usize,
    json: bool,
) -> Result<api::Drop, Failure> {
    let size = d.size.unwrap_or(0);
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(size);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message(d.name.clone());
        bar
    });
    let progress: Option<dropcast_client::Progress> = bar.clone().map(|b| {
        std::sync::Arc::new(move |done: u64| b.set_position(done)) as dropcast_client::Progress
    });
    let opts = UploadOptions {
        parallel,
        progress,
        ..Default::default()
    };
    let done = upload_file(c, d, path, opts).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match done {
        Ok(d) => {
            journal.complete(&d).await?;
            Ok(d)
        }
        Err(e) => {
            journal.fail(&d.id, &e.to_string()).await?;
            let mut f = Failure::from(e);
            f.message.push_str(&format!(
                "; the link {} works once `dropcast resume` finishes the upload",
                d.url
            ));
            Err(f)
        }
    }
}

fn read_stdin(what: &str) -> Result<String, Failure> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::new(1, format!("reading {what} from stdin: {e}")))?;
    let s = s.trim().to_string();
    if s.is_empty() {
        return Err(Failure::new(2, format!("no {what} on stdin")));
    }
    Ok(s)
}

fn prompt(label: &str) -> Result<String, Failure> {
    use std::io::Write;
    eprint!("{label}");
    let _ = std::io::stderr().flush();
    let mut s = String::new();
    std::io::stdin()
        .read_line(&mut s)
        .map_err(|e| Failure::new(2, format!("cannot ask: {e}; use --user")))?;
    Ok(s.trim().to_string())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this machine".into())
}
