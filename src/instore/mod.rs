//! Instore: geography, retail stores, permissions and permission groups, staffs and their
//! login. Every protected endpoint is declared once in [`routes::ENDPOINTS`], from which both
//! the router and the `permissions` table are built.

pub mod auth;
pub mod demo;
pub mod geography;
pub mod permissions;
pub mod routes;
pub mod staffs;
pub mod stores;
pub mod validate;

pub use routes::router;

use std::collections::HashMap;

use crate::db::{Db, Dialect, Query, Row, Tx};
use crate::http::filters::contains_pattern;
use crate::http::pagination::PageRequest;

/// Where a list reads from: the `FROM` clause, the selected columns and the id to order by.
pub struct Source {
    pub from: &'static str,
    pub columns: &'static str,
    pub id: &'static str,
    /// The `table_counts` row that keeps this table's size: an unfiltered list reads it
    /// instead of counting every row (large tables only).
    pub kept_count: Option<&'static str>,
}

/// Counts the rows of `source` that `filter` keeps and reads one page of them, by id.
/// `filter` appends ` AND …` conditions; it runs once for each of the two queries.
pub async fn list_page<T: Row>(
    db: &Db,
    source: &Source,
    page: &PageRequest,
    filter: impl Fn(&mut Query),
) -> Result<(i64, Vec<T>), sqlx::Error> {
    let mut count = Query::new(format!("SELECT COUNT(*) FROM {} WHERE 1 = 1", source.from));
    let unfiltered = count.sql().len();
    filter(&mut count);
    let count: i64 = match source.kept_count {
        Some(table) if count.sql().len() == unfiltered => {
            Query::new("SELECT n FROM table_counts WHERE table_name = $1")
                .bind(table)
                .scalar(db)
                .await?
        }
        _ => count.scalar(db).await?,
    };
    let mut rows = Query::new(format!(
        "SELECT {} FROM {} WHERE 1 = 1",
        source.columns, source.from
    ));
    filter(&mut rows);
    rows.push(" ORDER BY ")
        .push(source.id)
        .push(" LIMIT ")
        .push_bind(page.limit())
        .push(" OFFSET ")
        .push_bind(page.offset());
    Ok((count, rows.fetch_all(db).await?))
}

/// The rows of join table `table` whose `owner_column` is one of `owners`, as owner → ids of
/// `other_column` in ascending order: one query for a whole page, whatever its size.
pub async fn linked_ids(
    db: &Db,
    table: &str,
    owner_column: &str,
    other_column: &str,
    owners: &[i64],
) -> Result<HashMap<i64, Vec<i64>>, sqlx::Error> {
    let mut linked: HashMap<i64, Vec<i64>> = HashMap::new();
    if owners.is_empty() {
        return Ok(linked);
    }
    let mut q = Query::new(format!(
        "SELECT {owner_column}, {other_column} FROM {table} WHERE {owner_column} IN "
    ));
    validate::push_id_list(&mut q, owners);
    q.push(" ORDER BY ").push(other_column);
    let links: Vec<(i64, i64)> = q.fetch_all(db).await?;
    for (owner, other) in links {
        linked.entry(owner).or_default().push(other);
    }
    Ok(linked)
}

/// Appends ` AND column ILIKE '%value%'` with the value bound and its wildcards escaped.
pub fn push_contains(q: &mut Query, dialect: Dialect, column: &str, value: &str) {
    q.push(" AND ")
        .push(column)
        .push(" ")
        .push(dialect.ilike())
        .push(" ")
        .push_bind(contains_pattern(value))
        .push(" ESCAPE '\\'");
}

/// Replaces the rows of a join table that belong to `owner` with one row per id of `others`,
/// in one `DELETE` and one multi-row `INSERT`. Table and column names are kadro's own.
pub async fn replace_links(
    tx: &mut Tx,
    table: &str,
    owner_column: &str,
    other_column: &str,
    owner: i64,
    others: &[i64],
) -> Result<(), sqlx::Error> {
    Query::new(format!("DELETE FROM {table} WHERE {owner_column} = $1"))
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    if others.is_empty() {
        return Ok(());
    }
    let mut insert = Query::new(format!(
        "INSERT INTO {table} ({owner_column}, {other_column}) VALUES "
    ));
    for (i, other) in others.iter().enumerate() {
        if i > 0 {
            insert.push(", ");
        }
        insert
            .push("(")
            .push_bind(owner)
            .push(", ")
            .push_bind(*other)
            .push(")");
    }
    insert.execute(&mut *tx).await?;
    Ok(())
}
