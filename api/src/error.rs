//! One JSON error envelope for every failure the API reports:
//! `{"error":{"code":"…","message":"…","details":[…]}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Position of the item in a batch, when the request was an array.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field (JSON name), or `body` for the request as a whole.
    pub field: String,
    /// A stable reason code (the dataflow job's dead-letter reasons for events).
    pub reason: String,
    /// What is wrong, for people.
    pub message: String,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is invalid; `details` names every bad field.
    #[error("{message}")]
    Validation {
        /// Summary.
        message: String,
        /// Every problem found.
        details: Vec<FieldError>,
    },
    /// A query or path parameter is invalid.
    #[error("{0}")]
    BadRequest(String),
    /// The body is over the limit.
    #[error("request body is over the {0}-byte limit")]
    PayloadTooLarge(usize),
    /// Missing or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No such route.
    #[error("no route for {0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (Redis, Kafka, the dataflow job's metrics) is
    /// unavailable or too slow.
    #[error("{dependency} unavailable: {message}")]
    Unavailable {
        /// `redis`, `kafka` or `job`.
        dependency: &'static str,
        /// What happened.
        message: String,
    },
    /// The request took longer than the configured timeout.
    #[error("request took longer than {0:?}")]
    Timeout(std::time::Duration),
    /// A bug or unexpected data.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The envelope's body: every error the API answers has this shape.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// The error.
    pub error: ErrorInner<'a>,
}

/// The envelope's `error` object.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorInner<'a> {
    /// Stable machine-readable code.
    #[schema(example = "validation_failed")]
    pub code: &'a str,
    /// What went wrong, for people.
    pub message: &'a str,
    /// Per-field problems (validation errors only; otherwise empty).
    pub details: &'a [FieldError],
}

impl AppError {
    /// A Redis failure.
    pub fn redis(err: impl std::fmt::Display) -> Self {
        AppError::Unavailable { dependency: "redis", message: err.to_string() }
    }

    /// A Kafka failure.
    pub fn kafka(err: impl std::fmt::Display) -> Self {
        AppError::Unavailable { dependency: "kafka", message: err.to_string() }
    }

    /// The dataflow job's metrics could not be read.
    pub fn job(err: impl std::fmt::Display) -> Self {
        AppError::Unavailable { dependency: "job", message: err.to_string() }
    }

    /// A single-field validation error.
    pub fn field(field: &str, reason: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        AppError::Validation {
            message: format!("invalid {field}: {message}"),
            details: vec![FieldError {
                index: None,
                field: field.into(),
                reason: reason.into(),
                message,
            }],
        }
    }

    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation { .. } | AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Unavailable { .. } | AppError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable code of the envelope.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Validation { .. } => "validation_failed",
            AppError::BadRequest(_) => "bad_request",
            AppError::PayloadTooLarge(_) => "payload_too_large",
            AppError::Unauthorized => "unauthorized",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed => "method_not_allowed",
            AppError::Unavailable { dependency: "redis", .. } => "redis_unavailable",
            AppError::Unavailable { dependency: "job", .. } => "job_unreachable",
            AppError::Unavailable { .. } => "kafka_unavailable",
            AppError::Timeout(_) => "timeout",
            AppError::Internal(_) => "internal",
        }
    }
}

/// The envelope response for `status`, `code` and `message`.
pub fn envelope(status: StatusCode, code: &str, message: &str, details: &[FieldError]) -> Response {
    let body = ErrorBody { error: ErrorInner { code, message, details } };
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// Marks a response that failed because a dependency did not answer (a
/// response extension, read by [`crate::fallback`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DependencyDown(pub &'static str);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code(), error = %self, "request failed");
        }
        let details = match &self {
            AppError::Validation { details, .. } => details.as_slice(),
            _ => &[],
        };
        let mut response = envelope(status, self.code(), &self.to_string(), details);
        if let AppError::Unavailable { dependency, .. } = &self {
            response.extensions_mut().insert(DependencyDown(dependency));
        }
        response
    }
}

/// Result of a handler.
pub type AppResult<T> = Result<T, AppError>;
