//! The one error type of the HTTP API, rendered in Django REST Framework's shapes.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Field name → messages, plus `non_field_errors`; rendered as `{"field": ["..."]}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, Vec<String>>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.entry(field.into()).or_default().push(message.into());
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds every message of `other`.
    pub fn extend(&mut self, other: FieldErrors) {
        for (field, messages) in other.0 {
            self.0.entry(field).or_default().extend(messages);
        }
    }

    /// Each field with its messages, fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.0.iter().map(|(f, m)| (f.as_str(), m.as_slice()))
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    /// `Ok(())` when nothing was recorded, the 400 otherwise.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self))
        }
    }

    pub fn to_json(&self) -> Value {
        json!(self.0)
    }
}

pub const PERMISSION_DENIED: &str = "You do not have permission to perform this action.";
/// The detail of a 408: the client was too slow to send its request.
pub const REQUEST_TIMEOUT: &str = "The request was not received in time.";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `{"field": ["message"]}`.
    #[error("validation failed")]
    Validation(FieldErrors),
    /// 400 `{"detail": "..."}`.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// `{"detail", "code"}` with a status of its own (`division_not_active`, ...).
    #[error("{code}: {detail}")]
    Domain {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    /// 401: no credentials, or credentials that do not authenticate.
    #[error("unauthenticated: {0}")]
    Unauthenticated(&'static str),
    /// 403 with DRF's standard message.
    #[error("permission denied")]
    PermissionDenied,
    /// 404 `{"detail": "Not found."}`.
    #[error("not found")]
    NotFound,
    /// 404 `{"detail": "Invalid page."}`.
    #[error("invalid page")]
    InvalidPage,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    /// 429 in DRF's throttling shape, with `Retry-After`: try again in this many seconds.
    #[error("throttled for {0} s")]
    Throttled(u64),
    /// 502: the Commerce platform answered with an error or did not answer.
    #[error("commerce platform: {0}")]
    Commerce(String),
    /// 408: the request body did not arrive within `KADRO_REQUEST_READ_TIMEOUT_MS`.
    #[error("request body not received in time")]
    RequestTimeout,
    /// 504: the handler did not start its answer within `KADRO_HANDLER_TIMEOUT_MS`.
    #[error("handler timed out")]
    HandlerTimeout,
    /// 503: the server is shutting down or its database is unreachable.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// 500 with a generic body; the cause is logged, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(FieldErrors::single(field, message))
    }

    pub fn division_not_active() -> Self {
        ApiError::Domain {
            status: StatusCode::BAD_REQUEST,
            code: "division_not_active",
            detail: "Deactivated divisions cannot be assigned to users.".into(),
        }
    }

    pub fn user_already_exists() -> Self {
        ApiError::Domain {
            status: StatusCode::BAD_REQUEST,
            code: "user_already_exists",
            detail: "A user with this email already exists.".into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Domain { status, .. } => *status,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::PermissionDenied => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Commerce(_) => StatusCode::BAD_GATEWAY,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::HandlerTimeout => StatusCode::GATEWAY_TIMEOUT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
        match self {
            ApiError::Validation(errors) => errors.to_json(),
            ApiError::BadRequest(detail) => json!({ "detail": detail }),
            ApiError::Domain { code, detail, .. } => json!({ "detail": detail, "code": code }),
            ApiError::Unauthenticated(detail) => json!({ "detail": detail }),
            ApiError::PermissionDenied => json!({ "detail": PERMISSION_DENIED }),
            ApiError::NotFound => json!({ "detail": "Not found." }),
            ApiError::InvalidPage => json!({ "detail": "Invalid page." }),
            ApiError::MethodNotAllowed => json!({ "detail": "Method not allowed." }),
            ApiError::PayloadTooLarge => {
                json!({ "detail": "Request body is too large (limit 1 MiB)." })
            }
            ApiError::UnsupportedMediaType(ct) => {
                json!({ "detail": format!("Unsupported media type \"{ct}\" in request.") })
            }
            ApiError::Throttled(wait) => {
                let unit = if *wait == 1 { "second" } else { "seconds" };
                json!({
                    "detail": format!("Request was throttled. Expected available in {wait} {unit}.")
                })
            }
            ApiError::Commerce(_) => json!({
                "detail": "The Commerce platform could not be reached or refused the request.",
                "code": "api_connection_error",
            }),
            ApiError::RequestTimeout => json!({ "detail": REQUEST_TIMEOUT }),
            ApiError::HandlerTimeout => {
                json!({ "detail": "The server did not answer in time." })
            }
            ApiError::Unavailable(_) => json!({ "detail": "Service temporarily unavailable." }),
            ApiError::Internal(_) => json!({ "detail": "A server error occurred." }),
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        super::unique::violation(&err).unwrap_or_else(|| ApiError::Internal(err.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::Commerce(cause) => tracing::warn!(%cause, "commerce call failed"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "unavailable"),
            ApiError::HandlerTimeout => tracing::warn!("handler timed out"),
            _ => {}
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Token"));
        }
        if let ApiError::Throttled(wait) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
