//! SCIM's `filter` parameter, the part identity providers send: `attribute op value` clauses
//! joined by `and`, with `eq`, `ne`, `co`, `sw` and `ew`. It is parsed into typed clauses
//! applied through the list toolkit's [`Conditions`]: every value is bound, no filter text
//! becomes SQL.

use crate::db::Dialect;
use crate::db::list::{Conditions, ListFilter};

use super::ScimError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Id,
    UserName,
    ExternalId,
    Email,
    GivenName,
    FamilyName,
    Active,
}

impl Column {
    fn parse(name: &str) -> Option<Column> {
        let name = name.to_ascii_lowercase();
        let name = name
            .strip_prefix("urn:ietf:params:scim:schemas:core:2.0:user:")
            .unwrap_or(&name);
        Some(match name {
            "id" => Column::Id,
            "username" => Column::UserName,
            "externalid" => Column::ExternalId,
            "emails" | "emails.value" => Column::Email,
            "name.givenname" => Column::GivenName,
            "name.familyname" => Column::FamilyName,
            "active" => Column::Active,
            _ => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Column::Id => "s.id",
            Column::UserName => "s.username",
            Column::ExternalId => "s.remote_id",
            Column::Email => "s.email",
            Column::GivenName => "s.first_name",
            Column::FamilyName => "s.last_name",
            Column::Active => "s.is_active",
        }
    }

    /// Whether values compare exactly (`externalId`, RFC 7643's `caseExact`).
    fn case_exact(self) -> bool {
        self == Column::ExternalId
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
}

#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
struct Clause {
    column: Column,
    op: Op,
    value: Value,
}

/// A parsed filter: every clause must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScimFilter(Vec<Clause>);

/// Splits a filter into words, keeping quoted strings (with `\"` and `\\`) whole.
fn words(text: &str) -> Result<Vec<(String, bool)>, ScimError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(e) => s.push(e),
                        None => return Err(ScimError::invalid_filter("Unterminated string")),
                    },
                    Some(ch) => s.push(ch),
                    None => return Err(ScimError::invalid_filter("Unterminated string")),
                }
            }
            out.push((s, true));
        } else {
            let mut s = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || ch == '"' {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push((s, false));
        }
    }
    Ok(out)
}

impl ScimFilter {
    pub fn parse(text: &str) -> Result<ScimFilter, ScimError> {
        let words = words(text)?;
        let mut clauses = Vec::new();
        let mut rest = words.as_slice();
        loop {
            let [(attr, false), (op, false), (value, quoted), tail @ ..] = rest else {
                return Err(ScimError::invalid_filter(format!(
                    "Expected `attribute operator value` clauses joined by `and` in {text:?}"
                )));
            };
            let column = Column::parse(attr).ok_or_else(|| {
                ScimError::invalid_filter(format!("Filtering on {attr:?} is not supported"))
            })?;
            let op = match op.to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "co" => Op::Co,
                "sw" => Op::Sw,
                "ew" => Op::Ew,
                other => {
                    return Err(ScimError::invalid_filter(format!(
                        "The operator {other:?} is not supported"
                    )));
                }
            };
            let value = match (column, *quoted, value.as_str()) {
                (Column::Active, false, "true") => Value::Bool(true),
                (Column::Active, false, "false") => Value::Bool(false),
                (Column::Active, ..) => {
                    return Err(ScimError::invalid_filter(
                        "active compares to true or false",
                    ));
                }
                (_, true, _) => Value::Text(value.clone()),
                _ => {
                    return Err(ScimError::invalid_filter(format!(
                        "{attr} compares to a quoted string"
                    )));
                }
            };
            if matches!(value, Value::Bool(_)) && !matches!(op, Op::Eq | Op::Ne) {
                return Err(ScimError::invalid_filter("active takes eq or ne only"));
            }
            if column == Column::Id && op != Op::Eq {
                return Err(ScimError::invalid_filter("id takes eq only"));
            }
            clauses.push(Clause { column, op, value });
            match tail {
                [] => break,
                [(and, false), more @ ..] if and.eq_ignore_ascii_case("and") => rest = more,
                _ => {
                    return Err(ScimError::invalid_filter(
                        "Clauses are joined by `and`; `or`, `not`, `pr` and parentheses are not supported yet",
                    ));
                }
            }
        }
        Ok(ScimFilter(clauses))
    }
}

/// `head` and `tail` around the placeholder of a case-insensitive equality.
fn same_text(dialect: Dialect, column: &str) -> (String, String) {
    let text = dialect.same_text(column, "\u{1}");
    let (head, tail) = text.split_once('\u{1}').unwrap_or((&text, ""));
    (head.to_owned(), tail.to_owned())
}

fn pattern(op: Op, value: &str) -> String {
    let inner = crate::db::list::contains_pattern(value);
    let inner = &inner[1..inner.len() - 1];
    match op {
        Op::Sw => format!("{inner}%"),
        Op::Ew => format!("%{inner}"),
        _ => format!("%{inner}%"),
    }
}

impl ListFilter for ScimFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        let dialect = c.dialect();
        // Staffs deleted through SCIM are gone for SCIM (RFC 7644 3.6).
        c.fixed("s.deprovisioned_date IS NULL");
        for clause in &self.0 {
            let col = clause.column.sql();
            match (&clause.value, clause.op) {
                (Value::Bool(b), Op::Ne) => {
                    c.raw(&format!("{col} <> "), *b, "");
                }
                (Value::Bool(b), _) => {
                    c.raw(&format!("{col} = "), *b, "");
                }
                (Value::Text(t), Op::Eq) if clause.column == Column::Id => {
                    // An id that is no number matches nothing.
                    c.raw(&format!("{col} = "), t.parse::<i64>().unwrap_or(-1), "");
                }
                (Value::Text(t), op @ (Op::Eq | Op::Ne)) => {
                    let (head, tail) = if clause.column.case_exact() {
                        (format!("{col} = "), String::new())
                    } else {
                        same_text(dialect, col)
                    };
                    if op == Op::Ne {
                        c.raw(
                            &format!("{col} IS NOT NULL AND NOT ({head}"),
                            t.clone(),
                            &format!("{tail})"),
                        );
                    } else {
                        c.raw(&head, t.clone(), &tail);
                    }
                }
                (Value::Text(t), op) => {
                    let head = format!("{col} {} ", dialect.ilike());
                    c.raw(&head, pattern(op, t), " ESCAPE '\\'");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_identity_providers_send() {
        let f = ScimFilter::parse(r#"userName eq "a\"b" and active eq true"#).unwrap();
        assert_eq!(f.0.len(), 2);
        assert_eq!(f.0[0].value, Value::Text("a\"b".into()));
        assert!(ScimFilter::parse(r#"emails.value eq "x@example.com""#).is_ok());
        assert!(ScimFilter::parse(r#"externalId eq "7""#).is_ok());
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "",
            "userName",
            r#"userName xx "a""#,
            r#"password eq "a""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"userName eq "a"#,
            "userName eq a",
            r#"active eq "yes""#,
        ] {
            let e = ScimFilter::parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }
}
