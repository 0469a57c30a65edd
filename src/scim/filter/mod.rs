//! SCIM's `filter` parameter (RFC 7644 §3.4.2.2): `eq`, `ne`, `co`, `sw`, `ew`, `pr`, `gt`, `ge`,
//! `lt`, `le`, `and`, `or`, `not`, parentheses and `attr[…]` value paths. A filter is parsed
//! into a typed tree ([`ScimFilter`]) over the attributes a resource declares ([`Attributes`]),
//! then compiled through the list toolkit's [`Conditions`]: every value is bound, no filter
//! text ever becomes SQL. The same attribute table says what `sortBy` may name.
//!
//! `parse` reads the text into an [`Expr`]; `sql` compiles it.

mod parse;
mod sql;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::db::list::{Link, Order};

use super::ScimError;

/// How kadro keeps an attribute that a filter or `sortBy` may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attr {
    /// A numeric id shown as a string: `eq` and `ne`.
    Id(&'static str),
    /// A text column; `exact` compares with case (RFC 7643's `caseExact`), `nullable` when the
    /// column may have no value.
    Text {
        column: &'static str,
        exact: bool,
        nullable: bool,
    },
    Bool(&'static str),
    /// A date (`meta.created`, `meta.lastModified`): also `gt`, `ge`, `lt`, `le`.
    Time(&'static str),
    /// Ids linked through a join table (`groups.value`, `members.value`): `id` is the
    /// resource's id column, `link` goes from the resource to the linked ids.
    Linked {
        id: &'static str,
        link: &'static Link,
    },
    /// A value kadro shows the same for every resource (`emails.type` is "work").
    Constant(&'static str),
    /// A boolean kadro shows the same for every resource (`emails.primary` is true).
    Flag(bool),
}

/// The attributes of one resource type: its core schema and `(lower-case name, attribute)`.
pub struct Attributes {
    /// The core schema's URN, lower case (a name may carry it as a prefix).
    pub schema: &'static str,
    pub names: &'static [(&'static str, Attr)],
}

impl Attributes {
    /// The attribute `name` (case-insensitive, with or without the schema's URN).
    pub fn find(&self, name: &str) -> Option<Attr> {
        let lower = name.to_ascii_lowercase();
        let bare = lower
            .strip_prefix(self.schema)
            .and_then(|rest| rest.strip_prefix(':'))
            .unwrap_or(&lower);
        self.names
            .iter()
            .find(|(n, _)| *n == bare)
            .map(|(_, attr)| *attr)
    }

    /// What `sortBy=<name>` sorts by; `None` for an attribute that does not sort.
    pub fn order(&self, name: &str, descending: bool) -> Result<Order, ScimError> {
        let (column, folded) = match self.find(name) {
            Some(Attr::Id(c) | Attr::Bool(c) | Attr::Time(c)) => (c, false),
            Some(Attr::Text { column, exact, .. }) => (column, !exact),
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "sortBy: {name:?} is not an attribute Users or Groups sort by"
                )));
            }
        };
        Ok(Order {
            column,
            descending,
            folded,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn parse(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Ne => "<>",
            _ => "=",
        }
    }
}

/// A comparison's value once checked against its attribute.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Id(i64),
    Time(DateTime<Utc>),
    /// `eq null`: the attribute has no value.
    Null,
}

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Compare {
        attr: Attr,
        op: Op,
        value: Value,
    },
    Present(Attr),
    /// A condition known when parsing (a constant attribute compared).
    Always(bool),
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
}

/// A resource list's filter: the parsed tree (none: every resource) and the condition every
/// listed row meets (Users deleted through SCIM are gone).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScimFilter {
    pub expr: Option<Expr>,
    pub always: Option<&'static str>,
}
