//! A Group's PatchOp (RFC 7644 §3.5.2): `displayName` and `members`, including the
//! `members[value eq "<id>"]` paths Okta sends, applied to the name and member ids.

use axum::http::StatusCode;
use serde_json::Value;

use super::filter::{Attr, Attributes, Expr, Op, ScimFilter, Value as Literal};
use super::groups::{ATTRIBUTES, Wanted, member_ids};
use super::{ScimError, ScimResult};

/// What a `members[…]` path may name: a member's `value`.
const MEMBER: Attributes = Attributes {
    schema: "",
    names: &[("members.value", Attr::Id("value"))],
};

/// Whether a member id meets a `members[…]` path's filter.
fn holds(expr: &Expr, member: i64) -> bool {
    match expr {
        Expr::Compare {
            op,
            value: Literal::Id(id),
            ..
        } => (*op == Op::Eq) == (*id == member),
        Expr::Always(b) => *b,
        Expr::And(parts) => parts.iter().all(|p| holds(p, member)),
        Expr::Or(parts) => parts.iter().any(|p| holds(p, member)),
        Expr::Not(inner) => !holds(inner, member),
        _ => false,
    }
}

/// A group's name and member ids while a PatchOp is applied.
pub(super) struct Patched {
    pub name: String,
    /// `None`: unchanged; `Some(None)`: removed.
    pub external_id: Option<Option<String>>,
    pub members: Vec<i64>,
    pub members_changed: bool,
}

impl Patched {
    pub fn into_wanted(self) -> Wanted {
        Wanted {
            name: self.name,
            external_id: self.external_id,
            members: self.members_changed.then_some(self.members),
        }
    }

    fn set(&mut self, kind: &str, attr: &str, value: Option<&Value>) -> ScimResult<()> {
        match (attr.to_ascii_lowercase().as_str(), kind, value) {
            ("displayname", "add" | "replace", Some(Value::String(s))) => self.name = s.clone(),
            ("displayname", "remove", _) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("mutability"),
                    "displayName is required",
                ));
            }
            ("displayname", ..) => return Err(ScimError::invalid_value("displayName: a string")),
            ("externalid", "add" | "replace", Some(Value::String(s))) => {
                self.external_id = Some(Some(s.clone()));
            }
            ("externalid", "remove", _) => self.external_id = Some(None),
            ("externalid", ..) => return Err(ScimError::invalid_value("externalId: a string")),
            ("members", "add", Some(v)) => {
                for id in member_ids(v)? {
                    if !self.members.contains(&id) {
                        self.members.push(id);
                    }
                }
                self.members_changed = true;
            }
            ("members", "replace", Some(v)) => {
                self.members = member_ids(v)?;
                self.members_changed = true;
            }
            ("members", "remove", v) => {
                // Entra ID names the members to remove in `value`; no value removes all.
                let gone = v.map(member_ids).transpose()?;
                self.members
                    .retain(|m| gone.as_ref().is_some_and(|g| !g.contains(m)));
                self.members_changed = true;
            }
            ("members", _, None) => {
                return Err(ScimError::invalid_value("value is required"));
            }
            ("schemas" | "id" | "meta", ..) => {}
            _ => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    format!("The path {attr:?} is not supported"),
                ));
            }
        }
        Ok(())
    }

    pub fn apply(&mut self, op: &Value) -> ScimResult<()> {
        let kind = op["op"].as_str().unwrap_or("").to_ascii_lowercase();
        if !matches!(kind.as_str(), "add" | "replace" | "remove") {
            return Err(ScimError::invalid_syntax(format!(
                "Unknown op {:?}",
                op["op"]
            )));
        }
        let value = op.get("value").filter(|v| !v.is_null());
        let Some(path) = op["path"].as_str() else {
            return match (kind.as_str(), value) {
                ("remove", _) => Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "remove needs a path",
                )),
                (_, Some(Value::Object(map))) => map
                    .iter()
                    .try_for_each(|(k, v)| self.set(&kind, k, Some(v))),
                _ => Err(ScimError::invalid_value(
                    "value must be an object when there is no path",
                )),
            };
        };
        let lower = path.to_ascii_lowercase();
        let path = lower
            .strip_prefix(ATTRIBUTES.schema)
            .and_then(|p| p.strip_prefix(':'))
            .unwrap_or(&lower);
        if let Some(inner) = path
            .strip_prefix("members[")
            .and_then(|p| p.strip_suffix(']'))
        {
            if kind != "remove" {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("invalidPath"),
                    "A members[…] path removes members; add or replace members instead",
                ));
            }
            let expr = ScimFilter::parse(&format!("members[{inner}]"), &MEMBER).map_err(|e| {
                ScimError::new(StatusCode::BAD_REQUEST, Some("invalidPath"), e.detail)
            })?;
            self.members.retain(|m| !holds(&expr, *m));
            self.members_changed = true;
            return Ok(());
        }
        self.set(&kind, path, value)
    }
}
