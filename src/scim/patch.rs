//! A User's PatchOp (RFC 7644 §3.5.2) applied to the User as kadro shows it: the result is
//! written as a PUT would write it, so a PATCH checks and does what a PUT does.

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use super::{PATCH_SCHEMA, STAFF_SCHEMA, ScimError, ScimResult};

/// Sets (or with `None` removes) the attribute at `path` of a User.
fn set_path(u: &mut Value, path: &str, value: Option<Value>) -> ScimResult<()> {
    let lower = path.to_ascii_lowercase();
    let lower = lower
        .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
        .unwrap_or(&lower);
    if value.is_none() && is_required(lower) {
        // RFC 7644 §3.5.2: an operation the attribute's schema does not allow is refused.
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("mutability"),
            format!("{path} is required: it cannot be removed"),
        ));
    }
    let target: (&str, Option<&str>) = match lower {
        "username" => ("userName", None),
        "externalid" => ("externalId", None),
        "active" => ("active", None),
        "name" => ("name", None),
        "name.givenname" => ("name", Some("givenName")),
        "name.familyname" => ("name", Some("familyName")),
        p if p.starts_with("emails") => {
            let emails = match value {
                Some(Value::String(s)) => json!([{"value": s, "primary": true}]),
                Some(v @ Value::Array(_)) => v,
                Some(v @ Value::Object(_)) if v.get("value").is_some() => json!([v]),
                Some(_) => return Err(ScimError::invalid_value("emails: a value is required")),
                None => Value::Null,
            };
            u["emails"] = emails;
            return Ok(());
        }
        p if p.starts_with(&STAFF_SCHEMA.to_ascii_lowercase()) => {
            // The whole extension (an object holding `retailStores`) or its one attribute.
            let stores = match value {
                Some(Value::Object(mut ext)) if p == STAFF_SCHEMA.to_ascii_lowercase() => {
                    ext.remove("retailStores").unwrap_or(Value::Null)
                }
                other => other.unwrap_or(Value::Null),
            };
            u[STAFF_SCHEMA]["retailStores"] = stores;
            return Ok(());
        }
        "groups" => {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "groups is read-only",
            ));
        }
        _ => {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidPath"),
                format!("The path {path:?} is not supported"),
            ));
        }
    };
    let value = value.unwrap_or(Value::Null);
    match target {
        ("name", None) => match value {
            Value::Object(map) => {
                for (k, v) in map {
                    u["name"][k] = v;
                }
            }
            Value::Null => u["name"] = json!({}),
            _ => return Err(ScimError::invalid_value("name must be an object")),
        },
        (outer, Some(inner)) => u[outer][inner] = value,
        (attr, None) => u[attr] = value,
    }
    Ok(())
}

/// Whether the (lowercase) path names an attribute the User schema marks required: what every
/// staff has (names, an email, its state, its stores) and `userName`.
fn is_required(path: &str) -> bool {
    matches!(path, "username" | "active" | "name")
        || path.starts_with("name.")
        || path.starts_with("emails")
        || path.starts_with(&STAFF_SCHEMA.to_ascii_lowercase())
}

/// A PatchOp's operations, once its `schemas` is checked.
pub(super) fn patch_operations<'a>(patch: &'a Value, schema: &str) -> ScimResult<&'a [Value]> {
    if !patch["schemas"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s == schema))
    {
        return Err(ScimError::invalid_syntax(format!(
            "schemas must hold {schema}"
        )));
    }
    match patch["Operations"].as_array() {
        Some(ops) => Ok(ops),
        None => Err(ScimError::invalid_syntax("Operations must be a list")),
    }
}

/// Applies a PatchOp's operations to the User as kadro shows it.
pub(super) fn apply(u: &mut Value, patch: &Value) -> ScimResult<()> {
    for op in patch_operations(patch, PATCH_SCHEMA)? {
        let kind = op["op"].as_str().unwrap_or("").to_ascii_lowercase();
        let path = op["path"].as_str();
        let value = op.get("value").cloned();
        match (kind.as_str(), path) {
            ("add" | "replace", Some(path)) => {
                let v = value.ok_or_else(|| ScimError::invalid_value("value is required"))?;
                set_path(u, path, Some(v))?;
            }
            ("add" | "replace", None) => {
                let Some(Value::Object(map)) = value else {
                    return Err(ScimError::invalid_value(
                        "value must be an object when there is no path",
                    ));
                };
                let map: Map<String, Value> = map;
                for (k, v) in map {
                    if k == "schemas" {
                        continue;
                    }
                    set_path(u, &k, Some(v))?;
                }
            }
            ("remove", Some(path)) => set_path(u, path, None)?,
            ("remove", None) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "remove needs a path",
                ));
            }
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Unknown op {:?}",
                    op["op"]
                )));
            }
        }
    }
    Ok(())
}
