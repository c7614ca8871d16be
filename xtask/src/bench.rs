//! `cargo xtask bench [NAME]`: builds release binaries, installs the peer
//! tools, and runs the benchmarks in `bench/`, which print ratios.
//! `cargo xtask bench summary` runs each of them briefly and prints one
//! table of every figure.

use crate::sys;

/// Each benchmark and the packages it needs (the peers and the desktop
/// they run on).
const BENCHES: &[(&str, &[&str])] = &[
    ("server", &["nginx", "curl", "procps", "postgresql"]),
    (
        "capture",
        &[
            "xvfb",
            "feh",
            "xdotool",
            "imagemagick",
            "fonts-dejavu-core",
            "scrot",
            "maim",
            "flameshot",
        ],
    ),
    ("pages", &["nginx", "wrk"]),
    ("jobs", &["postgresql"]),
    (
        "app",
        &[
            "xvfb",
            "feh",
            "xdotool",
            "imagemagick",
            "fonts-dejavu-core",
            "dbus",
            "haskell-gtk-sni-tray-utils",
            "haskell-status-notifier-item-utils",
            "flameshot",
        ],
    ),
    (
        "record",
        &[
            "xvfb",
            "feh",
            "imagemagick",
            "fonts-dejavu-core",
            "ffmpeg",
            "time",
        ],
    ),
    ("startup", &["hyperfine", "scrot"]),
    (
        "editor",
        &[
            "imagemagick",
            "fonts-dejavu-core",
            "tesseract-ocr",
            "tesseract-ocr-eng",
        ],
    ),
    (
        "wayland",
        &[
            "sway",
            "swaybg",
            "grim",
            "imagemagick",
            "fonts-dejavu-core",
            "ffmpeg",
            "time",
            "wf-recorder",
            // The ScreenCast portal path, as in the tests.
            "xdg-desktop-portal",
            "xdg-desktop-portal-wlr",
            "python3-dbus",
            "pipewire",
            "pipewire-bin",
            "wireplumber",
        ],
    ),
];

/// Every program the benchmarks start (the CLI starts the clipboard
/// holder and the recorder), built in release mode. The windows process
/// is not: idle means no window open.
const PROGRAMS: &[&str] = &[
    "dropcast-server",
    "dropcast",
    "dropcast-app",
    "dropcast-clipboard",
    "dropcast-record",
    "dropcast-bench",
];

pub fn main(args: &[String]) -> Result<(), String> {
    let names: Vec<&str> = BENCHES.iter().map(|(n, _)| *n).collect();
    let which: Vec<&str> = match args.first().map(String::as_str) {
        None | Some("all") => names.clone(),
        Some("summary") => vec!["summary"],
        Some(name) if names.contains(&name) => vec![name],
        Some(other) => {
            return Err(format!(
                "unknown bench {other:?}; known: {}, summary",
                names.join(", ")
            ))
        }
    };
    let extra: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    sys::ensure_packages(crate::BUILD_PACKAGES)?;
    crate::restrict_to_listed_packages()?;
    for (name, packages) in BENCHES {
        if which.contains(name) || which == ["summary"] {
            sys::ensure_packages(packages)?;
        }
    }
    let tools = crate::tools::ensure_bench_pypi()?;
    let release = sys::build_release(PROGRAMS)?;
    // The API function and the hello-world one as `cargo xtask lambda`
    // builds what ships: by cargo-lambda (thin LTO, one codegen unit), each
    // in a run of its own (an example brings the dev-dependencies'
    // features along).
    let lambda_dir = sys::target_dir().join("lambda").join("bench");
    let native: &[&str] = &["--x86-64", "--compiler", "cargo"];
    if which.contains(&"server") {
        for target in [
            ["--bin", "dropcast-lambda-api"],
            ["--example", "hello-lambda"],
        ] {
            crate::cargo_lambda_build(&tools, native, &target, "binary", &lambda_dir)?;
        }
    }
    let bin = |name: &str| sys::bin_path(&release, name);
    let bench = bin("dropcast-bench")?;
    let (server, dropcast, app) = (
        bin("dropcast-server")?,
        bin("dropcast")?,
        bin("dropcast-app")?,
    );
    let lambda = sys::bin_path(&lambda_dir.join("dropcast-lambda-api"), "bootstrap")?;
    let hello = sys::bin_path(&lambda_dir.join("hello-lambda"), "bootstrap")?;
    let dir = sys::path_str(&release)?;
    for name in which {
        let mut args: Vec<&str> = match name {
            "server" => vec![
                name,
                "--server-bin",
                &server,
                "--lambda-bin",
                &lambda,
                "--hello-lambda-bin",
                &hello,
            ],
            "pages" | "jobs" => vec![name, "--server-bin", &server],
            "wayland" => vec![name, "--dropcast-bin", &dropcast],
            "editor" => vec![name],
            "capture" | "record" => {
                vec![name, "--dropcast-bin", &dropcast, "--server-bin", &server]
            }
            "app" => vec![
                name,
                "--app-bin",
                &app,
                "--dropcast-bin",
                &dropcast,
                "--server-bin",
                &server,
            ],
            _ => vec![name, "--bin-dir", &dir],
        };
        args.extend_from_slice(&extra);
        sys::run(&bench, &args)?;
    }
    Ok(())
}

/// `cargo xtask soak [FLAGS]`: `dropcast-bench soak` with release
/// binaries, on loopback (see bench/src/soak.rs); FLAGS go to it.
pub fn soak(args: &[String]) -> Result<(), String> {
    sys::ensure_packages(crate::BUILD_PACKAGES)?;
    crate::restrict_to_listed_packages()?;
    sys::ensure_packages(&["postgresql"])?;
    crate::tools::ensure_pypi()?;
    let release = sys::build_release(&["dropcast-server", "dropcast", "dropcast-bench"])?;
    let bin = |name: &str| sys::bin_path(&release, name);
    let mut all = vec![
        "soak".to_string(),
        "--server-bin".into(),
        bin("dropcast-server")?,
        "--dropcast-bin".into(),
        bin("dropcast")?,
    ];
    all.extend_from_slice(args);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    sys::run(&bin("dropcast-bench")?, &all)
}
