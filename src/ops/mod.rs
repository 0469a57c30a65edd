//! Operations: health and readiness probes, Prometheus metrics, the OpenAPI schema and the
//! offline docs page.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use utoipa_swagger_ui::SwaggerUi;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/api/schema", get(schema))
}

/// The Swagger UI page; its assets are compiled into the binary (no CDN).
pub fn docs() -> SwaggerUi {
    // No online validator badge: the page loads nothing from elsewhere (see its CSP).
    SwaggerUi::new("/api/docs")
        .url("/api/docs/openapi.json", crate::openapi::spec())
        .config(utoipa_swagger_ui::Config::default().validator_url("none"))
}

/// `GET /`: the API documentation.
pub async fn to_docs() -> axum::response::Redirect {
    axum::response::Redirect::temporary("/api/docs/")
}

async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.shutting_down.is_cancelled() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "shutting down" })),
        );
    }
    if let Err(e) = state.db.ping().await {
        tracing::warn!(error = %e, "database not reachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "database unreachable" })),
        );
    }
    if let Err(e) = state.exports.check().await {
        tracing::warn!(error = %e, "export store not reachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({ "status": "export store unreachable" })),
        );
    }
    (
        StatusCode::OK,
        axum::Json(serde_json::json!({ "status": "ready" })),
    )
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    record_queue_depth(&state).await;
    let (open, idle) = state.db.pool_use();
    metrics::gauge!("kadro_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("kadro_db_pool_connections", "state" => "in_use")
        .set(f64::from(open).max(idle as f64) - idle as f64);
    metrics::gauge!("kadro_db_pool_max").set(f64::from(state.config.db_max_connections));
    let mut text = metrics_handle().render();
    if let crate::commerce::Commerce::Remote(remote) = &state.commerce {
        text.push_str(&remote.guard().render_metrics());
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// `kadro_job_queue_depth` and `kadro_job_queue_depth_by_kind`, from one query. A kind seen
/// once is reported (as 0) after its queue empties, so a graph drops to zero instead of
/// keeping its last value.
async fn record_queue_depth(state: &AppState) {
    static SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let Ok(depths) = crate::jobs::queue_depth_by_kind(&state.db).await else {
        return;
    };
    let total: i64 = depths.iter().map(|(_, n)| n).sum();
    metrics::gauge!("kadro_job_queue_depth").set(total as f64);
    let Ok(mut seen) = SEEN.lock() else { return };
    for (kind, _) in &depths {
        if !seen.contains(kind) {
            seen.push(kind.clone());
        }
    }
    for kind in seen.iter() {
        let n = depths
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("kadro_job_queue_depth_by_kind", "kind" => kind.clone()).set(n as f64);
    }
}

async fn schema() -> impl IntoResponse {
    axum::Json(crate::openapi::spec())
}

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ])
            .map(|b| b.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
        describe_metrics();
        // Counters that matter most when they stay at 0 are shown from the start.
        for kind in ["user", "staff"] {
            for reason in crate::auth::lockout::Failure::ALL.map(|r| r.as_str()) {
                metrics::counter!("kadro_login_failures_total", "kind" => kind, "reason" => reason)
                    .absolute(0);
            }
            metrics::counter!("kadro_login_lockouts_total", "kind" => kind).absolute(0);
        }
        handle
    })
}

/// The `# HELP` line of every metric kadro records.
fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "kadro_http_requests_total",
        "HTTP requests answered, by method, matched route and status."
    );
    describe_histogram!(
        "kadro_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by method, matched route and status."
    );
    describe_gauge!(
        "kadro_job_queue_depth",
        "Background jobs waiting to run (read when /metrics is scraped)."
    );
    describe_gauge!(
        "kadro_job_queue_depth_by_kind",
        "Background jobs queued or running, by job kind."
    );
    describe_gauge!(
        "kadro_db_pool_connections",
        "Database pool connections, by state (idle, in_use)."
    );
    describe_gauge!(
        "kadro_db_pool_max",
        "Most database connections the pool opens (KADRO_DB_MAX_CONNECTIONS)."
    );
    describe_histogram!(
        "kadro_job_duration_seconds",
        Unit::Seconds,
        "Time a background job step took, by job kind."
    );
    describe_histogram!(
        "kadro_export_duration_seconds",
        Unit::Seconds,
        "Time to build an export file, by format."
    );
    describe_counter!(
        "kadro_commerce_calls_total",
        "Calls to the Commerce platform, by outcome."
    );
    describe_counter!(
        "kadro_login_failures_total",
        "Failed logins, by account kind (user, staff) and reason (unknown_account, wrong_password, inactive, locked)."
    );
    describe_counter!(
        "kadro_login_lockouts_total",
        "Login locks imposed after too many failures, by account kind (user, staff)."
    );
    describe_gauge!(
        "kadro_http_connections_open",
        "Client connections open now."
    );
    describe_gauge!(
        "kadro_http_connections_max",
        "Client connections served at once (KADRO_MAX_CONNECTIONS); more wait to be accepted."
    );
    describe_counter!(
        "kadro_http_connections_timed_out_total",
        "Connections closed by a deadline, by reason (read: a request not received in time; idle)."
    );
}
