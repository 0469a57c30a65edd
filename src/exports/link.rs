//! Signed, expiring download links: `/export_file/<key>.<ext>?expires=<unix>&signature=<hex>`.
//!
//! The link itself is the credential, so a browser can open it without a token: the signature
//! is an HMAC-SHA256, under the server's secret key, of the file name and the expiry; changing
//! either, or using the link after it expired, is a 403.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio_util::io::ReaderStream;

use serde_json::Value;

use super::format::Format;
use super::record::{self, ExportRow, Status};
use super::store::StoredFile;
use crate::audit::{self, Actor, Event};
use crate::config::Secret;
use crate::http::error::{ApiError, ApiResult};
use crate::http::request::RequestUrl;
use crate::http::time;
use crate::state::AppState;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret, file: &str, expires: i64) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(b"kadro export_file\n");
    mac.update(file.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    mac
}

pub fn sign(secret: &Secret, file: &str, expires: i64) -> String {
    hex::encode(mac(secret, file, expires).finalize().into_bytes())
}

/// Constant-time check of a signature from a link.
pub fn verify(secret: &Secret, file: &str, expires: i64, signature: &str) -> bool {
    match hex::decode(signature) {
        Ok(bytes) => mac(secret, file, expires).verify_slice(&bytes).is_ok(),
        Err(_) => false,
    }
}

/// The path and query of a download link (append it to the server's base URL).
pub fn signed_path(secret: &Secret, file: &str, expires: i64) -> String {
    let signature = sign(secret, file, expires);
    format!("/export_file/{file}?expires={expires}&signature={signature}")
}

fn invalid_link() -> ApiError {
    ApiError::Domain {
        status: StatusCode::FORBIDDEN,
        code: "invalid_link",
        detail: "This download link is invalid or has expired.".into(),
    }
}

/// Downloads an export file (no token: the signed link is the credential).
#[utoipa::path(get, path = "/export_file/{file}", tag = "exports", security(()),
    params(("file" = String, Path, description = "`<cache_key>.<csv|xls|xlsx>`"),
        ("expires" = i64, Query, description = "Unix time after which the link stops working"),
        ("signature" = String, Query, description = "HMAC-SHA256 of the file name and expiry")),
    responses((status = 200, description = "The file, as an attachment",
            content(("text/csv"), ("application/vnd.ms-excel"),
                ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))),
        (status = 400, description = "A NUL character in a query parameter"),
        (status = 403, description = "Tampered or expired link"),
        (status = 404, description = "No such file (any more)")))]
pub async fn download(
    State(state): State<AppState>,
    Path(file): Path<String>,
    url: RequestUrl,
) -> ApiResult<Response> {
    check_link(&state.secret_key, &file, &url)?;
    let (export, format) = completed_export(&state, &file).await?;
    let name = export.file_name.as_deref().ok_or(ApiError::NotFound)?;
    let stored = state
        .exports
        .open(name)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?
        .ok_or(ApiError::NotFound)?;
    record_download(&state, &export).await?;
    attachment(&export, format, stored)
}

/// `export.download`, on its own (a download changes nothing else): the link carries no token,
/// so the actor is the account the export was made for, and the event has the address and
/// `User-Agent` of whoever used the link.
async fn record_download(state: &AppState, export: &ExportRow) -> ApiResult<()> {
    let actor = Actor::of_owner(&export.owner_kind, export.owner_id);
    let event = Event::new("export.download", "export", export.id)
        .by(actor)
        .change("list", Value::Null, export.list.as_str())
        .change("format", Value::Null, export.format.as_str());
    audit::record_alone(&state.db, event).await?;
    Ok(())
}

/// A link is good when its signature matches and it has not expired.
fn check_link(secret: &Secret, file: &str, url: &RequestUrl) -> ApiResult<()> {
    let expires = url.get("expires").and_then(|v| v.parse::<i64>().ok());
    let signature = url.get("signature").unwrap_or("");
    match expires {
        Some(expires)
            if verify(secret, file, expires, signature) && expires > time::now().timestamp() =>
        {
            Ok(())
        }
        _ => Err(invalid_link()),
    }
}

/// The completed export behind `<key>.<ext>`; gone or not ready → 404, expired → 403.
async fn completed_export(state: &AppState, file: &str) -> ApiResult<(ExportRow, Format)> {
    let (key, ext) = file.rsplit_once('.').ok_or(ApiError::NotFound)?;
    let format = Format::parse(ext).ok_or(ApiError::NotFound)?;
    let export = record::by_key(&state.db, key)
        .await?
        .filter(|e| e.status() == Status::Completed && e.format == ext)
        .ok_or(ApiError::NotFound)?;
    if export.is_expired(time::now()) {
        return Err(invalid_link());
    }
    Ok((export, format))
}

fn attachment(export: &ExportRow, format: Format, stored: StoredFile) -> ApiResult<Response> {
    let disposition = format!(
        "attachment; filename=\"{}-{}.{}\"",
        export.list.replace('_', "-"),
        export.created_at.format("%Y%m%d-%H%M%S"),
        format.extension()
    );
    Response::builder()
        .header(header::CONTENT_TYPE, format.content_type())
        .header(header::CONTENT_LENGTH, stored.len)
        .header(header::CONTENT_DISPOSITION, disposition)
        .header(header::CACHE_CONTROL, "private, no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .body(Body::from_stream(ReaderStream::new(stored.reader)))
        .map_err(|e| ApiError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_file_and_expiry() {
        let secret = Secret::new("k");
        let sig = sign(&secret, "a.xls", 100);
        assert!(verify(&secret, "a.xls", 100, &sig));
        assert!(!verify(&secret, "b.xls", 100, &sig));
        assert!(!verify(&secret, "a.xls", 101, &sig));
        assert!(!verify(&Secret::new("other"), "a.xls", 100, &sig));
        assert!(!verify(&secret, "a.xls", 100, "zz"));
        assert!(!verify(&secret, "a.xls", 100, ""));
    }
}
