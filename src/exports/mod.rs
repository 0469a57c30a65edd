//! Exports: asynchronous CSV and Excel files of a list (contract §5, seed 001).
//!
//! # The flow
//!
//! 1. `GET <list>?fields=a&fields=b[&format=csv|xls|xlsx][&<the list's filters>]`: the list
//!    handler calls [`intercept`], which validates the fields and format, records the export
//!    (an `exports` row) and its `export.build` job in one transaction, and answers
//!    `{"cache_key": "<32 hex>"}`.
//! 2. A worker runs the job ([`job`]): rows stream from the database in keyset batches into a
//!    writer ([`format`]) on a blocking thread, into a scratch file that the [`ExportStore`]
//!    publishes once complete. A crashed attempt is restarted from scratch by another worker
//!    when its lease expires; after [`job::MAX_ATTEMPTS`] the export is `failed` with a reason.
//! 3. `GET <list>?status_cache_key=K` → `{"is_ready", "url", "status", "progress"}` for the
//!    account that asked (or a superuser); `url` is a signed link ([`link`]) to
//!    `/export_file/<key>.<ext>` that works without a token until the export expires.
//! 4. Keys and files expire after `KADRO_EXPORT_TTL_SECONDS`; [`cleanup`] deletes them.
//!
//! # Adding an exportable list
//!
//! The list's context owns its export; this module names no context.
//!
//! 1. In the context (beside the list), write a struct holding what the list's handler parsed
//!    (its filter, the caller's scope), deriving `Serialize`/`Deserialize`, and implement
//!    [`RowSource`] for it: `LIST`, the name the `exports.list` column stores (never renamed
//!    once released), the allowed `FIELDS`, a `count` query, a keyset `batch` query (`… AND
//!    t.id > after ORDER BY t.id LIMIT n`, joins in the same query, no per-row queries) and
//!    `cell`, the value of one field of a row. `crate::b2b::export::UsersExport` is a complete
//!    example.
//! 2. Add it to the context's `export_sources` (`sources.with::<MyExport>()`; a context's
//!    first export also adds that function to the chain in `App::build`), which registers
//!    every context's sources in the state's [`ExportSources`].
//! 3. At the top of the list handler, after its permission check:
//!
//!    ```ignore
//!    if let Some(response) = exports::intercept(&state, &caller, &url, |url| {
//!        Ok(ExportList::of(UsersExport { filter: UserFilter::parse(url)?, scope }))
//!    })
//!    .await?
//!    {
//!        return Ok(response);
//!    }
//!    ```
//!
//!    The handler returns `ApiResult<Response>` (its normal answer `.into_response()`).
//! 4. Add `exports::ExportParams` to the `params(...)` of the handler's `#[utoipa::path]`.
//! 5. Test it in `tests/api/exports/lists.rs` like the users and staffs exports (the shared
//!    helpers are in `tests/api/exports/mod.rs`).

pub mod cleanup;
pub mod format;
mod http;
pub mod job;
pub mod link;
pub mod record;
pub mod s3;
pub mod source;
pub mod store;
pub mod xls;

use axum::Router;
use axum::routing::get;

pub use http::{
    ExportParams, ExportProgress, ExportStarted, ExportStatus, MAX_FIELDS, intercept, start,
};
pub use job::{BUILD_JOB, BuildExport};
pub use s3::S3Store;
pub use source::{ExportList, ExportSource, ExportSources, RowSource};
pub use store::{ExportStore, LocalDirStore};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/export_file/{file}", get(link::download))
}
