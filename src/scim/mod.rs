//! SCIM 2.0 (RFC 7643, RFC 7644) at `/scim/v2/`: identity providers (Okta, Entra ID) provision
//! Instore staffs as SCIM Users. Callers are service tokens and superusers; every answer is
//! `application/scim+json`, every error in SCIM's shape.

pub mod discovery;
pub mod filter;
mod group_patch;
pub mod groups;
mod patch;
pub mod resource;
pub mod store;
pub mod users;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

use crate::auth::Caller;
use crate::http::error::ApiError;
use crate::state::AppState;

pub const CONTENT_TYPE: &str = "application/scim+json";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// kadro's extension of User: the staff's retail stores (ids).
pub const STAFF_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:kadro:2.0:Staff";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(discovery::resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/scim/v2/Schemas", get(discovery::schemas))
        .route("/scim/v2/Schemas/{id}", get(discovery::schema))
        .route("/scim/v2/Users", get(users::list).post(users::create))
        .route(
            "/scim/v2/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/scim/v2/Groups", get(groups::list).post(groups::create))
        .route(
            "/scim/v2/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/scim/v2/.search", any(discovery::search_all))
        .route("/scim/v2/{*rest}", any(discovery::unknown))
}

/// A SCIM answer: the JSON with SCIM's content type.
pub fn respond(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        body.to_string(),
    )
        .into_response()
}

/// An error in SCIM's shape (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    pub status: StatusCode,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

pub type ScimResult<T> = Result<T, ScimError>;

impl ScimError {
    pub fn new(
        status: StatusCode,
        scim_type: Option<&'static str>,
        detail: impl Into<String>,
    ) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), detail)
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }

    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            None,
            format!("Resource {id} not found"),
        )
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_str(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = json!(t);
        }
        respond(self.status, body)
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(e: sqlx::Error) -> Self {
        ScimError::from(ApiError::from(e))
    }
}

/// kadro's errors in SCIM's shape: a taken username is `uniqueness` (409), other field errors
/// `invalidValue` naming SCIM's attributes.
impl From<ApiError> for ScimError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Validation(errors) => {
                // A taken username or group name.
                let taken = errors
                    .iter()
                    .find(|(_, messages)| messages.iter().any(|m| m.ends_with("already exists.")));
                if let Some((field, _)) = taken {
                    return Self::new(
                        StatusCode::CONFLICT,
                        Some("uniqueness"),
                        format!("{} is already taken.", users::attribute_of(field)),
                    );
                }
                let detail = errors
                    .iter()
                    .map(|(f, m)| format!("{}: {}", users::attribute_of(f), m.join(" ")))
                    .collect::<Vec<_>>()
                    .join("; ");
                Self::invalid_value(detail)
            }
            ApiError::NotFound => Self::new(StatusCode::NOT_FOUND, None, "Resource not found"),
            ApiError::Unauthenticated(detail) => Self::new(StatusCode::UNAUTHORIZED, None, detail),
            ApiError::PermissionDenied => Self::new(
                StatusCode::FORBIDDEN,
                None,
                "SCIM is for service tokens and superusers.",
            ),
            other => {
                let status = other.status();
                if status.is_server_error() {
                    // Logged as kadro's own errors are; the body says nothing more.
                    let _ = other.into_response();
                    Self::new(status, None, "A server error occurred.")
                } else {
                    Self::new(status, None, other.to_string())
                }
            }
        }
    }
}

/// A caller allowed to use SCIM: a service token or a superuser.
pub struct ScimCaller(pub Caller);

impl FromRequestParts<AppState> for ScimCaller {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ScimResult<Self> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_superuser() {
            return Err(ApiError::PermissionDenied.into());
        }
        Ok(ScimCaller(caller))
    }
}
