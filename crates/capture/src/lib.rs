//! Screens, windows and regions as pixels, behind Dropcast's own types.
//!
//! [`monitors`] and [`windows`] list what can be captured; [`capture`] takes
//! a [`Target`] and answers a [`Frame`]: RGBA pixels, where they were on the
//! desktop (global coordinates, physical pixels), the scale factor of the
//! monitor they came from and when they were taken.
//!
//! The platform work is xcap's, with one exception: on X11 monitors and
//! screen regions go through our own small xcb module ([`x11`]). xcap lists
//! only the RandR monitors that have an output, so a screen split with
//! `xrandr --setmonitor` (a common set-up for ultrawide displays, and how a
//! test gets two monitors out of Xvfb) showed as no monitor at all; it also
//! opens a new X connection for every call and converts pixel by pixel.
//! The X11 module also draws the cursor in (XFixes). Windows are xcap's on
//! every platform but Wayland, which has no window list: there the user
//! chooses the window in the desktop's own dialog
//! ([`Target::ChosenWindow`], through the ScreenCast portal).
//!
//! On Wayland (`WAYLAND_DISPLAY` set) monitors and pixels come from our
//! own module too ([`wayland`]): outputs from the protocol, pixels through
//! wlroots' screencopy. There the desktop's coordinates are logical units
//! and frames hold physical pixels ([`Frame::logical`]).

use std::time::SystemTime;

use image::RgbaImage;
use serde::{Deserialize, Serialize};

#[cfg(target_os = "linux")]
pub mod portal;
pub mod recording;
#[cfg(target_os = "linux")]
mod screencast;
pub mod stream;
#[cfg(target_os = "linux")]
mod wayland;
#[cfg(target_os = "linux")]
mod x11;

mod xcap_backend;

/// A rectangle on the desktop, in physical pixels, global coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn new(x: i32, y: i32, width: u32, height: u32) -> Self {
        Rect {
            x,
            y,
            width,
            height,
        }
    }

    fn right(&self) -> i64 {
        self.x as i64 + self.width as i64
    }

    fn bottom(&self) -> i64 {
        self.y as i64 + self.height as i64
    }

    /// The part of `self` that is also in `other`, if any.
    pub fn intersect(&self, other: &Rect) -> Option<Rect> {
        let x = self.x.max(other.x);
        let y = self.y.max(other.y);
        let right = self.right().min(other.right());
        let bottom = self.bottom().min(other.bottom());
        (right > x as i64 && bottom > y as i64)
            .then(|| Rect::new(x, y, (right - x as i64) as u32, (bottom - y as i64) as u32))
    }

    /// The smallest rectangle holding all of `rects`.
    pub fn bounding(rects: impl IntoIterator<Item = Rect>) -> Option<Rect> {
        rects.into_iter().reduce(|a, b| {
            let x = a.x.min(b.x);
            let y = a.y.min(b.y);
            let right = a.right().max(b.right());
            let bottom = a.bottom().max(b.bottom());
            Rect::new(x, y, (right - x as i64) as u32, (bottom - y as i64) as u32)
        })
    }

    pub fn contains_point(&self, x: i32, y: i32) -> bool {
        x >= self.x && (x as i64) < self.right() && y >= self.y && (y as i64) < self.bottom()
    }
}

impl std::fmt::Display for Rect {
    /// `WxH+X+Y`, as xrandr and X geometry strings write it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}{:+}{:+}", self.width, self.height, self.x, self.y)
    }
}

impl std::str::FromStr for Rect {
    type Err = String;

    /// `X,Y,W,H`, as `dropcast shot --region` takes it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || format!("region {s:?} is not X,Y,WIDTH,HEIGHT (e.g. 0,0,800,600)");
        let [x, y, w, h] = parts.as_slice() else {
            return Err(bad());
        };
        let rect = Rect::new(
            x.parse().map_err(|_| bad())?,
            y.parse().map_err(|_| bad())?,
            w.parse().map_err(|_| bad())?,
            h.parse().map_err(|_| bad())?,
        );
        if rect.width == 0 || rect.height == 0 {
            return Err(format!(
                "region {s:?} is empty: width and height must be > 0"
            ));
        }
        Ok(rect)
    }
}

/// A monitor, numbered from 1 in the order the system lists them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Monitor {
    pub number: usize,
    pub name: String,
    #[serde(flatten)]
    pub rect: Rect,
    pub scale_factor: f32,
    pub primary: bool,
}

/// A top-level window, front-most first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Window {
    pub id: u32,
    pub title: String,
    pub app: String,
    #[serde(flatten)]
    pub rect: Rect,
    pub minimized: bool,
    pub focused: bool,
}

/// What to capture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Every monitor, stitched into one image of the desktop's bounding box.
    AllMonitors,
    /// Monitor number N (from 1, as [`monitors`] numbers them).
    Monitor(usize),
    /// The monitor under the mouse pointer.
    CursorMonitor,
    /// A window by id (as [`windows`] lists them).
    Window(u32),
    /// A window the user chooses in the desktop's own dialog: Wayland's
    /// way, as it has no window list.
    ChosenWindow,
    /// A rectangle in global coordinates; it may span monitors.
    Region(Rect),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Draw the mouse pointer into the image (where the platform can).
    pub cursor: bool,
}

/// Captured pixels and where and when they were taken.
#[derive(Debug, Clone)]
pub struct Frame {
    pub image: RgbaImage,
    /// Where the image's top-left pixel was on the desktop.
    pub origin: (i32, i32),
    /// Physical pixels per logical pixel on the monitor it came from
    /// (the largest, when it spans several).
    pub scale_factor: f32,
    /// Whether `origin`, and the regions [`Frame::crop`] takes, are in
    /// logical units with `scale_factor` pixels each, as on Wayland;
    /// elsewhere they are the image's own pixels.
    pub logical: bool,
    pub captured_at: SystemTime,
}

impl Frame {
    /// Image pixels per desktop unit.
    fn pixels_per_unit(&self) -> f32 {
        if self.logical {
            self.scale_factor
        } else {
            1.0
        }
    }

    /// The desktop rectangle this frame shows.
    pub fn rect(&self) -> Rect {
        let s = self.pixels_per_unit();
        let units = |px: u32| (px as f32 / s).round() as u32;
        Rect::new(
            self.origin.0,
            self.origin.1,
            units(self.image.width()),
            units(self.image.height()),
        )
    }

    /// The part of this frame inside `region` (desktop coordinates), e.g.
    /// what the region picker chose from the frozen screen; a region that
    /// misses the frame is off screen.
    pub fn crop(&self, region: Rect) -> Result<Frame> {
        let inside = region
            .intersect(&self.rect())
            .ok_or(CaptureError::OffScreen {
                region,
                desktop: self.rect(),
            })?;
        let s = self.pixels_per_unit();
        let px = |units: i64| (units as f32 * s).round() as u32;
        let (x, y) = (
            px((inside.x - self.origin.0).into()),
            px((inside.y - self.origin.1).into()),
        );
        let width = px(inside.width.into()).min(self.image.width() - x);
        let height = px(inside.height.into()).min(self.image.height() - y);
        let image = image::imageops::crop_imm(&self.image, x, y, width, height).to_image();
        Ok(Frame {
            image,
            origin: (inside.x, inside.y),
            ..*self
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("no display to capture ({0}); run this in a desktop session")]
    NoDisplay(String),
    #[error("there is no monitor {number}: this desktop has {count} (see `dropcast monitors`)")]
    UnknownMonitor { number: usize, count: usize },
    #[error("there is no window with id {0} (see `dropcast windows`)")]
    UnknownWindow(u32),
    #[error(
        "no window manager is running, so there are no windows to list or capture; \
         capture the screen, a monitor or a region instead"
    )]
    NoWindowManager,
    #[error(
        "Wayland has no list of windows to capture from; choose the window in the \
         desktop's dialog (`--window pick`), or capture the screen, a monitor or a region \
         instead"
    )]
    NoWindowList,
    #[error(
        "choosing a window in the desktop's dialog is for Wayland; here, capture a window \
         by id (see `dropcast windows`)"
    )]
    NoWindowDialog,
    #[error("window {0} is minimized: restore it first")]
    Minimized(u32),
    #[error("region {region} is off screen: the desktop is {desktop} (see `dropcast monitors`)")]
    OffScreen { region: Rect, desktop: Rect },
    #[error("capturing the screen failed: {0}")]
    Platform(String),
}

pub type Result<T, E = CaptureError> = std::result::Result<T, E>;

/// The platform's capture backend, chosen from the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    #[cfg(target_os = "linux")]
    X11,
    #[cfg(target_os = "linux")]
    Wayland,
    #[cfg(not(target_os = "linux"))]
    Xcap,
}

fn backend() -> Result<Backend> {
    #[cfg(target_os = "linux")]
    {
        let set = |v: &str| std::env::var_os(v).is_some_and(|d| !d.is_empty());
        if set("WAYLAND_DISPLAY") {
            return Ok(Backend::Wayland);
        }
        if set("DISPLAY") {
            return Ok(Backend::X11);
        }
        Err(CaptureError::NoDisplay(
            "neither DISPLAY nor WAYLAND_DISPLAY is set".into(),
        ))
    }
    #[cfg(not(target_os = "linux"))]
    Ok(Backend::Xcap)
}

/// The monitors, numbered from 1.
pub fn monitors() -> Result<Vec<Monitor>> {
    match backend()? {
        #[cfg(target_os = "linux")]
        Backend::X11 => x11::Session::open()?.monitors(),
        #[cfg(target_os = "linux")]
        Backend::Wayland => wayland::Session::open()?.monitors(),
        #[cfg(not(target_os = "linux"))]
        Backend::Xcap => xcap_backend::monitors(),
    }
}

/// The top-level windows, front-most first.
pub fn windows() -> Result<Vec<Window>> {
    #[cfg(target_os = "linux")]
    if backend()? == Backend::Wayland {
        return Err(CaptureError::NoWindowList);
    }
    backend()?;
    xcap_backend::windows()
}

/// Captures `target`.
pub fn capture(target: &Target, options: Options) -> Result<Frame> {
    match backend()? {
        #[cfg(target_os = "linux")]
        Backend::X11 => {
            match target {
                Target::Window(id) => return xcap_backend::capture_window(*id),
                Target::ChosenWindow => return Err(CaptureError::NoWindowDialog),
                _ => {}
            }
            let session = x11::Session::open()?;
            let monitors = session.monitors()?;
            let rect = target_rect(target, &monitors, || session.pointer())?;
            session.capture(rect, scale_of(&monitors, rect), options)
        }
        #[cfg(target_os = "linux")]
        Backend::Wayland => {
            match target {
                Target::Window(_) => return Err(CaptureError::NoWindowList),
                Target::ChosenWindow => {
                    let mut cast = screencast::Cast::start(screencast::Source::Window, options)?;
                    return Ok(cast.next_whole()?.expect("a started cast has a picture"));
                }
                _ => {}
            }
            let mut session = wayland::Session::open()?;
            let rect = session.rect_of(target)?;
            session.capture(rect, options)
        }
        #[cfg(not(target_os = "linux"))]
        Backend::Xcap => {
            // xcap cannot draw the pointer in.
            let _ = options.cursor;
            match target {
                Target::Window(id) => return xcap_backend::capture_window(*id),
                Target::ChosenWindow => return Err(CaptureError::NoWindowDialog),
                _ => {}
            }
            let monitors = xcap_backend::monitors()?;
            let rect = target_rect(target, &monitors, xcap_backend::pointer)?;
            xcap_backend::capture_rect(rect, &monitors, scale_of(&monitors, rect))
        }
    }
}

/// Takes the next frame of a stream: `None` when nothing can have changed
/// since the last one (on X11, nothing was drawn and the pointer did not
/// move), known without reading the screen.
pub(crate) type Grabber = Box<dyn FnMut() -> Result<Option<Frame>> + Send>;

/// Captures `target` again and again, reusing what can be reused (on X11
/// one connection and the target's rectangle, found once, and the DAMAGE
/// extension to skip reading a screen that did not change; on Wayland one
/// connection and the rectangle), for streams.
pub(crate) fn repeating(target: Target, options: Options) -> Result<Grabber> {
    #[cfg(target_os = "linux")]
    let windowed = matches!(target, Target::Window(_) | Target::ChosenWindow);
    #[cfg(target_os = "linux")]
    if backend()? == Backend::X11 && !windowed {
        let mut session = x11::Session::open()?;
        let monitors = session.monitors()?;
        let rect = target_rect(&target, &monitors, || session.pointer())?;
        let scale = scale_of(&monitors, rect);
        let watched = session.watch_damage();
        session.share_memory(rect);
        let mut last_cursor = None;
        let mut first = true;
        return Ok(Box::new(move || {
            let drawn = session.drawn_since();
            let cursor = if options.cursor {
                session.cursor_state()
            } else {
                None
            };
            if watched && !first && !drawn && cursor == last_cursor {
                return Ok(None);
            }
            first = false;
            last_cursor = cursor;
            session.capture(rect, scale, options).map(Some)
        }));
    }
    #[cfg(target_os = "linux")]
    if backend()? == Backend::Wayland && target == Target::ChosenWindow {
        let mut cast = screencast::Cast::start(screencast::Source::Window, options)?;
        return Ok(Box::new(move || cast.next_whole()));
    }
    #[cfg(target_os = "linux")]
    if backend()? == Backend::Wayland && !windowed {
        let mut session = wayland::Session::open()?;
        let rect = session.rect_of(&target)?;
        if session.screencopy_in_use() {
            return Ok(Box::new(move || session.capture(rect, options).map(Some)));
        }
        let mut cast = screencast::Cast::start(screencast::Source::Monitor, options)?;
        return Ok(Box::new(move || cast.next(rect)));
    }
    Ok(Box::new(move || capture(&target, options).map(Some)))
}

/// The desktop rectangle a (non-window) target covers, checked against the
/// monitors.
fn target_rect(
    target: &Target,
    monitors: &[Monitor],
    pointer: impl FnOnce() -> Result<(i32, i32)>,
) -> Result<Rect> {
    let desktop = Rect::bounding(monitors.iter().map(|m| m.rect))
        .ok_or_else(|| CaptureError::Platform("the system reports no monitor".into()))?;
    let monitor = |number: usize| {
        number
            .checked_sub(1)
            .and_then(|i| monitors.get(i))
            .map(|m| m.rect)
            .ok_or(CaptureError::UnknownMonitor {
                number,
                count: monitors.len(),
            })
    };
    match target {
        Target::AllMonitors => Ok(desktop),
        Target::Monitor(n) => monitor(*n),
        Target::CursorMonitor => {
            // Where the pointer is unknown, the primary monitor.
            let under = pointer()
                .ok()
                .and_then(|(x, y)| monitors.iter().find(|m| m.rect.contains_point(x, y)));
            let primary = monitors.iter().find(|m| m.primary).unwrap_or(&monitors[0]);
            Ok(under.unwrap_or(primary).rect)
        }
        Target::Region(region) => {
            let on_screen = monitors.iter().any(|m| m.rect.intersect(region).is_some());
            if !on_screen || desktop.intersect(region) != Some(*region) {
                return Err(CaptureError::OffScreen {
                    region: *region,
                    desktop,
                });
            }
            Ok(*region)
        }
        Target::Window(_) | Target::ChosenWindow => {
            unreachable!("windows are captured by id or through the desktop's dialog")
        }
    }
}

/// The largest scale factor among the monitors `rect` touches.
fn scale_of(monitors: &[Monitor], rect: Rect) -> f32 {
    monitors
        .iter()
        .filter(|m| m.rect.intersect(&rect).is_some())
        .map(|m| m.scale_factor)
        .fold(1.0, f32::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_monitors() -> Vec<Monitor> {
        let m = |number, x, width| Monitor {
            number,
            name: format!("M{number}"),
            rect: Rect::new(x, 0, width, 1080),
            scale_factor: number as f32,
            primary: number == 1,
        };
        vec![m(1, 0, 1920), m(2, 1920, 1280)]
    }

    #[test]
    fn a_crop_of_a_frozen_frame_is_those_pixels_in_desktop_coordinates() {
        let image = RgbaImage::from_fn(40, 30, |x, y| image::Rgba([x as u8, y as u8, 7, 255]));
        let frame = Frame {
            image,
            origin: (100, 50),
            scale_factor: 2.0,
            logical: false,
            captured_at: SystemTime::UNIX_EPOCH,
        };
        let part = frame.crop(Rect::new(110, 55, 5, 4)).unwrap();
        assert_eq!(part.origin, (110, 55));
        assert_eq!(part.image.dimensions(), (5, 4));
        assert_eq!(part.image.get_pixel(0, 0).0, [10, 5, 7, 255]);
        assert_eq!(part.scale_factor, 2.0);
        // Clipped to the frame; a region beside it is off screen.
        let edge = frame.crop(Rect::new(130, 70, 50, 50)).unwrap();
        assert_eq!(edge.image.dimensions(), (10, 10));
        assert!(matches!(
            frame.crop(Rect::new(0, 0, 10, 10)),
            Err(CaptureError::OffScreen { .. })
        ));
    }

    #[test]
    fn regions_parse_from_x_y_w_h_and_say_what_is_wrong() {
        assert_eq!("10, 20,300,400".parse(), Ok(Rect::new(10, 20, 300, 400)));
        assert!("10,20,300"
            .parse::<Rect>()
            .unwrap_err()
            .contains("X,Y,WIDTH,HEIGHT"));
        assert!("0,0,0,10".parse::<Rect>().unwrap_err().contains("empty"));
        assert_eq!(Rect::new(-5, 3, 10, 20).to_string(), "10x20-5+3");
    }

    #[test]
    fn a_region_may_span_monitors_but_not_leave_the_desktop() {
        let monitors = two_monitors();
        let spanning = Rect::new(1800, 100, 400, 300);
        let rect = target_rect(&Target::Region(spanning), &monitors, || Ok((0, 0))).unwrap();
        assert_eq!(rect, spanning);
        assert_eq!(scale_of(&monitors, rect), 2.0);
        let off = Rect::new(3000, 0, 400, 300);
        assert!(matches!(
            target_rect(&Target::Region(off), &monitors, || Ok((0, 0))),
            Err(CaptureError::OffScreen { .. })
        ));
    }

    #[test]
    fn monitors_are_numbered_from_one_and_unknown_ones_say_how_many_there_are() {
        let monitors = two_monitors();
        let rect = target_rect(&Target::Monitor(2), &monitors, || Ok((0, 0))).unwrap();
        assert_eq!(rect, Rect::new(1920, 0, 1280, 1080));
        let err = target_rect(&Target::Monitor(3), &monitors, || Ok((0, 0))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "there is no monitor 3: this desktop has 2 (see `dropcast monitors`)"
        );
        assert!(target_rect(&Target::Monitor(0), &monitors, || Ok((0, 0))).is_err());
    }

    #[test]
    fn the_cursor_picks_its_monitor_and_all_monitors_is_their_bounding_box() {
        let monitors = two_monitors();
        let under = target_rect(&Target::CursorMonitor, &monitors, || Ok((2000, 50))).unwrap();
        assert_eq!(under, monitors[1].rect);
        let all = target_rect(&Target::AllMonitors, &monitors, || Ok((0, 0))).unwrap();
        assert_eq!(all, Rect::new(0, 0, 3200, 1080));
    }
}
