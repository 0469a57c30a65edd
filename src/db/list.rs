//! The list toolkit: every list of the API (users, staffs, stores, geography, permissions, ...)
//! is read through it, so counting, paging, filtering and the links of a page are written once.
//!
//! A list is a [`ListSource`] (what it reads) and a typed filter implementing [`ListFilter`]
//! (which rows it keeps). The filter writes its conditions through [`Conditions`], which binds
//! every value: user input never becomes SQL text. [`list_page`] runs the count and the page.

use std::collections::HashMap;

use super::{Arg, Db, Dialect, Query, Row, Target, Tx};

/// Where a list reads from: the `FROM` clause, the selected columns and the id to order by.
pub struct ListSource {
    pub from: &'static str,
    pub columns: &'static str,
    pub id: &'static str,
    /// A condition every row of the list meets (`users.is_staff = TRUE`), or `1 = 1`.
    pub always: &'static str,
    /// The `table_counts` row that keeps this list's size: an unfiltered list reads it instead
    /// of counting every row (large tables only).
    pub kept_count: Option<&'static str>,
}

impl ListSource {
    /// A list of every row of `from`, by `id`.
    pub const fn new(from: &'static str, columns: &'static str, id: &'static str) -> Self {
        ListSource {
            from,
            columns,
            id,
            always: "1 = 1",
            kept_count: None,
        }
    }

    /// `SELECT <what> FROM <from> WHERE <always>`, ready for ` AND …` conditions.
    pub fn select(&self, what: &str) -> Query {
        Query::new(format!(
            "SELECT {what} FROM {} WHERE {}",
            self.from, self.always
        ))
    }
}

/// The rows of one page: how many to read and how many to skip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
}

/// A list's typed filter: the conditions it adds for the values it holds.
pub trait ListFilter {
    fn apply(&self, conditions: &mut Conditions<'_>);

    /// Appends the filter's conditions to `q` (export sources build their own queries).
    fn push_conditions(&self, q: &mut Query, dialect: Dialect) {
        self.apply(&mut Conditions::new(q, dialect));
    }
}

/// No filter at all (`my-divisions`, lists without filters).
impl ListFilter for () {
    fn apply(&self, _: &mut Conditions<'_>) {}
}

/// Appends ` AND …` conditions to a query, binding every value, and remembers whether any was
/// added (an unfiltered list may read a kept count instead of counting).
pub struct Conditions<'q> {
    query: &'q mut Query,
    dialect: Dialect,
    applied: bool,
    /// What joins this level's conditions: ` AND ` at the top, ` OR ` in an [`Join::Any`] group.
    join: Join,
    /// Whether the next condition opens a group (no joining word before it).
    opening: bool,
}

/// How the conditions of a [`Conditions::group`] combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// Every condition holds (`AND`); an empty group holds.
    All,
    /// One condition holds (`OR`); an empty group does not.
    Any,
}

impl Join {
    fn word(self) -> &'static str {
        match self {
            Join::All => " AND ",
            Join::Any => " OR ",
        }
    }
}

/// Sorts a list by one column of kadro's own text, then by the source's id: rows without a
/// value come last in ascending order and first in descending order, on both backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Order {
    pub column: &'static str,
    pub descending: bool,
    /// Whether the column is text compared ignoring case (as the filters do).
    pub folded: bool,
}

impl<'q> Conditions<'q> {
    pub fn new(query: &'q mut Query, dialect: Dialect) -> Self {
        Conditions {
            query,
            dialect,
            applied: false,
            join: Join::All,
            opening: false,
        }
    }

    /// The joining word before the next condition (none right after a group opens).
    fn next(&mut self) -> &mut Query {
        if self.opening {
            self.opening = false;
        } else {
            self.query.push(self.join.word());
        }
        self.applied = true;
        self.query
    }

    /// ` AND (<conditions joined by join>)`, or ` AND NOT (…)` when `negated`: a nested group,
    /// for filters with `or`, `not` and parentheses (SCIM's). What `build` adds is bound as
    /// everywhere else; an empty group is `1 = 1` (every row) for [`Join::All`] and `1 = 0`
    /// (none) for [`Join::Any`].
    pub fn group(
        &mut self,
        join: Join,
        negated: bool,
        build: impl FnOnce(&mut Conditions<'_>),
    ) -> &mut Self {
        let dialect = self.dialect;
        let q = self.next();
        q.push(if negated { "NOT (" } else { "(" });
        let mut inner = Conditions {
            query: &mut *q,
            dialect,
            applied: false,
            join,
            opening: true,
        };
        build(&mut inner);
        let filled = inner.applied;
        if !filled {
            q.push(match join {
                Join::All => "1 = 1",
                Join::Any => "1 = 0",
            });
        }
        q.push(")");
        self
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether any condition was added.
    pub fn applied(&self) -> bool {
        self.applied
    }

    /// ` AND <column> = value`, when there is a value (exact, boolean and enum filters).
    pub fn eq<T: Into<Arg>>(&mut self, column: &str, value: Option<T>) -> &mut Self {
        if let Some(value) = value {
            self.raw(&format!("{column} = "), value, "");
        }
        self
    }

    /// ` AND <column>` contains `value`, case-insensitively (Django's `icontains`), with the
    /// value's own `%`, `_` and `\` matched literally.
    /// SQLite's `LIKE` ignores the case of ASCII letters only, so a value with other letters is
    /// matched there with a case-insensitive Unicode `REGEXP` (as PostgreSQL's `ILIKE` does).
    pub fn contains(&mut self, column: &str, value: Option<&str>) -> &mut Self {
        match value {
            None => {}
            Some(value) if self.dialect == Dialect::Sqlite && !value.is_ascii() => {
                self.raw(&format!("{column} REGEXP "), contains_regex(value), "");
            }
            Some(value) => {
                let op = format!("{column} {} ", self.dialect.ilike());
                self.raw(&op, contains_pattern(value), " ESCAPE '\\'");
            }
        }
        self
    }

    /// Like [`Conditions::contains`] on a column that SQLite also indexes in an FTS5 trigram
    /// table (`search_table`, whose rowid is `id_column`): a value of three characters or more
    /// is looked up there, a shorter one scans. PostgreSQL uses its trigram index either way.
    pub fn contains_indexed(
        &mut self,
        column: &str,
        search: &SearchTable,
        value: Option<&str>,
    ) -> &mut Self {
        let Some(value) = value else { return self };
        if self.dialect == Dialect::Sqlite && value.chars().count() >= TRIGRAM {
            let field = column.rsplit('.').next().unwrap_or(column);
            let phrase = format!("{field} : \"{}\"", value.replace('"', "\"\""));
            let head = format!(
                "{} IN (SELECT rowid FROM {table} WHERE {table} MATCH ",
                search.id_column,
                table = search.table
            );
            self.raw(&head, phrase, ")");
            self
        } else {
            self.contains(column, Some(value))
        }
    }

    /// ` AND <id_column> IN (SELECT <owner> FROM <table> WHERE <other> = value)`: rows linked to
    /// `value` through a join table (`retail_stores=3` on staffs).
    pub fn linked(&mut self, id_column: &str, link: &Link, value: Option<i64>) -> &mut Self {
        if let Some(value) = value {
            let head = format!(
                "{id_column} IN (SELECT {} FROM {} WHERE {} = ",
                link.owner, link.table, link.other
            );
            self.raw(&head, value, ")");
        }
        self
    }

    /// ` AND <condition>`: a condition of kadro's own text with no value (never a client's).
    pub fn fixed(&mut self, condition: &'static str) -> &mut Self {
        self.next().push(condition);
        self
    }

    /// ` AND <head>$n<tail>`: a condition of kadro's own text around one bound value.
    pub fn raw(&mut self, head: &str, value: impl Into<Arg>, tail: &str) -> &mut Self {
        self.next().push(head).push_bind(value).push(tail);
        self
    }
}

/// SQLite's trigram tokenizer indexes substrings of three characters or more.
const TRIGRAM: usize = 3;

/// An FTS5 trigram table that mirrors text columns of a table, for fast "contains" on SQLite.
pub struct SearchTable {
    pub table: &'static str,
    /// The column its rowid equals (`users.id`).
    pub id_column: &'static str,
}

/// A join table between two kinds of rows: `owner` and `other` are its two id columns.
#[derive(Debug, PartialEq, Eq)]
pub struct Link {
    pub table: &'static str,
    pub owner: &'static str,
    pub other: &'static str,
}

impl Link {
    /// The same table seen from the other side.
    pub const fn reversed(&self) -> Link {
        Link {
            table: self.table,
            owner: self.other,
            other: self.owner,
        }
    }
}

/// Counts the rows of `source` that `filter` keeps and reads one window of them, by id.
pub async fn list_page<T: Row>(
    db: &Db,
    source: &ListSource,
    window: Window,
    filter: &(impl ListFilter + ?Sized),
) -> Result<(i64, Vec<T>), sqlx::Error> {
    list_page_ordered(db, source, window, filter, None).await
}

/// [`list_page`] in the order of `order` (by id when none).
pub async fn list_page_ordered<T: Row>(
    db: &Db,
    source: &ListSource,
    window: Window,
    filter: &(impl ListFilter + ?Sized),
    order: Option<Order>,
) -> Result<(i64, Vec<T>), sqlx::Error> {
    let mut count = source.select("COUNT(*)");
    let filtered = {
        let mut c = Conditions::new(&mut count, db.dialect());
        filter.apply(&mut c);
        c.applied()
    };
    let count: i64 = match source.kept_count {
        Some(table) if !filtered => {
            Query::new("SELECT n FROM table_counts WHERE table_name = $1")
                .bind(table)
                .scalar(db)
                .await?
        }
        _ => count.scalar(db).await?,
    };
    let mut rows = source.select(source.columns);
    filter.apply(&mut Conditions::new(&mut rows, db.dialect()));
    rows.push(" ORDER BY ");
    if let Some(order) = order {
        push_order(&mut rows, db.dialect(), order);
        rows.push(", ");
    }
    rows.push(source.id)
        .push(" LIMIT ")
        .push_bind(window.limit)
        .push(" OFFSET ")
        .push_bind(window.offset);
    Ok((count, rows.fetch_all(db).await?))
}

/// `(<column> IS NULL), <column>` in the order asked: nulls last when ascending.
fn push_order(q: &mut Query, dialect: Dialect, order: Order) {
    let column = if order.folded {
        dialect.folded(order.column)
    } else {
        order.column.to_owned()
    };
    let direction = if order.descending { " DESC" } else { " ASC" };
    q.push(&format!(
        "({} IS NULL){direction}, {column}{direction}",
        order.column
    ));
}

/// The rows of `link` whose owner is one of `owners`, as owner → ids of the other side in
/// ascending order: one query for a whole page, whatever its size.
pub async fn linked_ids<'a>(
    target: impl Into<Target<'a>>,
    link: &Link,
    owners: &[i64],
) -> Result<HashMap<i64, Vec<i64>>, sqlx::Error> {
    let mut linked: HashMap<i64, Vec<i64>> = HashMap::new();
    if owners.is_empty() {
        return Ok(linked);
    }
    let Link {
        table,
        owner,
        other,
    } = link;
    let mut q = Query::new(format!(
        "SELECT {owner}, {other} FROM {table} WHERE {owner} IN "
    ));
    push_id_list(&mut q, owners);
    q.push(" ORDER BY ").push(other);
    let links: Vec<(i64, i64)> = q.fetch_all(target).await?;
    for (owner, other) in links {
        linked.entry(owner).or_default().push(other);
    }
    Ok(linked)
}

/// Replaces the rows of `link` that belong to `owner` with one row per id of `others`, in one
/// `DELETE` and one multi-row `INSERT`.
pub async fn replace_links(
    tx: &mut Tx,
    link: &Link,
    owner: i64,
    others: &[i64],
) -> Result<(), sqlx::Error> {
    let Link {
        table,
        owner: owner_column,
        other: other_column,
    } = link;
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

/// Appends `(id1, id2, ...)` as bound values; `(NULL)` for none, which matches nothing.
pub fn push_id_list(q: &mut Query, ids: &[i64]) {
    q.push("(");
    if ids.is_empty() {
        q.push("NULL");
    }
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(*id);
    }
    q.push(")");
}

/// ` IN <ids>` as one bound value (`= ANY($n)` on PostgreSQL, `IN (SELECT value FROM
/// json_each($n))` on SQLite): the statement's text is the same whatever the number of ids, so
/// each connection prepares (and PostgreSQL plans) it once instead of once per list length,
/// and the prepared-statement caches do not fill with variants.
pub fn push_id_set(q: &mut Query, dialect: Dialect, ids: &[i64]) {
    match dialect {
        Dialect::Postgres => q
            .push(" = ANY(")
            .push_bind(Arg::Ids(ids.to_vec()))
            .push(")"),
        Dialect::Sqlite => q
            .push(" IN (SELECT value FROM json_each(")
            .push_bind(Arg::Ids(ids.to_vec()))
            .push("))"),
    };
}

/// `%value%` for a `LIKE … ESCAPE '\'`, with the pattern characters of the value escaped so
/// `50%` matches the text "50%" and not everything.
pub fn contains_pattern(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for ch in value.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// A case-insensitive regular expression that finds `value` literally.
fn contains_regex(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 8);
    pattern.push_str("(?i)");
    for ch in value.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(ch) {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_pattern_matches_the_text_literally() {
        assert_eq!(contains_regex("Ş.a*(b)"), "(?i)Ş\\.a\\*\\(b\\)");
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }

    struct Sample {
        name: Option<String>,
        active: Option<bool>,
        store: Option<i64>,
    }

    impl ListFilter for Sample {
        fn apply(&self, c: &mut Conditions<'_>) {
            c.contains("s.name", self.name.as_deref())
                .eq("s.is_active", self.active)
                .linked("s.id", &STORES, self.store);
        }
    }

    const STORES: Link = Link {
        table: "staff_retail_stores",
        owner: "staff_id",
        other: "retail_store_id",
    };

    #[test]
    fn conditions_bind_every_value_and_know_when_none_applied() {
        let source = ListSource::new("staffs s", "s.id", "s.id");
        let mut q = source.select("COUNT(*)");
        let none = Sample {
            name: None,
            active: None,
            store: None,
        };
        let mut c = Conditions::new(&mut q, Dialect::Postgres);
        none.apply(&mut c);
        assert!(!c.applied());
        assert_eq!(q.sql(), "SELECT COUNT(*) FROM staffs s WHERE 1 = 1");

        let all = Sample {
            name: Some("a'b".into()),
            active: Some(true),
            store: Some(3),
        };
        let mut c = Conditions::new(&mut q, Dialect::Postgres);
        all.apply(&mut c);
        assert!(c.applied());
        assert_eq!(
            q.sql(),
            "SELECT COUNT(*) FROM staffs s WHERE 1 = 1 AND s.name ILIKE $1 ESCAPE '\\' \
             AND s.is_active = $2 AND s.id IN (SELECT staff_id FROM staff_retail_stores \
             WHERE retail_store_id = $3)"
        );
    }

    #[test]
    fn groups_nest_with_or_and_not_and_empty_groups_are_neutral() {
        let mut q = Query::new("SELECT 1 WHERE 1 = 1");
        let mut c = Conditions::new(&mut q, Dialect::Postgres);
        c.group(Join::Any, false, |c| {
            c.raw("a = ", 1, "");
            c.group(Join::All, true, |c| {
                c.raw("b = ", 2, "").fixed("c IS NULL");
            });
        })
        .group(Join::Any, false, |_| {})
        .group(Join::All, true, |_| {});
        assert!(c.applied());
        assert_eq!(
            q.sql(),
            "SELECT 1 WHERE 1 = 1 AND (a = $1 OR NOT (b = $2 AND c IS NULL)) AND (1 = 0) \
             AND NOT (1 = 1)"
        );
    }

    #[test]
    fn short_values_scan_and_long_ones_use_the_search_table_on_sqlite() {
        let search = SearchTable {
            table: "users_search",
            id_column: "users.id",
        };
        let mut q = Query::new("SELECT 1 WHERE 1 = 1");
        Conditions::new(&mut q, Dialect::Sqlite)
            .contains_indexed("users.email", &search, Some("ab"))
            .contains_indexed("users.email", &search, Some("abc"));
        assert_eq!(
            q.sql(),
            "SELECT 1 WHERE 1 = 1 AND users.email LIKE $1 ESCAPE '\\' AND users.id IN \
             (SELECT rowid FROM users_search WHERE users_search MATCH $2)"
        );
    }
}
