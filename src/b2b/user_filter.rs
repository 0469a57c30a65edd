//! The filters of the B2B user lists (seed 004), shared by users, staff users and their exports.

use crate::db::{Dialect, Query};
use crate::http::error::ApiError;
use crate::http::filters::{FilterParser, check_renderer, contains_pattern};
use crate::http::request::RequestUrl;

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

impl UserFilter {
    pub fn parse(url: &RequestUrl) -> Result<Self, ApiError> {
        check_renderer(url)?;
        let mut p = FilterParser::new(url);
        let filter = UserFilter {
            id: p.integer("id"),
            is_active: p.boolean("is_active"),
            email: p.text("email"),
            first_name: p.text("first_name"),
            last_name: p.text("last_name"),
            phone_number: p.text("phone_number"),
            division: p.integer("division"),
            division_type: p.choice("division_type", DIVISION_TYPES).map(str::to_owned),
        };
        p.finish()?;
        Ok(filter)
    }

    /// Appends ` AND …` conditions on the `users` table to `q`.
    pub fn push_conditions(&self, q: &mut Query, dialect: Dialect) {
        if let Some(id) = self.id {
            q.push(" AND users.id = ").push_bind(id);
        }
        if let Some(active) = self.is_active {
            q.push(" AND users.is_active = ").push_bind(active);
        }
        for (column, value) in [
            ("users.email", &self.email),
            ("users.first_name", &self.first_name),
            ("users.last_name", &self.last_name),
            ("users.phone_number", &self.phone_number),
        ] {
            if let Some(value) = value {
                push_contains(q, dialect, column, value);
            }
        }
        if let Some(division) = self.division {
            q.push(" AND users.division_id = ").push_bind(division);
        }
        if let Some(kind) = &self.division_type {
            q.push(" AND users.division_id IN (SELECT id FROM divisions WHERE division_type = ")
                .push_bind(kind.as_str())
                .push(")");
        }
    }

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

/// SQLite's trigram tokenizer indexes substrings of three characters or more.
const TRIGRAM: usize = 3;

/// `users.<column>` contains `value`, case-insensitively. PostgreSQL: `ILIKE` on the trigram
/// index. SQLite: a phrase query on the FTS5 trigram table `users_search` (migration 0006)
/// when the value is long enough to have trigrams, else `LIKE` (a scan).
fn push_contains(q: &mut Query, dialect: Dialect, column: &str, value: &str) {
    if dialect == Dialect::Sqlite && value.chars().count() >= TRIGRAM {
        let field = column.trim_start_matches("users.");
        let phrase = format!("{field} : \"{}\"", value.replace('"', "\"\""));
        q.push(" AND users.id IN (SELECT rowid FROM users_search WHERE users_search MATCH ");
        q.push_bind(phrase).push(")");
    } else {
        q.push(" AND ")
            .push(column)
            .push(" ")
            .push(dialect.ilike())
            .push(" ");
        q.push_bind(contains_pattern(value)).push(" ESCAPE '\\'");
    }
}
