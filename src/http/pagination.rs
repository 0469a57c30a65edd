//! `page`/`limit` pagination with DRF's `{count, next, previous, results}` envelope.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::request::RequestUrl;
use crate::db::list::Window;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 1000;

/// The requested page; built from the query string and the request URL (for links).
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub page: u32,
    pub limit: u32,
    url: RequestUrl,
}

impl PageRequest {
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.limit)
    }

    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }

    /// The rows this page covers, for the list toolkit.
    pub fn window(&self) -> Window {
        Window {
            limit: self.limit(),
            offset: self.offset(),
        }
    }

    /// [`PageRequest::respond`] for stored rows, each shown as `T`.
    pub fn respond_rows<R, T: From<R>>(
        &self,
        count: i64,
        rows: Vec<R>,
    ) -> Result<axum::Json<Paginated<T>>, ApiError> {
        let results = rows.into_iter().map(T::from).collect();
        self.respond(count, results).map(axum::Json)
    }

    /// Wraps one page of `results` out of `count`; a page past the end is a 404, except the
    /// first page of an empty list.
    pub fn respond<T>(&self, count: i64, results: Vec<T>) -> Result<Paginated<T>, ApiError> {
        let last_page = ((count.max(0) as u64).div_ceil(u64::from(self.limit))).max(1);
        if u64::from(self.page) > last_page {
            return Err(ApiError::InvalidPage);
        }
        let next = (u64::from(self.page) < last_page).then(|| {
            self.url
                .with_query_param("page", Some(&(self.page + 1).to_string()))
        });
        let previous = (self.page > 1).then(|| {
            let prev = self.page - 1;
            if prev == 1 {
                self.url.with_query_param("page", None)
            } else {
                self.url.with_query_param("page", Some(&prev.to_string()))
            }
        });
        Ok(Paginated {
            count,
            next,
            previous,
            results,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PageRequest {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let url = RequestUrl::from_request_parts(parts, state).await?;
        let mut page = 1;
        let mut limit = DEFAULT_LIMIT;
        for (key, value) in url.query_pairs() {
            match key.as_str() {
                // DRF: an unparsable or non-positive page is "Invalid page." (404).
                "page" => {
                    page = match value.as_str() {
                        "last" => u32::MAX,
                        v => v
                            .parse::<u32>()
                            .ok()
                            .filter(|p| *p >= 1)
                            .ok_or(ApiError::InvalidPage)?,
                    }
                }
                // DRF: an unusable page size falls back to the default; a large one is capped.
                "limit" => {
                    limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|l| *l >= 1)
                        .map_or(DEFAULT_LIMIT, |l| l.min(MAX_LIMIT))
                }
                _ => {}
            }
        }
        Ok(PageRequest { page, limit, url })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub count: i64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}
