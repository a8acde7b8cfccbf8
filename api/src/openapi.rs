//! The OpenAPI document, generated from the handlers' own types and their
//! `#[utoipa::path]` annotations by `utoipa` and `utoipa-axum`. [`routes`]
//! is the only place routes are declared: each comes with its operation,
//! so a route cannot be served undocumented, nor documented unserved.
//! `GET /api/openapi.json` serves the document.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Content, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dashboard;
use crate::error::{ErrorBody, FieldError};
use crate::routes::{events, health, job, leaderboards, profiles, recommendations, uv};
use crate::state::AppState;

/// The document's fixed parts; the paths come from the routes.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "tagflow API",
        description = "Ingestion, user profiles, recommendations, unique visitors and leaderboards. Every error uses the `Error` envelope."
    ),
    components(schemas(ErrorBody<'static>, FieldError)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme of the write endpoint.
#[derive(Debug)]
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components
            .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Gives every operation a `default` response in the error envelope: the
/// errors any route can answer (404, 405, 429 over the rate limit, 503
/// when the request timed out).
fn with_default_errors(mut openapi: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let default = ResponseBuilder::new()
        .description("any other error: 405, 429 over the rate limit, 503 request timeout")
        .content("application/json", Content::new(Some(Ref::from_schema_name("Error"))))
        .build();
    for item in openapi.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            operation.responses.responses.insert("default".into(), default.clone().into());
        }
    }
    openapi
}

/// Every route of the API with its documentation.
pub fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(events::ingest, events::recent))
        .routes(routes!(profiles::profile))
        .routes(routes!(profiles::profiles))
        .routes(routes!(recommendations::recommendations))
        .routes(routes!(uv::by_day))
        .routes(routes!(uv::series))
        .routes(routes!(leaderboards::top_products))
        .routes(routes!(leaderboards::top_tags))
        .routes(routes!(leaderboards::top_tag_products))
        .routes(routes!(health::stats))
        .routes(routes!(job::job_health))
        .routes(routes!(document))
        .routes(routes!(health::metrics))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .merge(dashboard::routes())
        .split_for_parts();
    (router, with_default_errors(doc))
}

/// The document as JSON, built once.
pub fn json() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| routes().1.to_json().unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")))
}

/// `GET /api/openapi.json`.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations", summary = "This document",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
pub async fn document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], json()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc: serde_json::Value = serde_json::from_str(json()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in json().split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), 18);
    }
}
