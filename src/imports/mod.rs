//! Bulk imports: a CSV or XLSX file of accounts (B2B users, Instore staffs) in, a background
//! job writing them in batches, a status and an error report.
//!
//! # The flow
//!
//! 1. `POST /api/v1/users/import/?mode=create|upsert&dry_run=false` with the file as the body
//!    (`text/csv`, the XLSX type, or a `multipart/form-data` form's `file` part, up to
//!    `KADRO_IMPORT_MAX_BYTES`): the upload is streamed ([`upload`]) into a file in the
//!    export directory (`.imports/`), its header row checked (a missing required column is a
//!    400 naming it), and the import (an `imports` row) and its `import.run` job recorded in one
//!    transaction; the answer is 202 `{"cache_key"}`.
//! 2. A worker runs the job ([`job`]): rows are read in batches of `KADRO_IMPORT_BATCH_ROWS` on a
//!    blocking thread, checked with the API's rules, passwords hashed on the hashing threads
//!    with no transaction open, then each batch is written in one transaction together with its
//!    refused rows and the import's `rows_done`. A crashed attempt resumes after the last
//!    committed batch. An XLSX upload is first turned into CSV ([`xlsx`]).
//! 3. `GET /api/v1/users/import/?status_cache_key=K` → status, progress, warnings and a signed
//!    link to the `row,field,message` report, for the account that asked (or a superuser).
//! 4. The start and the end are audited (`import.start`, `import.finish` with the counts); the
//!    upload is deleted when the import ends, and the import with its report
//!    `KADRO_IMPORT_RETENTION_SECONDS` after the upload, by the periodic cleanup ([`cleanup`]).

pub mod batch;
pub mod cleanup;
pub mod file;
pub mod http;
pub mod job;
pub mod record;
pub mod staffs;
pub mod upload;
mod user_row;
pub mod users;
pub mod xlsx;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;

pub use http::{ImportForm, ImportProgress, ImportStarted, ImportStatus, download_errors};
pub use job::{RUN_JOB, RunImport};

use crate::auth::Superuser;
use crate::http::error::ApiResult;
use crate::http::request::RequestUrl;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/users/import",
            get(users_import_status).post(users_import),
        )
        .route(
            "/api/v1/staffs/import",
            get(staffs_import_status).post(staffs_import),
        )
        .route("/import_errors/{file}", get(download_errors))
}

/// What an import's `target` names.
pub fn target(name: &str) -> Option<file::Target> {
    [users::TARGET, staffs::TARGET]
        .into_iter()
        .find(|t| t.name == name)
}

/// Starts an import of B2B users from a CSV or XLSX file; superusers and service tokens.
#[utoipa::path(post, path = "/api/v1/users/import/", tag = "imports",
    params(("mode" = Option<String>, Query, description = "`create` (default: an existing email is a refused row) or `upsert` (it is updated)"),
        ("dry_run" = Option<bool>, Query, description = "Check every row, write nothing")),
    request_body(content((String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (ImportForm = "multipart/form-data")),
        description = "The file (CSV, or XLSX: its first sheet), as the body or a form's `file` part. Header row first: `email` (required), `first_name`, `last_name`, `phone_number`, `division` or `division_erp_code`, `is_active`, `remote_id`, `password` or `password_hash`"),
    responses((status = 202, body = ImportStarted),
        (status = 400, description = "Bad `mode` or `dry_run`, empty or unreadable file, a form without a `file` part, or a required column missing (named)"),
        (status = 401), (status = 403),
        (status = 413, description = "Larger than `KADRO_IMPORT_MAX_BYTES`"),
        (status = 415, description = "Neither CSV, XLSX nor a form (or a form's file of another type)")))]
pub async fn users_import(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<ImportStarted>)> {
    let cache_key = http::start(&state, &caller, users::TARGET, &url, &headers, body).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ImportStarted { cache_key }),
    ))
}

/// The progress of a users import.
#[utoipa::path(get, path = "/api/v1/users/import/", tag = "imports",
    params(("status_cache_key" = String, Query, description = "The key the upload answered")),
    responses((status = 200, body = ImportStatus),
        (status = 400, description = "No `status_cache_key`"), (status = 401), (status = 403),
        (status = 404, description = "Unknown, expired, or someone else's key")))]
pub async fn users_import_status(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
) -> ApiResult<axum::Json<ImportStatus>> {
    Ok(axum::Json(http::status(&state, &caller, &url).await?))
}

/// Starts an import of Instore staffs from a CSV or XLSX file; superusers and service tokens.
#[utoipa::path(post, path = "/api/v1/staffs/import/", tag = "imports",
    params(("mode" = Option<String>, Query, description = "`create` (default: an existing username or remote_id is a refused row) or `upsert` (the staff is changed with the row's non-empty cells)"),
        ("dry_run" = Option<bool>, Query, description = "Check every row, write nothing")),
    request_body(content((String = "text/csv"),
            (String = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (ImportForm = "multipart/form-data")),
        description = "The file (CSV, or XLSX: its first sheet), as the body or a form's `file` part. Header row first: `username` or `remote_id` (the key; at least one column required), `first_name`, `last_name`, `email`, `password` (new staffs only), `is_active`, `is_staff`, `retail_stores` and `permission_groups` (ids separated by `|`)"),
    responses((status = 202, body = ImportStarted),
        (status = 400, description = "Bad `mode` or `dry_run`, empty or unreadable file, a form without a `file` part, or a required column missing (named)"),
        (status = 401), (status = 403),
        (status = 413, description = "Larger than `KADRO_IMPORT_MAX_BYTES`"),
        (status = 415, description = "Neither CSV, XLSX nor a form (or a form's file of another type)")))]
pub async fn staffs_import(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<ImportStarted>)> {
    let cache_key = http::start(&state, &caller, staffs::TARGET, &url, &headers, body).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ImportStarted { cache_key }),
    ))
}

/// The progress of a staffs import.
#[utoipa::path(get, path = "/api/v1/staffs/import/", tag = "imports",
    params(("status_cache_key" = String, Query, description = "The key the upload answered")),
    responses((status = 200, body = ImportStatus),
        (status = 400, description = "No `status_cache_key`"), (status = 401), (status = 403),
        (status = 404, description = "Unknown, expired, or someone else's key")))]
pub async fn staffs_import_status(
    State(state): State<AppState>,
    Superuser(caller): Superuser,
    url: RequestUrl,
) -> ApiResult<axum::Json<ImportStatus>> {
    Ok(axum::Json(http::status(&state, &caller, &url).await?))
}
