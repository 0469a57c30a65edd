//! Creating a user: the body checked, then the two steps around Commerce ([`reserve`], then
//! [`register`]), each a short transaction of its own.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{NAME_MAX, PHONE_MAX};
use crate::audit;
use crate::auth::token;
use crate::b2b::users::events;
use crate::b2b::users::store::{self, NewUser, Profile, UserScope};
use crate::commerce::{self, Commerce};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::Body;
use crate::http::validate::invalid_pk;
use crate::jobs;
use crate::state::AppState;

/// Body of `POST /api/v1/users/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreateIn {
    #[serde(default)]
    #[schema(
        nullable = false,
        required = true,
        pattern = r"^[^\x00]*\S[^\x00]*$",
        max_length = 150
    )]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(
        nullable = false,
        required = true,
        pattern = r"^[^\x00]*\S[^\x00]*$",
        max_length = 150
    )]
    pub last_name: Option<String>,
    #[serde(default)]
    #[schema(
        nullable = false,
        required = true,
        max_length = 254,
        pattern = r"^[A-Za-z0-9_+-]+(\.[A-Za-z0-9_+-]+)*@[A-Za-z0-9]+(-[A-Za-z0-9]+)*(\.[A-Za-z0-9]+(-[A-Za-z0-9]+)*)*\.[A-Za-z]{2,}$"
    )]
    pub email: Option<String>,
    /// Write-only: at least 8 characters, not all digits.
    #[serde(default)]
    #[schema(
        nullable = false,
        required = true,
        min_length = 8,
        pattern = r"^[^\x00]*[^0-9\x00][^\x00]*$"
    )]
    pub password: Option<String>,
    #[serde(default)]
    #[schema(max_length = 128)]
    pub phone_number: Option<String>,
    /// An active division's id.
    #[serde(default)]
    #[schema(nullable = false, required = true)]
    pub division: Option<i64>,
}

/// Answer of `POST /api/v1/users/` (seed 004; the password is never returned).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreatedOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    pub division: Option<i64>,
}

pub async fn create(
    state: &AppState,
    scope: UserScope,
    body: Body<UserCreateIn>,
) -> ApiResult<UserCreatedOut> {
    let (body, mut v) = body.into_parts();
    for (field, value) in [
        ("first_name", &body.first_name),
        ("last_name", &body.last_name),
    ] {
        if let Some(value) = v.required(field, value.as_ref()) {
            v.text(field, value, NAME_MAX, false);
        }
    }
    if let Some(email) = v.required("email", body.email.as_ref()) {
        v.email("email", email, false);
    }
    if let Some(password) = v.required("password", body.password.as_ref()) {
        v.absorb(state.passwords.validate("password", password))?;
    }
    let phone = body.phone_number.clone().unwrap_or_default();
    v.text("phone_number", &phone, PHONE_MAX, true);
    v.required("division", body.division.as_ref());
    v.finish()?;
    let (Some(first_name), Some(last_name), Some(email), Some(password), Some(division)) = (
        body.first_name,
        body.last_name,
        body.email,
        body.password,
        body.division,
    ) else {
        return Err(ApiError::BadRequest("incomplete body".into()));
    };
    let email = email.trim().to_owned();
    let password_hash = state.passwords.hash(password.clone()).await?;

    let new = NewUser {
        email: &email,
        password_hash: &password_hash,
        first_name: &first_name,
        last_name: &last_name,
        phone_number: &phone,
        division_id: division,
        shop_token: &token::generate(),
    };
    let id = match reserve(state, scope, &new).await? {
        Reserved::Existing(id) => id,
        Reserved::New { id, recovery } => {
            if let Some(recovery) = recovery {
                register(state, id, recovery, &new, &password).await?;
            }
            id
        }
    };
    Ok(UserCreatedOut {
        id,
        email: email.clone(),
        first_name,
        last_name,
        phone_number: phone,
        division: Some(division),
    })
}

/// What the first step of a create did.
pub enum Reserved {
    /// An existing superuser re-registered: its profile was updated, nothing else happens.
    Existing(i64),
    /// A new user: reserved with its recovery job (Commerce mode), or complete (local mode).
    New { id: i64, recovery: Option<i64> },
}

/// The first short transaction of a create: checks the division and the email, then inserts
/// the user. With Commerce the row is reserved (`registering`: no reader sees it) with a
/// recovery job that settles it if this request dies before [`register`] ends.
pub async fn reserve(state: &AppState, scope: UserScope, new: &NewUser<'_>) -> ApiResult<Reserved> {
    let mut tx = state.db.begin().await?;
    let division_row = store::division_in_scope(&mut tx, scope, new.division_id)
        .await?
        .ok_or_else(|| ApiError::field("division", invalid_pk(new.division_id)))?;
    if !division_row.is_active {
        return Err(ApiError::division_not_active());
    }
    if let Some(existing) = store::by_email(&mut tx, new.email).await? {
        if !existing.account.is_superuser {
            return Err(ApiError::user_already_exists());
        }
        let profile = Profile {
            first_name: new.first_name.to_owned(),
            last_name: new.last_name.to_owned(),
            phone_number: new.phone_number.to_owned(),
            division_id: Some(new.division_id),
            is_active: existing.account.is_active,
        };
        store::update_profile(&mut tx, existing.account.id, &profile).await?;
        audit::record(&mut tx, events::updated(&existing, &profile)).await?;
        tx.commit().await?;
        return Ok(Reserved::Existing(existing.account.id));
    }
    let remote = !state.commerce.is_local();
    let id = store::insert(&mut tx, new, remote).await?;
    let recovery = if remote {
        Some(commerce::jobs::queue_settle_registration(&mut tx, &state.config, id).await?)
    } else {
        store::set_remote_id(&mut tx, id, id).await?;
        audit::record(&mut tx, events::created(id, new)).await?;
        None
    };
    tx.commit().await?;
    Ok(Reserved::New { id, recovery })
}

/// Registers a reserved user on Commerce with no transaction open, then confirms it (Commerce
/// accepted) or removes it (Commerce failed: 502 and no trace); either way `recovery` is not
/// needed any more.
pub async fn register(
    state: &AppState,
    id: i64,
    recovery: i64,
    new: &NewUser<'_>,
    password: &str,
) -> ApiResult<()> {
    let Commerce::Remote(remote) = &state.commerce else {
        return Ok(());
    };
    let profile = commerce::Profile {
        email: new.email,
        first_name: new.first_name,
        last_name: new.last_name,
        phone_number: new.phone_number,
    };
    let remote_id = match remote.register(&profile, password).await {
        Ok(remote_id) => remote_id,
        Err(e) => {
            let mut tx = state.db.begin().await?;
            store::release_registration(&mut tx, id).await?;
            jobs::cancel(&mut tx, recovery).await?;
            tx.commit().await?;
            return Err(e.into());
        }
    };
    let mut tx = state.db.begin().await?;
    store::confirm_registration(&mut tx, id, remote_id).await?;
    audit::record(&mut tx, events::created(id, new)).await?;
    if remote_id.is_none() {
        commerce::jobs::queue_update_remote_id(&mut tx, id).await?;
    }
    jobs::cancel(&mut tx, recovery).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(())
}
