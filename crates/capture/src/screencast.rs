//! Recording through the ScreenCast portal and PipeWire, for Wayland
//! desktops without wlroots' screencopy (GNOME, KDE), or when
//! `DROPCAST_WAYLAND_CAPTURE=portal` asks for it; and windows, which on
//! Wayland only the desktop's own picker can name.
//!
//! [`Cast::start`] opens a portal session for one monitor or window:
//! CreateSession, SelectSources and Start, each answered on its `Request`.
//! The desktop may ask the user which monitor to share; it does so once,
//! as the session is persistent and the restore token it answers with is kept in
//! the state folder and sent with the next SelectSources (every Start
//! hands out a new one, which replaces it). The portal ends the session
//! when the D-Bus connection that opened it goes, so [`Cast`] keeps it.
//!
//! The pixels come from PipeWire through the remote the portal opens for
//! this session (`OpenPipeWireRemote`, a file descriptor), not the user's
//! default daemon. A thread of its own runs PipeWire's loop; each buffer
//! is copied out of shared memory at its chunk's offset and stride, with
//! its crop metadata, as the latest picture; only the part a recording
//! asks for is turned into RGBA. A buffer marked corrupted is skipped. The desktop sends a buffer only when something
//! changed, so between buffers [`Cast::next`] answers "unchanged" (`None`)
//! and the recorder repeats the last frame.
//!
//! A window ([`Source::Window`]) is chosen anew every time, so its session
//! keeps no token; a desktop whose portal shares only monitors (as
//! xdg-desktop-portal-wlr) is told apart up front by its
//! `AvailableSourceTypes`, with an error that says what to capture
//! instead.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use image::RgbaImage;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::portal::{request, token, RequestError};
use crate::{CaptureError, Frame, Options, Rect, Result};

const DESTINATION: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const SCREEN_CAST: &str = "org.freedesktop.portal.ScreenCast";

/// How long the first picture may take once the session has started.
const FIRST_PICTURE_WITHIN: Duration = Duration::from_secs(10);

fn failed(what: &str, e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Platform(format!("the ScreenCast portal: {what}: {e}"))
}

/// What the desktop is asked to share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A monitor, remembered by the desktop from one time to the next.
    Monitor,
    /// A window the user picks, each time.
    Window,
}

impl Source {
    /// The bit SelectSources' `types` and `AvailableSourceTypes` use.
    fn bit(self) -> u32 {
        match self {
            Source::Monitor => 1,
            Source::Window => 2,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Source::Monitor => "monitor",
            Source::Window => "window",
        }
    }
}

/// One monitor or window shared by the desktop, as a PipeWire stream.
pub(crate) struct Cast {
    /// Held for its drop, which closes it.
    _session: Session,
    /// Where the shared monitor is, in logical units (for a window, what
    /// the portal said, which [`Cast::next_whole`] does not use).
    monitor: Rect,
    shared: Arc<Shared>,
    seen: u64,
    stop: Option<pipewire::channel::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the PipeWire thread hands over: the latest picture, counted.
#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    changed: Condvar,
}

#[derive(Default)]
struct Slot {
    picture: Option<Arc<Raw>>,
    count: u64,
    error: Option<String>,
}

/// A buffer's pixels as PipeWire gave them, and the part of them that is
/// the picture (its crop metadata, else all).
struct Raw {
    bytes: Vec<u8>,
    layout: Layout,
    visible: (u32, u32, u32, u32),
}

impl Raw {
    /// The rows of `bytes` that `layout` describes, copied; `None` when the
    /// buffer is too small for its layout.
    fn copy(bytes: &[u8], layout: Layout, crop: Option<(u32, u32, u32, u32)>) -> Option<Raw> {
        let row = usize::try_from(layout.width).ok()?.checked_mul(4)?;
        if layout.width == 0 || layout.height == 0 || layout.stride < row {
            return None;
        }
        let end = (layout.height as usize - 1)
            .checked_mul(layout.stride)?
            .checked_add(layout.offset)?
            .checked_add(row)?;
        let bytes = bytes.get(layout.offset..end)?.to_vec();
        Some(Raw {
            bytes,
            layout: Layout {
                offset: 0,
                ..layout
            },
            visible: visible(layout, crop),
        })
    }
}

/// The crop region when it is one inside the buffer, else all of it.
fn visible(layout: Layout, crop: Option<(u32, u32, u32, u32)>) -> (u32, u32, u32, u32) {
    match crop {
        Some((x, y, w, h))
            if w > 0 && h > 0 && fits(x, w, layout.width) && fits(y, h, layout.height) =>
        {
            (x, y, w, h)
        }
        _ => (0, 0, layout.width, layout.height),
    }
}

/// Whether `size` from `at` ends within `limit`.
fn fits(at: u32, size: u32, limit: u32) -> bool {
    at.checked_add(size).is_some_and(|end| end <= limit)
}

impl Cast {
    /// Asks the desktop to share a monitor or a window, and connects to
    /// its stream.
    pub(crate) fn start(source: Source, options: Options) -> Result<Cast> {
        let conn =
            zbus::blocking::Connection::session().map_err(|e| failed("no D-Bus session bus", e))?;
        let portal = zbus::blocking::Proxy::new(&conn, DESTINATION, PATH, SCREEN_CAST)
            .map_err(|e| failed("reaching it", e))?;
        if source == Source::Window {
            let available = portal.get_property::<u32>("AvailableSourceTypes");
            match available {
                Ok(types) => check_shares_windows(types)?,
                Err(e) => {
                    let e = RequestError::Call(e.to_string());
                    return Err(explain(e, source, "asking what it can share"));
                }
            }
        }
        let t = token();
        let mut opts: HashMap<&str, Value> = HashMap::new();
        opts.insert("handle_token", Value::from(t.as_str()));
        let session_token = token();
        opts.insert("session_handle_token", Value::from(session_token.as_str()));
        let created = request(&conn, SCREEN_CAST, "CreateSession", &t, &(opts,))
            .map_err(|e| explain(e, source, "creating a session"))?;
        let session: String = created
            .get("session_handle")
            .and_then(|v| v.downcast_ref::<String>().ok())
            .ok_or_else(|| failed("creating a session", "no session handle"))?;
        let session = Session {
            conn: conn.clone(),
            path: OwnedObjectPath::try_from(session)
                .map_err(|e| failed("creating a session", e))?,
        };

        let t = token();
        let mut opts: HashMap<&str, Value> = HashMap::new();
        opts.insert("handle_token", Value::from(t.as_str()));
        opts.insert("types", Value::from(source.bit()));
        opts.insert("multiple", Value::from(false));
        let cursor_modes: u32 = portal.get_property("AvailableCursorModes").unwrap_or(0);
        if let Some(mode) = cursor_mode(cursor_modes, options.cursor) {
            opts.insert("cursor_mode", Value::from(mode));
        }
        let monitor = source == Source::Monitor;
        let saved = if monitor {
            // Persistent: the desktop remembers the choice until revoked.
            opts.insert("persist_mode", Value::from(2u32));
            read_restore_token()
        } else {
            None
        };
        if let Some(saved) = &saved {
            opts.insert("restore_token", Value::from(saved.as_str()));
        }
        request(
            &conn,
            SCREEN_CAST,
            "SelectSources",
            &t,
            &(&session.path, opts),
        )
        .map_err(|e| explain(e, source, "choosing what to share"))?;

        let t = token();
        let mut opts: HashMap<&str, Value> = HashMap::new();
        opts.insert("handle_token", Value::from(t.as_str()));
        let started = request(&conn, SCREEN_CAST, "Start", &t, &(&session.path, "", opts))
            .map_err(|e| explain(e, source, "starting"))?;
        // A token is good for one Start: the new one replaces it, and
        // without one the old is gone.
        if monitor {
            match started
                .get("restore_token")
                .and_then(|v| v.downcast_ref::<String>().ok())
            {
                Some(new) => write_restore_token(&new),
                None => forget_restore_token(),
            }
        }
        let (node, monitor) = first_stream(&started)?;

        let fd: zbus::zvariant::OwnedFd = portal
            .call(
                "OpenPipeWireRemote",
                &(&session.path, HashMap::<&str, Value>::new()),
            )
            .map_err(|e| failed("opening its PipeWire remote", e))?;
        let fd: OwnedFd = fd.into();

        let shared = Arc::new(Shared::default());
        let (stop, stopped) = pipewire::channel::channel();
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("screencast".into())
            .spawn(move || {
                if let Err(e) = stream(fd, node, &for_thread, stopped) {
                    for_thread.fail(format!("PipeWire: {e}"));
                }
            })
            .map_err(|e| failed("starting its thread", e))?;
        let mut cast = Cast {
            _session: session,
            monitor,
            shared,
            seen: 0,
            stop: Some(stop),
            thread: Some(thread),
        };
        cast.wait_for_first()?;
        Ok(cast)
    }

    fn wait_for_first(&mut self) -> Result<()> {
        let slot = self.shared.slot.lock().expect("screencast slot");
        let (slot, _) = self
            .shared
            .changed
            .wait_timeout_while(slot, FIRST_PICTURE_WITHIN, |s| {
                s.picture.is_none() && s.error.is_none()
            })
            .expect("screencast slot");
        if let Some(e) = &slot.error {
            return Err(failed("the stream", e));
        }
        if slot.picture.is_none() {
            return Err(failed(
                "the stream",
                "no picture within 10 s; is PipeWire running (and, on wlroots, \
                 xdg-desktop-portal-wlr 0.8 or later without a GPU)?",
            ));
        }
        Ok(())
    }

    /// `rect` (logical units) from the latest picture, or `None` when
    /// nothing changed since the last call.
    pub(crate) fn next(&mut self, rect: Rect) -> Result<Option<Frame>> {
        let Some(raw) = self.fresh()? else {
            return Ok(None);
        };
        let (cx, cy, cw, ch) = raw.visible;
        // A portal that gave no size shares the monitor at one pixel per
        // unit.
        let monitor = if self.monitor.width == 0 || self.monitor.height == 0 {
            Rect::new(self.monitor.x, self.monitor.y, cw, ch)
        } else {
            self.monitor
        };
        let inside = rect.intersect(&monitor).ok_or_else(|| {
            // The kept choice is the wrong monitor: forgotten, so that the
            // desktop asks again.
            forget_restore_token();
            CaptureError::Platform(format!(
                "the desktop shares the monitor at {},{} ({}x{}), which does not hold the \
                 region asked for; record again and choose the monitor that holds it",
                monitor.x, monitor.y, monitor.width, monitor.height
            ))
        })?;
        let scale = cw as f32 / monitor.width as f32;
        let px = |units: i64| (units as f32 * scale).round() as u32;
        let x = px((inside.x - monitor.x).into()).min(cw.saturating_sub(1));
        let y = px((inside.y - monitor.y).into()).min(ch.saturating_sub(1));
        let width = px(inside.width.into()).clamp(1, cw - x);
        let height = px(inside.height.into()).clamp(1, ch - y);
        let image = picture(&raw.bytes, raw.layout, (cx + x, cy + y, width, height))
            .ok_or_else(|| failed("the stream", "a buffer smaller than its format"))?;
        Ok(Some(Frame {
            image,
            origin: (inside.x, inside.y),
            scale_factor: scale,
            logical: true,
            captured_at: SystemTime::now(),
        }))
    }

    /// The whole latest picture (a shared window), in its own pixels, or
    /// `None` when nothing changed since the last call.
    pub(crate) fn next_whole(&mut self) -> Result<Option<Frame>> {
        let Some(raw) = self.fresh()? else {
            return Ok(None);
        };
        let image = picture(&raw.bytes, raw.layout, raw.visible)
            .ok_or_else(|| failed("the stream", "a buffer smaller than its format"))?;
        Ok(Some(Frame {
            image,
            // Wayland does not say where a window is.
            origin: (0, 0),
            scale_factor: 1.0,
            logical: false,
            captured_at: SystemTime::now(),
        }))
    }

    /// The latest picture if it came since the last call.
    fn fresh(&mut self) -> Result<Option<Arc<Raw>>> {
        let slot = self.shared.slot.lock().expect("screencast slot");
        if let Some(e) = &slot.error {
            return Err(failed("the stream", e));
        }
        if slot.count == self.seen {
            return Ok(None);
        }
        self.seen = slot.count;
        Ok(Some(Arc::clone(
            slot.picture.as_ref().expect("a counted picture"),
        )))
    }
}

impl Drop for Cast {
    /// Stops the stream; then the session closes (its own drop).
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A portal session, closed when dropped: on every way out of
/// [`Cast::start`] that fails after it was created, and with its [`Cast`].
/// (The portal would close it with the connection, but the tray app's
/// connection lives on.)
struct Session {
    conn: zbus::blocking::Connection,
    path: OwnedObjectPath,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.conn.call_method(
            Some(DESTINATION),
            self.path.as_str(),
            Some("org.freedesktop.portal.Session"),
            "Close",
            &(),
        );
    }
}

impl Shared {
    fn put(&self, picture: Raw) {
        let mut slot = self.slot.lock().expect("screencast slot");
        slot.picture = Some(Arc::new(picture));
        slot.count += 1;
        self.changed.notify_all();
    }

    fn fail(&self, error: String) {
        let mut slot = self.slot.lock().expect("screencast slot");
        slot.error.get_or_insert(error);
        self.changed.notify_all();
    }
}

/// The cursor mode to ask for among those the portal offers (a bit mask:
/// 1 hidden, 2 drawn into the picture, 4 as metadata), if any fits.
fn cursor_mode(available: u32, cursor: bool) -> Option<u32> {
    let wanted = if cursor { 2 } else { 1 };
    (available & wanted != 0).then_some(wanted)
}

/// Whether a portal that shares `types` (AvailableSourceTypes) can share
/// a window; if not, what to do instead.
fn check_shares_windows(types: u32) -> Result<()> {
    if types & Source::Window.bit() != 0 {
        return Ok(());
    }
    Err(CaptureError::Platform(
        "this desktop's screen-sharing portal cannot share a single window (it shares only \
         monitors, as xdg-desktop-portal-wlr does); capture a region around the window \
         instead (`--region X,Y,W,H`, or the area picker)"
            .into(),
    ))
}

fn explain(e: RequestError, source: Source, what: &str) -> CaptureError {
    match e {
        RequestError::Call(text) if crate::portal::is_missing(&text) => {
            CaptureError::Platform(format!(
                "this desktop offers no ScreenCast portal ({text}); install xdg-desktop-portal \
                 and your desktop's backend (xdg-desktop-portal-gnome, -kde or -wlr), and \
                 PipeWire"
            ))
        }
        RequestError::Call(text) | RequestError::Failed(text) => failed(what, text),
        RequestError::Refused => CaptureError::Platform(format!(
            "the desktop's dialog was cancelled, so nothing was shared; try again and choose \
             a {} to share",
            source.noun()
        )),
    }
}

/// The first stream of Start's answer: its PipeWire node, and where its
/// monitor is (logical units).
fn first_stream(started: &HashMap<String, OwnedValue>) -> Result<(u32, Rect)> {
    let streams: Vec<(u32, HashMap<String, OwnedValue>)> = started
        .get("streams")
        .and_then(|v| v.try_clone().ok())
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| failed("starting", "no stream in its answer"))?;
    let (node, properties) = streams
        .into_iter()
        .next()
        .ok_or_else(|| failed("starting", "the desktop shared nothing"))?;
    let pair = |key: &str| {
        properties
            .get(key)
            .and_then(|v| <(i32, i32)>::try_from(v.try_clone().ok()?).ok())
    };
    let (x, y) = pair("position").unwrap_or((0, 0));
    let (width, height) = pair("size").unwrap_or((0, 0));
    Ok((
        node,
        Rect::new(
            x,
            y,
            u32::try_from(width).unwrap_or(0),
            u32::try_from(height).unwrap_or(0),
        ),
    ))
}

/// Where the restore token is kept: `$XDG_STATE_HOME/dropcast`, else
/// `~/.local/state/dropcast`.
fn restore_token_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/state"))
        })?;
    Some(state.join("dropcast/screencast-restore-token"))
}

fn read_restore_token() -> Option<String> {
    let text = std::fs::read_to_string(restore_token_path()?).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// Keeps `token` for the next recording, readable by the user only and
/// written whole (through a rename). Without it the desktop asks again,
/// so a failure to write is only that.
fn write_restore_token(token: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let Some(path) = restore_token_path() else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = path.with_extension("partial");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(token.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

fn forget_restore_token() {
    if let Some(path) = restore_token_path() {
        let _ = std::fs::remove_file(path);
    }
}

/// The layout of one video buffer in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    format: Format,
    width: u32,
    height: u32,
    offset: usize,
    stride: usize,
}

/// The 8-bit, 4-byte formats asked for.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum Format {
    #[default]
    Bgrx,
    Bgra,
    Rgbx,
    Rgba,
}

/// The part `(x, y, width, height)` of the picture in `bytes`, as RGBA;
/// `None` when it is not inside the layout or the bytes are too few.
fn picture(
    bytes: &[u8],
    layout: Layout,
    (x0, y0, width, height): (u32, u32, u32, u32),
) -> Option<RgbaImage> {
    if width == 0
        || height == 0
        || !fits(x0, width, layout.width)
        || !fits(y0, height, layout.height)
    {
        return None;
    }
    let mut out = Vec::with_capacity(width as usize * height as usize * 4);
    for y in y0..y0 + height {
        let start = layout.offset + y as usize * layout.stride + x0 as usize * 4;
        let row = bytes.get(start..start + width as usize * 4)?;
        match layout.format {
            Format::Rgba => out.extend_from_slice(row),
            format => {
                for px in row.chunks_exact(4) {
                    let (r, g, b, a) = match format {
                        Format::Bgrx => (px[2], px[1], px[0], 255),
                        Format::Bgra => (px[2], px[1], px[0], px[3]),
                        _ => (px[0], px[1], px[2], 255),
                    };
                    out.extend_from_slice(&[r, g, b, a]);
                }
            }
        }
    }
    RgbaImage::from_raw(width, height, out)
}

/// Runs the stream of `node` on PipeWire's loop until `stopped` hears.
fn stream(
    fd: OwnedFd,
    node: u32,
    shared: &Arc<Shared>,
    stopped: pipewire::channel::Receiver<()>,
) -> std::result::Result<(), pipewire::Error> {
    use pipewire as pw;
    use pw::spa;
    use spa::param::video::{VideoFormat, VideoInfoRaw};

    pw::init();
    let main_loop = pw::main_loop::MainLoopRc::new(None)?;
    let context = pw::context::ContextRc::new(&main_loop, None)?;
    let core = context.connect_fd_rc(fd, None)?;
    let stream = pw::stream::StreamBox::new(
        &core,
        "dropcast",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )?;
    let on_error = Arc::clone(shared);
    let on_buffer = Arc::clone(shared);
    let _listener = stream
        .add_local_listener_with_user_data(None::<(Format, u32, u32)>)
        .state_changed(move |_, _, old, new| match new {
            pw::stream::StreamState::Error(e) => on_error.fail(e),
            // The desktop ended the stream (its "stop sharing").
            pw::stream::StreamState::Unconnected
                if !matches!(old, pw::stream::StreamState::Unconnected) =>
            {
                on_error.fail("the desktop stopped sharing the screen; record again".into())
            }
            _ => {}
        })
        .param_changed(|stream, format, id, param| {
            let Some(param) = param else { return };
            if id != spa::param::ParamType::Format.as_raw() {
                return;
            }
            let mut info = VideoInfoRaw::default();
            if info.parse(param).is_err() {
                return;
            }
            let known = match info.format() {
                VideoFormat::BGRx => Format::Bgrx,
                VideoFormat::BGRA => Format::Bgra,
                VideoFormat::RGBx => Format::Rgbx,
                VideoFormat::RGBA => Format::Rgba,
                _ => return,
            };
            *format = Some((known, info.size().width, info.size().height));
            // Ask for the crop region and the header (its corrupted flag)
            // with each buffer.
            let metas = [
                meta_param(
                    spa::sys::SPA_META_VideoCrop,
                    size_of::<spa::sys::spa_meta_region>(),
                ),
                meta_param(
                    spa::sys::SPA_META_Header,
                    size_of::<spa::sys::spa_meta_header>(),
                ),
            ];
            let mut pods: Vec<&spa::pod::Pod> = metas
                .iter()
                .filter_map(|b| spa::pod::Pod::from_bytes(b))
                .collect();
            let _ = stream.update_params(&mut pods);
        })
        .process(move |stream, format| {
            let Some(mut buffer) = stream.dequeue_buffer() else {
                return;
            };
            let Some((format, width, height)) = *format else {
                return;
            };
            let corrupted = buffer
                .find_meta::<spa::buffer::meta::MetaHeader>()
                .is_some_and(|h| {
                    h.flags()
                        .contains(spa::buffer::meta::MetaHeaderFlags::CORRUPTED)
                });
            let crop = buffer
                .find_meta::<spa::buffer::meta::MetaVideoCrop>()
                .map(|c| c.meta_region().clone())
                .filter(|r| r.is_valid())
                .map(|r| {
                    let (p, s) = (r.position(), r.size());
                    (
                        u32::try_from(p.x).unwrap_or(0),
                        u32::try_from(p.y).unwrap_or(0),
                        s.width,
                        s.height,
                    )
                });
            let Some(data) = buffer.datas_mut().first_mut() else {
                return;
            };
            let chunk = data.chunk();
            // An empty chunk carries no picture (a pointer move only).
            if corrupted
                || chunk.flags().contains(spa::buffer::ChunkFlags::CORRUPTED)
                || chunk.size() == 0
                || chunk.stride() <= 0
            {
                return;
            }
            let layout = Layout {
                format,
                width,
                height,
                offset: chunk.offset() as usize,
                stride: chunk.stride() as usize,
            };
            if let Some(raw) = data.data().and_then(|bytes| Raw::copy(bytes, layout, crop)) {
                on_buffer.put(raw);
            }
        })
        .register()?;

    let formats = format_param();
    let mut params = [spa::pod::Pod::from_bytes(&formats).expect("a valid format pod")];
    stream.connect(
        spa::utils::Direction::Input,
        Some(node),
        pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
        &mut params,
    )?;
    let quit = main_loop.clone();
    let _stop = stopped.attach(main_loop.loop_(), move |()| quit.quit());
    main_loop.run();
    Ok(())
}

/// EnumFormat: raw video in the four formats [`picture`] reads, any size
/// and rate.
fn format_param() -> Vec<u8> {
    use pipewire::spa;
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::param::video::VideoFormat;
    use spa::pod::{ChoiceValue, Object, Property, PropertyFlags, Value};
    use spa::utils::{Choice, ChoiceEnum, ChoiceFlags, Fraction, Id, Rectangle};
    let property = |key: FormatProperties, value: Value| Property {
        key: key.as_raw(),
        flags: PropertyFlags::empty(),
        value,
    };
    let formats = [
        VideoFormat::BGRx,
        VideoFormat::BGRA,
        VideoFormat::RGBx,
        VideoFormat::RGBA,
    ];
    let object = Object {
        type_: spa::sys::SPA_TYPE_OBJECT_Format,
        id: spa::sys::SPA_PARAM_EnumFormat,
        properties: vec![
            property(
                FormatProperties::MediaType,
                Value::Id(Id(MediaType::Video.as_raw())),
            ),
            property(
                FormatProperties::MediaSubtype,
                Value::Id(Id(MediaSubtype::Raw.as_raw())),
            ),
            property(
                FormatProperties::VideoFormat,
                Value::Choice(ChoiceValue::Id(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Enum {
                        default: Id(formats[0].as_raw()),
                        alternatives: formats.iter().map(|f| Id(f.as_raw())).collect(),
                    },
                ))),
            ),
            property(
                FormatProperties::VideoSize,
                Value::Choice(ChoiceValue::Rectangle(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: Rectangle {
                            width: 1920,
                            height: 1080,
                        },
                        min: Rectangle {
                            width: 1,
                            height: 1,
                        },
                        max: Rectangle {
                            width: 16384,
                            height: 16384,
                        },
                    },
                ))),
            ),
            property(
                FormatProperties::VideoFramerate,
                Value::Choice(ChoiceValue::Fraction(Choice(
                    ChoiceFlags::empty(),
                    ChoiceEnum::Range {
                        default: Fraction { num: 30, denom: 1 },
                        min: Fraction { num: 0, denom: 1 },
                        max: Fraction { num: 240, denom: 1 },
                    },
                ))),
            ),
        ],
    };
    serialize(Value::Object(object))
}

/// A Meta param: buffers should carry metadata `kind` of `size` bytes.
fn meta_param(kind: u32, size: usize) -> Vec<u8> {
    use pipewire::spa;
    use spa::pod::{Object, Property, PropertyFlags, Value};
    let object = Object {
        type_: spa::sys::SPA_TYPE_OBJECT_ParamMeta,
        id: spa::sys::SPA_PARAM_Meta,
        properties: vec![
            Property {
                key: spa::sys::SPA_PARAM_META_type,
                flags: PropertyFlags::empty(),
                value: Value::Id(spa::utils::Id(kind)),
            },
            Property {
                key: spa::sys::SPA_PARAM_META_size,
                flags: PropertyFlags::empty(),
                value: Value::Int(i32::try_from(size).expect("a small meta")),
            },
        ],
    };
    serialize(Value::Object(object))
}

fn serialize(value: pipewire::spa::pod::Value) -> Vec<u8> {
    pipewire::spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &value,
    )
    .expect("a pod serializes")
    .0
    .into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bgrx(width: u32, height: u32, stride: usize, offset: usize) -> Vec<u8> {
        let mut bytes = vec![0xEE; offset + stride * height as usize];
        for y in 0..height as usize {
            for x in 0..width as usize {
                let at = offset + y * stride + x * 4;
                bytes[at..at + 4].copy_from_slice(&[x as u8, y as u8, 200, 0]);
            }
        }
        bytes
    }

    #[test]
    fn a_buffer_is_read_at_its_offset_and_stride_with_blue_and_red_swapped() {
        let layout = Layout {
            format: Format::Bgrx,
            width: 5,
            height: 3,
            offset: 16,
            stride: 32,
        };
        let raw = Raw::copy(&bgrx(5, 3, 32, 16), layout, None).unwrap();
        assert_eq!(raw.visible, (0, 0, 5, 3));
        let got = picture(&raw.bytes, raw.layout, raw.visible).unwrap();
        assert_eq!(got.dimensions(), (5, 3));
        assert_eq!(got.get_pixel(4, 2).0, [200, 2, 4, 255]);
        assert_eq!(got.get_pixel(0, 0).0, [200, 0, 0, 255]);
        let part = picture(&raw.bytes, raw.layout, (3, 1, 2, 2)).unwrap();
        assert_eq!(part.get_pixel(0, 0).0, [200, 1, 3, 255]);
    }

    #[test]
    fn the_crop_region_is_what_is_visible_and_one_outside_the_buffer_is_ignored() {
        let layout = Layout {
            format: Format::Bgrx,
            width: 6,
            height: 4,
            offset: 0,
            stride: 24,
        };
        assert_eq!(visible(layout, Some((2, 1, 3, 2))), (2, 1, 3, 2));
        assert_eq!(visible(layout, Some((4, 0, 5, 5))), (0, 0, 6, 4));
        assert_eq!(visible(layout, Some((0, 0, 0, 0))), (0, 0, 6, 4));
        assert!(picture(&bgrx(6, 4, 24, 0), layout, (4, 0, 3, 1)).is_none());
    }

    #[test]
    fn a_buffer_shorter_than_its_layout_is_not_taken() {
        let layout = Layout {
            format: Format::Rgba,
            width: 4,
            height: 4,
            offset: 0,
            stride: 16,
        };
        assert!(Raw::copy(&[0; 63], layout, None).is_none());
        assert!(Raw::copy(
            &[0; 64],
            Layout {
                stride: 8,
                ..layout
            },
            None
        )
        .is_none());
        assert!(Raw::copy(&[0; 64], layout, None).is_some());
    }

    #[test]
    fn the_cursor_mode_asked_for_is_one_the_portal_offers() {
        assert_eq!(cursor_mode(0b111, true), Some(2));
        assert_eq!(cursor_mode(0b111, false), Some(1));
        assert_eq!(cursor_mode(0b001, true), None);
        assert_eq!(cursor_mode(0, false), None);
    }
}
