//! The rules of seed 004 for creating, updating and (de)activating users, with the Commerce
//! calls made inside the transaction: the local change commits only after Commerce accepted,
//! so a Commerce failure leaves nothing behind.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store::{self, NewUser, Profile, UserRow, UserScope};
use crate::app::AppState;
use crate::auth::token;
use crate::commerce::{self, Commerce};
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::present;
use crate::http::validate::{Validator, invalid_pk};

const NAME_MAX: usize = 150;
const PHONE_MAX: usize = 128;

/// Body of `POST /api/v1/users/`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserCreateIn {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Write-only.
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default)]
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

/// Body of `PUT`/`PATCH /api/v1/users/{id}/`: every field optional.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserUpdateIn {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub division: Option<Option<i64>>,
}

/// Answer of an update (seed 004).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserUpdatedOut {
    pub id: i64,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    pub division: Option<i64>,
}

pub async fn create(
    state: &AppState,
    scope: UserScope,
    body: UserCreateIn,
) -> ApiResult<UserCreatedOut> {
    let mut v = Validator::new();
    for (field, value) in [
        ("first_name", &body.first_name),
        ("last_name", &body.last_name),
    ] {
        if let Some(value) = v.required(field, value.as_ref()) {
            v.text(field, value, NAME_MAX, false);
        }
    }
    if let Some(email) = v.required("email", body.email.as_ref()) {
        v.email("email", email);
    }
    if let Some(password) = v.required("password", body.password.as_ref())
        && let Err(ApiError::Validation(errors)) = state.passwords.validate("password", password)
    {
        v.errors.merge(errors);
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

    let mut tx = state.db.begin().await?;
    let division_row = store::division_in_scope(&mut tx, scope, division)
        .await?
        .ok_or_else(|| ApiError::field("division", invalid_pk(division)))?;
    if !division_row.is_active {
        return Err(ApiError::division_not_active());
    }
    let created = |id| UserCreatedOut {
        id,
        email: email.clone(),
        first_name: first_name.clone(),
        last_name: last_name.clone(),
        phone_number: phone.clone(),
        division: Some(division),
    };
    if let Some(existing) = store::by_email(&mut tx, &email).await? {
        if !existing.account.is_superuser {
            return Err(ApiError::user_already_exists());
        }
        // An existing superuser re-registered: only the profile fields are updated.
        let profile = Profile {
            first_name: first_name.clone(),
            last_name: last_name.clone(),
            phone_number: phone.clone(),
            division_id: Some(division),
            is_active: existing.account.is_active,
        };
        store::update_profile(&mut tx, existing.account.id, &profile).await?;
        tx.commit().await?;
        return Ok(UserCreatedOut {
            email: existing.account.email,
            ..created(existing.account.id)
        });
    }
    let shop_token = token::generate();
    let new = NewUser {
        email: &email,
        password_hash: &password_hash,
        first_name: &first_name,
        last_name: &last_name,
        phone_number: &phone,
        division_id: division,
        shop_token: &shop_token,
    };
    let id = store::insert(&mut tx, &new).await.map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            ApiError::user_already_exists()
        } else {
            e.into()
        }
    })?;
    match &state.commerce {
        Commerce::Local => store::set_remote_id(&mut tx, id, id).await?,
        Commerce::Remote(remote) => {
            let profile = commerce::Profile {
                email: &email,
                first_name: &first_name,
                last_name: &last_name,
                phone_number: &phone,
            };
            match remote.register(&profile, &password).await? {
                Some(remote_id) => store::set_remote_id(&mut tx, id, remote_id).await?,
                None => {
                    commerce::jobs::queue_update_remote_id(&mut tx, id).await?;
                }
            }
        }
    }
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(created(id))
}

pub async fn update(
    state: &AppState,
    scope: UserScope,
    id: i64,
    body: UserUpdateIn,
) -> ApiResult<UserUpdatedOut> {
    let mut v = Validator::new();
    for (field, value) in [
        ("first_name", &body.first_name),
        ("last_name", &body.last_name),
    ] {
        if let Some(value) = value {
            v.text(field, value, NAME_MAX, false);
        }
    }
    if let Some(phone) = &body.phone_number {
        v.text("phone_number", phone, PHONE_MAX, true);
    }
    if let Some(None) = body.division {
        v.add("division", "This field may not be null.");
    }
    v.finish()?;

    let mut tx = state.db.begin().await?;
    let user = store::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let division_active = match body.division.flatten() {
        Some(division) => {
            let row = store::division_in_scope(&mut tx, scope, division)
                .await?
                .ok_or_else(|| ApiError::field("division", invalid_pk(division)))?;
            if !row.is_active {
                return Err(ApiError::division_not_active());
            }
            true
        }
        None => user.division_active.unwrap_or(true),
    };
    // An inactive user is re-activated by an update, if its division is active.
    let reactivated = !user.account.is_active;
    if reactivated && !division_active {
        return Err(ApiError::division_not_active());
    }
    let profile = Profile {
        first_name: body
            .first_name
            .unwrap_or_else(|| user.account.first_name.clone()),
        last_name: body
            .last_name
            .unwrap_or_else(|| user.account.last_name.clone()),
        phone_number: body
            .phone_number
            .unwrap_or_else(|| user.account.phone_number.clone()),
        division_id: body.division.flatten().or(user.account.division_id),
        is_active: true,
    };
    store::update_profile(&mut tx, id, &profile).await?;
    if let Commerce::Remote(remote) = &state.commerce {
        let sent = commerce::Profile {
            email: &user.account.email,
            first_name: &profile.first_name,
            last_name: &profile.last_name,
            phone_number: &profile.phone_number,
        };
        remote.update_profile(&sent).await?;
        if let (true, Some(remote_id)) = (reactivated, user.account.remote_id) {
            remote.set_active(remote_id, true).await?;
        }
    }
    tx.commit().await?;
    Ok(UserUpdatedOut {
        id,
        first_name: profile.first_name,
        last_name: profile.last_name,
        phone_number: profile.phone_number,
        division: profile.division_id,
    })
}

/// Activates (after checking the division) or deactivates a user, then tells Commerce.
pub async fn set_active(
    state: &AppState,
    scope: UserScope,
    id: i64,
    active: bool,
) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    let user: UserRow = store::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if active && user.division_active == Some(false) {
        return Err(ApiError::division_not_active());
    }
    store::set_active(&mut tx, id, active).await?;
    if let (Commerce::Remote(remote), Some(remote_id)) = (&state.commerce, user.account.remote_id) {
        remote.set_active(remote_id, active).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Looks the user's Commerce id up in the background (local mode: its own id, at once).
pub async fn update_remote_id(state: &AppState, scope: UserScope, id: i64) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    store::by_id(&mut tx, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    match &state.commerce {
        Commerce::Local => store::set_remote_id(&mut tx, id, id).await?,
        Commerce::Remote(_) => {
            commerce::jobs::queue_update_remote_id(&mut tx, id).await?;
        }
    }
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(())
}
