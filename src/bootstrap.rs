//! First start: an empty database and no service token get a superuser and a token, printed
//! once, so a newcomer can call every endpoint straight away.

use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::auth::password;
use crate::auth::token::{self, AccountKind};
use crate::b2b::accounts::{self, NewStaffAccount};
use crate::state::AppState;

pub struct FirstStart {
    pub email: String,
    pub password: String,
    pub token: String,
}

pub const FIRST_SUPERUSER_EMAIL: &str = "admin@kadro.local";

/// Creates the first superuser when there is no account and no service token; `None` otherwise.
pub async fn first_start(state: &AppState) -> anyhow::Result<Option<FirstStart>> {
    if !state.service_token_digests.is_empty() || accounts::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let hash = state
        .passwords
        .hash(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let _ = password::hash_now;
    let mut tx = state.db.begin().await?;
    let id = accounts::insert_staff(
        &mut tx,
        NewStaffAccount {
            email: FIRST_SUPERUSER_EMAIL,
            password_hash: &hash,
            is_superuser: true,
            division_id: None,
        },
    )
    .await?;
    let token = token::issue(&mut tx, AccountKind::User, id).await?;
    tx.commit().await?;
    Ok(Some(FirstStart {
        email: FIRST_SUPERUSER_EMAIL.into(),
        password,
        token,
    }))
}
