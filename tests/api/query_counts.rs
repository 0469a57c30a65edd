//! A page costs a fixed number of database statements however many rows and links it holds:
//! each response's `Server-Timing: db;desc="N queries"` header is compared between a page of
//! one row and a page of a hundred.

use kadro::db::Query;
use kadro::http::time;
use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::instore_support::{geo, group, staff, store};
use crate::on_both_backends;

on_both_backends!(
    nested_pages_cost_a_fixed_number_of_queries,
    a_filtered_users_page_that_is_not_full_counts_itself,
);

/// The statements a GET cost, from its `Server-Timing` header.
async fn queries(app: &TestApp, path: &str) -> u32 {
    let response = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("Token {}", app.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    timing
        .strip_prefix("db;desc=\"")
        .and_then(|rest| rest.strip_suffix(" queries\""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{path}: server-timing {timing:?}"))
}

async fn nested_pages_cost_a_fixed_number_of_queries(app: TestApp) {
    let g = geo(&app).await;
    let stores = [
        store(&app, g.township, "A").await,
        store(&app, g.township, "B").await,
        store(&app, g.township, "C").await,
    ];
    let groups = [
        group(&app, "Readers", &[("instore:staff-list", "GET")]).await,
        group(&app, "Writers", &[("instore:staff-list", "POST")]).await,
    ];
    let first = staff(&app, "first@example.com", Some("first"), &stores, &groups).await;
    let paths = [
        "/api/v1/staffs/?limit=100",
        "/api/v1/staffs/?limit=100&retail_stores=1",
        "/api/v1/retail_stores/?limit=100",
        "/api/v1/permission_groups/?limit=100",
        "/api/v1/staff-users/?limit=100",
    ];
    let mut one_row = Vec::new();
    for path in paths {
        one_row.push(queries(&app, path).await);
    }
    let detail = format!("/api/v1/staffs/{first}/");
    let detail_cost = queries(&app, &detail).await;

    // 99 more staffs, each in every store and group, with a current store; more stores,
    // groups and staff users.
    let now = time::now();
    Query::new(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 99) \
         INSERT INTO staffs (first_name, last_name, email, username, password_hash, is_active, \
         is_staff, is_superuser, current_store_id, date_joined, created_date, modified_date) \
         SELECT 'F', 'L', 's' || i || '@example.com', 'user' || i, '', $1, $2, $2, $3, $4, $4, $4 FROM n",
    )
    .bind(true)
    .bind(false)
    .bind(stores[1])
    .bind(now)
    .execute(&app.state.db)
    .await
    .unwrap();
    for (table, column, ids) in [
        ("staff_retail_stores", "retail_store_id", &stores[..]),
        ("staff_permission_groups", "group_id", &groups[..]),
    ] {
        for id in ids {
            Query::new(format!(
                "INSERT INTO {table} (staff_id, {column}) \
                 SELECT id, $1 FROM staffs WHERE id <> $2"
            ))
            .bind(*id)
            .bind(first)
            .execute(&app.state.db)
            .await
            .unwrap();
        }
    }
    for n in 0..20 {
        store(&app, g.township, &format!("More {n}")).await;
        group(
            &app,
            &format!("Group {n}"),
            &[("instore:staff-list", "GET")],
        )
        .await;
        crate::helpers::create_b2b_staff(&app.state, &format!("u{n}@example.com"), false, None)
            .await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 100);

    for (path, before) in paths.iter().zip(one_row) {
        assert_eq!(queries(&app, path).await, before, "{path}");
    }
    assert_eq!(queries(&app, &detail).await, detail_cost);
    // The staffs page: the (kept) count, the page with its store and group ids, the stores;
    // a staff: its row with those ids, its stores. The token is cached by then.
    assert_eq!(queries(&app, "/api/v1/staffs/?limit=100").await, 3);
    assert_eq!(queries(&app, &detail).await, 2);
}

/// A filtered users page that is not full ends the list: its count is known without counting
/// (a rare `email` substring costs one query); a full page still counts exactly.
async fn a_filtered_users_page_that_is_not_full_counts_itself(app: TestApp) {
    let division = crate::b2b_divisions::create_division(&app, "Main", "main", None).await;
    for email in [
        "rare.one@example.com",
        "common.a@example.com",
        "common.b@example.com",
        "common.c@example.com",
    ] {
        crate::b2b_users::create_user(&app, division, email).await;
    }
    // The first request after the writes looks the token up again.
    queries(&app, "/api/v1/users/?email=rare").await;
    let one_query = queries(&app, "/api/v1/users/?email=rare").await;
    for (path, count, shown, cost) in [
        ("/api/v1/users/?email=rare", 1, 1, one_query),
        ("/api/v1/users/?email=nothing-like-it", 0, 0, one_query),
        ("/api/v1/users/?email=common&limit=3", 3, 3, one_query + 1),
        ("/api/v1/users/?email=common&limit=2", 3, 2, one_query + 1),
        (
            "/api/v1/users/?email=common&limit=2&page=2",
            3,
            1,
            one_query,
        ),
        (
            "/api/v1/users/?email=COMMON&division={division}",
            3,
            3,
            one_query,
        ),
    ] {
        let path = path.replace("{division}", &division.to_string());
        assert_eq!(queries(&app, &path).await, cost, "{path}");
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["count"], count, "{path}: {body}");
        assert_eq!(body["results"].as_array().unwrap().len(), shown, "{path}");
    }
    let (status, body) = app.get("/api/v1/users/?email=common&limit=2&page=2").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let emails: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["common.c@example.com"]);
    assert_eq!(body["next"], serde_json::Value::Null);
}
