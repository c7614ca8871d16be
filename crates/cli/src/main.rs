//! `dropcast`: Dropcast on the command line.
//!
//! A shell over `dropcast-client`: parse the command, call the client,
//! print the result (`--json`: one JSON document on stdout).
//!
//! Exit codes: 0 done; 1 failed (the message says why); 2 bad usage;
//! 3 not signed in or the token was refused (run `dropcast login`);
//! 4 the server cannot be reached; 5 a local file cannot be read or
//! written (the disk is full, say); 6 nothing to capture (no display, no
//! such monitor or window, a region off screen).

use clap::{Parser, Subcommand};
use dropcast_api as api;
use dropcast_capture::Target;
use dropcast_client::credentials::Credentials;
use dropcast_client::journal::Journal;
use dropcast_client::settings::{Dirs, Settings};
use dropcast_client::share::{Sharer, Source};
use dropcast_client::{Client, Sensitive};
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
    /// Capture the screen, a monitor, a window or a region and share it.
    ///
    /// The link is on the clipboard as soon as the pixels are taken (from
    /// the pool of reserved ids); the upload follows.
    Shot {
        /// All monitors, as one image (the default).
        #[arg(long, group = "target")]
        screen: bool,
        /// Monitor N (see `dropcast monitors`), or `cursor` for the one
        /// under the mouse pointer.
        #[arg(long, group = "target", value_name = "N|cursor")]
        monitor: Option<String>,
        /// A window by id (see `dropcast windows`).
        #[arg(long, group = "target", value_name = "ID")]
        window: Option<String>,
        /// A rectangle in desktop coordinates; it may span monitors.
        #[arg(long, group = "target", value_name = "X,Y,W,H")]
        region: Option<dropcast_capture::Rect>,
        /// Also keep the image in FILE (without --no-upload the upload is
        /// made from it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only capture (to --out, or ./screenshot-<time>.<ext>).
        #[arg(long)]
        no_upload: bool,
        /// What goes on the clipboard [default: the `copy` setting, link]
        #[arg(long, value_enum)]
        copy: Option<Copy>,
        /// png, jpeg or webp [default: the `image.format` setting, png]
        #[arg(long)]
        format: Option<dropcast_encode::Format>,
        /// Draw the mouse pointer in.
        #[arg(long)]
        cursor: bool,
    },
    /// The monitors, numbered as `shot --monitor N` takes them.
    Monitors,
    /// The windows, front-most first, with the ids `shot --window` takes.
    Windows,
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
    /// (internal) Serve clipboard content until another program takes it.
    #[command(name = "__hold-clipboard", hide = true)]
    HoldClipboard,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Copy {
    /// The links, one per line.
    Link,
    /// The captured image (`shot` only).
    Image,
    /// Nothing.
    None,
}

impl From<dropcast_client::settings::Copy> for Copy {
    fn from(c: dropcast_client::settings::Copy) -> Self {
        use dropcast_client::settings::Copy as Setting;
        match c {
            Setting::Link => Copy::Link,
            Setting::Image => Copy::Image,
            Setting::None => Copy::None,
        }
    }
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
            Error::Io(_) | Error::Journal(_) => 5,
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
impl From<dropcast_client::share::ShareError> for Failure {
    fn from(e: dropcast_client::share::ShareError) -> Self {
        let mut f = Failure::from(e.error);
        if let Some(link) = e.link {
            f.message.push_str(&format!(
                "; the file is kept and the link {link} works once `dropcast resume` has sent it"
            ));
        }
        f
    }
}

impl From<dropcast_capture::CaptureError> for Failure {
    fn from(e: dropcast_capture::CaptureError) -> Self {
        Failure::new(6, e.to_string())
    }
}

impl From<dropcast_client::journal::JournalError> for Failure {
    fn from(e: dropcast_client::journal::JournalError) -> Self {
        Failure::from(dropcast_client::Error::from(e))
    }
}

fail_from!(
    dropcast_client::settings::SettingsError,
    dropcast_client::credentials::CredentialError,
    dropcast_encode::EncodeError
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

    async fn sharer(&self) -> Result<Sharer, Failure> {
        Ok(Sharer {
            client: self.client()?,
            journal: Journal::open(&self.dirs).await?,
            dirs: self.dirs.clone(),
            parallel: self.settings.parallel,
        })
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
            // Fill the pool of reserved ids now, so the first drop's link
            // is there at once.
            ctx.sharer().await?.top_up_pool().await?;
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
            dropcast_client::clipboard::hold().map_err(|e| Failure::new(1, e.to_string()))?;
        }
        Command::Upload { files, copy } => {
            let sharer = ctx.sharer().await?;
            let mut drops = Vec::new();
            for path in &files {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "file".into());
                drops.push(share_file(&sharer, path, name, None, json).await?);
            }
            let copy = copy.unwrap_or(if dropcast_client::clipboard::available() {
                Copy::Link
            } else {
                Copy::None
            });
            let urls: Vec<&str> = drops.iter().map(|d| d.url.as_str()).collect();
            let copied = copy != Copy::None && copy_links(&urls);
            if json {
                let list: Vec<_> = drops.iter().map(drop_json).collect();
                println!("{}", json!({ "drops": list, "copied": copied }));
            } else {
                for d in &drops {
                    println!("{}", d.url);
                }
            }
        }
        Command::Shot {
            screen: _,
            monitor,
            window,
            region,
            out,
            no_upload,
            copy,
            format,
            cursor,
        } => {
            let target = if let Some(m) = monitor {
                match m.as_str() {
                    "cursor" => Target::CursorMonitor,
                    n => Target::Monitor(n.parse().map_err(|_| {
                        Failure::new(2, format!("--monitor {n:?}: use a number or `cursor`"))
                    })?),
                }
            } else if let Some(w) = window {
                Target::Window(parse_window_id(&w)?)
            } else if let Some(r) = region {
                Target::Region(r)
            } else {
                Target::AllMonitors
            };
            let mut image = ctx.settings.image;
            if let Some(format) = format {
                image.format = format;
            }
            let shot = Shot {
                target,
                cursor: cursor || ctx.settings.cursor,
                image,
                out,
                copy: copy.unwrap_or(ctx.settings.copy.into()),
            };
            if no_upload {
                if copy == Some(Copy::Link) {
                    return Err(Failure::new(
                        2,
                        "--copy link needs an upload: use --copy image or --copy none with \
                         --no-upload",
                    ));
                }
                capture_only(shot, json).await?;
            } else {
                capture_and_share(&ctx, shot, json).await?;
            }
        }
        Command::Monitors => {
            let monitors = tokio::task::spawn_blocking(dropcast_capture::monitors)
                .await
                .expect("monitor listing does not panic")?;
            if json {
                println!("{}", json!({ "monitors": monitors }));
            } else {
                for m in monitors {
                    println!(
                        "{}\t{}\t{}\tscale {}{}",
                        m.number,
                        m.name,
                        m.rect,
                        m.scale_factor,
                        if m.primary { "\tprimary" } else { "" }
                    );
                }
            }
        }
        Command::Windows => {
            let windows = tokio::task::spawn_blocking(dropcast_capture::windows)
                .await
                .expect("window listing does not panic")?;
            if json {
                println!("{}", json!({ "windows": windows }));
            } else {
                for w in windows {
                    println!(
                        "{:#x}\t{}\t{}\t{}{}",
                        w.id,
                        w.rect,
                        w.app,
                        w.title,
                        if w.minimized { "\t(minimized)" } else { "" }
                    );
                }
            }
        }
        Command::Delete { id } => {
            let c = ctx.client()?;
            c.delete_drop(&id).await?;
            let journal = Journal::open(&ctx.dirs).await?;
            if let Some(e) = journal.get(&id).await? {
                if let Some(path) = e.local_path {
                    let _ = remove_if_capture(&ctx.dirs, std::path::Path::new(&path));
                }
            }
            journal.forget(&id).await?;
            let _ = std::fs::remove_file(ctx.dirs.thumbnail(&id));
            if json {
                println!("{}", json!({"id": id, "status": "deleted"}));
            } else {
                println!("Deleted {id}.");
            }
        }
        Command::Resume => {
            let sharer = ctx.sharer().await?;
            let mut done = Vec::new();
            for e in sharer.journal.unfinished(sharer.client.base()).await? {
                let (bar, progress) = progress_bar(&e.name, e.size.unwrap_or(0) as u64, json);
                let resumed = sharer.resume(&e, progress).await;
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                done.push(resumed?);
                if let Some(path) = &e.local_path {
                    forget_capture(&sharer, &e.id, std::path::Path::new(path)).await?;
                }
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
            let thumbnail = |id: &str| {
                let path = ctx.dirs.thumbnail(id);
                path.exists().then_some(path)
            };
            if json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        let mut v = json!(e);
                        v["thumbnail"] = json!(thumbnail(&e.id));
                        v
                    })
                    .collect();
                println!("{}", json!({ "drops": list }));
            } else {
                for e in entries {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        e.id,
                        e.status,
                        e.url,
                        e.size.map(|s| s.to_string()).unwrap_or_default(),
                        e.local_path.as_deref().unwrap_or("-"),
                        thumbnail(&e.id).map_or("-".into(), |p| p.display().to_string())
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

/// A capture to take, and what to do with it.
struct Shot {
    target: Target,
    cursor: bool,
    image: dropcast_encode::Settings,
    out: Option<PathBuf>,
    copy: Copy,
}

/// Window ids as `dropcast windows` prints them (hex) or in decimal.
fn parse_window_id(s: &str) -> Result<u32, Failure> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| {
        Failure::new(
            2,
            format!("--window {s:?}: use an id from `dropcast windows`"),
        )
    })
}

async fn capture(shot: &Shot) -> Result<dropcast_capture::Frame, Failure> {
    let (target, options) = (
        shot.target.clone(),
        dropcast_capture::Options {
            cursor: shot.cursor,
        },
    );
    Ok(
        tokio::task::spawn_blocking(move || dropcast_capture::capture(&target, options))
            .await
            .expect("capture does not panic")?,
    )
}

async fn encode(
    frame: std::sync::Arc<dropcast_capture::Frame>,
    settings: dropcast_encode::Settings,
) -> Result<dropcast_encode::Encoded, Failure> {
    Ok(tokio::task::spawn_blocking(move || {
        dropcast_encode::encode(&frame.image, frame.scale_factor, &settings)
    })
    .await
    .expect("encoding does not panic")?)
}

/// `screenshot-20261126-093000.png`, from when the frame was taken (UTC).
fn capture_name(frame: &dropcast_capture::Frame, format: dropcast_encode::Format) -> String {
    let t = time::OffsetDateTime::from(frame.captured_at);
    format!(
        "screenshot-{:04}{:02}{:02}-{:02}{:02}{:02}.{}",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        format.extension()
    )
}

/// Writes an encoded capture; a full disk says so (exit 5).
fn save(path: &std::path::Path, bytes: &[u8]) -> Result<PathBuf, Failure> {
    let written = if path.exists() && !path.is_file() {
        // A device or a pipe (e.g. /dev/stdout): write into it as it is.
        std::fs::write(path, bytes).map(|()| path.to_path_buf())
    } else {
        dropcast_client::share::write_file(path, bytes)
    };
    written.map_err(|e| {
        Failure::new(
            5,
            format!(
                "cannot save the capture to {}: {}",
                path.display(),
                dropcast_client::share::explain_io(&e)
            ),
        )
    })
}

fn copy_image(frame: &dropcast_capture::Frame) -> bool {
    let content = dropcast_client::clipboard::Content::Image {
        width: frame.image.width(),
        height: frame.image.height(),
        rgba: frame.image.as_raw().clone(),
    };
    copy_content(content)
}

/// `shot --no-upload`: capture, encode, save, maybe copy the image.
async fn capture_only(shot: Shot, json: bool) -> Result<(), Failure> {
    let frame = std::sync::Arc::new(capture(&shot).await?);
    let encoded = encode(frame.clone(), shot.image).await?;
    let path = shot
        .out
        .unwrap_or_else(|| PathBuf::from(capture_name(&frame, encoded.format)));
    let path = save(&path, &encoded.bytes)?;
    let copied = shot.copy == Copy::Image && copy_image(&frame);
    if json {
        println!(
            "{}",
            json!({
                "path": path,
                "width": encoded.width,
                "height": encoded.height,
                "content_type": encoded.format.content_type(),
                "copied": copied,
            })
        );
    } else {
        println!("{}", path.display());
    }
    Ok(())
}

/// `shot`: capture; the link from the pool on the clipboard at once; then
/// encode, save (the capture is kept until the server has it) and upload.
async fn capture_and_share(ctx: &Ctx, shot: Shot, json: bool) -> Result<(), Failure> {
    let not_signed_in =
        || Failure::new(3, "not signed in: run `dropcast login --server URL` first");
    let server = ctx.settings.server.clone().ok_or_else(not_signed_in)?;
    let frame = std::sync::Arc::new(capture(&shot).await?);
    // The link first: from the pool, which needs neither the token nor
    // the server.
    let journal = Journal::open(&ctx.dirs).await?;
    let pooled = Sharer::link_from_pool(&journal, &server).await?;
    let mut copied = false;
    if let (Some(link), Copy::Link) = (&pooled, shot.copy) {
        copied = copy_links(&[link.url.as_str()]);
    }
    let sharer = Sharer {
        client: ctx.client()?,
        journal,
        dirs: ctx.dirs.clone(),
        parallel: ctx.settings.parallel,
    };
    let link = match pooled {
        Some(link) => link,
        None => sharer.link().await?.ok_or_else(|| {
            Failure::new(
                4,
                "no link to give the capture: the server cannot be reached and no reserved \
                 ids are left; is the server running? (retry when it is)",
            )
        })?,
    };
    if !copied && shot.copy == Copy::Link {
        copied = copy_links(&[link.url.as_str()]);
    }
    let encoded = encode(frame.clone(), shot.image).await?;
    let name = capture_name(&frame, encoded.format);
    let path = match &shot.out {
        Some(out) => save(out, &encoded.bytes)?,
        None => save(
            &sharer
                .dirs
                .captures()
                .join(format!("{}.{}", link.id, encoded.format.extension())),
            &encoded.bytes,
        )?,
    };
    if let Ok(thumb) = dropcast_encode::thumbnail(&frame.image, dropcast_encode::THUMBNAIL_SIZE) {
        let _ = dropcast_client::share::write_file(&sharer.dirs.thumbnail(&link.id), &thumb);
    }
    if shot.copy == Copy::Image {
        copied = copy_image(&frame);
    }
    let id = link.id.clone();
    let d = share_file(&sharer, &path, name, Some(link), json).await?;
    forget_capture(&sharer, &id, &path).await?;
    if json {
        let mut out = drop_json(&d);
        out["width"] = json!(encoded.width);
        out["height"] = json!(encoded.height);
        out["copied"] = json!(copied);
        if let Some(p) = &shot.out {
            out["path"] = json!(p);
        }
        println!("{out}");
    } else {
        println!("{}", d.url);
    }
    Ok(())
}

/// A capture kept in the data dir only until the server had it: delete it
/// and say so in the journal. Files of the user's are left alone.
async fn forget_capture(sharer: &Sharer, id: &str, path: &std::path::Path) -> Result<(), Failure> {
    if remove_if_capture(&sharer.dirs, path) {
        sharer.journal.forget_local(id).await?;
    }
    Ok(())
}

fn remove_if_capture(dirs: &dropcast_client::settings::Dirs, path: &std::path::Path) -> bool {
    path.starts_with(dirs.captures()) && std::fs::remove_file(path).is_ok()
}

/// Puts the links on the clipboard, one per line; a failure is reported
/// but does not fail the upload.
fn copy_links(urls: &[&str]) -> bool {
    copy_content(dropcast_client::clipboard::Content::Text(urls.join("\n")))
}

fn copy_content(content: dropcast_client::clipboard::Content) -> bool {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("dropcast: not copied: {e}");
            return false;
        }
    };
    match dropcast_client::clipboard::copy_detached(content, &exe, "__hold-clipboard") {
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

/// A progress bar on a terminal (none with --json or when piped), and the
/// callback that moves it.
fn progress_bar(
    name: &str,
    size: u64,
    json: bool,
) -> (
    Option<indicatif::ProgressBar>,
    Option<dropcast_client::Progress>,
) {
    if json || !std::io::stderr().is_terminal() {
        return (None, None);
    }
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    let moved = bar.clone();
    let progress: dropcast_client::Progress =
        std::sync::Arc::new(move |done: u64| moved.set_position(done));
    (Some(bar), Some(progress))
}

/// Shares one file, with a progress bar.
async fn share_file(
    sharer: &Sharer,
    path: &std::path::Path,
    name: String,
    link: Option<api::Reservation>,
    json: bool,
) -> Result<api::Drop, Failure> {
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let (bar, progress) = progress_bar(&name, size, json);
    let done = sharer
        .share(Source {
            path,
            name,
            link,
            progress,
        })
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(done?)
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
