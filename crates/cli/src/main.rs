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
use dropcast_actions::{self as actions, ClipboardRoute, Kind, Session, ShotOptions};
use dropcast_api as api;
use dropcast_capture::Target;
use dropcast_client::journal::Journal;
use dropcast_client::settings::OnClipboard;
use dropcast_client::Sensitive;
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

/// What to capture: the same for `shot` and `record`.
#[derive(clap::Args)]
struct TargetArgs {
    /// All monitors, as one image (the default).
    #[arg(long, group = "target")]
    screen: bool,
    /// Monitor N (see `dropcast monitors`), or `cursor` for the one
    /// under the mouse pointer.
    #[arg(long, group = "target", value_name = "N|cursor")]
    monitor: Option<String>,
    /// A window by id (see `dropcast windows`), or `pick` to choose it in
    /// the desktop's own dialog (Wayland, which has no window list).
    #[arg(long, group = "target", value_name = "ID|pick")]
    window: Option<String>,
    /// A rectangle in desktop coordinates; it may span monitors.
    #[arg(long, group = "target", value_name = "X,Y,W,H")]
    region: Option<dropcast_capture::Rect>,
}

impl TargetArgs {
    fn target(&self) -> Result<Target, Failure> {
        Ok(if let Some(m) = &self.monitor {
            match m.as_str() {
                "cursor" => Target::CursorMonitor,
                n => Target::Monitor(n.parse().map_err(|_| {
                    Failure::new(2, format!("--monitor {n:?}: use a number or `cursor`"))
                })?),
            }
        } else if let Some(w) = &self.window {
            if w == "pick" {
                Target::ChosenWindow
            } else {
                Target::Window(parse_window_id(w)?)
            }
        } else if let Some(r) = self.region {
            Target::Region(r)
        } else {
            Target::AllMonitors
        })
    }
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
        copy: Option<OnClipboard>,
    },
    /// Capture the screen, a monitor, a window or a region and share it.
    ///
    /// The link is on the clipboard as soon as the pixels are taken (from
    /// the pool of reserved ids); the upload follows.
    Shot {
        #[command(flatten)]
        target: TargetArgs,
        /// Also keep the image in FILE (without --no-upload the upload is
        /// made from it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only capture (to --out, or ./screenshot-<time>.<ext>).
        #[arg(long)]
        no_upload: bool,
        /// What goes on the clipboard [default: the `copy` setting, link]
        #[arg(long, value_enum)]
        copy: Option<OnClipboard>,
        /// png, jpeg or webp [default: the `image.format` setting, png]
        #[arg(long)]
        format: Option<dropcast_encode::Format>,
        /// Draw the mouse pointer in.
        #[arg(long)]
        cursor: bool,
        /// Pixelate every secret found in the capture's text (OCR:
        /// keys, tokens, e-mail addresses, card numbers, private keys)
        /// before it is saved or shared; --json lists what was hidden.
        #[arg(long)]
        redact: bool,
    },
    /// Record the screen (or a monitor, window, region) to an H.264 MP4,
    /// shared while it records: the link is there at once, the video plays
    /// once it stops; Ctrl+C stops, `kill -USR1` pauses and resumes.
    Record {
        #[command(flatten)]
        target: TargetArgs,
        /// Frames per second, 1 to 60 [default: the `record.fps` setting, 30].
        #[arg(long)]
        fps: Option<u32>,
        /// Stop after this many seconds [default: the `record.max_minutes`
        /// setting, 60 minutes].
        #[arg(long, value_name = "SECONDS")]
        duration: Option<f64>,
        /// Keep the recording in FILE (else it waits in the data dir until
        /// the server has it).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Only record (to --out, or ./recording-<time>.mp4).
        #[arg(long)]
        no_upload: bool,
        /// Draw the mouse pointer in [default: the `record.cursor` setting, on].
        #[arg(long)]
        cursor: bool,
        /// Make an animated GIF (15 fps, at most 800 pixels wide, one
        /// palette for the clip) instead of an MP4: for short clips.
        #[arg(long)]
        gif: bool,
        /// Record the default microphone too, as AAC [default: the
        /// `record.audio` setting, off].
        #[arg(long, conflicts_with = "gif")]
        audio: bool,
        /// Record what the computer plays too (the default output's
        /// monitor), mixed with the microphone when both are on [default:
        /// the `record.system_audio` setting, off].
        #[arg(long, conflicts_with = "gif")]
        system_audio: bool,
    },
    /// The monitors, numbered as `shot --monitor N` takes them.
    Monitors,
    /// The windows, front-most first, with the ids `shot --window` takes.
    Windows,
    /// Delete a drop, on the server and from the local history.
    Delete {
        /// The drop's id (which may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Finish uploads that were cut short (crash, reboot, network).
    Resume,
    /// Drops made from this machine, newest first.
    History {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Open a drop's page in the browser.
    Open {
        /// The drop's id (which may start with `-`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
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

impl From<actions::Error> for Failure {
    fn from(e: actions::Error) -> Self {
        let code = match e.kind {
            Kind::SignIn => 3,
            Kind::Unreachable => 4,
            Kind::LocalFile => 5,
            Kind::Capture => 6,
            Kind::Invalid => 2,
            Kind::Failed => 1,
        };
        Failure::new(code, e.message)
    }
}

/// Every error the actions know converts through them.
macro_rules! via_actions {
    ($($t:ty),*) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Self {
                Failure::from(actions::Error::from(e))
            }
        }
    )*};
}
via_actions!(
    dropcast_client::Error,
    dropcast_client::share::ShareError,
    dropcast_client::journal::JournalError,
    dropcast_client::settings::SettingsError,
    dropcast_client::credentials::CredentialError,
    dropcast_capture::CaptureError
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

async fn run(cli: Cli) -> Result<(), Failure> {
    let mut ctx = Session::load()?;
    let json = cli.json;
    match cli.command {
        Command::Login {
            server,
            user,
            token_stdin,
            password_stdin,
        } => {
            let how_token;
            let password;
            let user_name;
            let how = if token_stdin {
                how_token = Sensitive::new(read_stdin("the token")?);
                actions::SignIn::Token(how_token)
            } else {
                user_name = match user {
                    Some(u) => u,
                    None => prompt("User: ")?,
                };
                password = if password_stdin {
                    Sensitive::new(read_stdin("the password")?)
                } else {
                    Sensitive::new(rpassword::prompt_password("Password: ").map_err(|e| {
                        Failure::new(
                            2,
                            format!("cannot ask for a password: {e}; use --password-stdin"),
                        )
                    })?)
                };
                actions::SignIn::Password {
                    user: &user_name,
                    password: &password,
                    program: "dropcast cli",
                }
            };
            let name = actions::sign_in(&mut ctx, &server, how).await?;
            let server = ctx.settings.server.clone().unwrap_or_default();
            if json {
                println!(
                    "{}",
                    json!({"server": server, "user": name, "status": "signed_in"})
                );
            } else {
                println!("Signed in to {server} as {name}.");
            }
        }
        Command::Logout => {
            let (server, had) = actions::sign_out(&ctx)?;
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
        Command::Upload { files, copy } => {
            let sharer = ctx.sharer().await?;
            let mut drops = Vec::new();
            for path in &files {
                drops.push(actions::share_file(&sharer, path, &progress_bar(json)).await?);
            }
            let copy = copy.unwrap_or(if dropcast_client::clipboard::available() {
                OnClipboard::Link
            } else {
                OnClipboard::None
            });
            let urls: Vec<&str> = drops.iter().map(|d| d.url.as_str()).collect();
            let copied = copy != OnClipboard::None && holder().copy_links(&urls);
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
            target,
            out,
            no_upload,
            copy,
            format,
            cursor,
            redact,
        } => {
            let target = target.target()?;
            let mut image = ctx.settings.image;
            if let Some(format) = format {
                image.format = format;
            }
            let options = ShotOptions {
                image,
                out,
                copy: copy.unwrap_or(ctx.settings.copy),
                redact,
            };
            if !no_upload {
                ctx.server()?; // signed in? say so before capturing
            }
            if redact {
                actions::check_redaction()?;
            }
            let frame = actions::capture(target, cursor || ctx.settings.cursor).await?;
            if no_upload {
                if copy == Some(OnClipboard::Link) {
                    return Err(Failure::new(
                        2,
                        "--copy link needs an upload: use --copy image or --copy none with \
                         --no-upload",
                    ));
                }
                let saved = actions::save_frame(frame, &options, &holder()).await?;
                if json {
                    println!(
                        "{}",
                        json!({
                            "path": saved.path,
                            "width": saved.width,
                            "height": saved.height,
                            "content_type": saved.content_type,
                            "copied": saved.copied,
                            "redacted": saved.redacted,
                        })
                    );
                } else {
                    say_redacted(redact, &saved.redacted);
                    println!("{}", saved.path.display());
                }
            } else {
                let shared =
                    actions::share_frame(&ctx, frame, &options, &holder(), &progress_bar(json))
                        .await?;
                if json {
                    let mut out = drop_json(&shared.drop);
                    out["width"] = json!(shared.width);
                    out["height"] = json!(shared.height);
                    out["copied"] = json!(shared.copied);
                    out["redacted"] = json!(shared.redacted);
                    if let Some(p) = &options.out {
                        out["path"] = json!(p);
                    }
                    println!("{out}");
                } else {
                    say_redacted(redact, &shared.redacted);
                    println!("{}", shared.drop.url);
                }
            }
        }
        Command::Record {
            target,
            fps,
            duration,
            out,
            no_upload,
            cursor,
            gif,
            audio,
            system_audio,
        } => {
            let fps = fps.unwrap_or(ctx.settings.record.fps);
            if !(1..=60).contains(&fps) {
                return Err(Failure::new(2, format!("--fps {fps}: use 1 to 60")));
            }
            let max = match duration {
                Some(d) if d > 0.0 && d.is_finite() => Some(std::time::Duration::from_secs_f64(d)),
                Some(d) => return Err(Failure::new(2, format!("--duration {d}: use seconds > 0"))),
                None => Some(ctx.settings.record.max_minutes)
                    .filter(|m| *m > 0)
                    .map(|m| std::time::Duration::from_secs(u64::from(m) * 60)),
            };
            let target = target.target()?;
            if !no_upload {
                ctx.client()?; // signed in? say so before recording
            }
            let options = actions::RecordOptions {
                fps,
                cursor: cursor || ctx.settings.record.cursor,
                max,
                audio: actions::Sound {
                    microphone: want(audio, ctx.settings.record.audio && !gif),
                    system: want(system_audio, ctx.settings.record.system_audio && !gif),
                },
            };
            let controls = std::sync::Arc::new(actions::Controls::default());
            {
                let controls = controls.clone();
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        controls.stop();
                    }
                });
            }
            #[cfg(unix)]
            {
                // `kill -USR1` pauses, and again resumes.
                let controls = controls.clone();
                if let Ok(mut usr1) =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::user_defined1())
                {
                    tokio::spawn(async move {
                        while usr1.recv().await.is_some() {
                            let paused = controls.toggle_pause();
                            eprintln!(
                                "{}",
                                if paused {
                                    "Paused."
                                } else {
                                    "Recording again."
                                }
                            );
                        }
                    });
                }
            }
            let stops = if duration.is_some() {
                ""
            } else {
                "; Ctrl+C stops"
            };
            let recorded_json = |r: &actions::Recorded| {
                json!({
                    "path": r.path,
                    "width": r.width,
                    "height": r.height,
                    "frames": r.frames,
                    "duration_ms": r.duration.as_millis() as u64,
                    "encoder": r.encoder,
                    "captured": r.counts.captured,
                    "dropped": r.counts.dropped,
                    "unchanged": r.counts.unchanged,
                    "audio": r.audio,
                })
            };
            if gif {
                // Recorded to an MP4 beside it first, then made a GIF and
                // shared (not while recording: the GIF needs the whole clip).
                let gif_path = out.clone().unwrap_or_else(|| {
                    let name = actions::recording_name().replace(".mp4", ".gif");
                    if no_upload {
                        PathBuf::from(name)
                    } else {
                        ctx.dirs.captures().join(name)
                    }
                });
                let mp4 = gif_path.with_extension("gif.mp4");
                if !json {
                    eprintln!("Recording a GIF{stops}.");
                }
                let recorded = {
                    let mp4 = mp4.clone();
                    tokio::task::spawn_blocking(move || {
                        actions::record(target, &mp4, &options, &controls)
                    })
                    .await
                    .expect("recording does not panic")?
                };
                let frames = match actions::mp4_to_gif(&mp4, &gif_path).await {
                    Ok(frames) => {
                        let _ = std::fs::remove_file(&mp4);
                        frames
                    }
                    Err(mut e) => {
                        let _ = std::fs::remove_file(&gif_path);
                        e.message
                            .push_str(&format!("; the recording is kept in {}", mp4.display()));
                        return Err(e.into());
                    }
                };
                let mut out_json = recorded_json(&recorded);
                out_json["path"] = json!(gif_path);
                out_json["gif_frames"] = json!(frames);
                if no_upload {
                    if json {
                        println!("{out_json}");
                    } else {
                        println!("{}", gif_path.display());
                    }
                } else {
                    let sharer = ctx.sharer().await?;
                    let d = actions::share_file(&sharer, &gif_path, &progress_bar(json)).await?;
                    if out.is_none() {
                        // Made in the data dir only to be sent.
                        actions::forget_capture(&sharer, &d.id, &gif_path).await?;
                    }
                    holder().copy_links(&[d.url.as_str()]);
                    if json {
                        out_json["url"] = json!(d.url);
                        out_json["id"] = json!(d.id);
                        println!("{out_json}");
                    } else {
                        println!("{}", d.url);
                    }
                }
            } else if no_upload {
                let path = out.unwrap_or_else(|| PathBuf::from(actions::recording_name()));
                if !json {
                    eprintln!("Recording to {}{stops}.", path.display());
                }
                let recorded = tokio::task::spawn_blocking(move || {
                    actions::record(target, &path, &options, &controls)
                })
                .await
                .expect("recording does not panic")?;
                if json {
                    println!("{}", recorded_json(&recorded));
                } else {
                    println!("{}", recorded.path.display());
                }
            } else {
                let on_link = |url: &str| {
                    if json {
                        println!("{}", json!({ "recording": url }));
                    } else {
                        eprintln!("Recording: {url}{stops}.");
                    }
                };
                let shared = actions::share_recording(
                    &ctx,
                    target,
                    &options,
                    out,
                    &holder(),
                    controls,
                    &actions::RecordHooks {
                        on_link: &on_link,
                        progress_for: &progress_bar(json),
                    },
                )
                .await?;
                if json {
                    let mut out_json = recorded_json(&shared.recorded);
                    out_json["url"] = json!(shared.drop.url);
                    out_json["id"] = json!(shared.drop.id);
                    out_json["copied"] = json!(shared.copied);
                    out_json["parts_while_recording"] = json!(shared.parts_while_recording);
                    println!("{out_json}");
                } else {
                    println!("{}", shared.drop.url);
                }
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
            actions::delete(&ctx, &id).await?;
            if json {
                println!("{}", json!({"id": id, "status": "deleted"}));
            } else {
                println!("Deleted {id}.");
            }
        }
        Command::Resume => {
            let sharer = ctx.sharer().await?;
            let done = actions::resume_all(&sharer, &progress_bar(json)).await?;
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

/// What `--redact` hid, on stderr (stdout keeps the path or link alone).
fn say_redacted(asked: bool, found: &[dropcast_redact::Finding]) {
    if !asked {
        return;
    }
    if found.is_empty() {
        eprintln!("dropcast: no secrets found in the capture's text");
        return;
    }
    let list: Vec<String> = found
        .iter()
        .map(|f| {
            let kind = serde_json::to_value(f.kind).unwrap_or_default();
            let kind = kind.as_str().unwrap_or("secret").replace('_', " ");
            if f.hint.is_empty() {
                kind
            } else {
                format!("{kind} {}", f.hint)
            }
        })
        .collect();
    eprintln!("dropcast: pixelated {}: {}", found.len(), list.join(", "));
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
            format!("--window {s:?}: use an id from `dropcast windows`, or `pick`"),
        )
    })
}

/// A sound source asked for by a flag (required), or by a setting (when
/// there is one; a GIF has no sound, so the caller says no for it).
fn want(flag: bool, setting: bool) -> actions::Want {
    match (flag, setting) {
        (true, _) => actions::Want::Required,
        (false, true) => actions::Want::IfAny,
        (false, false) => actions::Want::No,
    }
}

/// The clipboard for a short-lived CLI: a detached holder process.
fn holder() -> ClipboardRoute {
    ClipboardRoute::Holder
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

/// Progress bars on a terminal (none with --json or when piped): given a
/// name and size, a callback that moves a fresh bar and clears it when done.
fn progress_bar(json: bool) -> impl Fn(&str, u64) -> Option<dropcast_client::Progress> + Sync {
    move |name: &str, size: u64| {
        if json || !std::io::stderr().is_terminal() {
            return None;
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
        let progress: dropcast_client::Progress = std::sync::Arc::new(move |done: u64| {
            bar.set_position(done);
            if done >= size {
                bar.finish_and_clear();
            }
        });
        Some(progress)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_that_starts_with_a_dash_is_an_id_not_a_flag() {
        // Ids are base64url: one in 64 starts with `-`.
        for command in ["delete", "open"] {
            let cli = Cli::try_parse_from(["dropcast", command, "-Tq3xY0aBcDe"])
                .unwrap_or_else(|e| panic!("{command}: {e}"));
            let id = match cli.command {
                Command::Delete { id } | Command::Open { id } => id,
                _ => panic!("{command} parsed as another command"),
            };
            assert_eq!(id, "-Tq3xY0aBcDe");
        }
    }
}
