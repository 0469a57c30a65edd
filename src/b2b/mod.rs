//! B2B: divisions, users, staff users and the Commerce platform sync.

pub mod accounts;
pub mod divisions;
pub mod export;
pub mod staff_users;
pub mod user_filter;
pub mod users;

use axum::Router;

use crate::state::AppState;
pub use export::export_sources;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(staff_users::router())
        .merge(divisions::router())
        .merge(users::router())
}
