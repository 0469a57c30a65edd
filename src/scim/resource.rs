//! What Users and Groups share: the query parameters of a list or a get (`filter`,
//! `startIndex`, `count`, `sortBy`, `sortOrder`, `attributes`, `excludedAttributes`), the
//! projection of a resource onto the attributes asked for, the ListResponse, and `meta.version`
//! as a weak ETag checked against `If-Match` and `If-None-Match` ([`Asked`]).

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::filter::{Attributes, ScimFilter};
use super::{LIST_SCHEMA, ScimError, ScimResult, respond};
use crate::db::list::{Order, Window};

/// The most resources one list answer holds.
pub const MAX_COUNT: i64 = 200;

/// `attributes` / `excludedAttributes`: which attributes an answer shows.
#[derive(Clone, Debug, Default)]
pub struct Projection {
    only: Vec<String>,
    without: Vec<String>,
}

/// Sub-attributes whose schema says `returned: "request"`: shown only when `attributes` names
/// them (a member's `display`, its User's userName: a client that wants it asks).
pub const ON_REQUEST: &[(&str, &str)] = &[("members", "display")];

/// A list's parameters, checked.
pub struct ListParams {
    pub filter: ScimFilter,
    pub window: Window,
    pub start: i64,
    pub order: Option<Order>,
    pub projection: Projection,
}

fn names(params: &HashMap<String, String>, key: &str, schema: &str) -> Vec<String> {
    params
        .get(key)
        .map(|v| {
            v.split(',')
                .map(|n| {
                    let n = n.trim().to_ascii_lowercase();
                    // A core attribute may carry its schema's URN; an extension's stays whole.
                    n.strip_prefix(schema)
                        .and_then(|r| r.strip_prefix(':'))
                        .map(str::to_owned)
                        .unwrap_or(n)
                })
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

impl Projection {
    pub fn from_query(params: &HashMap<String, String>, attributes: &Attributes) -> Self {
        Projection {
            only: names(params, "attributes", attributes.schema),
            without: names(params, "excludedAttributes", attributes.schema),
        }
    }

    /// The resource with only what was asked for; `id` and `schemas` are always shown
    /// (RFC 7643 §7 `returned: always`), the sub-attributes of [`ON_REQUEST`] only when
    /// `attributes` names them.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut map) = resource else {
            return resource;
        };
        for (key, sub) in ON_REQUEST {
            let asked = format!("{key}.{}", sub.to_ascii_lowercase());
            if self.only.contains(&asked) {
                continue;
            }
            if let Some(Value::Array(items)) = map.get_mut(*key) {
                for item in items.iter_mut().filter_map(Value::as_object_mut) {
                    item.remove(*sub);
                }
            }
        }
        let always = |k: &str| matches!(k, "id" | "schemas");
        let mut out = Map::new();
        for (key, value) in map {
            let lower = key.to_ascii_lowercase();
            if always(&lower) {
                out.insert(key, value);
                continue;
            }
            let kept = if self.only.is_empty() {
                Some(value)
            } else {
                keep_only(&lower, value, &self.only)
            };
            if let Some(v) = kept.and_then(|v| drop_excluded(&lower, v, &self.without)) {
                out.insert(key, v);
            }
        }
        Value::Object(out)
    }
}

/// `value` at `key` narrowed to the asked names (`name` keeps all of it, `name.givenName` one
/// sub-attribute); `None` when nothing of it was asked.
fn keep_only(key: &str, value: Value, only: &[String]) -> Option<Value> {
    if only.iter().any(|n| n == key) {
        return Some(value);
    }
    let subs: Vec<&str> = only
        .iter()
        .filter_map(|n| n.strip_prefix(key).and_then(|r| r.strip_prefix(['.', ':'])))
        .collect();
    if subs.is_empty() {
        return None;
    }
    Some(match value {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| subs.contains(&k.to_ascii_lowercase().as_str()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(m) => Value::Object(
                        m.into_iter()
                            .filter(|(k, _)| subs.contains(&k.to_ascii_lowercase().as_str()))
                            .collect(),
                    ),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    })
}

/// `value` at `key` without the excluded names; `None` when all of it is excluded.
fn drop_excluded(key: &str, value: Value, without: &[String]) -> Option<Value> {
    if without.iter().any(|n| n == key) {
        return None;
    }
    let subs: Vec<&str> = without
        .iter()
        .filter_map(|n| n.strip_prefix(key).and_then(|r| r.strip_prefix(['.', ':'])))
        .collect();
    let strip = |m: Map<String, Value>| -> Map<String, Value> {
        m.into_iter()
            .filter(|(k, _)| !subs.contains(&k.to_ascii_lowercase().as_str()))
            .collect()
    };
    Some(match value {
        Value::Object(m) if !subs.is_empty() => Value::Object(strip(m)),
        Value::Array(items) if !subs.is_empty() => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(m) => Value::Object(strip(m)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    })
}

impl ListParams {
    pub fn parse(
        params: &HashMap<String, String>,
        attributes: &Attributes,
        always: &'static str,
    ) -> ScimResult<ListParams> {
        let expr = match params.get("filter") {
            Some(f) => Some(ScimFilter::parse(f, attributes)?),
            None => None,
        };
        let number = |name: &str, default: i64| -> ScimResult<i64> {
            params.get(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse()
                    .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer")))
            })
        };
        let start = number("startIndex", 1)?.max(1);
        let count = number("count", 100)?.clamp(0, MAX_COUNT);
        let descending = match params.get("sortOrder").map(|o| o.to_ascii_lowercase()) {
            None => false,
            Some(o) if o == "ascending" => false,
            Some(o) if o == "descending" => true,
            Some(_) => {
                return Err(ScimError::invalid_value(
                    "sortOrder is ascending or descending",
                ));
            }
        };
        let order = match params.get("sortBy") {
            Some(name) => Some(attributes.order(name, descending)?),
            None => None,
        };
        Ok(ListParams {
            filter: ScimFilter {
                expr,
                always: Some(always),
            },
            window: Window {
                limit: count,
                offset: start - 1,
            },
            start,
            order,
            projection: Projection::from_query(params, attributes),
        })
    }

    /// The ListResponse of one page.
    pub fn respond(&self, total: i64, resources: Vec<Value>) -> Response {
        let resources: Vec<Value> = resources
            .into_iter()
            .map(|r| self.projection.apply(r))
            .collect();
        respond(
            StatusCode::OK,
            json!({
                "schemas": [LIST_SCHEMA],
                "totalResults": total,
                "startIndex": self.start,
                "itemsPerPage": resources.len(),
                "Resources": resources,
            }),
        )
    }
}

/// Sets `meta.version`: a weak ETag of everything the resource shows, so any change a client
/// could see (a member added through the staff API, a username renamed) changes it.
pub fn stamp(mut resource: Value) -> Value {
    resource["meta"]["version"] = Value::Null;
    let digest = Sha256::digest(resource.to_string().as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    resource["meta"]["version"] = json!(format!("W/\"{hex}\""));
    resource
}

fn version_of(resource: &Value) -> &str {
    resource["meta"]["version"].as_str().unwrap_or_default()
}

/// Whether a list of entity tags (`If-Match`, `If-None-Match`) names `current`, compared
/// weakly (RFC 7232 §2.3.2, as SCIM's examples do); `*` names any.
fn names_version(tags: &str, current: &str) -> bool {
    let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    tags.split(',')
        .any(|t| t.trim() == "*" || opaque(t) == opaque(current))
}

/// What a request asks of one resource: which attributes to show (`attributes`,
/// `excludedAttributes`) and its preconditions, `If-Match` for a write (412 when stale) and
/// `If-None-Match` for a read (304 when unchanged).
pub struct Asked {
    params: HashMap<String, String>,
    if_match: Option<String>,
    if_none_match: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Asked {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ScimResult<Self> {
        let Query(params) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ScimError::invalid_syntax(e.body_text()))?;
        let header = |name| {
            parts
                .headers
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap_or_default().to_owned())
        };
        Ok(Asked {
            params,
            if_match: header(header::IF_MATCH),
            if_none_match: header(header::IF_NONE_MATCH),
        })
    }
}

impl Asked {
    /// 412 when `If-Match` names none of the resource's current version.
    pub fn check(&self, current: &Value) -> ScimResult<()> {
        let version = version_of(current);
        match &self.if_match {
            Some(tags) if !names_version(tags, version) => Err(ScimError::new(
                StatusCode::PRECONDITION_FAILED,
                None,
                format!("The resource changed: its version is now {version}"),
            )),
            _ => Ok(()),
        }
    }

    /// A read's answer: 304 (no body) when `If-None-Match` names its version, else 200.
    pub fn read(&self, resource: Value, attributes: &Attributes) -> Response {
        let unchanged = self
            .if_none_match
            .as_deref()
            .is_some_and(|tags| names_version(tags, version_of(&resource)));
        if unchanged {
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            set_etag(&mut response, &resource);
            return response;
        }
        self.written(StatusCode::OK, resource, attributes)
    }

    /// A write's answer: the resource as asked, with its version as the `ETag`.
    pub fn written(
        &self,
        status: StatusCode,
        resource: Value,
        attributes: &Attributes,
    ) -> Response {
        let projection = Projection::from_query(&self.params, attributes);
        let mut response = respond(status, projection.apply(resource.clone()));
        set_etag(&mut response, &resource);
        response
    }
}

fn set_etag(response: &mut Response, resource: &Value) {
    if let Ok(tag) = HeaderValue::from_str(version_of(resource)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn projected(only: &[&str], without: &[&str]) -> Value {
        let p = Projection {
            only: only.iter().map(|s| s.to_string()).collect(),
            without: without.iter().map(|s| s.to_string()).collect(),
        };
        p.apply(json!({
            "schemas": ["s"], "id": "1", "userName": "ada",
            "name": {"givenName": "Ada", "familyName": "L"},
            "emails": [{"value": "a@x", "type": "work"}],
            "meta": {"resourceType": "User", "version": "W/\"1\""},
        }))
    }

    #[test]
    fn attributes_keep_what_was_asked_and_always_the_id() {
        assert_eq!(
            projected(&["username", "name.givenname", "emails.value"], &[]),
            json!({"schemas": ["s"], "id": "1", "userName": "ada", "name": {"givenName": "Ada"},
                   "emails": [{"value": "a@x"}]})
        );
        assert_eq!(
            projected(&[], &["name", "emails.type", "meta", "id"]),
            json!({"schemas": ["s"], "id": "1", "userName": "ada", "emails": [{"value": "a@x"}]})
        );
    }

    #[test]
    fn versions_follow_the_content_and_compare_weakly() {
        let a = stamp(json!({"id": "1", "userName": "ada", "meta": {"resourceType": "User"}}));
        let b = stamp(json!({"id": "1", "userName": "bob", "meta": {"resourceType": "User"}}));
        let v = version_of(&a).to_owned();
        assert!(v.starts_with("W/\"") && v.len() == 24, "{v}");
        assert_eq!(stamp(a.clone()), a, "stamping twice changes nothing");
        assert_ne!(version_of(&b), v);
        assert!(names_version(&v, &v));
        assert!(names_version(
            &format!("W/\"x\", {}", v.trim_start_matches("W/")),
            &v
        ));
        assert!(names_version("*", &v));
        assert!(!names_version(version_of(&b), &v));
    }
}
