//! Authentication of Instore staff tokens.

use crate::app::AppState;
use crate::auth::routes::MeOut;
use crate::auth::{Caller, StaffCaller};
use crate::db::Query;
use crate::http::error::ApiError;

#[derive(sqlx::FromRow)]
struct TokenOwner {
    id: i64,
    is_active: bool,
    is_superuser: bool,
}

/// Resolves a staff token's digest to its caller; a deactivated staff is refused (401) even
/// if one of its tokens survived.
pub async fn staff_caller(state: &AppState, digest: &str) -> Result<Caller, ApiError> {
    let owner: Option<TokenOwner> = Query::new(
        "SELECT s.id, s.is_active, s.is_superuser FROM api_tokens t \
         JOIN staffs s ON s.id = t.account_id \
         WHERE t.key_hash = $1 AND t.account_kind = 'staff'",
    )
    .bind(digest)
    .fetch_optional(&state.db)
    .await?;
    let owner = owner.ok_or(ApiError::Unauthenticated("Invalid token."))?;
    if !owner.is_active {
        return Err(ApiError::Unauthenticated("User inactive or deleted."));
    }
    Ok(Caller::Staff(StaffCaller {
        id: owner.id,
        is_superuser: owner.is_superuser,
    }))
}

/// `GET /api/v1/auth/me/` for an Instore staff: the staff as the staff API shows it.
pub async fn me(state: &AppState, staff: StaffCaller) -> Result<MeOut, ApiError> {
    let out = crate::instore::staffs::queries::by_id(&state.db, staff.id)
        .await?
        .ok_or(ApiError::Unauthenticated("User inactive or deleted."))?;
    Ok(MeOut::Staff(Box::new(out)))
}
