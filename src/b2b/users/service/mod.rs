//! The rules of seed 004 for creating, updating and (de)activating users.
//!
//! No transaction, connection or SQLite writer turn is held while Commerce is called (see
//! `ARCHITECTURE.md`, "Commerce calls"): a create reserves the user in a short transaction,
//! calls Commerce, then confirms or removes it in a second one; an update or (de)activation
//! calls Commerce first and commits after it accepted. Each queues a recovery job beforehand
//! that sets things right if the process dies in between; the commit cancels it. A Commerce
//! failure answers 502 and leaves no change visible.

mod create;

pub use create::{Reserved, UserCreateIn, UserCreatedOut, create, register, reserve};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events;
use super::store::{self, Profile, UserRow, UserScope};
use crate::audit::{self, Event};
use crate::b2b::accounts;
use crate::commerce::{self, Commerce};
use crate::db::Tx;
use crate::http::error::{ApiError, ApiResult};
use crate::http::json::{Body, present};
use crate::http::validate::invalid_pk;
use crate::jobs;
use crate::state::AppState;

pub const NAME_MAX: usize = 150;
pub const PHONE_MAX: usize = 128;

/// Body of `PUT`/`PATCH /api/v1/users/{id}/`: every field optional.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UserUpdateIn {
    #[serde(default)]
    #[schema(pattern = r"^[^\x00]*\S[^\x00]*$", max_length = 150)]
    pub first_name: Option<String>,
    #[serde(default)]
    #[schema(pattern = r"^[^\x00]*\S[^\x00]*$", max_length = 150)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub phone_number: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = i64)]
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

pub async fn update(
    state: &AppState,
    scope: UserScope,
    id: i64,
    body: Body<UserUpdateIn>,
) -> ApiResult<UserUpdatedOut> {
    let (body, mut v) = body.into_parts();
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
    let user = store::by_id(&state.db, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    // A division out of reach is named with the body's other errors.
    let division_active = match body.division.flatten() {
        Some(division) => match store::division_in_scope(&state.db, scope, division).await? {
            Some(row) => row.is_active,
            None => {
                v.add("division", invalid_pk(division));
                true
            }
        },
        None => user.division_active.unwrap_or(true),
    };
    v.finish()?;
    if body.division.flatten().is_some() && !division_active {
        return Err(ApiError::division_not_active());
    }
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
    let recovery = match &state.commerce {
        Commerce::Local => None,
        Commerce::Remote(remote) => {
            let recovery = queue_recovery(state, id).await?;
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
            Some(recovery)
        }
    };
    let mut tx = state.db.begin().await?;
    store::update_profile(&mut tx, id, &profile).await?;
    audit::record(&mut tx, events::updated(&user, &profile)).await?;
    settle(&mut tx, recovery).await?;
    tx.commit().await?;
    Ok(UserUpdatedOut {
        id,
        first_name: profile.first_name,
        last_name: profile.last_name,
        phone_number: profile.phone_number,
        division: profile.division_id,
    })
}

/// Activates (after checking the division) or deactivates a user: Commerce is told first, with
/// no transaction open, then the change commits. The last active superuser is not deactivated.
pub async fn set_active(
    state: &AppState,
    scope: UserScope,
    id: i64,
    active: bool,
) -> ApiResult<()> {
    let user: UserRow = store::by_id(&state.db, scope, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if active && user.division_active == Some(false) {
        return Err(ApiError::division_not_active());
    }
    let recovery = match (&state.commerce, user.account.remote_id) {
        (Commerce::Remote(remote), Some(remote_id)) => {
            // Checked again under lock below; this spares Commerce a change that is refused.
            if !active && user.account.is_superuser {
                let mut tx = state.db.begin().await?;
                refuse_last_superuser(&mut tx, id).await?;
            }
            let recovery = queue_recovery(state, id).await?;
            remote.set_active(remote_id, active).await?;
            Some(recovery)
        }
        _ => None,
    };
    let mut tx = state.db.begin().await?;
    if !active {
        refuse_last_superuser(&mut tx, id).await?;
    }
    store::set_active(&mut tx, id, active).await?;
    audit::record(&mut tx, events::activity(&user, active)).await?;
    settle(&mut tx, recovery).await?;
    tx.commit().await?;
    Ok(())
}

async fn refuse_last_superuser(tx: &mut Tx, id: i64) -> ApiResult<()> {
    if accounts::is_last_superuser(tx, id).await? {
        return Err(ApiError::BadRequest(
            "The last active superuser cannot be deactivated.".into(),
        ));
    }
    Ok(())
}

/// Queues, in a short transaction of its own, the job that sends the user as kadro has it to
/// Commerce if this request dies between its Commerce call and its commit (or the call timed
/// out after Commerce applied it).
async fn queue_recovery(state: &AppState, id: i64) -> ApiResult<i64> {
    let mut tx = state.db.begin().await?;
    let job = commerce::jobs::queue_sync_user(&mut tx, &state.config, id).await?;
    tx.commit().await?;
    Ok(job)
}

/// Cancels the recovery job in the transaction that commits the change it guarded.
async fn settle(tx: &mut Tx, recovery: Option<i64>) -> ApiResult<()> {
    if let Some(job) = recovery {
        jobs::cancel(tx, job).await?;
    }
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
    audit::record(&mut tx, Event::new("user.update_remote_id", "user", id)).await?;
    tx.commit().await?;
    state.job_signal.notify_one();
    Ok(())
}
