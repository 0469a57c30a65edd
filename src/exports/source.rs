//! Where exported rows come from: a [`RowSource`] per exportable list, and [`ExportList`], the
//! closed set of them that an export row stores and the export job dispatches on.

use serde::{Deserialize, Serialize};

use super::b2b::{StaffUsersExport, UsersExport};
use super::format::Cell;
use super::instore::StaffsExport;
use crate::db::{Dialect, Query, Row};

/// The rows of one list, read in keyset batches (`id > cursor ORDER BY id LIMIT n`), so memory
/// stays flat and a batch costs the same at the end of the table as at its start.
///
/// Implemented by a small struct that holds what the list handler parsed (its filter, the
/// caller's scope) and is stored as JSON in the export row, hence `Serialize + Deserialize`.
pub trait RowSource: Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static {
    /// One row of a batch; decoded on both backends.
    type Row: Row + 'static;

    /// The fields a client may ask for, in the order the documentation lists them.
    const FIELDS: &'static [&'static str];

    /// `SELECT COUNT(*) …` of the rows the export holds (the `rows_total` of its progress).
    fn count(&self, dialect: Dialect) -> Query;

    /// The next `limit` rows whose id is greater than `after`, ordered by id. `fields` are the
    /// requested ones, so a source may leave out joins that nobody asked for.
    fn batch(&self, dialect: Dialect, fields: &[&'static str], after: i64, limit: i64) -> Query;

    /// The keyset cursor of a row.
    fn id(row: &Self::Row) -> i64;

    /// The value of `field` (one of [`Self::FIELDS`]) in `row`.
    fn cell<'r>(row: &'r Self::Row, field: &str) -> Cell<'r>;
}

/// Every exportable list. Stored in the export row as its `list` (the serde tag) and `filter`
/// (the variant's parameters as JSON).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "list", content = "params", rename_all = "snake_case")]
pub enum ExportList {
    /// `/api/v1/staff-users/`.
    StaffUsers(StaffUsersExport),
    /// `/api/v1/users/`.
    Users(UsersExport),
    /// `/api/v1/staffs/`.
    Staffs(StaffsExport),
}

/// Runs `$body` with `$source` bound to the [`RowSource`] inside an [`ExportList`]; the one
/// place that lists the variants' sources.
macro_rules! with_source {
    ($list:expr, |$source:ident| $body:expr) => {
        match $list {
            $crate::exports::ExportList::StaffUsers($source) => $body,
            $crate::exports::ExportList::Users($source) => $body,
            $crate::exports::ExportList::Staffs($source) => $body,
        }
    };
}
pub(crate) use with_source;

fn fields_of<S: RowSource>(_: &S) -> &'static [&'static str] {
    S::FIELDS
}

impl ExportList {
    /// The fields a client may ask for.
    pub fn fields(&self) -> &'static [&'static str] {
        with_source!(self, |source| fields_of(source))
    }

    /// The stored form: (`list`, `filter` JSON).
    pub fn to_stored(&self) -> (String, String) {
        let value = serde_json::to_value(self).unwrap_or_default();
        let list = value["list"].as_str().unwrap_or_default().to_owned();
        (list, value["params"].to_string())
    }

    /// Reads the stored form back.
    pub fn from_stored(list: &str, filter: &str) -> Result<ExportList, serde_json::Error> {
        let params: serde_json::Value = serde_json::from_str(filter)?;
        serde_json::from_value(serde_json::json!({ "list": list, "params": params }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b2b::user_filter::UserFilter;
    use crate::b2b::users::store::UserScope;

    #[test]
    fn stored_form_round_trips() {
        let list = ExportList::Users(UsersExport {
            filter: UserFilter {
                email: Some("ada".into()),
                ..UserFilter::default()
            },
            scope: UserScope::Division(3),
        });
        let (name, filter) = list.to_stored();
        assert_eq!(name, "users");
        let back = ExportList::from_stored(&name, &filter).unwrap();
        let ExportList::Users(users) = back else {
            panic!("not users: {back:?}")
        };
        assert_eq!(users.filter.email.as_deref(), Some("ada"));
        assert_eq!(users.scope, UserScope::Division(3));
        assert!(ExportList::from_stored("nope", "{}").is_err());
    }
}
