//! Unique violations as client errors: the one table from a unique index to what a client is
//! told when a write breaks it, so no handler or query maps them by hand.
//!
//! The two backends name the violated index differently: PostgreSQL reports it as the
//! constraint; SQLite only writes a message, `UNIQUE constraint failed: table.column` for an
//! index on columns and `UNIQUE constraint failed: index 'name'` for one on an expression.

use sqlx::error::DatabaseError;

use super::error::ApiError;

/// What an unknown unique violation answers.
pub const DUPLICATE: &str = "A record with these values already exists.";

/// A unique index and the error its violation becomes.
struct Unique {
    /// The index name, as the migrations create it on both backends.
    index: &'static str,
    /// How SQLite names an index on columns: `table.column[, table.column]`.
    sqlite_columns: Option<&'static str>,
    error: fn() -> ApiError,
}

/// Every unique index a client's write can break.
const UNIQUE: &[Unique] = &[
    Unique {
        index: "users_email_key",
        // SQLite's Unicode-aware twin, `users_email_nocase_key` (0009), is on the column.
        sqlite_columns: Some("users.email"),
        error: ApiError::user_already_exists,
    },
    Unique {
        index: "countries_code_key",
        sqlite_columns: Some("countries.code"),
        error: || ApiError::field("code", "country with this code already exists."),
    },
    Unique {
        index: "permission_groups_name_key",
        sqlite_columns: Some("permission_groups.name"),
        error: || ApiError::field("name", "permission group with this name already exists."),
    },
    Unique {
        index: "staffs_username_key",
        sqlite_columns: Some("staffs.username"),
        error: || ApiError::field("username", "A staff with that username already exists."),
    },
];

/// The client error of a unique violation; `None` when `err` is not one.
pub fn violation(err: &sqlx::Error) -> Option<ApiError> {
    match err {
        sqlx::Error::Database(e) if e.is_unique_violation() => Some(error_of(e.as_ref())),
        _ => None,
    }
}

fn error_of(err: &dyn DatabaseError) -> ApiError {
    let violated = err.constraint().or_else(|| sqlite_target(err.message()));
    violated
        .and_then(|name| {
            UNIQUE
                .iter()
                .find(|u| u.index == name || u.sqlite_columns == Some(name))
        })
        .map(|u| (u.error)())
        .unwrap_or_else(|| ApiError::field("non_field_errors", DUPLICATE))
}

/// What SQLite's message names: an index's name or its `table.column` list.
fn sqlite_target(message: &str) -> Option<&str> {
    let named = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(
        named
            .strip_prefix("index '")
            .and_then(|n| n.strip_suffix('\''))
            .unwrap_or(named),
    )
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::fmt;

    use sqlx::error::ErrorKind;

    use super::*;

    /// A unique violation as either backend reports it.
    #[derive(Debug)]
    struct Violation {
        constraint: Option<&'static str>,
        message: &'static str,
    }

    impl fmt::Display for Violation {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }

    impl std::error::Error for Violation {}

    impl DatabaseError for Violation {
        fn message(&self) -> &str {
            self.message
        }

        fn code(&self) -> Option<Cow<'_, str>> {
            None
        }

        fn constraint(&self) -> Option<&str> {
            self.constraint
        }

        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> ErrorKind {
            ErrorKind::UniqueViolation
        }
    }

    fn body(constraint: Option<&'static str>, message: &'static str) -> serde_json::Value {
        let err = sqlx::Error::Database(Box::new(Violation {
            constraint,
            message,
        }));
        let api = violation(&err).expect("a unique violation");
        assert_eq!(api.status(), axum::http::StatusCode::BAD_REQUEST);
        let ApiError::Validation(errors) = api else {
            return serde_json::json!({ "domain": api.to_string() });
        };
        errors.to_json()
    }

    #[test]
    fn postgres_names_the_index() {
        let pg = |index| {
            body(
                Some(index),
                "duplicate key value violates unique constraint",
            )
        };
        assert_eq!(
            pg("countries_code_key"),
            serde_json::json!({"code": ["country with this code already exists."]})
        );
        assert_eq!(
            pg("permission_groups_name_key"),
            serde_json::json!({"name": ["permission group with this name already exists."]})
        );
        assert_eq!(
            pg("staffs_username_key"),
            serde_json::json!({"username": ["A staff with that username already exists."]})
        );
        assert_eq!(
            pg("users_email_key"),
            serde_json::json!({"domain": "user_already_exists: A user with this email already exists."})
        );
        assert_eq!(
            pg("api_tokens_key_hash_key"),
            serde_json::json!({"non_field_errors": [DUPLICATE]})
        );
    }

    #[test]
    fn sqlite_names_the_columns_or_the_expression_index() {
        let sqlite = |message| body(None, message);
        assert_eq!(
            sqlite("UNIQUE constraint failed: countries.code"),
            body(Some("countries_code_key"), "")
        );
        assert_eq!(
            sqlite("UNIQUE constraint failed: permission_groups.name"),
            body(Some("permission_groups_name_key"), "")
        );
        assert_eq!(
            sqlite("UNIQUE constraint failed: index 'staffs_username_key'"),
            body(Some("staffs_username_key"), "")
        );
        assert_eq!(
            sqlite("UNIQUE constraint failed: index 'users_email_key'"),
            body(Some("users_email_key"), "")
        );
        for other in [
            "UNIQUE constraint failed: permissions.path, permissions.method",
            "UNIQUE constraint failed: index 'elsewhere'",
            "something else",
        ] {
            assert_eq!(
                sqlite(other),
                serde_json::json!({"non_field_errors": [DUPLICATE]})
            );
        }
    }

    #[test]
    fn other_errors_are_not_violations() {
        assert!(violation(&sqlx::Error::RowNotFound).is_none());
    }

    /// The table follows the migrations: every index exists on both backends, and an index
    /// on columns is on the columns SQLite will name.
    #[test]
    fn every_index_is_created_by_both_migrations() {
        for dialect in ["sqlite", "postgres"] {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dialect);
            let mut sql = String::new();
            for entry in std::fs::read_dir(dir).unwrap() {
                sql += &std::fs::read_to_string(entry.unwrap().path()).unwrap();
            }
            for unique in UNIQUE {
                let created = format!("CREATE UNIQUE INDEX {} ON ", unique.index);
                let at = sql.find(&created).unwrap_or_else(|| {
                    panic!("{dialect} migrations do not create {}", unique.index)
                });
                let on = &sql[at + created.len()..];
                let on = &on[..on.find(';').unwrap()];
                if let Some(columns) = unique.sqlite_columns {
                    let (table, column) = columns.split_once('.').unwrap();
                    if on.contains("lower(") {
                        // Case-insensitive on an expression: SQLite's Unicode-aware twin is
                        // the index on the column that its message names.
                        let twin = format!("ON {table} ({column} COLLATE UNICODE_NOCASE)");
                        assert!(dialect == "postgres" || sql.contains(&twin), "{twin}");
                    } else {
                        assert_eq!(on, format!("{table} ({column})"), "{}", unique.index);
                    }
                }
            }
        }
    }
}
