//! The Instore route table. It is the one list of protected Instore endpoints: the router is
//! built from it, every entry is guarded by its own permission, and the `permissions` table
//! is generated from it at start, so routes and permissions cannot drift apart.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on, post};

use super::geography::{cities, countries, townships};
use super::{permissions, staffs, stores};
use crate::auth::Caller;
use crate::state::AppState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Patch => "PATCH",
            Verb::Delete => "DELETE",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Put => MethodFilter::PUT,
            Verb::Patch => MethodFilter::PATCH,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// One protected route and method, and the permission that grants it.
pub struct Endpoint {
    /// The route's name; stored as the permission's `path`.
    pub route: &'static str,
    /// The URL path (without the optional trailing slash).
    pub path: &'static str,
    pub verb: Verb,
    /// The permission's `name`.
    pub name: &'static str,
    /// The permission's `label`: what the endpoint does.
    pub label: &'static str,
    /// The permission's `parent`: the menu the endpoint belongs to.
    pub parent: &'static str,
    /// The handler, routed for `verb` only.
    pub handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

macro_rules! endpoint {
    ($route:literal, $path:literal, $verb:ident, $handler:path, $name:literal, $label:literal, $parent:expr) => {
        Endpoint {
            route: $route,
            path: $path,
            verb: Verb::$verb,
            name: $name,
            label: $label,
            parent: $parent,
            handler: |filter| on(filter, $handler),
        }
    };
}

const GEOGRAPHY: &str = "Geography";
const STORES: &str = "Retail Stores";
const PERMISSIONS: &str = "Permissions";
const STAFFS: &str = "Staffs";

/// Every protected Instore endpoint. `POST /api/v1/staffs/login/` is the one public route.
#[rustfmt::skip]
pub static ENDPOINTS: &[Endpoint] = &[
    endpoint!("instore:country-list", "/api/v1/countries", Get, countries::list, "Country List", "List countries", GEOGRAPHY),
    endpoint!("instore:country-list", "/api/v1/countries", Post, countries::create, "Country Create", "Create a country", GEOGRAPHY),
    endpoint!("instore:country-detail", "/api/v1/countries/{id}", Get, countries::detail, "Country Detail", "Show a country", GEOGRAPHY),
    endpoint!("instore:country-detail", "/api/v1/countries/{id}", Put, countries::update, "Country Update", "Replace a country", GEOGRAPHY),
    endpoint!("instore:country-detail", "/api/v1/countries/{id}", Patch, countries::partial_update, "Country Partial Update", "Change a country", GEOGRAPHY),
    endpoint!("instore:country-detail", "/api/v1/countries/{id}", Delete, countries::destroy, "Country Delete", "Delete a country", GEOGRAPHY),
    endpoint!("instore:city-list", "/api/v1/cities", Get, cities::list, "City List", "List cities", GEOGRAPHY),
    endpoint!("instore:city-list", "/api/v1/cities", Post, cities::create, "City Create", "Create a city", GEOGRAPHY),
    endpoint!("instore:city-detail", "/api/v1/cities/{id}", Get, cities::detail, "City Detail", "Show a city", GEOGRAPHY),
    endpoint!("instore:city-detail", "/api/v1/cities/{id}", Put, cities::update, "City Update", "Replace a city", GEOGRAPHY),
    endpoint!("instore:city-detail", "/api/v1/cities/{id}", Patch, cities::partial_update, "City Partial Update", "Change a city", GEOGRAPHY),
    endpoint!("instore:city-detail", "/api/v1/cities/{id}", Delete, cities::destroy, "City Delete", "Delete a city", GEOGRAPHY),
    endpoint!("instore:township-list", "/api/v1/townships", Get, townships::list, "Township List", "List townships", GEOGRAPHY),
    endpoint!("instore:township-list", "/api/v1/townships", Post, townships::create, "Township Create", "Create a township", GEOGRAPHY),
    endpoint!("instore:township-detail", "/api/v1/townships/{id}", Get, townships::detail, "Township Detail", "Show a township", GEOGRAPHY),
    endpoint!("instore:township-detail", "/api/v1/townships/{id}", Put, townships::update, "Township Update", "Replace a township", GEOGRAPHY),
    endpoint!("instore:township-detail", "/api/v1/townships/{id}", Patch, townships::partial_update, "Township Partial Update", "Change a township", GEOGRAPHY),
    endpoint!("instore:township-detail", "/api/v1/townships/{id}", Delete, townships::destroy, "Township Delete", "Delete a township", GEOGRAPHY),
    endpoint!("instore:retail-store-list", "/api/v1/retail_stores", Get, stores::list, "Retail Store List", "List retail stores", STORES),
    endpoint!("instore:retail-store-list", "/api/v1/retail_stores", Post, stores::create, "Retail Store Create", "Create a retail store", STORES),
    endpoint!("instore:retail-store-detail", "/api/v1/retail_stores/{id}", Get, stores::detail, "Retail Store Detail", "Show a retail store", STORES),
    endpoint!("instore:retail-store-detail", "/api/v1/retail_stores/{id}", Put, stores::update, "Retail Store Update", "Replace a retail store", STORES),
    endpoint!("instore:retail-store-detail", "/api/v1/retail_stores/{id}", Patch, stores::partial_update, "Retail Store Partial Update", "Change a retail store", STORES),
    endpoint!("instore:retail-store-detail", "/api/v1/retail_stores/{id}", Delete, stores::destroy, "Retail Store Delete", "Delete a retail store", STORES),
    endpoint!("instore:permission-list", "/api/v1/permissions", Get, permissions::list, "Permission List", "List permissions", PERMISSIONS),
    endpoint!("instore:permission-detail", "/api/v1/permissions/{id}", Get, permissions::detail, "Permission Detail", "Show a permission", PERMISSIONS),
    endpoint!("instore:permission-group-list", "/api/v1/permission_groups", Get, permissions::groups::list, "Permission Group List", "List permission groups", PERMISSIONS),
    endpoint!("instore:permission-group-list", "/api/v1/permission_groups", Post, permissions::groups::create, "Permission Group Create", "Create a permission group", PERMISSIONS),
    endpoint!("instore:permission-group-detail", "/api/v1/permission_groups/{id}", Get, permissions::groups::detail, "Permission Group Detail", "Show a permission group", PERMISSIONS),
    endpoint!("instore:permission-group-detail", "/api/v1/permission_groups/{id}", Put, permissions::groups::update, "Permission Group Update", "Replace a permission group", PERMISSIONS),
    endpoint!("instore:permission-group-detail", "/api/v1/permission_groups/{id}", Patch, permissions::groups::partial_update, "Permission Group Partial Update", "Change a permission group", PERMISSIONS),
    endpoint!("instore:permission-group-detail", "/api/v1/permission_groups/{id}", Delete, permissions::groups::destroy, "Permission Group Delete", "Delete a permission group", PERMISSIONS),
    endpoint!("instore:staff-list", "/api/v1/staffs", Get, staffs::list, "Staff List", "List staffs", STAFFS),
    endpoint!("instore:staff-list", "/api/v1/staffs", Post, staffs::create, "Staff Create", "Create a staff", STAFFS),
    endpoint!("instore:staff-detail", "/api/v1/staffs/{id}", Get, staffs::detail, "Staff Detail", "Show a staff", STAFFS),
    endpoint!("instore:staff-detail", "/api/v1/staffs/{id}", Put, staffs::update, "Staff Update", "Replace a staff", STAFFS),
    endpoint!("instore:staff-detail", "/api/v1/staffs/{id}", Patch, staffs::partial_update, "Staff Partial Update", "Change a staff", STAFFS),
    endpoint!("instore:staff-detail", "/api/v1/staffs/{id}", Delete, staffs::destroy, "Staff Deactivate", "Deactivate a staff", STAFFS),
    endpoint!("instore:staff-list-staff-permission-info", "/api/v1/staffs/{id}/list_staff_permission_info", Get, staffs::permission_info, "Staff Permission Info", "List the permissions of a staff", STAFFS),
    endpoint!("instore:staff-change-password", "/api/v1/staffs/change_password", Post, staffs::change_password, "Staff Change Password", "Change the password of a staff", STAFFS),
    endpoint!("instore:staff-duplicate-email-staffs", "/api/v1/staffs/duplicate_email_staffs", Get, staffs::duplicate_emails, "Staff Duplicate Emails", "List staffs that share an email address", STAFFS),
    endpoint!("instore:staff-unlock", "/api/v1/staffs/{id}/unlock", Post, staffs::access::unlock, "Staff Unlock", "Lift the login lock of a staff", STAFFS),
    endpoint!("instore:staff-tokens", "/api/v1/staffs/{id}/tokens", Get, staffs::access::tokens, "Staff Token List", "List the tokens of a staff", STAFFS),
    endpoint!("instore:staff-tokens", "/api/v1/staffs/{id}/tokens", Delete, staffs::access::revoke_all, "Staff Token Revoke All", "Revoke every token of a staff", STAFFS),
    endpoint!("instore:staff-token-detail", "/api/v1/staffs/{id}/tokens/{token_id}", Delete, staffs::access::revoke, "Staff Token Revoke", "Revoke one token of a staff", STAFFS),
];

/// The Instore API: the public staff login plus every entry of [`ENDPOINTS`], each behind the
/// guard of its own permission.
pub fn router(state: &AppState) -> Router<AppState> {
    let mut paths: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for endpoint in ENDPOINTS {
        let guard = Guard {
            state: state.clone(),
            endpoint,
        };
        let method = (endpoint.handler)(endpoint.verb.filter())
            .route_layer(middleware::from_fn_with_state(guard, require_permission));
        let merged = match paths.remove(endpoint.path) {
            Some(existing) => existing.merge(method),
            None => method,
        };
        paths.insert(endpoint.path, merged);
    }
    let mut router = Router::new().route("/api/v1/staffs/login", post(staffs::login::login));
    for (path, methods) in paths {
        router = router.route(path, methods);
    }
    router
}

#[derive(Clone)]
struct Guard {
    state: AppState,
    endpoint: &'static Endpoint,
}

/// Authenticates the caller (401) and checks that it may call this endpoint (403) before the
/// handler runs; the handler's own `Caller` extractor reuses the result.
async fn require_permission(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &guard.state).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    if let Err(e) = permissions::authorize(&guard.state.db, &caller, guard.endpoint).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}
