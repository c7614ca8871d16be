//! Share pages in a real browser (headless chromium through chromedriver)
//! against the real server. Screenshots of every page type land in
//! `artifacts/`.

use dropcast_api as api;
use dropcast_tests::browser::Browser;
use dropcast_tests::*;
use std::time::Duration;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

fn server() -> Server {
    Server::start(&workspace_bin("dropcast-server"), &[])
}

fn png(width: u32, height: u32, scale: f32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x / 4) as u8, (y / 3) as u8, ((x + y) / 5) as u8, 255])
    });
    dropcast_encode::png(&image, scale).unwrap()
}

fn share(server: &Server, create: api::CreateDrop, data: &[u8]) -> api::Drop {
    rt().block_on(share_bytes(&server.client(), create, data))
}

fn named(name: &str) -> api::CreateDrop {
    api::CreateDrop {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn an_image_drop_renders_at_its_true_size_and_a_hidpi_one_at_half() {
    let server = server();
    let b = Browser::start();
    let d = share(&server, named("retina.png"), &png(800, 500, 2.0));
    b.goto(&d.url);
    let size = b.wait_for(
        "the image to load",
        "const i = document.querySelector('img[data-zoomable]'); \
         return i && i.complete && i.naturalWidth ? \
         [i.naturalWidth, i.getBoundingClientRect().width, i.getBoundingClientRect().height] : null",
    );
    assert_eq!(size, serde_json::json!([800, 400, 250]));
    b.screenshot("page-image");
    let d = share(&server, named("plain.png"), &png(300, 200, 1.0));
    b.goto(&d.url);
    let width = b.wait_for(
        "the image to load",
        "const i = document.querySelector('img[data-zoomable]'); \
         return i && i.complete && i.naturalWidth ? i.getBoundingClientRect().width : null",
    );
    assert_eq!(width, 300);
}

#[test]
fn a_video_drop_plays_and_seeks() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=25")
        .args(["-t", "4", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .args(["-movflags", "+faststart"])
        .arg(&video)
        .status()
        .expect("ffmpeg is installed (cargo xtask test installs it)");
    assert!(made.success());
    let d = share(&server, named("clip.mp4"), &std::fs::read(&video).unwrap());
    assert_eq!(d.content_type.as_deref(), Some("video/mp4"));
    let b = Browser::start();
    b.goto(&d.url);
    b.wait_for(
        "the video element",
        "return !!document.querySelector('video')",
    );
    b.eval("const v = document.querySelector('video'); v.muted = true; v.play(); return true");
    b.wait_for(
        "playback to advance",
        "return document.querySelector('video').currentTime > 0.5",
    );
    b.eval("document.querySelector('video').currentTime = 3; return true");
    let at = b.wait_for(
        "the seek to land",
        "const v = document.querySelector('video'); \
         return !v.seeking && v.currentTime >= 2.9 ? v.currentTime : null",
    );
    assert!(at.as_f64().unwrap() < 4.1, "{at}");
    b.screenshot("page-video");
}

#[test]
fn the_password_flow_lets_the_right_password_in_and_not_a_wrong_one() {
    let server = server();
    let create = api::CreateDrop {
        name: "locked.png".into(),
        password: Some(api::Password("hunter2".into())),
        ..Default::default()
    };
    let d = share(&server, create, &png(200, 120, 1.0));
    let b = Browser::start();
    b.goto(&d.url);
    b.wait_for(
        "the form",
        "return !!document.querySelector('input[type=password]')",
    );
    b.screenshot("page-password");
    let submit = |password: &str| {
        b.eval(&format!(
            "document.querySelector('input[type=password]').value = {password:?}; \
             document.querySelector('form').submit(); return true"
        ));
    };
    submit("hunter3");
    b.wait_for(
        "the wrong-password message",
        "return document.body.innerText.includes('Wrong password')",
    );
    assert_eq!(
        b.eval("return !!document.querySelector('img[data-zoomable]')"),
        false
    );
    submit("hunter2");
    let loaded = b.wait_for(
        "the image",
        "const i = document.querySelector('img[data-zoomable]'); \
         return i && i.complete && i.naturalWidth",
    );
    assert_eq!(loaded, 200);
}

#[test]
fn an_expired_drop_shows_the_410_page() {
    let server = server();
    let soon = time::OffsetDateTime::now_utc() + Duration::from_millis(1200);
    let create = api::CreateDrop {
        name: "brief.png".into(),
        expires_at: Some(soon),
        ..Default::default()
    };
    let d = share(&server, create, &png(50, 50, 1.0));
    std::thread::sleep(Duration::from_millis(1300));
    let b = Browser::start();
    b.goto(&d.url);
    b.wait_for(
        "the expired page",
        "return document.body.innerText.includes('expired')",
    );
    // What the browser was answered, not only what the page says.
    let status = b.eval("return performance.getEntriesByType('navigation')[0].responseStatus");
    assert_eq!(status, 410, "the page of an expired drop");
    for url in [&d.url, &d.raw_url] {
        let answer = reqwest::blocking::get(url.as_str()).unwrap();
        assert_eq!(answer.status().as_u16(), 410, "{url}");
    }
    b.screenshot("page-expired");
}

#[test]
fn an_uploading_drop_turns_into_the_viewer_when_its_upload_completes() {
    let server = server();
    let c = server.client();
    let data = png(400, 300, 1.0);
    let d = rt()
        .block_on(c.create_drop(&api::CreateDrop {
            name: "arriving.png".into(),
            size: Some(data.len() as u64),
            ..Default::default()
        }))
        .unwrap();
    let b = Browser::start();
    b.goto(&d.url);
    b.wait_for(
        "the uploading page",
        "return document.body.innerText.includes('Uploading')",
    );
    b.screenshot("page-uploading");
    // The upload completes while the page is open.
    let file = temp_file(&data);
    rt().block_on(dropcast_client::upload_file(
        &c,
        &d,
        file.path(),
        Default::default(),
    ))
    .unwrap();
    let width = b.wait_for(
        "the viewer",
        "const i = document.querySelector('img[data-zoomable]'); \
         return i && i.complete && i.naturalWidth",
    );
    assert_eq!(width, 400);
}

#[test]
fn text_and_file_pages_render() {
    let server = server();
    let b = Browser::start();
    let d = share(
        &server,
        named("notes.txt"),
        b"Line one\nLine two <i>not italic</i>\n",
    );
    b.goto(&d.url);
    let text = b.wait_for(
        "the preview",
        "const p = document.querySelector('pre'); return p && p.innerText",
    );
    assert!(
        text.as_str().unwrap().contains("<i>not italic</i>"),
        "{text}"
    );
    b.screenshot("page-text");
    let d = share(&server, named("archive.bin"), &bytes(20_000, 5));
    b.goto(&d.url);
    b.wait_for(
        "the file card",
        "return document.body.innerText.includes('archive.bin')",
    );
    b.screenshot("page-file");
}

#[test]
fn script_in_uploaded_svg_and_html_never_runs_on_our_origin() {
    let server = server();
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>localStorage.setItem('pwned', 'svg'); document.cookie = 'pwned=svg; path=/';</script><rect width="10" height="10"/></svg>"#;
    let html = br#"<!doctype html><html><body><script>localStorage.setItem('pwned', 'html'); document.cookie = 'pwned=html; path=/';</script><p>hello</p></body></html>"#;
    let svg = share(&server, named("evil.svg"), svg);
    let html = share(&server, named("evil.html"), html);
    let b = Browser::start();
    for d in [&svg, &html] {
        for url in [
            d.url.clone(),
            d.raw_url.clone(),
            format!(
                "{}.{}",
                d.url,
                if d.name.ends_with("svg") {
                    "svg"
                } else {
                    "html"
                }
            ),
        ] {
            b.goto(&url);
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    // Back on a page of our origin: nothing was written there.
    b.goto(&svg.url);
    b.wait_for("the page", "return document.readyState === 'complete'");
    assert_eq!(
        b.eval("return localStorage.getItem('pwned')"),
        serde_json::Value::Null
    );
    assert_eq!(b.eval("return document.cookie.includes('pwned')"), false);
    b.screenshot("page-svg-as-file");
}
