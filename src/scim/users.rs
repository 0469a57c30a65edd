//! `/scim/v2/Users`: Instore staffs as SCIM Users. Writes go through the staff write service
//! (`write::save`, `write::deactivate`), so a SCIM write checks and does what the staff API's
//! does: `active: false` is the deactivation that revokes the staff's tokens.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::filter::ScimFilter;
use super::{
    LIST_SCHEMA, PATCH_SCHEMA, STAFF_SCHEMA, ScimCaller, ScimError, ScimResult, USER_SCHEMA,
    respond,
};
use crate::auth::token;
use crate::db::list::Window;
use crate::http::json::Body;
use crate::http::time;
use crate::instore::staffs::write::{self, Mode};
use crate::instore::staffs::{StaffIn, StaffOut, queries};
use crate::state::AppState;

/// The most Users one list answer holds.
pub const MAX_COUNT: i64 = 200;

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
        other => other,
    }
}

fn user(s: &StaffOut) -> Value {
    json!({
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
    })
}

fn parse_id(id: &str) -> ScimResult<i64> {
    id.parse().map_err(|_| ScimError::not_found(id))
}

async fn staff(state: &AppState, id: i64) -> ScimResult<StaffOut> {
    queries::provisioned_by_id(&state.db, id)
        .await?
        .ok_or_else(|| ScimError::not_found(&id.to_string()))
}

fn read(bytes: &Bytes) -> ScimResult<Value> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("The body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ScimError::invalid_syntax("The body is not a JSON object"));
    }
    Ok(value)
}

fn text(v: &Value, what: &str) -> ScimResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(ScimError::invalid_value(format!("{what} must be a string"))),
    }
}

/// A User's attributes as a staff body (every field kadro keeps).
fn staff_in(u: &Value, stores: Option<Vec<i64>>) -> ScimResult<StaffIn> {
    let user_name = text(&u["userName"], "userName")?
        .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
    let email = match &u["emails"] {
        Value::Array(emails) => emails
            .iter()
            .find(|e| e["primary"] == json!(true))
            .or(emails.first())
            .map(|e| text(&e["value"], "emails.value"))
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
        first_name: Some(text(&u["name"]["givenName"], "name.givenName")?.unwrap_or_default()),
        last_name: Some(text(&u["name"]["familyName"], "name.familyName")?.unwrap_or_default()),
        email: Some(email.ok_or_else(|| ScimError::invalid_value("emails: a value is required"))?),
        password: None,
        is_active: Some(active),
        is_staff: None,
        remote_id: Some(text(&u["externalId"], "externalId")?),
        username: Some(Some(user_name)),
        permission_groups: None,
    })
}

/// Lists Users: `filter` (see [`ScimFilter`]), `startIndex` (from 1) and `count`.
#[utoipa::path(get, path = "/scim/v2/Users", tag = "scim",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query), ("count" = Option<i64>, Query)),
    responses((status = 200, description = "A SCIM ListResponse of Users", content_type = "application/scim+json"),
        (status = 400, description = "invalidFilter or invalidValue"), (status = 401), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    _: ScimCaller,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let filter = match params.get("filter") {
        Some(f) => ScimFilter::parse(f)?,
        None => ScimFilter::default(),
    };
    let number = |name: &str, default: i64| -> ScimResult<i64> {
        params.get(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
        })
    };
    let start = number("startIndex", 1)?.max(1);
    let count = number("count", 100)?.clamp(0, MAX_COUNT);
    let window = Window {
        limit: count,
        offset: start - 1,
    };
    let (total, staffs) = queries::page(&state.db, &filter, window).await?;
    let resources: Vec<Value> = staffs.iter().map(user).collect();
    Ok(respond(
        StatusCode::OK,
        json!({
            "schemas": [LIST_SCHEMA],
            "totalResults": total,
            "startIndex": start,
            "itemsPerPage": resources.len(),
            "Resources": resources,
        }),
    ))
}

#[utoipa::path(get, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 200, description = "A User", content_type = "application/scim+json"), (status = 401), (status = 403), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let s = staff(&state, parse_id(&id)?).await?;
    Ok(respond(StatusCode::OK, user(&s)))
}

/// Creates a staff (201); its password is random and unknown: it logs in once one is set.
#[utoipa::path(post, path = "/scim/v2/Users", tag = "scim", request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "The User created", content_type = "application/scim+json"),
        (status = 400, description = "invalidValue or invalidSyntax"), (status = 401), (status = 403), (status = 409, description = "uniqueness: userName taken")))]
pub async fn create(
    State(state): State<AppState>,
    _: ScimCaller,
    bytes: Bytes,
) -> ScimResult<Response> {
    let u = read(&bytes)?;
    let mut body = staff_in(&u, None)?;
    if body.retail_stores.is_none() {
        return Err(ScimError::invalid_value(format!(
            "{STAFF_SCHEMA}:retailStores is required: a staff works in at least one store"
        )));
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
    Ok(respond(StatusCode::CREATED, user(&s)))
}

async fn replace_with(state: &AppState, current: &StaffOut, u: &Value) -> ScimResult<Response> {
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
    Ok(respond(StatusCode::OK, user(&s)))
}

/// PUT: the User as sent replaces what kadro keeps (retail stores stay unless sent).
#[utoipa::path(put, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 200, description = "The User", content_type = "application/scim+json"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn replace(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ScimResult<Response> {
    let current = staff(&state, parse_id(&id)?).await?;
    let u = read(&bytes)?;
    replace_with(&state, &current, &u).await
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

/// Applies a PatchOp's operations to the User as kadro shows it.
fn apply_patch(u: &mut Value, patch: &Value) -> ScimResult<()> {
    if !patch["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == PATCH_SCHEMA))
    {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must hold {PATCH_SCHEMA}"
        )));
    }
    let Some(ops) = patch["Operations"].as_array() else {
        return Err(ScimError::invalid_syntax("Operations must be a list"));
    };
    for op in ops {
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
    responses((status = 200, description = "The User", content_type = "application/scim+json"), (status = 400), (status = 401), (status = 403), (status = 404), (status = 409)))]
pub async fn patch(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    bytes: Bytes,
) -> ScimResult<Response> {
    let current = staff(&state, parse_id(&id)?).await?;
    let patch = read(&bytes)?;
    let mut u = user(&current);
    apply_patch(&mut u, &patch)?;
    replace_with(&state, &current, &u).await
}

/// DELETE: deactivates the staff (its tokens revoked) and deprovisions it: SCIM answers 404 for
/// it from then on, the staff API still shows it, inactive; 204.
#[utoipa::path(delete, path = "/scim/v2/Users/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 204, description = "Deactivated and gone for SCIM"), (status = 401), (status = 403), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    let id = parse_id(&id)?;
    if !write::deprovision(&state.db, id).await? {
        return Err(ScimError::not_found(&id.to_string()));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
