//! What authentication asks of the Instore context: how a staff describes itself.

use crate::auth::StaffCaller;
use crate::auth::routes::{BoxFuture, MeOut};
use crate::http::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/auth/me/` for an Instore staff: the staff as the staff API shows it.
/// Registered as [`AppState::describe_staff`] when the application is built.
pub fn describe_me(state: &AppState, staff: StaffCaller) -> BoxFuture<'_, Result<MeOut, ApiError>> {
    Box::pin(async move {
        let out = crate::instore::staffs::queries::by_id(&state.db, staff.id)
            .await?
            .ok_or(ApiError::Unauthenticated("User inactive or deleted."))?;
        Ok(MeOut::Staff(Box::new(out)))
    })
}
