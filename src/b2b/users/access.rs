//! A B2B account's logins: `POST /api/v1/users/{id}/unlock/` lifts a login lock (superusers);
//! `/api/v1/users/{id}/tokens/` lists and revokes its tokens (superusers, and the account
//! itself: any account may see where it is logged in and log out everywhere).

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use crate::auth::account_admin::{self, TokenOut};
use crate::auth::{AccountKind, Caller, Superuser};
use crate::http::error::ApiResult;
use crate::http::pagination::{PageRequest, Paginated};
use crate::http::request::{IdPath, IdsPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/users/{id}/unlock", post(unlock))
        .route("/api/v1/users/{id}/tokens", get(tokens).delete(revoke_all))
        .route("/api/v1/users/{id}/tokens/{token_id}", delete(revoke))
}

/// B2B superusers and service tokens manage every account's tokens; an account its own.
fn may_manage_tokens(caller: &Caller, id: i64) -> ApiResult<()> {
    match caller {
        Caller::User(user) if user.id == id => Ok(()),
        _ => caller.require_superuser(),
    }
}

/// Lifts the account's login lock and forgets its failed attempts.
#[utoipa::path(post, path = "/api/v1/users/{id}/unlock/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 204, description = "Unlocked (also when it was not locked)"), (status = 401),
        (status = 403, description = "Not a superuser"), (status = 404)))]
pub async fn unlock(
    State(state): State<AppState>,
    _superuser: Superuser,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    account_admin::unlock(&state.db, AccountKind::User, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The account's tokens, oldest first; never their keys.
#[utoipa::path(get, path = "/api/v1/users/{id}/tokens/", tag = "b2b users",
    params(("id" = i64, Path), ("page" = Option<u32>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = Paginated<TokenOut>), (status = 401),
        (status = 403, description = "Neither a superuser nor the account itself"), (status = 404)))]
pub async fn tokens(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
    page: PageRequest,
) -> ApiResult<axum::Json<Paginated<TokenOut>>> {
    may_manage_tokens(&caller, id)?;
    let (count, rows) =
        account_admin::tokens(&state.db, AccountKind::User, id, page.window()).await?;
    page.respond_rows(count, rows)
}

/// Revokes every token of the account (logs it out everywhere).
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/", tag = "b2b users", params(("id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 401), (status = 403), (status = 404)))]
pub async fn revoke_all(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    may_manage_tokens(&caller, id)?;
    account_admin::revoke_all(&state, AccountKind::User, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes one token of the account.
#[utoipa::path(delete, path = "/api/v1/users/{id}/tokens/{token_id}/", tag = "b2b users",
    params(("id" = i64, Path), ("token_id" = i64, Path)),
    responses((status = 204, description = "Revoked"), (status = 401), (status = 403),
        (status = 404, description = "No such token of this account")))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdsPath(id, token_id): IdsPath,
) -> ApiResult<StatusCode> {
    may_manage_tokens(&caller, id)?;
    account_admin::revoke(&state, AccountKind::User, id, token_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
