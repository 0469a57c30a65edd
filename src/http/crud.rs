//! The detail, create, replace, change and delete handlers that countries, cities, townships
//! and permission groups share. A resource says how to read, save and delete one row
//! ([`Resource`]); [`crud_handlers!`](crate::crud_handlers) writes its five handlers with their
//! OpenAPI annotations, each a call to the generic function here.

use axum::http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};
use super::json::Body;
use super::request::IdPath;
use crate::db::Db;
use crate::state::AppState;

/// One kind of row behind the shared handlers.
pub trait Resource {
    /// The request body of create, PUT and PATCH.
    type In: DeserializeOwned + Send;
    /// The row as the API shows it.
    type Out: Serialize + Send;

    /// One row, or `None`.
    fn detail(
        db: &Db,
        id: i64,
    ) -> impl Future<Output = Result<Option<Self::Out>, sqlx::Error>> + Send;

    /// Creates (`id` none) or updates a row; `partial` for PATCH (fields left out are kept).
    fn save(
        db: &Db,
        id: Option<i64>,
        body: Body<Self::In>,
        partial: bool,
    ) -> impl Future<Output = ApiResult<Self::Out>> + Send;

    /// Deletes a row; 404 when there is none, 400 when it is still referenced.
    fn delete(db: &Db, id: i64) -> impl Future<Output = ApiResult<()>> + Send;
}

pub async fn detail<R: Resource>(state: &AppState, id: IdPath) -> ApiResult<axum::Json<R::Out>> {
    let row = R::detail(&state.db, id.0).await?;
    Ok(axum::Json(row.ok_or(ApiError::NotFound)?))
}

pub async fn create<R: Resource>(
    state: &AppState,
    body: Body<R::In>,
) -> ApiResult<(StatusCode, axum::Json<R::Out>)> {
    let out = R::save(&state.db, None, body, false).await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

pub async fn update<R: Resource>(
    state: &AppState,
    id: IdPath,
    body: Body<R::In>,
    partial: bool,
) -> ApiResult<axum::Json<R::Out>> {
    Ok(axum::Json(
        R::save(&state.db, Some(id.0), body, partial).await?,
    ))
}

pub async fn destroy<R: Resource>(state: &AppState, id: IdPath) -> ApiResult<StatusCode> {
    R::delete(&state.db, id.0).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Writes `detail`, `create`, `update` (PUT), `partial_update` (PATCH) and `destroy` for a
/// [`Resource`], annotated for the OpenAPI document. utoipa needs one annotated function per
/// operation, so the five are generated rather than written out again for each resource.
#[macro_export]
macro_rules! crud_handlers {
    (
        resource: $res:ident,
        name: $name:tt,
        list_path: $list:tt,
        detail_path: $detail:tt,
        tag: $tag:tt,
        input: $input:ident,
        output: $output:ident,
        required: $required:tt,
        delete_doc: $delete_doc:tt,
        delete_responses: $delete_responses:tt $(,)?
    ) => {
        #[doc = concat!("Shows ", $name, ".")]
        #[utoipa::path(get, path = $detail, tag = $tag, params(("id" = i64, Path)),
                    responses((status = 200, body = $output), (status = 404)))]
        pub async fn detail(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            id: $crate::http::request::IdPath,
        ) -> $crate::http::error::ApiResult<axum::Json<$output>> {
            $crate::http::crud::detail::<$res>(&state, id).await
        }

        #[doc = concat!("Creates ", $name, " (201).")]
        #[utoipa::path(post, path = $list, tag = $tag, request_body = $input,
                    responses((status = 201, body = $output), (status = 400)))]
        pub async fn create(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            body: $crate::http::json::Body<$input>,
        ) -> $crate::http::error::ApiResult<(axum::http::StatusCode, axum::Json<$output>)> {
            $crate::http::crud::create::<$res>(&state, body).await
        }

        #[doc = concat!("Replaces ", $name, " (", $required, " required).")]
        #[utoipa::path(put, path = $detail, tag = $tag, params(("id" = i64, Path)),
                    request_body = $input,
                    responses((status = 200, body = $output), (status = 400), (status = 404)))]
        pub async fn update(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            id: $crate::http::request::IdPath,
            body: $crate::http::json::Body<$input>,
        ) -> $crate::http::error::ApiResult<axum::Json<$output>> {
            $crate::http::crud::update::<$res>(&state, id, body, false).await
        }

        /// Changes the fields given.
        #[utoipa::path(patch, path = $detail, tag = $tag, params(("id" = i64, Path)),
                    request_body = $input,
                    responses((status = 200, body = $output), (status = 400), (status = 404)))]
        pub async fn partial_update(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            id: $crate::http::request::IdPath,
            body: $crate::http::json::Body<$input>,
        ) -> $crate::http::error::ApiResult<axum::Json<$output>> {
            $crate::http::crud::update::<$res>(&state, id, body, true).await
        }

        #[doc = $delete_doc]
        #[utoipa::path(delete, path = $detail, tag = $tag, params(("id" = i64, Path)),
                    responses $delete_responses)]
        pub async fn destroy(
            axum::extract::State(state): axum::extract::State<$crate::state::AppState>,
            id: $crate::http::request::IdPath,
        ) -> $crate::http::error::ApiResult<axum::http::StatusCode> {
            $crate::http::crud::destroy::<$res>(&state, id).await
        }
    };
}
