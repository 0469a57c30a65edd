//! The filter's parsing and compiling, on a table of User attributes.

use super::*;
use crate::db::list::{Link, ListFilter};
use crate::db::{Dialect, Query};

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
