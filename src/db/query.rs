//! A query text with its bind values, run on whichever backend the pool or transaction is.
//!
//! Filters append to the text and bind values in one place; user input only ever becomes a
//! bound value, never SQL text.

use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, FromRow, Postgres, Sqlite, Type};

use super::value::{Arg, sqlite_time};
use super::{Db, Tx};

/// SQL with `$n` placeholders plus the values to bind.
#[derive(Clone, Debug, Default)]
pub struct Query {
    sql: String,
    args: Vec<Arg>,
}

/// Rows that decode on both backends (`#[derive(sqlx::FromRow)]` structs are).
pub trait Row: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> Row for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{}

/// Single values that decode on both backends.
pub trait Scalar:
    for<'r> Decode<'r, Sqlite>
    + Type<Sqlite>
    + for<'r> Decode<'r, Postgres>
    + Type<Postgres>
    + Send
    + Unpin
{
}
impl<T> Scalar for T where
    T: for<'r> Decode<'r, Sqlite>
        + Type<Sqlite>
        + for<'r> Decode<'r, Postgres>
        + Type<Postgres>
        + Send
        + Unpin
{
}

macro_rules! bind_all {
    ($q:expr, $args:expr, sqlite) => {{
        let mut q = $q;
        for arg in $args {
            q = match arg {
                Arg::I64(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_deref()),
                Arg::Bool(v) => q.bind(*v),
                Arg::Time(v) => q.bind(v.as_ref().map(sqlite_time)),
                Arg::Json(v) => q.bind(v.as_ref().map(|j| j.to_string())),
                Arg::Ids(v) => q.bind(ids_json(v)),
            };
        }
        q
    }};
    ($q:expr, $args:expr, postgres) => {{
        let mut q = $q;
        for arg in $args {
            q = match arg {
                Arg::I64(v) => q.bind(*v),
                Arg::Text(v) => q.bind(v.as_deref()),
                Arg::Bool(v) => q.bind(*v),
                Arg::Time(v) => q.bind(*v),
                Arg::Json(v) => q.bind(v.as_ref().map(|j| sqlx::types::Json(j.clone()))),
                Arg::Ids(v) => q.bind(v.clone()),
            };
        }
        q
    }};
}

/// `[1,2,3]`: a list of ids as SQLite's `json_each` reads it.
fn ids_json(ids: &[i64]) -> String {
    let mut text = String::with_capacity(ids.len() * 8 + 2);
    text.push('[');
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(&id.to_string());
    }
    text.push(']');
    text
}

/// Where a query runs: a pool or an open transaction.
pub enum Target<'a> {
    Db(&'a Db),
    Tx(&'a mut Tx),
}

impl Target<'_> {
    /// The same target again, for one more query (a transaction is reborrowed).
    pub fn again(&mut self) -> Target<'_> {
        match self {
            Target::Db(db) => Target::Db(db),
            Target::Tx(tx) => Target::Tx(tx),
        }
    }

    /// The SQL dialect of the backend the target runs on.
    pub fn dialect(&self) -> super::Dialect {
        match self {
            Target::Db(db) => db.dialect(),
            Target::Tx(tx) => tx.dialect(),
        }
    }
}

impl<'a> From<&'a Db> for Target<'a> {
    fn from(db: &'a Db) -> Self {
        Target::Db(db)
    }
}
impl<'a> From<&'a mut Tx> for Target<'a> {
    fn from(tx: &'a mut Tx) -> Self {
        Target::Tx(tx)
    }
}

/// Runs `$method` of a sqlx query built by `$build` (one of `sqlx::query`, `query_as`,
/// `query_scalar`) against whichever backend `$target` is.
macro_rules! run {
    ($self:ident, $target:expr, $build:ident, $method:ident) => {{
        super::counter::counted();
        let sql = $self.sql.as_str();
        match $target.into() {
            Target::Db(Db::Sqlite(pool, ..)) => {
                bind_all!(sqlx::$build(sql), &$self.args, sqlite)
                    .$method(pool)
                    .await
            }
            Target::Db(Db::Postgres(pool, _)) => {
                bind_all!(sqlx::$build(sql), &$self.args, postgres)
                    .$method(pool)
                    .await
            }
            Target::Tx(Tx::Sqlite(tx, ..)) => {
                bind_all!(sqlx::$build(sql), &$self.args, sqlite)
                    .$method(&mut **tx)
                    .await
            }
            Target::Tx(Tx::Postgres(tx, _)) => {
                bind_all!(sqlx::$build(sql), &$self.args, postgres)
                    .$method(&mut **tx)
                    .await
            }
        }
    }};
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Appends SQL text written by kadro (never user input).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Appends a `$n` placeholder for `value`.
    pub fn push_bind(&mut self, value: impl Into<Arg>) -> &mut Self {
        self.args.push(value.into());
        self.sql.push('$');
        self.sql.push_str(&self.args.len().to_string());
        self
    }

    /// Appends another query (a subquery), renumbering its placeholders after this one's
    /// (text inside single-quoted literals is left alone).
    pub fn append(&mut self, other: Query) -> &mut Self {
        let offset = self.args.len();
        let mut in_literal = false;
        let mut chars = other.sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                in_literal = !in_literal;
                self.sql.push(c);
            } else if c == '$' && !in_literal && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.next_if(char::is_ascii_digit) {
                    n.push(d);
                }
                let n: usize = n.parse().unwrap_or(0);
                self.sql.push('$');
                self.sql.push_str(&(n + offset).to_string());
            } else {
                self.sql.push(c);
            }
        }
        self.args.extend(other.args);
        self
    }

    /// Binds the next value for a placeholder already written in the text.
    pub fn bind(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// Runs a statement; the number of rows it changed. On the pool itself (not in a
    /// transaction) a statement that changed rows counts as one of the pool's writes.
    pub async fn execute<'a>(&self, target: impl Into<Target<'a>>) -> Result<u64, sqlx::Error> {
        let target = target.into();
        let on_pool = match &target {
            Target::Db(db) => Some(db.writes().clone()),
            Target::Tx(_) => None,
        };
        let result = self.run_statement(target).await;
        if let (Some(writes), Ok(1..)) = (on_pool, &result) {
            writes.bump();
        }
        result
    }

    /// Runs a statement on the pool that only keeps records nothing cached depends on (a
    /// token's last use): unlike [`Query::execute`] it is not counted as one of the pool's
    /// writes, so the token cache keeps what it holds.
    pub async fn execute_bookkeeping(&self, db: &Db) -> Result<u64, sqlx::Error> {
        self.run_statement(Target::Db(db)).await
    }

    async fn run_statement(&self, target: Target<'_>) -> Result<u64, sqlx::Error> {
        super::counter::counted();
        match target {
            Target::Db(Db::Sqlite(pool, ..)) => {
                bind_all!(sqlx::query(&self.sql), &self.args, sqlite)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            }
            Target::Db(Db::Postgres(pool, _)) => {
                bind_all!(sqlx::query(&self.sql), &self.args, postgres)
                    .execute(pool)
                    .await
                    .map(|r| r.rows_affected())
            }
            Target::Tx(Tx::Sqlite(tx, ..)) => bind_all!(sqlx::query(&self.sql), &self.args, sqlite)
                .execute(&mut **tx)
                .await
                .map(|r| r.rows_affected()),
            Target::Tx(Tx::Postgres(tx, _)) => {
                bind_all!(sqlx::query(&self.sql), &self.args, postgres)
                    .execute(&mut **tx)
                    .await
                    .map(|r| r.rows_affected())
            }
        }
    }

    pub async fn fetch_all<'a, T: Row>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<Vec<T>, sqlx::Error> {
        run!(self, target, query_as, fetch_all)
    }

    pub async fn fetch_optional<'a, T: Row>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<Option<T>, sqlx::Error> {
        run!(self, target, query_as, fetch_optional)
    }

    pub async fn fetch_one<'a, T: Row>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<T, sqlx::Error> {
        run!(self, target, query_as, fetch_one)
    }

    pub async fn scalar<'a, T: Scalar>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<T, sqlx::Error> {
        run!(self, target, query_scalar, fetch_one)
    }

    pub async fn scalar_optional<'a, T: Scalar>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<Option<T>, sqlx::Error> {
        run!(self, target, query_scalar, fetch_optional)
    }

    pub async fn scalars<'a, T: Scalar>(
        &self,
        target: impl Into<Target<'a>>,
    ) -> Result<Vec<T>, sqlx::Error> {
        run!(self, target, query_scalar, fetch_all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_placeholders_are_renumbered() {
        let mut inner = Query::new("SELECT id FROM t WHERE a = ");
        inner
            .push_bind(1i64)
            .push(" AND b = ")
            .push_bind("x")
            .push(" AND c = '$1'");
        let mut outer = Query::new("SELECT * FROM t WHERE z = ");
        outer.push_bind(true).push(" AND id IN (");
        outer.append(inner);
        outer.push(")");
        assert_eq!(
            outer.sql(),
            "SELECT * FROM t WHERE z = $1 AND id IN (SELECT id FROM t WHERE a = $2 AND b = $3 AND c = '$1')"
        );
        assert_eq!(outer.args.len(), 3);
    }
}
