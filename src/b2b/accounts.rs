//! B2B accounts (the `users` table): the row, its staff-user shape, and the queries that
//! authentication, the CLI and the B2B APIs share.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{self, Actor, Event};
use crate::auth::password::Passwords;
use crate::auth::token::{self, AccountKind};
use crate::b2b::user_filter::UserFilter;
use crate::db::list::{ListSource, Window, list_page};
use crate::db::{Db, Query, Tx};
use crate::http::error::{ApiError, ApiResult};
use crate::http::time::{self, optional_timestamp, timestamp};

/// Every column of `users` but the password hash.
pub const ACCOUNT_COLUMNS: &str = "users.id, users.email, users.first_name, users.last_name, \
    users.phone_number, users.division_id, users.is_active, users.is_staff, users.is_superuser, \
    users.shop_token, users.remote_id, users.language, users.date_joined, users.last_login";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    pub division_id: Option<i64>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub shop_token: String,
    pub remote_id: Option<i64>,
    pub language: String,
    pub date_joined: DateTime<Utc>,
    pub last_login: Option<DateTime<Utc>>,
}

/// A B2B staff user as seeds 000/001 show it (`division` is the division's id).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffUserOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    pub division: Option<i64>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub shop_token: String,
    pub remote_id: Option<i64>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2024-12-12T12:57:07.517766Z")]
    pub date_joined: DateTime<Utc>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login: Option<DateTime<Utc>>,
}

impl From<Account> for StaffUserOut {
    fn from(a: Account) -> Self {
        StaffUserOut {
            id: a.id,
            email: a.email,
            first_name: a.first_name,
            last_name: a.last_name,
            phone_number: a.phone_number,
            division: a.division_id,
            is_active: a.is_active,
            is_staff: a.is_staff,
            is_superuser: a.is_superuser,
            shop_token: a.shop_token,
            remote_id: a.remote_id,
            date_joined: a.date_joined,
            last_login: a.last_login,
        }
    }
}

#[derive(sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub password_hash: String,
    pub is_active: bool,
}

/// Finds an account by email, case-insensitively (as the unique index compares).
pub async fn credentials_by_email(
    db: &Db,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    Query::new(format!(
        "SELECT id, password_hash, is_active FROM users WHERE {} AND registering = FALSE",
        db.dialect().same_text("email", "$1")
    ))
    .bind(email)
    .fetch_optional(db)
    .await
}

pub async fn by_id<'a>(
    target: impl Into<crate::db::Target<'a>>,
    id: i64,
) -> Result<Option<Account>, sqlx::Error> {
    Query::new(format!("SELECT {ACCOUNT_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(target)
        .await
}

pub async fn id_by_email(db: &Db, email: &str) -> Result<Option<i64>, sqlx::Error> {
    Query::new(format!(
        "SELECT id FROM users WHERE {}",
        db.dialect().same_text("email", "$1")
    ))
    .bind(email)
    .scalar_optional(db)
    .await
}

/// Records a login: sets `last_login`, issues a token (remembering the client's `User-Agent`)
/// and records the audit event, in one transaction. The plain token is returned once.
pub async fn record_login(
    db: &Db,
    id: i64,
    user_agent: Option<&str>,
) -> Result<String, sqlx::Error> {
    let mut tx = db.begin().await?;
    Query::new("UPDATE users SET last_login = $1 WHERE id = $2")
        .bind(time::now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    let token = token::issue_for(&mut tx, AccountKind::User, id, user_agent).await?;
    let event = Event::new("auth.login", "user", id).by(Actor::User(id));
    audit::record(&mut tx, event).await?;
    tx.commit().await?;
    Ok(token)
}

/// What a new B2B staff account (superuser or not) starts with.
pub struct NewStaffAccount<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub is_superuser: bool,
    pub division_id: Option<i64>,
}

/// Inserts a B2B staff account; its `remote_id` stays null (staff are not Commerce customers).
pub async fn insert_staff(tx: &mut Tx, new: NewStaffAccount<'_>) -> Result<i64, sqlx::Error> {
    Query::new(
        "INSERT INTO users (email, password_hash, division_id, is_active, is_staff, is_superuser, \
         date_joined) VALUES ($1, $2, $3, TRUE, TRUE, $4, $5) RETURNING id",
    )
    .bind(new.email)
    .bind(new.password_hash)
    .bind(new.division_id)
    .bind(new.is_superuser)
    .bind(time::now())
    .scalar(tx)
    .await
}

/// [`insert_staff`] with its `staff_user.create` event: how the command line and the first
/// start create an account.
pub async fn create_staff(tx: &mut Tx, new: NewStaffAccount<'_>) -> Result<i64, sqlx::Error> {
    let created = serde_json::json!({
        "email": new.email, "division": new.division_id, "is_active": true,
        "is_staff": true, "is_superuser": new.is_superuser,
    });
    let id = insert_staff(tx, new).await?;
    let event = Event::new("staff_user.create", "staff_user", id).changes(audit::created(&created));
    audit::record(tx, event).await?;
    Ok(id)
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    Query::new("SELECT COUNT(*) FROM users").scalar(db).await
}

/// How many active superusers have a password to sign in with.
pub async fn superusers_who_can_sign_in(db: &Db) -> Result<i64, sqlx::Error> {
    Query::new(
        "SELECT COUNT(*) FROM users WHERE is_superuser = TRUE AND is_active = TRUE \
         AND is_staff = TRUE AND registering = FALSE AND password_hash LIKE $1",
    )
    .bind("$argon2%")
    .scalar(db)
    .await
}

/// Locks the active superusers until the transaction ends (PostgreSQL; SQLite's write
/// transaction already excludes every other writer) and says whether `id` is the only one:
/// then demoting or deactivating it would leave nobody able to administer kadro. Holding the
/// lock until the change commits makes two such requests racing each other safe.
pub async fn is_last_superuser(tx: &mut Tx, id: i64) -> Result<bool, sqlx::Error> {
    let lock = format!(
        "SELECT id FROM users WHERE is_superuser = TRUE AND is_active = TRUE AND is_staff = TRUE {}",
        tx.dialect().for_update()
    );
    let ids: Vec<i64> = Query::new(lock).scalars(&mut *tx).await?;
    Ok(ids == [id])
}

/// Every account (staff or not) that has finished registering, for the command line's list.
const EVERY_ACCOUNT: ListSource = ListSource {
    always: "users.registering = FALSE",
    ..ListSource::new("users", ACCOUNT_COLUMNS, "users.id")
};

/// One page of every account, in id order.
pub async fn list(
    db: &Db,
    filter: &UserFilter,
    window: Window,
) -> Result<(i64, Vec<Account>), sqlx::Error> {
    list_page(db, &EVERY_ACCOUNT, window, filter).await
}

/// Sets the password an account signs in with (checked against the policy) and revokes its tokens, so whoever held the old password is signed
/// out. `NotFound` when there is no such account.
pub async fn set_password(
    db: &Db,
    passwords: &Passwords,
    id: i64,
    password: String,
) -> ApiResult<()> {
    passwords.validate("password", &password)?;
    let hash = passwords.hash(password).await?;
    let mut tx = db.begin().await?;
    let changed = Query::new("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if changed == 0 {
        return Err(ApiError::NotFound);
    }
    token::revoke_all(&mut tx, AccountKind::User, id).await?;
    audit::record(&mut tx, Event::new("user.password_change", "user", id)).await?;
    tx.commit().await?;
    Ok(())
}

/// Every B2B account with `is_staff`.
const STAFF_USERS: ListSource = ListSource {
    always: "users.is_staff = TRUE",
    ..ListSource::new("users", ACCOUNT_COLUMNS, "users.id")
};

/// One page of the staff users, in id order.
pub async fn staff_page(
    db: &Db,
    filter: &UserFilter,
    window: Window,
) -> Result<(i64, Vec<Account>), sqlx::Error> {
    list_page(db, &STAFF_USERS, window, filter).await
}

/// Gives a staff user the superuser rights of `wanted` (kept when none) and answers what it
/// has now; 404 for no such staff user, a 400 on `is_superuser` for the last active superuser.
pub async fn change_superuser(db: &Db, id: i64, wanted: Option<bool>) -> ApiResult<bool> {
    let current = staff_by_id(db, id).await?.ok_or(ApiError::NotFound)?;
    let wanted = wanted.unwrap_or(current.is_superuser);
    if wanted != current.is_superuser && !set_superuser(db, id, wanted).await? {
        return Err(ApiError::field(
            "is_superuser",
            "The last active superuser cannot be demoted.",
        ));
    }
    Ok(wanted)
}

pub async fn staff_by_id(db: &Db, id: i64) -> Result<Option<Account>, sqlx::Error> {
    Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users WHERE users.id = $1 AND users.is_staff = TRUE"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Sets `is_superuser`; the last active superuser is not demoted ([`is_last_superuser`]).
/// False when refused.
async fn set_superuser(db: &Db, id: i64, value: bool) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    if !value && is_last_superuser(&mut tx, id).await? {
        return Ok(false);
    }
    Query::new("UPDATE users SET is_superuser = $1 WHERE id = $2 AND is_staff = TRUE")
        .bind(value)
        .bind(id)
        .execute(&mut tx)
        .await?;
    let event = Event::new("staff_user.update", "staff_user", id);
    audit::record(&mut tx, event.change("is_superuser", !value, value)).await?;
    tx.commit().await?;
    Ok(true)
}
