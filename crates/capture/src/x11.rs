//! X11 monitors and screen regions over one xcb connection.
//!
//! Monitors are RandR 1.5 monitors, including those with no output behind
//! them (`xrandr --setmonitor ... none`); a region is one `GetImage` of the
//! root window, so a region that spans monitors is one request. The pointer
//! is drawn in from XFixes' cursor image when asked.
//!
//! For recordings, [`Session::watch_damage`] asks the DAMAGE extension to
//! say when anything is drawn, so a still screen is not read again and
//! again: [`Session::drawn_since`] answers without a round trip; and
//! [`Session::share_memory`] has the server write each capture into memory
//! shared with it (MIT-SHM) instead of sending it through the socket.

use std::time::SystemTime;

use image::RgbaImage;
use xcb::{damage, randr, shm, x, xfixes, Connection, Xid};

use crate::{CaptureError, Frame, Monitor, Options, Rect, Result};

pub(crate) struct Session {
    conn: Connection,
    root: x::Window,
    xfixes: bool,
    /// Drawing on the screen is reported (see [`Session::watch_damage`]).
    damage: Option<damage::Damage>,
    /// Captures go through this (see [`Session::share_memory`]).
    shared: Option<SharedMemory>,
}

/// A System V shared memory segment attached by us and by the X server.
struct SharedMemory {
    seg: shm::Seg,
    addr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping belongs to this value alone and is only read
// through `&self` while no GetImage into it is in flight.
unsafe impl Send for SharedMemory {}

impl SharedMemory {
    /// Makes `len` bytes and has the server attach them; None where it
    /// cannot (a remote display, no MIT-SHM).
    fn new(conn: &Connection, len: usize) -> Option<SharedMemory> {
        // SAFETY: plain System V calls; every failure is checked, and the
        // segment is marked for removal once both sides hold it, so the
        // kernel frees it when both let go, after a crash too.
        unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, len, libc::IPC_CREAT | 0o600);
            if id < 0 {
                return None;
            }
            let addr = libc::shmat(id, std::ptr::null(), 0);
            if addr as isize == -1 {
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
                return None;
            }
            let seg: shm::Seg = conn.generate_id();
            let attached = conn
                .send_and_check_request(&shm::Attach {
                    shmseg: seg,
                    shmid: id as u32,
                    read_only: false,
                })
                .is_ok();
            libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
            if !attached {
                libc::shmdt(addr);
                return None;
            }
            Some(SharedMemory { seg, addr, len })
        }
    }

    /// The first `len` bytes, as the server last wrote them.
    fn bytes(&self, len: usize) -> &[u8] {
        assert!(len <= self.len);
        // SAFETY: attached for `self.len` bytes until dropped; the server
        // writes only during a GetImage we wait for.
        unsafe { std::slice::from_raw_parts(self.addr as *const u8, len) }
    }
}

fn platform(e: impl std::fmt::Display) -> CaptureError {
    CaptureError::Platform(format!("X11: {e}"))
}

impl Session {
    pub(crate) fn open() -> Result<Session> {
        let (conn, screen) = Connection::connect_with_extensions(
            None,
            &[xcb::Extension::RandR],
            &[
                xcb::Extension::XFixes,
                xcb::Extension::Damage,
                xcb::Extension::Shm,
            ],
        )
        .map_err(|e| {
            CaptureError::NoDisplay(format!(
                "cannot open X display {:?}: {e}",
                std::env::var("DISPLAY").unwrap_or_default()
            ))
        })?;
        let root = conn
            .get_setup()
            .roots()
            .nth(screen as usize)
            .ok_or_else(|| platform("no such screen"))?
            .root();
        let mut xfixes = conn
            .active_extensions()
            .any(|e| e == xcb::Extension::XFixes);
        if xfixes {
            // XFixes answers nothing before the version is agreed.
            let cookie = conn.send_request(&xfixes::QueryVersion {
                client_major_version: 4,
                client_minor_version: 0,
            });
            xfixes = conn.wait_for_reply(cookie).is_ok();
        }
        Ok(Session {
            conn,
            root,
            xfixes,
            damage: None,
            shared: None,
        })
    }

    /// Has captures of `rect` written by the server into memory shared
    /// with it (MIT-SHM): no copy through the socket and no buffer for each
    /// frame. False when the server cannot (then `GetImage` it is).
    pub(crate) fn share_memory(&mut self, rect: Rect) -> bool {
        if !self
            .conn
            .active_extensions()
            .any(|e| e == xcb::Extension::Shm)
        {
            return false;
        }
        let cookie = self.conn.send_request(&shm::QueryVersion {});
        if self.conn.wait_for_reply(cookie).is_err() {
            return false;
        }
        let len = rect.width as usize * rect.height as usize * 4;
        self.shared = SharedMemory::new(&self.conn, len);
        self.shared.is_some()
    }

    /// Asks to be told of drawing anywhere on the screen; false when the
    /// server cannot (then every frame is read).
    pub(crate) fn watch_damage(&mut self) -> bool {
        if !self.xfixes
            || !self
                .conn
                .active_extensions()
                .any(|e| e == xcb::Extension::Damage)
        {
            return false;
        }
        let cookie = self.conn.send_request(&damage::QueryVersion {
            client_major_version: 1,
            client_minor_version: 1,
        });
        if self.conn.wait_for_reply(cookie).is_err() {
            return false;
        }
        let id: damage::Damage = self.conn.generate_id();
        let created = self.conn.send_and_check_request(&damage::Create {
            damage: id,
            drawable: x::Drawable::Window(self.root),
            // One event when the damaged region goes from empty to not;
            // emptied again by `Subtract`.
            level: damage::ReportLevel::NonEmpty,
        });
        self.damage = created.is_ok().then_some(id);
        self.damage.is_some()
    }

    /// Whether anything was drawn on the screen since the last call (true
    /// when damage is not watched). Reads only events already queued.
    pub(crate) fn drawn_since(&self) -> bool {
        let Some(damage) = self.damage else {
            return true;
        };
        let mut drawn = false;
        while let Ok(Some(event)) = self.conn.poll_for_event() {
            drawn |= matches!(event, xcb::Event::Damage(_));
        }
        if drawn {
            // Empty the region before the capture that follows, so what
            // is drawn during it is reported again.
            self.conn.send_request(&damage::Subtract {
                damage,
                repair: xfixes::Region::none(),
                parts: xfixes::Region::none(),
            });
            let _ = self.conn.flush();
        }
        drawn
    }

    /// Where the pointer is and which cursor it shows (XFixes), to tell
    /// whether a frame with the pointer drawn in would differ.
    pub(crate) fn cursor_state(&self) -> Option<(i16, i16, u32)> {
        if !self.xfixes {
            return None;
        }
        let cookie = self.conn.send_request(&xfixes::GetCursorImage {});
        let c = self.conn.wait_for_reply(cookie).ok()?;
        Some((c.x(), c.y(), c.cursor_serial()))
    }

    pub(crate) fn monitors(&self) -> Result<Vec<Monitor>> {
        let cookie = self.conn.send_request(&randr::GetMonitors {
            window: self.root,
            get_active: false,
        });
        let reply = self.conn.wait_for_reply(cookie).map_err(platform)?;
        let scale_factor = self.scale_factor();
        let infos: Vec<_> = reply.monitors().collect();
        let names: Vec<_> = infos
            .iter()
            .map(|m| self.conn.send_request(&x::GetAtomName { atom: m.name() }))
            .collect();
        let mut monitors = Vec::with_capacity(infos.len());
        for (i, (info, name)) in infos.iter().zip(names).enumerate() {
            let name = match self.conn.wait_for_reply(name) {
                Ok(reply) => reply.name().to_utf8().into_owned(),
                Err(_) => format!("monitor-{}", i + 1),
            };
            monitors.push(Monitor {
                number: i + 1,
                name,
                rect: Rect::new(
                    info.x().into(),
                    info.y().into(),
                    info.width().into(),
                    info.height().into(),
                ),
                scale_factor,
                primary: info.primary(),
            });
        }
        if monitors.is_empty() {
            // No RandR monitor (an old server): the whole root window is one.
            let cookie = self.conn.send_request(&x::GetGeometry {
                drawable: x::Drawable::Window(self.root),
            });
            let geometry = self.conn.wait_for_reply(cookie).map_err(platform)?;
            monitors.push(Monitor {
                number: 1,
                name: "screen".into(),
                rect: Rect::new(0, 0, geometry.width().into(), geometry.height().into()),
                scale_factor,
                primary: true,
            });
        }
        Ok(monitors)
    }

    /// Xft.dpi / 96, as desktops set it for HiDPI; 1 when unset.
    fn scale_factor(&self) -> f32 {
        let cookie = self.conn.send_request(&x::GetProperty {
            delete: false,
            window: self.root,
            property: x::ATOM_RESOURCE_MANAGER,
            r#type: x::ATOM_STRING,
            long_offset: 0,
            long_length: 1 << 16,
        });
        let Ok(reply) = self.conn.wait_for_reply(cookie) else {
            return 1.0;
        };
        let resources = String::from_utf8_lossy(reply.value::<u8>()).into_owned();
        resources
            .lines()
            .find_map(|line| line.strip_prefix("Xft.dpi:"))
            .and_then(|dpi| dpi.trim().parse::<f32>().ok())
            .filter(|dpi| *dpi > 0.0)
            .map_or(1.0, |dpi| dpi / 96.0)
    }

    pub(crate) fn pointer(&self) -> Result<(i32, i32)> {
        let cookie = self
            .conn
            .send_request(&x::QueryPointer { window: self.root });
        let reply = self.conn.wait_for_reply(cookie).map_err(platform)?;
        Ok((reply.root_x().into(), reply.root_y().into()))
    }

    /// One `GetImage` of `rect` on the root window, as RGBA.
    pub(crate) fn capture(&self, rect: Rect, scale_factor: f32, options: Options) -> Result<Frame> {
        let (Ok(width), Ok(height)) = (u16::try_from(rect.width), u16::try_from(rect.height))
        else {
            return Err(platform(format!("{rect} is larger than X11 allows")));
        };
        let len = rect.width as usize * rect.height as usize * 4;
        let shared = self.shared.as_ref().filter(|s| s.len >= len);
        // Either reply; the pixels are in the shared memory or the reply.
        let (depth, reply) = match shared {
            Some(s) => {
                let cookie = self.conn.send_request(&shm::GetImage {
                    drawable: x::Drawable::Window(self.root),
                    x: rect.x as i16,
                    y: rect.y as i16,
                    width,
                    height,
                    plane_mask: u32::MAX,
                    format: x::ImageFormat::ZPixmap as u8,
                    shmseg: s.seg,
                    offset: 0,
                });
                let reply = self.conn.wait_for_reply(cookie).map_err(platform)?;
                if (reply.size() as usize) < len {
                    return Err(platform(format!(
                        "the server wrote {} bytes of a {len}-byte image",
                        reply.size()
                    )));
                }
                (reply.depth(), None)
            }
            None => {
                let cookie = self.conn.send_request(&x::GetImage {
                    format: x::ImageFormat::ZPixmap,
                    drawable: x::Drawable::Window(self.root),
                    x: rect.x as i16,
                    y: rect.y as i16,
                    width,
                    height,
                    plane_mask: u32::MAX,
                });
                let reply = self.conn.wait_for_reply(cookie).map_err(platform)?;
                (reply.depth(), Some(reply))
            }
        };
        let captured_at = SystemTime::now();
        let setup = self.conn.get_setup();
        let bits = setup
            .pixmap_formats()
            .iter()
            .find(|f| f.depth() == depth)
            .map(|f| f.bits_per_pixel());
        if !matches!(depth, 24 | 32) || bits != Some(32) {
            return Err(platform(format!(
                "a {depth}-bit screen ({bits:?} bits per pixel) is not supported; use a 24-bit display"
            )));
        }
        let data = match (&reply, shared) {
            (Some(reply), _) => reply.data(),
            (None, Some(s)) => s.bytes(len),
            (None, None) => unreachable!("one of the two replied"),
        };
        let mut image = bgrx_to_rgba(
            data,
            rect.width,
            rect.height,
            setup.image_byte_order() == x::ImageOrder::MsbFirst,
        );
        if options.cursor && self.xfixes {
            self.draw_cursor(&mut image, rect);
        }
        Ok(Frame {
            image,
            origin: (rect.x, rect.y),
            scale_factor,
            logical: false,
            captured_at,
        })
    }

    /// Blends the pointer's image (premultiplied ARGB) over `image`.
    fn draw_cursor(&self, image: &mut RgbaImage, rect: Rect) {
        let cookie = self.conn.send_request(&xfixes::GetCursorImage {});
        let Ok(cursor) = self.conn.wait_for_reply(cookie) else {
            return;
        };
        let left = cursor.x() as i32 - cursor.xhot() as i32 - rect.x;
        let top = cursor.y() as i32 - cursor.yhot() as i32 - rect.y;
        draw_premultiplied(
            image,
            cursor.cursor_image(),
            cursor.width().into(),
            (left, top),
        );
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            let _ = self
                .conn
                .send_and_check_request(&shm::Detach { shmseg: s.seg });
            // SAFETY: attached by `SharedMemory::new`, detached once.
            unsafe {
                libc::shmdt(s.addr);
            }
        }
    }
}

/// X's 32-bit pixels (B, G, R, unused in memory on a little-endian server)
/// to opaque RGBA.
fn bgrx_to_rgba(data: &[u8], width: u32, height: u32, msb_first: bool) -> RgbaImage {
    let mut rgba = vec![0u8; width as usize * height as usize * 4];
    for (out, px) in rgba.chunks_exact_mut(4).zip(data.chunks_exact(4)) {
        // As one 0xXXRRGGBB word either way, then RGBA's bytes (a third
        // faster than byte by byte: a 1080p frame in under 3 ms).
        let px = [px[0], px[1], px[2], px[3]];
        let v = if msb_first {
            u32::from_be_bytes(px)
        } else {
            u32::from_le_bytes(px)
        };
        let rgba = ((v >> 16) & 0xff) | (v & 0xff00) | ((v & 0xff) << 16) | 0xff00_0000;
        out.copy_from_slice(&rgba.to_le_bytes());
    }
    RgbaImage::from_raw(width, height, rgba).expect("buffer sized for the image")
}

/// Draws a premultiplied ARGB picture `width` pixels wide at `at` (which
/// may be partly or wholly outside `image`).
fn draw_premultiplied(image: &mut RgbaImage, argb: &[u32], width: u32, at: (i32, i32)) {
    if width == 0 {
        return;
    }
    for (i, &pixel) in argb.iter().enumerate() {
        let x = at.0 + (i as u32 % width) as i32;
        let y = at.1 + (i as u32 / width) as i32;
        if x < 0 || y < 0 || x >= image.width() as i32 || y >= image.height() as i32 {
            continue;
        }
        let a = pixel >> 24;
        if a == 0 {
            continue;
        }
        let src = [(pixel >> 16) & 0xff, (pixel >> 8) & 0xff, pixel & 0xff];
        let dst = image.get_pixel_mut(x as u32, y as u32);
        for (channel, src) in dst.0.iter_mut().zip(src) {
            let blended = src + (*channel as u32 * (255 - a) + 127) / 255;
            *channel = blended.min(255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x_pixels_become_opaque_rgba_in_either_byte_order() {
        let lsb = bgrx_to_rgba(&[1, 2, 3, 0, 4, 5, 6, 0], 2, 1, false);
        assert_eq!(lsb.as_raw(), &[3, 2, 1, 255, 6, 5, 4, 255]);
        let msb = bgrx_to_rgba(&[0, 3, 2, 1], 1, 1, true);
        assert_eq!(msb.as_raw(), &[3, 2, 1, 255]);
    }

    #[test]
    fn the_cursor_blends_over_the_image_and_is_clipped_at_its_edges() {
        let mut image = RgbaImage::from_pixel(2, 2, image::Rgba([200, 100, 0, 255]));
        // Opaque red, half-transparent white (premultiplied), transparent.
        let cursor = [0xffff0000, 0x80808080, 0x00000000, 0xff00ff00];
        draw_premultiplied(&mut image, &cursor, 2, (1, 0));
        assert_eq!(image.get_pixel(0, 0).0, [200, 100, 0, 255]);
        assert_eq!(image.get_pixel(1, 0).0, [255, 0, 0, 255]);
        assert_eq!(image.get_pixel(1, 1).0, [200, 100, 0, 255]);
        assert_eq!(image.get_pixel(0, 1).0, [200, 100, 0, 255]);
        let mut image = RgbaImage::from_pixel(1, 1, image::Rgba([200, 100, 0, 255]));
        draw_premultiplied(&mut image, &cursor[1..2], 1, (0, 0));
        assert_eq!(image.get_pixel(0, 0).0, [228, 178, 128, 255]);
    }
}
