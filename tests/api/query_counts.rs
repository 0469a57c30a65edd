//! A page costs a fixed number of database statements however many rows and links it holds:
//! each response's `Server-Timing: db;desc="N queries"` header is compared between a page of
//! one row and a page of a hundred.

use kadro::db::Query;
use kadro::http::time;
use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::instore_support::{geo, group, staff, store};
use crate::on_both_backends;

on_both_backends!(nested_pages_cost_a_fixed_number_of_queries);

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
    // The staffs page: the token, the count, the page, its stores and groups links, the stores.
    assert!(
        queries(&app, "/api/v1/staffs/?limit=100").await <= 6,
        "a staffs page costs at most six statements"
    );
}
