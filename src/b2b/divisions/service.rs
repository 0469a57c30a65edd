//! Division writes: each validates, opens one transaction, writes and commits; the handlers in
//! `mod.rs` only extract and answer.

use super::DivisionIn;
use super::store::{self, DivisionFields, DivisionOut, DivisionRow};
use crate::audit::{self, Event};
use crate::b2b::user_filter::DIVISION_TYPES;
use crate::db::{Db, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::validate::invalid_pk;
use crate::state::AppState;

const IN_USE: &str = "The division still has users or sub-divisions; deactivate it instead.";

/// Creates a division from a complete body.
pub async fn create(db: &Db, body: Body<DivisionIn>) -> ApiResult<DivisionRow> {
    let mut tx = db.begin().await?;
    let fields = merge(&mut tx, None, body, true).await?;
    let id = store::insert(&mut tx, &fields).await?;
    let row = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let out = DivisionOut::from(row.clone());
    let event = Event::new("division.create", "division", id).changes(audit::created_of(&out));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// Replaces (`complete`, PUT) or changes (PATCH) a division.
pub async fn update(
    db: &Db,
    id: i64,
    body: Body<DivisionIn>,
    complete: bool,
) -> ApiResult<DivisionRow> {
    let mut tx = db.begin().await?;
    let current = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let fields = merge(&mut tx, Some(&current), body, complete).await?;
    store::update(&mut tx, id, &fields).await?;
    let row = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let before = DivisionOut::from(current);
    let after = DivisionOut::from(row.clone());
    let changes = audit::diff_of(&before, &after);
    let event = Event::new("division.update", "division", id).changes(changes);
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes a division that no user and no sub-division refers to (400 otherwise).
pub async fn delete(db: &Db, id: i64) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    if store::in_use(&mut tx, id).await? {
        return Err(ApiError::BadRequest(IN_USE.into()));
    }
    store::delete(&mut tx, id).await?;
    audit::record(&mut tx, Event::new("division.delete", "division", id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Re-activates the division only (its users stay as they are).
pub async fn activate(db: &Db, id: i64) -> ApiResult<()> {
    let mut tx = db.begin().await?;
    let current = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    store::set_active(&mut tx, id, true).await?;
    let event = Event::new("division.activate", "division", id);
    audit::record(&mut tx, event.change("is_active", current.is_active, true)).await?;
    tx.commit().await?;
    Ok(())
}

/// Deactivates the division and its active users in one transaction; with Commerce, one
/// durable sync job per user it knows is queued in the same transaction.
pub async fn deactivate(state: &AppState, id: i64) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let current = store::by_id(&mut tx, id).await?.ok_or(ApiError::NotFound)?;
    let users = store::deactivate_users(&mut tx, id, !state.commerce.is_local()).await?;
    store::set_active(&mut tx, id, false).await?;
    let event = Event::new("division.deactivate", "division", id);
    audit::record(&mut tx, event.change("is_active", current.is_active, false)).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    tracing::info!(division = id, users, "division deactivated");
    Ok(())
}

/// Validates a body against the stored row (PATCH) or alone (POST, PUT: `complete`).
async fn merge(
    tx: &mut Tx,
    current: Option<&DivisionRow>,
    body: Body<DivisionIn>,
    complete: bool,
) -> ApiResult<DivisionFields> {
    let (body, mut v) = body.into_parts();
    if complete {
        v.required("name", body.name.as_ref());
        v.required("division_type", body.division_type.as_ref());
    }
    let name = body
        .name
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    v.text("name", &name, 255, false);
    let division_type = body
        .division_type
        .or_else(|| current.map(|c| c.division_type.clone()))
        .unwrap_or_default();
    if !DIVISION_TYPES.contains(&division_type.as_str()) && !v.has("division_type") {
        v.add(
            "division_type",
            format!("\"{division_type}\" is not a valid choice."),
        );
    }
    // As in DRF, an optional field left out of a PUT keeps its value.
    let erp_code = match body.erp_code {
        Some(code) => code,
        None => current.and_then(|c| c.erp_code.clone()),
    };
    if let Some(code) = &erp_code {
        v.text("erp_code", code, 255, true);
    }
    let parent_id = match body.parent {
        Some(parent) => parent,
        None => current.and_then(|c| c.parent_id),
    };
    let parent = match parent_id {
        Some(pid) if Some(pid) == current.map(|c| c.id) => {
            v.add("parent", "A division cannot be its own parent.");
            None
        }
        Some(pid) => match store::by_id(&mut *tx, pid).await? {
            Some(p) => Some(p),
            None => {
                v.add("parent", invalid_pk(pid));
                None
            }
        },
        None => None,
    };
    if !v.has("parent") {
        match (division_type.as_str(), &parent, parent_id) {
            ("main", _, Some(_)) => v.add("parent", "The main division can not have parent."),
            ("sub", Some(p), _) if p.division_type != "main" => {
                v.add("parent", "The type of division is not main.")
            }
            ("sub", None, None) => v.add("parent", "A sub division needs a main parent."),
            _ => {}
        }
    }
    if let Some(c) = current
        && c.division_type == "main"
        && division_type == "sub"
        && store::has_subs(&mut *tx, c.id).await?
    {
        v.add(
            "division_type",
            "A division with sub-divisions must stay main.",
        );
    }
    v.finish()?;
    Ok(DivisionFields {
        name,
        division_type,
        parent_id,
        erp_code,
        is_active: body
            .is_active
            .or(current.map(|c| c.is_active))
            .unwrap_or(true),
        extra_data: body
            .extra_data
            .map(serde_json::Value::Object)
            .or_else(|| current.map(|c| c.extra_data.0.clone()))
            .unwrap_or_else(|| serde_json::json!({})),
    })
}
