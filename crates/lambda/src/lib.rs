//! What the Dropcast Lambda functions share: each is a small binary over
//! the server's crate, configured from `DROPCAST_*` variables (secrets
//! such as the database URL come from Secrets Manager through the
//! deployment, never from the repo), logging JSON lines to stderr (which
//! Lambda sends to CloudWatch), on one thread (an instance handles one
//! invocation at a time), meeting the database on first use and never
//! migrating it (`dropcast-server migrate` is the deploy's step).
//!
//! - `dropcast-lambda-api` (`api.rs`): the REST API and share pages.
//! - `dropcast-lambda-events` (`events.rs`): the handlers of the events
//!   published on SNS.
//! - `dropcast-lambda-cleanup` (`cleanup.rs`): the scheduled jobs.
//! - `dropcast-lambda-guard` (`guard.rs`): blocks addresses that fail too
//!   often at the WAF.

use anyhow::Context;
use dropcast_server::repo::Open;
use dropcast_server::{App, Config};

/// Logs as JSON lines on stderr, at `DROPCAST_LOG`'s level; the API
/// function's access lines (target `access`) whatever the level, since
/// the guard reads them.
pub fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::filter::Targets::new()
        .with_default(dropcast_server::log_level())
        .with_target("access", tracing::Level::INFO);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(false)
                .with_writer(std::io::stderr)
                .with_filter(filter),
        )
        .init();
}

/// The server's configuration, from the environment.
pub fn config() -> anyhow::Result<Config> {
    Config::load(None, std::env::vars(), Default::default())
        .context("reading the DROPCAST_* configuration")
}

/// Runs `main` on a one-thread runtime with the [`App`] built from
/// `config`: what every function's `main` does.
pub fn run<F, Fut>(config: Config, main: F) -> anyhow::Result<()>
where
    F: FnOnce(App) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = App::open(config, Open::Lazy).await?;
        main(app).await
    })
}

/// The Lambda runtime's error, from anything printable.
pub fn failure(message: impl std::fmt::Display) -> lambda_http::Error {
    message.to_string().into()
}

/// Runs one invocation of `job` and writes its figures (a run, a failure,
/// its duration) as an Embedded Metric Format line.
pub async fn timed<T, E>(
    job: &str,
    invocation: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let done = invocation.await;
    dropcast_server::metrics::emf::job(job, done.is_err(), started.elapsed().as_secs_f64());
    done
}
