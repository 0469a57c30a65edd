//! `POST /api/v1/staffs/login/`: a staff logs in at one of its stores with its username (or
//! its email, when no other staff shares it) and gets a token.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::StaffOut;
use super::queries;
use crate::auth::lockout::{self, BAD_CREDENTIALS, LoginAccount};
use crate::auth::throttle::LoginAttempt;
use crate::auth::token::AccountKind;
use crate::db::Db;
use crate::http::client::UserAgent;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::state::AppState;

pub const AMBIGUOUS_EMAIL: &str =
    "Several staffs share this email address; log in with your username instead.";

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StaffLoginIn {
    /// The staff's username; or give `email`.
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub username: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(write_only, format = Password, nullable = false, required = true, pattern = r"^[^\x00]*\S[^\x00]*$")]
    pub password: Option<String>,
    /// The id of the store the staff works at now; one of its `retail_stores`.
    #[serde(default)]
    #[schema(nullable = false, required = true)]
    pub retail_store: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffLoginOut {
    pub token: String,
    pub staff: StaffOut,
}

/// Logs a staff in at a store: sets its `current_store` and `last_login` and returns a new
/// token. A wrong password, an unknown account, an inactive and a locked one get the same
/// answer; attempts are limited per client address (429) and per account (lockout).
#[utoipa::path(post, path = "/api/v1/staffs/login/", tag = "instore staffs",
    request_body = StaffLoginIn, security(),
    responses((status = 200, body = StaffLoginOut),
        (status = 400, description = "Bad credentials, or the account is locked"),
        (status = 429, description = "Too many attempts from this address; see `Retry-After`")))]
pub async fn login(
    State(state): State<AppState>,
    _attempt: LoginAttempt,
    agent: UserAgent,
    body: Body<StaffLoginIn>,
) -> ApiResult<axum::Json<StaffLoginOut>> {
    let (login, password, store) = check(body)?;
    let found = credentials(&state.db, &login).await?;
    let name = match &login {
        Login::Username(u) => format!("username:{u}"),
        Login::Email(e) => format!("email:{e}"),
    };
    let id = lockout::check_password(&state, AccountKind::Staff, &name, found, password).await?;
    check_store(&state.db, id, store).await?;
    let token = queries::record_login(&state.db, id, store, agent.0.as_deref()).await?;
    let staff = queries::by_id(&state.db, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(StaffLoginOut { token, staff }))
}

enum Login {
    Username(String),
    Email(String),
}

fn check(body: Body<StaffLoginIn>) -> ApiResult<(Login, String, i64)> {
    let (body, mut c) = body.into_parts();
    let username = body.username.filter(|u| !u.trim().is_empty());
    let email = body.email.filter(|e| !e.trim().is_empty());
    for (field, value, max) in [
        ("username", &username, 150),
        ("email", &email, 254),
        ("password", &body.password, 4096),
    ] {
        if let Some(value) = value {
            c.text(field, value, max, true);
        }
    }
    match c.required("password", body.password.as_ref()) {
        Some(password) if password.is_empty() => c.add("password", "This field may not be blank."),
        _ => {}
    }
    c.required("retail_store", body.retail_store.as_ref());
    let login = match (username, email) {
        (Some(username), _) => Some(Login::Username(username.trim().to_owned())),
        (None, Some(email)) => Some(Login::Email(email.trim().to_owned())),
        (None, None) if !c.has("username") && !c.has("email") => {
            c.add(
                "non_field_errors",
                "Must include \"username\" or \"email\".",
            );
            None
        }
        (None, None) => None,
    };
    c.finish()?;
    match (login, body.password, body.retail_store) {
        (Some(login), Some(password), Some(store)) => Ok((login, password, store)),
        _ => Err(ApiError::field("non_field_errors", BAD_CREDENTIALS)),
    }
}

/// The account a login names; an email that several staffs share names none of them.
async fn credentials(db: &Db, login: &Login) -> ApiResult<Option<LoginAccount>> {
    let (column, value) = match login {
        Login::Username(u) => ("username", u),
        Login::Email(e) => ("email", e),
    };
    let mut found = queries::login_candidates(db, column, value).await?;
    if found.len() > 1 {
        return Err(ApiError::field("email", AMBIGUOUS_EMAIL));
    }
    Ok(found.pop())
}

/// The store must be one of the staff's, and open.
async fn check_store(db: &Db, staff: i64, store: i64) -> ApiResult<()> {
    match queries::store_is_active(db, staff, store).await? {
        None => Err(ApiError::field(
            "retail_store",
            "The staff is not assigned to this retail store.",
        )),
        Some(false) => Err(ApiError::field(
            "retail_store",
            "This retail store is not active.",
        )),
        Some(true) => Ok(()),
    }
}

/// The open stores (id, name) of the staff `login` names (a username, or an email when it
/// contains `@`), for a sign-in form's store picker. Callers ask only once the password was
/// accepted, so it tells nothing to someone who does not know it.
pub async fn stores_for(db: &Db, login: &str) -> ApiResult<Vec<(i64, String)>> {
    let column = if login.contains('@') {
        "email"
    } else {
        "username"
    };
    Ok(queries::login_stores(db, column, login.trim()).await?)
}
