//! The OpenAPI document is the contract: every route the server has is
//! registered from its documented handler, from one list that makes both
//! the router and the document (`every_route!`), so a route cannot exist
//! without its entry, and [`document`] completes what
//! each handler says with what holds for all of them:
//!
//! - the answers any operation may give: 429 (too many failed requests)
//!   and 500, 401 where a token is asked for, 400 where a body or a
//!   parameter can be malformed; each error status lists the error codes
//!   it carries;
//! - the limits this server enforces, from its configuration (largest
//!   drop, part and batch), as schema constraints.
//!
//! A conformance run against the live server on both backends
//! (`api.rs`, `the_api_answers_exactly_as_its_openapi_document_says`)
//! holds the server to it.

use super::{drops, oneshot, pages, parts, raw};
use crate::{metrics, App, Config};
use axum::extract::DefaultBodyLimit;
use dropcast_api as api;
use serde_json::{json, Value};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Dropcast API",
        description = "Drops, chunked uploads, raw downloads and share pages. Every error \
                       is `{\"error\":{\"code\",\"message\"}}` with a stable code."
    ),
    components(schemas(api::ErrorBody, api::ErrorCode)),
    modifiers(&BearerAuth)
)]
struct Base;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every route, once: a line per path, its handlers (each `module::name`)
/// and, for the two routes that take bodies past axum's default limit of
/// 2 MiB, a layer. `$each` gets the list: [`router`] (what a server runs)
/// and [`documented`] (the document) are both made from it, so a route
/// cannot exist without its entry.
macro_rules! every_route {
    ($each:ident) => {
        $each! {
            super::healthz;
            metrics::serve;
            self::openapi;
            drops::login;
            drops::me;
            drops::webhook, drops::set_webhook, drops::delete_webhook;
            drops::sharex;
            drops::create, drops::list;
            drops::reserve;
            drops::get_one, drops::update, drops::delete;
            parts::part_urls, parts::stored_parts;
            parts::put_part;
            parts::complete;
            drops::poster => DefaultBodyLimit::max(drops::MAX_POSTER);
            oneshot::upload => DefaultBodyLimit::disable();
            pages::asset;
            super::share_or_file;
            raw::raw;
            pages::status;
            pages::thumbnail;
            pages::unlock;
            oneshot::delete_page, oneshot::delete_confirmed;
        }
    };
}

/// The router alone: each handler on its documented path and methods,
/// without building what the document says of it. Building that costs
/// more than all the rest of a Lambda function's start (3.2 of 5.0
/// million instructions, by callgrind), and only `/api/v1/openapi.json`
/// needs it.
pub(super) fn router() -> axum::Router<App> {
    use utoipa::Path;
    use utoipa_axum::PathItemExt;
    macro_rules! route_each {
        ($($($module:ident :: $handler:ident),+ $(=> $layer:expr)?;)+) => {{
            let mut router = axum::Router::new();
            $(
                let mut path = String::new();
                let mut method = axum::routing::MethodRouter::new();
                $(utoipa_axum::paste! {
                    let documented = $module::[<__path_ $handler>]::path();
                    debug_assert!(path.is_empty() || path == documented, "one path per line");
                    path = documented;
                    for m in $module::[<__path_ $handler>]::methods() {
                        method = method.on(m.to_method_filter(), $module::$handler);
                    }
                })+
                $(let method = method.layer($layer);)?
                router = router.route(&path, method);
            )+
            router
        }};
    }
    every_route!(route_each)
}

/// Every route with what its handler documents.
fn documented() -> OpenApiRouter<App> {
    macro_rules! document_each {
        ($($($module:ident :: $handler:ident),+ $(=> $layer:expr)?;)+) => {
            OpenApiRouter::with_openapi(Base::openapi())
                $(.routes(routes!($($module::$handler),+)))+
        };
    }
    every_route!(document_each)
}

/// The document of this server: what its handlers say, completed as the
/// module docs tell.
pub fn document(config: &Config) -> Value {
    let mut doc =
        serde_json::to_value(documented().into_openapi()).expect("the document serializes");
    errors(&mut doc);
    limits(&mut doc, config);
    doc
}

/// [`document`], as served at `/api/v1/openapi.json`.
pub fn openapi_json(config: &Config) -> String {
    serde_json::to_string_pretty(&document(config)).expect("the document serializes")
}

/// The OpenAPI document of this server: every route, what it takes and
/// every answer it gives.
#[utoipa::path(get, path = "/api/v1/openapi.json",
    responses((status = 200, description = "this document", content_type = "application/json")))]
async fn openapi(axum::extract::State(app): axum::extract::State<App>) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        openapi_json(&app.config),
    )
        .into_response()
}

const METHODS: [&str; 5] = ["get", "put", "post", "patch", "delete"];

/// The answers every operation may give, and the codes of each error.
fn errors(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            let has_body = op["requestBody"].is_object();
            let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            // A page (HTML) answers its own errors as pages, but the guard
            // and the HTTP layer answer in JSON.
            let page = op["responses"]["200"]["content"]["text/html"].is_object();
            let mut statuses = vec![429, 500];
            if secured {
                statuses.push(401);
            }
            if has_body || has_params {
                statuses.push(400);
            }
            // A body of another type than it takes (JSON bodies say so as
            // `malformed_json`, 400).
            let json_only = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.keys().all(|k| k == "application/json"));
            if has_body && !json_only {
                statuses.push(415);
            }
            let responses = op["responses"]
                .as_object_mut()
                .expect("an operation has responses");
            for status in statuses {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| json!({}));
            }
            for (status, response) in responses.iter_mut() {
                let Ok(status) = status.parse::<u16>() else {
                    continue;
                };
                if status < 400 {
                    continue;
                }
                let codes: Vec<String> = api::ErrorCode::iter()
                    .filter(|c| c.http_status() == status)
                    .map(|c| format!("`{c}`"))
                    .collect();
                let said = response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let codes = match codes.len() {
                    0 => String::new(),
                    1 => format!("Error code {}.", codes[0]),
                    _ => format!("Error code one of {}.", codes.join(", ")),
                };
                response["description"] = json!(format!("{said} {codes}").trim().to_string());
                let content = response
                    .as_object_mut()
                    .expect("a response is an object")
                    .entry("content")
                    .or_insert_with(|| json!({}));
                let content = content.as_object_mut().expect("content is an object");
                content.entry("application/json").or_insert_with(
                    || json!({"schema": {"$ref": "#/components/schemas/ErrorBody"}}),
                );
                if page && status != 429 {
                    content
                        .entry("text/html")
                        .or_insert_with(|| json!({"schema": {"type": "string"}}));
                }
            }
        }
    }
}

/// This server's limits, as the schemas' bounds.
fn limits(doc: &mut Value, config: &Config) {
    let schemas = &mut doc["components"]["schemas"];
    let mut bound = |schema: &str, property: &str, key: &str, value: u64| {
        let p = &mut schemas[schema]["properties"][property];
        if p.is_object() {
            p[key] = json!(value);
        }
    };
    bound("CreateDrop", "size", "maximum", config.max_drop_size);
    bound("CompleteRequest", "size", "maximum", config.max_drop_size);
    bound(
        "ReserveRequest",
        "count",
        "maximum",
        config.max_reserve.into(),
    );
    bound("PartToSend", "number", "maximum", config.max_parts.into());
    bound("PartToSend", "size", "maximum", config.max_part_size);
    bound("CompletePart", "number", "maximum", config.max_parts.into());
}
