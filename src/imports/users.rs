//! B2B user rows: checked with the API's rules (the same [`Validator`], limits and password
//! policy as `POST /api/v1/users/`), then written batch by batch.
//!
//! A batch is prepared with no transaction open (field checks, password hashing on the hashing
//! threads), then applied in one transaction that also records its refused rows and the
//! import's progress, so a crash resumes after the last committed batch.

use std::collections::{HashMap, HashSet};

use super::batch::{self, Refused};
use super::file::{Columns, NumberedRow, Target};
use super::record::{BatchCounts, ImportRow};
use super::user_row::{DivisionRef, UserCells, check};
use crate::auth::token;
use crate::b2b::users::store::{self as users, NewUser, UserScope};
use crate::commerce::{self, Commerce};
use crate::db::{Query, Tx};
use crate::http::error::{ApiError, FieldErrors};
use crate::http::time;
use crate::http::validate::{Validator, invalid_pk};
use crate::state::AppState;

pub const TARGET: Target = Target {
    name: "users",
    required: &["email"],
    one_of: &[],
    known: &[
        "email",
        "first_name",
        "last_name",
        "phone_number",
        "division",
        "division_erp_code",
        "is_active",
        "remote_id",
        "password",
        "password_hash",
    ],
};

/// Imports one batch of rows; everything it did commits (or, in a dry run, is rolled back)
/// with the import's progress.
pub async fn import_batch(
    state: &AppState,
    import: &ImportRow,
    columns: &Columns,
    rows: Vec<NumberedRow>,
    seen: &mut HashSet<u64>,
) -> Result<(), ApiError> {
    let mut refused = Refused::default();
    let mut ready = Vec::with_capacity(rows.len());
    let count = rows.len() as i64;
    for (row, record) in rows {
        let record = match record {
            Ok(record) => record,
            Err(message) => {
                refused.add(row, "non_field_errors", message);
                continue;
            }
        };
        match check(state, columns, &record, row, seen) {
            Ok(checked) => ready.push(checked),
            Err(errors) => refused.add_all(row, &errors),
        }
    }
    let cells = hash_passwords(state, import.upsert(), ready).await?;
    let mut tx = state.db.begin().await?;
    let mut counts = BatchCounts {
        rows: count,
        ..BatchCounts::default()
    };
    let mut divisions = Divisions::new();
    let mut new_users = Vec::new();
    for user in &cells {
        if !import.upsert() {
            match complete_new(&mut tx, user, &mut divisions).await? {
                Some(Ok(new)) => {
                    new_users.push(new);
                    continue;
                }
                Some(Err(errors)) => {
                    refused.add_all(user.row, &errors);
                    continue;
                }
                None => {}
            }
        }
        match apply(state, &mut tx, import.upsert(), user, &mut divisions).await? {
            Ok(Applied::Created) => counts.created += 1,
            Ok(Applied::Updated) => counts.updated += 1,
            Ok(Applied::Unchanged) => {}
            Err(errors) => refused.add_all(user.row, &errors),
        }
    }
    counts.created += insert_new(state, &mut tx, &new_users, &mut refused).await?;
    batch::commit(state, import, tx, counts, refused).await
}

/// The divisions a batch has looked up, by reference: most rows name the same few.
type Divisions = HashMap<String, Option<(i64, bool)>>;

/// A row of `create` mode with everything a new user needs, its division found and active.
struct NewUserRow<'a> {
    user: &'a UserCells,
    division_id: i64,
    first_name: &'a str,
    last_name: &'a str,
    password_hash: &'a str,
}

/// In `create` mode, a row complete enough to insert (`Some(Ok)`), or refused for its
/// division (`Some(Err)`, as [`apply`] would); `None` leaves the row to [`apply`] (which
/// names what is missing, or the email already taken).
async fn complete_new<'a>(
    tx: &mut Tx,
    user: &'a UserCells,
    divisions: &mut Divisions,
) -> Result<Option<Result<NewUserRow<'a>, FieldErrors>>, sqlx::Error> {
    let (Some(reference), Some(first_name), Some(last_name), Some(password_hash)) = (
        &user.division,
        &user.first_name,
        &user.last_name,
        &user.password_hash,
    ) else {
        return Ok(None);
    };
    Ok(Some(division(tx, reference, divisions).await?.map(
        |division_id| NewUserRow {
            user,
            division_id,
            first_name,
            last_name,
            password_hash,
        },
    )))
}

/// New users per `INSERT` statement (10 bound values each, well under both backends' limits):
/// one statement (and one run of the list-count trigger) for many rows.
const INSERT_ROWS: usize = 500;

/// Inserts new users many per statement; a row whose email is taken (by an existing account,
/// or a write that committed meanwhile) is refused, as one at a time would be. Returns how
/// many were created.
async fn insert_new(
    state: &AppState,
    tx: &mut Tx,
    rows: &[NewUserRow<'_>],
    refused: &mut Refused,
) -> Result<i64, ApiError> {
    let mut created = 0;
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut sql = String::from(
            "INSERT INTO users (email, password_hash, first_name, last_name, phone_number, \
             division_id, is_active, shop_token, date_joined, remote_id, is_staff, is_superuser, \
             registering) VALUES ",
        );
        for i in 0..chunk.len() {
            let n = i * 10;
            let values: Vec<String> = (n + 1..=n + 10).map(|p| format!("${p}")).collect();
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({}, FALSE, FALSE, FALSE)", values.join(", ")));
        }
        sql.push_str(" ON CONFLICT DO NOTHING RETURNING id, email");
        let now = time::now();
        let mut query = Query::new(sql);
        for row in chunk {
            let user = row.user;
            query = query
                .bind(user.email.as_str())
                .bind(row.password_hash)
                .bind(row.first_name)
                .bind(row.last_name)
                .bind(user.phone_number.as_deref().unwrap_or(""))
                .bind(row.division_id)
                .bind(user.is_active.unwrap_or(true))
                .bind(token::generate())
                .bind(now)
                .bind(user.remote_id);
        }
        let inserted: Vec<(i64, String)> = query.fetch_all(&mut *tx).await?;
        created += inserted.len() as i64;
        let by_email: HashMap<&str, i64> =
            inserted.iter().map(|(id, e)| (e.as_str(), *id)).collect();
        let mut without_remote = Vec::new();
        for row in chunk {
            match by_email.get(row.user.email.as_str()) {
                None => refused.add(row.user.row, "email", TAKEN),
                Some(id) if row.user.remote_id.is_none() => without_remote.push(*id),
                Some(_) => {}
            }
        }
        match &state.commerce {
            Commerce::Local => {
                for id in without_remote {
                    users::set_remote_id(&mut *tx, id, id).await?;
                }
            }
            Commerce::Remote(_) => {
                for id in without_remote {
                    commerce::jobs::queue_update_remote_id(&mut *tx, id).await?;
                }
            }
        }
    }
    Ok(created)
}

const TAKEN: &str = "A user with this email already exists.";

/// Hashes the plain passwords on the hashing threads, no transaction open. In upsert mode a
/// password the account already has keeps its hash, so a re-run changes nothing.
async fn hash_passwords(
    state: &AppState,
    upsert: bool,
    ready: Vec<(UserCells, Option<String>)>,
) -> Result<Vec<UserCells>, ApiError> {
    let mut hashing = Vec::with_capacity(ready.len());
    for (mut cells, plain) in ready {
        let state = state.clone();
        hashing.push(async move {
            if let Some(password) = plain {
                let current = if upsert {
                    current_hash(&state, &cells.email).await?
                } else {
                    None
                };
                let kept = match current.clone() {
                    Some(hash) => state.passwords.verify(password.clone(), Some(hash)).await?,
                    None => false,
                };
                cells.password_hash = Some(match (kept, current) {
                    (true, Some(hash)) => hash,
                    _ => state.passwords.hash(password).await?,
                });
            }
            Ok::<_, ApiError>(cells)
        });
    }
    futures_util::future::try_join_all(hashing).await
}

async fn current_hash(state: &AppState, email: &str) -> Result<Option<String>, ApiError> {
    let sql = format!(
        "SELECT password_hash FROM users WHERE {}",
        state.db.dialect().same_text("email", "$1")
    );
    Ok(Query::new(sql)
        .bind(email)
        .scalar_optional(&state.db)
        .await?)
}

enum Applied {
    Created,
    Updated,
    Unchanged,
}

async fn division(
    tx: &mut Tx,
    reference: &DivisionRef,
    divisions: &mut Divisions,
) -> Result<Result<i64, FieldErrors>, sqlx::Error> {
    let key = match reference {
        DivisionRef::Id(id) => format!("id:{id}"),
        DivisionRef::ErpCode(code) => format!("erp_code:{code}"),
    };
    let found = match divisions.get(&key) {
        Some(found) => *found,
        None => {
            let found: Option<users::DivisionState> = match reference {
                DivisionRef::Id(id) => {
                    users::division_in_scope(&mut *tx, UserScope::All, *id).await?
                }
                DivisionRef::ErpCode(code) => Query::new(
                    "SELECT id, is_active FROM divisions WHERE erp_code = $1 ORDER BY id LIMIT 1",
                )
                .bind(code.as_str())
                .fetch_optional(&mut *tx)
                .await?,
            };
            let found = found.map(|d| (d.id, d.is_active));
            divisions.insert(key, found);
            found
        }
    };
    Ok(match (found, reference) {
        (Some((id, true)), _) => Ok(id),
        (Some(_), _) => Err(FieldErrors::single(
            "division",
            "Deactivated divisions cannot be assigned to users.",
        )),
        (None, DivisionRef::Id(id)) => Err(FieldErrors::single("division", invalid_pk(*id))),
        (None, DivisionRef::ErpCode(code)) => Err(FieldErrors::single(
            "division_erp_code",
            format!("Object with erp_code={code} does not exist."),
        )),
    })
}

/// Writes one checked row in the batch's transaction; a refusal is its field errors.
async fn apply(
    state: &AppState,
    tx: &mut Tx,
    upsert: bool,
    user: &UserCells,
    divisions: &mut Divisions,
) -> Result<Result<Applied, FieldErrors>, ApiError> {
    let division_id = match &user.division {
        Some(reference) => match division(tx, reference, divisions).await? {
            Ok(id) => Some(id),
            Err(errors) => return Ok(Err(errors)),
        },
        None => None,
    };
    if let Some(existing) = users::by_email(tx, &user.email).await? {
        let account = existing.account;
        if !upsert {
            return Ok(Err(FieldErrors::single("email", TAKEN)));
        }
        if account.is_staff || account.is_superuser {
            return Ok(Err(FieldErrors::single(
                "email",
                "This email belongs to a staff account, which an import does not change.",
            )));
        }
        let first_name = user
            .first_name
            .clone()
            .unwrap_or(account.first_name.clone());
        let last_name = user.last_name.clone().unwrap_or(account.last_name.clone());
        let phone = user
            .phone_number
            .clone()
            .unwrap_or(account.phone_number.clone());
        let division_id = division_id.or(account.division_id);
        let is_active = user.is_active.unwrap_or(account.is_active);
        let current: String = Query::new("SELECT password_hash FROM users WHERE id = $1")
            .bind(account.id)
            .scalar(&mut *tx)
            .await?;
        let hash = user.password_hash.clone().unwrap_or(current.clone());
        let remote_id = user.remote_id.or(account.remote_id);
        let same = first_name == account.first_name
            && last_name == account.last_name
            && phone == account.phone_number
            && division_id == account.division_id
            && is_active == account.is_active
            && hash == current
            && remote_id == account.remote_id;
        if same {
            return Ok(Ok(Applied::Unchanged));
        }
        Query::new(
            "UPDATE users SET first_name = $1, last_name = $2, phone_number = $3, division_id = $4, \
             is_active = $5, password_hash = $6, remote_id = $7 WHERE id = $8",
        )
        .bind(first_name)
        .bind(last_name)
        .bind(phone)
        .bind(division_id)
        .bind(is_active)
        .bind(hash)
        .bind(remote_id)
        .bind(account.id)
        .execute(&mut *tx)
        .await?;
        if !state.commerce.is_local() && remote_id.is_some() {
            commerce::jobs::queue_sync_user(&mut *tx, &state.config, account.id).await?;
        }
        return Ok(Ok(Applied::Updated));
    }
    let mut v = Validator::new();
    v.required("first_name", user.first_name.as_ref());
    v.required("last_name", user.last_name.as_ref());
    v.required("division", division_id.as_ref());
    v.required("password", user.password_hash.as_ref());
    if let Err(ApiError::Validation(errors)) = v.finish() {
        return Ok(Err(errors));
    }
    let (Some(first_name), Some(last_name), Some(division_id), Some(hash)) = (
        &user.first_name,
        &user.last_name,
        division_id,
        &user.password_hash,
    ) else {
        return Ok(Err(FieldErrors::single(
            "non_field_errors",
            "Incomplete row.",
        )));
    };
    let new = NewUser {
        email: &user.email,
        password_hash: hash,
        first_name,
        last_name,
        phone_number: user.phone_number.as_deref().unwrap_or(""),
        division_id,
        shop_token: &token::generate(),
    };
    let id = users::insert(tx, &new, false).await?;
    if user.is_active == Some(false) {
        users::set_active(tx, id, false).await?;
    }
    match (user.remote_id, &state.commerce) {
        (Some(remote_id), _) => users::set_remote_id(&mut *tx, id, remote_id).await?,
        (None, Commerce::Local) => users::set_remote_id(&mut *tx, id, id).await?,
        (None, Commerce::Remote(_)) => {
            commerce::jobs::queue_update_remote_id(&mut *tx, id).await?;
        }
    }
    Ok(Ok(Applied::Created))
}
