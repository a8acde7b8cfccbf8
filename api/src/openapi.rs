//! `GET /api/openapi.json`: the OpenAPI 3.0 document of every endpoint and
//! the error envelope, built from [`ENDPOINTS`] (the table the tests check
//! against the router) and the schema definitions below.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::routes::{events, profiles, recommendations, uv};

/// One documented operation.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint {
    /// HTTP method, lower case.
    pub method: &'static str,
    /// Path template (`{name}` parameters, as routed).
    pub path: &'static str,
    /// Summary.
    pub summary: &'static str,
    /// Query parameters: (name, description).
    pub query: &'static [(&'static str, &'static str)],
    /// Request body schema name, if any.
    pub body: Option<&'static str>,
    /// Success status and schema name (`text` for non-JSON).
    pub ok: (u16, &'static str),
    /// Error statuses it can answer with the envelope.
    pub errors: &'static [u16],
}

/// Every endpoint of the API.
pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "post",
        path: "/api/user-behavior",
        summary: "Ingest one event or an array of up to 1,000 (202 once Kafka acknowledged every one, acks=all). Bearer token required when configured.",
        query: &[],
        body: Some("EventOrBatch"),
        ok: (202, "Accepted"),
        errors: &[400, 401, 413, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/user-behavior",
        summary: "The most recent events, newest first.",
        query: &[("limit", "1 to 1000, default 50")],
        body: None,
        ok: (200, "RecentEvents"),
        errors: &[400, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/user-profile/{userId}",
        summary: "A user's tag scores, top tags and event counts (an empty profile for an unknown user).",
        query: &[],
        body: None,
        ok: (200, "Profile"),
        errors: &[400, 503],
    },
    Endpoint {
        method: "post",
        path: "/api/user-profiles",
        summary: "Profiles of up to 500 users, in request order.",
        query: &[],
        body: Some("ProfilesRequest"),
        ok: (200, "Profiles"),
        errors: &[400, 413, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/recommendations/{userId}",
        summary: "Catalog products matching the user's interest tags, ranked by tag score × (1 + ln(1 + today's UV)), purchases excluded; popular products for cold users.",
        query: &[("limit", "1 to 100, default 10")],
        body: None,
        ok: (200, "Recommendations"),
        errors: &[400, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/uv-data",
        summary: "Catalog products and their unique visitors on a day, highest first (every product in the hash when no catalog is loaded).",
        query: &[("date", "YYYY-MM-DD, default today"), ("limit", "1 to 1000, default 20")],
        body: None,
        ok: (200, "DayUv"),
        errors: &[400, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/uv-data/{productId}",
        summary: "A product's daily unique visitors.",
        query: &[("from", "YYYY-MM-DD, default to − 6 days"), ("to", "YYYY-MM-DD, default today")],
        body: None,
        ok: (200, "Series"),
        errors: &[400, 503],
    },
    Endpoint {
        method: "get",
        path: "/api/stats",
        summary: "Live events/s (from the event topics' high watermarks) and snapshot facts, for the dashboard.",
        query: &[],
        body: None,
        ok: (200, "Stats"),
        errors: &[],
    },
    Endpoint {
        method: "get",
        path: "/api/openapi.json",
        summary: "This document.",
        query: &[],
        body: None,
        ok: (200, "object"),
        errors: &[],
    },
    Endpoint {
        method: "get",
        path: "/metrics",
        summary: "Prometheus metrics (text exposition).",
        query: &[],
        body: None,
        ok: (200, "text"),
        errors: &[],
    },
    Endpoint {
        method: "get",
        path: "/healthz",
        summary: "The process is alive.",
        query: &[],
        body: None,
        ok: (200, "object"),
        errors: &[],
    },
    Endpoint {
        method: "get",
        path: "/readyz",
        summary: "Redis and Kafka are reachable.",
        query: &[],
        body: None,
        ok: (200, "object"),
        errors: &[503],
    },
    Endpoint {
        method: "get",
        path: "/",
        summary: "The dashboard (HTML).",
        query: &[],
        body: None,
        ok: (200, "html"),
        errors: &[],
    },
];

fn reference(name: &str) -> Value {
    match name {
        "text" => json!({"text/plain": {"schema": {"type": "string"}}}),
        "html" => json!({"text/html": {"schema": {"type": "string"}}}),
        "object" => json!({"application/json": {"schema": {"type": "object"}}}),
        _ => {
            json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}})
        }
    }
}

fn operation(e: &Endpoint) -> Value {
    let mut parameters: Vec<Value> = e
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(e.query.iter().map(|(name, description)| {
        let schema = if *name == "limit" { json!({"type": "integer", "minimum": 1}) } else { json!({"type": "string", "format": "date"}) };
        json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
    }));
    let mut responses = Map::new();
    responses.insert(
        e.ok.0.to_string(),
        json!({"description": "success", "content": reference(e.ok.1)}),
    );
    for status in e.errors {
        responses.insert(
            status.to_string(),
            json!({"description": error_description(*status), "content": reference("Error")}),
        );
    }
    responses.insert("default".into(), json!({"description": "any other error (404 unknown route, 405, 503 timeout)", "content": reference("Error")}));
    let mut op = json!({"summary": e.summary, "parameters": parameters, "responses": responses});
    if let Some(body) = e.body {
        op["requestBody"] = json!({"required": true, "content": reference(body)});
    }
    if e.method == "post" && e.path == "/api/user-behavior" {
        op["security"] = json!([{"bearer": []}, {}]);
    }
    op
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "invalid request; `details` names every bad field",
        401 => "missing or wrong bearer token",
        413 => "body over the limit",
        503 => "Redis or Kafka unavailable, or the request timed out",
        _ => "error",
    }
}

fn schemas() -> Value {
    let string = json!({"type": "string"});
    let string_array = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["code", "message", "details"], "properties": {
                "code": {"type": "string", "example": "validation_failed"},
                "message": string,
                "details": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}}}}}},
        "FieldError": {"type": "object", "required": ["field", "reason", "message"], "properties": {
            "index": {"type": "integer", "description": "position in a batch"},
            "field": string, "reason": string, "message": string}},
        "Event": {"type": "object", "required": ["eventId", "userId", "productId", "eventType", "timestamp", "tags"], "properties": {
            "eventId": {"type": "string", "minLength": 1}, "userId": {"type": "string", "minLength": 1},
            "productId": {"type": "string", "minLength": 1},
            "eventType": {"type": "string", "enum": ["view", "add_to_cart", "purchase"]},
            "timestamp": {"type": "integer", "description": "ms since the Unix epoch, years 2000 to 2099"},
            "tags": {"type": "array", "minItems": 1, "maxItems": 8, "items": {"type": "string", "minLength": 1}},
            "price": {"type": "number", "minimum": 0}, "quantity": {"type": "integer", "minimum": 0},
            "sessionId": string}},
        "EventOrBatch": {"oneOf": [{"$ref": "#/components/schemas/Event"},
            {"type": "array", "minItems": 1, "maxItems": events::MAX_BATCH, "items": {"$ref": "#/components/schemas/Event"}}]},
        "Accepted": {"type": "object", "properties": {"accepted": {"type": "integer"}}},
        "RecentEvents": {"type": "object", "properties": {"events": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}}},
        "Profile": {"type": "object", "properties": {
            "userId": string,
            "tagScores": {"type": "object", "additionalProperties": {"type": "integer"}},
            "topTags": string_array,
            "eventCounts": {"type": "object", "additionalProperties": {"type": "integer"}},
            "lastEventAt": {"type": "integer", "nullable": true}}},
        "ProfilesRequest": {"type": "object", "required": ["userIds"], "properties": {
            "userIds": {"type": "array", "minItems": 1, "maxItems": profiles::MAX_IDS, "items": string}}},
        "Profiles": {"type": "object", "properties": {"profiles": {"type": "array", "items": {"$ref": "#/components/schemas/Profile"}}}},
        "RecommendedItem": {"type": "object", "properties": {
            "productId": string, "name": string, "price": {"type": "number"}, "tags": string_array,
            "matchedTags": string_array, "score": {"type": "number"}, "uvToday": {"type": "integer"}}},
        "Recommendations": {"type": "object", "properties": {
            "userId": string, "strategy": {"type": "string", "enum": ["interest", "popular"]},
            "popularityDay": {"type": "string", "format": "date"},
            "items": {"type": "array", "maxItems": recommendations::MAX_LIMIT, "items": {"$ref": "#/components/schemas/RecommendedItem"}}}},
        "DayUv": {"type": "object", "properties": {"date": {"type": "string", "format": "date"},
            "products": {"type": "array", "maxItems": uv::MAX_PRODUCTS, "items": {"type": "object", "properties": {
                "productId": string, "name": string, "uv": {"type": "integer"}}}}}},
        "Series": {"type": "object", "properties": {"productId": string, "series": {"type": "array",
            "items": {"type": "object", "properties": {"date": {"type": "string", "format": "date"}, "uv": {"type": "integer"}}}}}},
        "Stats": {"type": "object", "properties": {"eventsPerSecond": {"type": "number", "nullable": true},
            "eventsTotal": {"type": "integer"}, "catalogProducts": {"type": "integer"}, "popularityDay": string}}
    })
}

/// The whole document.
pub fn build() -> Value {
    let mut paths = Map::new();
    for e in ENDPOINTS {
        let entry = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        entry[e.method] = operation(e);
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "tagflow API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Ingestion, user profiles, recommendations and unique visitors. Every error uses the `Error` envelope."},
        "paths": paths,
        "components": {"schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}

/// `GET /api/openapi.json`.
pub async fn document() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let body = DOC.get_or_init(|| build().to_string()).clone();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reference_resolves() {
        let doc = build();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
        assert_eq!(doc["paths"].as_object().unwrap().len(), 12);
    }
}
