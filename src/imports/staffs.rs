//! Instore staff rows: each row becomes the staff API's own body (`StaffIn`, read by the same
//! body reader, so a wrong type gets the API's message) and goes through the staff write
//! service's two halves: [`write::check`] with no transaction open (fields, password policy,
//! hashing), then [`write::apply`] in the batch's transaction (stores, groups, username,
//! the write and its audit event).
//!
//! The upsert key is `username` when the row has one, else `remote_id`. `create` refuses a
//! row whose key exists; `upsert` changes the staff it names with the row's non-empty cells
//! (a PATCH), or creates it. A password is set when a staff is created only, as in the API.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use csv::StringRecord;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::batch::{self, Refused};
use super::file::{Columns, NumberedRow, Target};
use super::record::{BatchCounts, ImportRow};
use crate::http::error::{ApiError, FieldErrors};
use crate::http::filters::parse_bool;
use crate::http::json::read_body;
use crate::instore::staffs::StaffIn;
use crate::instore::staffs::queries::{self, StaffRow};
use crate::instore::staffs::write::{self, Checked, Mode};
use crate::state::AppState;

pub const TARGET: Target = Target {
    name: "staffs",
    required: &[],
    one_of: &["username", "remote_id"],
    known: &[
        "username",
        "remote_id",
        "first_name",
        "last_name",
        "email",
        "password",
        "is_active",
        "is_staff",
        "retail_stores",
        "permission_groups",
    ],
};

/// Rows checked at the same time (each may wait for a hashing thread).
const CHECKS_AT_ONCE: usize = 16;

const TEXT: [&str; 6] = [
    "username",
    "remote_id",
    "first_name",
    "last_name",
    "email",
    "password",
];

/// A row's cells as the staff API's JSON body: texts as strings, booleans and `|`-separated
/// ids as JSON values when they read as such (else as the text, which the body reader names
/// as the wrong type). Empty cells are left out; a new staff's empty `remote_id` is null.
fn body_of(columns: &Columns, record: &StringRecord, new: bool) -> Value {
    let cell = |c: &str| columns.cell(record, c);
    let mut body = Map::new();
    for field in TEXT {
        if let Some(value) = cell(field) {
            body.insert(field.into(), Value::String(value.to_owned()));
        }
    }
    if new && !body.contains_key("remote_id") {
        body.insert("remote_id".into(), Value::Null);
    }
    for field in ["is_active", "is_staff"] {
        if let Some(raw) = cell(field) {
            let value = parse_bool(raw).map_or_else(|| Value::String(raw.into()), Value::Bool);
            body.insert(field.into(), value);
        }
    }
    for field in ["retail_stores", "permission_groups"] {
        if let Some(raw) = cell(field) {
            let ids = raw
                .split('|')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(|id| {
                    id.parse::<i64>()
                        .map_or_else(|_| Value::String(id.into()), Value::from)
                })
                .collect();
            body.insert(field.into(), Value::Array(ids));
        }
    }
    Value::Object(body)
}

fn key_hash(key: &str) -> u64 {
    let mut h = DefaultHasher::new();
    key.to_lowercase().hash(&mut h);
    h.finish()
}

/// A row's key field (`username` when it has one, else `remote_id`), refused when the row
/// has neither or an earlier row of the file had the same key.
fn row_key(
    columns: &Columns,
    record: &StringRecord,
    seen: &mut HashSet<u64>,
) -> Result<&'static str, FieldErrors> {
    let (key_field, key) = match (
        columns.cell(record, "username"),
        columns.cell(record, "remote_id"),
    ) {
        (Some(username), _) => ("username", username),
        (None, Some(remote_id)) => ("remote_id", remote_id),
        (None, None) => {
            return Err(FieldErrors::single(
                "username",
                "A row needs a username or a remote_id.",
            ));
        }
    };
    if !seen.insert(key_hash(&format!("{key_field}:{key}"))) {
        return Err(FieldErrors::single(
            key_field,
            format!("This {key_field} appears on an earlier row of the file."),
        ));
    }
    Ok(key_field)
}

/// Checks one row without a transaction: in `create` mode its key must not name a staff
/// already; then the staff API's field checks, the password hashed.
async fn check_row(
    state: &AppState,
    upsert: bool,
    columns: &Columns,
    row: i64,
    record: StringRecord,
    key_field: &'static str,
) -> (i64, Result<Result<Checked, FieldErrors>, ApiError>) {
    (
        row,
        check_fields(state, upsert, columns, &record, key_field).await,
    )
}

async fn check_fields(
    state: &AppState,
    upsert: bool,
    columns: &Columns,
    record: &StringRecord,
    key_field: &str,
) -> Result<Result<Checked, FieldErrors>, ApiError> {
    let username = columns.cell(record, "username");
    let remote_id = columns.cell(record, "remote_id");
    let current: Option<StaffRow> = queries::row_by_key(&state.db, username, remote_id).await?;
    let (current, mode) = match (current, upsert) {
        (Some(current), true) => (Some(current), Mode::Patch),
        // The API's own check names a taken username; a remote_id is the import's key only.
        (Some(_), false) if key_field == "remote_id" => {
            return Ok(Err(FieldErrors::single(
                "remote_id",
                "A staff with this remote_id already exists.",
            )));
        }
        _ => (None, Mode::Create),
    };
    let json = body_of(columns, record, current.is_none());
    let bytes = serde_json::to_vec(&json).map_err(|e| ApiError::Internal(e.into()))?;
    let body = match read_body::<StaffIn>(&bytes) {
        Ok(body) => body,
        Err(ApiError::Validation(errors)) => return Ok(Err(errors)),
        Err(other) => return Err(other),
    };
    match write::check(current, body, mode, &state.passwords).await {
        Ok(checked) => Ok(Ok(checked)),
        Err(ApiError::Validation(errors)) => Ok(Err(errors)),
        Err(other) => Err(other),
    }
}

/// Imports one batch of staff rows; everything it did commits (or, in a dry run, is rolled
/// back) with the import's progress.
pub async fn import_batch(
    state: &AppState,
    import: &ImportRow,
    columns: &Columns,
    rows: Vec<NumberedRow>,
    seen: &mut HashSet<u64>,
) -> Result<(), ApiError> {
    let mut refused = Refused::default();
    let count = rows.len() as i64;
    let mut keyed: Vec<(i64, StringRecord, &'static str)> = Vec::with_capacity(rows.len());
    for (row, record) in rows {
        match record.map_err(|m| FieldErrors::single("non_field_errors", m)) {
            Ok(record) => match row_key(columns, &record, seen) {
                Ok(key_field) => keyed.push((row, record, key_field)),
                Err(errors) => refused.add_all(row, &errors),
            },
            Err(errors) => refused.add_all(row, &errors),
        }
    }
    // Rows are checked (and their passwords hashed) several at a time, in their order.
    let upsert = import.upsert();
    let checks: Vec<_> = keyed
        .into_iter()
        .map(|(row, record, key_field)| check_row(state, upsert, columns, row, record, key_field))
        .collect();
    let checked: Vec<_> = futures_util::stream::iter(checks)
        .buffered(CHECKS_AT_ONCE)
        .collect()
        .await;
    let mut ready = Vec::with_capacity(checked.len());
    for (row, checked) in checked {
        match checked? {
            Ok(checked) => ready.push((row, checked)),
            Err(errors) => refused.add_all(row, &errors),
        }
    }
    let mut tx = state.db.begin().await?;
    let mut counts = BatchCounts {
        rows: count,
        ..BatchCounts::default()
    };
    for (row, checked) in ready {
        if checked.changes_nothing(&mut tx).await? {
            continue;
        }
        let new = checked.is_new();
        match write::apply(&mut tx, checked).await {
            Ok(_) if new => counts.created += 1,
            Ok(_) => counts.updated += 1,
            Err(ApiError::Validation(errors)) => refused.add_all(row, &errors),
            Err(other) => return Err(other),
        }
    }
    batch::commit(state, import, tx, counts, refused).await
}
