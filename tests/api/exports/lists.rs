//! Exports of the users and staffs lists over HTTP: filters, scopes and flattened names.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{read_text, read_workbook};
use crate::b2b_divisions::create_division;
use crate::b2b_users::create_user;
use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support::{geo, group, staff, store};
use crate::on_both_backends;

on_both_backends!(
    users_export_honours_filters_and_scope,
    staffs_export_flattens_stores_and_groups
);

/// Starts an export on `list` with `token`; its cache key.
async fn start(app: &TestApp, token: &str, list: &str, query: &str) -> String {
    let (status, body) = app
        .call(Method::GET, &format!("{list}?{query}"), Some(token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body["cache_key"].as_str().expect("cache_key").to_owned()
}

async fn status(app: &TestApp, token: &str, list: &str, key: &str) -> (StatusCode, Value) {
    app.call(
        Method::GET,
        &format!("{list}?status_cache_key={key}"),
        Some(token),
        None,
    )
    .await
}

async fn download(
    app: &TestApp,
    token: &str,
    list: &str,
    key: &str,
    ext: &str,
) -> Vec<Vec<String>> {
    app.drain_jobs().await;
    let (code, body) = status(app, token, list, key).await;
    assert_eq!(
        (code, body["status"].clone()),
        (StatusCode::OK, json!("completed")),
        "{body}"
    );
    let bytes = app
        .client
        .get(body["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    match ext {
        "csv" => read_text(ext, &bytes),
        _ => {
            let sheets = read_workbook(ext, &bytes);
            assert_eq!(sheets.len(), 1);
            read_text(ext, &bytes)
        }
    }
}

async fn users_export_honours_filters_and_scope(app: TestApp) {
    let a = create_division(&app, "Division A", "main", None).await;
    let b = create_division(&app, "Division B", "main", None).await;
    create_user(&app, a, "ada@a.test").await;
    create_user(&app, a, "alan@a.test").await;
    create_user(&app, b, "bob@b.test").await;
    let root = app.token.clone();
    for ext in ["csv", "xls", "xlsx"] {
        let key = start(
            &app,
            &root,
            "/api/v1/users/",
            &format!("fields=email&fields=division__name&format={ext}&email=A"),
        )
        .await;
        let rows = download(&app, &root, "/api/v1/users/", &key, ext).await;
        assert_eq!(
            rows,
            [
                vec!["email", "division__name"],
                vec!["ada@a.test", "Division A"],
                vec!["alan@a.test", "Division A"]
            ],
            "{ext}"
        );
    }
    // A staff member of division B exports only B's users; other staff cannot read the key.
    let (_, staff_b) = create_b2b_staff(&app.state, "staff-b@b.test", false, Some(b)).await;
    let (_, staff_a) = create_b2b_staff(&app.state, "staff-a@a.test", false, Some(a)).await;
    let key = start(&app, &staff_b, "/api/v1/users/", "fields=email&format=csv").await;
    let (code, body) = status(&app, &staff_a, "/api/v1/users/", &key).await;
    assert_eq!(
        (code, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let rows = download(&app, &staff_b, "/api/v1/users/", &key, "csv").await;
    assert_eq!(rows, [vec!["email"], vec!["bob@b.test"]]);
    let (code, _) = status(&app, &root, "/api/v1/users/", &key).await;
    assert_eq!(code, StatusCode::OK, "a superuser sees every key");
    let (code, body) = app
        .call(
            Method::GET,
            "/api/v1/users/?fields=email&fields=password",
            Some(&staff_b),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST);
    assert!(
        body["fields"][0].as_str().unwrap().contains("password"),
        "{body}"
    );
}

async fn staffs_export_flattens_stores_and_groups(app: TestApp) {
    let geo = geo(&app).await;
    let kadikoy = store(&app, geo.township, "Kadıköy").await;
    let besiktas = store(&app, geo.township, "Beşiktaş").await;
    let cashiers = group(&app, "Cashiers", &[]).await;
    let managers = group(&app, "Managers", &[]).await;
    let zoe = staff(
        &app,
        "zoe@shop.test",
        Some("zoë"),
        &[besiktas, kadikoy],
        &[managers, cashiers],
    )
    .await;
    staff(&app, "=cmd@shop.test", None, &[kadikoy], &[]).await;
    let root = app.token.clone();
    for ext in ["csv", "xls", "xlsx"] {
        let query = format!(
            "fields=username&fields=email&fields=retail_stores&fields=permission_groups&fields=current_store&format={ext}"
        );
        let key = start(&app, &root, "/api/v1/staffs/", &query).await;
        let rows = download(&app, &root, "/api/v1/staffs/", &key, ext).await;
        assert_eq!(
            rows[0],
            [
                "username",
                "email",
                "retail_stores",
                "permission_groups",
                "current_store"
            ]
        );
        assert_eq!(
            rows[1],
            [
                "zoë",
                "zoe@shop.test",
                "Kadıköy, Beşiktaş",
                "Cashiers, Managers",
                ""
            ],
            "{ext}"
        );
        assert_eq!(
            rows[2],
            ["", "'=cmd@shop.test", "Kadıköy", "", ""],
            "{ext}: formulas are neutralised"
        );
        assert_eq!(rows.len(), 3);
    }
    // The list's filters apply.
    let key = start(
        &app,
        &root,
        "/api/v1/staffs/",
        &format!("fields=id&format=csv&id={zoe}"),
    )
    .await;
    let rows = download(&app, &root, "/api/v1/staffs/", &key, "csv").await;
    assert_eq!(rows, [vec!["id".to_owned()], vec![zoe.to_string()]]);
    let (code, body) = app
        .call(
            Method::GET,
            "/api/v1/staffs/?fields=password_hash",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{body}");
}
