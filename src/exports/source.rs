//! Where exported rows come from: a [`RowSource`] per exportable list, defined by the context
//! that owns the list and registered at start in [`ExportSources`], which the export job
//! looks the stored list name up in. This module names no context.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::format::{Cell, Format};
use super::job::{self, ExportError};
use super::record::ExportRow;
use crate::db::{Dialect, Query, Row};
use crate::state::AppState;

/// The rows of one list, read in keyset batches (`id > cursor ORDER BY id LIMIT n`), so memory
/// stays flat and a batch costs the same at the end of the table as at its start.
///
/// Implemented by a small struct that holds what the list handler parsed (its filter, the
/// caller's scope) and is stored as JSON in the export row, hence `Serialize + Deserialize`.
pub trait RowSource: Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static {
    /// The list's name, stored in the `exports.list` column: never renamed once released, or
    /// the exports recorded under the old name cannot be built.
    const LIST: &'static str;

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

/// One export request of a list: the list's name and its parameters as stored in the export
/// row (`list`, and `filter` as JSON), with the fields a client may ask for.
#[derive(Clone, Debug)]
pub struct ExportList {
    list: &'static str,
    fields: &'static [&'static str],
    filter: String,
}

impl ExportList {
    /// The request of `source`'s list with `source`'s parameters.
    pub fn of<S: RowSource>(source: S) -> ExportList {
        // Through `Value`, as exports have always been stored: keys in sorted order.
        let filter = serde_json::to_value(&source)
            .unwrap_or_default()
            .to_string();
        ExportList {
            list: S::LIST,
            fields: S::FIELDS,
            filter,
        }
    }

    /// The fields a client may ask for.
    pub fn fields(&self) -> &'static [&'static str] {
        self.fields
    }

    /// The stored form: (`list`, `filter` JSON).
    pub fn to_stored(&self) -> (String, String) {
        (self.list.to_owned(), self.filter.clone())
    }

    pub fn name(&self) -> &'static str {
        self.list
    }
}

/// An exportable list with its row type erased, as [`ExportSources`] keeps it.
#[async_trait::async_trait]
pub trait ExportSource: Send + Sync {
    /// The fields a client may ask for.
    fn fields(&self) -> &'static [&'static str];

    /// Builds the file of `export` (a row of this list): reads its stored parameters back,
    /// then streams the rows ([`job::build_rows`]).
    async fn build(
        &self,
        state: &AppState,
        export: &ExportRow,
        fields: &[String],
        format: Format,
        name: &str,
    ) -> Result<u64, ExportError>;
}

/// The [`ExportSource`] of a [`RowSource`] type.
struct Registered<S>(PhantomData<fn() -> S>);

#[async_trait::async_trait]
impl<S: RowSource> ExportSource for Registered<S> {
    fn fields(&self) -> &'static [&'static str] {
        S::FIELDS
    }

    async fn build(
        &self,
        state: &AppState,
        export: &ExportRow,
        fields: &[String],
        format: Format,
        name: &str,
    ) -> Result<u64, ExportError> {
        let source: S = serde_json::from_str(&export.filter)
            .map_err(|e| ExportError::Invalid(format!("Unknown export parameters: {e}")))?;
        job::build_rows(state, export, source, fields, format, name).await
    }
}

/// Every exportable list, by the name its exports store; each context adds its own at start
/// (`b2b::export_sources`, `instore::export_sources`).
#[derive(Clone, Default)]
pub struct ExportSources(HashMap<&'static str, Arc<dyn ExportSource>>);

impl ExportSources {
    /// Adds `S` under [`RowSource::LIST`].
    ///
    /// # Panics
    ///
    /// When another source already has that name: two lists cannot share their stored rows.
    pub fn with<S: RowSource>(mut self) -> Self {
        let added = self
            .0
            .insert(S::LIST, Arc::new(Registered::<S>(PhantomData)));
        assert!(
            added.is_none(),
            "two export sources are named {:?}",
            S::LIST
        );
        self
    }

    /// The source of the list stored as `list`.
    pub fn get(&self, list: &str) -> Option<&dyn ExportSource> {
        self.0.get(list).map(|s| s.as_ref())
    }

    /// The registered list names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.0.keys().copied().collect();
        names.sort_unstable();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Numbers {
        below: i64,
        label: String,
    }

    impl RowSource for Numbers {
        const LIST: &'static str = "numbers";
        type Row = (i64,);
        const FIELDS: &'static [&'static str] = &["n"];

        fn count(&self, _: Dialect) -> Query {
            Query::new("SELECT 0")
        }

        fn batch(&self, _: Dialect, _: &[&'static str], _: i64, _: i64) -> Query {
            Query::new("SELECT 0")
        }

        fn id(row: &(i64,)) -> i64 {
            row.0
        }

        fn cell<'r>(row: &'r (i64,), _: &str) -> Cell<'r> {
            Cell::Int(row.0)
        }
    }

    #[derive(Serialize, Deserialize)]
    struct SameName;

    impl RowSource for SameName {
        const LIST: &'static str = "numbers";
        type Row = (i64,);
        const FIELDS: &'static [&'static str] = &["other"];

        fn count(&self, _: Dialect) -> Query {
            Query::new("SELECT 0")
        }

        fn batch(&self, _: Dialect, _: &[&'static str], _: i64, _: i64) -> Query {
            Query::new("SELECT 0")
        }

        fn id(row: &(i64,)) -> i64 {
            row.0
        }

        fn cell<'r>(_: &'r (i64,), _: &str) -> Cell<'r> {
            Cell::Empty
        }
    }

    #[test]
    fn a_request_stores_its_list_name_and_sorted_parameters() {
        let list = ExportList::of(Numbers {
            below: 10,
            label: "x".into(),
        });
        assert_eq!(list.fields(), ["n"]);
        assert_eq!(
            list.to_stored(),
            (
                "numbers".to_owned(),
                r#"{"below":10,"label":"x"}"#.to_owned()
            )
        );
    }

    #[test]
    fn sources_are_found_by_their_stored_name() {
        let sources = ExportSources::default().with::<Numbers>();
        assert_eq!(sources.names(), ["numbers"]);
        assert_eq!(sources.get("numbers").map(|s| s.fields()), Some(&["n"][..]));
        assert!(sources.get("nope").is_none());
    }

    #[test]
    #[should_panic(expected = "two export sources are named \"numbers\"")]
    fn two_sources_cannot_share_a_name() {
        let _ = ExportSources::default()
            .with::<Numbers>()
            .with::<SameName>();
    }
}
