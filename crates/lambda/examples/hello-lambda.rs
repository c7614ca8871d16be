//! A hello-world lambda_http function, built like the API function (the
//! same crate, lambda_http features, runtime and profile). `cargo xtask bench server`
//! compares the API function's start-up with it.
//!
//! With `HELLO_DATABASE_URL` set it also asks PostgreSQL `SELECT 1` on each
//! request, through one connection made on first use: the least any
//! function whose answers need the database does.

fn main() -> Result<(), lambda_http::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let _context = runtime.enter();
    let pool = match std::env::var("HELLO_DATABASE_URL") {
        Ok(url) => Some(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy(&url)?,
        ),
        Err(_) => None,
    };
    let pool = &pool;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(
        move |_: lambda_http::Request| async move {
            if let Some(pool) = pool {
                sqlx::query("SELECT 1").execute(pool).await?;
            }
            Ok::<_, lambda_http::Error>(lambda_http::Response::new(lambda_http::Body::from(
                "hello",
            )))
        },
    )))
}
