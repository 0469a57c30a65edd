//! Saving an upload and recording its import: the file streamed to disk (the body itself, or
//! a form's `file` part), its header row checked, then the `imports` row and its `import.run`
//! job in one transaction. The command line's `kadro import` records its file the same way.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode, header};
use futures_util::StreamExt;
use rand::RngCore;
use tokio::io::AsyncWriteExt;

use super::file::{self, Columns, Target};
use super::job;
use super::record::NewImport;
use super::xlsx;
use crate::exports::record::Owner;
use crate::http::error::{ApiError, ApiResult, FieldErrors};
use crate::http::time;
use crate::state::AppState;

/// What an import is asked to do, and for whom.
#[derive(Clone, Debug)]
pub struct ImportRequest {
    pub target: Target,
    pub upsert: bool,
    pub dry_run: bool,
    pub owner: Owner,
}

fn too_large(max: u64) -> ApiError {
    ApiError::Domain {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "payload_too_large",
        detail: format!("The file is too large (limit {max} bytes)."),
    }
}

/// The XLSX media type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What an uploaded file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The format a media type names (parameters ignored).
    fn of_media_type(raw: &str) -> Option<Format> {
        let essence = raw.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" | "application/csv" => Some(Format::Csv),
            XLSX => Some(Format::Xlsx),
            _ => None,
        }
    }
}

/// How the body carries the file: as itself, or as the `file` part of a form.
enum Upload {
    Raw(Format),
    Form { boundary: String },
}

/// `text/csv` (or `application/csv`), the XLSX type, or `multipart/form-data`; else a 415.
fn upload_kind(headers: &HeaderMap) -> ApiResult<Upload> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Some(format) = Format::of_media_type(raw) {
        return Ok(Upload::Raw(format));
    }
    match multer::parse_boundary(raw) {
        Ok(boundary) => Ok(Upload::Form { boundary }),
        Err(_) if raw.to_ascii_lowercase().starts_with("multipart/form-data") => {
            Err(ApiError::BadRequest(
                "Multipart form parse error - Invalid boundary in multipart: None".into(),
            ))
        }
        Err(_) => Err(ApiError::UnsupportedMediaType(raw.to_owned())),
    }
}

/// The format of a form's file part: its media type, else its name's extension, else CSV.
fn part_format(content_type: Option<&str>, file_name: Option<&str>) -> ApiResult<Format> {
    if let Some(format) = content_type.and_then(Format::of_media_type) {
        return Ok(format);
    }
    let extension = file_name
        .and_then(|n| n.rsplit_once('.'))
        .map(|(_, e)| e.to_ascii_lowercase());
    match extension.as_deref() {
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        _ => match content_type {
            None | Some("application/octet-stream") | Some("text/plain") => Ok(Format::Csv),
            Some(other) => Err(ApiError::UnsupportedMediaType(other.to_owned())),
        },
    }
}

/// Writes `chunks` into `path`, at most `max` bytes (never the whole file in memory).
async fn save_chunks<E>(
    mut chunks: impl futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    path: &Path,
    max: u64,
) -> ApiResult<()> {
    let mut out = tokio::fs::File::create(path)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let mut written = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("The upload was cut off.".into()))?;
        written += chunk.len() as u64;
        if written > max {
            return Err(too_large(max));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
    }
    out.sync_all()
        .await
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Saves the upload as `<dir>/<cache_key>.<csv|xlsx>`: the body itself, or the form's `file`
/// part (other parts are skipped).
async fn save_upload(
    body: Body,
    kind: Upload,
    dir: &Path,
    cache_key: &str,
    max: u64,
) -> ApiResult<(PathBuf, Format)> {
    let path = |format: Format| dir.join(format!("{cache_key}.{}", format.extension()));
    let boundary = match kind {
        Upload::Raw(format) => {
            save_chunks(body.into_data_stream(), &path(format), max).await?;
            return Ok((path(format), format));
        }
        Upload::Form { boundary } => boundary,
    };
    let form_error = |e: multer::Error| match e {
        multer::Error::StreamReadFailed(_) => {
            ApiError::BadRequest("The upload was cut off.".into())
        }
        other => ApiError::BadRequest(format!("Multipart form parse error - {other}")),
    };
    let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
    while let Some(part) = form.next_field().await.map_err(form_error)? {
        if part.name() != Some("file") {
            continue;
        }
        let content_type = part.content_type().map(|m| m.essence_str().to_owned());
        let format = part_format(content_type.as_deref(), part.file_name())?;
        let chunks = futures_util::stream::unfold(part, |mut part| async move {
            part.chunk().await.transpose().map(|chunk| (chunk, part))
        });
        save_chunks(Box::pin(chunks), &path(format), max).await?;
        return Ok((path(format), format));
    }
    Err(ApiError::field("file", "No file was submitted."))
}

pub fn uploads_dir(state: &AppState) -> PathBuf {
    state.config.export_dir.join(".imports")
}

/// A new import's key: 32 hexadecimal characters.
fn new_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Saves the request's body and records its import; returns the import's key. Nothing is
/// left behind when the upload is refused.
pub async fn start(
    state: &AppState,
    request: ImportRequest,
    headers: &HeaderMap,
    body: Body,
) -> ApiResult<String> {
    let kind = upload_kind(headers)?;
    let max = state.config.import_max_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(too_large(max));
    }
    let cache_key = new_key();
    let dir = make_dir(state).await?;
    let result = async {
        let (path, format) = save_upload(body, kind, &dir, &cache_key, max).await?;
        record(state, request, &cache_key, &path, format).await
    }
    .await;
    if result.is_err() {
        for format in [Format::Csv, Format::Xlsx] {
            let _ = tokio::fs::remove_file(dir.join(format!("{cache_key}.{}", format.extension())))
                .await;
        }
    }
    result.map(|_| cache_key)
}

/// Copies a local file (CSV, or XLSX by its `.xlsx` name) into the uploads and records its
/// import; returns the import's key and its job's id.
pub async fn start_from_file(
    state: &AppState,
    request: ImportRequest,
    source: &Path,
) -> ApiResult<(String, i64)> {
    let is_xlsx = source
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    let format = if is_xlsx { Format::Xlsx } else { Format::Csv };
    let cache_key = new_key();
    let dir = make_dir(state).await?;
    let path = dir.join(format!("{cache_key}.{}", format.extension()));
    let result = async {
        tokio::fs::copy(source, &path)
            .await
            .map_err(|e| ApiError::BadRequest(format!("{}: {e}", source.display())))?;
        record(state, request, &cache_key, &path, format).await
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&path).await;
    }
    result.map(|job_id| (cache_key, job_id))
}

async fn make_dir(state: &AppState) -> ApiResult<PathBuf> {
    let dir = uploads_dir(state);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(dir)
}

/// The columns of a saved file's header row, checked against `target` (a 400 naming what is
/// missing).
fn read_header(path: &Path, format: Format, target: Target) -> ApiResult<Columns> {
    match format {
        Format::Csv => file::read_columns(path, target),
        Format::Xlsx => {
            let header = xlsx::header(path).map_err(|_| {
                ApiError::Validation(FieldErrors::single(
                    "file",
                    "The file is not a readable XLSX workbook.",
                ))
            })?;
            file::columns_of(header.iter().map(String::as_str), target)
        }
    }
}

/// Checks the saved file's header row and records the import and its job; returns the job's id.
async fn record(
    state: &AppState,
    request: ImportRequest,
    cache_key: &str,
    path: &Path,
    format: Format,
) -> ApiResult<i64> {
    let columns = {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || read_header(&path, format, request.target))
            .await
            .map_err(|e| ApiError::Internal(e.into()))??
    };
    let ttl = state.config.import_retention();
    let new = NewImport {
        cache_key,
        owner: request.owner,
        target: request.target.name,
        upsert: request.upsert,
        dry_run: request.dry_run,
        file_path: &path.to_string_lossy(),
        warnings: serde_json::to_string(&columns.unknown)
            .map_err(|e| ApiError::Internal(e.into()))?,
        expires_at: time::now() + ttl,
    };
    let job_id = job::queue(&state.db, new).await?;
    state.job_signal.notify_one();
    Ok(job_id)
}
