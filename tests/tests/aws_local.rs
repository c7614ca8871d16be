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
    let mut child = home
        .command("dropcast")
        .args(["--json", "upload", file.path().to_str().unwrap()])
        .env("DROPCAST_CREDENTIALS", "file")
        .env("DROPCAST_PARALLEL", "1")
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
    let Some(killed) = killed else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the second upload never got going");
    };
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

#[tokio::test(flavor = "multi_thread")]
async fn a_shot_has_its_link_on_the_clipboard_before_the_function_is_asked_anything() {
    let x = Xvfb::start(640, 480);
    let st = stack();
    let home = signed_in(&st);
    let shown = image::RgbImage::from_fn(640, 480, |px, py| {
        image::Rgb([(px % 251) as u8, (py % 241) as u8, ((px + py) % 239) as u8])
    });
    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("screen.png");
    shown.save(&path).unwrap();
    let _feh = x.show_full_screen(&path);

    // A frozen function answers nothing: the link can only come from the
    // ids reserved at sign-in.
    st.api.freeze();
    let shot = home
        .command("dropcast")
        .args(["--json", "shot", "--screen"])
        .env("DROPCAST_CREDENTIALS", "file")
        .env("DISPLAY", &x.display)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut link = String::new();
    let on_clipboard = poll_up_to(std::time::Duration::from_secs(15), || {
        // Empty until the CLI has taken the clipboard: xclip fails.
        let Ok(out) = Command::new("xclip")
            .args(["-o", "-selection", "clipboard", "-t", "UTF8_STRING"])
            .env("DISPLAY", &x.display)
            .output()
        else {
            return false;
        };
        link = String::from_utf8_lossy(&out.stdout).into_owned();
        link.starts_with(&st.api.url)
    });
    st.api.thaw();
    let out = shot.wait_with_output().unwrap();
    assert!(
        on_clipboard,
        "no link on the clipboard while the function was frozen"
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["url"], link.as_str());
    assert_eq!(answer["status"], "complete");

    // The bytes come from the bucket, the share page from the function.
    let raw = reqwest::get(format!("{link}/raw")).await.unwrap();
    assert_eq!(raw.headers()["content-type"], "image/png");
    let got = image::load_from_memory(&raw.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    assert!(got == shown, "the shared image is the screen");
    let page = reqwest::get(&link).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<img"));
}
