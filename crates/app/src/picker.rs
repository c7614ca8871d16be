//! Starting the windows process (`dropcast-ui`), and handing it the frozen
//! screen for the region picker: the resident app takes the pixels first
//! (what the user sees in the picker is what gets shared), writes each
//! monitor's part as a PNG with `pick.json` beside it, and starts
//! `dropcast-ui pick`. The chosen region comes back as a `region` command
//! and is cut from the frozen frame at full resolution.

use std::path::PathBuf;

use dropcast_actions::resident::{self, PickMonitor, PickSetup, PickWindow};
use dropcast_actions::{Error, Kind};
use dropcast_capture::Frame;

/// `dropcast-ui` beside this executable, else from the PATH.
fn ui_program() -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(format!("dropcast-ui{}", std::env::consts::EXE_SUFFIX)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("dropcast-ui"))
}

/// Starts `dropcast-ui` with `args` (a running one takes them over and
/// this one exits at once).
pub fn windows_process(args: &[&str]) -> Result<(), Error> {
    let program = ui_program();
    let mut child = std::process::Command::new(&program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            Error::new(
                Kind::Failed,
                format!(
                    "cannot start the windows process {}: {e}; install dropcast-ui beside dropcast-app",
                    program.display()
                ),
            )
        })?;
    // Reap it when it ends, so no zombie stays.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Writes the frozen screen for the picker and opens it.
pub async fn open(frame: &Frame) -> Result<(), Error> {
    let monitors = tokio::task::spawn_blocking(dropcast_capture::monitors)
        .await
        .expect("listing monitors does not panic")?;
    // Without a window manager there are no windows to pick: regions only.
    let windows = tokio::task::spawn_blocking(dropcast_capture::windows)
        .await
        .expect("listing windows does not panic")
        .unwrap_or_default();
    let dir = resident::pick_dir();
    let local = |e: std::io::Error| {
        Error::new(
            Kind::LocalFile,
            format!("cannot write the frozen screen to {}: {e}", dir.display()),
        )
    };
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(local)?;
    let mut setup = PickSetup {
        monitors: Vec::new(),
        windows: windows
            .iter()
            .filter(|w| !w.minimized)
            .map(|w| PickWindow {
                x: w.rect.x,
                y: w.rect.y,
                width: w.rect.width,
                height: w.rect.height,
                title: w.title.clone(),
            })
            .collect(),
        logical: frame.logical,
    };
    for m in &monitors {
        let part = frame.crop(m.rect)?;
        let image = format!("monitor-{}.png", m.number);
        let png = tokio::task::spawn_blocking(move || {
            dropcast_encode::encode(&part.image, 1.0, &dropcast_encode::Settings::default())
        })
        .await
        .expect("encoding does not panic")?;
        std::fs::write(dir.join(&image), &png.bytes).map_err(local)?;
        setup.monitors.push(PickMonitor {
            x: m.rect.x,
            y: m.rect.y,
            width: m.rect.width,
            height: m.rect.height,
            scale_factor: m.scale_factor,
            image,
        });
    }
    let json = serde_json::to_vec(&setup).expect("the pick setup serializes");
    std::fs::write(dir.join("pick.json"), json).map_err(local)?;
    windows_process(&["pick"])
}
