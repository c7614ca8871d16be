//! `cargo xtask bench [NAME]`: builds release binaries, installs the peer
//! tools, and runs the benchmarks in `bench/`, which print ratios.

use crate::sys;

const BENCHES: &[&str] = &["server", "capture", "pages", "app", "record"];

pub fn main(args: &[String]) -> Result<(), String> {
    let which: Vec<&str> = match args.first().map(String::as_str) {
        None | Some("all") => BENCHES.to_vec(),
        Some(name) if BENCHES.contains(&name) => vec![name],
        Some(other) => {
            return Err(format!(
                "unknown bench {other:?}; known: {}",
                BENCHES.join(", ")
            ))
        }
    };
    let extra: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    sys::ensure_packages(crate::BUILD_PACKAGES)?;
    crate::restrict_to_listed_packages()?;
    for name in which {
        match name {
            "server" => server(&extra)?,
            "capture" => capture(&extra)?,
            "pages" => pages(&extra)?,
            "app" => app(&extra)?,
            "record" => record(&extra)?,
            _ => unreachable!(),
        }
    }
    Ok(())
}

fn server(extra: &[&str]) -> Result<(), String> {
    sys::ensure_packages(&["nginx", "curl", "procps"])?;
    let release = sys::build_release(&["dropcast-server", "dropcast-bench"])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let mut args = vec!["server", "--server-bin", &server];
    args.extend_from_slice(extra);
    sys::run(&sys::bin_path(&release, "dropcast-bench")?, &args)
}

fn capture(extra: &[&str]) -> Result<(), String> {
    sys::ensure_packages(&[
        "xvfb",
        "feh",
        "xdotool",
        "imagemagick",
        "fonts-dejavu-core",
        "scrot",
        "maim",
        "flameshot",
    ])?;
    let release = sys::build_release(&["dropcast-server", "dropcast", "dropcast-bench"])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let dropcast = sys::bin_path(&release, "dropcast")?;
    let mut args = vec![
        "capture",
        "--dropcast-bin",
        &dropcast,
        "--server-bin",
        &server,
    ];
    args.extend_from_slice(extra);
    sys::run(&sys::bin_path(&release, "dropcast-bench")?, &args)
}

fn pages(extra: &[&str]) -> Result<(), String> {
    sys::ensure_packages(&["nginx", "wrk"])?;
    let release = sys::build_release(&["dropcast-server", "dropcast-bench"])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let mut args = vec!["pages", "--server-bin", &server];
    args.extend_from_slice(extra);
    sys::run(&sys::bin_path(&release, "dropcast-bench")?, &args)
}

fn app(extra: &[&str]) -> Result<(), String> {
    sys::ensure_packages(&[
        "xvfb",
        "feh",
        "xdotool",
        "imagemagick",
        "fonts-dejavu-core",
        "dbus",
        "haskell-gtk-sni-tray-utils",
        "haskell-status-notifier-item-utils",
        "flameshot",
    ])?;
    // Idle means no window: the windows process is not started.
    let release = sys::build_release(&[
        "dropcast-server",
        "dropcast",
        "dropcast-app",
        "dropcast-bench",
    ])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let dropcast = sys::bin_path(&release, "dropcast")?;
    let app = sys::bin_path(&release, "dropcast-app")?;
    let mut args = vec![
        "app",
        "--app-bin",
        &app,
        "--dropcast-bin",
        &dropcast,
        "--server-bin",
        &server,
    ];
    args.extend_from_slice(extra);
    sys::run(&sys::bin_path(&release, "dropcast-bench")?, &args)
}

fn record(extra: &[&str]) -> Result<(), String> {
    sys::ensure_packages(&[
        "xvfb",
        "feh",
        "imagemagick",
        "fonts-dejavu-core",
        "ffmpeg",
        "time",
    ])?;
    let release = sys::build_release(&["dropcast-server", "dropcast", "dropcast-bench"])?;
    let server = sys::bin_path(&release, "dropcast-server")?;
    let dropcast = sys::bin_path(&release, "dropcast")?;
    let mut args = vec![
        "record",
        "--dropcast-bin",
        &dropcast,
        "--server-bin",
        &server,
    ];
    args.extend_from_slice(extra);
    sys::run(&sys::bin_path(&release, "dropcast-bench")?, &args)
}
