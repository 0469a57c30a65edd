//! The query parameters as the server reads them, said once for every operation.

/// What the server enforces, said once for every operation rather than in each annotation:
/// `limit` is any text (an unusable one falls back to the default page size, a large one is
/// capped), a PATCH without a body is an empty change (an empty body reads as `{}`), a paged
/// list can answer 400 (a NUL character in its query), and a list filter of the API is read as
/// django-filter reads it ([`blank_is_no_filter`]), a choice filter names its choices
/// ([`CHOICES`]), `fields` names the list's export fields ([`export_fields`]), and `limit`
/// may not hold a NUL character ([`no_null_character`]; nor may any query parameter).
pub(super) fn as_enforced(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ObjectBuilder, RefOr, Required, Type, path::ParameterIn};
    let sources = crate::audit::export_sources(crate::instore::export_sources(
        crate::b2b::export_sources(crate::exports::ExportSources::default()),
    ));
    for (path, item) in doc.paths.paths.iter_mut() {
        if path.starts_with("/api/v1/")
            && let Some(list) = item.get.as_mut()
        {
            if list.parameters.iter().flatten().any(|p| p.name == "fields") {
                or_export_answers(list);
            }
            for parameter in list.parameters.iter_mut().flatten() {
                if parameter.parameter_in != ParameterIn::Query {
                    continue;
                }
                if let Some((_, _, choices)) = CHOICES
                    .iter()
                    .find(|(at, name, _)| path.ends_with(at) && parameter.name == *name)
                {
                    one_of_or_blank(parameter, choices);
                } else if parameter.name == "fields" {
                    export_fields(parameter, path, &sources);
                } else if parameter.name.ends_with("__gte") || parameter.name.ends_with("__lte") {
                    date_or_blank(parameter);
                } else if parameter.parameter_in == ParameterIn::Query
                    && !matches!(parameter.name.as_str(), "page" | "limit")
                {
                    blank_is_no_filter(parameter);
                }
                if parameter.name == "format"
                    && let Some(RefOr::Ref(file_format)) = &parameter.schema
                {
                    // `format=json` (the API's one renderer) and a blank format are accepted
                    // beside the export file formats.
                    let json = ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["json", ""]));
                    let either = utoipa::openapi::schema::AnyOfBuilder::new()
                        .item(RefOr::Ref(file_format.clone()))
                        .item(json);
                    parameter.schema = Some(RefOr::T(either.into()));
                }
            }
        }
        if let Some(body) = item.patch.as_mut().and_then(|op| op.request_body.as_mut()) {
            body.required = Some(Required::False);
        }
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            let paged = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.name == "page" && p.parameter_in == ParameterIn::Query);
            if paged && !operation.responses.responses.contains_key("400") {
                // A paged list reads its query string, which refuses a NUL character.
                let refused =
                    utoipa::openapi::Response::new("A NUL character in a query parameter.");
                operation
                    .responses
                    .responses
                    .insert("400".to_owned(), RefOr::T(refused));
            }
            for parameter in operation.parameters.iter_mut().flatten() {
                if parameter.parameter_in != ParameterIn::Query {
                    continue;
                }
                if parameter.name == "mode" && path.ends_with("/import/") {
                    // An import's mode is read as sent (no trimming); blank is the default.
                    parameter.schema = Some(RefOr::T(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["create", "upsert", ""]))
                            .into(),
                    ));
                }
                if parameter.name == "limit" {
                    parameter.schema = Some(RefOr::T(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .description(Some(format!(
                                "Page size: a positive whole number, capped at {}; anything else means {}.",
                                crate::http::pagination::MAX_LIMIT,
                                crate::http::pagination::DEFAULT_LIMIT
                            )))
                            .into(),
                    ));
                    no_null_character(parameter);
                }
                if parameter.name == "sortOrder" && path.starts_with("/scim/") {
                    parameter.schema = Some(RefOr::T(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["ascending", "descending"]))
                            .into(),
                    ));
                }
            }
        }
    }
}

/// The choice filters: the path they belong to, the parameter, and its choices
/// ([`crate::http::filters::FilterParser::choice`]).
const CHOICES: &[(&str, &str, &[&str])] = &[
    (
        "/divisions/",
        "division_type",
        crate::b2b::user_filter::DIVISION_TYPES,
    ),
    (
        "/users/",
        "division_type",
        crate::b2b::user_filter::DIVISION_TYPES,
    ),
    ("/deliveries/", "status", crate::webhooks::types::STATUSES),
];

/// A choice filter: one of `choices`, spaces around it allowed, or blank (no filter).
fn one_of_or_blank(parameter: &mut utoipa::openapi::path::Parameter, choices: &[&str]) {
    use utoipa::openapi::{ObjectBuilder, RefOr, Type};
    let pattern = format!(r"^\s*({})?\s*$", choices.join("|"));
    parameter.schema = Some(RefOr::T(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .description(Some(format!(
                "One of {}; an empty value means no filter.",
                choices.join(", ")
            )))
            .into(),
    ));
}

/// `fields` starts an export of the list: at least one of the fields its export source
/// registers (the list `/api/v1/staff-users/` is the source `staff_users`), at most
/// [`crate::exports::MAX_FIELDS`] of them.
fn export_fields(
    parameter: &mut utoipa::openapi::path::Parameter,
    path: &str,
    sources: &crate::exports::ExportSources,
) {
    use utoipa::openapi::{ArrayBuilder, ObjectBuilder, RefOr, Type};
    let list = path
        .trim_start_matches("/api/v1/")
        .trim_end_matches('/')
        .replace('-', "_");
    let Some(source) = sources.get(&list) else {
        return;
    };
    let fields = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(source.fields().iter().copied()));
    parameter.schema = Some(RefOr::T(
        ArrayBuilder::new()
            .items(fields)
            .min_items(Some(1))
            .max_items(Some(crate::exports::MAX_FIELDS))
            .into(),
    ));
}

/// A text parameter without its own pattern: any text but a NUL character, which the query
/// string refuses ([`crate::http::request::RequestUrl`]).
fn no_null_character(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    if let Some(RefOr::T(Schema::Object(text))) = parameter.schema.as_mut()
        && text.schema_type == SchemaType::Type(Type::String)
        && text.pattern.is_none()
        && text.enum_values.is_none()
    {
        text.pattern = Some(r"^[^\x00]*$".to_owned());
    }
}

/// A typed filter of a list ([`crate::http::filters::FilterParser`]) trims its value and
/// ignores a blank one; an integer may carry a sign, a boolean has Django's spellings. The
/// parameter's schema says so: the typed value, or text of that form.
fn blank_is_no_filter(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::schema::{AnyOfBuilder, Schema, SchemaType};
    use utoipa::openapi::{ObjectBuilder, RefOr, Type};
    let Some(RefOr::T(Schema::Object(typed))) = &parameter.schema else {
        return;
    };
    let pattern = match typed.schema_type {
        SchemaType::Type(Type::Integer) => r"^\s*([+-]?[0-9]+)?\s*$",
        SchemaType::Type(Type::Boolean) => r"^\s*(true|True|1|false|False|0)?\s*$",
        _ => return,
    };
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern));
    let either = AnyOfBuilder::new()
        .item(Schema::Object(typed.clone()))
        .item(text)
        .description(Some("An empty value means no filter."));
    parameter.schema = Some(RefOr::T(either.into()));
}

/// A list that exports answers `{"cache_key"}` to `fields=` and the export's status to
/// `status_cache_key=`, beside its page.
fn or_export_answers(list: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::schema::OneOfBuilder;
    use utoipa::openapi::{Ref, RefOr};
    let Some(RefOr::T(ok)) = list.responses.responses.get_mut("200") else {
        return;
    };
    for content in ok.content.values_mut() {
        if let Some(page) = content.schema.take() {
            let either = OneOfBuilder::new()
                .item(page)
                .item(Ref::from_schema_name("ExportStarted"))
                .item(Ref::from_schema_name("ExportStatus"));
            content.schema = Some(RefOr::T(either.into()));
        }
    }
}

/// A date filter ([`crate::http::filters::FilterParser::datetime`]): an RFC 3339 date and
/// time, a date (its midnight UTC), or blank (no filter).
fn date_or_blank(parameter: &mut utoipa::openapi::path::Parameter) {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, SchemaFormat};
    use utoipa::openapi::{ObjectBuilder, RefOr, Type};
    let text = |format: KnownFormat| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(format)))
    };
    let either = AnyOfBuilder::new()
        .item(text(KnownFormat::DateTime))
        .item(text(KnownFormat::Date))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(r"^\s*$")),
        );
    parameter.schema = Some(RefOr::T(either.into()));
}
