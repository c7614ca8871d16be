//! Wayland: monitors from the protocol itself, pixels through wlroots'
//! screencopy.
//!
//! Monitors are the compositor's `wl_output`s, placed by `xdg-output`
//! (name, logical position and size); no XWayland is needed. On Wayland
//! the desktop's coordinates are logical: a monitor at scale 2 is half as
//! many units wide as it has pixels. So a region is asked for in logical
//! units, and the frame that comes back holds the monitors' physical
//! pixels (at the largest scale among those it touches) with
//! [`Frame::logical`] set.
//!
//! Pixels come from `zwlr_screencopy_manager_v1` (sway, Hyprland, river,
//! labwc, Wayfire): one `capture_output_region` per monitor the region
//! touches, copied into a shared-memory buffer, with no dialog. Desktops
//! without it (GNOME, KDE) go through the Screenshot portal ([`crate::portal`]).

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::SystemTime;

use image::RgbaImage;
use wayland_client::globals::{registry_queue_init, GlobalListContents};
use wayland_client::protocol::{wl_buffer, wl_output, wl_registry, wl_shm, wl_shm_pool};
use wayland_client::{delegate_noop, Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_manager_v1::ZxdgOutputManagerV1;
use wayland_protocols::xdg::xdg_output::zv1::client::zxdg_output_v1::{self, ZxdgOutputV1};
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_frame_v1::{
    self, ZwlrScreencopyFrameV1,
};
use wayland_protocols_wlr::screencopy::v1::client::zwlr_screencopy_manager_v1::ZwlrScreencopyManagerV1;

use crate::{CaptureError, Frame, Monitor, Options, Rect, Result, Target};

/// One connection to the compositor, with its outputs described.
pub(crate) struct Session {
    queue: EventQueue<State>,
    state: State,
    outputs: Vec<wl_output::WlOutput>,
    shm: Option<wl_shm::WlShm>,
    screencopy: Option<(ZwlrScreencopyManagerV1, u32)>,
}

/// What the compositor said of one output.
#[derive(Debug, Default)]
struct Head {
    /// The connector's name (`HEADLESS-1`, `DP-2`), from wl_output v4 or
    /// xdg-output.
    name: Option<String>,
    /// Position from `wl_output.geometry`, used without xdg-output.
    position: (i32, i32),
    logical_position: Option<(i32, i32)>,
    logical_size: Option<(i32, i32)>,
    /// The current mode: the output's pixels, before its transform.
    mode: Option<(i32, i32)>,
    scale: i32,
    transform: Option<wl_output::Transform>,
}

impl Head {
    /// Width and height in pixels as the output shows them (a rotated
    /// output's mode is turned).
    fn pixels(&self) -> Option<(i32, i32)> {
        use wl_output::Transform as T;
        let (w, h) = self.mode?;
        Some(match self.transform {
            Some(T::_90 | T::_270 | T::Flipped90 | T::Flipped270) => (h, w),
            _ => (w, h),
        })
    }

    /// Where the output is on the desktop, in logical units.
    fn logical(&self) -> Option<Rect> {
        let (x, y) = self.logical_position.unwrap_or(self.position);
        let (w, h) = match self.logical_size {
            Some(size) => size,
            None => {
                let (w, h) = self.pixels()?;
                let s = self.scale.max(1);
                (w / s, h / s)
            }
        };
        (w > 0 && h > 0).then(|| Rect::new(x, y, w as u32, h as u32))
    }

    /// Physical pixels per logical unit: fractional where the compositor
    /// scales by a fraction.
    fn scale_factor(&self) -> f32 {
        match (self.pixels(), self.logical()) {
            (Some((w, _)), Some(rect)) => w as f32 / rect.width as f32,
            _ => self.scale.max(1) as f32,
        }
    }
}

/// The answer to one screencopy request.
#[derive(Debug, Default)]
struct Copy {
    /// Format, width, height and stride of the buffer to provide.
    buffer: Option<(WEnum<wl_shm::Format>, u32, u32, u32)>,
    buffer_done: bool,
    y_invert: bool,
    ready: bool,
    failed: bool,
}

#[derive(Debug, Default)]
struct State {
    heads: Vec<Head>,
    copy: Copy,
}

fn platform(what: &str, e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Platform(format!("{what}: {e}"))
}

impl Session {
    pub(crate) fn open() -> Result<Session> {
        let conn = Connection::connect_to_env().map_err(|e| {
            CaptureError::NoDisplay(format!("cannot reach the Wayland compositor: {e}"))
        })?;
        let (globals, mut queue) = registry_queue_init::<State>(&conn)
            .map_err(|e| platform("listing the compositor's globals", e))?;
        let qh = queue.handle();
        let mut state = State::default();
        let outputs: Vec<wl_output::WlOutput> = globals
            .contents()
            .clone_list()
            .iter()
            .filter(|g| g.interface == "wl_output")
            .enumerate()
            .map(|(i, g)| {
                state.heads.push(Head::default());
                globals.registry().bind(g.name, g.version.min(4), &qh, i)
            })
            .collect();
        if let Ok(manager) = globals.bind::<ZxdgOutputManagerV1, _, _>(&qh, 1..=3, ()) {
            for (i, output) in outputs.iter().enumerate() {
                manager.get_xdg_output(output, &qh, i);
            }
        }
        let shm = globals.bind::<wl_shm::WlShm, _, _>(&qh, 1..=1, ()).ok();
        let screencopy = globals
            .bind::<ZwlrScreencopyManagerV1, _, _>(&qh, 1..=3, ())
            .ok()
            .map(|m| {
                let version = wayland_client::Proxy::version(&m);
                (m, version)
            });
        // The outputs' events, then xdg-output's, which come after the
        // objects asked for in the first round exist.
        for _ in 0..2 {
            queue
                .roundtrip(&mut state)
                .map_err(|e| platform("talking to the compositor", e))?;
        }
        Ok(Session {
            queue,
            state,
            outputs,
            shm,
            screencopy,
        })
    }

    /// The outputs as monitors, numbered from 1 in the compositor's order;
    /// the first is the primary one (Wayland has no such notion).
    pub(crate) fn monitors(&self) -> Result<Vec<Monitor>> {
        let monitors: Vec<Monitor> = self
            .state
            .heads
            .iter()
            .filter_map(|head| Some((head, head.logical()?)))
            .enumerate()
            .map(|(i, (head, rect))| Monitor {
                number: i + 1,
                name: head
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("output-{}", i + 1)),
                rect,
                scale_factor: head.scale_factor(),
                primary: i == 0,
            })
            .collect();
        if monitors.is_empty() {
            return Err(CaptureError::Platform(
                "the Wayland compositor reports no output".into(),
            ));
        }
        Ok(monitors)
    }

    /// The desktop rectangle `target` (not a window) covers. A Wayland
    /// client is not told where the pointer is, so the monitor "under the
    /// pointer" is the first one.
    pub(crate) fn rect_of(&self, target: &Target) -> Result<Rect> {
        crate::target_rect(target, &self.monitors()?, || {
            Err(CaptureError::Platform(
                "no pointer position on Wayland".into(),
            ))
        })
    }

    /// Whether captures go through screencopy: the compositor offers it,
    /// and `DROPCAST_WAYLAND_CAPTURE=portal` does not ask for the portals.
    pub(crate) fn screencopy_in_use(&self) -> bool {
        let forced = std::env::var("DROPCAST_WAYLAND_CAPTURE").is_ok_and(|v| v == "portal");
        self.screencopy.is_some() && !forced
    }

    /// The pixels of `rect` (logical units): each output it touches copied
    /// through screencopy, at the largest scale among them; through the
    /// Screenshot portal where there is no screencopy, or when
    /// `DROPCAST_WAYLAND_CAPTURE=portal` asks for it.
    pub(crate) fn capture(&mut self, rect: Rect, options: Options) -> Result<Frame> {
        let screencopy = match self.screencopy.clone() {
            Some(screencopy) if self.screencopy_in_use() => screencopy,
            _ => return self.capture_through_portal(rect),
        };
        let touched: Vec<(usize, Rect, f32)> = self
            .state
            .heads
            .iter()
            .enumerate()
            .filter_map(|(i, head)| {
                let part = head.logical()?.intersect(&rect)?;
                Some((i, part, head.scale_factor()))
            })
            .collect();
        let scale = touched.iter().map(|t| t.2).fold(1.0, f32::max);
        let px = |units: i64| (units as f32 * scale).round() as i64;
        let mut canvas =
            RgbaImage::new(px(rect.width.into()) as u32, px(rect.height.into()) as u32);
        for (i, part, _) in touched {
            let output = self.head_logical(i)?;
            let relative = Rect::new(
                part.x - output.x,
                part.y - output.y,
                part.width,
                part.height,
            );
            let mut image = self.copy(&screencopy, i, relative, options.cursor)?;
            let (w, h) = (px(part.width.into()) as u32, px(part.height.into()) as u32);
            if image.dimensions() != (w, h) {
                // A monitor at a smaller scale than the largest one the
                // region touches.
                image = image::imageops::resize(&image, w, h, image::imageops::FilterType::Nearest);
            }
            image::imageops::replace(
                &mut canvas,
                &image,
                px((part.x - rect.x).into()),
                px((part.y - rect.y).into()),
            );
        }
        Ok(Frame {
            image: canvas,
            origin: (rect.x, rect.y),
            scale_factor: scale,
            logical: true,
            captured_at: SystemTime::now(),
        })
    }

    /// `rect` cut from the portal's picture of the whole desktop, which is
    /// in physical pixels: its scale is its width over the desktop's.
    fn capture_through_portal(&self, rect: Rect) -> Result<Frame> {
        let desktop = Rect::bounding(self.monitors()?.iter().map(|m| m.rect))
            .expect("monitors() answers at least one");
        let whole = crate::portal::screenshot()?;
        let scale = whole.width() as f32 / desktop.width as f32;
        let frame = Frame {
            image: whole,
            origin: (desktop.x, desktop.y),
            scale_factor: scale,
            logical: true,
            captured_at: SystemTime::now(),
        };
        frame.crop(rect)
    }

    fn head_logical(&self, i: usize) -> Result<Rect> {
        self.state.heads[i]
            .logical()
            .ok_or_else(|| CaptureError::Platform("an output has no size".into()))
    }

    /// `region` (logical units, relative to output `i`) as the output's
    /// pixels through `screencopy` (the manager and its version), shown the
    /// way the output shows them.
    fn copy(
        &mut self,
        (manager, version): &(ZwlrScreencopyManagerV1, u32),
        i: usize,
        region: Rect,
        cursor: bool,
    ) -> Result<RgbaImage> {
        let shm = self
            .shm
            .clone()
            .ok_or_else(|| CaptureError::Platform("the compositor offers no wl_shm".into()))?;
        let qh: QueueHandle<State> = self.queue.handle();
        self.state.copy = Copy::default();
        let frame = manager.capture_output_region(
            i32::from(cursor),
            &self.outputs[i],
            region.x,
            region.y,
            region.width as i32,
            region.height as i32,
            &qh,
            (),
        );
        // Version 3 lists every buffer type it takes, then says done;
        // before that, the shared-memory one is all there is.
        let wait_all = *version >= 3;
        while !(self.state.copy.failed
            || (self.state.copy.buffer.is_some() && (!wait_all || self.state.copy.buffer_done)))
        {
            self.dispatch()?;
        }
        if self.state.copy.failed {
            frame.destroy();
            return Err(CaptureError::Platform(
                "the compositor refused to copy the screen".into(),
            ));
        }
        let (format, width, height, stride) = self.state.copy.buffer.expect("checked above");
        let size = stride as usize * height as usize;
        let memory = shared_memory(size)?;
        let pool = shm.create_pool(memory.as_fd(), size as i32, &qh, ());
        let buffer = pool.create_buffer(
            0,
            width as i32,
            height as i32,
            stride as i32,
            format
                .into_result()
                .map_err(|e| platform("the screen's pixel format", e))?,
            &qh,
            (),
        );
        frame.copy(&buffer);
        while !(self.state.copy.ready || self.state.copy.failed) {
            self.dispatch()?;
        }
        buffer.destroy();
        pool.destroy();
        frame.destroy();
        if self.state.copy.failed {
            return Err(CaptureError::Platform(
                "the compositor failed to copy the screen".into(),
            ));
        }
        let mut bytes = vec![0u8; size];
        std::fs::File::from(memory)
            .read_exact_at(&mut bytes, 0)
            .map_err(|e| platform("reading the copied screen", e))?;
        let image = to_rgba(&bytes, format, width, height, stride)?;
        let image = if self.state.copy.y_invert {
            image::imageops::flip_vertical(&image)
        } else {
            image
        };
        Ok(shown(image, self.state.heads[i].transform))
    }

    fn dispatch(&mut self) -> Result<()> {
        self.queue
            .blocking_dispatch(&mut self.state)
            .map(drop)
            .map_err(|e| platform("talking to the compositor", e))
    }
}

/// An anonymous file of `size` bytes to share with the compositor.
fn shared_memory(size: usize) -> Result<OwnedFd> {
    // SAFETY: the name is a NUL-terminated C string; the flags are valid.
    let fd = unsafe { libc::memfd_create(c"dropcast-shot".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(platform(
            "making shared memory",
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let file = std::fs::File::from(fd);
    file.set_len(size as u64)
        .map_err(|e| platform("sizing shared memory", e))?;
    Ok(file.into())
}

/// Shared-memory pixels as RGBA. `wl_shm` formats name a little-endian
/// 32-bit word: XRGB8888 is B, G, R, X in memory.
fn to_rgba(
    bytes: &[u8],
    format: WEnum<wl_shm::Format>,
    width: u32,
    height: u32,
    stride: u32,
) -> Result<RgbaImage> {
    use wl_shm::Format as F;
    let (swap, opaque) = match format {
        WEnum::Value(F::Xrgb8888) => (true, true),
        WEnum::Value(F::Argb8888) => (true, false),
        WEnum::Value(F::Xbgr8888) => (false, true),
        WEnum::Value(F::Abgr8888) => (false, false),
        other => {
            return Err(CaptureError::Platform(format!(
                "the compositor offers the screen as {other:?}, which Dropcast cannot read yet"
            )))
        }
    };
    let row = width as usize * 4;
    let mut out = Vec::with_capacity(row * height as usize);
    for y in 0..height as usize {
        let line = &bytes[y * stride as usize..][..row];
        for px in line.chunks_exact(4) {
            let (r, b) = if swap { (px[2], px[0]) } else { (px[0], px[2]) };
            out.extend_from_slice(&[r, px[1], b, if opaque { 255 } else { px[3] }]);
        }
    }
    RgbaImage::from_raw(width, height, out)
        .ok_or_else(|| CaptureError::Platform("the copied screen has the wrong size".into()))
}

/// A buffer as its output shows it: the buffer holds the pixels before
/// the output's transform (a monitor turned on its side keeps its mode).
fn shown(image: RgbaImage, transform: Option<wl_output::Transform>) -> RgbaImage {
    use image::imageops::{flip_horizontal, rotate180, rotate270, rotate90};
    use wl_output::Transform as T;
    // The transforms turn counter-clockwise; showing undoes that
    // (`rotate90` turns clockwise).
    match transform {
        Some(T::_90) => rotate90(&image),
        Some(T::_180) => rotate180(&image),
        Some(T::_270) => rotate270(&image),
        Some(T::Flipped) => flip_horizontal(&image),
        Some(T::Flipped90) => flip_horizontal(&rotate90(&image)),
        Some(T::Flipped180) => flip_horizontal(&rotate180(&image)),
        Some(T::Flipped270) => flip_horizontal(&rotate270(&image)),
        _ => image,
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for State {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        // Outputs plugged in while a command runs are not followed.
    }
}

impl Dispatch<wl_output::WlOutput, usize> for State {
    fn event(
        state: &mut Self,
        _: &wl_output::WlOutput,
        event: wl_output::Event,
        &i: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let head = &mut state.heads[i];
        match event {
            wl_output::Event::Geometry {
                x, y, transform, ..
            } => {
                head.position = (x, y);
                head.transform = transform.into_result().ok();
            }
            wl_output::Event::Mode {
                flags,
                width,
                height,
                ..
            } if flags
                .into_result()
                .is_ok_and(|f| f.contains(wl_output::Mode::Current)) =>
            {
                head.mode = Some((width, height));
            }
            wl_output::Event::Scale { factor } => head.scale = factor,
            wl_output::Event::Name { name } => head.name = Some(name),
            _ => {}
        }
    }
}

impl Dispatch<ZxdgOutputV1, usize> for State {
    fn event(
        state: &mut Self,
        _: &ZxdgOutputV1,
        event: zxdg_output_v1::Event,
        &i: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let head = &mut state.heads[i];
        match event {
            zxdg_output_v1::Event::LogicalPosition { x, y } => head.logical_position = Some((x, y)),
            zxdg_output_v1::Event::LogicalSize { width, height } => {
                head.logical_size = Some((width, height))
            }
            zxdg_output_v1::Event::Name { name } => {
                head.name.get_or_insert(name);
            }
            _ => {}
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, ()> for State {
    fn event(
        state: &mut Self,
        _: &ZwlrScreencopyFrameV1,
        event: zwlr_screencopy_frame_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        use zwlr_screencopy_frame_v1::Event as E;
        let copy = &mut state.copy;
        match event {
            E::Buffer {
                format,
                width,
                height,
                stride,
            } => copy.buffer = Some((format, width, height, stride)),
            E::BufferDone => copy.buffer_done = true,
            E::Flags { flags } => {
                copy.y_invert = flags
                    .into_result()
                    .is_ok_and(|f| f.contains(zwlr_screencopy_frame_v1::Flags::YInvert))
            }
            E::Ready { .. } => copy.ready = true,
            E::Failed => copy.failed = true,
            _ => {}
        }
    }
}

delegate_noop!(State: ignore wl_shm::WlShm);
delegate_noop!(State: ignore wl_shm_pool::WlShmPool);
delegate_noop!(State: ignore wl_buffer::WlBuffer);
delegate_noop!(State: ZxdgOutputManagerV1);
delegate_noop!(State: ZwlrScreencopyManagerV1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_memory_formats_become_rgba_and_the_stride_is_honoured() {
        // Two pixels a row, stride 12: four bytes of padding per row.
        let bytes = [
            1, 2, 3, 0, 4, 5, 6, 0, 9, 9, 9, 9, //
            7, 8, 9, 0, 10, 11, 12, 0, 9, 9, 9, 9,
        ];
        let xrgb = to_rgba(&bytes, WEnum::Value(wl_shm::Format::Xrgb8888), 2, 2, 12).unwrap();
        assert_eq!(xrgb.get_pixel(0, 0).0, [3, 2, 1, 255]);
        assert_eq!(xrgb.get_pixel(1, 1).0, [12, 11, 10, 255]);
        let abgr = to_rgba(&bytes, WEnum::Value(wl_shm::Format::Abgr8888), 2, 2, 12).unwrap();
        assert_eq!(abgr.get_pixel(1, 0).0, [4, 5, 6, 0]);
        let other = to_rgba(&bytes, WEnum::Value(wl_shm::Format::Rgb565), 2, 2, 12);
        assert!(other.unwrap_err().to_string().contains("Rgb565"));
    }

    #[test]
    fn a_turned_output_is_shown_upright_and_its_size_turns_too() {
        let head = Head {
            mode: Some((1920, 1080)),
            scale: 1,
            transform: Some(wl_output::Transform::_90),
            ..Head::default()
        };
        assert_eq!(head.pixels(), Some((1080, 1920)));
        assert_eq!(head.logical(), Some(Rect::new(0, 0, 1080, 1920)));
        // The buffer's first row is the shown image's right column,
        // read downwards.
        let buffer = RgbaImage::from_fn(3, 2, |x, y| image::Rgba([x as u8, y as u8, 0, 255]));
        let upright = shown(buffer, head.transform);
        assert_eq!(upright.dimensions(), (2, 3));
        assert_eq!(upright.get_pixel(1, 0).0[..2], [0, 0]);
        assert_eq!(upright.get_pixel(0, 0).0[..2], [0, 1]);
    }

    #[test]
    fn the_scale_is_pixels_per_logical_unit_even_when_fractional() {
        let head = Head {
            mode: Some((2560, 1440)),
            logical_size: Some((1707, 960)),
            scale: 2,
            ..Head::default()
        };
        assert!((head.scale_factor() - 1.4997).abs() < 0.001);
    }
}
