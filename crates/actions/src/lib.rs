//! What Dropcast does, for every front end: the `dropcast` CLI and the tray
//! app call these functions and only decide how to show the outcome.
//!
//! A [`Session`] is one OS user's sign-in, settings and history. A shot is
//! [`capture`] (pixels), then [`share_frame`] (the link from the reserved
//! pool on the clipboard at once, then encode, keep, upload) or
//! [`save_frame`] (a file only). Files go through [`share_file`]. Errors
//! carry a [`Kind`] that the CLI maps to exit codes and the app to
//! messages.

pub mod recorder;
pub mod resident;

pub use recorder::{record, Controls, RecordOptions, Recorded, Recorder, Sound, Want};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dropcast_api as api;
use dropcast_capture::{Frame, Target};
use dropcast_client::clipboard::{self, Content};
use dropcast_client::credentials::Credentials;
use dropcast_client::journal::Journal;
use dropcast_client::settings::{Dirs, OnClipboard, Settings};
use dropcast_client::share::{Sharer, Source};
use dropcast_client::{Client, Progress, Sensitive};

/// What kind of failure, for a front end to act on: the CLI maps it to an
/// exit code, the windows to advice (`ui/src/lib/errors.ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Not signed in, or the server refused the token: sign in again.
    SignIn,
    /// The server cannot be reached.
    Unreachable,
    /// A local file cannot be read or written (a full disk, say).
    LocalFile,
    /// Nothing to capture: no display, no such monitor or window, a region
    /// off screen.
    Capture,
    /// A value the user gave is not valid; the message says which.
    Invalid,
    /// Anything else; the message says what.
    Failed,
}

/// A failure: its kind, a message that says what to do, and the drop's
/// link when it has one (it works once the upload is resumed).
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub link: Option<String>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            link: None,
        }
    }

    fn not_signed_in() -> Self {
        Error::new(
            Kind::SignIn,
            "not signed in: run `dropcast login --server URL` first",
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<dropcast_client::Error> for Error {
    fn from(e: dropcast_client::Error) -> Self {
        use dropcast_client::Error as E;
        let kind = match &e {
            E::Api {
                code: api::ErrorCode::Unauthorized | api::ErrorCode::InvalidCredentials,
                ..
            } => Kind::SignIn,
            E::Http(_) => Kind::Unreachable,
            E::Io(_) | E::Journal(_) => Kind::LocalFile,
            _ => Kind::Failed,
        };
        let hint = match kind {
            Kind::SignIn => "; sign in again with `dropcast login --server URL`",
            Kind::Unreachable => "; is the server running, and is the URL right?",
            _ => "",
        };
        Error::new(kind, format!("{e}{hint}"))
    }
}

impl From<dropcast_client::share::ShareError> for Error {
    fn from(e: dropcast_client::share::ShareError) -> Self {
        let mut err = Error::from(e.error);
        if let Some(link) = &e.link {
            err.message.push_str(&format!(
                "; the file is kept and the link {link} works once `dropcast resume` has sent it"
            ));
        }
        err.link = e.link;
        err
    }
}

impl From<dropcast_capture::CaptureError> for Error {
    fn from(e: dropcast_capture::CaptureError) -> Self {
        Error::new(Kind::Capture, e.to_string())
    }
}

impl From<dropcast_client::journal::JournalError> for Error {
    fn from(e: dropcast_client::journal::JournalError) -> Self {
        dropcast_client::Error::from(e).into()
    }
}

macro_rules! failed_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::new(Kind::Failed, e.to_string())
            }
        }
    )*};
}
failed_from!(
    dropcast_client::settings::SettingsError,
    dropcast_client::credentials::CredentialError,
    dropcast_encode::EncodeError
);

/// One OS user's sign-in, settings and history.
pub struct Session {
    pub dirs: Dirs,
    pub settings: Settings,
    pub credentials: Credentials,
}

impl Session {
    pub fn load() -> Result<Session> {
        let dirs = Dirs::for_user()?;
        let settings = Settings::load(&dirs)?;
        let credentials = Credentials::new(settings.credentials, &dirs);
        Ok(Session {
            dirs,
            settings,
            credentials,
        })
    }

    /// The server signed in to.
    pub fn server(&self) -> Result<String> {
        self.settings
            .server
            .clone()
            .ok_or_else(Error::not_signed_in)
    }

    /// The signed-in client (the token from the keyring).
    pub fn client(&self) -> Result<Client> {
        let server = self.server()?;
        let token = self
            .credentials
            .load(&server)?
            .ok_or_else(Error::not_signed_in)?;
        Ok(Client::new(&server, Some(token.expose().clone())))
    }

    pub async fn sharer(&self) -> Result<Sharer> {
        Ok(Sharer {
            client: self.client()?,
            journal: Journal::open(&self.dirs).await?,
            dirs: self.dirs.clone(),
            parallel: self.settings.parallel,
        })
    }
}

/// How to sign in: a user's password (a new token is issued, named after
/// the program and machine) or a token made elsewhere.
pub enum SignIn<'a> {
    Password {
        user: &'a str,
        password: &'a Sensitive<String>,
        /// "dropcast cli", "dropcast app": the token's name says where.
        program: &'a str,
    },
    Token(Sensitive<String>),
}

/// Signs in to `server`: the token goes to the keyring, the server into
/// the settings, and the pool of reserved links is filled so the first
/// drop's link is there at once. Answers the user's name.
pub async fn sign_in(session: &mut Session, server: &str, how: SignIn<'_>) -> Result<String> {
    let server = server.trim().trim_end_matches('/').to_string();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        return Err(Error::new(
            Kind::Failed,
            format!("{server:?} is not a server URL: write it as http://host:port or https://host"),
        ));
    }
    let anon = Client::new(&server, None);
    let token = match how {
        SignIn::Token(token) => token,
        SignIn::Password {
            user,
            password,
            program,
        } => {
            let label = format!("{program} on {}", hostname());
            Sensitive::new(anon.login(user, password.expose(), &label).await?.token)
        }
    };
    let me = anon.with_token(Some(token.expose().clone())).me().await?;
    session.credentials.save(&server, &token)?;
    session.settings.server = Some(server);
    session.settings.save(&session.dirs)?;
    session.sharer().await?.top_up_pool().await?;
    Ok(me.name)
}

/// Forgets the token of the server signed in to (the server stays in the
/// settings for the next sign-in). Answers the server and whether a token
/// was there.
pub fn sign_out(session: &Session) -> Result<(String, bool)> {
    let server = session
        .settings
        .server
        .clone()
        .ok_or_else(|| Error::new(Kind::SignIn, "not signed in"))?;
    let had = session.credentials.delete(&server)?;
    Ok((server, had))
}

/// This machine's name, for naming tokens.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "this machine".into())
}

/// Opens a link in the default browser (http and https only: a link from
/// a server never opens a local file or another program).
pub fn open_in_browser(url: &str) -> Result<()> {
    if !resident::is_plain_link(url) {
        return Err(Error::new(
            Kind::Failed,
            format!("{url:?} is not a web link: only http(s) links are opened"),
        ));
    }
    let program = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    std::process::Command::new(program)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|e| Error::new(Kind::Failed, format!("cannot open {url}: {program}: {e}")))
}

/// How content reaches the clipboard. A short-lived program hands it to a
/// detached holder process (`dropcast-clipboard`); a long-lived one (the
/// tray app) can keep it itself.
#[derive(Debug, Clone, Copy)]
pub enum ClipboardRoute {
    Holder,
    InProcess,
}

impl ClipboardRoute {
    /// Copies `content`; a failure is reported on stderr and answered false
    /// (it never fails the share).
    pub fn copy(&self, content: Content) -> bool {
        let done = match self {
            ClipboardRoute::Holder => clipboard::copy_detached(content),
            ClipboardRoute::InProcess => clipboard::copy_here(content),
        };
        match done {
            Ok(()) => true,
            Err(e) => {
                eprintln!("dropcast: not copied: {e}");
                false
            }
        }
    }

    pub fn copy_links(&self, urls: &[&str]) -> bool {
        self.copy(Content::Text(urls.join("\n")))
    }

    pub fn copy_image(&self, frame: &Frame) -> bool {
        self.copy(Content::Image {
            width: frame.image.width(),
            height: frame.image.height(),
            rgba: frame.image.as_raw().clone(),
        })
    }
}

/// Takes the pixels (on the blocking pool).
pub async fn capture(target: Target, cursor: bool) -> Result<Frame> {
    let options = dropcast_capture::Options { cursor };
    Ok(
        tokio::task::spawn_blocking(move || dropcast_capture::capture(&target, options))
            .await
            .expect("capture does not panic")?,
    )
}

async fn encode(
    frame: Arc<Frame>,
    settings: dropcast_encode::Settings,
) -> Result<dropcast_encode::Encoded> {
    Ok(tokio::task::spawn_blocking(move || {
        dropcast_encode::encode(&frame.image, frame.scale_factor, &settings)
    })
    .await
    .expect("encoding does not panic")?)
}

/// `screenshot-20261126-093000.png`, from when the frame was taken (UTC).
pub fn capture_name(frame: &Frame, format: dropcast_encode::Format) -> String {
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

/// Writes an encoded capture; a full disk says so.
fn save(path: &Path, bytes: &[u8]) -> Result<PathBuf> {
    let written = if path.exists() && !path.is_file() {
        // A device or a pipe (e.g. /dev/stdout): write into it as it is.
        std::fs::write(path, bytes).map(|()| path.to_path_buf())
    } else {
        dropcast_client::share::write_file(path, bytes)
    };
    written.map_err(|e| {
        Error::new(
            Kind::LocalFile,
            format!(
                "cannot save the capture to {}: {}",
                path.display(),
                dropcast_client::share::explain_io(&e)
            ),
        )
    })
}

/// What goes with a frame: how to encode it, where to keep a copy, what
/// to put on the clipboard.
#[derive(Debug, Clone)]
pub struct ShotOptions {
    pub image: dropcast_encode::Settings,
    /// Also keep the image here (the upload is then made from it).
    pub out: Option<PathBuf>,
    pub copy: OnClipboard,
    /// Pixelate every secret found in the capture's text first.
    pub redact: bool,
}

/// Whether captures can be checked for secrets here (OCR installed with
/// its data): asked before capturing, so that no link is spent on a
/// capture that cannot be checked.
pub fn check_redaction() -> Result<()> {
    dropcast_redact::ocr::check().map_err(|e| Error::new(Kind::Failed, e.to_string()))
}

/// The secrets found in `frame`'s text (OCR), each pixelated: the frame
/// as it may be shared, and what was hidden. A capture whose text cannot
/// be read (no OCR installed) is an error, never passed as clean.
pub async fn redact(frame: Frame) -> Result<(Frame, Vec<dropcast_redact::Finding>)> {
    tokio::task::spawn_blocking(move || {
        let (width, height) = frame.image.dimensions();
        let found = dropcast_redact::scan(frame.image.as_raw(), width, height)
            .map_err(|e| Error::new(Kind::Failed, e.to_string()))?;
        if found.is_empty() {
            return Ok((frame, found));
        }
        let shapes = found
            .iter()
            .map(|f| {
                let a = f.area.padded(REDACT_MARGIN, (width, height));
                // One block over the whole box: a single colour, from
                // which no character can be matched back.
                dropcast_annotate::Shape::Pixelate {
                    area: dropcast_annotate::Area {
                        x: a.x as f32,
                        y: a.y as f32,
                        width: a.width as f32,
                        height: a.height as f32,
                    },
                    block: a.width.max(a.height),
                }
            })
            .collect();
        let document = dropcast_annotate::Document { shapes, crop: None };
        let (pixels, _, _) =
            dropcast_annotate::render(frame.image.as_raw(), width, height, &document)
                .map_err(|e| Error::new(Kind::Failed, e.to_string()))?;
        let image = image::RgbaImage::from_raw(width, height, pixels)
            .expect("the renderer keeps the size when nothing is cropped");
        Ok((Frame { image, ..frame }, found))
    })
    .await
    .expect("redacting does not panic")
}

/// Pixels added round a secret's box before it is pixelated: OCR's boxes
/// hug the ink, and anti-aliased edges reach past them.
const REDACT_MARGIN: u32 = 4;

/// A frame saved to a file only.
#[derive(Debug, Clone)]
pub struct Saved {
    pub path: PathBuf,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub copied: bool,
    /// The secrets pixelated before it was saved ([`ShotOptions::redact`]).
    pub redacted: Vec<dropcast_redact::Finding>,
}

/// Encodes a frame to `options.out` (or `./screenshot-<time>.<ext>`),
/// copying the image when asked (a link cannot be copied: nothing is shared).
pub async fn save_frame(
    frame: Frame,
    options: &ShotOptions,
    route: &ClipboardRoute,
) -> Result<Saved> {
    let (frame, redacted) = if options.redact {
        redact(frame).await?
    } else {
        (frame, Vec::new())
    };
    let frame = Arc::new(frame);
    let encoded = encode(frame.clone(), options.image).await?;
    let path = options
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(capture_name(&frame, encoded.format)));
    let path = save(&path, &encoded.bytes)?;
    let copied = options.copy == OnClipboard::Image && route.copy_image(&frame);
    Ok(Saved {
        path,
        width: encoded.width,
        height: encoded.height,
        content_type: encoded.format.content_type(),
        copied,
        redacted,
    })
}

/// A shared frame.
#[derive(Debug, Clone)]
pub struct Shared {
    pub drop: api::Drop,
    pub width: u32,
    pub height: u32,
    pub copied: bool,
    /// The secrets pixelated before it was shared ([`ShotOptions::redact`]).
    pub redacted: Vec<dropcast_redact::Finding>,
}

/// Shares a frame: its link (from the pool, which needs neither the token
/// nor the server) on the clipboard at once; then encode, keep the file
/// (in the data dir until the server has it, or at `options.out`), write
/// the history thumbnail and upload. `progress_for(name, size)` may give a
/// progress callback for the upload.
pub async fn share_frame(
    session: &Session,
    frame: Frame,
    options: &ShotOptions,
    route: &ClipboardRoute,
    progress_for: &(dyn Fn(&str, u64) -> Option<Progress> + Sync),
) -> Result<Shared> {
    let server = session.server()?;
    let journal = Journal::open(&session.dirs).await?;
    let pooled = Sharer::link_from_pool(&journal, &server).await?;
    let mut copied = false;
    if let (Some(link), OnClipboard::Link) = (&pooled, options.copy) {
        copied = route.copy_links(&[link.url.as_str()]);
    }
    let sharer = Sharer {
        client: session.client()?,
        journal,
        dirs: session.dirs.clone(),
        parallel: session.settings.parallel,
    };
    let link = link_or_reserve(&sharer, pooled, "capture").await?;
    if !copied && options.copy == OnClipboard::Link {
        copied = route.copy_links(&[link.url.as_str()]);
    }
    // The link is out at once; the bytes wait for the check.
    let (frame, redacted) = if options.redact {
        redact(frame).await?
    } else {
        (frame, Vec::new())
    };
    let frame = Arc::new(frame);
    let encoded = encode(frame.clone(), options.image).await?;
    let name = capture_name(&frame, encoded.format);
    let path = match &options.out {
        Some(out) => save(out, &encoded.bytes)?,
        None => save(
            &session
                .dirs
                .captures()
                .join(format!("{}.{}", link.id, encoded.format.extension())),
            &encoded.bytes,
        )?,
    };
    if let Ok(thumb) = dropcast_encode::thumbnail(&frame.image, dropcast_encode::THUMBNAIL_SIZE) {
        let _ = dropcast_client::share::write_file(&session.dirs.thumbnail(&link.id), &thumb);
    }
    if options.copy == OnClipboard::Image {
        copied = route.copy_image(&frame);
    }
    let id = link.id.clone();
    let progress = progress_for(&name, encoded.bytes.len() as u64);
    let d = sharer
        .share(Source {
            path: &path,
            name,
            link: Some(link),
            progress,
        })
        .await?;
    forget_capture(&sharer, &id, &path).await?;
    Ok(Shared {
        drop: d,
        width: encoded.width,
        height: encoded.height,
        copied,
        redacted,
    })
}

/// The link for a new drop (a `what`): `pooled`, taken from the pool
/// already, else one the server reserves now.
async fn link_or_reserve(
    sharer: &Sharer,
    pooled: Option<api::Reservation>,
    what: &str,
) -> Result<api::Reservation> {
    match pooled {
        Some(link) => Ok(link),
        None => sharer.link().await?.ok_or_else(|| {
            Error::new(
                Kind::Unreachable,
                format!(
                    "no link to give the {what}: the server cannot be reached and no reserved \
                     ids are left; is the server running? (retry when it is)"
                ),
            )
        }),
    }
}

/// Shares a file under its own name.
pub async fn share_file(
    sharer: &Sharer,
    path: &Path,
    progress_for: &(dyn Fn(&str, u64) -> Option<Progress> + Sync),
) -> Result<api::Drop> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let progress = progress_for(&name, size);
    Ok(sharer
        .share(Source {
            path,
            name,
            link: None,
            progress,
        })
        .await?)
}

/// Finishes every interrupted upload of this session's server, each in
/// turn: one that fails does not stop the others (the first failure is
/// answered once all were tried).
pub async fn resume_all(
    sharer: &Sharer,
    progress_for: &(dyn Fn(&str, u64) -> Option<Progress> + Sync),
) -> Result<Vec<api::Drop>> {
    let mut done = Vec::new();
    let mut first_error = None;
    for e in sharer.journal.unfinished(sharer.client.base()).await? {
        if sharer.is_recording(&e) {
            continue; // its recorder finishes it
        }
        let progress = progress_for(&e.name, e.size.unwrap_or(0) as u64);
        // One that fails does not hold up the others.
        match sharer.resume(&e, progress).await {
            Ok(d) => {
                done.push(d);
                if let Some(path) = &e.local_path {
                    forget_capture(sharer, &e.id, Path::new(path)).await?;
                }
            }
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(done),
    }
}

/// Deletes a drop on the server, and its history entry, thumbnail and any
/// capture kept for it.
pub async fn delete(session: &Session, id: &str) -> Result<()> {
    session.client()?.delete_drop(id).await?;
    let journal = Journal::open(&session.dirs).await?;
    if let Some(e) = journal.get(id).await? {
        if let Some(path) = e.local_path {
            remove_if_capture(&session.dirs, Path::new(&path));
        }
    }
    journal.forget(id).await?;
    let _ = std::fs::remove_file(session.dirs.thumbnail(id));
    Ok(())
}

/// A capture kept in the data dir only until the server had it: delete it
/// and say so in the journal. Files of the user's are left alone.
pub async fn forget_capture(sharer: &Sharer, id: &str, path: &Path) -> Result<()> {
    if remove_if_capture(&sharer.dirs, path) {
        sharer.journal.forget_local(id).await?;
    }
    Ok(())
}

fn remove_if_capture(dirs: &Dirs, path: &Path) -> bool {
    path.starts_with(dirs.captures()) && std::fs::remove_file(path).is_ok()
}

/// A recording shared while it was made.
#[derive(Debug, Clone)]
pub struct SharedRecording {
    pub drop: api::Drop,
    pub recorded: Recorded,
    /// Its link went to the clipboard.
    pub copied: bool,
    /// Parts sent while recording (the rest went at the stop).
    pub parts_while_recording: u32,
}

/// What a front end is told while a recording is shared.
pub struct RecordHooks<'a> {
    /// The link, when recording starts.
    pub on_link: &'a (dyn Fn(&str) + Sync),
    /// A progress callback for the upload left at the stop, by name and size.
    pub progress_for: &'a (dyn Fn(&str, u64) -> Option<Progress> + Sync),
}

/// Records `target` and shares it at the same time: the drop and its link
/// exist when recording starts (`on_link` is told it, and it goes to the
/// clipboard then or at the stop, as the settings say), whole parts are
/// sent while recording goes on, and at the stop only the tail is left.
/// The file is `out`, or kept in the data dir until the server has it. A
/// server that cannot be reached does not stop the recording: what was
/// recorded stays in the history for `dropcast resume`.
pub async fn share_recording(
    session: &Session,
    target: Target,
    options: &RecordOptions,
    out: Option<PathBuf>,
    route: &ClipboardRoute,
    controls: Arc<Controls>,
    hooks: &RecordHooks<'_>,
) -> Result<SharedRecording> {
    let RecordHooks {
        on_link,
        progress_for,
    } = hooks;
    use dropcast_client::live;
    // The recorder first, with its sound open: a microphone asked for and
    // missing fails before a link is given out (a dead link on the
    // clipboard helps no one).
    let recorder = {
        let options = options.clone();
        tokio::task::spawn_blocking(move || Recorder::start(target, &options))
            .await
            .expect("starting the recorder does not panic")?
    };
    let sharer = session.sharer().await?;
    let pooled = Sharer::link_from_pool(&sharer.journal, sharer.client.base()).await?;
    let link = link_or_reserve(&sharer, pooled, "recording").await?;
    let path = out.unwrap_or_else(|| session.dirs.captures().join(format!("{}.mp4", link.id)));
    // Absolute: `resume` may run from another directory.
    let path = std::path::absolute(&path).unwrap_or(path);
    let name = recording_name();
    let lock = live::RecordingLock::take(&session.dirs, &link.id)
        .map_err(|e| Error::new(Kind::LocalFile, format!("cannot start recording: {e}")))?;
    let link_at_start = session.settings.record.link_at_start;
    let mut copied = link_at_start && route.copy_links(&[link.url.as_str()]);
    on_link(&link.url);

    // The drop on the server, and its parts sent as the file grows.
    let started = match sharer.start_live(&link, &name, &path).await {
        Ok(d) => Some(d),
        Err(e) if e.error.code() == Some(api::ErrorCode::Unauthorized) => {
            sharer.journal.forget(&link.id).await?;
            return Err(e.error.into());
        }
        Err(e) => {
            eprintln!("dropcast: recording without sending it yet: {e}");
            None
        }
    };
    let (finished, finished_rx) = tokio::sync::watch::channel(false);
    let uploader = started.as_ref().map(|d| {
        let part_size = d.upload.as_ref().map(live::part_size).unwrap_or(1 << 20);
        let (client, id, path) = (sharer.client.clone(), d.id.clone(), path.clone());
        let task = tokio::spawn(async move {
            live::send_growing(&client, &id, &path, part_size, 8, finished_rx).await
        });
        (task, part_size)
    });

    let recorded = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || recorder.record(&path, &controls))
            .await
            .expect("recording does not panic")
    };
    let _ = finished.send(true);
    let mut parts_while_recording = 0;
    let mut part_size = None;
    if let Some((task, size)) = uploader {
        part_size = Some(size);
        match task.await.expect("the part sender does not panic") {
            Ok(n) => parts_while_recording = n,
            Err(e) => eprintln!("dropcast: parts not sent while recording: {e}"),
        }
    }
    let recorded = match recorded {
        Ok(r) => r,
        Err(mut e) if has_fragments(&path).await => {
            // Failed after recording something (a full disk, say): what
            // plays is kept for `resume`.
            sharer.journal.fail(&link.id, &e.message).await?;
            e.message.push_str(&format!(
                "; what was recorded is kept and the link {} works once `dropcast resume` \
                 has sent it",
                link.url
            ));
            e.link = Some(link.url.clone());
            return Err(e);
        }
        Err(e) => {
            // Nothing worth keeping was recorded: no drop either.
            if started.is_some() {
                let _ = sharer.client.delete_drop(&link.id).await;
            }
            sharer.journal.forget(&link.id).await?;
            if !remove_if_capture(&session.dirs, &path) && path.exists() {
                // The user's own --out file: left, but it holds no video.
                eprintln!("dropcast: {} holds no video", path.display());
            }
            return Err(e);
        }
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let progress = progress_for(&name, size);
    let d = match (&started, part_size) {
        (Some(d), Some(part_size)) => sharer.finish_live(d, &path, part_size, progress).await?,
        _ => {
            // Not made on the server at the start: now, as `resume` would
            // (which leaves a drop alone while its lock is held).
            drop(lock);
            let entry = sharer.journal.get(&link.id).await?.ok_or_else(|| {
                Error::new(Kind::Failed, "the recording's history entry went away")
            })?;
            sharer.resume(&entry, progress).await?
        }
    };
    if !link_at_start {
        copied = route.copy_links(&[d.url.as_str()]);
    }
    forget_capture(&sharer, &d.id, &path).await?;
    let _ = sharer.top_up_pool().await;
    Ok(SharedRecording {
        drop: d,
        recorded,
        copied,
        parts_while_recording,
    })
}

/// Whether the recording at `path` has at least one whole fragment (a
/// frame that plays).
async fn has_fragments(path: &Path) -> bool {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || dropcast_encode::mp4::fragments(&path).is_ok_and(|n| n > 0))
        .await
        .unwrap_or(false)
}

/// Makes an animated GIF of the recording at `mp4`; answers its frame
/// count.
pub async fn mp4_to_gif(mp4: &Path, gif: &Path) -> Result<u64> {
    let (mp4, gif) = (mp4.to_path_buf(), gif.to_path_buf());
    tokio::task::spawn_blocking(move || recorder::mp4_to_gif_blocking(&mp4, &gif))
        .await
        .expect("GIF making does not panic")
}

/// `recording-20261126-093000.mp4`, from now (UTC).
pub fn recording_name() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "recording-{:04}{:02}{:02}-{:02}{:02}{:02}.mp4",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
