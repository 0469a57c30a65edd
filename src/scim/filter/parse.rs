//! The filter's text → [`Expr`]: a tokenizer and a recursive-descent parser over RFC 7644's
//! grammar (`or` below `and` below `not`, parentheses, `attr[…]` value paths), each comparison
//! checked against its attribute.

use chrono::{DateTime, Utc};

use super::{Attr, Attributes, Expr, Op, ScimFilter, Value};
use crate::scim::ScimError;

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
        (Attr::Bool(_) | Attr::Flag(_), Token::Word(w)) if matches!(op, Op::Eq | Op::Ne) => {
            let b = match w.to_ascii_lowercase().as_str() {
                "true" => true,
                "false" => false,
                _ => return bad("compares to true or false"),
            };
            if let Attr::Flag(shown) = attr {
                return Ok(Expr::Always((shown == b) == (op == Op::Eq)));
            }
            Value::Bool(b)
        }
        (Attr::Bool(_) | Attr::Flag(_), _) => {
            return bad("compares to true or false with eq or ne");
        }
        // An id may also be written as a number (kadro's extension shows store ids so).
        (Attr::Id(_) | Attr::Linked { .. }, Token::Word(w)) if matches!(op, Op::Eq | Op::Ne) => {
            match w.parse() {
                Ok(id) => Value::Id(id),
                Err(_) => return bad("compares to an id"),
            }
        }
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
            Attr::Text { .. } | Attr::Bool(_) | Attr::Flag(_) => Value::Text(s),
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
