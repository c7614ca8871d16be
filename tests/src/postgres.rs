//! PostgreSQL for the tests: a throwaway cluster of Debian's PostgreSQL
//! (installed by `cargo xtask test`), on a Unix socket in a temporary
//! folder, with fsync off. initdb and the server run as the `postgres`
//! user, as PostgreSQL refuses to run as root.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub struct Postgres {
    /// `postgres://dropcast@localhost/postgres?host=...&port=...`
    pub url: String,
    dir: tempfile::TempDir,
    bin: PathBuf,
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
    pub fn start() -> Postgres {
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
        let options = format!(
            "-c listen_addresses='' -k {path} -p {port} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off"
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
            url: format!("postgres://dropcast@localhost/postgres?host={path}&port={port}"),
            dir,
            bin,
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

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
