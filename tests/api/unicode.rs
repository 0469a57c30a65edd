//! Case-insensitive filters, lookups and uniqueness agree on SQLite and PostgreSQL for
//! non-ASCII letters (Turkish, German, French), not only for ASCII.

use kadro::db::Query;
use reqwest::StatusCode;
use serde_json::json;

use crate::b2b_divisions::create_division;
use crate::b2b_users::user_body;
use crate::helpers::TestApp;
use crate::instore_support::{geo, staff, store};
use crate::on_both_backends;

on_both_backends!(
    contains_filters_fold_unicode_case,
    uniqueness_and_lookups_fold_unicode_case,
);

const NAMES: &[&str] = &[
    "Şule", "şahin", "ŞENOL", "Çelik", "çiçek", "Müller", "MÜLLER", "Élodie", "élise", "Öykü",
    "Ada",
];

async fn contains_filters_fold_unicode_case(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    for (i, name) in NAMES.iter().enumerate() {
        Query::new(
            "INSERT INTO users (email, first_name, division_id, is_active, remote_id, date_joined) \
             VALUES ($1, $2, $3, TRUE, $4, $5)",
        )
        .bind(format!("u{i}@example.com"))
        .bind(*name)
        .bind(division)
        .bind(1000 + i as i64)
        .bind(kadro::http::time::now())
        .execute(&app.state.db)
        .await
        .unwrap();
    }
    // One and two letters (a scan on SQLite) and three or more (its trigram index).
    for (value, expected) in [
        ("ş", 3),
        ("Ş", 3),
        ("ç", 2),
        ("ÇE", 2),
        ("é", 2),
        ("ÉL", 2),
        ("ö", 1),
        ("müller", 2),
        ("MÜLL", 2),
        ("şen", 1),
        ("élo", 1),
        ("a", 2),
    ] {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("first_name", value)
            .finish();
        let (status, body) = app.get(&format!("/api/v1/users/?{query}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["count"], expected, "first_name={value}: {body}");
        assert_eq!(
            body["results"].as_array().unwrap().len(),
            expected,
            "{value}"
        );
    }
    // Other lists go through the same toolkit.
    let (_, divisions) = app.get("/api/v1/divisions/?name=MA").await;
    assert_eq!(divisions["count"], 1);
    let (_, divisions) = app.get("/api/v1/divisions/?name=%C3%87").await;
    assert_eq!(divisions["count"], 0);
}

async fn uniqueness_and_lookups_fold_unicode_case(app: TestApp) {
    let division = create_division(&app, "Main", "main", None).await;
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "ÇAĞLA@example.com"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "çağla@example.com"))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "user_already_exists");

    let geo = geo(&app).await;
    let shop = store(&app, geo.township, "Shop").await;
    staff(&app, "şule@example.com", Some("Şule"), &[shop], &[]).await;
    let (status, body) = app
        .post(
            "/api/v1/staffs/",
            json!({
                "retail_stores": [shop], "first_name": "A", "last_name": "B",
                "email": "other@example.com", "username": "şULE",
                "password": "a-good-password", "remote_id": null,
            }),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.get("username").is_some(), "{body}");
    staff(&app, "ŞULE@example.com", None, &[shop], &[]).await;
    let (status, body) = app.get("/api/v1/staffs/duplicate_email_staffs/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 2, "{body}");
}
