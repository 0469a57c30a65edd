//! `/api/v1/staffs/`: the examples of seeds 002 and 003 as written, create/PUT/PATCH/DELETE
//! rules, duplicate emails, usernames, permission info, and bad input that writes nothing.

use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::helpers::sorted_keys;
use crate::instore_support::{
    PASSWORD, assert_shape, assert_timestamp, created, geo, group, id, staff, store,
};
use crate::on_both_backends;

on_both_backends!(
    seed_examples_work_as_written,
    create_requires_the_fields_of_seed_003,
    permission_info_lists_what_the_groups_grant,
    lists_filter_and_nest,
);

fn seed_list() -> Value {
    serde_json::from_str(include_str!("fixtures/seed_002_staff_list.json")).unwrap()
}

fn seed_detail() -> Value {
    serde_json::from_str(include_str!("fixtures/seed_002_staff_detail.json")).unwrap()
}

fn store_ids(staff: &Value) -> Vec<i64> {
    staff["retail_stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect()
}

async fn seed_examples_work_as_written(app: TestApp) {
    // Stores 1..=37 and groups 1..=3 exist, so the seeds' ids [3, 5, 37] and [1, 2, 3] do.
    let g = geo(&app).await;
    for n in 1..=37 {
        store(&app, g.township, &format!("Shop {n}")).await;
    }
    for name in ["Cashiers", "Managers", "Stock"] {
        group(&app, name, &[]).await;
    }
    // Seed 002's create example as written (its email address is "[email protected]" in the
    // seed, an address hidden by the page it was copied from; any real one stands in): its
    // password is refused by the default password policy...
    let mut example = json!({
        "retail_stores": [3, 5, 37],
        "first_name": "John",
        "last_name": "Doe",
        "email": "john.doe@example.com",
        "password": "12345",
        "is_active": true,
        "remote_id": "1",
        "permission_groups": [1, 2, 3]
    });
    let (status, body) = app.post("/api/v1/staffs/", example.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({"password": [
            "This password is too short. It must contain at least 8 characters.",
            "This password is entirely numeric."
        ]})
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, 0);
    // ...and with an acceptable one it works.
    example["password"] = json!(PASSWORD);
    let staff = created(&app, "/api/v1/staffs/", example).await;
    assert_shape(&seed_detail(), &staff, "created");
    assert_eq!(store_ids(&staff), [3, 5, 37]);
    assert_eq!(staff["permission_groups"], json!([1, 2, 3]));
    assert_eq!(
        (
            staff["remote_id"].clone(),
            staff["username"].clone(),
            staff["current_store"].clone()
        ),
        (json!("1"), Value::Null, Value::Null)
    );
    assert_eq!(
        (staff["is_staff"].clone(), staff["is_superuser"].clone()),
        (json!(false), json!(false))
    );
    assert!(staff.get("password").is_none() && staff.get("password_hash").is_none());
    for field in ["date_joined", "created_date", "modified_date"] {
        assert_timestamp(&staff[field]);
    }
    let path = format!("/api/v1/staffs/{}/", id(&staff));

    let put = json!({
        "retail_stores": [3, 5, 37],
        "first_name": "John",
        "last_name": "Doe",
        "email": "john.doe@example.com",
        "is_active": true
    });
    let (status, body) = app
        .call(Method::PUT, &path, Some(&app.token), Some(put))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_shape(&seed_detail(), &body, "put");
    assert_eq!(
        body["permission_groups"],
        json!([1, 2, 3]),
        "absent from PUT: unchanged"
    );
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"retail_stores": [3, 5, 37]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(store_ids(&body), [3, 5, 37]);

    let second = staff_with(&app, &[3, 5], &[1]).await;
    let (status, list) = app.get("/api/v1/staffs/").await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&seed_list(), &list, "list");
    assert_eq!(list["count"], 2);
    assert_eq!(list["results"][1]["id"], second);
    let (status, detail) = app
        .get(&format!("/api/v1/staffs/{second}/?format=json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&seed_detail(), &detail, "detail");
    assert_eq!(
        app.get(&format!("/api/v1/staffs/{second}/?format=api"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (status, body) = app
        .call(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let (_, gone) = app.get(&path).await;
    assert_eq!(gone["is_active"], false, "deactivated, not deleted");
    assert_eq!(
        app.get("/api/v1/staffs/999999/").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/staffs/999999/",
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn staff_with(app: &TestApp, stores: &[i64], groups: &[i64]) -> i64 {
    staff(
        app,
        &format!("s{}@example.com", stores.len() * 10 + groups.len()),
        None,
        stores,
        groups,
    )
    .await
}

async fn create_requires_the_fields_of_seed_003(app: TestApp) {
    let (status, body) = app.post("/api/v1/staffs/", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "retail_stores": ["This field is required."],
            "first_name": ["This field is required."],
            "last_name": ["This field is required."],
            "email": ["This field is required."],
            "password": ["This field is required."],
            "remote_id": ["This field is required."],
        })
    );
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    // remote_id may be null, but the key is required; is_active defaults to true.
    let staff = created(
        &app,
        "/api/v1/staffs/",
        json!({
            "retail_stores": [shop],
            "first_name": "x".repeat(30),
            "last_name": "y".repeat(150),
            "email": "edge@example.com",
            "password": PASSWORD,
            "remote_id": null,
        }),
    )
    .await;
    assert_eq!(
        (staff["remote_id"].clone(), staff["is_active"].clone()),
        (Value::Null, json!(true))
    );
    assert_eq!(staff["permission_groups"], json!([]));
}

async fn permission_info_lists_what_the_groups_grant(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let grp = group(
        &app,
        "Readers",
        &[
            ("instore:staff-list", "GET"),
            ("instore:staff-detail", "GET"),
        ],
    )
    .await;
    let other = group(&app, "Also list", &[("instore:staff-list", "GET")]).await;
    let sid = staff(&app, "r@example.com", None, &[shop], &[grp, other]).await;
    let (status, info) = app
        .get(&format!("/api/v1/staffs/{sid}/list_staff_permission_info/"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let info = info.as_array().unwrap();
    assert_eq!(info.len(), 2, "each permission once");
    let paths: Vec<(&str, &str)> = info
        .iter()
        .map(|p| (p["path"].as_str().unwrap(), p["method"].as_str().unwrap()))
        .collect();
    assert!(
        paths.contains(&("instore:staff-list", "GET"))
            && paths.contains(&("instore:staff-detail", "GET"))
    );
    let listing = info
        .iter()
        .find(|p| p["path"] == "instore:staff-list")
        .unwrap();
    assert_eq!(listing["permission_groups"], json!([grp, other]));
    assert_eq!(sorted_keys(listing).len(), 10);

    let bare = staff(&app, "b@example.com", None, &[shop], &[]).await;
    let (_, info) = app
        .get(&format!(
            "/api/v1/staffs/{bare}/list_staff_permission_info/"
        ))
        .await;
    assert_eq!(info, json!([]));
    kadro::db::Query::new("UPDATE staffs SET is_superuser = TRUE WHERE id = $1")
        .bind(bare)
        .execute(&app.state.db)
        .await
        .unwrap();
    let (_, info) = app
        .get(&format!(
            "/api/v1/staffs/{bare}/list_staff_permission_info/"
        ))
        .await;
    assert_eq!(
        info.as_array().unwrap().len(),
        kadro::instore::routes::ENDPOINTS.len()
    );
    assert_eq!(
        app.get("/api/v1/staffs/999999/list_staff_permission_info/")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn lists_filter_and_nest(app: TestApp) {
    let g = geo(&app).await;
    let stores: Vec<i64> = {
        let mut v = Vec::new();
        for n in 0..3 {
            v.push(store(&app, g.township, &format!("Shop {n}")).await);
        }
        v
    };
    let grp = group(&app, "Team", &[]).await;
    for n in 0..25 {
        let picks = [stores[n % 3], stores[(n + 1) % 3]];
        let groups: &[i64] = if n % 2 == 0 { &[grp] } else { &[] };
        staff(
            &app,
            &format!("staff{n:02}@example.com"),
            Some(&format!("user{n:02}")),
            &picks,
            groups,
        )
        .await;
    }
    let (status, page) = app.get("/api/v1/staffs/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (
            page["count"].clone(),
            page["results"].as_array().unwrap().len()
        ),
        (json!(25), 20)
    );
    assert_eq!(page["next"], json!(app.url("/api/v1/staffs/?page=2")));
    for item in page["results"].as_array().unwrap() {
        assert_shape(&seed_detail(), item, "item");
        assert_eq!(item["retail_stores"].as_array().unwrap().len(), 2);
        assert_eq!(
            item["retail_stores"][0]["address"]["township"]["city"]["id"],
            g.city
        );
    }
    // Three staffs are staff members: the boolean filter must tell them apart.
    let promoted = Query::new(
        "UPDATE staffs SET is_staff = $1 WHERE id IN (SELECT id FROM staffs ORDER BY id LIMIT 3)",
    )
    .bind(true)
    .execute(&app.state.db)
    .await
    .unwrap();
    assert_eq!(promoted, 3);
    for (query, count) in [
        ("email=STAFF0", 10),
        ("username=user1", 10),
        (&format!("retail_stores={}", stores[0]) as &str, 17),
        (&format!("permission_groups={grp}") as &str, 13),
        ("is_active=false", 0),
        ("is_staff=0", 22),
        ("is_staff=1", 3),
        ("is_staff=true", 3),
        ("id=1", 1),
        ("remote_id=r-staff03@example.com", 1),
        ("current_store=1", 0),
        ("email=%25", 0),
    ] {
        let (status, body) = app.get(&format!("/api/v1/staffs/?{query}")).await;
        assert_eq!(
            (status, body["count"].clone()),
            (StatusCode::OK, json!(count)),
            "{query}"
        );
    }
    let (status, body) = app
        .get("/api/v1/staffs/?is_active=perhaps&retail_stores=x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "is_active": ["Select a valid choice. perhaps is not one of the available choices."],
            "retail_stores": ["Enter a number."],
        })
    );
    assert_eq!(
        app.get("/api/v1/staffs/?page=3").await.0,
        StatusCode::NOT_FOUND
    );
}
