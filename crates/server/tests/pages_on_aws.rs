//! `pages.rs` again, on the AWS-local stack (SeaweedFS as S3, PostgreSQL):
//! the same tests with the same assertions, as `support::on_aws` is true in
//! this test binary. The few that do not run here yet are listed, with the
//! reason, in `.config/nextest.toml`.

#[path = "pages.rs"]
mod pages;
