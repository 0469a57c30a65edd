//! Request bodies as the server reads them. One `…In` type serves a resource's create, PUT and
//! PATCH; its annotations say what a create or a PUT requires. A PATCH requires nothing (any
//! subset is a change), a create may require more than a PUT ([`CREATE_ALSO_REQUIRES`]), and a
//! SCIM resource is a free object that must name itself ([`SCIM_NAMES`]). Every body refuses a
//! NUL character in any text ([`no_null_characters`]); the choices that live in code (country
//! codes, webhook events) are listed from it ([`choices_from_code`]).

use std::collections::BTreeMap;

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr};

/// Fields a create requires beyond those of a PUT (`password` is read on create only).
const CREATE_ALSO_REQUIRES: &[(&str, &[&str])] = &[("StaffIn", &["password", "remote_id"])];

/// The attribute that names a SCIM resource, required on create and replace.
const SCIM_NAMES: &[(&str, &str)] = &[
    ("/scim/v2/Users", "userName"),
    ("/scim/v2/Groups", "displayName"),
];

pub(super) fn as_enforced(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let schemas = &mut components.schemas;
    for (name, schema) in schemas.iter_mut() {
        if name.ends_with("In")
            && let RefOr::T(Schema::Object(object)) = schema
        {
            no_null_characters(object);
        }
    }
    choices_from_code(schemas);
    for (path, item) in doc.paths.paths.iter_mut() {
        if let Some(name) = item.patch.as_ref().and_then(json_body) {
            let patch = optional_copy(schemas, &name);
            set_json_body(item.patch.as_mut(), &patch);
        }
        if let Some(name) = item.post.as_ref().and_then(json_body)
            && let Some((_, extra)) = CREATE_ALSO_REQUIRES.iter().find(|(n, _)| *n == name)
        {
            let create = format!("{}CreateIn", name.trim_end_matches("In"));
            if let Some(RefOr::T(Schema::Object(mut object))) = schemas.get(&name).cloned() {
                object
                    .required
                    .extend(extra.iter().map(|f| (*f).to_owned()));
                if let Some(RefOr::T(Schema::Object(password))) =
                    object.properties.get_mut("password")
                {
                    // The password policy: at least 8 characters, not all digits.
                    password.min_length = Some(8);
                    password.pattern = Some(r"^[^\x00]*[^0-9\x00][^\x00]*$".to_owned());
                }
                schemas.insert(create.clone(), RefOr::T(Schema::Object(object)));
                set_json_body(item.post.as_mut(), &create);
            }
        }
        if let Some((_, attribute)) = SCIM_NAMES
            .iter()
            .find(|(base, _)| path.as_str() == *base || path.strip_prefix(base) == Some("/{id}"))
        {
            let named = ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    *attribute,
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(r"^[^\x00]*\S[^\x00]*$")),
                )
                .required(*attribute)
                .build();
            for operation in [item.post.as_mut(), item.put.as_mut()]
                .into_iter()
                .flatten()
            {
                for content in operation
                    .request_body
                    .iter_mut()
                    .flat_map(|b| b.content.values_mut())
                {
                    content.schema = Some(RefOr::T(Schema::Object(named.clone())));
                }
            }
        }
    }
    main_or_sub(&mut components.schemas);
}

/// The component an operation's JSON body refers to, if it is one.
fn json_body(operation: &utoipa::openapi::path::Operation) -> Option<String> {
    let content = operation
        .request_body
        .as_ref()?
        .content
        .get("application/json")?;
    match content.schema.as_ref()? {
        RefOr::Ref(r) => r
            .ref_location
            .strip_prefix("#/components/schemas/")
            .map(str::to_owned),
        RefOr::T(_) => None,
    }
}

fn set_json_body(operation: Option<&mut utoipa::openapi::path::Operation>, name: &str) {
    if let Some(content) = operation
        .and_then(|op| op.request_body.as_mut())
        .and_then(|body| body.content.get_mut("application/json"))
    {
        content.schema = Some(RefOr::Ref(Ref::from_schema_name(name)));
    }
}

/// `XPatch`: `X` with nothing required, its nested bodies too (a store's `address`); its name.
fn optional_copy(schemas: &mut BTreeMap<String, RefOr<Schema>>, name: &str) -> String {
    let patch = format!("{name}Patch");
    if schemas.contains_key(&patch) || name.ends_with("Patch") {
        return if name.ends_with("Patch") {
            name.to_owned()
        } else {
            patch
        };
    }
    let Some(RefOr::T(Schema::Object(mut object))) = schemas.get(name).cloned() else {
        return name.to_owned();
    };
    if object.required.is_empty() && !has_nested_body(&object) {
        return name.to_owned();
    }
    object.required.clear();
    for property in object.properties.values_mut() {
        match property {
            RefOr::Ref(r) => retarget(schemas, r),
            RefOr::T(Schema::OneOf(one_of)) => {
                for item in one_of.items.iter_mut() {
                    if let RefOr::Ref(r) = item {
                        retarget(schemas, r);
                    }
                }
            }
            RefOr::T(_) => {}
        }
    }
    schemas.insert(patch.clone(), RefOr::T(Schema::Object(object)));
    patch
}

fn has_nested_body(object: &utoipa::openapi::schema::Object) -> bool {
    object.properties.values().any(|p| match p {
        RefOr::Ref(_) => true,
        RefOr::T(Schema::OneOf(one_of)) => one_of.items.iter().any(|i| matches!(i, RefOr::Ref(_))),
        RefOr::T(_) => false,
    })
}

fn retarget(schemas: &mut BTreeMap<String, RefOr<Schema>>, reference: &mut Ref) {
    if let Some(inner) = reference.ref_location.strip_prefix("#/components/schemas/") {
        let inner = inner.to_owned();
        let copy = optional_copy(schemas, &inner);
        *reference = Ref::from_schema_name(copy);
    }
}

/// None of a body's texts may hold a NUL character ([`crate::http::json`] refuses one anywhere
/// in a field it reads).
fn no_null_characters(object: &mut utoipa::openapi::schema::Object) {
    use utoipa::openapi::schema::SchemaType;
    for property in object.properties.values_mut() {
        if let RefOr::T(Schema::Object(text)) = property
            && matches!(&text.schema_type, SchemaType::Type(Type::String))
            && text.pattern.is_none()
            && text.enum_values.is_none()
        {
            text.pattern = Some(r"^[^\x00]*$".to_owned());
        }
    }
}

/// The choices kept in code: a country's ISO 3166-1 code (trimmed and upper-cased before it
/// is checked), a webhook's events (an action, `<prefix>.*`, or `*`); and a staff login names
/// its staff by `username` or `email`. Said before the PATCH copies are made, so they say it
/// too.
fn choices_from_code(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    use crate::audit::actions::{ACTIONS, prefix};
    if let Some(RefOr::T(Schema::Object(country))) = schemas.get_mut("CountryIn")
        && let Some(RefOr::T(Schema::Object(code))) = country.properties.get_mut("code")
    {
        let either_case: Vec<String> = crate::instore::geography::countries::ISO_3166_ALPHA2
            .split(' ')
            .map(|c| {
                c.chars()
                    .map(|l| format!("[{l}{}]", l.to_ascii_lowercase()))
                    .collect()
            })
            .collect();
        code.pattern = Some(format!(r"^\s*({})\s*$", either_case.join("|")));
    }
    if let Some(RefOr::T(Schema::Object(webhook))) = schemas.get_mut("WebhookIn")
        && let Some(RefOr::T(Schema::Array(events))) = webhook.properties.get_mut("events")
    {
        let mut choices: Vec<String> = ACTIONS.iter().map(|a| (*a).to_owned()).collect();
        choices.extend(ACTIONS.iter().map(|a| format!("{}.*", prefix(a))));
        choices.push("*".to_owned());
        choices.sort();
        choices.dedup();
        events.items = utoipa::openapi::schema::ArrayItems::RefOrSchema(Box::new(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(choices))
                .into(),
        ));
    }
    if let Some(RefOr::T(login)) = schemas.remove("StaffLoginIn") {
        use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder};
        let who = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("username"))
            .item(ObjectBuilder::new().required("email"));
        let all = AllOfBuilder::new().item(login).item(who);
        schemas.insert("StaffLoginIn".to_owned(), RefOr::T(all.into()));
    }
}

/// A main division has no parent; a sub-division names its main division. (A PATCH depends on
/// the division as it is, so this is said once `DivisionInPatch` is made.)
fn main_or_sub(schemas: &mut BTreeMap<String, RefOr<Schema>>) {
    if let Some(RefOr::T(division)) = schemas.get("DivisionIn").cloned() {
        use utoipa::openapi::schema::{AllOfBuilder, OneOfBuilder};
        let kind = |kind: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([kind.to_owned()]))
        };
        let main = ObjectBuilder::new()
            .property("division_type", kind("main"))
            .property("parent", ObjectBuilder::new().schema_type(Type::Null));
        let sub = ObjectBuilder::new()
            .property("division_type", kind("sub"))
            .property("parent", ObjectBuilder::new().schema_type(Type::Integer))
            .required("parent");
        let either = OneOfBuilder::new().item(main).item(sub);
        let all = AllOfBuilder::new().item(division).item(either);
        schemas.insert("DivisionIn".to_owned(), RefOr::T(all.into()));
    }
}
