//! `/scim/v2/Users`: Instore staffs as SCIM Users. Writes go through the staff write service
//! (`write::save`, `write::deactivate`), so a SCIM write checks and does what the staff API's
//! does: `active: false` is the deactivation that revokes the staff's tokens.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::filter::{Attr, Attributes};
use super::resource::{Asked, ListParams, stamp};
use super::store::{self, PROVISIONED};
use super::{PATCH_SCHEMA, STAFF_SCHEMA, ScimCaller, ScimError, ScimResult, USER_SCHEMA};
use crate::auth::token;
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
        "emails": [{"value": s.email, "type": "work", "primary": true}],
        "active": s.is_active,
        "groups": s.permission_groups.iter().map(|g| json!({"value": g.to_string()})).collect::<Vec<_>>(),
        STAFF_SCHEMA: {"retailStores": s.retail_stores.iter().map(|r| r.id).collect::<Vec<_>>()},
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
        v => Some(
            serde_json::from_value(v.clone())
                .map_err(|_| ScimError::invalid_value("retailStores must be a list of ids"))?,
        ),
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

async fn replace_with(
    state: &AppState,
    current: &StaffOut,
    u: &Value,
    asked: &Asked,
) -> ScimResult<Response> {
    let stores = current.retail_stores.iter().map(|r| r.id).collect();
    let body = staff_in(u, Some(stores))?;
    let id = current.id;
    write::save(
        &state.db,
        &state.passwords,
        Some(id),
        Body::new(body),
        Mode::Replace,
    )
    .await?;
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
    let current = staff(&state, parse_id(&id)?).await?;
    asked.check(&user(&current))?;
    let u = read(&bytes)?;
    replace_with(&state, &current, &u, &asked).await
}

/// Sets (or with `None` removes) the attribute at `path` of a User.
fn set_path(u: &mut Value, path: &str, value: Option<Value>) -> ScimResult<()> {
    let lower = path.to_ascii_lowercase();
    let lower = lower
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
        .unwrap_or(&lower);
    let target: (&str, Option<&str>) = match lower {
        "username" => ("userName", None),
        "externalid" => ("externalId", None),
        "active" => ("active", None),
        "name" => ("name", None),
        "name.givenname" => ("name", Some("givenName")),
        "name.familyname" => ("name", Some("familyName")),
        p if p.starts_with("emails") => {
            let emails = match value {
                Some(Value::String(s)) => json!([{"value": s, "primary": true}]),
                Some(v @ Value::Array(_)) => v,
                Some(v @ Value::Object(_)) if v.get("value").is_some() => json!([v]),
                Some(_) => return Err(ScimError::invalid_value("emails: a value is required")),
                None => Value::Null,
            };
            u["emails"] = emails;
            return Ok(());
        }
        p if p.starts_with(&STAFF_SCHEMA.to_ascii_lowercase()) => {
            u[STAFF_SCHEMA]["retailStores"] = value.unwrap_or(Value::Null);
            return Ok(());
        }
        "groups" => {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "groups is read-only",
            ));
        }
        _ => {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
                format!("The path {path:?} is not supported"),
            ));
        }
    };
    let value = value.unwrap_or(Value::Null);
    match target {
        ("name", None) => match value {
            Value::Object(map) => {
                for (k, v) in map {
                    u["name"][k] = v;
                }
            }
            Value::Null => u["name"] = json!({}),
            _ => return Err(ScimError::invalid_value("name must be an object")),
        },
        (outer, Some(inner)) => u[outer][inner] = value,
        (attr, None) => u[attr] = value,
    }
    Ok(())
}

/// A PatchOp's operations, once its `schemas` is checked.
pub(super) fn patch_operations<'a>(patch: &'a Value, schema: &str) -> ScimResult<&'a [Value]> {
    if !patch["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == schema))
    {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must hold {schema}"
        )));
    }
    match patch["Operations"].as_array() {
        Some(ops) => Ok(ops),
        None => Err(ScimError::invalid_syntax("Operations must be a list")),
    }
}

/// Applies a PatchOp's operations to the User as kadro shows it.
fn apply_patch(u: &mut Value, patch: &Value) -> ScimResult<()> {
    for op in patch_operations(patch, PATCH_SCHEMA)? {
        let kind = op["op"].as_str().unwrap_or("").to_ascii_lowercase();
        let path = op["path"].as_str();
        let value = op.get("value").cloned();
        match (kind.as_str(), path) {
            ("add" | "replace", Some(path)) => {
                let v = value.ok_or_else(|| ScimError::invalid_value("value is required"))?;
                set_path(u, path, Some(v))?;
            }
            ("add" | "replace", None) => {
                let Some(Value::Object(map)) = value else {
                    return Err(ScimError::invalid_value(
                        "value must be an object when there is no path",
                    ));
                };
                let map: Map<String, Value> = map;
                for (k, v) in map {
                    if k == "schemas" {
                        continue;
                    }
                    set_path(u, &k, Some(v))?;
                }
            }
            ("remove", Some(path)) => set_path(u, path, None)?,
            ("remove", None) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "remove needs a path",
                ));
            }
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Unknown op {:?}",
                    op["op"]
                )));
            }
        }
    }
    Ok(())
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
    let current = staff(&state, parse_id(&id)?).await?;
    let mut u = user(&current);
    asked.check(&u)?;
    apply_patch(&mut u, &read(&bytes)?)?;
    replace_with(&state, &current, &u, &asked).await
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
    let current = staff(&state, parse_id(&id)?).await?;
    asked.check(&user(&current))?;
    let id = current.id;
    if !write::deprovision(&state.db, id).await? {
        return Err(ScimError::not_found(&id.to_string()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
