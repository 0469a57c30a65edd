//! The field checks of one imported user row: the API's [`Validator`], lengths and password
//! policy, no database access (those checks come when the row is written).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use csv::StringRecord;

use super::file::Columns;
use crate::auth::legacy;
use crate::b2b::users::service::{NAME_MAX, PHONE_MAX};
use crate::http::error::{ApiError, FieldErrors};
use crate::http::filters::parse_bool;
use crate::http::validate::Validator;
use crate::state::AppState;

pub(super) enum DivisionRef {
    Id(i64),
    ErpCode(String),
}

/// A row that passed the field checks, its password already hashed.
pub(super) struct UserCells {
    pub(super) row: i64,
    pub(super) email: String,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) phone_number: Option<String>,
    pub(super) division: Option<DivisionRef>,
    pub(super) is_active: Option<bool>,
    pub(super) remote_id: Option<i64>,
    pub(super) password_hash: Option<String>,
}

fn email_key(email: &str) -> u64 {
    let mut h = DefaultHasher::new();
    email.to_lowercase().hash(&mut h);
    h.finish()
}

/// The field checks of one row; `plain` is its `password` still to hash.
pub(super) fn check(
    state: &AppState,
    columns: &Columns,
    record: &StringRecord,
    row: i64,
    seen: &mut HashSet<u64>,
) -> Result<(UserCells, Option<String>), FieldErrors> {
    let cell = |c: &str| columns.cell(record, c);
    let mut v = Validator::new();
    let email = cell("email").unwrap_or_default().to_owned();
    if email.is_empty() {
        v.add("email", "This field may not be blank.");
    } else {
        v.email("email", &email, false);
    }
    if !v.has("email") && !seen.insert(email_key(&email)) {
        v.add("email", "This email appears on an earlier row of the file.");
    }
    for field in ["first_name", "last_name"] {
        if let Some(value) = cell(field) {
            v.text(field, value, NAME_MAX, false);
        }
    }
    if let Some(phone) = cell("phone_number") {
        v.text("phone_number", phone, PHONE_MAX, true);
    }
    let integer = |v: &mut Validator, field: &str| -> Option<i64> {
        let raw = cell(field)?;
        let parsed = raw.parse::<i64>().ok();
        if parsed.is_none() {
            v.add(field, "A valid integer is required.");
        }
        v.non_negative(field, parsed);
        parsed
    };
    let division_id = integer(&mut v, "division");
    let remote_id = integer(&mut v, "remote_id");
    let division = match (division_id, cell("division_erp_code")) {
        (Some(id), _) => Some(DivisionRef::Id(id)),
        (None, Some(code)) => {
            v.text("division_erp_code", code, 255, false);
            Some(DivisionRef::ErpCode(code.to_owned()))
        }
        _ => None,
    };
    let is_active = cell("is_active").and_then(|raw| {
        let parsed = parse_bool(raw);
        if parsed.is_none() {
            v.add("is_active", "Must be a valid boolean.");
        }
        parsed
    });
    let (plain, hash) = (cell("password"), cell("password_hash"));
    let mut password_hash = None;
    match (plain, hash) {
        (Some(_), Some(_)) => v.add(
            "password_hash",
            "Give either password or password_hash, not both.",
        ),
        (Some(password), None) => {
            if let Err(ApiError::Validation(errors)) =
                state.passwords.validate("password", password)
            {
                for (field, messages) in errors.iter() {
                    messages.iter().for_each(|m| v.add(field, m.clone()));
                }
            }
        }
        (None, Some(hash)) => match legacy::import_hash(hash) {
            Ok(hash) => password_hash = Some(hash),
            Err(message) => v.add("password_hash", message),
        },
        (None, None) => {}
    }
    if let Err(ApiError::Validation(errors)) = v.finish() {
        return Err(errors);
    }
    let cells = UserCells {
        row,
        email,
        first_name: cell("first_name").map(str::to_owned),
        last_name: cell("last_name").map(str::to_owned),
        phone_number: cell("phone_number").map(str::to_owned),
        division,
        is_active,
        remote_id,
        password_hash,
    };
    Ok((cells, plain.map(str::to_owned)))
}
