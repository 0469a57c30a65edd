//! `POST …/import/` (upload a file, start its import), `GET …/import/?status_cache_key=` (its
//! progress) and the signed link to its error report.

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use super::file::Target;
use super::record::{self, ImportRow};
use super::upload::{self, ImportRequest};
use crate::auth::Caller;
use crate::exports::link;
use crate::exports::record::Owner;
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::filters::parse_bool;
use crate::http::request::RequestUrl;
use crate::http::time;
use crate::state::AppState;

/// A form that carries the file (`multipart/form-data`); other parts are ignored.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // describes the form in the OpenAPI document; the parts are read as a stream
pub struct ImportForm {
    /// The CSV or XLSX file.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The answer to an upload: 202, the import runs in the background.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStarted {
    /// 32 hexadecimal characters.
    #[schema(example = "beacaa8ba65571e3840e28a11f17481e")]
    pub cache_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportProgress {
    /// Data rows in the file, known once the import has started.
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    pub created: i64,
    pub updated: i64,
    pub failed: i64,
}

/// The answer to `?status_cache_key=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStatus {
    /// `waiting`, `processing`, `completed` or `failed`.
    pub status: &'static str,
    pub progress: ImportProgress,
    /// A signed link to a CSV of `row,field,message` for every refused row; null when none.
    pub errors_url: Option<String>,
    /// Why the import failed (only when `failed`).
    pub reason: Option<String>,
    /// Columns of the file that no field reads.
    pub warnings: Vec<String>,
    pub dry_run: bool,
}

/// `mode` (`create` or `upsert`) and `dry_run` from the query; upsert?, dry run? Both are
/// checked before answering, so a 400 names each bad one.
fn parse_options(url: &RequestUrl) -> ApiResult<(bool, bool)> {
    let mut errors = FieldErrors::new();
    let upsert = match url.get("mode").unwrap_or("create") {
        "create" | "" => false,
        "upsert" => true,
        other => {
            errors.add(
                "mode",
                format!("Select a valid choice. {other} is not one of the available choices: create, upsert."),
            );
            false
        }
    };
    let dry_run = match url.get("dry_run").unwrap_or("false") {
        "" => false,
        raw => parse_bool(raw).unwrap_or_else(|| {
            errors.add("dry_run", "Must be a valid boolean.");
            false
        }),
    };
    errors.into_result()?;
    Ok((upsert, dry_run))
}

/// Starts an import of `target` from the request: its options, then its upload.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    target: Target,
    url: &RequestUrl,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<String> {
    let (upsert, dry_run) = parse_options(url)?;
    let request = ImportRequest {
        target,
        upsert,
        dry_run,
        owner: Owner::of(caller),
    };
    upload::start(state, request, headers, body).await
}

fn errors_file(cache_key: &str) -> String {
    format!("import-errors-{cache_key}.csv")
}

/// The status of the caller's import `key`; someone else's, unknown or expired → 404.
pub async fn status(
    state: &AppState,
    caller: &Caller,
    url: &RequestUrl,
) -> ApiResult<ImportStatus> {
    let Some(key) = url.get("status_cache_key") else {
        return Err(ApiError::Validation(FieldErrors::single(
            "status_cache_key",
            "This field is required.",
        )));
    };
    let import: ImportRow = record::by_key(&state.db, key)
        .await?
        .filter(|i| i.expires_at > time::now() && i.visible_to(caller))
        .ok_or(ApiError::NotFound)?;
    let status = import.status();
    let errors_url = (import.failed > 0).then(|| {
        let file = errors_file(&import.cache_key);
        let expires = import.expires_at.timestamp();
        let signature = link::sign(&state.secret_key, &file, expires);
        url.absolute(&format!(
            "/import_errors/{}.csv?expires={expires}&signature={signature}",
            import.cache_key
        ))
    });
    Ok(ImportStatus {
        status: status.as_str(),
        progress: ImportProgress {
            rows_total: import.rows_total,
            rows_done: import.rows_done,
            created: import.created,
            updated: import.updated,
            failed: import.failed,
        },
        errors_url,
        reason: import.reason.clone(),
        warnings: serde_json::from_str(&import.warnings).unwrap_or_default(),
        dry_run: import.dry_run,
    })
}

/// Downloads an import's error report (no token: the signed link is the credential).
#[utoipa::path(get, path = "/import_errors/{file}", tag = "imports", security(()),
    params(("file" = String, Path, description = "`<cache_key>.csv`"),
        ("expires" = i64, Query, description = "Unix time after which the link stops working"),
        ("signature" = String, Query, description = "HMAC-SHA256 of the report's name and expiry")),
    responses((status = 200, description = "`row,field,message`, one line per error", content_type = "text/csv"),
        (status = 400, description = "A NUL character in a query parameter"),
        (status = 403, description = "Tampered or expired link"),
        (status = 404, description = "No such import (any more)")))]
pub async fn download_errors(
    State(state): State<AppState>,
    UrlPath(file): UrlPath<String>,
    url: RequestUrl,
) -> ApiResult<Response> {
    let key = file.strip_suffix(".csv").ok_or(ApiError::NotFound)?;
    let expires = url.get("expires").and_then(|v| v.parse::<i64>().ok());
    let signature = url.get("signature").unwrap_or("");
    let valid = expires.is_some_and(|e| {
        link::verify(&state.secret_key, &errors_file(key), e, signature)
            && e > time::now().timestamp()
    });
    if !valid {
        return Err(ApiError::Domain {
            status: StatusCode::FORBIDDEN,
            code: "invalid_link",
            detail: "This download link is invalid or has expired.".into(),
        });
    }
    let import = record::by_key(&state.db, key)
        .await?
        .ok_or(ApiError::NotFound)?;
    let db = state.db.clone();
    let header = futures_util::stream::once(async {
        Ok::<_, sqlx::Error>(Bytes::from_static(b"row,field,message\r\n"))
    });
    let rows = futures_util::stream::try_unfold(Some(0i64), move |after| {
        let db = db.clone();
        async move {
            let Some(after) = after else { return Ok(None) };
            let page = record::errors_after(&db, import.id, after, 1000).await?;
            if page.is_empty() {
                return Ok(None);
            }
            let mut out = csv::WriterBuilder::new()
                .has_headers(false)
                .terminator(csv::Terminator::CRLF)
                .from_writer(Vec::new());
            for e in &page {
                let _ = out.write_record([e.row_number.to_string().as_str(), &e.field, &e.message]);
            }
            let bytes = out.into_inner().unwrap_or_default();
            let next = (page.len() == 1000).then(|| page.last().map_or(after, |e| e.id));
            Ok(Some((Bytes::from(bytes), next)))
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/csv; charset=utf-8")
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"import-errors-{key}.csv\""),
        )
        .header(header::CACHE_CONTROL, "private, no-store")
        .body(Body::from_stream(header.chain(rows)))
        .map_err(|e| ApiError::Internal(e.into()))
        .map(IntoResponse::into_response)
}
