//! The API function on the AWS-local stack: the real binary under
//! cargo-lambda's runtime API, SeaweedFS as S3, PostgreSQL, and Lambda's
//! 6 MB payload cap in front (see `dropcast_tests::lambda`).

use dropcast_api::Crc64;
use dropcast_client::{upload_file, Client, UploadOptions};
use dropcast_tests::*;

const MIB: usize = 1 << 20;

fn stack(extra: &[(&str, &str)]) -> AwsLocal {
    AwsLocal::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-api")),
        extra,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_big_upload_goes_through_the_function_without_one_byte_passing_through_it() {
    let st = stack(&[]);
    let api = &st.api;
    let c = st.client();
    let data = bytes(40 * MIB + 3, 40);
    let d = c
        .create_drop(&new_drop("big.bin", Some(data.len() as u64)))
        .await
        .unwrap();
    let file = temp_file(&data);
    let done = upload_file(
        &c,
        &d,
        file.path(),
        UploadOptions {
            part_size: Some(8 * MIB as u64),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(done.crc64nvme, Some(Crc64::of(&data)));
    // Through the share link: a redirect from the function to the bucket.
    assert!(get_bytes(&Client::new(&api.url, None), &d.raw_url).await == data);
    assert_eq!(st.s3.objects().keys(), vec![format!("drops/{}", d.id)]);
    // The function saw requests of a few hundred bytes, never a part.
    assert_eq!(api.guard.tripped(), 0);
    assert!(
        api.guard.largest_request() < 64 << 10,
        "the function was sent {} bytes at once",
        api.guard.largest_request()
    );
    // The share page renders on the function.
    let page = reqwest::get(&d.url).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("big.bin"));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_shot_uploads_fit_lambdas_cap_and_bigger_ones_are_told_what_to_use() {
    // Whatever the configuration says, the function takes at most 4 MiB
    // in one shot (Lambda's 6 MB, in base64).
    let st = stack(&[("DROPCAST_MAX_ONESHOT_SIZE", "100000000")]);
    let (api, token) = (&st.api, &st.owner_token);
    let send = |body: Vec<u8>| {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(body).file_name("f.bin"),
        );
        reqwest::Client::new()
            .post(format!("{}/api/v1/upload", api.url))
            .bearer_auth(token)
            .multipart(form)
            .send()
    };
    let small = bytes(MIB, 41);
    let r = send(small.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let up: dropcast_api::UploadResponse = r.json().await.unwrap();
    assert!(get_bytes(&Client::new(&api.url, None), &up.files[0].raw_url).await == small);
    // Over the function's one-shot limit, within Lambda's: the server says
    // what to use instead.
    let r = send(bytes(4 * MIB + MIB / 2, 42)).await.unwrap();
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_large");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("dropcast upload"));
    assert_eq!(api.guard.tripped(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_function_starts_without_the_database_and_says_when_to_migrate() {
    // A database no `dropcast-server` command has opened: no schema yet.
    let (s3, pg) = (Seaweed::start(), Postgres::start());
    let mut env = s3.server_env();
    env.extend(pg.server_env());
    let log = tempfile::NamedTempFile::new().unwrap();
    let api = LambdaApi::start_with_log(
        std::path::Path::new(env!("CARGO_BIN_EXE_dropcast-lambda-api")),
        &env,
        log.reopen().unwrap().into(),
    );
    // It answered what needs no database (the kit waits for that), and
    // only the first request that needs it finds the schema missing.
    let health = |api: &LambdaApi| reqwest::get(format!("{}/healthz", api.url));
    assert_eq!(health(&api).await.unwrap().status(), 500);
    let said = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        said.contains("run `dropcast-server migrate`"),
        "the log says what to do: {said}"
    );
    // The deploy's step, on the same database: the running function is
    // fine from the next request on.
    let migrated = dropcast_tests::lambda::server_admin(&env, &["migrate"]);
    assert!(
        migrated["schema_version"].as_i64().unwrap() > 0,
        "{migrated}"
    );
    assert_eq!(health(&api).await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_cloudfront_only_requests_with_its_secret_are_answered_and_their_viewer_counts() {
    let st = stack(&[
        ("DROPCAST_EDGE_SECRET", "edge-s3cret"),
        ("DROPCAST_ABUSE_THRESHOLD", "3"),
    ]);
    let http = reqwest::Client::new();
    let me = format!("{}/api/v1/me", st.api.url);
    let from = |secret: &str, client: &str| {
        http.get(&me)
            .header("x-dropcast-edge-secret", secret)
            .header("x-dropcast-client-ip", client)
            .send()
    };
    // Straight to the API's own endpoint: refused, with what to use.
    let direct = http.get(&me).send().await.unwrap();
    assert_eq!(direct.status(), 403);
    let body: dropcast_api::ErrorBody = direct.json().await.unwrap();
    assert_eq!(body.error.code, dropcast_api::ErrorCode::EdgeRequired);
    assert_eq!(from("guess", "203.0.113.5").await.unwrap().status(), 403);
    // The keep-warm health check is Lambda's own call.
    let health = http
        .get(format!("{}/healthz", st.api.url))
        .send()
        .await
        .unwrap();
    assert_ne!(health.status(), 403);
    // Through CloudFront: the viewer's address is the one that counts.
    for _ in 0..4 {
        assert_eq!(
            from("edge-s3cret", "203.0.113.5").await.unwrap().status(),
            401
        );
    }
    assert_eq!(
        from("edge-s3cret", "203.0.113.5").await.unwrap().status(),
        429
    );
    assert_eq!(
        from("edge-s3cret", "203.0.113.6").await.unwrap().status(),
        401
    );
}
