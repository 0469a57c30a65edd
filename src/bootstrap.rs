//! What a start tells the operator. First start: an empty database and no service token get a
//! superuser and a token, printed once, so a newcomer can call every endpoint straight away.
//! Any later start where no superuser can sign in says how to make one.

use rand::Rng;
use rand::distributions::Alphanumeric;

use crate::auth::token::{self, AccountKind};
use crate::b2b::accounts::{self, NewStaffAccount};
use crate::state::AppState;

pub struct FirstStart {
    pub email: String,
    pub password: String,
    pub token: String,
}

/// What a start found.
pub enum Start {
    /// The database was empty: a first superuser was made.
    First(FirstStart),
    /// No active superuser has a password and no service token is configured: nobody can
    /// administer kadro until one is made.
    NoSuperuser,
    /// Someone can sign in as a superuser (or service tokens act as one).
    Ready,
}

pub const FIRST_SUPERUSER_EMAIL: &str = "admin@kadro.local";

/// Creates the first superuser when there is no account and no service token, or says that
/// nobody can sign in as a superuser.
pub async fn start(state: &AppState) -> anyhow::Result<Start> {
    if !state.service_token_digests.is_empty() {
        return Ok(Start::Ready);
    }
    if accounts::count(&state.db).await? > 0 {
        return Ok(
            match accounts::superusers_who_can_sign_in(&state.db).await? {
                0 => Start::NoSuperuser,
                _ => Start::Ready,
            },
        );
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
    let mut tx = state.db.begin().await?;
    let id = accounts::create_staff(
        &mut tx,
        NewStaffAccount {
            email: FIRST_SUPERUSER_EMAIL,
            password_hash: &hash,
            is_superuser: true,
            division_id: None,
        },
    )
    .await?;
    let token = token::grant(&mut tx, AccountKind::User, id).await?;
    tx.commit().await?;
    Ok(Start::First(FirstStart {
        email: FIRST_SUPERUSER_EMAIL.into(),
        password,
        token,
    }))
}

/// The lines a start prints for the operator (none when all is well).
pub fn advice(start: &Start, base: &str, database: &str) -> Option<String> {
    match start {
        Start::First(first) => Some(format!(
            "kadro created a first superuser: {} (password: {})\n\
             Database: {database}\n\
             API docs: {base}/api/docs/\n\
             Try it:\n  curl -H 'Authorization: Token {}' {base}/api/v1/auth/me/",
            first.email, first.password, first.token
        )),
        Start::NoSuperuser => Some(format!(
            "No active superuser can sign in to {database}. Make one (with the same \
             KADRO_DATABASE_URL):\n  \
             kadro createsuperuser --email you@example.com\n  \
             kadro token issue --email you@example.com\n\
             API docs: {base}/api/docs/"
        )),
        Start::Ready => None,
    }
}
