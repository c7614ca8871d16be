//! The `dropcast` CLI against the real server, each test with its own
//! config and data directories (XDG_*), so nothing touches the user's.

use dropcast_tests::*;
use std::path::Path;
use std::process::{Command, Stdio};

fn server() -> Server {
    Server::start(&workspace_bin("dropcast-server"), &[])
}

const FILE_STORE: (&str, &str) = ("DROPCAST_CREDENTIALS", "file");

#[tokio::test(flavor = "multi_thread")]
async fn signs_in_with_a_password_uploads_files_and_deletes_them() {
    let server = server();
    server.admin(
        &["user", "add", "dana", "--password-stdin"],
        Some("correct horse"),
    );
    let home = Home::new();
    let login = home.json(
        &[
            "--json",
            "login",
            "--server",
            &server.url,
            "--user",
            "dana",
            "--password-stdin",
        ],
        "correct horse\n",
        &[FILE_STORE],
    );
    assert_eq!(login["user"], "dana");
    // The opted-in file store: owner-only, and the token in it works.
    let creds = std::fs::read_to_string(home.credentials_file()).unwrap();
    assert!(creds.contains("dc_"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.credentials_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let small = temp_file(b"hello from the cli");
    let big_data = bytes(12 * MIB + 5, 21);
    let big = temp_file(&big_data);
    let up = home.json(
        &[
            "--json",
            "upload",
            small.path().to_str().unwrap(),
            big.path().to_str().unwrap(),
        ],
        "",
        &[FILE_STORE],
    );
    let drops = up["drops"].as_array().unwrap();
    assert_eq!(drops.len(), 2);
    for d in drops {
        assert_eq!(d["status"], "complete");
        assert!(d["url"]
            .as_str()
            .unwrap()
            .ends_with(d["id"].as_str().unwrap()));
    }
    let anon = server.anonymous();
    assert_eq!(
        get_bytes(&anon, drops[0]["raw_url"].as_str().unwrap()).await,
        b"hello from the cli"
    );
    assert!(get_bytes(&anon, drops[1]["raw_url"].as_str().unwrap()).await == big_data);

    let id = drops[0]["id"].as_str().unwrap();
    let del = home.json(&["--json", "delete", id], "", &[FILE_STORE]);
    assert_eq!(del["status"], "deleted");
    assert!(anon
        .get(drops[0]["raw_url"].as_str().unwrap())
        .await
        .is_err());

    home.json(&["--json", "logout"], "", &[FILE_STORE]);
    assert!(!std::fs::read_to_string(home.credentials_file())
        .unwrap()
        .contains("dc_"));
    assert_eq!(
        home.run(&["whoami"], "", &[FILE_STORE]).status.code(),
        Some(3)
    );
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let server = server();
    let home = Home::new();
    // Not signed in.
    let out = home.run(&["upload", "/etc/hostname"], "", &[FILE_STORE]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropcast login"));
    // A wrong password.
    let out = home.run(
        &[
            "login",
            "--server",
            &server.url,
            "--user",
            "owner",
            "--password-stdin",
        ],
        "nope nope nope\n",
        &[FILE_STORE],
    );
    assert_eq!(out.status.code(), Some(3));
    // A token from the server's CLI.
    home.json(
        &["--json", "login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &[FILE_STORE],
    );
    // A revoked token: told to sign in again.
    let tokens = server.admin(&["token", "list", "owner"], None);
    let live: Vec<&str> = tokens["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["revoked"] == false)
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for id in &live {
        server.admin(&["token", "revoke", id], None);
    }
    let out = home.run(&["whoami"], "", &[FILE_STORE]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sign in again"));
    let fresh = server.admin(&["token", "create", "owner"], None);
    home.json(
        &["--json", "login", "--server", &server.url, "--token-stdin"],
        fresh["token"].as_str().unwrap(),
        &[FILE_STORE],
    );
    // A file that is not there.
    let out = home.run(&["upload", "/no/such/file.png"], "", &[FILE_STORE]);
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file.png"));
    // The server gone.
    drop(server);
    let out = home.run(&["upload", "/etc/hostname"], "", &[FILE_STORE]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server running"));
}

#[test]
fn without_a_keyring_login_says_how_to_get_one_and_writes_no_plain_text() {
    let server = server();
    let home = Home::new();
    let out = home.run(
        &["login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no OS keyring"), "{err}");
    assert!(err.contains("DROPCAST_CREDENTIALS=file"), "{err}");
    assert!(!home.credentials_file().exists());
    for f in files_under(home.dir.path()) {
        let text = std::fs::read(&f).unwrap();
        assert!(
            !text
                .windows(server.owner_token.len())
                .any(|w| w == server.owner_token.as_bytes()),
            "the token leaked into {}",
            f.display()
        );
    }
}

/// A real Secret Service: gnome-keyring on a private D-Bus session.
#[test]
fn token_is_kept_in_the_secret_service_and_gone_after_logout() {
    if Command::new("gnome-keyring-daemon")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!("gnome-keyring is not installed; `cargo xtask test` installs it");
    }
    let server = server();
    let home = Home::new();
    let script = r#"
        set -e
        echo -n unlock | gnome-keyring-daemon --unlock --components=secrets >/dev/null
        printf '%s' "$TOKEN" | "$DROPCAST" --json login --server "$SERVER" --token-stdin
        echo "lookup:$(secret-tool lookup service dropcast username "$SERVER")"
        "$DROPCAST" --json whoami
        "$DROPCAST" --json logout
        echo "after:$(secret-tool lookup service dropcast username "$SERVER" || true)"
    "#;
    let out = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", script])
        .env("HOME", home.dir.path())
        .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
        .env("XDG_DATA_HOME", home.dir.path().join("data"))
        .env("DROPCAST", workspace_bin("dropcast"))
        .env("SERVER", &server.url)
        .env("TOKEN", &server.owner_token)
        .env_remove("DROPCAST_CREDENTIALS")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("lookup:{}", server.owner_token)),
        "{stdout}"
    );
    assert!(stdout.contains("\"user\":\"owner\""), "{stdout}");
    assert!(
        stdout.contains("after:\n") || stdout.trim_end().ends_with("after:"),
        "{stdout}"
    );
    assert!(!home.credentials_file().exists(), "no file store was used");
    assert!(!Path::new(
        &home
            .dir
            .path()
            .join("config/dropcast/client/credentials.toml")
    )
    .exists());
}

/// A server taking 5 MiB parts (40 of them for 200 MiB, so an upload is
/// caught mid-way), and a CLI home signed in to it.
fn signed_in_with_small_parts() -> (Server, Home) {
    let server = Server::start(
        &workspace_bin("dropcast-server"),
        &[("DROPCAST_PART_SIZE", "5242880")],
    );
    let home = signed_in(&server);
    (server, home)
}

/// A new home, signed in to `server` as its owner (token in a file).
fn signed_in(server: &Server) -> Home {
    let home = Home::new();
    home.json(
        &["--json", "login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &[FILE_STORE],
    );
    home
}

/// Starts `dropcast upload FILE` and returns once the server holds at
/// least `parts` of its parts, with the child still running.
async fn upload_until_parts_stored(
    home: &Home,
    server: &Server,
    file: &Path,
    parts: usize,
) -> (std::process::Child, String) {
    let mut child = Command::new(workspace_bin("dropcast"))
        .args(["--json", "upload", file.to_str().unwrap()])
        .env("HOME", home.dir.path())
        .env("XDG_CONFIG_HOME", home.dir.path().join("config"))
        .env("XDG_DATA_HOME", home.dir.path().join("data"))
        .env("DROPCAST_CREDENTIALS", "file")
        .env("DROPCAST_PARALLEL", "1")
        .env_remove("DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let owner = server.client();
    for _ in 0..1000 {
        let hist = home.run(&["--json", "history"], "", &[FILE_STORE]);
        let hist: serde_json::Value = serde_json::from_slice(&hist.stdout).unwrap_or_default();
        if let Some(id) = hist["drops"][0]["id"].as_str() {
            if owner.stored_parts(id).await.map(|p| p.len()).unwrap_or(0) >= parts {
                return (child, id.to_string());
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the upload never got going");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_killed_mid_way_is_finished_by_resume_byte_identical() {
    let (server, home) = signed_in_with_small_parts();
    let data = bytes(200 * MIB, 31);
    let file = temp_file(&data);
    let (mut child, id) = upload_until_parts_stored(&home, &server, file.path(), 3).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let stored = server.client().stored_parts(&id).await.unwrap().len();
    assert!(
        stored < 40,
        "the upload was still under way when killed ({stored}/40 parts)"
    );
    let hist = home.json(&["--json", "history"], "", &[FILE_STORE]);
    assert_eq!(hist["drops"][0]["status"], "uploading");

    let resumed = home.json(&["--json", "resume"], "", &[FILE_STORE]);
    assert_eq!(resumed["drops"][0]["id"], id.as_str());
    assert_eq!(resumed["drops"][0]["status"], "complete");
    let url = resumed["drops"][0]["raw_url"].as_str().unwrap();
    assert!(get_bytes(&server.anonymous(), url).await == data);
    let hist = home.json(&["--json", "history"], "", &[FILE_STORE]);
    assert_eq!(hist["drops"][0]["status"], "complete");
    assert!(hist["drops"][0]["local_path"].as_str().is_some());
    // Nothing left to do.
    let again = home.json(&["--json", "resume"], "", &[FILE_STORE]);
    assert!(again["drops"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_rides_out_a_server_restart_byte_identical() {
    let (mut server, home) = signed_in_with_small_parts();
    let data = bytes(200 * MIB, 32);
    let file = temp_file(&data);
    let (child, id) = upload_until_parts_stored(&home, &server, file.path(), 3).await;
    server.restart(); // kill -9 and start again on the same port and data
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let up: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(up["drops"][0]["id"], id.as_str());
    let url = up["drops"][0]["raw_url"].as_str().unwrap();
    assert!(get_bytes(&server.anonymous(), url).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_share_begun_while_the_server_restarts_waits_for_it_and_arrives() {
    let mut server = server();
    let home = signed_in(&server);
    // Signing in filled the pool of reserved ids: empty it, so the id,
    // the drop and the parts are all asked for while the server is away.
    let journal = dropcast_client::journal::Journal::open_at(
        &home.dir.path().join("data/dropcast/client/history.db"),
    )
    .await
    .unwrap();
    let mut pooled = Vec::new();
    while let Some(r) = journal.take_reservation(&server.url).await.unwrap() {
        pooled.push(r.id);
    }
    assert!(!pooled.is_empty(), "signing in fills the pool");
    drop(journal);
    server.kill9();
    let data = bytes(3 * MIB, 42);
    let file = temp_file(&data);
    let child = home
        .command("dropcast")
        .args(["--json", "upload", file.path().to_str().unwrap()])
        .env("DROPCAST_CREDENTIALS", "file")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    server.restart();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let up: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(up["drops"][0]["status"], "complete");
    let id = up["drops"][0]["id"].as_str().unwrap();
    assert!(
        !pooled.iter().any(|p| p == id),
        "a new id, not a pooled one"
    );
    let url = up["drops"][0]["raw_url"].as_str().unwrap();
    assert!(get_bytes(&server.anonymous(), url).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_shared_while_the_server_is_down_has_its_link_and_arrives_on_resume() {
    let mut server = server();
    let home = signed_in(&server);
    // A first upload fills the pool of reserved ids.
    let first = temp_file(b"first");
    home.json(
        &["--json", "upload", first.path().to_str().unwrap()],
        "",
        &[FILE_STORE],
    );

    server.kill9();
    let data = bytes(3 * MIB, 41);
    let file = temp_file(&data);
    let out = home.run(
        &["upload", file.path().to_str().unwrap()],
        "",
        &[FILE_STORE],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    let hist = home.json(&["--json", "history"], "", &[FILE_STORE]);
    let entry = &hist["drops"][0];
    let url = entry["url"].as_str().unwrap();
    assert!(err.contains(url), "the message gives the link: {err}");
    assert_eq!(entry["on_server"], false);
    assert_eq!(entry["status"], "failed");

    server.restart();
    let resumed = home.json(&["--json", "resume"], "", &[FILE_STORE]);
    assert_eq!(resumed["drops"][0]["url"], url);
    assert_eq!(resumed["drops"][0]["status"], "complete");
    let raw = format!("{url}/raw");
    assert!(get_bytes(&server.anonymous(), &raw).await == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_puts_the_links_on_the_x_clipboard_and_they_outlive_the_cli() {
    let x = Xvfb::start(640, 480);
    let server = server();
    let home = Home::new();
    let display = ("DISPLAY", x.display.as_str());
    home.json(
        &["--json", "login", "--server", &server.url, "--token-stdin"],
        &server.owner_token,
        &[FILE_STORE],
    );
    let a = temp_file(b"a");
    let b = temp_file(b"b");
    let up = home.json(
        &[
            "--json",
            "upload",
            a.path().to_str().unwrap(),
            b.path().to_str().unwrap(),
        ],
        "",
        &[FILE_STORE, display],
    );
    assert_eq!(up["copied"], true);
    let want = format!(
        "{}\n{}",
        up["drops"][0]["url"].as_str().unwrap(),
        up["drops"][1]["url"].as_str().unwrap()
    );
    // The CLI has exited; the clipboard still holds the links.
    let clip = Command::new("xclip")
        .args(["-o", "-selection", "clipboard"])
        .env("DISPLAY", &x.display)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&clip.stdout), want);
    // Without a display the upload still works and says why nothing was copied.
    let out = home.run(
        &[
            "--json",
            "upload",
            "--copy",
            "link",
            a.path().to_str().unwrap(),
        ],
        "",
        &[FILE_STORE],
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["copied"], false);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--copy none"));
}
