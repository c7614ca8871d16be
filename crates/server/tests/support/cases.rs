//! Test bodies shared by test files, such as the cleanup test, which
//! `pages.rs` and `aws_local.rs` each run with their own way of looking at
//! what the backend holds. (`api.rs` and `pages.rs` as a whole also run on
//! both backends: see `on_aws`.)

use super::*;
use bytes::Bytes;
use dropcast_api::{self as api, Crc64, ErrorCode, PartToSend};
use dropcast_client::Client;

/// Sends `data` as part `n` of drop `id`.
pub async fn put(
    c: &Client,
    id: &str,
    n: u32,
    data: &[u8],
) -> Result<String, dropcast_client::Error> {
    let url = c
        .part_urls(id, vec![PartToSend::of(n, data)])
        .await?
        .remove(0);
    c.put_part(&url, Bytes::copy_from_slice(data)).await
}

pub fn complete_req(parts: &[(u32, &str)], data: &[u8]) -> api::CompleteRequest {
    api::CompleteRequest {
        parts: parts
            .iter()
            .map(|(n, e)| api::CompletePart {
                number: *n,
                etag: e.to_string(),
            })
            .collect(),
        size: data.len() as u64,
        crc64nvme: Crc64::of(data),
    }
}

/// What one user can never do to another's drops, on any backend.
pub async fn users_stay_apart(server: &Server) {
    let a = server.client();
    let b = server.new_user("bea");
    let private = a
        .create_drop(&api::CreateDrop {
            visibility: Some(api::Visibility::Private),
            ..new_drop("secret.txt", None)
        })
        .await
        .unwrap();
    let data = b"for a's eyes only".to_vec();
    let e = put(&a, &private.id, 1, &data).await.unwrap();
    a.complete(&private.id, &complete_req(&[(1, &e)], &data))
        .await
        .unwrap();
    let uploading = a.create_drop(&new_drop("wip.bin", None)).await.unwrap();

    for id in [&private.id, &uploading.id] {
        assert_eq!(
            code(b.drop_info(id).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
        let upd = api::UpdateDrop {
            title: Some(Some("mine now".into())),
            ..Default::default()
        };
        assert_eq!(
            code(b.update_drop(id, &upd).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
        assert_eq!(
            code(b.delete_drop(id).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
        assert_eq!(
            code(
                b.part_urls(id, vec![PartToSend::of(1, b"x")])
                    .await
                    .unwrap_err()
            )
            .1,
            ErrorCode::NotFound
        );
        assert_eq!(
            code(b.stored_parts(id).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
        let req = complete_req(&[(1, &e)], &data);
        assert_eq!(
            code(b.complete(id, &req).await.unwrap_err()).1,
            ErrorCode::NotFound
        );
    }
    assert!(b.list_drops(None, 50).await.unwrap().drops.is_empty());
    // A private drop's bytes: not for B, not for anyone without a token.
    for who in [&b, &server.anonymous()] {
        assert_eq!(
            code(who.get(&private.raw_url).await.unwrap_err()),
            (404, ErrorCode::NotFound, vec![])
        );
    }
    assert!(get_bytes(&a, &private.raw_url).await == data);
    // A part URL of A's drop with its signature bent to another part fails.
    let url = a
        .part_urls(&uploading.id, vec![PartToSend::of(1, b"x")])
        .await
        .unwrap()
        .remove(0);
    let mut forged = url.clone();
    forged.url = url
        .url
        .replace("/parts/1?", "/parts/2?")
        .replace("partNumber=1", "partNumber=2");
    assert_ne!(forged.url, url.url);
    let e = b
        .put_part(&forged, Bytes::from_static(b"x"))
        .await
        .unwrap_err();
    assert!(e.is_refused_url(), "{e}");
    // Everything of A's is still there.
    assert_eq!(a.list_drops(None, 50).await.unwrap().drops.len(), 2);
}

/// The bad-input table, on any backend.
pub async fn bad_inputs_get_their_codes(server: &Server) {
    let c = server.client();
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.url);
    let json_post = |path: &str, body: &'static str, token: Option<&str>| {
        let mut rb = http
            .post(url(path))
            .header("content-type", "application/json")
            .body(body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    let expect = |status: u16, code: &str| {
        let code = code.to_string();
        move |resp: reqwest::Response| async move {
            assert_eq!(resp.status().as_u16(), status, "for {code}");
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], code.as_str(), "{body}");
            assert!(!body["error"]["message"].as_str().unwrap().is_empty());
            body
        }
    };
    let t = server.owner_token.as_str();

    // Tokens.
    expect(401, "unauthorized")(http.get(url("/api/v1/me")).send().await.unwrap()).await;
    expect(401, "unauthorized")(
        http.get(url("/api/v1/me"))
            .bearer_auth("dc_nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect(401, "unauthorized")(
        http.get(url("/api/v1/me"))
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap(),
    )
    .await;
    // Malformed JSON, wrong shapes.
    expect(400, "malformed_json")(
        json_post("/api/v1/drops", "{not json", Some(t))
            .await
            .unwrap(),
    )
    .await;
    expect(400, "malformed_json")(
        json_post("/api/v1/drops", r#"{"size":1}"#, Some(t))
            .await
            .unwrap(),
    )
    .await;
    expect(400, "malformed_json")(
        json_post("/api/v1/drops", r#"{"name":"a","size":-5}"#, Some(t))
            .await
            .unwrap(),
    )
    .await;
    // Path tricks and junk in names.
    for name in [
        "../../etc/passwd",
        "a/b.png",
        "..",
        "C:\\x.png",
        "a\u{0}b",
        "",
        "  ",
    ] {
        let e = c.create_drop(&new_drop(name, None)).await.unwrap_err();
        assert_eq!(code(e).1, ErrorCode::InvalidName, "{name:?}");
    }
    // Absurd sizes.
    let e = c
        .create_drop(&new_drop("huge", Some(u64::MAX)))
        .await
        .unwrap_err();
    assert_eq!(code(e).0, 413);
    let e = c
        .create_drop(&new_drop("huge", Some(1 << 60)))
        .await
        .unwrap_err();
    assert_eq!(code(e), (413, ErrorCode::TooLarge, vec![]));
    let d = c.create_drop(&new_drop("x.bin", None)).await.unwrap();
    let e = c
        .part_urls(
            &d.id,
            [3, 10_001, 0]
                .iter()
                .map(|&n| PartToSend::of(n, b"x"))
                .collect(),
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), (400, ErrorCode::TooManyParts, vec![10_001, 0]));
    // Bad and missing checksums. The URL is signed for "not empty".
    let part = c
        .part_urls(&d.id, vec![PartToSend::of(1, b"not empty")])
        .await
        .unwrap()
        .remove(0);
    let signed = &part.headers[api::CHECKSUM_HEADER];
    assert_eq!(*signed, Crc64::of(b"not empty").to_base64());
    // The store refuses these itself: this server's answers carry our
    // codes, S3's are its own documents, with the same meaning.
    let refused = |status: u16, code: &'static str| {
        move |resp: reqwest::Response| async move {
            let got = resp.status().as_u16();
            let body = resp.text().await.unwrap();
            match serde_json::from_str::<serde_json::Value>(&body) {
                Ok(json) => {
                    assert_eq!(got, status, "for {code}: {body}");
                    assert_eq!(json["error"]["code"], code, "{body}");
                }
                Err(_) => assert!((400..500).contains(&got), "for {code}: {got} {body}"),
            }
        }
    };
    let put_raw = |url: String, checksum: Option<String>, body: &'static str| {
        let mut rb = http.put(url).body(body);
        if let Some(c) = checksum {
            rb = rb.header(api::CHECKSUM_HEADER, c);
        }
        rb.send()
    };
    let resp = put_raw(part.url.clone(), Some(signed.clone()), "not emptY")
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "damaged bytes");
    let body = resp.text().await.unwrap();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
        assert_eq!(json["error"]["code"], "checksum_mismatch", "{json}");
        assert_eq!(json["error"]["parts"], serde_json::json!([1]));
    } else {
        assert!(body.contains("BadDigest"), "{body}");
    }
    refused(400, "checksum_required")(put_raw(part.url.clone(), None, "x").await.unwrap()).await;
    refused(400, "invalid_input")(
        put_raw(part.url.clone(), Some("short".into()), "x")
            .await
            .unwrap(),
    )
    .await;
    // Another (valid) checksum than the one signed is a forgery, and so is
    // a bent signature (the URL's last character).
    let resp = put_raw(part.url.clone(), Some(Crc64::of(b"x").to_base64()), "x")
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    refused(403, "invalid_signature")(resp).await;
    let bent = {
        let mut u = part.url.clone();
        let last = u.pop().unwrap();
        u.push(if last == '0' { '1' } else { '0' });
        u
    };
    let resp = put_raw(bent, Some(signed.clone()), "not empty")
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    refused(403, "invalid_signature")(resp).await;
    // Nothing was stored by the failed attempts.
    assert!(c.stored_parts(&d.id).await.unwrap().is_empty());

    // Part too small (not last), missing part at complete, sizes and hashes.
    let p1 = bytes(1000, 3);
    let p2 = bytes(10, 4);
    let e1 = put(&c, &d.id, 1, &p1).await.unwrap();
    let e2 = put(&c, &d.id, 2, &p2).await.unwrap();
    let whole = [p1.clone(), p2.clone()].concat();
    let e = c
        .complete(&d.id, &complete_req(&[(1, &e1), (2, &e2)], &whole))
        .await
        .unwrap_err();
    assert_eq!(code(e), (400, ErrorCode::PartTooSmall, vec![1]));
    let e = c
        .complete(&d.id, &complete_req(&[(1, &e1), (3, &e2)], &whole))
        .await
        .unwrap_err();
    assert_eq!(code(e), (400, ErrorCode::InvalidParts, vec![3]));
    let e = c
        .complete(&d.id, &complete_req(&[(2, &e2), (1, &e1)], &whole))
        .await
        .unwrap_err();
    assert_eq!(code(e).1, ErrorCode::InvalidParts);
    let e = c
        .complete(&d.id, &complete_req(&[(1, "beef")], &whole))
        .await
        .unwrap_err();
    assert_eq!(code(e), (400, ErrorCode::InvalidParts, vec![1]));
    let mut req = complete_req(&[(1, &e1)], &p1);
    req.size += 1;
    assert_eq!(
        code(c.complete(&d.id, &req).await.unwrap_err()).1,
        ErrorCode::SizeMismatch
    );
    let mut req = complete_req(&[(1, &e1)], &p1);
    req.crc64nvme = Crc64::of(b"something else");
    assert_eq!(
        code(c.complete(&d.id, &req).await.unwrap_err()).1,
        ErrorCode::ChecksumMismatch
    );
    // Nothing of it is served while it is not complete.
    assert_eq!(
        code(server.anonymous().get(&d.raw_url).await.unwrap_err()),
        (409, ErrorCode::NotReady, vec![])
    );
    // The one-part version completes; then it takes no more parts.
    c.complete(&d.id, &complete_req(&[(1, &e1)], &p1))
        .await
        .unwrap();
    assert!(get_bytes(&c, &d.raw_url).await == p1);
    assert_eq!(
        code(put(&c, &d.id, 2, &p2).await.unwrap_err()).1,
        ErrorCode::Conflict
    );
    let e = c
        .complete(&d.id, &complete_req(&[(1, &e1), (2, &e2)], &whole))
        .await
        .unwrap_err();
    assert_eq!(code(e).1, ErrorCode::Conflict);

    // Unknown ids and endpoints.
    assert_eq!(
        code(c.drop_info("AAAAAAAAAAAA").await.unwrap_err()).1,
        ErrorCode::NotFound
    );
    expect(404, "not_found")(http.get(url("/api/v1/nope")).send().await.unwrap()).await;
    expect(404, "not_found")(http.get(url("/AAAAAAAAAAAA/raw")).send().await.unwrap()).await;
    expect(400, "invalid_input")(
        http.get(url("/api/v1/drops?limit=0"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect(400, "invalid_input")(
        http.get(url("/api/v1/drops?cursor=%%%"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap(),
    )
    .await;
    expect(401, "invalid_credentials")(
        json_post(
            "/api/v1/auth/login",
            r#"{"user":"owner","password":"guess"}"#,
            None,
        )
        .await
        .unwrap(),
    )
    .await;
}

/// The ids of the drops whose bytes a backend holds, complete or in
/// parts, looked at from outside the server.
pub type Held<'a> = &'a dyn Fn() -> Vec<String>;

async fn status_of(url: &str) -> u16 {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Expired drops answer 410, and cleanup removes exactly them and the
/// stale uploads, with all their bytes, several at a time.
pub async fn cleanup_removes_exactly_the_expired_and_the_stale(
    server: &mut Server,
    held: Held<'_>,
) {
    let c = server.client();
    let soon = time::OffsetDateTime::now_utc() + std::time::Duration::from_millis(1500);
    let mut expiring = Vec::new();
    for n in 0..3 {
        let create = api::CreateDrop {
            name: format!("brief{n}.bin"),
            expires_at: Some(soon),
            ..Default::default()
        };
        expiring.push(share_bytes(&c, create, &bytes(1000, n)).await);
    }
    let kept = share_bytes(&c, new_drop("kept.bin", None), &bytes(1000, 9)).await;
    let stale = c
        .create_drop(&new_drop("stale.bin", Some(10 * MIB as u64)))
        .await
        .unwrap();
    put(&c, &stale.id, 1, &bytes(6 * MIB, 3)).await.unwrap();
    let mut all: Vec<String> = expiring.iter().map(|d| d.id.clone()).collect();
    all.extend([kept.id.clone(), stale.id.clone()]);
    all.sort();
    let mut holds = held();
    holds.sort();
    assert_eq!(holds, all, "the bytes of every drop, and the stale parts");

    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let e = &expiring[0];
    assert_eq!(status_of(&e.url).await, 410);
    assert_eq!(status_of(&e.raw_url).await, 410);

    // Uploads count as stale after a second here.
    server.restart_with(&[("DROPCAST_STALE_UPLOAD_AGE", "1")]);
    let done = server.admin(&["cleanup"], None);
    assert_eq!(done["expired"], 3, "{done}");
    assert_eq!(done["stale"], 1, "{done}");
    assert_eq!(held(), vec![kept.id.clone()], "only the kept drop's bytes");
    assert!(get_bytes(&server.anonymous(), &kept.raw_url).await == bytes(1000, 9));
    assert_eq!(status_of(&e.url).await, 404);
    let again = server.admin(&["cleanup"], None);
    assert_eq!(
        (again["expired"].as_u64(), again["stale"].as_u64()),
        (Some(0), Some(0))
    );
}
