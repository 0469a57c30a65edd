//! The export branch of a list request: `?fields=…` starts an export, `?status_cache_key=…`
//! reports on one.

use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};

use super::format::Format;
use super::job::{BUILD_JOB, BuildPayload, MAX_ATTEMPTS, file_name};
use super::link;
use super::record::{self, ExportRow, NewExport, Owner, Status};
use super::source::ExportList;
use crate::auth::Caller;
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::request::RequestUrl;
use crate::http::time;
use crate::jobs::{self, NewJob};
use crate::state::AppState;

/// The export parameters every exportable list accepts (besides its own filters).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// Starts an export of these fields, in this order (repeat the parameter: `fields=id&fields=email`);
    /// answers `{"cache_key"}`. The list's filters apply.
    pub fields: Option<Vec<String>>,
    /// With `fields`: the file format, `csv`, `xls` (default) or `xlsx`.
    pub format: Option<Format>,
    /// Reports on an export: `{"is_ready", "url", "status", "progress"}`.
    pub status_cache_key: Option<String>,
}

/// The answer to an export request.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportStarted {
    /// 32 hexadecimal characters.
    #[schema(example = "beacaa8ba65571e3840e28a11f17481e")]
    pub cache_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExportProgress {
    pub rows_written: i64,
    /// Known once the export has started.
    pub rows_total: Option<i64>,
}

/// The answer to `?status_cache_key=`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportStatus {
    pub is_ready: bool,
    /// A signed link that works without a token until the export expires; null until ready.
    pub url: Option<String>,
    /// `waiting`, `processing`, `completed` or `failed`.
    pub status: &'static str,
    pub progress: ExportProgress,
    /// Why the export failed (only when `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Columns an `.xls` sheet can hold.
pub const MAX_FIELDS: usize = 256;

/// The export branch of a list handler; call it first, after the list's permission check.
///
/// `?status_cache_key=K` → the status of export K; `?fields=…` → a new export of the list that
/// `list` builds from the request's filters (it gets the URL without the export parameters);
/// neither → `None`, and the handler goes on with the list.
pub async fn intercept(
    state: &AppState,
    caller: &Caller,
    url: &RequestUrl,
    list: impl FnOnce(&RequestUrl) -> ApiResult<ExportList>,
) -> ApiResult<Option<Response>> {
    if let Some(key) = url.get("status_cache_key") {
        let status = status(state, caller, url, key).await?;
        return Ok(Some(axum::Json(status).into_response()));
    }
    if !url.query_pairs().iter().any(|(k, _)| k == "fields") {
        return Ok(None);
    }
    let list = list(&url.without(&["fields", "format"]))?;
    let (fields, format) = parse_request(url, list.fields())?;
    let cache_key = start(state, caller, &list, &fields, format).await?;
    Ok(Some(
        axum::Json(ExportStarted { cache_key }).into_response(),
    ))
}

/// The requested fields (as given, in order) and format, or the 400 naming what is wrong.
fn parse_request(url: &RequestUrl, allowed: &[&str]) -> ApiResult<(Vec<String>, Format)> {
    let mut errors = FieldErrors::new();
    let fields: Vec<String> = url
        .all("fields")
        .into_iter()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let allowed_text = allowed.join(", ");
    if fields.is_empty() {
        errors.add(
            "fields",
            format!("Select at least one field. Allowed: {allowed_text}"),
        );
    } else if fields.len() > MAX_FIELDS {
        errors.add("fields", format!("At most {MAX_FIELDS} fields."));
    }
    for field in &fields {
        if !allowed.contains(&field.as_str()) {
            errors.add(
                "fields",
                format!("Unknown field \"{field}\". Allowed: {allowed_text}"),
            );
        }
    }
    let format = match url.get("format").map(str::trim).filter(|f| !f.is_empty()) {
        None => Format::Xls,
        Some(value) => Format::parse(value).unwrap_or_else(|| {
            errors.add(
                "format",
                format!("Select a valid choice. {value} is not one of the available choices: csv, xls, xlsx."),
            );
            Format::Xls
        }),
    };
    errors.into_result()?;
    Ok((fields, format))
}

/// Records the export and its job in one transaction; returns the new cache key.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    list: &ExportList,
    fields: &[String],
    format: Format,
) -> ApiResult<String> {
    if state.export_sources.get(list.name()).is_none() {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "no export source is registered as {:?}",
            list.name()
        )));
    }
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let cache_key = hex::encode(bytes);
    let (list_name, filter) = list.to_stored();
    let ttl = chrono::Duration::from_std(state.config.export_ttl())
        .unwrap_or_else(|_| chrono::Duration::days(1));
    let mut tx = state.db.begin().await?;
    let event = crate::audit::Event::on("export.request", "export", None)
        .change("list", serde_json::Value::Null, list_name.as_str())
        .change("format", serde_json::Value::Null, format.extension())
        .change("fields", serde_json::Value::Null, fields.to_vec());
    let export_id = record::insert(
        &mut tx,
        NewExport {
            cache_key: &cache_key,
            owner: Owner::of(caller),
            list: &list_name,
            format: format.extension(),
            fields: serde_json::to_string(fields).map_err(|e| ApiError::Internal(e.into()))?,
            filter,
            expires_at: time::now() + ttl,
        },
    )
    .await?;
    let payload = serde_json::to_value(BuildPayload {
        cache_key: cache_key.clone(),
    })
    .map_err(|e| ApiError::Internal(e.into()))?;
    jobs::enqueue(
        &mut tx,
        NewJob {
            max_attempts: MAX_ATTEMPTS,
            ..NewJob::new(BUILD_JOB, payload)
        },
    )
    .await?;
    let event = crate::audit::Event {
        target_id: Some(export_id),
        ..event
    };
    crate::audit::record(&mut tx, event).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(cache_key)
}

/// The status of the caller's export `key`; someone else's, unknown or expired → 404.
async fn status(
    state: &AppState,
    caller: &Caller,
    url: &RequestUrl,
    key: &str,
) -> ApiResult<ExportStatus> {
    let now = time::now();
    let export: ExportRow = record::by_key(&state.db, key)
        .await?
        .filter(|e| !e.is_expired(now) && e.visible_to(caller))
        .ok_or(ApiError::NotFound)?;
    let status = export.status();
    let ready = status == Status::Completed;
    let url = match (ready, Format::parse(&export.format)) {
        (true, Some(format)) => {
            let file = file_name(&export.cache_key, format);
            let expires = export.expires_at.timestamp();
            Some(url.absolute(&link::signed_path(&state.secret_key, &file, expires)))
        }
        _ => None,
    };
    Ok(ExportStatus {
        is_ready: ready,
        url,
        status: status.as_str(),
        progress: ExportProgress {
            rows_written: export.rows_written,
            rows_total: export.rows_total,
        },
        reason: (status == Status::Failed).then(|| export.reason.clone().unwrap_or_default()),
    })
}
