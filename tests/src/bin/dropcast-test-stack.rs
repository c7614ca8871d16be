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

fn main() {
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
