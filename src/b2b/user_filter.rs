//! The filters of the B2B user lists (seed 004), shared by users, staff users and their exports.

use crate::db::list::{Conditions, ListFilter, SearchTable};
use crate::http::filters::{FilterParser, FromQuery};

pub const DIVISION_TYPES: &[&str] = &["main", "sub"];

/// `id` exact, `is_active`, `email` / `first_name` / `last_name` / `phone_number`
/// case-insensitive contains, `division` exact, `division_type` enum.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct UserFilter {
    pub id: Option<i64>,
    pub is_active: Option<bool>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone_number: Option<String>,
    pub division: Option<i64>,
    pub division_type: Option<String>,
}

impl FromQuery for UserFilter {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        UserFilter {
            id: p.integer("id"),
            is_active: p.boolean("is_active"),
            email: p.text("email"),
            first_name: p.text("first_name"),
            last_name: p.text("last_name"),
            phone_number: p.text("phone_number"),
            division: p.integer("division"),
            division_type: p.choice("division_type", DIVISION_TYPES).map(str::to_owned),
        }
    }
}

/// The FTS5 trigram table over the users' searchable columns (SQLite, migration 0006).
const USERS_SEARCH: SearchTable = SearchTable {
    table: "users_search",
    id_column: "users.id",
};

impl ListFilter for UserFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        c.eq("users.id", self.id)
            .eq("users.is_active", self.is_active)
            .contains_indexed("users.email", &USERS_SEARCH, self.email.as_deref())
            .contains_indexed(
                "users.first_name",
                &USERS_SEARCH,
                self.first_name.as_deref(),
            )
            .contains_indexed("users.last_name", &USERS_SEARCH, self.last_name.as_deref())
            .contains_indexed(
                "users.phone_number",
                &USERS_SEARCH,
                self.phone_number.as_deref(),
            )
            .eq("users.division_id", self.division);
        if let Some(kind) = &self.division_type {
            let head = "users.division_id IN (SELECT id FROM divisions WHERE division_type = ";
            c.raw(head, kind.as_str(), ")");
        }
    }
}

impl UserFilter {
    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.is_active.is_none()
            && self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.phone_number.is_none()
            && self.division.is_none()
            && self.division_type.is_none()
    }
}
