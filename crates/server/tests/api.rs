//! End-to-end tests of the drop server: the real binary over real HTTP,
//! real SQLite and real files.

mod support;

use bytes::Bytes;
use dropcast_api::{self as api, Crc64, ErrorCode, PartToSend};
use dropcast_client::{upload_file, UploadOptions};
use futures_util::future::join_all;
use support::cases::*;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn fifty_mib_in_six_parallel_out_of_order_parts_comes_back_identical_and_in_ranges() {
    let server = start();
    let c = server.client();
    let data = bytes(50 * MIB, 1);
    let part = data.len().div_ceil(6);
    let d = c
        .create_drop(&new_drop("big.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    assert_eq!(d.status, api::DropStatus::Uploading);
    let chunk = |n: u32| &data[(n as usize - 1) * part..(n as usize * part).min(data.len())];

    // Out of order, all six at once.
    let order = [4u32, 1, 6, 2, 5, 3];
    let urls = c
        .part_urls(
            &d.id,
            order.iter().map(|&n| PartToSend::of(n, chunk(n))).collect(),
        )
        .await
        .unwrap();
    let sent = join_all(
        urls.iter()
            .map(|u| c.put_part(u, Bytes::copy_from_slice(chunk(u.number)))),
    )
    .await;
    let mut etags: Vec<(u32, String)> = order
        .iter()
        .zip(sent)
        .map(|(n, e)| (*n, e.unwrap()))
        .collect();
    // Part 2 retried (as after a lost answer): same bytes, same ETag.
    let again = put(&c, &d.id, 2, chunk(2)).await.unwrap();
    assert_eq!(again, etags.iter().find(|(n, _)| *n == 2).unwrap().1);
    etags.sort();

    let refs: Vec<(u32, &str)> = etags.iter().map(|(n, e)| (*n, e.as_str())).collect();
    let done = c
        .complete(&d.id, &complete_req(&refs, &data))
        .await
        .unwrap();
    assert_eq!(done.status, api::DropStatus::Complete);
    assert_eq!(done.crc64nvme, Some(Crc64::of(&data)));

    let anyone = server.anonymous();
    let got = get_bytes(&anyone, &d.raw_url).await;
    assert!(got == data, "raw bytes differ from what was sent");

    for (range, want) in [
        ("bytes=0-99", &data[..100]),
        ("bytes=8738133-9000000", &data[8738133..=9000000]),
        ("bytes=-4096", &data[data.len() - 4096..]),
        ("bytes=52428000-", &data[52428000..]),
    ] {
        let resp = reqwest::Client::new()
            .get(&d.raw_url)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 206, "{range}");
        let len: usize = resp.headers()["content-length"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, want.len(), "{range}");
        assert!(resp.bytes().await.unwrap() == want, "{range} bytes differ");
    }
    let resp = reqwest::Client::new()
        .get(&d.raw_url)
        .header("range", format!("bytes={}-", data.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{}", data.len()).as_str()
    );
    // Stored: the six parts, nothing else (the retried part replaced its twin).
    assert_eq!(
        files_under(&server.objects().join("drops").join(&d.id)).len(),
        6
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_killed_mid_upload_lists_acknowledged_parts_and_completes_after_restart() {
    let mut server = start();
    let c = server.client();
    let data = bytes(30 * MIB, 2);
    let part = 5 * MIB;
    let d = c
        .create_drop(&new_drop("resume.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let mut acked = Vec::new();
    for n in [1u32, 3, 4] {
        let e = put(
            &c,
            &d.id,
            n,
            &data[(n as usize - 1) * part..n as usize * part],
        )
        .await
        .unwrap();
        acked.push((n, e));
    }
    // Part 2 is on its way, half sent, when the server dies.
    let url = c
        .part_urls(&d.id, vec![PartToSend::of(2, &data[part..2 * part])])
        .await
        .unwrap()
        .remove(0);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let half = Bytes::copy_from_slice(&data[part..part + part / 2]);
    let inflight = tokio::spawn(
        reqwest::Client::new()
            .put(&url.url)
            .header(api::CHECKSUM_HEADER, &url.headers[api::CHECKSUM_HEADER])
            .header("content-length", part)
            .body(reqwest::Body::wrap_stream(tokio_stream_from(rx)))
            .send(),
    );
    tx.send(Ok(half)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.kill9();
    drop(tx);
    let _ = inflight.await; // failed or not, its part was never acknowledged
    server.restart();

    let stored = c.stored_parts(&d.id).await.unwrap();
    let listed: Vec<(u32, String)> = stored.iter().map(|p| (p.number, p.etag.clone())).collect();
    assert_eq!(listed, acked, "exactly the acknowledged parts survive");

    // The client resumes: it sends only what is missing.
    let file = temp_file(&data);
    let d = c.drop_info(&d.id).await.unwrap();
    let done = upload_file(
        &c,
        &d,
        file.path(),
        UploadOptions {
            part_size: Some(part as u64),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(done.status, api::DropStatus::Complete);
    assert!(get_bytes(&c, &d.raw_url).await == data);
}

/// A byte stream fed from a channel, for a request body sent in steps.
fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test(flavor = "multi_thread")]
async fn users_cannot_see_list_change_delete_or_upload_to_each_others_drops() {
    users_stay_apart(&start()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_inputs_each_get_their_error_code() {
    bad_inputs_get_their_codes(&start()).await;
}

/// The OpenAPI document is the contract: schemathesis (PyPI, pinned)
/// makes requests from the document the server serves, valid and not,
/// and every answer must be one the document gives for that operation,
/// with its content type, headers and schema; a request the schema
/// refuses must be refused, no operation may ignore its token, and none
/// may answer 5xx. Bounded (30 examples an operation, a fixed seed) and on
/// loopback; `tests/schemathesis.toml` says which checks do not apply.
#[test]
fn the_api_answers_exactly_as_its_openapi_document_says() {
    // The failed-request limits are lifted: the run makes hundreds of
    // 404s a minute on purpose.
    let server = start_with(&[
        ("DROPCAST_ABUSE_THRESHOLD", "0"),
        ("DROPCAST_ABUSE_THRESHOLD_SIGNED_IN", "0"),
    ]);
    let work = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(venv_tool("schemathesis", "schemathesis"))
        .current_dir(work.path())
        .arg("--no-color")
        .arg("--config-file")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/schemathesis.toml"
        ))
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", server.url))
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", server.owner_token))
        .args(["--checks", "all", "--max-examples", "30", "--seed", "1"])
        // See schemathesis.toml: acceptance depends on state the schema
        // cannot say.
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["--workers", "1", "--request-timeout", "20"])
        .output()
        .expect("running schemathesis");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the server answered otherwise than its document says:\n{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(" passed"), "{said}");
}

/// Every refusal is the API's JSON error with a stable code, even those
/// the HTTP layer makes before any handler runs.
#[tokio::test(flavor = "multi_thread")]
async fn rejections_before_any_handler_are_json_errors_too() {
    let server = start();
    let c = server.client();
    let d = c.create_drop(&new_drop("x.bin", Some(10))).await.unwrap();
    let http = reqwest::Client::new();
    let json_error = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let kind = r.headers()["content-type"].to_str().unwrap().to_string();
        let allow = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let body: serde_json::Value = r.json().await.expect("a JSON body");
        assert!(kind.starts_with("application/json"), "{kind}");
        let code = body["error"]["code"].as_str().unwrap().to_string();
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
        (status, code, allow)
    };
    // A part PUT without its signature's query string.
    let r = http
        .put(format!("{}/api/v1/drops/{}/parts/1", server.url, d.id))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(r).await, (400, "invalid_input".into(), None));
    // A part number that is not a number.
    let r = http
        .put(format!(
            "{}/api/v1/drops/{}/parts/one?expires=1&sig=x",
            server.url, d.id
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(r).await.1, "invalid_input");
    // A method the path does not take: 405, saying which it takes.
    let r = http
        .put(format!("{}/api/v1/drops", server.url))
        .send()
        .await
        .unwrap();
    let (status, code, allow) = json_error(r).await;
    assert_eq!((status, code.as_str()), (405, "method_not_allowed"));
    let allow = allow.expect("an Allow header");
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    // A poster over the body limit.
    let r = http
        .put(format!("{}/api/v1/drops/{}/poster", server.url, d.id))
        .bearer_auth(&server.owner_token)
        .header("content-type", "image/png")
        .body(vec![0u8; 17 << 20])
        .send()
        .await
        .unwrap();
    // Its body was not read to the end: the connection is not reused.
    assert_eq!(
        r.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    assert_eq!(json_error(r).await, (413, "too_large".into(), None));
    // A list page with a limit that is not a number.
    let r = http
        .get(format!("{}/api/v1/drops?limit=many", server.url))
        .bearer_auth(&server.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(json_error(r).await.1, "invalid_input");
}

#[tokio::test(flavor = "multi_thread")]
async fn limits_from_the_environment_apply_expired_urls_and_oversized_files() {
    let server = start_with(&[
        ("DROPCAST_PART_URL_TTL", "0"),
        ("DROPCAST_MAX_ONESHOT_SIZE", "1000"),
        ("DROPCAST_MAX_PART_SIZE", "6000000"),
        ("DROPCAST_PART_SIZE", "5242880"),
    ]);
    let c = server.client();
    let d = c.create_drop(&new_drop("x.bin", None)).await.unwrap();
    assert_eq!(d.upload.unwrap().max_part_size, 6_000_000);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let url = c
        .part_urls(&d.id, vec![PartToSend::of(1, b"x")])
        .await
        .unwrap()
        .remove(0);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let e = c
        .put_part(&url, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert_eq!(code(e), (403, ErrorCode::UrlExpired, vec![]));

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes(1001, 5)).file_name("big.bin"),
    );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/upload", server.url))
        .bearer_auth(&server.owner_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    // The refused file left nothing behind.
    assert!(c.list_drops(None, 10).await.unwrap().drops.len() == 1);
    assert!(files_under(&server.objects().join("drops")).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_parts_are_refused_without_storing_them() {
    let server = start_with(&[
        ("DROPCAST_MAX_PART_SIZE", "6000000"),
        ("DROPCAST_PART_SIZE", "5242880"),
    ]);
    let c = server.client();
    let d = c.create_drop(&new_drop("x.bin", None)).await.unwrap();
    let e = put(&c, &d.id, 1, &bytes(6_000_001, 6)).await.unwrap_err();
    assert_eq!(code(e), (413, ErrorCode::TooLarge, vec![1]));
    // Sent without a length up front: refused when the limit is crossed.
    let url = c
        .part_urls(&d.id, vec![PartToSend::of(1, b"x")])
        .await
        .unwrap()
        .remove(0);
    let chunks: Vec<Result<Bytes, std::io::Error>> = (0..7)
        .map(|i| Ok(Bytes::from(bytes(1_000_000, i))))
        .collect();
    let resp = reqwest::Client::new()
        .put(&url.url)
        .header(api::CHECKSUM_HEADER, &url.headers[api::CHECKSUM_HEADER])
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert!(c.stored_parts(&d.id).await.unwrap().is_empty());
    assert!(files_under(&server.objects()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_upload_answers_links_and_its_delete_url_deletes_only_with_its_token() {
    let server = start();
    let png = [&b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..], &bytes(500, 7)[..]].concat();
    let html = b"<!doctype html><script>document.title='pwned'</script>".to_vec();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("looks-like.txt")
                .mime_str("text/plain")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(html.clone())
                .file_name("page.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/upload", server.url))
        .bearer_auth(&server.owner_token)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let up: api::UploadResponse = resp.json().await.unwrap();
    assert_eq!(up.files.len(), 2);
    let (img, page) = (&up.files[0], &up.files[1]);
    assert_eq!(img.content_type, "image/png", "decided by the bytes");
    assert_eq!(page.content_type, "text/html");
    assert!(img.url.ends_with(&img.id) && img.raw_url.ends_with("/raw"));
    assert!(!img.delete_url.contains(&server.owner_token));

    let http = reqwest::Client::new();
    let r = http.get(&img.raw_url).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline"),
        "an image under a harmless name is shown inline"
    );
    let r = http.get(&page.raw_url).send().await.unwrap();
    let h = r.headers();
    assert_eq!(h["content-type"], "text/html");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox"));
    assert!(r.bytes().await.unwrap() == html);
    // The pretty URL serves the same bytes.
    let r = http.get(format!("{}.png", img.url)).send().await.unwrap();
    assert!(r.bytes().await.unwrap() == png);

    // Delete link: a wrong token is "not found"; GET only asks; POST deletes.
    let wrong = format!("{}/{}/delete?token=dc_wrong", server.url, img.id);
    assert_eq!(http.post(&wrong).send().await.unwrap().status(), 404);
    let page_resp = http.get(&img.delete_url).send().await.unwrap();
    assert_eq!(page_resp.status(), 200);
    assert!(page_resp
        .text()
        .await
        .unwrap()
        .contains("<form method=post>"));
    assert_eq!(http.get(&img.raw_url).send().await.unwrap().status(), 200);
    assert_eq!(
        http.post(&img.delete_url).send().await.unwrap().status(),
        200
    );
    assert_eq!(http.get(&img.raw_url).send().await.unwrap().status(), 404);
    assert!(!server.objects().join("drops").join(&img.id).exists());
    assert_eq!(http.get(&page.raw_url).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn drops_list_newest_first_in_cursor_pages() {
    let server = start();
    let c = server.client();
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(
            c.create_drop(&new_drop(&format!("{i}.png"), None))
                .await
                .unwrap(),
        );
        if i % 2 == 0 {
            // Some drops a few ms apart, some (likely) within the same ms.
            std::thread::sleep(std::time::Duration::from_millis(3));
        }
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = c.list_drops(cursor.as_deref(), 2).await.unwrap();
        assert!(page.drops.len() <= 2);
        seen.extend(page.drops);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Every drop once, newest first (drops made in the same millisecond are
    // simultaneous; they come in a fixed order by id).
    let key = |d: &api::Drop| (d.created_at, d.id.clone());
    let mut want: Vec<_> = created.iter().map(key).collect();
    want.sort();
    want.reverse();
    let got: Vec<_> = seen.iter().map(key).collect();
    assert_eq!(got, want);
    // The newest and the oldest, or one made in the same millisecond.
    assert_eq!(created.last().unwrap().created_at, seen[0].created_at);
    assert_eq!(created[0].created_at, seen.last().unwrap().created_at);
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_ids_hand_out_links_before_any_upload_and_only_once() {
    let server = start();
    let a = server.client();
    let b = server.new_user("bob");
    let res = a.reserve(3).await.unwrap();
    assert_eq!(res.len(), 3);
    assert!(res[0].url.ends_with(&res[0].id));
    // Reserved ids are not drops yet.
    assert!(a.list_drops(None, 10).await.unwrap().drops.is_empty());
    assert_eq!(
        code(a.drop_info(&res[0].id).await.unwrap_err()).1,
        ErrorCode::NotFound
    );

    let create = |id: &str| api::CreateDrop {
        id: Some(id.into()),
        ..new_drop("shot.png", None)
    };
    let d = a.create_drop(&create(&res[0].id)).await.unwrap();
    assert_eq!(d.id, res[0].id);
    assert_eq!(
        d.url, res[0].url,
        "the link handed out early is the drop's link"
    );
    assert_eq!(
        code(a.create_drop(&create(&res[0].id)).await.unwrap_err()).1,
        ErrorCode::Conflict
    );
    assert_eq!(
        code(b.create_drop(&create(&res[1].id)).await.unwrap_err()).1,
        ErrorCode::NotFound
    );
    assert_eq!(
        code(a.create_drop(&create("made-up-id12")).await.unwrap_err()).1,
        ErrorCode::NotFound
    );
    assert_eq!(
        code(a.reserve(0).await.unwrap_err()).1,
        ErrorCode::InvalidInput
    );
    assert_eq!(
        code(a.reserve(100_000).await.unwrap_err()).1,
        ErrorCode::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reservations_expire() {
    let server = start_with(&[("DROPCAST_RESERVATION_TTL", "1")]);
    let c = server.client();
    let res = c.reserve(1).await.unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let e = c
        .create_drop(&api::CreateDrop {
            id: Some(res[0].id.clone()),
            ..new_drop("late.png", None)
        })
        .await
        .unwrap_err();
    assert_eq!(code(e), (410, ErrorCode::ReservationExpired, vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_trades_a_password_for_a_token_and_revoked_tokens_stop_working() {
    let server = start();
    server.admin(
        &["user", "add", "carol", "--password-stdin"],
        Some("hunter22 horse\n"),
    );
    let anon = server.anonymous();
    let issued = anon
        .login("carol", "hunter22 horse", "laptop")
        .await
        .unwrap();
    assert_eq!(issued.user.name, "carol");
    let carol = anon.with_token(Some(issued.token.clone()));
    assert_eq!(carol.me().await.unwrap().name, "carol");
    assert_eq!(
        code(
            anon.login("carol", "hunter22 horsE", "x")
                .await
                .unwrap_err()
        ),
        (401, ErrorCode::InvalidCredentials, vec![])
    );
    assert_eq!(
        code(
            anon.login("nobody", "hunter22 horse", "x")
                .await
                .unwrap_err()
        )
        .1,
        ErrorCode::InvalidCredentials
    );
    let list = server.admin(&["token", "list", "carol"], None);
    let tokens = list["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "user add and login each made one");
    assert!(
        !list.to_string().contains(&issued.token),
        "tokens are never listed"
    );
    server.admin(&["token", "revoke", &issued.token_id], None);
    assert_eq!(
        code(carol.me().await.unwrap_err()).1,
        ErrorCode::Unauthorized
    );
    // The database holds no token in the clear.
    let db = server.database_contents();
    assert!(db.windows(5).any(|w| w == b"carol"), "it holds the users");
    assert!(!db
        .windows(issued.token.len())
        .any(|w| w == issued.token.as_bytes()));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_changes_title_expiry_and_visibility_and_expired_drops_answer_410() {
    let server = start();
    let c = server.client();
    let data = b"short lived".to_vec();
    let d = c.create_drop(&new_drop("a.txt", None)).await.unwrap();
    let e = put(&c, &d.id, 1, &data).await.unwrap();
    c.complete(&d.id, &complete_req(&[(1, &e)], &data))
        .await
        .unwrap();

    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    let upd = api::UpdateDrop {
        title: Some(Some("Hello".into())),
        expires_at: Some(Some(soon)),
        visibility: Some(api::Visibility::Private),
        ..Default::default()
    };
    let d2 = c.update_drop(&d.id, &upd).await.unwrap();
    assert_eq!(d2.title.as_deref(), Some("Hello"));
    assert_eq!(d2.visibility, api::Visibility::Private);
    assert!(d2.expires_at.is_some());
    assert_eq!(
        server.anonymous().get(&d.raw_url).await.unwrap_err().code(),
        Some(ErrorCode::NotFound)
    );
    // A change with one bad value changes nothing, not even the good ones.
    let half_bad: api::UpdateDrop =
        serde_json::from_str(r#"{"title":"Changed","password":""}"#).unwrap();
    assert_eq!(
        code(c.update_drop(&d.id, &half_bad).await.unwrap_err()).0,
        400
    );
    let unchanged = c.drop_info(&d.id).await.unwrap();
    assert_eq!(unchanged.title.as_deref(), Some("Hello"));
    // Clearing the title leaves the rest.
    let d3 = c
        .update_drop(&d.id, &serde_json::from_str(r#"{"title":null}"#).unwrap())
        .await
        .unwrap();
    assert_eq!(d3.title, None);
    assert_eq!(d3.visibility, api::Visibility::Private);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(
        code(c.get(&d.raw_url).await.unwrap_err()),
        (410, ErrorCode::Expired, vec![])
    );
    let past = api::UpdateDrop {
        expires_at: Some(Some(
            time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        )),
        ..Default::default()
    };
    assert_eq!(
        code(c.update_drop(&d.id, &past).await.unwrap_err()).1,
        ErrorCode::InvalidInput
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_the_bytes_and_the_metadata_and_aborts_uploads() {
    let server = start();
    let c = server.client();
    let data = bytes(1000, 9);
    let done = c.create_drop(&new_drop("a.bin", None)).await.unwrap();
    let e = put(&c, &done.id, 1, &data).await.unwrap();
    c.complete(&done.id, &complete_req(&[(1, &e)], &data))
        .await
        .unwrap();
    let wip = c.create_drop(&new_drop("b.bin", None)).await.unwrap();
    put(&c, &wip.id, 1, &data).await.unwrap();
    assert_eq!(server.stored(), 2, "the complete file and the upload");
    for d in [&done, &wip] {
        c.delete_drop(&d.id).await.unwrap();
        assert_eq!(
            code(c.drop_info(&d.id).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
        assert_eq!(
            code(c.delete_drop(&d.id).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
    }
    assert_eq!(server.stored(), 0);
    assert_eq!(
        code(server.anonymous().get(&done.raw_url).await.unwrap_err()).1,
        ErrorCode::NotFound
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn etags_answer_304_and_unknown_size_drops_complete() {
    let server = start();
    let c = server.client();
    let data = bytes(6 * MIB + 3, 10);
    let d = c.create_drop(&new_drop("rec.mp4", None)).await.unwrap();
    assert_eq!(d.size, None, "a screencast still recording has no size yet");
    let file = temp_file(&data);
    let done = upload_file(
        &c,
        &d,
        file.path(),
        UploadOptions {
            part_size: Some(5 * MIB as u64),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(done.size, Some(data.len() as u64));
    let http = reqwest::Client::new();
    let r = http.get(&d.raw_url).send().await.unwrap();
    let etag = r.headers()["etag"].clone();
    assert_eq!(
        r.headers()["content-length"],
        data.len().to_string().as_str()
    );
    let r = http
        .get(&d.raw_url)
        .header("if-none-match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    assert!(r.bytes().await.unwrap().is_empty());
    // If-Range with a stale validator gets the whole file.
    let r = http
        .get(&d.raw_url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"stale\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // HEAD tells the size without the body.
    let r = http.head(&d.raw_url).send().await.unwrap();
    assert_eq!(
        r.headers()["content-length"],
        data.len().to_string().as_str()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_and_health_are_served() {
    let server = start();
    let r = reqwest::get(format!("{}/api/v1/openapi.json", server.url))
        .await
        .unwrap();
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/drops",
        "/api/v1/drops/{id}/parts",
        "/api/v1/drops/{id}/parts/{number}",
        "/api/v1/drops/{id}/complete",
        "/api/v1/upload",
        "/api/v1/auth/login",
        "/{id}/raw",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["ErrorCode"].is_object());
    // Its limits are this server's (DROPCAST_MAX_RESERVE and the rest).
    assert_eq!(
        doc["components"]["schemas"]["ReserveRequest"]["properties"]["count"]["maximum"],
        100
    );
    // Every error status says its codes.
    let not_found = &doc["paths"]["/api/v1/drops/{id}"]["get"]["responses"]["404"];
    assert!(
        not_found["description"]
            .as_str()
            .unwrap()
            .contains("`not_found`"),
        "{not_found}"
    );

    // The router is built from the documented handlers, so no route is
    // missing from the document; the other way round, every documented
    // operation reaches a handler, and what the document lacks does not.
    let http = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = format!(
            "{}{}",
            server.url,
            path.replace("{id}", "NoSuchDrop")
                .replace("{number}", "1")
                .replace("{name}", "dropcast.css")
        );
        for (method, _) in item.as_object().unwrap() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = http.request(method.clone(), &url).send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap();
            assert!(
                status != 405 && !body.contains("no such endpoint"),
                "{method} {path}: {status} {body}"
            );
            operations += 1;
        }
    }
    assert!(operations >= 28, "{operations} operations");
    for (method, path) in [("GET", "/api/v1/nothing"), ("DELETE", "/api/v1/me")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = http
            .request(method, format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert!([404, 405].contains(&r.status().as_u16()), "{path}");
    }

    let h: api::Health = reqwest::get(format!("{}/healthz", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h.status, "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn parts_left_out_of_complete_are_dropped_and_not_served() {
    let server = start();
    let c = server.client();
    let first = bytes(5 * MIB, 11);
    let stray = bytes(100, 12);
    let d = c.create_drop(&new_drop("a.bin", None)).await.unwrap();
    let e1 = put(&c, &d.id, 1, &first).await.unwrap();
    put(&c, &d.id, 3, &stray).await.unwrap();
    let done = c
        .complete(&d.id, &complete_req(&[(1, &e1)], &first))
        .await
        .unwrap();
    assert_eq!(done.size, Some(first.len() as u64));
    assert!(get_bytes(&c, &d.raw_url).await == first);
    // A complete drop has no upload left to resume.
    assert!(c.stored_parts(&d.id).await.unwrap().is_empty());
    assert_eq!(
        files_under(&server.objects().join("drops").join(&d.id)).len(),
        1
    );
    // A retried complete (its answer lost) gives the same drop again.
    let again = c
        .complete(&d.id, &complete_req(&[(1, &e1)], &first))
        .await
        .unwrap();
    assert_eq!(again.crc64nvme, done.crc64nvme);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_or_replayed_part_cannot_change_a_complete_drop() {
    let server = start();
    let c = server.client();
    let data = bytes(5 * MIB + 10, 13);
    let d = c.create_drop(&new_drop("a.bin", None)).await.unwrap();
    // URLs handed out before completion stay signed until they expire.
    let urls = c
        .part_urls(
            &d.id,
            vec![
                PartToSend::of(1, &data[..5 * MIB]),
                PartToSend::of(2, &data[5 * MIB..]),
            ],
        )
        .await
        .unwrap();
    let e1 = c
        .put_part(&urls[0], Bytes::copy_from_slice(&data[..5 * MIB]))
        .await
        .unwrap();
    let e2 = c
        .put_part(&urls[1], Bytes::copy_from_slice(&data[5 * MIB..]))
        .await
        .unwrap();
    c.complete(&d.id, &complete_req(&[(1, &e1), (2, &e2)], &data))
        .await
        .unwrap();
    for (url, body) in [
        (&urls[0], bytes(5 * MIB, 14)),
        (&urls[1], data[5 * MIB..].to_vec()),
    ] {
        let e = c.put_part(url, Bytes::from(body)).await.unwrap_err();
        assert_eq!(code(e).1, ErrorCode::Conflict);
    }
    assert!(get_bytes(&server.anonymous(), &d.raw_url).await == data);
    assert_eq!(
        files_under(&server.objects().join("drops").join(&d.id)).len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_ids_are_not_found_and_never_redirected_elsewhere() {
    let server = start();
    // No redirect is followed: none may happen (a 416 is answered before
    // any redirect to the bucket, too).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for path in [
        "/%2F3627733390",
        "/%2F%2Fevil.example",
        "/a%20b/raw",
        "/..%2F..%2Fetc/raw",
    ] {
        let r = http
            .get(format!("{}{path}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
        assert!(r.headers().get("location").is_none(), "{path}");
    }
    // A well-formed unknown id gets the "nothing here" page, no redirect.
    let r = http
        .get(format!("{}/AAAAAAAAAAAA", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers().get("location").is_none());
    assert!(r.text().await.unwrap().contains("Nothing here"));
    // A 416 is an API error, labelled as JSON, whatever the file is.
    let data = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR0123456789".to_vec();
    let c = server.client();
    let d = c.create_drop(&new_drop("a.png", None)).await.unwrap();
    let e = put(&c, &d.id, 1, &data).await.unwrap();
    c.complete(&d.id, &complete_req(&[(1, &e)], &data))
        .await
        .unwrap();
    let r = http
        .get(&d.raw_url)
        .header("range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_part_damaged_on_the_wire_is_refused_then_sent_again_and_the_file_arrives_whole() {
    let mut server = start();
    // Part URLs point at a network that damages the first part sent.
    let tamper = Tamper::start(server.port, 1);
    server.restart_with(&[("DROPCAST_PUBLIC_URL", &tamper.url())]);
    let c = server.client();
    let data = bytes(12 * MIB, 20);
    let d = c
        .create_drop(&new_drop("d.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let file = temp_file(&data);
    let opts = UploadOptions {
        part_size: Some(5 * MIB as u64),
        ..Default::default()
    };
    let done = upload_file(&c, &d, file.path(), opts.clone())
        .await
        .unwrap();
    assert_eq!(tamper.damaged(), 1);
    assert_eq!(done.crc64nvme, Some(Crc64::of(&data)));
    assert!(get_bytes(&c, &d.raw_url).await == data);

    // Damaged every time: sent twice, then reported, and nothing is stored.
    let small = bytes(1000, 21);
    let d = c
        .create_drop(&new_drop("e.bin", Some(small.len() as u64)))
        .await
        .unwrap();
    tamper.damage_next(usize::MAX);
    let before = tamper.damaged();
    let file = temp_file(&small);
    let e = upload_file(&c, &d, file.path(), opts).await.unwrap_err();
    assert_eq!(code(e), (400, ErrorCode::ChecksumMismatch, vec![1]));
    assert_eq!(tamper.damaged() - before, 2, "sent once, then once more");
    assert!(c.stored_parts(&d.id).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_part_url_is_replaced_and_the_part_goes_through() {
    let server = start_with(&[("DROPCAST_PART_URL_TTL", "2")]);
    let c = server.client();
    let data = bytes(1000, 22);
    let d = c.create_drop(&new_drop("late.bin", None)).await.unwrap();
    let part = PartToSend::of(1, &data);
    let stale = c.part_urls(&d.id, vec![part]).await.unwrap().remove(0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let e = c
        .put_part(&stale, Bytes::copy_from_slice(&data))
        .await
        .unwrap_err();
    assert_eq!(code(e).1, ErrorCode::UrlExpired);
    let etag = c
        .send_part(&d.id, part, Bytes::copy_from_slice(&data), Some(stale), 3)
        .await
        .unwrap();
    c.complete(&d.id, &complete_req(&[(1, &etag)], &data))
        .await
        .unwrap();
    assert!(get_bytes(&c, &d.raw_url).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_changed_since_its_parts_were_stored_has_those_parts_sent_again() {
    let server = start();
    let c = server.client();
    let old = bytes(3 * MIB, 40);
    let d = c
        .create_drop(&new_drop("changing.bin", Some(old.len() as u64)))
        .await
        .unwrap();
    // Two parts stored from the file as it was.
    put(&c, &d.id, 1, &old[..MIB]).await.unwrap();
    put(&c, &d.id, 2, &old[MIB..2 * MIB]).await.unwrap();
    let stored = c.stored_parts(&d.id).await.unwrap();
    assert_eq!(stored[1].crc64nvme, Some(Crc64::of(&old[MIB..2 * MIB])));
    // Then part 2 changes, keeping its length, before the upload resumes.
    let mut new = old.clone();
    new[MIB + 5] ^= 0xff;
    let file = temp_file(&new);
    let opts = UploadOptions {
        part_size: Some(MIB as u64),
        ..Default::default()
    };
    let done = upload_file(&c, &d, file.path(), opts).await.unwrap();
    assert_eq!(done.crc64nvme, Some(Crc64::of(&new)));
    assert!(get_bytes(&server.anonymous(), &done.raw_url).await == new);
}

/// `promtool check metrics` on `text`: its complaints, if any.
fn promtool(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (Debian's prometheus, which `cargo xtask test` installs)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The value of the sample `name{labels}` in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_pass_promtool_and_count_what_was_done() {
    let server = start();
    let c = server.client();
    let get = |path: &str| reqwest::get(format!("{}{path}", server.url));
    let before = get("/metrics").await.unwrap();
    assert_eq!(before.status(), 200);
    assert!(before.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let data = bytes(3 * MIB, 9);
    share_bytes(&c, new_drop("m.bin", Some(data.len() as u64)), &data).await;
    assert_eq!(get("/nosuchdrop").await.unwrap().status(), 404);
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    promtool(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let n =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        n(
            r#"dropcast_http_requests_total{route="/api/v1/drops/{id}/complete",method="POST",status="200"}"#
        ),
        1.0
    );
    assert_eq!(
        n(r#"dropcast_http_requests_total{route="/{id}",method="GET",status="404"}"#),
        1.0
    );
    assert_eq!(
        n(r#"dropcast_http_requests_total{route="/healthz",method="GET",status="200"}"#),
        1.0
    );
    assert!(n(r#"dropcast_http_request_duration_seconds_count{route="/healthz"}"#) >= 1.0);
    // The parts went to this server (locally) or the bucket (on AWS).
    let received = n("dropcast_http_request_bytes_total");
    assert!(on_aws() || received >= data.len() as f64, "{received}");
    assert_eq!(n("dropcast_uploads_open"), 0.0);
    // The drop's events went through the handlers.
    let mut runs = None;
    for _ in 0..100 {
        let text = get("/metrics").await.unwrap().text().await.unwrap();
        runs = sample(&text, r#"dropcast_job_runs_total{job="thumbnail"}"#);
        if runs.is_some_and(|v| v >= 2.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // drop.created and drop.completed.
    assert!(runs.is_some_and(|v| v >= 2.0), "{runs:?}");
    // Downloads count the bytes they send.
    let raw = c
        .drop_info(&c.list_drops(None, 1).await.unwrap().drops[0].id)
        .await
        .unwrap()
        .raw_url;
    assert!(get_bytes(&c, &raw).await == data);
    let text = get("/metrics").await.unwrap().text().await.unwrap();
    if !on_aws() {
        // (On AWS the bucket sends them.)
        assert!(sample(&text, "dropcast_http_response_bytes_total").unwrap() >= data.len() as f64);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_need_their_token_once_one_is_set() {
    let server = start_with(&[("DROPCAST_METRICS_TOKEN", "m3trics")]);
    let url = format!("{}/metrics", server.url);
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 404);
    let wrong = http_client()
        .get(&url)
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let right = http_client()
        .get(&url)
        .bearer_auth("m3trics")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    assert!(right
        .text()
        .await
        .unwrap()
        .contains("dropcast_http_requests_total"));
}
