//! The AWS-local stack's long-lived parts, started once for a whole test
//! run by `cargo xtask test`: one SeaweedFS, one PostgreSQL cluster and
//! one moto (SNS, SQS, WAFv2). Each test makes a bucket, a database, and
//! topics and queues of its own in them.
//!
//! It prints the settings the tests read, one `NAME=value` a line, then
//! an empty line once both are up. It stops them and exits when its stdin
//! closes, so they never outlive the run.

use dropcast_tests::{moto, postgres, seaweed, Moto, Postgres, Seaweed};
use std::io::{Read, Write};

/// Below this much free space in the temporary folder, SeaweedFS runs out
/// of volume slots part-way through a run and answers 500 to every
/// upload, which looks like dozens of failing tests. (With each test's
/// bucket deleted as it ends, a run's SeaweedFS peaked at 200 MiB; the
/// tests' own files, 200 MiB uploads among them, come on top.)
const NEEDED_FREE_GIB: u64 = 4;

fn main() {
    let tmp = std::env::temp_dir();
    if let Some(free) = free_gib(&tmp) {
        if free < NEEDED_FREE_GIB {
            eprintln!(
                "only {free} GiB free in {}: the test stack's S3 (SeaweedFS) needs {NEEDED_FREE_GIB} \
                 GiB, and answers 500 to uploads without it. Free some space (old target/ folders, \
                 leftovers of killed runs in {0}) and run again.",
                tmp.display()
            );
            std::process::exit(1);
        }
    }
    let s3 = Seaweed::start_own();
    let pg = Postgres::start_own();
    let aws = Moto::start_own();
    let mut out = std::io::stdout().lock();
    let said = writeln!(
        out,
        "{}={}\n{}={}\n{}={}\n",
        seaweed::SHARED_ENV,
        s3.shared_env(),
        postgres::SHARED_ENV,
        pg.shared_env(),
        moto::SHARED_ENV,
        aws.shared_env()
    )
    .and_then(|()| out.flush());
    if said.is_ok() {
        // Until stdin closes (or fails).
        let _ = std::io::stdin().lock().read_to_end(&mut Vec::new());
    }
    drop(aws);
    drop(pg);
    drop(s3);
}

/// Free space in the file system of `dir`, in whole GiB, as `df` says.
fn free_gib(dir: &std::path::Path) -> Option<u64> {
    let out = std::process::Command::new("df")
        .args(["-Pk"])
        .arg(dir)
        .output()
        .ok()?;
    // The second line's fourth column: available 1024-byte blocks.
    let text = String::from_utf8(out.stdout).ok()?;
    let kib: u64 = text
        .lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some(kib >> 20)
}
