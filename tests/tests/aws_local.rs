//! The `dropcast` CLI against the serverless backend on this machine: the
//! API function under cargo-lambda's runtime API, SeaweedFS as S3 and
//! PostgreSQL, with Lambda's 6 MB cap in front (`dropcast_tests::lambda`).

use dropcast_tests::*;
use std::process::{Command, Stdio};

const FILE_STORE: (&str, &str) = ("DROPCAST_CREDENTIALS", "file");

fn stack() -> AwsLocal {
    // 5 MiB parts (S3's least): 40 of them for 200 MiB.
    AwsLocal::start(
        &workspace_bin("dropcast-lambda-api"),
        &[("DROPCAST_PART_SIZE", "5242880")],
    )
}

fn signed_in(st: &AwsLocal) -> Home {
    let home = Home::new();
    home.json(
        &["--json", "login", "--server", &st.api.url, "--token-stdin"],
        &st.owner_token,
        &[FILE_STORE],
    );
    home
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_mib_go_up_in_parallel_parts_and_a_killed_upload_resumes_byte_identical() {
    let st = stack();
    let home = signed_in(&st);

    // In parallel parts, straight to the bucket.
    let data = bytes(200 * MIB, 50);
    let file = temp_file(&data);
    let up = home.json(
        &["--json", "upload", file.path().to_str().unwrap()],
        "",
        &[FILE_STORE],
    );
    let drop = &up["drops"][0];
    assert_eq!(drop["status"], "complete", "{up}");
    let url = drop["raw_url"].as_str().unwrap();
    assert!(get_bytes(&st.anonymous(), url).await == data);
    let id = drop["id"].as_str().unwrap().to_string();
    assert_eq!(st.s3.objects().keys(), vec![format!("drops/{id}")]);
    assert_eq!(st.api.guard.tripped(), 0, "a request or answer over 6 MB");
    assert!(
        st.api.guard.largest_request() < 64 << 10,
        "the function was sent {} bytes at once",
        st.api.guard.largest_request()
    );

    // Killed with SIGKILL mid-way, then resumed.
    let other = bytes(200 * MIB, 51);
    let file = temp_file(&other);
    let mut child = Command::new(workspace_bin("dropcast"))
        .args(["--json", "upload", file.path().to_str().unwrap()])
        .env("HOME", home.dir.path())
        .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
        .env("XDG_DATA_HOME", home.dir.path().join("data"))
        .env("DROPCAST_CREDENTIALS", "file")
        .env("DROPCAST_PARALLEL", "1")
        .env_remove("DISPLAY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let owner = st.client();
    let mut killed = None;
    for _ in 0..2000 {
        let hist = home.run(&["--json", "history"], "", &[FILE_STORE]);
        let hist: serde_json::Value = serde_json::from_slice(&hist.stdout).unwrap_or_default();
        let newest = hist["drops"][0]["id"].as_str().filter(|d| *d != id);
        if let Some(d) = newest {
            if owner.stored_parts(d).await.map(|p| p.len()).unwrap_or(0) >= 3 {
                child.kill().unwrap();
                child.wait().unwrap();
                killed = Some(d.to_string());
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let killed = killed.expect("the second upload never got going");
    let stored = owner.stored_parts(&killed).await.unwrap().len();
    assert!(
        stored < 40,
        "still under way when killed ({stored}/40 parts)"
    );
    let resumed = home.json(&["--json", "resume"], "", &[FILE_STORE]);
    assert_eq!(resumed["drops"][0]["id"], killed.as_str());
    assert_eq!(resumed["drops"][0]["status"], "complete", "{resumed}");
    let url = resumed["drops"][0]["raw_url"].as_str().unwrap();
    assert!(get_bytes(&st.anonymous(), url).await == other);
    assert_eq!(st.api.guard.tripped(), 0);
}
