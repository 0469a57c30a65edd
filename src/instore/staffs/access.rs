//! A staff's logins: `POST /api/v1/staffs/{id}/unlock/` lifts a login lock and
//! `/api/v1/staffs/{id}/tokens/` lists and revokes the staff's tokens. These are Instore
//! endpoints like any other: superusers (B2B and Instore) and service tokens may call them,
//! other staffs when one of their permission groups grants the route.

use axum::extract::State;
use axum::http::StatusCode;

use crate::auth::AccountKind;
use crate::auth::account_admin::{self, TokenOut};
use crate::http::error::ApiResult;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, IdsPath};
use crate::state::AppState;

/// Lifts the staff's login lock and forgets its failed attempts.
#[utoipa::path(post, path = "/api/v1/staffs/{id}/unlock/", tag = "instore staffs", params(("id" = i64, Path)),
    responses((status = 204, description = "Unlocked (also when it was not locked)"), (status = 401),
        (status = 403), (status = 404)))]
pub async fn unlock(State(state): State<AppState>, IdPath(id): IdPath) -> ApiResult<StatusCode> {
    account_admin::unlock(&state.db, AccountKind::Staff, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The staff's tokens, oldest first; never their keys.
#[utoipa::path(get, path = "/api/v1/staffs/{id}/tokens/", tag = "instore staffs",
    params(("id" = i64, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Paginated<TokenOut>), (status = 401), (status = 403), (status = 404)))]
pub async fn tokens(
    State(state): State<AppState>,
    IdPath(id): IdPath,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<TokenOut>>> {
    let (count, rows) =
        account_admin::tokens(&state.db, AccountKind::Staff, id, page.window()).await?;
    page.respond_rows(count, rows)
}

/// Revokes every token of the staff.
#[utoipa::path(delete, path = "/api/v1/staffs/{id}/tokens/", tag = "instore staffs", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    account_admin::revoke_all(&state, AccountKind::Staff, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes one token of the staff.
#[utoipa::path(delete, path = "/api/v1/staffs/{id}/tokens/{token_id}/", tag = "instore staffs",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 401), (status = 403),
        (status = 404, description = "No such token of this staff")))]
pub async fn revoke(
    State(state): State<AppState>,
    IdsPath(id, token_id): IdsPath,
) -> ApiResult<StatusCode> {
    account_admin::revoke(&state, AccountKind::Staff, id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
