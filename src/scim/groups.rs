//! `/scim/v2/Groups`: permission groups as SCIM Groups, their `members` the staffs given the
//! group. Writes go through the permission group service (`groups::save_with_members`,
//! `groups::delete`): the same checks, one transaction, audited. What a group grants stays as
//! the permissions API set it; SCIM names and fills groups.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::filter::{Attr, Attributes};
use super::group_patch;
use super::resource::{Asked, ListParams, stamp};
use super::store::{self, ANY_GROUP, GroupRow, MemberRow};
use super::users::{parse_id, read};
use super::{GROUP_SCHEMA, PATCH_SCHEMA, ScimCaller, ScimError, ScimResult};
use crate::db::list::Link;
use crate::http::json::Body;
use crate::http::time;
use crate::instore::permissions::groups::{self, PermissionGroupIn};
use crate::instore::staffs::queries::STAFF_GROUPS;
use crate::state::AppState;

const GROUP_STAFFS: Link = STAFF_GROUPS.reversed();

/// What a Groups filter and `sortBy` may name.
pub const ATTRIBUTES: Attributes = Attributes {
    schema: "urn:ietf:params:scim:schemas:core:2.0:group",
    names: &[
        ("id", Attr::Id("g.id")),
        (
            "displayname",
            Attr::Text {
                column: "g.name",
                exact: false,
                nullable: false,
            },
        ),
        (
            "externalid",
            Attr::Text {
                column: "g.external_id",
                exact: true,
                nullable: true,
            },
        ),
        ("meta.created", Attr::Time("g.created_date")),
        ("meta.lastmodified", Attr::Time("g.modified_date")),
        ("meta.resourcetype", Attr::Constant("Group")),
        (
            "members",
            Attr::Linked {
                id: "g.id",
                link: &GROUP_STAFFS,
            },
        ),
        (
            "members.value",
            Attr::Linked {
                id: "g.id",
                link: &GROUP_STAFFS,
            },
        ),
    ],
};

fn group(g: &GroupRow, members: &[MemberRow]) -> Value {
    let members: Vec<Value> = members
        .iter()
        .map(|m| {
            let mut member = json!({
                "value": m.staff_id.to_string(),
                "$ref": format!("/scim/v2/Users/{}", m.staff_id),
                "type": "User",
            });
            if let Some(name) = &m.username {
                member["display"] = json!(name);
            }
            member
        })
        .collect();
    stamp(json!({
        "schemas": [GROUP_SCHEMA],
        "id": g.id.to_string(),
        "displayName": g.name,
        "externalId": g.external_id,
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": time::format(&g.created_date),
            "lastModified": time::format(&g.modified_date),
            "location": format!("/scim/v2/Groups/{}", g.id),
        },
    }))
}

/// A group with its members, or 404.
async fn load(state: &AppState, id: i64) -> ScimResult<(GroupRow, Vec<MemberRow>)> {
    let g = store::group(&state.db, id)
        .await?
        .ok_or_else(|| ScimError::not_found(&id.to_string()))?;
    let members = store::members(&state.db, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    Ok((g, members))
}

/// Lists Groups: `filter`, `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`,
/// `excludedAttributes`.
#[utoipa::path(get, path = "/scim/v2/Groups", tag = "scim",
    params(("filter" = Option<String>, Query), ("startIndex" = Option<i64>, Query), ("count" = Option<i64>, Query),
        ("sortBy" = Option<String>, Query), ("sortOrder" = Option<String>, Query),
        ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A SCIM ListResponse of Groups", content_type = "application/scim+json"),
        (status = 400, description = "invalidFilter or invalidValue"), (status = 401), (status = 403)))]
pub async fn list(
    State(state): State<AppState>,
    _: ScimCaller,
    Query(params): Query<HashMap<String, String>>,
) -> ScimResult<Response> {
    let p = ListParams::parse(&params, &ATTRIBUTES, ANY_GROUP)?;
    let (total, rows) = store::groups(&state.db, &p.filter, p.window, p.order).await?;
    let ids: Vec<i64> = rows.iter().map(|g| g.id).collect();
    let mut members = store::members(&state.db, &ids).await?;
    let resources = rows
        .iter()
        .map(|g| group(g, &members.remove(&g.id).unwrap_or_default()))
        .collect();
    Ok(p.respond(total, resources))
}

#[utoipa::path(get, path = "/scim/v2/Groups/{id}", tag = "scim",
    params(("id" = String, Path), ("attributes" = Option<String>, Query), ("excludedAttributes" = Option<String>, Query)),
    responses((status = 200, description = "A Group, with its version as the ETag", content_type = "application/scim+json"),
        (status = 304, description = "If-None-Match names its version"), (status = 401), (status = 403), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
) -> ScimResult<Response> {
    let (g, members) = load(&state, parse_id(&id)?).await?;
    Ok(asked.read(group(&g, &members), &ATTRIBUTES))
}

/// A write's answer: the group as it is now.
async fn written(
    state: &AppState,
    id: i64,
    asked: &Asked,
    status: StatusCode,
) -> ScimResult<Response> {
    let (g, members) = load(state, id).await?;
    Ok(asked.written(status, group(&g, &members), &ATTRIBUTES))
}

/// What a Group write sets: its name, and when given its external id and members.
pub(super) struct Wanted {
    pub name: String,
    /// `None`: left as it is; `Some(None)`: cleared.
    pub external_id: Option<Option<String>>,
    /// `None`: no `members` sent.
    pub members: Option<Vec<i64>>,
}

/// A Group body (POST, PUT): `externalId` as sent (absent clears it), `members` when sent.
fn group_in(body: &Value) -> ScimResult<Wanted> {
    let name = match &body["displayName"] {
        Value::String(s) => s.clone(),
        Value::Null => return Err(ScimError::invalid_value("displayName is required")),
        _ => return Err(ScimError::invalid_value("displayName must be a string")),
    };
    let external_id = match &body["externalId"] {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        _ => return Err(ScimError::invalid_value("externalId must be a string")),
    };
    let members = match &body["members"] {
        Value::Null => None,
        v => Some(member_ids(v)?),
    };
    Ok(Wanted {
        name,
        external_id: Some(external_id),
        members,
    })
}

/// The ids of a `members` value: a list of `{"value": "<id>"}` (or one such object).
pub(super) fn member_ids(value: &Value) -> ScimResult<Vec<i64>> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(value),
        Value::Null => &[],
        _ => return Err(ScimError::invalid_value("members must be a list")),
    };
    items
        .iter()
        .map(|m| {
            let id = match &m["value"] {
                Value::String(s) => s.parse().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            };
            id.ok_or_else(|| ScimError::invalid_value(format!("members: {m} is no User id")))
        })
        .collect()
}

/// Saves a group through the permission group service; `members` replace the shown ones
/// (deprovisioned staffs, which SCIM does not show, keep the group).
async fn save(state: &AppState, id: Option<i64>, wanted: Wanted) -> ScimResult<i64> {
    let Wanted {
        name,
        external_id,
        members,
    } = wanted;
    let members = match members {
        Some(mut ids) => {
            let known = store::provisioned(&state.db, &ids).await?;
            if let Some(unknown) = ids.iter().find(|i| !known.contains(i)) {
                return Err(ScimError::invalid_value(format!(
                    "members: there is no User {unknown}"
                )));
            }
            if let Some(id) = id {
                ids.extend(store::hidden_members(&state.db, id).await?);
            }
            Some(ids)
        }
        None => None,
    };
    let body = Body::new(PermissionGroupIn {
        name: Some(name),
        permissions: None,
    });
    let provisioned = groups::Provisioned {
        members,
        external_id,
    };
    let saved = groups::save_with_members(&state.db, id, body, id.is_some(), provisioned).await?;
    Ok(saved.id)
}

/// Creates a permission group (granting nothing until the permissions API says so).
#[utoipa::path(post, path = "/scim/v2/Groups", tag = "scim", request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 201, description = "The Group created", content_type = "application/scim+json"),
        (status = 400, description = "invalidValue or invalidSyntax"), (status = 401), (status = 403),
        (status = 409, description = "uniqueness: displayName taken")))]
pub async fn create(
    State(state): State<AppState>,
    _: ScimCaller,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let id = save(&state, None, group_in(&read(&bytes)?)?).await?;
    written(&state, id, &asked, StatusCode::CREATED).await
}

/// PUT: `displayName` replaced, and `members` when sent.
#[utoipa::path(put, path = "/scim/v2/Groups/{id}", tag = "scim", params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json"),
    responses((status = 200, description = "The Group", content_type = "application/scim+json"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 409), (status = 412, description = "If-Match names another version")))]
pub async fn replace(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let (current, members) = load(&state, parse_id(&id)?).await?;
    asked.check(&group(&current, &members))?;
    save(&state, Some(current.id), group_in(&read(&bytes)?)?).await?;
    written(&state, current.id, &asked, StatusCode::OK).await
}

/// PATCH: `displayName` and `members` (`add`, `replace`, `remove`, with `members[value eq
/// "<id>"]` paths), applied together in one write.
#[utoipa::path(patch, path = "/scim/v2/Groups/{id}", tag = "scim", params(("id" = String, Path)),
    request_body(content = Object, content_type = "application/scim+json", description = "A PatchOp"),
    responses((status = 200, description = "The Group", content_type = "application/scim+json"), (status = 400), (status = 401),
        (status = 403), (status = 404), (status = 409), (status = 412, description = "If-Match names another version")))]
pub async fn patch(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
    bytes: Bytes,
) -> ScimResult<Response> {
    let (current, members) = load(&state, parse_id(&id)?).await?;
    asked.check(&group(&current, &members))?;
    let body = read(&bytes)?;
    let ops = super::patch::patch_operations(&body, PATCH_SCHEMA)?;
    let mut p = group_patch::Patched {
        name: current.name.clone(),
        external_id: None,
        members: members.iter().map(|m| m.staff_id).collect(),
        members_changed: false,
    };
    ops.iter().try_for_each(|op| p.apply(op))?;
    save(&state, Some(current.id), p.into_wanted()).await?;
    written(&state, current.id, &asked, StatusCode::OK).await
}

/// DELETE: the permission group is deleted; its staffs lose what it granted (204).
#[utoipa::path(delete, path = "/scim/v2/Groups/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 401), (status = 403), (status = 404),
        (status = 412, description = "If-Match names another version")))]
pub async fn delete(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
    asked: Asked,
) -> ScimResult<Response> {
    let (current, members) = load(&state, parse_id(&id)?).await?;
    asked.check(&group(&current, &members))?;
    if !groups::delete(&state.db, current.id).await? {
        return Err(ScimError::not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
