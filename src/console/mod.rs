//! The admin console at `/admin/`: server-rendered pages over the API.
//!
//! The console is an API client living in the same process. A session is an ordinary API
//! token (issued by the API's own login endpoints, so throttling and password checks are the
//! API's) kept in an `HttpOnly`, `SameSite=Strict` cookie; every page and action is an
//! in-process API request carrying that token ([`api`]). Authorisation, validation, filters
//! and pagination are therefore exactly the API's, and a token the API refuses (a deactivated
//! account, a sign-out) ends the console session too. The console hides what the caller may not
//! use ([`session::Access`]); the API refuses it anyway.
//!
//! Pages carry no script: a strict Content-Security-Policy allows only the console's own style
//! sheet, served from the binary. Every form carries a CSRF token derived from the session.

pub mod api;
mod assets;
mod audit;
mod divisions;
mod exports;
mod groups;
mod imports;
mod layout;
mod login;
mod overview;
pub mod session;
mod staff_users;
mod staffs;
mod stores;
mod users;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::state::AppState;

/// What console handlers read: the application state and the API they call in-process.
#[derive(Clone)]
pub struct Console {
    pub app: AppState,
    pub api: Router,
}

/// The console's routes under `/admin`, calling `api` (the application's API router).
pub fn router(state: AppState, api: Router) -> Router {
    Router::new()
        .route("/admin", get(overview::show))
        .route("/admin/login", get(login::form).post(login::submit))
        .route("/admin/logout", post(login::logout))
        .route("/admin/users", get(users::list))
        .route("/admin/users/{id}", get(users::detail).post(users::update))
        .route("/admin/users/{id}/{action}", post(users::action))
        .route("/admin/divisions", get(divisions::list))
        .route("/admin/divisions/{id}", get(divisions::detail))
        .route("/admin/divisions/{id}/{action}", post(divisions::action))
        .route("/admin/staff-users", get(staff_users::list))
        .route("/admin/staff-users/{id}", post(staff_users::update))
        .route("/admin/staffs", get(staffs::list))
        .route(
            "/admin/staffs/new",
            get(staffs::new_form).post(staffs::create),
        )
        .route(
            "/admin/staffs/{id}",
            get(staffs::detail).post(staffs::update),
        )
        .route("/admin/staffs/{id}/deactivate", post(staffs::deactivate))
        .route("/admin/staffs/{id}/password", post(staffs::change_password))
        .route("/admin/stores", get(stores::list))
        .route(
            "/admin/stores/new",
            get(stores::new_form).post(stores::create),
        )
        .route(
            "/admin/stores/{id}",
            get(stores::detail).post(stores::update),
        )
        .route("/admin/audit", get(audit::list))
        .route(
            "/admin/imports",
            get(imports::form)
                .post(imports::upload)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/imports/{list}/{key}", get(imports::progress))
        .route("/admin/groups", get(groups::list))
        .route(
            "/admin/groups/new",
            get(groups::new_form).post(groups::create),
        )
        .route(
            "/admin/groups/{id}",
            get(groups::detail).post(groups::update),
        )
        .route("/admin/exports", get(exports::form).post(exports::start))
        .route("/admin/exports/{list}/{key}", get(exports::progress))
        .route("/admin/static/console.css", get(assets::stylesheet))
        .layer(middleware::from_fn(security_headers))
        .with_state(Console {
            app: state,
            api: with_trimmed_slash(api),
        })
}

/// `api` as clients reach it: the optional trailing slash is trimmed before routing.
fn with_trimmed_slash(api: Router) -> Router {
    Router::new()
        .fallback_service(api)
        .layer(middleware::from_fn(crate::http::trim_trailing_slash))
}

/// No script, no framing, no foreign origin; forms post only to the console.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    response
}
