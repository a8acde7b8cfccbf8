//! The dashboard at `/`: hand-written HTML, CSS and JavaScript embedded in
//! the binary (no Node build step), polling the JSON endpoints.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

const INDEX: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/dashboard.js");
const STYLE: &str = include_str!("../assets/dashboard.css");

/// The dashboard's routes, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(index)).routes(routes!(script)).routes(routes!(style))
}

/// `GET /`: the dashboard page.
#[utoipa::path(get, path = "/", tag = "dashboard", summary = "The dashboard",
    responses((status = 200, description = "the page", content_type = "text/html", body = String)))]
pub async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX)
}

/// `GET /assets/dashboard.js`.
#[utoipa::path(get, path = "/assets/dashboard.js", tag = "dashboard", summary = "The dashboard's script",
    responses((status = 200, description = "the script", content_type = "text/javascript", body = String)))]
pub async fn script() -> impl IntoResponse {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /assets/dashboard.css`.
#[utoipa::path(get, path = "/assets/dashboard.css", tag = "dashboard", summary = "The dashboard's style sheet",
    responses((status = 200, description = "the style sheet", content_type = "text/css", body = String)))]
pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", STYLE)
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "max-age=300")], body)
}
