//! [`Expr`] → SQL through the list toolkit's [`Conditions`]: the SQL text is kadro's own, every
//! value of the filter is bound.

use crate::db::Dialect;
use crate::db::list::{Conditions, Join, ListFilter, contains_pattern};

use super::{Attr, Expr, Op, ScimFilter, Value};

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
