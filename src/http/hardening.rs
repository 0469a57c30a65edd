//! What every answer is held to: the security headers, the docs page's Content-Security-Policy,
//! no `Server` banner, and the handler deadline.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// Sent with every answer (the server's own 408 included).
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// The policy of HTML pages (the docs): scripts, styles, fonts and requests to this server
/// only, images also as `data:` URLs (Swagger UI draws its icons so), no inline script, no
/// plugin, no framing. The one inline style allowed, by its hash, is the `<style>` of the
/// Swagger logo that Swagger UI 5.17 puts in its top bar.
pub const HTML_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds [`SECURITY_HEADERS`], and [`HTML_CSP`] to HTML pages without a policy of their own;
/// removes any `Server` header.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers.remove(header::SERVER);
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/html")
        });
    // A page that set a stricter policy of its own (the console's) keeps it.
    if html && !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(HTML_CSP),
        );
    }
    response
}

/// Answers 504 when the handler has not produced its answer's head within `limit`; a body
/// streamed after the head (an export download) is not limited, nor is an import upload, whose
/// handler reads a body of up to `KADRO_IMPORT_MAX_BYTES` before it answers.
pub async fn handler_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let upload = req.method() == axum::http::Method::POST
        && req.uri().path().trim_end_matches('/').ends_with("/import");
    if upload {
        return next.run(req).await;
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::HandlerTimeout.into_response(),
    }
}
