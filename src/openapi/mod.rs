//! The OpenAPI 3 document of kadro's HTTP API, served as JSON at `/api/schema/` and
//! `/api/docs/openapi.json` and rendered by the Swagger UI at `/api/docs/` (see [`crate::ops`]).
//!
//! utoipa builds it from the `#[utoipa::path]` annotations of the handlers listed in `paths(...)`
//! below and the schemas in `components(...)`: an endpoint is documented only once its handler
//! is listed here. The document also declares the two ways to send a token
//! (`Authorization: Token <key>` and `Bearer <key>`) and gets one unique operation id per
//! method and path.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

mod bodies;
mod enforced;

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
        crate::b2b::divisions::list,
        crate::b2b::divisions::create,
        crate::b2b::divisions::detail,
        crate::b2b::divisions::replace,
        crate::b2b::divisions::modify,
        crate::b2b::divisions::remove,
        crate::b2b::divisions::activate,
        crate::b2b::divisions::deactivate,
        crate::b2b::divisions::my_divisions,
        crate::b2b::users::list,
        crate::b2b::users::create,
        crate::b2b::users::detail,
        crate::b2b::users::update,
        crate::b2b::users::partial_update,
        crate::b2b::users::activate,
        crate::b2b::users::deactivate,
        crate::b2b::users::update_remote_id,
        crate::b2b::users::access::unlock,
        crate::b2b::users::access::tokens,
        crate::b2b::users::access::revoke_all,
        crate::b2b::users::access::revoke,
        crate::instore::geography::countries::list,
        crate::instore::geography::countries::create,
        crate::instore::geography::countries::detail,
        crate::instore::geography::countries::update,
        crate::instore::geography::countries::partial_update,
        crate::instore::geography::countries::destroy,
        crate::instore::geography::cities::list,
        crate::instore::geography::cities::create,
        crate::instore::geography::cities::detail,
        crate::instore::geography::cities::update,
        crate::instore::geography::cities::partial_update,
        crate::instore::geography::cities::destroy,
        crate::instore::geography::townships::list,
        crate::instore::geography::townships::create,
        crate::instore::geography::townships::detail,
        crate::instore::geography::townships::update,
        crate::instore::geography::townships::partial_update,
        crate::instore::geography::townships::destroy,
        crate::instore::stores::list,
        crate::instore::stores::create,
        crate::instore::stores::detail,
        crate::instore::stores::update,
        crate::instore::stores::partial_update,
        crate::instore::stores::destroy,
        crate::instore::permissions::list,
        crate::instore::permissions::detail,
        crate::instore::permissions::groups::list,
        crate::instore::permissions::groups::create,
        crate::instore::permissions::groups::detail,
        crate::instore::permissions::groups::update,
        crate::instore::permissions::groups::partial_update,
        crate::instore::permissions::groups::destroy,
        crate::scim::discovery::service_provider_config,
        crate::scim::discovery::resource_types,
        crate::scim::discovery::schemas,
        crate::scim::discovery::resource_type,
        crate::scim::discovery::schema,
        crate::scim::users::list,
        crate::scim::users::create,
        crate::scim::users::get,
        crate::scim::users::replace,
        crate::scim::users::patch,
        crate::scim::users::delete,
        crate::scim::groups::list,
        crate::scim::groups::create,
        crate::scim::groups::get,
        crate::scim::groups::replace,
        crate::scim::groups::patch,
        crate::scim::groups::delete,
        crate::instore::staffs::list,
        crate::instore::staffs::create,
        crate::instore::staffs::detail,
        crate::instore::staffs::update,
        crate::instore::staffs::partial_update,
        crate::instore::staffs::destroy,
        crate::instore::staffs::permission_info,
        crate::instore::staffs::change_password,
        crate::instore::staffs::duplicate_emails,
        crate::instore::staffs::login::login,
        crate::instore::staffs::access::unlock,
        crate::instore::staffs::access::tokens,
        crate::instore::staffs::access::revoke_all,
        crate::instore::staffs::access::revoke,
        crate::exports::link::download,
        crate::imports::users_import,
        crate::imports::users_import_status,
        crate::imports::staffs_import,
        crate::imports::staffs_import_status,
        crate::imports::http::download_errors,
        crate::audit::routes::list,
        crate::audit::routes::detail,
        crate::webhooks::routes::list,
        crate::webhooks::routes::create,
        crate::webhooks::routes::detail,
        crate::webhooks::routes::update,
        crate::webhooks::routes::partial_update,
        crate::webhooks::routes::destroy,
        crate::webhooks::routes::deliveries,
        crate::webhooks::routes::redeliver,
    ),
    components(schemas(
        crate::exports::ExportStarted,
        crate::exports::ExportStatus,
        crate::exports::ExportProgress,
        crate::exports::format::Format,
        crate::imports::ImportStarted,
        crate::imports::ImportForm,
        crate::imports::ImportStatus,
        crate::imports::ImportProgress,
    )),
    modifiers(&Security),
    security(("token" = []), ("bearer" = [])),
)]
struct ApiDoc;

/// Declares the `token` and `bearer` security schemes that every operation accepts.
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

/// The whole document, with unique operation ids.
pub fn spec() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    unique_operation_ids(&mut doc);
    enforced::as_enforced(&mut doc);
    bodies::as_enforced(&mut doc);
    words_everywhere(&mut doc);
    doc
}

/// Every operation gets a summary and every response a description: a handler's doc comment
/// and its annotation's words when it has them, otherwise what its method and status mean in
/// this API (DRF's shapes, CONTRACT §2).
fn words_everywhere(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for (path, item) in doc.paths.paths.iter_mut() {
        for (verb, operation) in [
            ("Read", &mut item.get),
            ("Post to", &mut item.post),
            ("Replace", &mut item.put),
            ("Change", &mut item.patch),
            ("Delete", &mut item.delete),
        ] {
            let Some(operation) = operation else { continue };
            if operation.summary.as_deref().is_none_or(str::is_empty) {
                operation.summary = Some(format!("{verb} {path}"));
            }
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = status_words(status).to_owned();
                }
            }
        }
    }
}

/// What a status means in this API, for responses whose annotation says nothing more.
fn status_words(status: &str) -> &'static str {
    match status {
        "200" => "Success.",
        "201" => "Created; the body is the new object.",
        "204" => "Done; no body.",
        "302" | "307" => "Redirect.",
        "400" => {
            "Invalid input: `{\"field\": [\"message\", …]}` naming every bad field, or `{\"detail\": …}`."
        }
        "401" => "No token, or a token that does not authenticate: `{\"detail\": …}`.",
        "403" => {
            "The caller may not do this: `{\"detail\": \"You do not have permission to perform this action.\"}`."
        }
        "404" => "No such object (or one the caller may not see): `{\"detail\": \"Not found.\"}`.",
        "405" => "Method not allowed.",
        "409" => "Conflict with the current state.",
        "413" => "Request body too large (limit 1 MiB).",
        "415" => "Unsupported media type: send JSON.",
        "429" => "Too many requests; retry later.",
        "502" => {
            "The Commerce platform could not be reached or refused: `{\"detail\": …, \"code\": \"api_connection_error\"}`; nothing changed."
        }
        "503" => "Service unavailable (shutting down, or the database is unreachable).",
        _ => "See the operation's description.",
    }
}

/// Handlers of different areas share names (`list`, `detail`, …), which utoipa uses as
/// operation ids; OpenAPI wants them unique, so each is named after its method and path
/// (`get_api_v1_users_id`).
fn unique_operation_ids(doc: &mut utoipa::openapi::OpenApi) {
    for (path, item) in doc.paths.paths.iter_mut() {
        let slug: String = path
            .trim_matches('/')
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>()
            .split('_')
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join("_");
        for (method, operation) in [
            ("get", &mut item.get),
            ("post", &mut item.post),
            ("put", &mut item.put),
            ("patch", &mut item.patch),
            ("delete", &mut item.delete),
        ] {
            if let Some(operation) = operation {
                operation.operation_id = Some(format!("{method}_{slug}"));
            }
        }
    }
}
