//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "kadro", description = "Staff and user directory: B2B users, B2B staff users and Instore staffs."),
    paths(
        crate::auth::routes::login,
        crate::auth::routes::logout,
        crate::auth::routes::me,
        crate::b2b::staff_users::list,
        crate::b2b::staff_users::detail,
        crate::b2b::staff_users::update,
        crate::exports::link::download,
    ),
    components(schemas(
        crate::exports::ExportStarted,
        crate::exports::ExportStatus,
        crate::exports::ExportProgress,
        crate::exports::format::Format,
    )),
    modifiers(&Security),
    security(("token" = []), ("bearer" = [])),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`Token <key>`",
            ))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole document; each API area merges its own paths in.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
