//! `dropcast-app`: the resident Dropcast process. A tray icon with its menu
//! (StatusNotifierItem over D-Bus, no GTK), global hotkeys (X11 key grabs),
//! and the same actions as the `dropcast` CLI (dropcast-actions), holding
//! the clipboard itself. No webview lives here, so it idles small; the
//! windows (settings, history, drop window, region picker) are the
//! `dropcast-ui` process, started on demand and gone when they close.
//!
//! One instance per user: a second `dropcast-app [--capture area]` hands
//! its command to the running one over a Unix socket and exits.

mod hotkeys;
mod notify;
mod picker;
#[cfg(target_os = "linux")]
mod shortcuts;
mod tray;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dropcast_actions::resident::{Command, Rec, Region, Shot};
use dropcast_actions::{self as actions, ClipboardRoute, Session, ShotOptions};
use dropcast_capture::{Frame, Rect, Target};
use tokio::sync::mpsc;

mod instance;

/// What the app is asked to do: a resident command (from a hotkey, the
/// menu, a second instance or the windows process) or a menu-only choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Do(Command),
    OpenLink(String),
    Delete(String),
    SignOut,
    /// Turns a sound source of recordings on or off (a setting).
    ToggleSound(SoundSetting),
    /// A second of the recording has passed (the tray shows the time).
    Tick,
    /// Time to try the tray icon again (no tray host took it yet).
    ShowTray,
    /// The recording ended: its link, or what went wrong.
    RecordingEnded(Result<String, String>),
}

/// The sound sources the tray menu turns on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundSetting {
    Microphone,
    System,
}

/// A sound source a setting turns on: recorded when there is one (the
/// hotkey still records without).
fn if_any(on: bool) -> actions::Want {
    if on {
        actions::Want::IfAny
    } else {
        actions::Want::No
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if args == ["--version"] {
        println!("dropcast-app {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    let first = if args.is_empty() {
        None
    } else {
        match Command::from_args(&args) {
            Some(c) => Some(c),
            None => {
                eprintln!(
                    "dropcast-app: unknown arguments {args:?}; use --capture screen|window|area, \
                     --record screen|area|pause|stop, --open settings|history|drop, --resume, --quit or --version"
                );
                return std::process::ExitCode::from(2);
            }
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(first)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dropcast-app: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(first: Option<Command>) -> Result<(), String> {
    let listener = match instance::claim(first.as_ref()).await? {
        instance::Claim::Forwarded => return Ok(()),
        instance::Claim::First(listener) => listener,
    };
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    instance::serve(listener, tx.clone());

    let session = Session::load().map_err(|e| e.message)?;
    let mut keys = hotkeys::Hotkeys::new(tx.clone());
    let missing: Vec<String> = keys
        .apply(&session.settings.hotkeys)
        .into_iter()
        .filter(|s| !s.ok)
        .map(|s| s.error.unwrap_or_default())
        .collect();
    if !missing.is_empty() && session.settings.after.notify {
        // Said once at start; Settings shows it too. The menu still works.
        notify::show(
            &session.settings.after,
            "Dropcast: hotkeys not available",
            &missing.join("; "),
            "dialog-warning",
        );
    }
    let mut tray = tray::Tray::new(tx.clone());
    tray.refresh(&session).await;
    if !tray.shown() {
        retry_tray(tx.clone());
    }
    eprintln!("dropcast-app: ready");
    if let Some(c) = first {
        let _ = tx.send(Request::Do(c));
    }
    let mut app = App {
        frozen: None,
        pick_for_recording: false,
        recording: None,
        tx: tx.clone(),
    };
    while let Some(request) = rx.recv().await {
        if request == Request::Do(Command::Quit) {
            if let Some(r) = &app.recording {
                // Stop it and let it finish sharing before going.
                r.controls.stop();
                while let Some(request) = rx.recv().await {
                    if let Request::RecordingEnded(outcome) = request {
                        eprintln!("dropcast-app: recording: {outcome:?}");
                        break;
                    }
                }
            }
            break;
        }
        if request == Request::ShowTray {
            if tray.show().is_ok() {
                eprintln!("dropcast-app: the tray icon is shown");
            } else {
                retry_tray(tx.clone());
            }
            continue;
        }
        if request == Request::Tick {
            tray.recording(app.recording.as_ref().map(Recording::shown));
            continue;
        }
        if let Request::RecordingEnded(outcome) = &request {
            // Before anything that can fail: the recording is over.
            app.recording = None;
            tray.recording(None);
            let session = Session::load().ok();
            let after = session
                .as_ref()
                .map(|s| s.settings.after.clone())
                .unwrap_or_default();
            let after = &after;
            match outcome {
                Ok(url) => {
                    tray.failed(false);
                    eprintln!("dropcast-app: recording shared {url}");
                    if after.open {
                        let _ = actions::open_in_browser(url);
                    }
                    if after.notify {
                        notify::show(after, "Recording shared", url, "screen-capture");
                    }
                }
                Err(message) => {
                    tray.failed(true);
                    eprintln!("dropcast-app: recording: {message}");
                    if after.notify {
                        notify::failed(after, message);
                    }
                }
            }
            if let Some(session) = &session {
                tray.refresh(session).await;
            }
            continue;
        }
        // Settings and sign-in may have changed (the CLI and the windows
        // process share them).
        let session = match Session::load() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("dropcast-app: {e}");
                notify::failed(&Default::default(), &e.message);
                continue;
            }
        };
        if request == Request::Do(Command::Reload) {
            keys.apply(&session.settings.hotkeys);
            tray.refresh(&session).await;
            continue;
        }
        let shares = matches!(
            request,
            Request::Do(Command::Capture(Shot::Screen | Shot::Window))
        ) || (matches!(request, Request::Do(Command::Region(_)))
            && !app.pick_for_recording);
        tray.busy(shares);
        let toggled = matches!(request, Request::ToggleSound(_));
        let outcome = app.handle(&session, request).await;
        tray.busy(false);
        match outcome {
            Ok(done) => {
                if shares {
                    tray.failed(false);
                }
                eprintln!("dropcast-app: {done}");
            }
            Err(e) => {
                tray.failed(true);
                eprintln!("dropcast-app: {e}");
                if session.settings.after.notify {
                    notify::failed(&session.settings.after, &e.message);
                }
            }
        }
        // A toggle changed the settings the menu shows.
        let session = match toggled {
            true => Session::load().unwrap_or(session),
            false => session,
        };
        tray.refresh(&session).await;
    }
    Ok(())
}

/// Asks for another try at the tray icon in a while: every 2 s for the
/// first minute after start, then every 15 s for ten minutes (a desktop
/// with no tray at all is not asked forever; once shown, the icon follows
/// a tray host that restarts by itself).
fn retry_tray(tx: mpsc::UnboundedSender<Request>) {
    static TRIES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let tries = TRIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if tries >= 30 + 40 {
        eprintln!(
            "dropcast-app: still no tray to show the icon in; hotkeys work. Start a tray \
             (StatusNotifierItem host), then Dropcast again, to have the menu"
        );
        return;
    }
    let wait = Duration::from_secs(if tries < 30 { 2 } else { 15 });
    tokio::spawn(async move {
        tokio::time::sleep(wait).await;
        let _ = tx.send(Request::ShowTray);
    });
}

struct App {
    /// The screen as it was when the region picker opened; the region is
    /// cut from it.
    frozen: Option<Frame>,
    /// The region picker is open to choose what to record.
    pick_for_recording: bool,
    recording: Option<Recording>,
    tx: mpsc::UnboundedSender<Request>,
}

/// A screencast being recorded (and shared as it records) by a task of
/// its own, so the menu and hotkeys stay live to stop it.
struct Recording {
    controls: Arc<actions::Controls>,
    started: Instant,
    /// Time spent paused before the pause running (if any).
    paused_total: Duration,
    paused_since: Option<Instant>,
}

impl Recording {
    /// Recorded time (pauses not counted), and whether it is paused.
    fn shown(&self) -> tray::RecordingShown {
        let paused = self.paused_since.map_or(Duration::ZERO, |s| s.elapsed());
        tray::RecordingShown {
            time: self
                .started
                .elapsed()
                .saturating_sub(self.paused_total + paused),
            paused: self.paused_since.is_some(),
        }
    }
}

impl App {
    /// Does one request; answers what happened, in a line.
    async fn handle(
        &mut self,
        session: &Session,
        request: Request,
    ) -> Result<String, actions::Error> {
        let route = ClipboardRoute::InProcess;
        match request {
            Request::Do(Command::Capture(Shot::Area)) => {
                let frame = actions::capture(Target::AllMonitors, false).await?;
                picker::open(&frame).await?;
                self.frozen = Some(frame);
                self.pick_for_recording = false;
                Ok("region picker open".into())
            }
            Request::Do(Command::Record(Rec::Pause)) => {
                let r = self.recording.as_mut().ok_or_else(|| {
                    actions::Error::new(actions::Kind::Failed, "nothing is being recorded")
                })?;
                if r.controls.toggle_pause() {
                    r.paused_since = Some(Instant::now());
                    Ok("recording paused".into())
                } else {
                    r.paused_total += r
                        .paused_since
                        .take()
                        .map_or(Duration::ZERO, |s| s.elapsed());
                    Ok("recording again".into())
                }
            }
            Request::Do(Command::Record(_)) if self.recording.is_some() => {
                // The record hotkey and menu item stop a running recording.
                let r = self.recording.as_ref().expect("checked");
                r.controls.stop();
                Ok(format!(
                    "stopping the recording after {} s",
                    r.shown().time.as_secs()
                ))
            }
            Request::Do(Command::Record(Rec::Stop)) => Ok("nothing is being recorded".into()),
            Request::Do(Command::Record(Rec::Screen)) => {
                self.start_recording(session, Target::AllMonitors)
            }
            Request::Do(Command::Record(Rec::Area)) => {
                let frame = actions::capture(Target::AllMonitors, false).await?;
                picker::open(&frame).await?;
                self.frozen = Some(frame);
                self.pick_for_recording = true;
                Ok("region picker open (to record)".into())
            }
            Request::Do(Command::Region(rect)) if self.pick_for_recording => {
                self.frozen = None;
                self.pick_for_recording = false;
                self.start_recording(session, Target::Region(desktop(rect)))
            }
            Request::Do(Command::Capture(shot)) => {
                let target = if shot == Shot::Window {
                    front_window().await?
                } else {
                    Target::AllMonitors
                };
                let frame = actions::capture(target, session.settings.cursor).await?;
                share(session, frame).await
            }
            Request::Do(Command::Region(rect)) => {
                let frozen = self.frozen.take().ok_or_else(|| {
                    actions::Error::new(
                        actions::Kind::Capture,
                        "no region picker is open: capture an area first",
                    )
                })?;
                share(session, frozen.crop(desktop(rect))?).await
            }
            Request::Do(Command::PickCancelled) => {
                self.frozen = None;
                self.pick_for_recording = false;
                Ok("region picker cancelled".into())
            }
            Request::Do(Command::Copy(links)) => {
                let links: Vec<&str> = links.iter().map(String::as_str).collect();
                route.copy_links(&links);
                Ok(format!("copied {}", links.join(" ")))
            }
            Request::Do(Command::Open(window)) => {
                picker::windows_process(&[window.name()])?;
                Ok(format!("opened the {} window", window.name()))
            }
            Request::OpenLink(url) => {
                actions::open_in_browser(&url)?;
                Ok(format!("opened {url}"))
            }
            Request::Delete(id) => {
                actions::delete(session, &id).await?;
                Ok(format!("deleted {id}"))
            }
            Request::SignOut => {
                let (server, _) = actions::sign_out(session)?;
                Ok(format!("signed out of {server}"))
            }
            Request::ToggleSound(which) => {
                let mut settings = session.settings.clone();
                let (on, what) = match which {
                    SoundSetting::Microphone => (&mut settings.record.audio, "the microphone"),
                    SoundSetting::System => (&mut settings.record.system_audio, "system sound"),
                };
                *on = !*on;
                let said = format!(
                    "recordings {} {what}",
                    if *on { "record" } else { "leave out" }
                );
                settings
                    .save(&session.dirs)
                    .map_err(|e| actions::Error::new(actions::Kind::LocalFile, e.to_string()))?;
                Ok(said)
            }
            Request::Do(Command::Resume) => {
                let sharer = session.sharer().await?;
                let done = actions::resume_all(&sharer, &|_: &str, _: u64| None).await?;
                Ok(format!("resumed {} uploads", done.len()))
            }
            Request::Do(Command::Reload | Command::Quit) | Request::Tick | Request::ShowTray => {
                Ok(String::new())
            }
            Request::RecordingEnded(_) => Ok(String::new()),
        }
    }

    /// Starts recording `target` in a task of its own: the link goes to
    /// the clipboard (and a notification) at once, the tray counts the
    /// time, and the end comes back as [`Request::RecordingEnded`].
    fn start_recording(
        &mut self,
        session: &Session,
        target: Target,
    ) -> Result<String, actions::Error> {
        if self.recording.is_some() {
            return Err(actions::Error::new(
                actions::Kind::Failed,
                "a recording is already running: stop it first",
            ));
        }
        session.client()?; // signed in? say so before recording
        let settings = &session.settings.record;
        let options = actions::RecordOptions {
            fps: settings.fps.clamp(1, 60),
            cursor: settings.cursor,
            max: Some(settings.max_minutes)
                .filter(|m| *m > 0)
                .map(|m| Duration::from_secs(u64::from(m) * 60)),
            audio: actions::Sound {
                microphone: if_any(settings.audio),
                system: if_any(settings.system_audio),
            },
        };
        let out = session
            .settings
            .after
            .save_folder
            .as_ref()
            .map(|dir| dir.join(actions::recording_name()));
        let controls = Arc::new(actions::Controls::default());
        self.recording = Some(Recording {
            controls: controls.clone(),
            started: Instant::now(),
            paused_total: Duration::ZERO,
            paused_since: None,
        });
        let tx = self.tx.clone();
        let stop_keys = session.settings.hotkeys.record.clone();
        tokio::spawn(async move {
            let ticker = {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let mut every = tokio::time::interval(Duration::from_secs(1));
                    loop {
                        every.tick().await;
                        if tx.send(Request::Tick).is_err() {
                            break;
                        }
                    }
                })
            };
            let outcome = match Session::load() {
                Ok(session) => {
                    let after = session.settings.after.clone();
                    let copied = session.settings.record.link_at_start;
                    let on_link = move |url: &str| {
                        eprintln!("dropcast-app: recording {url}");
                        if after.notify {
                            let stops = if stop_keys.is_empty() {
                                "Stop it from the tray menu.".to_string()
                            } else {
                                format!("{stop_keys} stops it.")
                            };
                            let copied = if copied { "Link copied. " } else { "" };
                            notify::show(
                                &after,
                                "Recording",
                                &format!("{copied}{url}\n{stops}"),
                                "camera-shutter",
                            );
                        }
                    };
                    let no_progress = |_: &str, _: u64| None;
                    actions::share_recording(
                        &session,
                        target,
                        &options,
                        out,
                        &ClipboardRoute::InProcess,
                        controls,
                        &actions::RecordHooks {
                            on_link: &on_link,
                            progress_for: &no_progress,
                        },
                    )
                    .await
                    .map(|r| {
                        format!(
                            "{} ({} frames, {:.1} s)",
                            r.drop.url,
                            r.recorded.frames,
                            r.recorded.duration.as_secs_f64()
                        )
                    })
                    .map_err(|e| e.message)
                }
                Err(e) => Err(e.message),
            };
            ticker.abort();
            let _ = tx.send(Request::RecordingEnded(outcome));
        });
        Ok("recording".into())
    }
}

/// Shares a captured frame and does what the settings ask after it: the
/// clipboard, a copy in a folder, the browser, a notification.
async fn share(session: &Session, frame: Frame) -> Result<String, actions::Error> {
    let started = Instant::now();
    let after = &session.settings.after;
    let options = ShotOptions {
        image: session.settings.image,
        out: after
            .save_folder
            .as_ref()
            .map(|dir| dir.join(actions::capture_name(&frame, session.settings.image.format))),
        copy: session.settings.copy,
        redact: false,
    };
    let no_progress = |_: &str, _: u64| None;
    let shared = actions::share_frame(
        session,
        frame,
        &options,
        &ClipboardRoute::InProcess,
        &no_progress,
    )
    .await?;
    if after.open {
        actions::open_in_browser(&shared.drop.url)?;
    }
    if after.notify {
        notify::shared(after, &shared.drop.url, shared.copied);
    }
    Ok(format!(
        "shared {} ({}x{}) in {} ms",
        shared.drop.url,
        shared.width,
        shared.height,
        started.elapsed().as_millis()
    ))
}

/// The focused window, else the front-most one; on Wayland, which has no
/// window list, the one the user chooses in the desktop's dialog.
async fn front_window() -> Result<Target, actions::Error> {
    let windows = match tokio::task::spawn_blocking(dropcast_capture::windows)
        .await
        .expect("window listing does not panic")
    {
        Err(dropcast_capture::CaptureError::NoWindowList) => return Ok(Target::ChosenWindow),
        listed => listed?,
    };
    let window = windows
        .iter()
        .find(|w| w.focused && !w.minimized)
        .or_else(|| windows.iter().find(|w| !w.minimized))
        .ok_or_else(|| {
            actions::Error::new(actions::Kind::Capture, "there is no window to capture")
        })?;
    Ok(Target::Window(window.id))
}

/// The picker's region as the capture crate's rectangle.
fn desktop(r: Region) -> Rect {
    Rect::new(r.x, r.y, r.width, r.height)
}
