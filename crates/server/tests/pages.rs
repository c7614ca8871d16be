//! Share pages and the drop lifecycle over real HTTP against the real
//! binary: pages, unfurl tags, thumbnails (events), passwords, view limits,
//! expiry and cleanup, ShareX, and the abuse guard. What a browser does
//! with the pages is in tests/tests/browser.rs.

mod support;

use dropcast_api::{self as api, ErrorCode};
use std::time::Duration;
use support::*;

fn png(width: u32, height: u32, scale: f32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| {
        image::Rgba([(x * 5) as u8, (y * 3) as u8, (x ^ y) as u8, 255])
    });
    dropcast_encode::png(&image, scale).unwrap()
}

fn http() -> reqwest::Client {
    http_client()
}

async fn get(url: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = http().get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

/// The `content` of `<meta property|name="{key}" content="...">`.
fn meta<'a>(html: &'a str, key: &str) -> Option<&'a str> {
    let at = html
        .find(&format!("property=\"{key}\""))
        .or_else(|| html.find(&format!("name=\"{key}\"")))?;
    let rest = &html[at..];
    let start = rest.find("content=\"")? + 9;
    let end = rest[start..].find('"')?;
    Some(&rest[start..start + end])
}

async fn wait_for_thumbnail(c: &dropcast_client::Client, id: &str) -> api::Drop {
    for _ in 0..200 {
        let d = c.drop_info(id).await.unwrap();
        if d.thumbnail_url.is_some() {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no thumbnail for {id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_page_shows_it_at_logical_size_with_unfurl_tags_and_gets_a_thumbnail() {
    let server = start();
    let c = server.client();
    let d = share_bytes(&c, new_drop("shot.png", None), &png(1600, 900, 2.0)).await;
    let page = get(&d.url, None).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    // A 2x capture is shown at half its pixels.
    assert!(html.contains("width=\"800\" height=\"450\""), "{html}");
    assert_eq!(meta(&html, "og:url"), Some(d.url.as_str()));
    assert_eq!(meta(&html, "og:title"), Some("shot.png"));
    assert_eq!(meta(&html, "twitter:card"), Some("summary_large_image"));
    assert!(meta(&html, "og:image").is_some(), "{html}");

    // The thumbnail is made by the event handler, then unfurls use it.
    let d = wait_for_thumbnail(&c, &d.id).await;
    let thumb = get(d.thumbnail_url.as_deref().unwrap(), None).await;
    assert_eq!(thumb.status(), 200);
    // Anyone with the link may see it: a CDN may keep it a while.
    assert_eq!(thumb.headers()["cache-control"], "public, max-age=300");
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (640, 360));
    let html = get(&d.url, None).await.text().await.unwrap();
    assert_eq!(meta(&html, "og:image"), d.thumbnail_url.as_deref());
    assert_eq!(meta(&html, "og:image:width"), Some("640"));
    assert_eq!(meta(&html, "og:image:height"), Some("360"));

    // Views are counted (and reach the database within a few seconds).
    get(&d.url, None).await;
    let views = c.drop_info(&d.id).await.unwrap().views;
    assert!(views >= 3, "{views} views");
    // Assets are embedded and cacheable.
    let css = get(&format!("{}/assets/dropcast.css", server.url), None).await;
    assert_eq!(css.status(), 200);
    assert!(css.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
}

#[tokio::test(flavor = "multi_thread")]
async fn text_and_other_files_get_a_preview_or_a_card_and_html_is_escaped() {
    let server = start();
    let c = server.client();
    let text = b"fn main() {\n    println!(\"<b>hi</b>\");\n}\n";
    let d = share_bytes(&c, new_drop("main.rs", None), text).await;
    let html = get(&d.url, None).await.text().await.unwrap();
    // Escaped (askama writes `&lt;` or `&#60;`), never markup.
    assert!(
        html.contains("&lt;b&gt;hi") || html.contains("&#60;b&#62;hi"),
        "{html}"
    );
    assert!(!html.contains("<b>hi</b>"));
    let evil = api::CreateDrop {
        name: "x.bin".into(),
        title: Some("<script>alert(1)</script>".into()),
        ..Default::default()
    };
    let d = share_bytes(&c, evil, &bytes(5000, 3)).await;
    let html = get(&d.url, None).await.text().await.unwrap();
    assert!(!html.contains("<script>alert(1)"), "the title is escaped");
    assert!(html.contains("Download"));
    // The download link asks for an attachment.
    let raw = get(&format!("{}/raw?download", d.url), None).await;
    assert!(raw.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_uploading_drop_shows_progress_and_its_status_turns_complete() {
    let server = start();
    let c = server.client();
    let data = bytes(12 * MIB, 9);
    let d = c
        .create_drop(&new_drop("big.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let page = get(&d.url, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Uploading") && html.contains(&format!("/{}/status", d.id)));
    let status: serde_json::Value = get(&format!("{}/status", d.url), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "uploading");
    assert_eq!(status["size"], data.len() as u64);
    let file = temp_file(&data);
    dropcast_client::upload_file(&c, &d, file.path(), Default::default())
        .await
        .unwrap();
    let status: serde_json::Value = get(&format!("{}/status", d.url), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "complete");
    assert_eq!(status["received"], data.len() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_guards_page_bytes_and_thumbnail_until_entered() {
    let server = start();
    let c = server.client();
    let create = api::CreateDrop {
        name: "secret.png".into(),
        title: Some("quarterly numbers".into()),
        password: Some(api::Password("open sesame".into())),
        ..Default::default()
    };
    let d = share_bytes(&c, create, &png(64, 64, 1.0)).await;
    assert!(d.protected);
    let page = get(&d.url, None).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("type=\"password\""));
    assert!(
        !html.contains("quarterly"),
        "the title is not shown before the password"
    );
    assert!(meta(&html, "og:image").is_none());
    let raw = get(&d.raw_url, None).await;
    assert_eq!(raw.status(), 401);
    let err: api::ErrorBody = raw.json().await.unwrap();
    assert_eq!(err.error.code, ErrorCode::PasswordRequired);

    let csrf = {
        let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
        html[at..at + 64].to_string()
    };
    let unlock = |password: &'static str| {
        let (url, csrf) = (format!("{}/unlock", d.url), csrf.clone());
        async move {
            http()
                .post(url)
                .form(&[("password", password), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = unlock("sesame?").await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("Wrong password"));
    let right = unlock("open sesame").await;
    assert_eq!(right.status(), 303);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let cookie = cookie.split(';').next().unwrap().to_string();
    let page = get(&d.url, Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("quarterly numbers") && page.contains("<img"));
    assert_eq!(get(&d.raw_url, Some(&cookie)).await.status(), 200);
    // Its thumbnail, once made, is for this browser only: no CDN keeps it.
    let d = wait_for_thumbnail(&c, &d.id).await;
    let thumb = get(d.thumbnail_url.as_deref().unwrap(), Some(&cookie)).await;
    assert_eq!(thumb.status(), 200);
    assert_eq!(thumb.headers()["cache-control"], "private, max-age=300");
    // A grant is for one drop only.
    let other = share_bytes(
        &c,
        api::CreateDrop {
            name: "other.png".into(),
            password: Some(api::Password("x".into())),
            ..Default::default()
        },
        &png(8, 8, 1.0),
    )
    .await;
    let forged = cookie.replace(&d.id, &other.id);
    assert_eq!(get(&other.raw_url, Some(&forged)).await.status(), 401);
    // The owner's token opens it without a password.
    let owned = http()
        .get(&d.raw_url)
        .bearer_auth(&server.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(owned.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drop_limited_to_two_views_is_gone_on_the_third() {
    let server = start();
    let c = server.client();
    let create = api::CreateDrop {
        name: "once.png".into(),
        max_views: Some(2),
        ..Default::default()
    };
    let d = share_bytes(&c, create, &png(32, 32, 1.0)).await;
    for viewer in 0..2 {
        let page = get(&d.url, None).await;
        assert_eq!(page.status(), 200, "viewer {viewer}");
        let cookie = page.headers()["set-cookie"].to_str().unwrap().to_string();
        let cookie = cookie.split(';').next().unwrap().to_string();
        // The viewer's grant loads the image; the bare link does not.
        assert_eq!(get(&d.raw_url, Some(&cookie)).await.status(), 200);
        assert_eq!(get(&d.raw_url, None).await.status(), 401);
    }
    let third = get(&d.url, None).await;
    assert_eq!(third.status(), 410);
    assert!(third.text().await.unwrap().contains("gone"));
    assert_eq!(c.drop_info(&d.id).await.unwrap().views, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_drops_answer_410_and_cleanup_removes_exactly_them_and_stale_uploads() {
    let mut server = start_with(&[("DROPCAST_CLEANUP_INTERVAL", "0")]);
    let drops = server.objects().join("drops");
    // Each drop's parts (and thumbnail) are in a folder of its own.
    let held = || -> Vec<String> {
        std::fs::read_dir(&drops)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    support::cases::cleanup_removes_exactly_the_expired_and_the_stale(&mut server, &held).await;
}

/// How often the webhook handler has run (its figure in /metrics).
async fn webhook_runs(server: &Server) -> f64 {
    let text = get(&format!("{}/metrics", server.url), None)
        .await
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(r#"dropcast_job_runs_total{job="webhook"} "#)?
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

/// Waits until the webhook handler has run `n` times in all.
async fn until_webhook_ran(server: &Server, n: f64) {
    for _ in 0..200 {
        if webhook_runs(server).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the webhook handler did not run {n} times");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_gets_one_signed_payload_per_completed_drop_of_its_owner_only() {
    let server = start_with(&[("DROPCAST_WEBHOOK_PRIVATE_ADDRESSES", "true")]);
    let c = server.client();
    let hook = Receiver::start();
    let set = c
        .set_webhook(&api::SetWebhook {
            url: hook.url.clone(),
            format: api::WebhookFormat::Dropcast,
        })
        .await
        .unwrap();
    let secret = set.secret.expect("the secret, once");
    assert!(secret.starts_with("whsec_"));
    // Read back, the secret is not shown again.
    let shown = c.webhook().await.unwrap();
    assert_eq!(
        (shown.url.as_str(), shown.secret),
        (hook.url.as_str(), None)
    );
    // Another user's drops are not this webhook's business.
    let other = server.new_user("other");
    share_bytes(&other, new_drop("theirs.txt", None), b"theirs").await;

    let d = share_bytes(&c, new_drop("notes.txt", None), b"hello hook").await;
    let got = tokio::task::block_in_place(|| hook.wait_for(1, std::time::Duration::from_secs(20)));
    assert_eq!(got.len(), 1, "{got:?}");
    let delivery = &got[0];
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.header("dropcast-event"), Some("drop.completed"));
    let signature = delivery.header("dropcast-signature").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    api::webhook::verify(&secret, signature, &delivery.body, now, 300).unwrap();
    // A body changed on the way, or the wrong secret, fails.
    let mut tampered = delivery.body.clone();
    tampered[0] ^= 1;
    assert!(api::webhook::verify(&secret, signature, &tampered, now, 300).is_err());
    assert!(api::webhook::verify("whsec_other", signature, &delivery.body, now, 300).is_err());
    let event: api::WebhookEvent = serde_json::from_slice(&delivery.body).unwrap();
    assert_eq!(event.event, "drop.completed");
    assert_eq!(
        delivery.header("dropcast-delivery"),
        Some(event.id.as_str())
    );
    assert_eq!(
        (event.drop.id.as_str(), event.drop.url.as_str()),
        (d.id.as_str(), d.url.as_str())
    );
    assert_eq!(event.drop.size, Some(10));

    // Slack's format, for an incoming webhook's URL.
    c.set_webhook(&api::SetWebhook {
        url: hook.url.clone(),
        format: api::WebhookFormat::Slack,
    })
    .await
    .unwrap();
    share_bytes(&c, new_drop("a<b>.txt", None), b"x").await;
    let got = tokio::task::block_in_place(|| hook.wait_for(2, std::time::Duration::from_secs(20)));
    let slack: serde_json::Value = serde_json::from_slice(&got[1].body).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(
        text.starts_with("New drop: <") && text.contains("|a&lt;b&gt;.txt>"),
        "{text}"
    );

    // Removed, nothing more is sent; a URL that is no URL is refused.
    c.delete_webhook().await.unwrap();
    assert_eq!(code(c.webhook().await.unwrap_err()).0, 404);
    let ran = webhook_runs(&server).await;
    share_bytes(&c, new_drop("quiet.txt", None), b"q").await;
    // Its created and completed events went through the handler.
    until_webhook_ran(&server, ran + 2.0).await;
    let bad = c
        .set_webhook(&api::SetWebhook {
            url: "ftp://example.com/".into(),
            format: api::WebhookFormat::Dropcast,
        })
        .await
        .unwrap_err();
    assert_eq!(code(bad).1, ErrorCode::InvalidInput);
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_webhook_to_a_private_address_is_not_sent_unless_allowed() {
    let server = start();
    let c = server.client();
    let hook = Receiver::start();
    c.set_webhook(&api::SetWebhook {
        url: hook.url.clone(),
        format: api::WebhookFormat::Dropcast,
    })
    .await
    .unwrap();
    share_bytes(&c, new_drop("notes.txt", None), b"hello").await;
    // The handler ran on the drop's events, and sent nothing to loopback.
    until_webhook_ran(&server, 2.0).await;
    assert!(hook.received().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_completion_event_survives_a_restart_and_the_thumbnail_appears_after_it() {
    let mut server = start_with(&[("DROPCAST_WORKER", "false")]);
    let c = server.client();
    let d = share_bytes(&c, new_drop("later.png", None), &png(300, 200, 1.0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(c.drop_info(&d.id).await.unwrap().thumbnail_url.is_none());
    // Stopped between completion and thumbnailing; back with its worker.
    server.kill9();
    server.restart_with(&[("DROPCAST_WORKER", "true")]);
    let d = wait_for_thumbnail(&c, &d.id).await;
    assert_eq!(
        get(d.thumbnail_url.as_deref().unwrap(), None)
            .await
            .status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn broken_images_and_bombs_get_no_thumbnail_and_do_not_stop_the_worker() {
    let server = start();
    let c = server.client();
    let mut broken = png(50, 50, 1.0);
    broken.truncate(broken.len() / 2);
    let broken = share_bytes(&c, new_drop("broken.png", None), &broken).await;
    // A PNG header claiming 60000 x 60000 pixels.
    let mut bomb = png(1, 1, 1.0);
    bomb[16..20].copy_from_slice(&60000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&60000u32.to_be_bytes());
    let bomb = share_bytes(&c, new_drop("bomb.png", None), &bomb).await;
    let fine = share_bytes(&c, new_drop("fine.png", None), &png(20, 20, 1.0)).await;
    wait_for_thumbnail(&c, &fine.id).await;
    assert!(c
        .drop_info(&broken.id)
        .await
        .unwrap()
        .thumbnail_url
        .is_none());
    assert!(c.drop_info(&bomb.id).await.unwrap().thumbnail_url.is_none());
    assert_eq!(
        get(&format!("{}/healthz", server.url), None).await.status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sharex_file_uploads_with_its_own_token_and_deletes_with_a_per_drop_one() {
    let server = start();
    let sxcu: serde_json::Value = http()
        .get(format!("{}/api/v1/sharex.sxcu", server.url))
        .bearer_auth(&server.owner_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sxcu["RequestURL"], format!("{}/api/v1/upload", server.url));
    assert_eq!(sxcu["FileFormName"], "file");
    let auth = sxcu["Headers"]["Authorization"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!auth.contains(&server.owner_token), "a token of its own");
    // Upload as ShareX would.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(10, 10, 1.0)).file_name("sharex.png"),
    );
    let up: serde_json::Value = http()
        .post(sxcu["RequestURL"].as_str().unwrap())
        .header("authorization", &auth)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let delete_url = up["files"][0]["delete_url"].as_str().unwrap();
    assert!(!delete_url.contains(&server.owner_token));
    assert!(!delete_url.contains(auth.trim_start_matches("Bearer ")));
    assert_eq!(sxcu["DeletionURL"], "{json:files[0].delete_url}");
    let deleted = http().post(delete_url).send().await.unwrap();
    assert_eq!(deleted.status(), 200);
    let url = up["files"][0]["url"].as_str().unwrap();
    assert_eq!(get(url, None).await.status(), 404);
    // Without a token there is no file.
    let anon = get(&format!("{}/api/v1/sharex.sxcu", server.url), None).await;
    assert_eq!(anon.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_piling_up_failures_is_answered_429_for_the_cooldown() {
    let server = start_with(&[
        ("DROPCAST_ABUSE_THRESHOLD", "5"),
        ("DROPCAST_ABUSE_COOLDOWN", "2"),
    ]);
    let c = server.client();
    let d = share_bytes(&c, new_drop("ok.bin", None), b"fine").await;
    for i in 0..5 {
        let miss = get(&format!("{}/NoSuchDrop{i}", server.url), None).await;
        assert_eq!(miss.status(), 404);
    }
    let sixth = get(&format!("{}/NoSuchDrop9", server.url), None).await;
    assert_eq!(sixth.status(), 404, "the sixth failure is still answered");
    let blocked = get(&d.raw_url, None).await;
    assert_eq!(blocked.status(), 429, "then even good requests wait");
    assert!(blocked.headers().contains_key("retry-after"));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(get(&d.raw_url, None).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_in_clients_failures_count_against_its_token_and_lock_out_no_one_else() {
    // The default limits: 60 anonymous failures a minute, 600 a token.
    let server = start();
    let ada = server.client();
    let bob = server.new_user("bob");
    let bobs = share_bytes(&bob, new_drop("bobs.bin", None), b"bob's").await;
    // A History refresh after a cleanup: 500 drops gone, all 404, none 429.
    for i in 0..500 {
        let e = ada.drop_info(&format!("GoneDrop{i}")).await.unwrap_err();
        assert_eq!(code(e).0, 404, "lookup {i}");
    }
    // An anonymous client behind the same address is limited as before.
    for i in 0..61 {
        let miss = get(&format!("{}/NoSuchDrop{i}", server.url), None).await;
        assert_eq!(miss.status(), 404, "anonymous failure {i}");
    }
    let blocked = get(&bobs.raw_url, None).await;
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    // A made-up token from there waits too: it is judged by its address.
    let forged = dropcast_client::Client::new(&server.url, Some("dc_madeup".into()));
    assert_eq!(code(forged.me().await.unwrap_err()).0, 429);
    // The users behind that address are served, each on its own budget.
    assert_eq!(ada.me().await.unwrap().name, "owner");
    assert_eq!(bob.drop_info(&bobs.id).await.unwrap().id, bobs.id);
    // Its bytes, to its owner (a redirect to the bucket on S3, followed).
    assert!(bob.get(&bobs.raw_url).await.is_ok());
}

fn test_video(dir: &std::path::Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=320x240:rate=25")
        .args(["-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p"])
        .arg(&path)
        .status()
        .expect("ffmpeg is installed (cargo xtask test installs it)");
    assert!(made.success());
    std::fs::read(path).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_video_gets_its_first_frame_or_the_poster_its_client_sent_as_thumbnail() {
    let server = start();
    let c = server.client();
    let dir = tempfile::tempdir().unwrap();
    let video = test_video(dir.path());
    let d = share_bytes(&c, new_drop("clip.mp4", None), &video).await;
    let d = wait_for_thumbnail(&c, &d.id).await;
    let thumb = get(d.thumbnail_url.as_deref().unwrap(), None).await;
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (thumb.width(), thumb.height()),
        (320, 240),
        "ffmpeg's first frame"
    );
    let html = get(&d.url, None).await.text().await.unwrap();
    assert_eq!(meta(&html, "og:type"), Some("video.other"));
    assert_eq!(meta(&html, "og:video"), Some(d.raw_url.as_str()));
    assert_eq!(meta(&html, "og:video:width"), Some("320"));
    assert!(html.contains(&format!("poster=\"/{}/thumb.png\"", d.id)));

    // A poster sent by the client (a screencast's) is kept.
    let second = c
        .create_drop(&new_drop("rec.mp4", Some(video.len() as u64)))
        .await
        .unwrap();
    let poster = http()
        .put(format!("{}/api/v1/drops/{}/poster", server.url, second.id))
        .bearer_auth(&server.owner_token)
        .body(png(160, 90, 1.0))
        .send()
        .await
        .unwrap();
    assert_eq!(poster.status(), 200);
    let file = temp_file(&video);
    dropcast_client::upload_file(&c, &second, file.path(), Default::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = c.drop_info(&second.id).await.unwrap();
    let thumb = get(second.thumbnail_url.as_deref().unwrap(), None).await;
    let thumb = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!(
        (thumb.width(), thumb.height()),
        (160, 90),
        "the poster stays"
    );
    // Not an image: refused with a reason.
    let bad = http()
        .put(format!("{}/api/v1/drops/{}/poster", server.url, second.id))
        .bearer_auth(&server.owner_token)
        .body("not an image")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_default_expiry_applies_to_drops_that_set_none() {
    let server = start_with(&[("DROPCAST_DEFAULT_EXPIRY", "3600")]);
    let c = server.client();
    let before = time::OffsetDateTime::now_utc();
    let d = c.create_drop(&new_drop("a.bin", Some(10))).await.unwrap();
    let expires = d.expires_at.expect("a default expiry");
    let hour = (expires - before).whole_seconds();
    assert!((3590..=3610).contains(&hour), "{hour} s");
    // One that says when it expires keeps its own.
    let own = time::OffsetDateTime::now_utc() + Duration::from_secs(60);
    let d = c
        .create_drop(&api::CreateDrop {
            name: "b.bin".into(),
            expires_at: Some(own),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!((d.expires_at.unwrap() - own).whole_seconds().abs() <= 1);
    // A one-shot upload (ShareX's) sets none either.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"shared by ShareX".to_vec()).file_name("x.txt"),
    );
    let up: api::UploadResponse = reqwest::Client::new()
        .post(format!("{}/api/v1/upload", server.url))
        .bearer_auth(&server.owner_token)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oneshot = c.drop_info(&up.files[0].id).await.unwrap();
    let hour = (oneshot.expires_at.expect("a default expiry") - before).whole_seconds();
    assert!((3590..=3610).contains(&hour), "{hour} s");
    // A view-limited drop's uploading page may poll its progress.
    let limited = c
        .create_drop(&api::CreateDrop {
            name: "c.bin".into(),
            size: Some(10),
            max_views: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        get(&format!("{}/status", limited.url), None).await.status(),
        200
    );
}
