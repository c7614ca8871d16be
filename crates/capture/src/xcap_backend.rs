//! Capture through xcap: macOS, Windows, and windows everywhere but on
//! Wayland.

use std::time::SystemTime;

#[cfg(not(target_os = "linux"))]
use crate::Monitor;
use crate::{CaptureError, Frame, Rect, Result, Window};
#[cfg(not(target_os = "linux"))]
use image::RgbaImage;

fn platform(e: xcap::XCapError) -> CaptureError {
    CaptureError::Platform(e.to_string())
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn monitors() -> Result<Vec<Monitor>> {
    xcap::Monitor::all()
        .map_err(platform)?
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Ok(Monitor {
                number: i + 1,
                name: m.name().map_err(platform)?,
                rect: Rect::new(
                    m.x().map_err(platform)?,
                    m.y().map_err(platform)?,
                    m.width().map_err(platform)?,
                    m.height().map_err(platform)?,
                ),
                scale_factor: m.scale_factor().unwrap_or(1.0),
                primary: m.is_primary().unwrap_or(false),
            })
        })
        .collect()
}

/// xcap does not say where the pointer is; the caller falls back to the
/// primary monitor.
#[cfg(not(target_os = "linux"))]
pub(crate) fn pointer() -> Result<(i32, i32)> {
    Err(CaptureError::Platform("pointer position unknown".into()))
}

/// xcap's window list, with a missing window manager said plainly.
fn all_windows() -> Result<Vec<xcap::Window>> {
    xcap::Window::all().map_err(|e| {
        let message = e.to_string();
        if message.contains("_NET_CLIENT_LIST") {
            CaptureError::NoWindowManager
        } else {
            CaptureError::Platform(message)
        }
    })
}

pub(crate) fn windows() -> Result<Vec<Window>> {
    let all = all_windows()?;
    let mut listed = Vec::with_capacity(all.len());
    for w in &all {
        // A window can go away while we ask about it: skip it.
        let Ok(id) = w.id() else { continue };
        let (Ok(x), Ok(y), Ok(width), Ok(height)) = (w.x(), w.y(), w.width(), w.height()) else {
            continue;
        };
        listed.push(Window {
            id,
            title: w.title().unwrap_or_default(),
            app: w.app_name().unwrap_or_default(),
            rect: Rect::new(x, y, width, height),
            minimized: w.is_minimized().unwrap_or(false),
            focused: w.is_focused().unwrap_or(false),
        });
    }
    Ok(listed)
}

pub(crate) fn capture_window(id: u32) -> Result<Frame> {
    let all = all_windows()?;
    let window = all
        .into_iter()
        .find(|w| w.id().ok() == Some(id))
        .ok_or(CaptureError::UnknownWindow(id))?;
    if window.is_minimized().unwrap_or(false) {
        return Err(CaptureError::Minimized(id));
    }
    let origin = (window.x().unwrap_or(0), window.y().unwrap_or(0));
    let scale_factor = window
        .current_monitor()
        .and_then(|m| m.scale_factor())
        .unwrap_or(1.0);
    let image = window.capture_image().map_err(platform)?;
    Ok(Frame {
        image,
        origin,
        scale_factor,
        logical: false,
        captured_at: SystemTime::now(),
    })
}

/// Captures `rect` monitor by monitor and puts the pieces together.
#[cfg(not(target_os = "linux"))]
pub(crate) fn capture_rect(rect: Rect, monitors: &[Monitor], scale_factor: f32) -> Result<Frame> {
    let all = xcap::Monitor::all().map_err(platform)?;
    let mut canvas = RgbaImage::new(rect.width, rect.height);
    for (monitor, listed) in all.iter().zip(monitors) {
        let Some(piece) = listed.rect.intersect(&rect) else {
            continue;
        };
        let image = monitor
            .capture_region(
                (piece.x - listed.rect.x) as u32,
                (piece.y - listed.rect.y) as u32,
                piece.width,
                piece.height,
            )
            .map_err(platform)?;
        image::imageops::replace(
            &mut canvas,
            &image,
            (piece.x - rect.x) as i64,
            (piece.y - rect.y) as i64,
        );
    }
    Ok(Frame {
        image: canvas,
        origin: (rect.x, rect.y),
        scale_factor,
        logical: false,
        captured_at: SystemTime::now(),
    })
}
