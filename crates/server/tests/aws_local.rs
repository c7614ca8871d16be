//! The server on the AWS-local stack: its bytes in S3 (SeaweedFS on
//! loopback, which checks presigned signatures, expiry and CRC64-NVME
//! checksums as S3 does) and its metadata in PostgreSQL (a throwaway
//! cluster). Part bytes go from the client straight to the bucket, and
//! downloads are redirects to it: no byte of a drop passes through the
//! server.

mod support;

use bytes::Bytes;
use dropcast_api::{self as api, Crc64, ErrorCode, PartToSend};
use dropcast_client::{upload_file, UploadOptions};
use support::cases::*;
use support::*;

/// SeaweedFS and PostgreSQL.
struct Stack {
    sw: Seaweed,
    pg: Postgres,
}

fn stack() -> Stack {
    Stack {
        sw: Seaweed::start(),
        pg: Postgres::start(),
    }
}

/// A server on `stack`, reaching the bucket at `endpoint` (its own, or a
/// proxy in front of it).
fn start_on(stack: &Stack, endpoint: &str, extra: &[(&str, &str)]) -> Server {
    let mut env: Vec<(String, String)> = stack.sw.server_env();
    env.retain(|(k, _)| k != "DROPCAST_S3_ENDPOINT");
    env.push(("DROPCAST_S3_ENDPOINT".into(), endpoint.into()));
    env.extend(stack.pg.server_env());
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    start_with(&refs)
}

fn five_mib_parts() -> UploadOptions {
    UploadOptions {
        part_size: Some(5 * MIB as u64),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parts_go_straight_to_the_bucket_and_the_link_gives_back_identical_bytes() {
    let st = stack();
    let sw = &st.sw;
    let server = start_on(&st, &sw.endpoint, &[]);
    let c = server.client();
    let data = bytes(23 * MIB + 17, 30);
    let d = c
        .create_drop(&new_drop("big.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    assert_eq!(
        d.upload.unwrap().min_part_size,
        5 * MIB as u64,
        "S3's minimum"
    );

    // Part URLs point at the bucket and sign the checksum and the length.
    let url = c
        .part_urls(&d.id, vec![PartToSend::of(1, &data[..5 * MIB])])
        .await
        .unwrap()
        .remove(0);
    assert!(url.url.starts_with(&sw.endpoint), "{}", url.url);
    assert!(
        url.url
            .contains("X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-crc64nvme"),
        "{}",
        url.url
    );
    // The store itself refuses bytes other than those signed for.
    let e = c
        .put_part(&url, Bytes::copy_from_slice(&data[1..5 * MIB + 1]))
        .await
        .unwrap_err();
    assert!(e.is_bad_checksum(), "{e}");
    let mut forged = url.clone();
    forged.headers.insert(
        api::CHECKSUM_HEADER.into(),
        Crc64::of(&data[1..5 * MIB + 1]).to_base64(),
    );
    let e = c
        .put_part(&forged, Bytes::copy_from_slice(&data[1..5 * MIB + 1]))
        .await
        .unwrap_err();
    assert!(e.is_refused_url(), "another checksum than signed: {e}");

    let file = temp_file(&data);
    let done = upload_file(&c, &d, file.path(), five_mib_parts())
        .await
        .unwrap();
    assert_eq!(done.crc64nvme, Some(Crc64::of(&data)));
    assert_eq!(done.size, Some(data.len() as u64));

    // The link redirects to the bucket, which serves the bytes.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain.get(&d.raw_url).send().await.unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&sw.endpoint), "{location}");
    assert!(get_bytes(&server.anonymous(), &d.raw_url).await == data);
    let r = reqwest::Client::new()
        .get(&d.raw_url)
        .header("range", "bytes=7340032-7340131")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert!(r.bytes().await.unwrap() == data[7_340_032..7_340_132]);
    assert_eq!(sw.objects().keys(), vec![format!("drops/{}", d.id)]);

    // A wrong whole-file checksum is refused by the store at complete.
    let p = bytes(5 * MIB, 31);
    let q = bytes(100, 32);
    let d2 = c.create_drop(&new_drop("two.bin", None)).await.unwrap();
    let e1 = put(&c, &d2.id, 1, &p).await.unwrap();
    let e2 = put(&c, &d2.id, 2, &q).await.unwrap();
    // The share page's progress counts what the bucket holds.
    let status: serde_json::Value = reqwest::get(format!("{}/{}/status", server.url, d2.id))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "uploading", "{status}");
    assert_eq!(status["received"], (p.len() + q.len()) as u64, "{status}");
    let whole = [p.clone(), q.clone()].concat();
    let mut req = api::CompleteRequest {
        parts: vec![
            api::CompletePart {
                number: 1,
                etag: e1,
            },
            api::CompletePart {
                number: 2,
                etag: e2,
            },
        ],
        size: whole.len() as u64,
        crc64nvme: Crc64::of(b"something else"),
    };
    let e = c.complete(&d2.id, &req).await.unwrap_err();
    assert_eq!(code(e).1, ErrorCode::ChecksumMismatch);
    assert_eq!(
        code(server.anonymous().get(&d2.raw_url).await.unwrap_err()).1,
        ErrorCode::NotReady
    );
    req.crc64nvme = Crc64::of(&whole);
    c.complete(&d2.id, &req).await.unwrap();
    // Its answer lost, the same complete again gives the same drop.
    let again = c.complete(&d2.id, &req).await.unwrap();
    assert_eq!(again.crc64nvme, Some(Crc64::of(&whole)));
    assert!(get_bytes(&c, &d2.raw_url).await == whole);

    // Deleting removes the object; an upload in progress is aborted.
    c.delete_drop(&d.id).await.unwrap();
    c.delete_drop(&d2.id).await.unwrap();
    let open = c.create_drop(&new_drop("open.bin", None)).await.unwrap();
    put(&c, &open.id, 1, &p).await.unwrap();
    c.delete_drop(&open.id).await.unwrap();
    assert_eq!(sw.objects().keys(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn parts_damaged_on_the_way_to_the_bucket_are_refused_by_it_and_sent_again() {
    let st = stack();
    let tamper = Tamper::start(st.sw.s3_port, 1);
    let server = start_on(&st, &tamper.url(), &[]);
    let c = server.client();
    let data = bytes(12 * MIB, 33);
    let d = c
        .create_drop(&new_drop("d.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let file = temp_file(&data);
    upload_file(&c, &d, file.path(), five_mib_parts())
        .await
        .unwrap();
    assert_eq!(tamper.damaged(), 1);
    assert!(get_bytes(&c, &d.raw_url).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_part_urls_are_refused_by_the_bucket_renewed_and_resumed_uploads_send_the_rest() {
    let st = stack();
    let server = start_on(&st, &st.sw.endpoint, &[("DROPCAST_PART_URL_TTL", "1")]);
    let c = server.client();
    let data = bytes(17 * MIB, 34);
    let d = c
        .create_drop(&new_drop("r.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let part = PartToSend::of(2, &data[5 * MIB..10 * MIB]);
    let stale = c.part_urls(&d.id, vec![part]).await.unwrap().remove(0);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let body = Bytes::copy_from_slice(&data[5 * MIB..10 * MIB]);
    let e = c.put_part(&stale, body.clone()).await.unwrap_err();
    assert!(e.is_refused_url(), "{e}");
    c.send_part(&d.id, part, body, Some(stale), 3)
        .await
        .unwrap();

    // Resume: S3 lists part 2, so only 1, 3 and 4 are sent.
    let listed = c.stored_parts(&d.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| (p.number, p.size))
            .collect::<Vec<_>>(),
        vec![(2, 5 * MIB as u64)]
    );
    let file = temp_file(&data);
    let done = upload_file(
        &c,
        &d,
        file.path(),
        UploadOptions {
            part_size: Some(5 * MIB as u64),
            // Each URL lives a second: some expire while waiting their turn.
            parallel: 1,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(done.crc64nvme, Some(Crc64::of(&data)));
    assert!(get_bytes(&c, &d.raw_url).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_uploads_land_in_the_bucket_with_a_thumbnail_and_big_ones_get_413() {
    let st = stack();
    let sw = &st.sw;
    let server = start_on(
        &st,
        &sw.endpoint,
        &[("DROPCAST_MAX_ONESHOT_SIZE", "1000000")],
    );
    let png = {
        let img =
            image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 90]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png.clone()).file_name("shot.png"),
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
    let file = &up.files[0];
    assert_eq!(file.content_type, "image/png");
    assert!(get_bytes(&server.anonymous(), &file.raw_url).await == png);
    let c = server.client();
    let mut thumb = None;
    for _ in 0..100 {
        thumb = c.drop_info(&file.id).await.unwrap().thumbnail_url;
        if thumb.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let thumb = thumb.expect("a thumbnail of the one-shot upload within 10 s");
    let r = reqwest::get(&thumb).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/png");

    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes(1_000_001, 35)).file_name("big.bin"),
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
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dropcast upload"),
        "{body}"
    );
    assert_eq!(sw.objects().keys(), vec![format!("drops/{}", file.id)]);
}

/// The cleanup case on the AWS-local stack, through a proxy that sees
/// every request to the bucket: (the DeleteObjects requests, the keys
/// deleted one DeleteObject each).
async fn cleanup_on_aws(batch_delete: &str) -> (usize, usize) {
    let st = stack();
    let watch = Tamper::watch(st.sw.s3_port);
    let mut server = start_on(
        &st,
        &watch.url(),
        &[
            ("DROPCAST_CLEANUP_INTERVAL", "0"),
            ("DROPCAST_S3_BATCH_DELETE", batch_delete),
        ],
    );
    // Complete drops are objects, the others open multipart uploads.
    let held = || -> Vec<String> {
        let mut keys = st.sw.objects().keys();
        keys.extend(st.sw.open_uploads().keys());
        keys.iter()
            .map(|k| k.strip_prefix("drops/").expect("a drop's key").to_string())
            .collect()
    };
    cleanup_removes_exactly_the_expired_and_the_stale(&mut server, &held).await;
    let requests = watch.requests();
    let batches = requests
        .iter()
        .filter(|r| r.starts_with(&format!("post /{}/?delete", st.sw.bucket)))
        .count();
    // A DeleteObject; an AbortMultipartUpload is a DELETE with an upload id.
    let single = requests
        .iter()
        .filter(|r| r.starts_with("delete ") && !r.contains("uploadid="))
        .count();
    (batches, single)
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_drops_answer_410_and_cleanup_removes_exactly_them_and_stale_uploads_on_aws() {
    let (batches, single) = cleanup_on_aws("true").await;
    // The 3 expired and the stale drop, each its object and thumbnail:
    // one request for each purge (the expired, then the stale).
    assert_eq!((batches, single), (2, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_without_batch_deletes_gets_a_delete_per_key_and_cleanup_is_as_complete() {
    let (batches, single) = cleanup_on_aws("false").await;
    assert_eq!((batches, single), (0, 8));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_drop_deletes_its_thumbnail_too() {
    let st = stack();
    let server = start_on(&st, &st.sw.endpoint, &[]);
    let c = server.client();
    let png = {
        let img = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let d = share_bytes(&c, new_drop("shot.png", None), &png).await;
    let thumbnail = format!("thumbnails/{}.png", d.id);
    wait_up_to(std::time::Duration::from_secs(10), "the thumbnail", || {
        st.sw.keys_under("thumbnails/").keys() == [thumbnail.clone()]
    });
    c.delete_drop(&d.id).await.unwrap();
    assert_eq!(st.sw.keys_under("thumbnails/").keys(), Vec::<String>::new());
    assert_eq!(st.sw.objects().keys(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_cloudfront_download_links_are_its_signed_urls_given_only_to_those_allowed() {
    use dropcast_tests::cloudfront::{accepts, key_pair, query_value};
    let st = stack();
    let keys = tempfile::tempdir().unwrap();
    let (pem, public) = key_pair(keys.path());
    let server = start_on(
        &st,
        &st.sw.endpoint,
        &[
            ("DROPCAST_RAW_CDN_URL", "https://raw.example"),
            ("DROPCAST_RAW_CDN_KEY_ID", "KTESTKEY"),
            ("DROPCAST_RAW_CDN_PRIVATE_KEY", &pem),
        ],
    );
    let c = server.client();
    let png = png(64, 48);
    let public_drop = share_bytes(&c, new_drop("shot.png", None), &png).await;
    let private_drop = share_bytes(
        &c,
        api::CreateDrop {
            visibility: Some(api::Visibility::Private),
            ..new_drop("private.png", None)
        },
        &png,
    )
    .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = |url: &str, token: Option<&str>| {
        let mut req = plain.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let r = req.send().await.unwrap();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (r.status().as_u16(), location)
        }
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // The drop's object on the distribution, with the type and the
    // disposition decided here, signed for five minutes.
    let (status, location) = link(&public_drop.raw_url, None).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    let object = format!("https://raw.example/drops/{}?", public_drop.id);
    assert!(
        location.starts_with(&format!(
            "{object}response-content-type=image%2Fpng&response-content-disposition=inline"
        )),
        "{location}"
    );
    assert_eq!(query_value(&location, "Key-Pair-Id"), Some("KTESTKEY"));
    let expires: i64 = query_value(&location, "Expires").unwrap().parse().unwrap();
    assert!(
        (now + 295..=now + 310).contains(&expires),
        "{expires} vs {now}"
    );
    assert!(accepts(&location, &public, now), "{location}");
    assert!(!accepts(&location, &public, now + 301), "it runs out");
    // Asked for as a download, it is an attachment, signed as such.
    let (_, download) = link(&format!("{}?download", public_drop.raw_url), None).await;
    let download = download.unwrap();
    assert!(
        download.contains("response-content-disposition=attachment"),
        "{download}"
    );
    assert!(accepts(&download, &public, now));

    // A private drop: no link for a stranger (to whom it does not exist),
    // one for its owner.
    let (status, location) = link(&private_drop.raw_url, None).await;
    assert_eq!(status, 404);
    assert_eq!(location, None);
    let (status, location) = link(&private_drop.raw_url, Some(&server.owner_token)).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert!(
        location.starts_with(&format!("https://raw.example/drops/{}?", private_drop.id)),
        "{location}"
    );
    assert!(accepts(&location, &public, now));
}
