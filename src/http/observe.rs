//! Request ids, the request span, and the one log line and metrics sample of each request.
//! The log line and a `Server-Timing: db;desc="N queries"` header say how many database
//! statements the handler sent ([`count_queries`]).
//!
//! Every request runs inside a `request` span carrying `request_id`, `method`, `route`, the
//! client's address and, once the [`Caller`](crate::auth::Caller) extractor has run, `caller`
//! (`user:12`, `staff:4`, `service`); its line gives the status and the duration in
//! milliseconds to one decimal; every line logged
//! while the request is handled (a 500's `internal error` line included) therefore names the
//! request id. The id is also set as a task-local value for the request's task, so that
//! [`jobs::enqueue`](crate::jobs::enqueue) stores it with each job the request queues and the
//! worker's `job` span names it too, without passing it through every function on the way:
//! a span's fields cannot be read back, and a task-local ends with the request by construction.
//!
//! tower-http's request-id and trace layers are not used: kadro replaces a client's id that is
//! empty, over 128 characters or not printable ASCII, and logs and measures each request by its
//! matched route in one place; those layers would split this into three without saving code.

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::client::TrustedProxies;
use crate::db::count_queries;

/// Header carrying the request id, taken from the client or generated.
pub const REQUEST_ID: &str = "x-request-id";

/// Header with the database statements the request cost (W3C Server Timing).
pub const SERVER_TIMING: &str = "server-timing";

tokio::task_local! {
    /// The id of the request (or of the request that queued the job) being handled.
    static CURRENT_REQUEST_ID: String;
}

/// The id of the request this task is handling: inside a request, or a job that a request
/// queued; `None` elsewhere (the command line, a job queued outside any request).
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` with `request_id` as the current request id (a job carries its request's id).
pub async fn with_request_id<F: Future>(request_id: Option<String>, work: F) -> F::Output {
    match request_id {
        Some(id) => CURRENT_REQUEST_ID.scope(id, work).await,
        None => work.await,
    }
}

/// The request's span, one log line and one metrics sample per request, tagged with a
/// request id.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.chars().all(|c| c.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().clone();
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            let proxies = req.extensions().get::<TrustedProxies>();
            let client = proxies.map_or(peer.ip(), |p| p.client(peer.ip(), req.headers()));
            client.to_string()
        })
        .unwrap_or_else(|| "-".to_owned());
    let header = HeaderValue::from_str(&request_id).ok();
    if let Some(value) = &header {
        req.headers_mut().insert(REQUEST_ID, value.clone());
    }
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        client = %client,
        caller = tracing::field::Empty,
    );
    let (mut response, queries) = CURRENT_REQUEST_ID
        .scope(
            request_id,
            count_queries(next.run(req).instrument(span.clone())),
        )
        .await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    if let Some(value) = header {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // The database round trips the handler made (not those of a streamed body after it).
    if let Ok(value) = HeaderValue::from_str(&format!("db;desc=\"{queries} queries\"")) {
        response.headers_mut().append(SERVER_TIMING, value);
    }
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("kadro_http_requests_total", &labels).increment(1);
    metrics::histogram!("kadro_http_request_duration_seconds", &labels)
        .record(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            target: "kadro::request",
            status,
            queries,
            duration_ms = (elapsed.as_secs_f64() * 10_000.0).round() / 10.0,
            "request"
        )
    });
    response
}
