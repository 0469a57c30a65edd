//! Authentication of Instore staff tokens.

use crate::app::AppState;
use crate::auth::Caller;
use crate::http::error::ApiError;

/// Resolves a staff token's digest to its caller.
pub async fn staff_caller(_state: &AppState, _digest: &str) -> Result<Caller, ApiError> {
    Err(ApiError::Unauthenticated("Invalid token."))
}

/// `GET /api/v1/auth/me/` for an Instore staff.
pub async fn me(
    _state: &AppState,
    staff: crate::auth::StaffCaller,
) -> Result<crate::auth::routes::MeOut, ApiError> {
    Ok(crate::auth::routes::MeOut::Staff {
        id: staff.id,
        is_superuser: staff.is_superuser,
    })
}
