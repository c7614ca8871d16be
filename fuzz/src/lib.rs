//! What each fuzz target does with its input, here so that the targets
//! (`fuzz_targets/`, run by `cargo xtask fuzz` under cargo-fuzz and
//! libFuzzer) and the replay test (`tests/replay.rs`, which runs every
//! seed and every past crash on stable, in `cargo xtask test`) run the same
//! code. Each takes bytes as anyone outside could send them, and checks
//! more than "no panic": the property its parser promises.
//!
//! - [`conditional`]: `Range`, `If-None-Match` and `If-Range`.
//! - [`sniff`]: the type sniffer, `Content-Disposition`, the extension.
//! - [`upload_form`]: a multipart form to `POST /api/v1/upload`, through
//!   the real router on an embedded server (SQLite, files).
//! - [`mp4`]: the box scanner that trims a recording cut short.
//! - [`image`]: PNG, JPEG, GIF and WebP decoding within its limits.
//! - [`resident`]: the resident app's one-line protocol.
//! - [`config`]: the server's TOML configuration file.

/// What a target does with one input; it panics when the input breaks
/// a promise.
pub type Target = fn(&[u8]);

/// Every target, by name, for the replay test and `cargo xtask fuzz`.
pub const TARGETS: [(&str, Target); 7] = [
    ("conditional", conditional),
    ("sniff", sniff),
    ("upload_form", upload_form),
    ("mp4", mp4),
    ("image", image),
    ("resident", resident),
    ("config", config),
];

/// The input's first byte as a number, and the rest as text.
fn split(data: &[u8]) -> (u8, String) {
    match data.split_first() {
        Some((first, rest)) => (*first, String::from_utf8_lossy(rest).into_owned()),
        None => (0, String::new()),
    }
}

/// A range is within the file and never empty; a tag matches itself.
pub fn conditional(data: &[u8]) {
    use dropcast_server::conditional::{not_modified, parse_range, range_applies, RangeSpec};
    let (size, text) = split(data);
    for size in [0, u64::from(size), u64::MAX] {
        if let RangeSpec::Part(r) = parse_range(&text, size) {
            assert!(
                r.start < r.end && r.end <= size,
                "{text:?} of {size}: {r:?}"
            );
        }
    }
    let etag = "\"AAAAAAAAAAA=\"";
    let _ = not_modified(&text, etag);
    let _ = range_applies(Some(&text), etag);
    assert!(not_modified(&format!("{text},{etag}"), etag));
}

/// Any bytes get a type; any name a header value that stays one line.
pub fn sniff(data: &[u8]) {
    use dropcast_server::sniff;
    let (inline, name) = split(data);
    let content_type = sniff::content_type(data);
    let _ = sniff::dimensions(data);
    let disposition = sniff::disposition(inline % 2 == 0, &name);
    assert!(
        disposition.bytes().all(|b| (b' '..0x7f).contains(&b)),
        "{disposition:?}"
    );
    assert!(disposition.contains("filename*=UTF-8''"));
    let ext = sniff::extension(&content_type, &name);
    assert!(
        ext.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{content_type} {name:?}: {ext:?}"
    );
    // Script never goes inline, whatever its name says.
    for active in ["text/html", "image/svg+xml", "application/javascript"] {
        assert!(!sniff::inline(active, &name), "{active} {name:?}");
    }
}

/// An embedded server, once per process, with its owner's token.
struct Server {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    _dir: tempfile::TempDir,
}

fn server() -> &'static Server {
    static SERVER: std::sync::OnceLock<Server> = std::sync::OnceLock::new();
    SERVER.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let (router, token) = runtime.block_on(async {
            let mut config = dropcast_server::Config {
                data_dir: dir.path().to_path_buf(),
                fsync: false,
                worker: false,
                abuse_threshold: 0,
                abuse_threshold_signed_in: 0,
                ..Default::default()
            };
            config.max_oneshot_size = 1 << 20;
            let app = dropcast_server::App::open(config, dropcast_server::repo::Open::Migrate)
                .await
                .expect("the server opens");
            let owner = app
                .ensure_owner()
                .await
                .expect("an owner")
                .expect("a first token");
            (app.router(), owner.token)
        });
        Server {
            runtime,
            router,
            token,
            _dir: dir,
        }
    })
}

/// A form that is not one is refused with a JSON error, never a 5xx; one
/// that is stores its files.
pub fn upload_form(data: &[u8]) {
    use tower::ServiceExt;
    let server = server();
    let request = axum::http::Request::post("/api/v1/upload")
        .header("authorization", format!("Bearer {}", server.token))
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(axum::body::Body::from(data.to_vec()))
        .expect("a request");
    let response = server
        .runtime
        .block_on(server.router.clone().oneshot(request))
        .expect("the router answers");
    let status = response.status().as_u16();
    assert!(
        [201, 400, 413].contains(&status),
        "{status} for {:?}",
        String::from_utf8_lossy(data)
    );
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(kind.starts_with("application/json"), "{status} {kind}");
}

/// The whole length of a recording is within the file.
pub fn mp4(data: &[u8]) {
    let len = data.len() as u64;
    let whole = dropcast_encode::mp4::complete_length(&mut std::io::Cursor::new(data), len)
        .expect("reading from memory");
    assert!(whole <= len, "{whole} of {len}");
}

/// An image decodes within the limits, or is refused; never more.
pub fn image(data: &[u8]) {
    if let Ok(image) = dropcast_encode::decode(data) {
        assert!(image.width() <= dropcast_encode::MAX_SIDE);
        assert!(image.height() <= dropcast_encode::MAX_SIDE);
    }
}

/// A line that reads as a command reads back from the line it writes.
pub fn resident(data: &[u8]) {
    use dropcast_resident::Command;
    let line = String::from_utf8_lossy(data);
    if let Some(command) = Command::from_line(&line) {
        let written = command.to_line();
        assert!(!written.contains('\n'), "{written:?}");
        assert_eq!(Command::from_line(&written), Some(command), "{line:?}");
    }
}

/// A configuration file is taken whole, or refused with an error that
/// names it; its values hold what `validate` promises.
pub fn config(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("server.toml");
    std::fs::write(&file, data).expect("writing the file");
    match dropcast_server::Config::load(Some(&file), Vec::new(), toml::Table::new()) {
        Ok(config) => {
            assert!(config.min_part_size() <= config.part_size);
            assert!(config.part_size <= config.max_part_size);
            assert!(config.max_parts >= 1);
        }
        Err(e) => {
            let said = format!("{e:#}");
            // Every error names the file its settings came from.
            assert!(said.contains("server.toml"), "{said}");
        }
    }
}
