//! `/api/v1/webhooks/` (superusers and service tokens): the webhooks, their deliveries and
//! redelivery.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use super::types::{DeliveryFilter, DeliveryOut, WebhookFilter, WebhookIn, WebhookOut};
use super::{outbox, queries};
use crate::auth::Superuser;
use crate::http::error::{ApiError, ApiResult};
use crate::http::filters::Filter;
use crate::http::json::Body;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, IdsPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/webhooks", get(list).post(create))
        .route(
            "/api/v1/webhooks/{id}",
            get(detail)
                .put(update)
                .patch(partial_update)
                .delete(destroy),
        )
        .route("/api/v1/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            post(redeliver),
        )
}

/// Lists webhooks; filter `is_active`.
#[utoipa::path(get, path = "/api/v1/webhooks/", tag = "webhooks",
    params(("is_active" = Option<bool>, Query), ("page" = Option<u32>, Query),
        ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Paginated<WebhookOut>),
        (status = 400, description = "A bad filter value"), (status = 401), (status = 403),
        (status = 404, description = "Invalid page")))]
pub async fn list(
    State(state): State<AppState>,
    _: Superuser,
    Filter(filter): Filter<WebhookFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<WebhookOut>>> {
    let (count, results) = queries::page(&state.db, &filter, page.window()).await?;
    Ok(axum::Json(page.respond(count, results)?))
}

/// Creates a webhook (201); the answer shows its `secret`, the only time it is shown.
#[utoipa::path(post, path = "/api/v1/webhooks/", tag = "webhooks", request_body = WebhookIn,
    responses((status = 201, body = WebhookOut), (status = 400), (status = 401), (status = 403)))]
pub async fn create(
    State(state): State<AppState>,
    _: Superuser,
    body: Body<WebhookIn>,
) -> ApiResult<(StatusCode, axum::Json<WebhookOut>)> {
    let allow_private = state.config.webhook_allow_private;
    let out = queries::save(&state.db, allow_private, None, body, false).await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}

/// Shows a webhook (never its secret).
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = WebhookOut), (status = 401), (status = 403), (status = 404)))]
pub async fn detail(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<axum::Json<WebhookOut>> {
    let found = queries::by_id(&state.db, id).await?;
    Ok(axum::Json(found.ok_or(ApiError::NotFound)?))
}

/// Replaces a webhook (`url` and `events` required; the secret is kept unless given).
#[utoipa::path(put, path = "/api/v1/webhooks/{id}/", tag = "webhooks", params(("id" = i64, Path)),
    request_body = WebhookIn,
    responses((status = 200, body = WebhookOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
pub async fn update(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    body: Body<WebhookIn>,
) -> ApiResult<axum::Json<WebhookOut>> {
    let allow_private = state.config.webhook_allow_private;
    let out = queries::save(&state.db, allow_private, Some(id), body, false).await?;
    Ok(axum::Json(out))
}

/// Changes the fields given (a new `secret` rotates it).
#[utoipa::path(patch, path = "/api/v1/webhooks/{id}/", tag = "webhooks",
    params(("id" = i64, Path)), request_body = WebhookIn,
    responses((status = 200, body = WebhookOut), (status = 400), (status = 401), (status = 403),
        (status = 404)))]
pub async fn partial_update(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    body: Body<WebhookIn>,
) -> ApiResult<axum::Json<WebhookOut>> {
    let allow_private = state.config.webhook_allow_private;
    let out = queries::save(&state.db, allow_private, Some(id), body, true).await?;
    Ok(axum::Json(out))
}

/// Deletes a webhook and its deliveries (204); nothing more is sent to it.
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}/", tag = "webhooks",
    params(("id" = i64, Path)),
    responses((status = 204), (status = 401), (status = 403), (status = 404)))]
pub async fn destroy(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    match queries::delete(&state.db, id).await? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound),
    }
}

/// A webhook's deliveries, newest first; filter `status`.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries/", tag = "webhooks",
    params(("id" = i64, Path),
        ("status" = Option<String>, Query, description = "`waiting`, `pending`, `delivered` or `failed`"),
        ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Paginated<DeliveryOut>),
        (status = 400, description = "A bad filter value"), (status = 401), (status = 403),
        (status = 404, description = "No such webhook, or an invalid page")))]
pub async fn deliveries(
    State(state): State<AppState>,
    _: Superuser,
    IdPath(id): IdPath,
    Filter(filter): Filter<DeliveryFilter>,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<DeliveryOut>>> {
    let filter = DeliveryFilter {
        webhook_id: id,
        ..filter
    };
    let (count, rows) = outbox::page(&state.db, &filter, page.window()).await?;
    page.respond_rows(count, rows)
}

/// Sends a delivery's event again, as a new delivery with the same body and
/// `Kadro-Event-Id` (202).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver/",
    tag = "webhooks", params(("id" = i64, Path), ("delivery_id" = i64, Path)),
    responses((status = 202, body = DeliveryOut),
        (status = 400, description = "The webhook is not active"), (status = 401),
        (status = 403), (status = 404)))]
pub async fn redeliver(
    State(state): State<AppState>,
    _: Superuser,
    IdsPath(id, delivery): IdsPath,
) -> ApiResult<(StatusCode, axum::Json<DeliveryOut>)> {
    let row = outbox::redeliver(&state.db, id, delivery).await?;
    state.job_signal.notify_one();
    Ok((StatusCode::ACCEPTED, axum::Json(row.into())))
}
