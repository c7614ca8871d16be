//! A hello-world lambda_http function, built like the API function (the
//! same crate, lambda_http features, runtime and profile). `cargo xtask bench server`
//! compares the API function's start-up with it.

fn main() -> Result<(), lambda_http::Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(lambda_http::run(lambda_http::service_fn(
        |_: lambda_http::Request| async {
            Ok::<_, lambda_http::Error>(lambda_http::Response::new(lambda_http::Body::from(
                "hello",
            )))
        },
    )))
}
