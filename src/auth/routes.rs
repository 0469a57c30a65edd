//! `POST /api/v1/auth/login/`, `POST /api/v1/auth/logout/`, `GET /api/v1/auth/me/`.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use std::pin::Pin;

use super::lockout::{self, LoginAccount};
use super::throttle::LoginAttempt;
use super::{AccountKind, Caller, StaffCaller, token};
use crate::b2b::accounts::{self, StaffUserOut};
use crate::http::client::UserAgent;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::{Body, present};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}

/// Both fields are required.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct LoginIn {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = String, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    pub token: String,
    pub user: StaffUserOut,
}

pub use super::lockout::BAD_CREDENTIALS;

/// Logs a B2B account in and returns a new token. Attempts are limited per client address
/// (429) and per account (a locked account answers as a wrong password does).
#[utoipa::path(post, path = "/api/v1/auth/login/", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = LoginOut),
        (status = 400, description = "Bad credentials, or the account is locked"),
        (status = 429, body = Detail, description = "Too many attempts from this address; see `Retry-After`")))]
pub async fn login(
    State(state): State<AppState>,
    _attempt: LoginAttempt,
    agent: UserAgent,
    body: Body<LoginIn>,
) -> ApiResult<axum::Json<LoginOut>> {
    let (email, password) = credentials_of(body)?;
    let found = accounts::credentials_by_email(&state.db, &email)
        .await?
        .map(|c| LoginAccount {
            id: c.id,
            password_hash: c.password_hash,
            is_active: c.is_active,
        });
    let id = lockout::check_password(&state, AccountKind::User, &email, found, password).await?;
    let token = accounts::record_login(&state.db, id, agent.0.as_deref()).await?;
    let account = accounts::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(LoginOut {
        token,
        user: account.into(),
    }))
}

/// The trimmed email and the password of a login body, or the 400 naming what is missing.
fn credentials_of(body: Body<LoginIn>) -> ApiResult<(String, String)> {
    let (body, mut v) = body.into_parts();
    if let Some(email) = v.required("email", body.email.as_ref())
        && email.trim().is_empty()
    {
        v.add("email", "This field may not be blank.");
    }
    if let Some(password) = v.required("password", body.password.as_ref())
        && password.is_empty()
    {
        v.add("password", "This field may not be blank.");
    }
    v.finish()?;
    match (body.email, body.password) {
        (Some(email), Some(password)) => Ok((email.trim().to_owned(), password)),
        _ => Err(ApiError::field("non_field_errors", BAD_CREDENTIALS)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    pub detail: String,
}

/// Revokes the token that authenticates this request.
#[utoipa::path(post, path = "/api/v1/auth/logout/", tag = "auth",
    responses((status = 200, body = Detail),
        (status = 400, body = Detail, description = "The caller is a service token (configured, not revoked through the API)"),
        (status = 401, body = Detail)))]
pub async fn logout(
    State(state): State<AppState>,
    parts: axum::http::request::Parts,
) -> ApiResult<axum::Json<Detail>> {
    let mut parts = parts;
    let caller = Caller::from_request_parts(&mut parts, &state).await?;
    if matches!(caller, Caller::Service) {
        return Err(ApiError::BadRequest(
            "Service tokens are configured, not revoked through the API.".into(),
        ));
    }
    if let Some(presented) = super::presented_token(&parts)? {
        token::revoke(&state.db, &presented).await?;
    }
    Ok(axum::Json(Detail {
        detail: "Successfully logged out.".into(),
    }))
}

/// Describes an Instore staff for `me`; the Instore context provides it at start
/// ([`AppState::describe_staff`]), so authentication never calls into a context.
pub type DescribeStaff = for<'a> fn(&'a AppState, StaffCaller) -> BoxFuture<'a, ApiResult<MeOut>>;

/// A boxed future that a plain function pointer can return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The calling account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "account_type", rename_all = "snake_case")]
pub enum MeOut {
    /// A B2B account (user or staff user).
    User(StaffUserOut),
    /// An Instore staff.
    Staff(Box<crate::instore::staffs::StaffOut>),
    /// A configured service token.
    Service { is_superuser: bool },
}

/// Describes the caller: a B2B account, an Instore staff or a service token.
#[utoipa::path(get, path = "/api/v1/auth/me/", tag = "auth",
    responses((status = 200, body = MeOut), (status = 401, body = Detail)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<MeOut>> {
    let out = match caller {
        Caller::Service => MeOut::Service { is_superuser: true },
        Caller::User(u) => {
            let account = accounts::by_id(&state.db, u.id)
                .await?
                .ok_or(ApiError::NotFound)?;
            MeOut::User(account.into())
        }
        Caller::Staff(s) => (state.describe_staff)(&state, s).await?,
    };
    Ok(axum::Json(out))
}
