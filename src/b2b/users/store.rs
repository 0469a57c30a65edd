//! User rows (B2B accounts listed by `/api/v1/users/`) and their queries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::b2b::accounts::{ACCOUNT_COLUMNS, Account};
use crate::b2b::user_filter::UserFilter;
use crate::db::list::{ListFilter, Window};
use crate::db::{Db, Query, Target, Tx};
use crate::http::time::{optional_timestamp, timestamp};

/// Which users a caller may see and manage.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserScope {
    /// Superusers and service tokens.
    All,
    /// A staff member: users of this division and of its sub-divisions.
    Division(i64),
    /// A staff member without a division sees nobody.
    Nothing,
}

impl UserScope {
    /// Appends the scope's condition on `users` to `q`.
    pub fn push_condition(self, q: &mut Query) {
        match self {
            UserScope::All => {}
            UserScope::Division(d) => {
                q.push(" AND users.division_id IN (SELECT id FROM divisions WHERE id = ")
                    .push_bind(d)
                    .push(" OR parent_id = ")
                    .push_bind(d)
                    .push(")");
            }
            UserScope::Nothing => {
                q.push(" AND 1 = 0");
            }
        }
    }
}

/// A user with its division's columns, from one LEFT JOIN (no query per row).
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    #[sqlx(flatten)]
    pub account: Account,
    pub division_name: Option<String>,
    pub division_kind: Option<String>,
    pub division_active: Option<bool>,
}

const USER_SELECT: &str = "d.name AS division_name, d.division_type AS division_kind, d.is_active AS division_active \
    FROM users LEFT JOIN divisions d ON d.id = users.division_id";

/// The division nested in a user (seed 004).
#[derive(Debug, Serialize, ToSchema)]
pub struct NestedDivision {
    pub id: i64,
    pub name: String,
    pub division_type: String,
}

/// A user as the list and detail of seed 004 show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    pub division: Option<NestedDivision>,
    pub is_active: bool,
    pub shop_token: String,
    pub remote_id: Option<i64>,
    #[serde(serialize_with = "timestamp")]
    #[schema(value_type = String, format = DateTime, example = "2023-12-14T11:17:22.670111Z")]
    pub date_joined: DateTime<Utc>,
    #[serde(serialize_with = "optional_timestamp")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_login: Option<DateTime<Utc>>,
}

impl From<UserRow> for UserOut {
    fn from(r: UserRow) -> Self {
        let a = r.account;
        let division = match (a.division_id, r.division_name, r.division_kind) {
            (Some(id), Some(name), Some(division_type)) => Some(NestedDivision {
                id,
                name,
                division_type,
            }),
            _ => None,
        };
        UserOut {
            id: a.id,
            email: a.email,
            first_name: a.first_name,
            last_name: a.last_name,
            phone_number: a.phone_number,
            division,
            is_active: a.is_active,
            shop_token: a.shop_token,
            remote_id: a.remote_id,
            date_joined: a.date_joined,
            last_login: a.last_login,
        }
    }
}

/// One page of the users list: users with a `remote_id`, filtered and scoped.
pub async fn list(
    db: &Db,
    scope: UserScope,
    filter: &UserFilter,
    window: Window,
) -> Result<(i64, Vec<UserRow>), sqlx::Error> {
    // Deferred join: the page's ids come from the index alone, so a deep page does not fetch
    // every row it skips; only the 20 rows shown are read with their division.
    let mut ids = Query::new("SELECT users.id FROM users WHERE users.remote_id IS NOT NULL");
    filter.push_conditions(&mut ids, db.dialect());
    scope.push_condition(&mut ids);
    ids.push(" ORDER BY users.id LIMIT ")
        .push_bind(window.limit)
        .push(" OFFSET ")
        .push_bind(window.offset);
    let (count, kept) = count_query(db, scope, filter);
    if !kept {
        return filtered_list(db, window, ids, count).await;
    }
    // A kept count costs nothing to read: it rides along with the page, one round trip.
    let mut rows = Query::new(format!("SELECT {ACCOUNT_COLUMNS}, ("));
    rows.append(count.clone());
    rows.push(&format!(
        ") AS total_count, {USER_SELECT} WHERE users.id IN ("
    ));
    rows.append(ids);
    rows.push(") ORDER BY users.id");
    let rows: Vec<CountedRow> = rows.fetch_all(db).await?;
    let total = match rows.first() {
        Some(first) => first.total_count,
        None => count.scalar(db).await?,
    };
    Ok((total, rows.into_iter().map(|r| r.row).collect()))
}

/// A filtered page, then its count only when the page cannot tell it: a page that is not full
/// (and not past the end) ends the list, so its count is the rows skipped plus the rows shown.
/// A rare filter (`email` contains a rare substring) thus costs one query, not a page and a
/// count that each pay its index scan.
async fn filtered_list(
    db: &Db,
    window: Window,
    ids: Query,
    count: Query,
) -> Result<(i64, Vec<UserRow>), sqlx::Error> {
    let mut rows = Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS}, {USER_SELECT} WHERE users.id IN ("
    ));
    rows.append(ids);
    rows.push(") ORDER BY users.id");
    let rows: Vec<UserRow> = rows.fetch_all(db).await?;
    let shown = rows.len() as i64;
    let total = if shown < window.limit && (shown > 0 || window.offset == 0) {
        window.offset + shown
    } else {
        count.scalar(db).await?
    };
    Ok((total, rows))
}

#[derive(sqlx::FromRow)]
struct CountedRow {
    #[sqlx(flatten)]
    row: UserRow,
    total_count: i64,
}

/// The list's exact count, and whether it is a kept one: unfiltered and `is_active`-only lists
/// read the trigger-maintained `user_list_counts` instead of counting rows.
fn count_query(db: &Db, scope: UserScope, filter: &UserFilter) -> (Query, bool) {
    let only_is_active = UserFilter {
        is_active: None,
        ..filter.clone()
    }
    .is_empty();
    if scope == UserScope::All && only_is_active {
        let mut q = Query::new(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM user_list_counts WHERE 1 = 1",
        );
        if let Some(active) = filter.is_active {
            q.push(" AND is_active = ").push_bind(active);
        }
        return (q, true);
    }
    let mut q = Query::new("SELECT COUNT(*) FROM users WHERE users.remote_id IS NOT NULL");
    filter.push_conditions(&mut q, db.dialect());
    scope.push_condition(&mut q);
    (q, false)
}

/// A user inside the caller's scope, listed or not.
pub async fn by_id<'a>(
    target: impl Into<Target<'a>>,
    scope: UserScope,
    id: i64,
) -> Result<Option<UserRow>, sqlx::Error> {
    let mut q = Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS}, {USER_SELECT} WHERE users.registering = FALSE AND users.id = "
    ));
    q.push_bind(id);
    scope.push_condition(&mut q);
    q.fetch_optional(target).await
}

/// Any account with this email (case-insensitive), whatever the scope.
pub async fn by_email(tx: &mut Tx, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    Query::new(format!(
        "SELECT {ACCOUNT_COLUMNS}, {USER_SELECT} WHERE {}",
        tx.dialect().same_text("users.email", "$1")
    ))
    .bind(email)
    .fetch_optional(tx)
    .await
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone_number: &'a str,
    pub division_id: i64,
    pub shop_token: &'a str,
}

/// Inserts a user; `registering` reserves it while Commerce is asked (no reader sees it).
pub async fn insert(tx: &mut Tx, u: &NewUser<'_>, registering: bool) -> Result<i64, sqlx::Error> {
    Query::new(
        "INSERT INTO users (email, password_hash, first_name, last_name, phone_number, division_id, is_active, \
         is_staff, is_superuser, shop_token, date_joined, registering) \
         VALUES ($1, $2, $3, $4, $5, $6, TRUE, FALSE, FALSE, $7, $8, $9) RETURNING id",
    )
    .bind(u.email)
    .bind(u.password_hash)
    .bind(u.first_name)
    .bind(u.last_name)
    .bind(u.phone_number)
    .bind(u.division_id)
    .bind(u.shop_token)
    .bind(crate::http::time::now())
    .bind(registering)
    .scalar(tx)
    .await
}

/// The email of a user still reserved for registration.
pub async fn reserved_email(db: &Db, id: i64) -> Result<Option<String>, sqlx::Error> {
    Query::new("SELECT email FROM users WHERE id = $1 AND registering = TRUE")
        .bind(id)
        .scalar_optional(db)
        .await
}

/// Makes a reserved user a real one, with its Commerce id when known; false when it was
/// settled already.
pub async fn confirm_registration<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
    remote_id: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let n = Query::new(
        "UPDATE users SET registering = FALSE, remote_id = COALESCE($1, remote_id) \
         WHERE id = $2 AND registering = TRUE",
    )
    .bind(remote_id)
    .bind(id)
    .execute(target)
    .await?;
    Ok(n == 1)
}

/// Removes a reserved user whose registration Commerce refused.
pub async fn release_registration<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let n = Query::new("DELETE FROM users WHERE id = $1 AND registering = TRUE")
        .bind(id)
        .execute(target)
        .await?;
    Ok(n == 1)
}

/// The profile fields an update may change.
#[derive(Serialize)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub phone_number: String,
    #[serde(rename = "division")]
    pub division_id: Option<i64>,
    pub is_active: bool,
}

pub async fn update_profile(tx: &mut Tx, id: i64, p: &Profile) -> Result<(), sqlx::Error> {
    Query::new(
        "UPDATE users SET first_name = $1, last_name = $2, phone_number = $3, division_id = $4, is_active = $5 WHERE id = $6",
    )
    .bind(p.first_name.as_str())
    .bind(p.last_name.as_str())
    .bind(p.phone_number.as_str())
    .bind(p.division_id)
    .bind(p.is_active)
    .bind(id)
    .execute(tx)
    .await
    .map(|_| ())
}

pub async fn set_active(tx: &mut Tx, id: i64, active: bool) -> Result<(), sqlx::Error> {
    Query::new("UPDATE users SET is_active = $1 WHERE id = $2")
        .bind(active)
        .bind(id)
        .execute(tx)
        .await
        .map(|_| ())
}

pub async fn set_remote_id<'a>(
    target: impl Into<Target<'a>>,
    id: i64,
    remote_id: i64,
) -> Result<(), sqlx::Error> {
    Query::new("UPDATE users SET remote_id = $1 WHERE id = $2")
        .bind(remote_id)
        .bind(id)
        .execute(target)
        .await
        .map(|_| ())
}

/// Division state for the activation rules.
#[derive(Debug, sqlx::FromRow)]
pub struct DivisionState {
    pub id: i64,
    pub is_active: bool,
}

pub async fn division_in_scope<'a>(
    target: impl Into<Target<'a>>,
    scope: UserScope,
    id: i64,
) -> Result<Option<DivisionState>, sqlx::Error> {
    let mut q = Query::new("SELECT id, is_active FROM divisions WHERE id = ");
    q.push_bind(id);
    if let UserScope::Division(d) = scope {
        q.push(" AND (id = ")
            .push_bind(d)
            .push(" OR parent_id = ")
            .push_bind(d)
            .push(")");
    } else if scope == UserScope::Nothing {
        q.push(" AND 1 = 0");
    }
    q.fetch_optional(target).await
}
