//! SCIM's `filter` parameter (RFC 7644 §3.4.2.2): `eq`, `ne`, `co`, `sw`, `ew`, `pr`, `gt`, `ge`,
//! `lt`, `le`, `and`, `or`, `not`, parentheses and `attr[…]` value paths. A filter is parsed
//! into a typed tree ([`ScimFilter`]) over the attributes a resource declares ([`Attributes`]),
//! then compiled through the list toolkit's [`Conditions`]: every value is bound, no filter
//! text ever becomes SQL. The same attribute table says what `sortBy` may name.

use chrono::{DateTime, Utc};

use crate::db::Dialect;
use crate::db::list::{Conditions, Join, Link, ListFilter, Order, contains_pattern};

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

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Str(String),
}

/// How deep parentheses, `not` and value paths may nest.
const MAX_DEPTH: usize = 32;

fn tokens(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
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
                out.push(Token::Str(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || "\"()[]".contains(ch) {
                        break;
                    }
                    s.push(ch);
                    chars.next();
                }
                out.push(Token::Word(s));
            }
        }
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    attributes: &'a Attributes,
    /// Inside `emails[…]`: the attribute the names are sub-attributes of.
    prefix: Option<String>,
    depth: usize,
}

fn is_word(t: Option<&Token>, word: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn expect(&mut self, token: Token, what: &str) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if t == token => Ok(()),
            _ => Err(ScimError::invalid_filter(format!("Expected {what}"))),
        }
    }

    fn deeper(&mut self) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimError::invalid_filter("The filter nests too deeply"));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ScimError> {
        let mut parts = vec![self.and()?];
        while is_word(self.peek(), "or") {
            self.next();
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, ScimError> {
        let mut parts = vec![self.unary()?];
        while is_word(self.peek(), "and") {
            self.next();
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, ScimError> {
        self.deeper()?;
        let expr = if is_word(self.peek(), "not") {
            self.next();
            Expr::Not(Box::new(self.unary()?))
        } else if self.peek() == Some(&Token::Open) {
            self.next();
            let inner = self.or()?;
            self.expect(Token::Close, "`)`")?;
            inner
        } else {
            self.comparison()?
        };
        self.depth -= 1;
        Ok(expr)
    }

    fn comparison(&mut self) -> Result<Expr, ScimError> {
        let Some(Token::Word(name)) = self.next() else {
            return Err(ScimError::invalid_filter(
                "Expected an attribute, `not` or `(`",
            ));
        };
        if self.peek() == Some(&Token::OpenBracket) {
            if self.prefix.is_some() {
                return Err(ScimError::invalid_filter("Value paths do not nest"));
            }
            self.next();
            self.prefix = Some(name);
            let inner = self.or()?;
            self.prefix = None;
            self.expect(Token::CloseBracket, "`]`")?;
            return Ok(inner);
        }
        let full = match &self.prefix {
            Some(p) => format!("{p}.{name}"),
            None => name.clone(),
        };
        let attr = self.attributes.find(&full).ok_or_else(|| {
            ScimError::invalid_filter(format!("Filtering on {full:?} is not supported"))
        })?;
        let op = match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("pr") => {
                return Ok(match attr {
                    Attr::Text { .. } | Attr::Linked { .. } => Expr::Present(attr),
                    _ => Expr::Always(true),
                });
            }
            Some(Token::Word(w)) => Op::parse(&w).ok_or_else(|| {
                ScimError::invalid_filter(format!("The operator {w:?} is not supported"))
            })?,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "Expected an operator after {full}"
                )));
            }
        };
        let literal = self
            .next()
            .ok_or_else(|| ScimError::invalid_filter(format!("Expected a value after {full}")))?;
        compare(&full, attr, op, literal)
    }
}

/// Checks a comparison: the operator fits the attribute, the value its type.
fn compare(name: &str, attr: Attr, op: Op, literal: Token) -> Result<Expr, ScimError> {
    let bad = |what: &str| Err(ScimError::invalid_filter(format!("{name} {what}")));
    let ordering = matches!(op, Op::Gt | Op::Ge | Op::Lt | Op::Le);
    let value = match (attr, literal) {
        (_, Token::Word(w)) if w == "null" => {
            return match (op, attr) {
                (Op::Eq | Op::Ne, Attr::Text { nullable: true, .. }) => {
                    let none = Expr::Compare {
                        attr,
                        op: Op::Eq,
                        value: Value::Null,
                    };
                    Ok(if op == Op::Ne {
                        Expr::Not(Box::new(none))
                    } else {
                        none
                    })
                }
                (Op::Eq, _) => Ok(Expr::Always(false)),
                (Op::Ne, _) => Ok(Expr::Always(true)),
                _ => bad("compares to null with eq or ne only"),
            };
        }
        (Attr::Bool(_), Token::Word(w)) if matches!(op, Op::Eq | Op::Ne) => {
            match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => return bad("compares to true or false"),
            }
        }
        (Attr::Bool(_), _) => return bad("compares to true or false with eq or ne"),
        (_, Token::Word(_)) => return bad("compares to a quoted string"),
        (_, Token::Str(s)) => match attr {
            Attr::Id(_) | Attr::Linked { .. } if matches!(op, Op::Eq | Op::Ne) => {
                // An id that is no number matches nothing.
                Value::Id(s.parse().unwrap_or(-1))
            }
            Attr::Id(_) | Attr::Linked { .. } => return bad("takes eq or ne only"),
            Attr::Time(_) if matches!(op, Op::Co | Op::Sw | Op::Ew) => {
                return bad("takes eq, ne, gt, ge, lt or le");
            }
            Attr::Time(_) => match DateTime::parse_from_rfc3339(&s) {
                Ok(t) => Value::Time(t.with_timezone(&Utc)),
                Err(_) => return bad("compares to a date such as \"2026-12-03T10:00:00Z\""),
            },
            Attr::Constant(shown) => {
                let (a, b) = (shown.to_lowercase(), s.to_lowercase());
                let holds = match op {
                    Op::Eq => a == b,
                    Op::Ne => a != b,
                    Op::Co => a.contains(&b),
                    Op::Sw => a.starts_with(&b),
                    Op::Ew => a.ends_with(&b),
                    _ => return bad("takes eq, ne, co, sw or ew"),
                };
                return Ok(Expr::Always(holds));
            }
            Attr::Text { .. } if ordering => Value::Text(s),
            Attr::Text { .. } | Attr::Bool(_) => Value::Text(s),
        },
        (_, other) => return bad(&format!("cannot compare to {other:?}")),
    };
    Ok(Expr::Compare { attr, op, value })
}

impl ScimFilter {
    /// Parses `text` against a resource's attributes.
    pub fn parse(text: &str, attributes: &Attributes) -> Result<Expr, ScimError> {
        let mut p = Parser {
            tokens: tokens(text)?,
            at: 0,
            attributes,
            prefix: None,
            depth: 0,
        };
        if p.tokens.is_empty() {
            return Err(ScimError::invalid_filter("The filter is empty"));
        }
        let expr = p.or()?;
        if p.at < p.tokens.len() {
            return Err(ScimError::invalid_filter(format!(
                "Unexpected {:?} in the filter",
                p.tokens[p.at]
            )));
        }
        Ok(expr)
    }
}

/// `head` and `tail` around the placeholder of `dialect`'s case-insensitive equality.
fn same_text(dialect: Dialect, column: &str) -> (String, String) {
    let text = dialect.same_text(column, "\u{1}");
    let (head, tail) = text.split_once('\u{1}').unwrap_or((&text, ""));
    (head.to_owned(), tail.to_owned())
}

fn pattern(op: Op, value: &str) -> String {
    let inner = contains_pattern(value);
    let inner = &inner[1..inner.len() - 1];
    match op {
        Op::Sw => format!("{inner}%"),
        Op::Ew => format!("%{inner}"),
        _ => format!("%{inner}%"),
    }
}

fn apply(expr: &Expr, c: &mut Conditions<'_>) {
    match expr {
        Expr::And(parts) => {
            c.group(Join::All, false, |c| parts.iter().for_each(|p| apply(p, c)));
        }
        Expr::Or(parts) => {
            c.group(Join::Any, false, |c| parts.iter().for_each(|p| apply(p, c)));
        }
        Expr::Not(inner) => {
            c.group(Join::All, true, |c| apply(inner, c));
        }
        Expr::Always(true) => {
            c.fixed("1 = 1");
        }
        Expr::Always(false) => {
            c.fixed("1 = 0");
        }
        Expr::Present(Attr::Text {
            column, nullable, ..
        }) => {
            let guard = if *nullable { " IS NOT NULL AND " } else { "" };
            let (head, tail) = if *nullable {
                (format!("({column}{guard}{column} <> "), ")")
            } else {
                (format!("{column} <> "), "")
            };
            c.raw(&head, "", tail);
        }
        Expr::Present(Attr::Linked { id, link }) => {
            let head = format!(
                "{id} IN (SELECT {} FROM {} WHERE {} > ",
                link.owner, link.table, link.other
            );
            c.raw(&head, 0, ")");
        }
        Expr::Present(_) => {
            c.fixed("1 = 1");
        }
        Expr::Compare { attr, op, value } => compare_sql(*attr, *op, value, c),
    }
}

fn compare_sql(attr: Attr, op: Op, value: &Value, c: &mut Conditions<'_>) {
    let dialect = c.dialect();
    match (attr, value) {
        (Attr::Id(col), Value::Id(id)) => {
            c.raw(&format!("{col} {} ", op.symbol()), *id, "");
        }
        (Attr::Linked { id, link }, Value::Id(other)) => {
            let not = if op == Op::Ne { "NOT " } else { "" };
            let head = format!(
                "{id} {not}IN (SELECT {} FROM {} WHERE {} = ",
                link.owner, link.table, link.other
            );
            c.raw(&head, *other, ")");
        }
        (Attr::Bool(col), Value::Bool(b)) => {
            c.raw(&format!("{col} {} ", op.symbol()), *b, "");
        }
        (Attr::Time(col), Value::Time(t)) => {
            c.raw(&format!("{col} {} ", op.symbol()), *t, "");
        }
        (Attr::Text { column, .. }, Value::Null) => {
            c.raw(&format!("COALESCE({column}, "), "", ") = ''");
        }
        (
            Attr::Text {
                column,
                exact,
                nullable,
            },
            Value::Text(t),
        ) => {
            // Guarded so that a missing value compares false (and `not` of it true).
            let (open, close) = if nullable {
                (format!("({column} IS NOT NULL AND "), ")")
            } else {
                (String::from("("), ")")
            };
            let (head, tail) = match op {
                Op::Eq | Op::Ne if exact => (format!("{column} = "), String::new()),
                Op::Eq | Op::Ne => same_text(dialect, column),
                Op::Co | Op::Sw | Op::Ew => {
                    let head = format!("{column} {} ", dialect.ilike());
                    c.raw(
                        &format!("{open}{head}"),
                        pattern(op, t),
                        &format!(" ESCAPE '\\'{close}"),
                    );
                    return;
                }
                Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                    let folded = |e: &str| {
                        if exact {
                            e.to_owned()
                        } else {
                            dialect.folded(e)
                        }
                    };
                    let placeholder = folded("\u{1}");
                    let (p_head, p_tail) = placeholder.split_once('\u{1}').unwrap_or(("", ""));
                    (
                        format!("{} {} {p_head}", folded(column), op.symbol()),
                        p_tail.to_owned(),
                    )
                }
            };
            if op == Op::Ne {
                c.raw(
                    &format!("{open}NOT ({head}"),
                    t.clone(),
                    &format!("{tail}){close}"),
                );
            } else {
                c.raw(
                    &format!("{open}{head}"),
                    t.clone(),
                    &format!("{tail}{close}"),
                );
            }
        }
        // `compare` builds no other pairs.
        _ => {
            c.fixed("1 = 0");
        }
    }
}

impl ListFilter for ScimFilter {
    fn apply(&self, c: &mut Conditions<'_>) {
        if let Some(always) = self.always {
            c.fixed(always);
        }
        if let Some(expr) = &self.expr {
            apply(expr, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Query;

    const STAFF_GROUPS: Link = Link {
        table: "staff_permission_groups",
        owner: "staff_id",
        other: "group_id",
    };
    const USERS: Attributes = Attributes {
        schema: "urn:ietf:params:scim:schemas:core:2.0:user",
        names: &[
            ("id", Attr::Id("s.id")),
            (
                "username",
                Attr::Text {
                    column: "s.username",
                    exact: false,
                    nullable: true,
                },
            ),
            (
                "externalid",
                Attr::Text {
                    column: "s.remote_id",
                    exact: true,
                    nullable: true,
                },
            ),
            ("active", Attr::Bool("s.is_active")),
            ("meta.created", Attr::Time("s.created_date")),
            ("emails.type", Attr::Constant("work")),
            (
                "groups.value",
                Attr::Linked {
                    id: "s.id",
                    link: &STAFF_GROUPS,
                },
            ),
        ],
    };

    fn parse(text: &str) -> Result<Expr, ScimError> {
        ScimFilter::parse(text, &USERS)
    }

    fn sql(text: &str) -> String {
        let filter = ScimFilter {
            expr: Some(parse(text).unwrap()),
            always: None,
        };
        let mut q = Query::new("WHERE 1 = 1");
        filter.push_conditions(&mut q, Dialect::Postgres);
        q.sql().to_owned()
    }

    fn user_name(op: Op, text: &str) -> Expr {
        Expr::Compare {
            attr: USERS.find("userName").unwrap(),
            op,
            value: Value::Text(text.into()),
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_takes_one_term() {
        let e = parse(r#"userName eq "a" or userName sw "b" and not (userName ew "c")"#).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                user_name(Op::Eq, "a"),
                Expr::And(vec![
                    user_name(Op::Sw, "b"),
                    Expr::Not(Box::new(user_name(Op::Ew, "c"))),
                ]),
            ])
        );
    }

    #[test]
    fn parentheses_group_and_strings_keep_escapes() {
        let e = parse(r#"(userName eq "a\"b" OR userName eq "x") AND active eq TRUE"#).unwrap();
        let Expr::And(parts) = e else { panic!("{e:?}") };
        assert_eq!(
            parts[0],
            Expr::Or(vec![user_name(Op::Eq, "a\"b"), user_name(Op::Eq, "x")])
        );
        assert_eq!(
            parts[1],
            Expr::Compare {
                attr: Attr::Bool("s.is_active"),
                op: Op::Eq,
                value: Value::Bool(true)
            }
        );
    }

    #[test]
    fn dates_compare_and_value_paths_prefix_their_attribute() {
        let e = parse(r#"meta.created gt "2026-01-01T00:00:00Z""#).unwrap();
        assert!(matches!(
            e,
            Expr::Compare {
                op: Op::Gt,
                value: Value::Time(_),
                ..
            }
        ));
        assert_eq!(
            parse(r#"emails[type eq "work"]"#).unwrap(),
            Expr::Always(true)
        );
        assert_eq!(
            parse(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName pr"#).unwrap(),
            Expr::Present(USERS.find("username").unwrap())
        );
        assert_eq!(
            parse(r#"groups[value eq "7"]"#).unwrap(),
            Expr::Compare {
                attr: USERS.find("groups.value").unwrap(),
                op: Op::Eq,
                value: Value::Id(7)
            }
        );
    }

    #[test]
    fn compiles_to_bound_sql_only() {
        assert_eq!(
            sql(r#"userName eq "x'; DROP TABLE staffs; --" or not (externalId eq "e")"#),
            "WHERE 1 = 1 AND ((s.username IS NOT NULL AND lower(s.username) = lower($1)) OR \
             NOT ((s.remote_id IS NOT NULL AND s.remote_id = $2)))"
        );
        assert_eq!(
            sql(r#"groups.value eq "3" and meta.created le "2026-01-01T00:00:00+01:00""#),
            "WHERE 1 = 1 AND (s.id IN (SELECT staff_id FROM staff_permission_groups WHERE \
             group_id = $1) AND s.created_date <= $2)"
        );
        assert_eq!(
            sql("externalId pr"),
            "WHERE 1 = 1 AND (s.remote_id IS NOT NULL AND s.remote_id <> $1)"
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "",
            "userName",
            "(",
            r#"(userName eq "a""#,
            r#"userName eq "a")"#,
            r#"userName xx "a""#,
            r#"password eq "a""#,
            r#"userName eq "a" or"#,
            r#"userName eq "a"#,
            "userName eq a",
            r#"active eq "yes""#,
            r#"active gt true"#,
            r#"meta.created gt "yesterday""#,
            r#"meta.created co "2026""#,
            r#"id gt "3""#,
            r#"emails[type eq "work"[value eq "x"]]"#,
            r#"userName eq "a" userName eq "b""#,
            &"not (".repeat(40),
        ] {
            let e = parse(bad).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
    }
}
