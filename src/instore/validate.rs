//! Field checks shared by the Instore writes, with Django REST Framework's messages. Every
//! problem of a body is collected and answered at once, before anything is written.

use std::collections::BTreeSet;

use crate::db::{Query, Tx};
use crate::http::error::{ApiError, FieldErrors};

/// Most ids one list field (`retail_stores`, `permissions`, ...) may carry; keeps a request
/// within what a single `IN (...)` may bind on either backend.
pub const MAX_IDS: usize = 1000;

/// Collects the field errors of one request body.
#[derive(Default)]
pub struct Checker {
    errors: FieldErrors,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    pub fn has(&self, field: &str) -> bool {
        self.errors.contains(field)
    }

    /// `None` for a field a full update (PUT) or a create must carry.
    pub fn required<T>(&mut self, field: &str, value: Option<&T>) {
        if value.is_none() {
            self.add(field, "This field is required.");
        }
    }

    /// A text field of at most `max` characters; blank only when `allow_blank`.
    pub fn text(&mut self, field: &str, value: &str, max: usize, allow_blank: bool) {
        if let Some(problem) = text_problem(value, max, allow_blank) {
            self.add(field, problem);
        }
    }

    /// An email address (Django's `EmailField`: at most 254 characters); blank when allowed.
    pub fn email(&mut self, field: &str, value: &str, allow_blank: bool) {
        self.text(field, value, 254, allow_blank);
        if !self.has(field) && !value.is_empty() && !is_email(value) {
            self.add(field, "Enter a valid email address.");
        }
    }

    /// An integer that may not be negative (Omnitron ids).
    pub fn non_negative(&mut self, field: &str, value: Option<i64>) {
        if value.is_some_and(|v| v < 0) {
            self.add(field, "Ensure this value is greater than or equal to 0.");
        }
    }

    /// A list of ids of reasonable length.
    pub fn ids(&mut self, field: &str, ids: &[i64]) {
        if ids.len() > MAX_IDS {
            self.add(
                field,
                format!("Ensure this field has no more than {MAX_IDS} elements."),
            );
        }
    }

    /// Takes in the field errors of another check (the password policy, ...).
    pub fn absorb(&mut self, result: Result<(), ApiError>) {
        if let Err(ApiError::Validation(errors)) = result {
            self.errors.extend(errors);
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result()
    }
}

/// What is wrong with a text value, if anything: NUL characters (PostgreSQL cannot store
/// them), blank when it may not be, or longer than `max` characters.
pub fn text_problem(value: &str, max: usize, allow_blank: bool) -> Option<String> {
    if value.contains('\0') {
        Some("Null characters are not allowed.".into())
    } else if !allow_blank && value.trim().is_empty() {
        Some("This field may not be blank.".into())
    } else if value.chars().count() > max {
        Some(format!(
            "Ensure this field has no more than {max} characters."
        ))
    } else {
        None
    }
}

/// A pragmatic check of `local@domain.tld`, close to Django's `EmailValidator`.
pub fn is_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| tld.chars().count() >= 2);
    local_ok && domain_ok
}

/// Tables whose ids a body may reference; the name is kadro's, never the client's.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Countries,
    Cities,
    Townships,
    RetailStores,
    Permissions,
    PermissionGroups,
    Staffs,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Countries => "countries",
            Table::Cities => "cities",
            Table::Townships => "townships",
            Table::RetailStores => "retail_stores",
            Table::Permissions => "permissions",
            Table::PermissionGroups => "permission_groups",
            Table::Staffs => "staffs",
        }
    }
}

/// DRF's message for a reference to a row that does not exist.
pub fn missing_pk(id: i64) -> String {
    format!("Invalid pk \"{id}\" - object does not exist.")
}

/// Checks inside `tx` that every id of `ids` exists in `table`; the 400 names `field` and the
/// first missing id. Returns the ids without repetitions, in their first order.
pub async fn existing_ids(
    tx: &mut Tx,
    table: Table,
    field: &str,
    ids: &[i64],
) -> Result<Vec<i64>, ApiError> {
    let mut seen = BTreeSet::new();
    let unique: Vec<i64> = ids.iter().copied().filter(|id| seen.insert(*id)).collect();
    if unique.is_empty() {
        return Ok(unique);
    }
    let mut q = Query::new(format!("SELECT id FROM {} WHERE id IN (", table.name()));
    for (i, id) in unique.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(*id);
    }
    q.push(")");
    let found: BTreeSet<i64> = q.scalars::<i64>(&mut *tx).await?.into_iter().collect();
    match unique.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(ApiError::field(field, missing_pk(*missing))),
        None => Ok(unique),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "first.last+tag@shop.example.com",
            "ç@örnek.com.tr",
        ] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a@.com",
            "a b@c.com",
            "a@b..com",
            "a@b.c",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn text_limits() {
        let mut c = Checker::new();
        c.text("first_name", &"x".repeat(31), 30, false);
        c.text("last_name", "  ", 150, false);
        c.text("username", "a\0b", 150, false);
        c.text("remote_id", "", 255, true);
        let json = match c.finish() {
            Err(ApiError::Validation(e)) => e.to_json(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            json,
            serde_json::json!({
                "first_name": ["Ensure this field has no more than 30 characters."],
                "last_name": ["This field may not be blank."],
                "username": ["Null characters are not allowed."],
            })
        );
    }
}
