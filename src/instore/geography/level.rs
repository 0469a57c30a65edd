//! What cities and townships share. Both are a named place under a parent place (a city under
//! its country, a township under its city) and are listed, read, written and deleted the same
//! way; only the table, the parent column and the messages differ. A [`Level`] states those
//! differences once, so the two endpoint modules keep just their handlers and OpenAPI
//! annotations and cannot drift apart.

use std::marker::PhantomData;

use super::{Children, NAME_MAX, delete_place};
use crate::audit;
use crate::db::list::{Conditions, ListFilter, ListSource, Window, list_page};
use crate::db::{Db, Query, Row, Target};
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::{FilterParser, FromQuery};
use crate::http::json::Body;
use crate::http::time;
use crate::http::validate::invalid_pk;

/// A stored city or township as read with its level's columns, and the JSON it is shown as.
pub trait LevelRow: Row {
    type Out: From<Self> + serde::Serialize;
    /// The level this row belongs to.
    const LEVEL: Level<Self>;
    fn name(&self) -> &str;
    /// The parent's id: the city's country, the township's city.
    fn parent(&self) -> i64;
    fn omnitron_id(&self) -> Option<i64>;
}

/// A city or township to create or change, its parent field renamed to `parent`.
pub struct PlaceIn {
    pub name: Option<String>,
    pub parent: Option<i64>,
    pub omnitron_id: Option<Option<i64>>,
}

/// One level of the geography below countries; `R` is the row it reads.
pub struct Level<R> {
    /// The table written to and deleted from.
    pub table: &'static str,
    /// What a list and a read select: the table under `alias`, joined to what it nests.
    pub source: ListSource,
    /// The table's alias in `source.from`, which qualifies the filtered columns.
    pub alias: &'static str,
    /// The JSON field and list filter naming the parent, also the field of its 400s.
    pub parent: &'static str,
    /// The column holding the parent's id.
    pub parent_column: &'static str,
    /// What keeps a row from being deleted.
    pub children: Children,
    pub row: PhantomData<fn() -> R>,
}

/// The filters of a city or township list: `name` (contains), the parent's id, `omnitron_id`.
pub struct PlaceFilter<R> {
    pub name: Option<String>,
    pub parent: Option<i64>,
    pub omnitron_id: Option<i64>,
    row: PhantomData<fn() -> R>,
}

impl<R: LevelRow> FromQuery for PlaceFilter<R> {
    fn from_query(p: &mut FilterParser<'_>) -> Self {
        PlaceFilter {
            name: p.text("name"),
            parent: p.integer(R::LEVEL.parent),
            omnitron_id: p.integer("omnitron_id"),
            row: PhantomData,
        }
    }
}

impl<R: LevelRow> ListFilter for PlaceFilter<R> {
    fn apply(&self, c: &mut Conditions<'_>) {
        let Level {
            alias,
            parent_column,
            ..
        } = R::LEVEL;
        c.contains(&format!("{alias}.name"), self.name.as_deref())
            .eq(&format!("{alias}.{parent_column}"), self.parent)
            .eq(&format!("{alias}.omnitron_id"), self.omnitron_id);
    }
}

impl<R: LevelRow> Level<R> {
    /// One page of rows, as the API shows them.
    pub async fn list(
        &self,
        db: &Db,
        filter: &PlaceFilter<R>,
        window: Window,
    ) -> Result<(i64, Vec<R::Out>), sqlx::Error> {
        let (count, rows) = list_page::<R>(db, &self.source, window, filter).await?;
        Ok((count, rows.into_iter().map(Into::into).collect()))
    }

    /// One row as the API shows it.
    pub async fn detail(&self, db: &Db, id: i64) -> Result<Option<R::Out>, sqlx::Error> {
        Ok(self.by_id(db, id).await?.map(Into::into))
    }

    /// Creates (`id` none) or updates a row: the body is merged over the stored row, checked,
    /// then written in one statement; an unknown parent is a 400 on the parent's field.
    pub async fn save(
        &self,
        db: &Db,
        id: Option<i64>,
        body: Body<PlaceIn>,
        partial: bool,
    ) -> ApiResult<R::Out> {
        let current = match id {
            Some(id) => Some(self.by_id(db, id).await?.ok_or(ApiError::NotFound)?),
            None => None,
        };
        let (body, mut check) = body.into_parts();
        if !partial {
            check.required("name", body.name.as_ref());
            check.required(self.parent, body.parent.as_ref());
        }
        let name = body.name.or(current.as_ref().map(|c| c.name().to_owned()));
        let parent = body.parent.or(current.as_ref().map(R::parent));
        let omnitron_id = body
            .omnitron_id
            .unwrap_or(current.as_ref().and_then(R::omnitron_id));
        let name = name.unwrap_or_default();
        check.text("name", &name, NAME_MAX, false);
        check.non_negative("omnitron_id", omnitron_id);
        check.finish()?;
        let parent = parent.unwrap_or_default();
        let (table, parent_column) = (self.table, self.parent_column);
        let sql = match id {
            None => format!(
                "INSERT INTO {table} (name, {parent_column}, omnitron_id, created_date, \
                 modified_date) VALUES ($1, $2, $3, $4, $4) RETURNING id"
            ),
            Some(_) => format!(
                "UPDATE {table} SET name = $1, {parent_column} = $2, omnitron_id = $3, \
                 modified_date = $4 WHERE id = $5 RETURNING id"
            ),
        };
        let mut q = Query::new(sql)
            .bind(name)
            .bind(parent)
            .bind(omnitron_id)
            .bind(time::now());
        if let Some(id) = id {
            q = q.bind(id);
        }
        let before: Option<R::Out> = current.map(Into::into);
        let mut tx = db.begin().await?;
        let saved: Option<i64> = q.scalar_optional(&mut tx).await.map_err(|e| {
            if crate::db::is_foreign_key_violation(&e) {
                ApiError::field(self.parent, invalid_pk(parent))
            } else {
                e.into()
            }
        })?;
        let saved = saved.ok_or(ApiError::NotFound)?;
        let out: R::Out = self
            .by_id(&mut tx, saved)
            .await?
            .ok_or(ApiError::NotFound)?
            .into();
        let (target, [create, update, _]) = super::audit_names(self.table);
        let event = audit::saved([create, update], target, saved, before.as_ref(), &out);
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Deletes a row no child refers to.
    pub async fn destroy(&self, db: &Db, id: i64) -> ApiResult<()> {
        delete_place(db, self.table, id, &self.children).await
    }

    async fn by_id<'a>(
        &self,
        target: impl Into<Target<'a>>,
        id: i64,
    ) -> Result<Option<R>, sqlx::Error> {
        let ListSource {
            columns,
            from,
            id: id_column,
            ..
        } = &self.source;
        Query::new(format!(
            "SELECT {columns} FROM {from} WHERE {id_column} = $1"
        ))
        .bind(id)
        .fetch_optional(target)
        .await
    }
}
