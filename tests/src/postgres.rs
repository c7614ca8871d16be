//! PostgreSQL for the tests: a throwaway cluster of Debian's PostgreSQL
//! (installed by `cargo xtask test`), on a Unix socket in a temporary
//! folder, with fsync off. initdb and the server run as the `postgres`
//! user, as PostgreSQL refuses to run as root.
//!
//! `cargo xtask test` starts one for the whole run (`dropcast-test-stack`)
//! and names it in [`SHARED_ENV`]: each test then has a database of its
//! own in it. A test run by hand starts its own cluster.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Postgres {
    /// `postgres://dropcast@localhost/{database}?host=...&port=...`
    pub url: String,
    /// The socket's folder and port.
    host: String,
    port: String,
    /// The cluster, when this one started it.
    own: Option<(tempfile::TempDir, PathBuf)>,
}

/// `{socket folder} {port}` of the run's cluster, set by `cargo xtask test`
/// for every test. (Not `DROPCAST_*`: the servers the tests start would
/// take it for a setting.)
pub const SHARED_ENV: &str = "TESTKIT_POSTGRES";

fn url(host: &str, port: &str, database: &str) -> String {
    format!("postgres://dropcast@localhost/{database}?host={host}&port={port}")
}

/// The newest `/usr/lib/postgresql/N/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<u32> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    let v = versions
        .last()
        .expect("PostgreSQL is missing: `cargo xtask test` installs it (Debian postgresql)");
    PathBuf::from(format!("/usr/lib/postgresql/{v}/bin"))
}

fn as_postgres(program: &std::path::Path, args: &[&str]) {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("running runuser");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// A new database in the run's cluster, or in one of its own when the
    /// test runs outside `cargo xtask test`.
    pub fn start() -> Postgres {
        let Ok(shared) = std::env::var(SHARED_ENV) else {
            return Postgres::start_own();
        };
        let Some((host, port)) = shared.split_once(' ') else {
            panic!("TESTKIT_POSTGRES is `{{socket folder}} {{port}}`, not {shared:?}");
        };
        let database = crate::unique_name("t");
        let out = Command::new(bin_dir().join("psql"))
            .args(["-h", host, "-p", port, "-U", "dropcast", "-d", "postgres"])
            .args(["-v", "ON_ERROR_STOP=1", "-c"])
            .arg(format!("CREATE DATABASE {database}"))
            .output()
            .expect("running psql");
        assert!(
            out.status.success(),
            "making database {database} in the run's PostgreSQL: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Postgres {
            url: url(host, port, &database),
            host: host.to_string(),
            port: port.to_string(),
            own: None,
        }
    }

    /// A cluster of its own; stopped when dropped. Fast, not durable: a
    /// crash loses the last commits (`synchronous_commit=off`).
    pub fn start_own() -> Postgres {
        Postgres::start_cluster(false)
    }

    /// [`Postgres::start_own`], but every commit it acknowledged survives
    /// a crash of the server (as in production): for tests that crash it.
    pub fn start_own_durable() -> Postgres {
        Postgres::start_cluster(true)
    }

    fn start_cluster(durable: bool) -> Postgres {
        // The socket's path must stay under 108 bytes: a short folder.
        let dir = tempfile::Builder::new()
            .prefix("dcpg")
            .tempdir_in("/tmp")
            .unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        let chown = Command::new("chown")
            .args(["postgres:", &path])
            .status()
            .unwrap();
        assert!(chown.success(), "chown postgres: {path}");
        let bin = bin_dir();
        let data = format!("{path}/data");
        as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data,
                "-U",
                "dropcast",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
        );
        let port = crate::free_port().to_string();
        // fsync off is safe from a crash of the server (the OS keeps what
        // was written); an asynchronous commit is not.
        let commit = if durable { "on" } else { "off" };
        let options = format!(
            "-c listen_addresses='' -k {path} -p {port} -c fsync=off \
             -c synchronous_commit={commit} -c full_page_writes=off"
        );
        as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                &data,
                "-l",
                &format!("{path}/log"),
                "-w",
                "-o",
                &options,
                "start",
            ],
        );
        let pg = Postgres {
            url: url(&path, &port, "postgres"),
            host: path.clone(),
            port: port.clone(),
            own: Some((dir, bin)),
        };
        crate::wait_up_to(Duration::from_secs(20), "PostgreSQL's socket", || {
            std::path::Path::new(&format!("{path}/.s.PGSQL.{port}")).exists()
        });
        pg
    }
}

impl Postgres {
    /// The `DROPCAST_*` settings of a server whose metadata is here (a
    /// pool of two, as on Lambda).
    pub fn server_env(&self) -> Vec<(String, String)> {
        vec![
            ("DROPCAST_DATABASE_URL".into(), self.url.clone()),
            ("DROPCAST_DATABASE_POOL".into(), "2".into()),
        ]
    }
}

impl Postgres {
    /// Stops its own cluster at once (`pg_ctl -m immediate`: as a crash,
    /// every connection cut) and starts it again; returns once it
    /// accepts connections.
    pub fn restart(&self) {
        let (dir, bin) = self
            .own
            .as_ref()
            .expect("only a cluster of its own (start_own) can be restarted");
        let path = dir.path().to_str().unwrap();
        // The server's options are those it last started with; its output
        // goes to the log again (not to this process, which would wait for
        // the server to close it).
        as_postgres(
            &bin.join("pg_ctl"),
            &[
                "-D",
                &format!("{path}/data"),
                "-l",
                &format!("{path}/log"),
                "-m",
                "immediate",
                "-w",
                "restart",
            ],
        );
    }

    /// What [`SHARED_ENV`] says for this one.
    pub fn shared_env(&self) -> String {
        format!("{} {}", self.host, self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let Some((dir, bin)) = &self.own else {
            // A test's database goes with the run's cluster.
            return;
        };
        let data = dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// Everything the database at `url` (one of [`Postgres::url`]) holds, as
/// `pg_dump` writes it: for a test that looks for what must not be there.
pub fn dump(url: &str) -> Vec<u8> {
    let out = Command::new(bin_dir().join("pg_dump"))
        .args(["--data-only", "--no-owner", "-d", url])
        .output()
        .expect("running pg_dump");
    assert!(
        out.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
