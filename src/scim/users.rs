//! `/scim/v2/Users`: Instore staffs as SCIM Users. Writes go through the staff write service
//! (`write::save`, `write::check` and `write::apply`, `write::end_in`), so a SCIM write checks
//! and does what the staff API's does: `active: false` is the deactivation that revokes the
//! staff's tokens.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::filter::{Attr, Attributes};
use super::resource::{Asked, ListParams, stamp};
use super::store::{self, PROVISIONED};
use super::{STAFF_SCHEMA, ScimCaller, ScimError, ScimResult, USER_SCHEMA};
use crate::auth::token;
use crate::db::Tx;
use crate::http::json::Body;
use crate::http::time;
use crate::instore::staffs::queries::{self, STAFF_GROUPS, STAFF_STORES};
use crate::instore::staffs::write::{self, Mode};
use crate::instore::staffs::{StaffIn, StaffOut};
use crate::state::AppState;

const fn text(column: &'static str, nullable: bool) -> Attr {
    Attr::Text {
        column,
        exact: false,
        nullable,
    }
}

/// What a Users filter and `sortBy` may name.
pub const ATTRIBUTES: Attributes = Attributes {
    schema: "urn:ietf:params:scim:schemas:core:2.0:user",
    names: &[
        ("id", Attr::Id("s.id")),
        ("username", text("s.username", true)),
        (
            "externalid",
            Attr::Text {
                column: "s.remote_id",
                exact: true,
                nullable: true,
            },
        ),
        ("emails", text("s.email", false)),
        ("emails.value", text("s.email", false)),
        ("emails.type", Attr::Constant("work")),
        ("emails.primary", Attr::Flag(true)),
        ("name.givenname", text("s.first_name", false)),
        ("name.familyname", text("s.last_name", false)),
        ("active", Attr::Bool("s.is_active")),
        ("meta.created", Attr::Time("s.created_date")),
        ("meta.lastmodified", Attr::Time("s.modified_date")),
        ("meta.resourcetype", Attr::Constant("User")),
        (
            "groups",
            Attr::Linked {
                id: "s.id",
                link: &STAFF_GROUPS,
            },
        ),
        (
            "groups.value",
            Attr::Linked {
                id: "s.id",
                link: &STAFF_GROUPS,
            },
        ),
        (
            "urn:ietf:params:scim:schemas:extension:kadro:2.0:staff:retailstores",
            Attr::Linked {
                id: "s.id",
                link: &STAFF_STORES,
            },
        ),
    ],
};

/// SCIM's name of a staff field, for error details.
pub fn attribute_of(field: &str) -> &str {
    match field {
        "username" => "userName",
        "first_name" => "name.givenName",
        "last_name" => "name.familyName",
        "email" => "emails",
        "remote_id" => "externalId",
        "is_active" => "active",
        "retail_stores" => "retailStores",
        "name" => "displayName",
        other => other,
    }
}

fn user(s: &StaffOut) -> Value {
    stamp(json!({
        "schemas": [USER_SCHEMA, STAFF_SCHEMA],
        "id": s.id.to_string(),
        "externalId": s.remote_id,
        "userName": s.username,
        "name": {"givenName": s.first_name, "familyName": s.last_name},
        // One email, kadro's staff email: no `primary` to choose (the schema has none).
        "emails": [{"value": s.email, "type": "work"}],
        "active": s.is_active,
        "groups": s.permission_groups.iter().map(|g| json!({"value": g.to_string()})).collect::<Vec<_>>(),
        STAFF_SCHEMA: {"retailStores": s.retail_stores.iter().map(|r| r.id.to_string()).collect::<Vec<_>>()},
        "meta": {
            "resourceType": "User",
            "created": time::format(&s.created_date),
            "lastModified": time::format(&s.modified_date),
            "location": format!("/scim/v2/Users/{}", s.id),
        },
    }))
}

pub(super) fn parse_id(id: &str) -> ScimResult<i64> {
    id.parse().map_err(|_| ScimError::not_found(id))
}

async fn staff(state: &AppState, id: i64) -> ScimResult<StaffOut> {
    queries::provisioned_by_id(&state.db, id)
        .await?
        .ok_or_else(|| ScimError::not_found(&id.to_string()))
}

pub(super) fn read(bytes: &Bytes) -> ScimResult<Value> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("The body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax("The body is not a JSON object"));
    }
    Ok(value)
}

fn text_of(v: &Value, what: &str) -> ScimResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid_value(format!("{what} must be a string"))),
    }
}

/// `retailStores`: a list of ids, strings as SCIM's ids are (numbers are read too); one id
/// alone is read as a list of one.
fn store_ids(value: &Value) -> ScimResult<Vec<i64>> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    items
        .iter()
        .map(|v| match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .collect::<Option<Vec<i64>>>()
        .ok_or_else(|| ScimError::invalid_value("retailStores must be a list of ids"))
}

/// A User's attributes as a staff body (every field kadro keeps).
fn staff_in(u: &Value, stores: Option<Vec<i64>>) -> ScimResult<StaffIn> {
    let user_name = text_of(&u["userName"], "userName")?
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let email = match &u["emails"] {
        Value::Array(emails) => emails
            .iter()
            .find(|e| e["primary"] == json!(true))
            .or(emails.first())
            .map(|e| text_of(&e["value"], "emails.value"))
            .transpose()?
            .flatten(),
        Value::Null => None,
        _ => return Err(ScimError::invalid_value("emails must be a list")),
    };
    let active = match &u["active"] {
        Value::Null => true,
        Value::Bool(b) => *b,
        // Entra ID sends "True" and "False".
        Value::String(s) if s.eq_ignore_ascii_case("true") => true,
        Value::String(s) if s.eq_ignore_ascii_case("false") => false,
        _ => return Err(ScimError::invalid_value("active must be a boolean")),
    };
    let stores = match &u[STAFF_SCHEMA]["retailStores"] {
        Value::Null => stores,
        v => Some(store_ids(v)?),
    };
    Ok(StaffIn {
        retail_stores: stores,
        first_name: Some(text_of(&u["name"]["givenName"], "name.givenName")?.unwrap_or_default()),
        last_name: Some(text_of(&u["name"]["familyName"], "name.familyName")?.unwrap_or_default()),
        email: Some(email.ok_or_else(|| ScimError::invalid_value("emails: a value is required"))?),
        password: None,
        is_active: Some(active),
        is_staff: None,
        remote_id: Some(text_of(&u["externalId"], "externalId")?),
        username: Some(Some(user_name)),
        permission_groups: None,
    })
}

/// Lists Users: `filter` (see [`super::filter`]), `startIndex` (from 1), `count`, `sortBy`,
/// `sortOrder`, `attributes`, `excludedAttributes`.
#[utoipa::path(get, path = "/scim/v2/Users", tag = "scim",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query), ("count" = Option<i64>, Query),
        ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query),
        ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A SCIM ListResponse of Users", content_type = "application/scim+json"),
        (status = 400, description = "invalidFilter or invalidValue"), (status = 401), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    _: ScimCaller,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let p = ListParams::parse(&params, &ATTRIBUTES, PROVISIONED)?;
    let (total, staffs) = store::users(&state.db, &p.filter, p.window, p.order).await?;
    Ok(p.respond(total, staffs.iter().map(user).collect()))
}

#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "scim",
    params(("id" = String, Path), ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A User, with its version as the ETag", content_type = "application/scim+json"),
        (status = 304, description = "If-None-Match names its version"), (status = 401), (status = 403), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
) -> ScimResult<Response> {
    let s = staff(&state, parse_id(&id)?).await?;
    Ok(asked.read(user(&s), &ATTRIBUTES))
}

/// Creates a staff (201); its password is random and unknown: it logs in once one is set.
#[utoipa::path(post, path = "/scim/v2/Users", tag = "scim", request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "The User created", content_type = "application/scim+json"),
        (status = 400, description = "invalidValue or invalidSyntax"), (status = 401), (status = 403), (status = 409, description = "uniqueness: userName taken")))]
pub async fn create(
    State(state): State<AppState>,
    _: ScimCaller,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let u = read(&bytes)?;
    let mut body = staff_in(&u, None)?;
    if body.retail_stores.is_none() {
        let Some(store) = state.config.scim_default_store else {
            return Err(ScimError::invalid_value(format!(
                "{STAFF_SCHEMA}:retailStores is required: a staff works in at least one store"
            )));
        };
        body.retail_stores = Some(vec![store]);
    }
    body.password = Some(token::generate());
    let id = write::save(
        &state.db,
        &state.passwords,
        None,
        Body::new(body),
        Mode::Create,
    )
    .await?;
    let s = staff(&state, id).await?;
    Ok(asked.written(StatusCode::CREATED, user(&s), &ATTRIBUTES))
}

/// What a PUT or a PATCH does to the User it reads.
enum Change {
    /// The body replaces the User.
    Put(Value),
    /// A PatchOp applied to the User.
    Patch(Value),
}

/// The staff in the write's transaction, its row locked (404 when SCIM does not find it).
async fn locked(tx: &mut Tx, id: i64) -> ScimResult<StaffOut> {
    queries::provisioned_locked(tx, id)
        .await?
        .ok_or_else(|| ScimError::not_found(&id.to_string()))
}

/// PUT and PATCH in one transaction: the staff is read with its row locked, `If-Match` is
/// checked against that, the change is applied to it and written, so no other write can come
/// between the check and the write (a stale version is a 412, never a lost update).
async fn replace_with(
    state: &AppState,
    id: i64,
    change: Change,
    asked: &Asked,
) -> ScimResult<Response> {
    let mut tx = state.db.begin().await?;
    let current = locked(&mut tx, id).await?;
    let mut u = user(&current);
    asked.check(&u)?;
    match change {
        Change::Put(body) => u = body,
        Change::Patch(ops) => super::patch::apply(&mut u, &ops)?,
    }
    let stores = current.retail_stores.iter().map(|r| r.id).collect();
    let body = staff_in(&u, Some(stores))?;
    let row = queries::row(&mut tx, id)
        .await?
        .ok_or_else(|| ScimError::not_found(&id.to_string()))?;
    // A replace hashes no password: checking the body inside the transaction is quick.
    let checked = write::check(Some(row), Body::new(body), Mode::Replace, &state.passwords).await?;
    write::apply(&mut tx, checked).await?;
    tx.commit().await?;
    let s = staff(state, id).await?;
    Ok(asked.written(StatusCode::OK, user(&s), &ATTRIBUTES))
}

/// PUT: the User as sent replaces what kadro keeps (retail stores stay unless sent).
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 200, description = "The User", content_type = "application/scim+json"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409),
        (status = 412, description = "If-Match names another version")))]
pub async fn replace(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let body = read(&bytes)?;
    replace_with(&state, parse_id(&id)?, Change::Put(body), &asked).await
}

/// PATCH: `add`, `replace` and `remove`, with or without `path`; `active: false` deactivates.
#[utoipa::path(patch, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json", description = "A PatchOp"),
    responses((status = 200, description = "The User", content_type = "application/scim+json"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409),
        (status = 412, description = "If-Match names another version")))]
pub async fn patch(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let ops = read(&bytes)?;
    replace_with(&state, parse_id(&id)?, Change::Patch(ops), &asked).await
}

/// DELETE: deactivates the staff (its tokens revoked) and deprovisions it: SCIM answers 404 for
/// it from then on, the staff API still shows it, inactive; 204.
#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 204, description = "Deactivated and gone for SCIM"), (status = 401), (status = 403), (status = 404),
        (status = 412, description = "If-Match names another version")))]
pub async fn delete(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
) -> ScimResult<Response> {
    // As PUT and PATCH: checked and written in one transaction, the row locked.
    let id = parse_id(&id)?;
    let mut tx = state.db.begin().await?;
    asked.check(&user(&locked(&mut tx, id).await?))?;
    if !write::end_in(&mut tx, id, true).await? {
        return Err(ScimError::not_found(&id.to_string()));
    }
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
