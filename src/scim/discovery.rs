//! SCIM's discovery endpoints (RFC 7644 §4): what kadro supports, as static documents.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{
    GROUP_SCHEMA, LIST_SCHEMA, STAFF_SCHEMA, ScimCaller, ScimError, ScimResult, USER_SCHEMA,
    respond,
};
use crate::state::AppState;

fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "itemsPerPage": resources.len(),
        "startIndex": 1,
        "Resources": resources,
    })
}

#[utoipa::path(get, path = "/scim/v2/ServiceProviderConfig", tag = "scim",
    responses((status = 200, content_type = "application/scim+json"), (status = 401), (status = 403)))]
pub async fn service_provider_config(_: ScimCaller) -> Response {
    respond(
        StatusCode::OK,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "patch": {"supported": true},
            "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": true, "maxResults": super::resource::MAX_COUNT},
            "changePassword": {"supported": false},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A KADRO_SERVICE_TOKENS token or a superuser's token.",
                "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": "/scim/v2/ServiceProviderConfig"},
        }),
    )
}

fn user_resource_type() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "An Instore staff",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": STAFF_SCHEMA, "required": true}],
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/User"},
    })
}

fn group_resource_type() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "Group",
        "name": "Group",
        "endpoint": "/Groups",
        "description": "A permission group; its members are staffs",
        "schema": GROUP_SCHEMA,
        "meta": {"resourceType": "ResourceType", "location": "/scim/v2/ResourceTypes/Group"},
    })
}

#[utoipa::path(get, path = "/scim/v2/ResourceTypes", tag = "scim",
    responses((status = 200, content_type = "application/scim+json"), (status = 401), (status = 403)))]
pub async fn resource_types(_: ScimCaller) -> Response {
    respond(
        StatusCode::OK,
        list(vec![user_resource_type(), group_resource_type()]),
    )
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, uniqueness: &str) -> Value {
    json!({
        "name": name, "type": kind, "multiValued": false, "required": required,
        "caseExact": false, "mutability": mutability, "returned": "default",
        "uniqueness": uniqueness,
    })
}

fn with_canonical(mut attribute: Value, values: &[&str]) -> Value {
    attribute["canonicalValues"] = json!(values);
    attribute
}

fn user_schema() -> Value {
    let sub = |name: &str| attribute(name, "string", false, "readWrite", "none");
    // What every staff has is required: its names, an email, whether it is active.
    let required = |name: &str| attribute(name, "string", true, "readWrite", "none");
    let mut name = attribute("name", "complex", true, "readWrite", "none");
    name["subAttributes"] = json!([required("givenName"), required("familyName")]);
    let mut emails = attribute("emails", "complex", true, "readWrite", "none");
    emails["multiValued"] = json!(true);
    emails["subAttributes"] = json!([
        attribute("value", "string", true, "readWrite", "none"),
        // One email, the work one: no `primary` to choose (one sent is read to pick the email).
        with_canonical(sub("type"), &["work"]),
    ]);
    let mut groups = attribute("groups", "complex", false, "readOnly", "none");
    groups["multiValued"] = json!(true);
    groups["subAttributes"] = json!([attribute("value", "string", false, "readOnly", "none")]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "An Instore staff",
        "attributes": [
            attribute("userName", "string", true, "readWrite", "server"),
            attribute("externalId", "string", false, "readWrite", "none"),
            name,
            emails,
            attribute("active", "boolean", true, "readWrite", "none"),
            groups,
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{USER_SCHEMA}")},
    })
}

fn group_schema() -> Value {
    let mut members = attribute("members", "complex", false, "readWrite", "none");
    members["multiValued"] = json!(true);
    members["subAttributes"] = json!([
        attribute("value", "string", false, "immutable", "none"),
        attribute("display", "string", false, "readOnly", "none"),
        attribute("type", "string", false, "immutable", "none"),
        attribute("$ref", "reference", false, "immutable", "none"),
    ]);
    members["subAttributes"][1]["returned"] = json!("request");
    members["subAttributes"][2]["canonicalValues"] = json!(["User"]);
    members["subAttributes"][3]["referenceTypes"] = json!(["User"]);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": GROUP_SCHEMA,
        "name": "Group",
        "description": "A permission group",
        "attributes": [
            attribute("displayName", "string", true, "readWrite", "server"),
            members,
        ],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{GROUP_SCHEMA}")},
    })
}

/// The staff extension; `stores` (ids of retail stores) are its `retailStores`'
/// `canonicalValues` (strings, as RFC 7643 §7 has them), so a client can pick a store that
/// exists.
fn staff_schema(stores: &[i64]) -> Value {
    let mut attr = attribute("retailStores", "string", true, "readWrite", "none");
    attr["multiValued"] = json!(true);
    attr["description"] =
        json!("Ids of the staff's retail stores; on create, KADRO_SCIM_DEFAULT_STORE when absent.");
    attr["canonicalValues"] = json!(stores.iter().map(i64::to_string).collect::<Vec<_>>());
    let stores = attr;
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": STAFF_SCHEMA,
        "name": "Staff",
        "description": "What kadro keeps of an Instore staff beyond SCIM's User",
        "attributes": [stores],
        "meta": {"resourceType": "Schema", "location": format!("/scim/v2/Schemas/{STAFF_SCHEMA}")},
    })
}

#[utoipa::path(get, path = "/scim/v2/Schemas", tag = "scim",
    responses((status = 200, content_type = "application/scim+json"), (status = 401), (status = 403)))]
pub async fn schemas(State(state): State<AppState>, _: ScimCaller) -> ScimResult<Response> {
    Ok(respond(StatusCode::OK, list(all_schemas(&state).await?)))
}

async fn all_schemas(state: &AppState) -> ScimResult<Vec<Value>> {
    let stores = super::store::store_ids(&state.db).await?;
    Ok(vec![user_schema(), group_schema(), staff_schema(&stores)])
}

/// One of [`resource_types`] by its id (`User`, `Group`).
#[utoipa::path(get, path = "/scim/v2/ResourceTypes/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/scim+json"), (status = 401), (status = 403), (status = 404)))]
pub async fn resource_type(_: ScimCaller, Path(id): Path<String>) -> ScimResult<Response> {
    [user_resource_type(), group_resource_type()]
        .into_iter()
        .find(|t| t["id"] == json!(id))
        .map(|t| respond(StatusCode::OK, t))
        .ok_or_else(|| ScimError::not_found(&id))
}

/// One of [`schemas`] by its id (its URN).
#[utoipa::path(get, path = "/scim/v2/Schemas/{id}", tag = "scim", params(("id" = String, Path)),
    responses((status = 200, content_type = "application/scim+json"), (status = 401), (status = 403), (status = 404)))]
pub async fn schema(
    State(state): State<AppState>,
    _: ScimCaller,
    Path(id): Path<String>,
) -> ScimResult<Response> {
    all_schemas(&state)
        .await?
        .into_iter()
        .find(|s| s["id"] == json!(id))
        .map(|s| respond(StatusCode::OK, s))
        .ok_or_else(|| ScimError::not_found(&id))
}

/// Any other path under `/scim/v2/`: a 404 in SCIM's shape.
pub async fn unknown(_: ScimCaller) -> ScimError {
    ScimError::new(
        StatusCode::NOT_FOUND,
        None,
        "There is no such SCIM endpoint",
    )
}

/// `POST /scim/v2/.search`, a query of several resource types at once (RFC 7644 §3.4.3): not
/// implemented (501, as §3.12 has it); ServiceProviderConfig has no attribute to say so.
pub async fn search_all(_: ScimCaller) -> ScimError {
    ScimError::new(
        StatusCode::NOT_IMPLEMENTED,
        None,
        "Searching several resource types at once is not supported",
    )
}
