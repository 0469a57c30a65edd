//! HTTP plumbing shared by every endpoint: errors, extractors, pagination, filters, and the
//! middleware that logs, measures and normalises requests.

pub mod client;
pub mod crud;
pub mod error;
pub mod filters;
pub mod hardening;
pub mod hosts;
pub mod json;
mod observe;
pub mod pagination;
pub mod request;
pub mod server;
pub mod time;
pub mod unique;
pub mod validate;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use error::ApiError;
pub use observe::{REQUEST_ID, current_request_id, observe, with_request_id};

/// Makes the trailing slash optional: `/api/v1/users/5/` and `/api/v1/users/5` route alike.
/// The docs page keeps its own slashes (its assets are resolved relative to it), an exception
/// that tower-http's `NormalizePathLayer` cannot make.
pub async fn trim_trailing_slash(mut req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/api/docs") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match req.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            let mut parts = req.uri().clone().into_parts();
            parts.path_and_query = uri.into_parts().path_and_query;
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

/// `format=json` is the only renderer of the API; any other `format` is a 404, as in DRF
/// (which negotiates the renderer before it authenticates). An export request (`fields` or
/// `status_cache_key`) uses `format` for the file format instead.
pub async fn json_renderer_only(req: Request, next: Next) -> Response {
    let query = req.uri().query().unwrap_or("");
    let mut format = None;
    let mut export = false;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "format" => format = Some(value),
            "fields" | "status_cache_key" => export = true,
            _ => {}
        }
    }
    let renderer_ok = matches!(format.as_deref(), None | Some("json") | Some(""));
    if !renderer_ok && !export && req.uri().path().starts_with("/api/v1/") {
        return ApiError::NotFound.into_response();
    }
    next.run(req).await
}

pub async fn not_found() -> Response {
    ApiError::NotFound.into_response()
}

pub async fn method_not_allowed(req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let mut response = ApiError::MethodNotAllowed.into_response();
    *response.body_mut() = axum::body::Body::from(
        serde_json::json!({ "detail": format!("Method \"{method}\" not allowed.") }).to_string(),
    );
    response
}
