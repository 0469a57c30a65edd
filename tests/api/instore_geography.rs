//! Countries, cities, townships and retail stores: CRUD, the nested shapes of seed 002, and
//! bad input answered with 4xx and nothing written.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::instore_support::{assert_shape, assert_timestamp, created, geo, id, store};
use crate::on_both_backends;

on_both_backends!(
    countries_crud_and_codes,
    cities_and_townships_nest_and_refuse_unknown_parents,
    stores_have_the_nested_shape_of_seed_002,
    store_updates_and_deletes,
    geography_bad_input_writes_nothing,
);

fn seed_store() -> Value {
    let list: Value =
        serde_json::from_str(include_str!("fixtures/seed_002_staff_list.json")).unwrap();
    list["results"][0]["retail_stores"][0].clone()
}

async fn countries_crud_and_codes(app: TestApp) {
    let tr = created(
        &app,
        "/api/v1/countries/",
        json!({"name": "Türkiye", "code": "tr", "omnitron_id": 1}),
    )
    .await;
    let keys = crate::helpers::sorted_keys(&tr);
    assert_eq!(
        keys,
        [
            "code",
            "created_date",
            "id",
            "modified_date",
            "name",
            "omnitron_id"
        ]
    );
    assert_eq!(
        (tr["code"].clone(), tr["name"].clone()),
        (json!("TR"), json!("Türkiye"))
    );
    assert_timestamp(&tr["created_date"]);
    let path = format!("/api/v1/countries/{}/", id(&tr));

    let (status, body) = app
        .post("/api/v1/countries/", json!({"name": "Again", "code": "TR"}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": ["country with this code already exists."]})
        )
    );
    let (status, body) = app
        .post(
            "/api/v1/countries/",
            json!({"name": "Nowhere", "code": "XX"}),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": ["\"XX\" is not a valid ISO 3166-1 alpha-2 country code."]})
        )
    );
    let (status, body) = app.post("/api/v1/countries/", json!({})).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"name": ["This field is required."], "code": ["This field is required."]})
        )
    );

    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"omnitron_id": null})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["omnitron_id"].clone(), body["code"].clone()),
        (Value::Null, json!("TR"))
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Turkey"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"code": ["This field is required."]})
        )
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Turkey", "code": "TR", "omnitron_id": 7})),
        )
        .await;
    assert_eq!(
        (status, body["name"].clone(), body["omnitron_id"].clone()),
        (StatusCode::OK, json!("Turkey"), json!(7))
    );

    created(
        &app,
        "/api/v1/countries/",
        json!({"name": "Deutschland", "code": "DE"}),
    )
    .await;
    let (_, list) = app.get("/api/v1/countries/?name=TURK").await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["code"], "TR");
    let (_, list) = app.get("/api/v1/countries/?code=de").await;
    assert_eq!(list["count"], 1);
    let (_, list) = app.get("/api/v1/countries/?omnitron_id=7").await;
    assert_eq!(list["count"], 1);
    let (status, body) = app.get("/api/v1/countries/?omnitron_id=x").await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"omnitron_id": ["Enter a number."]})
        )
    );

    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app.get(&path).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn cities_and_townships_nest_and_refuse_unknown_parents(app: TestApp) {
    let g = geo(&app).await;
    let (status, city) = app.get(&format!("/api/v1/cities/{}", g.city)).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&seed_store()["address"]["township"]["city"], &city, "city");
    assert_eq!(city["country"], g.country);

    let (status, township) = app.get(&format!("/api/v1/townships/{}/", g.township)).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&seed_store()["address"]["township"], &township, "township");
    assert_eq!(
        (
            township["city"]["id"].clone(),
            township["omnitron_id"].clone()
        ),
        (json!(g.city), json!(16))
    );

    let (status, body) = app
        .post("/api/v1/cities/", json!({"name": "Lost", "country": 999}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"country": ["Invalid pk \"999\" - object does not exist."]})
        )
    );
    let (status, body) = app
        .post("/api/v1/townships/", json!({"name": "Lost", "city": 999}))
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"city": ["Invalid pk \"999\" - object does not exist."]})
        )
    );

    let other_city = id(&created(
        &app,
        "/api/v1/cities/",
        json!({"name": "Izmir", "country": g.country}),
    )
    .await);
    let (status, moved) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/townships/{}/", g.township),
            Some(&app.token),
            Some(json!({"city": other_city})),
        )
        .await;
    assert_eq!(
        (status, moved["city"]["name"].clone()),
        (StatusCode::OK, json!("Izmir"))
    );
    let (_, list) = app
        .get(&format!("/api/v1/townships/?city={other_city}"))
        .await;
    assert_eq!(list["count"], 1);
    let (_, list) = app
        .get(&format!("/api/v1/cities/?country={}&name=test", g.country))
        .await;
    assert_eq!(list["count"], 1);

    // Still referenced: refused, and still there.
    for (path, message) in [
        (
            format!("/api/v1/countries/{}/", g.country),
            "This country cannot be deleted while cities refer to it.",
        ),
        (
            format!("/api/v1/cities/{other_city}/"),
            "This city cannot be deleted while townships refer to it.",
        ),
    ] {
        let (status, body) = app
            .call(Method::DELETE, &path, Some(&app.token), None)
            .await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({"detail": message})),
            "{path}"
        );
        assert_eq!(app.get(&path).await.0, StatusCode::OK);
    }
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/cities/{}/", g.city),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn stores_have_the_nested_shape_of_seed_002(app: TestApp) {
    let g = geo(&app).await;
    let store_id = store(&app, g.township, "Shop 2").await;
    let (status, body) = app.get(&format!("/api/v1/retail_stores/{store_id}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert_shape(&seed_store(), &body, "store");
    assert_eq!(body["address"]["retail_store"], store_id);
    assert_eq!(body["address"]["township"]["id"], g.township);
    assert_eq!(body["address"]["township"]["city"]["country"], g.country);
    assert_eq!(
        (body["is_active"].clone(), body["fast_delivery"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(body["address"]["postcode"], Value::Null);
    for ts in [
        &body["created_date"],
        &body["address"]["modified_date"],
        &body["address"]["township"]["city"]["created_date"],
    ] {
        assert_timestamp(ts);
    }
    let (_, list) = app.get("/api/v1/retail_stores/").await;
    assert_eq!(list["count"], 1);
    assert_shape(&seed_store(), &list["results"][0], "list");
    for (query, count) in [
        ("name=shop", 1),
        ("is_active=false", 0),
        ("remote_id=shop-2", 1),
        (&format!("township={}", g.township) as &str, 1),
        (&format!("city={}", g.city + 1000) as &str, 0),
    ] {
        let (status, list) = app.get(&format!("/api/v1/retail_stores/?{query}")).await;
        assert_eq!(
            (status, list["count"].clone()),
            (StatusCode::OK, json!(count)),
            "{query}"
        );
    }
}

async fn store_updates_and_deletes(app: TestApp) {
    let g = geo(&app).await;
    let store_id = store(&app, g.township, "Shop 2").await;
    let path = format!("/api/v1/retail_stores/{store_id}/");
    let (status, body) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.token),
            Some(json!({"fast_delivery": true, "address": {"postcode": "34000"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["fast_delivery"], true);
    assert_eq!(body["address"]["postcode"], "34000");
    assert_eq!(
        body["address"]["line"], "Shop 2 Address",
        "the rest of the address is kept"
    );

    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Shop"})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"address": ["This field is required."]})
        )
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Shop", "address": {"line": "New line"}})),
        )
        .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"address": ["township: This field is required."]})
        )
    );
    let (status, body) = app
        .call(
            Method::PUT,
            &path,
            Some(&app.token),
            Some(json!({"name": "Local Warehouse A", "address": {"line": "Warehouse", "township": g.township}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["name"].clone(), body["fast_delivery"].clone()),
        (json!("Local Warehouse A"), json!(true))
    );
    assert_eq!(
        body["address"]["id"], store_id,
        "one address per store, kept"
    );

    let (status, _) = app
        .call(Method::DELETE, &path, Some(&app.token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.count("SELECT COUNT(*) FROM addresses").await, 0);
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
    // With its store gone the township may go too.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/townships/{}/", g.township),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn geography_bad_input_writes_nothing(app: TestApp) {
    let g = geo(&app).await;
    let before = counts(&app).await;
    let long = "x".repeat(256);
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "/api/v1/countries/",
            json!({"name": long, "code": "FR"}),
            json!({"name": ["Ensure this field has no more than 255 characters."]}),
        ),
        (
            "/api/v1/countries/",
            json!({"name": "France", "code": 33}),
            json!({"code": ["Not a valid string."]}),
        ),
        (
            "/api/v1/countries/",
            json!({"name": null, "code": "FR"}),
            json!({"name": ["This field may not be null."]}),
        ),
        (
            "/api/v1/countries/",
            json!({"name": "   ", "code": "FR", "omnitron_id": -1}),
            json!({"name": ["This field may not be blank."], "omnitron_id": ["Ensure this value is greater than or equal to 0."]}),
        ),
        (
            "/api/v1/cities/",
            json!({"name": "Ankara", "country": "one"}),
            json!({"country": ["A valid integer is required."]}),
        ),
        (
            "/api/v1/cities/",
            json!({"name": "A\u{0}B", "country": g.country}),
            json!({"name": ["Null characters are not allowed."]}),
        ),
        (
            "/api/v1/townships/",
            json!({"name": "Çankaya", "city": g.city, "omnitron_id": "7"}),
            json!({"omnitron_id": ["A valid integer is required."]}),
        ),
        (
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "address": {"township": 999, "line": "l"}}),
            json!({"address": ["township: Invalid pk \"999\" - object does not exist."]}),
        ),
        (
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "email": "not-an-email", "address": {"township": g.township}}),
            json!({"email": ["Enter a valid email address."], "address": ["line: This field is required."]}),
        ),
        (
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "address": {"township": g.township, "line": "l", "postcode": "1".repeat(33)}}),
            json!({"address": ["postcode: Ensure this field has no more than 32 characters."]}),
        ),
        (
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "address": "Main street"}),
            json!({"address": ["Invalid data. Expected a dictionary."]}),
        ),
        (
            "/api/v1/retail_stores/",
            json!({"name": "Shop", "is_active": "yes", "address": {}}),
            json!({"is_active": ["Must be a valid boolean."], "address": ["township: This field is required.", "line: This field is required."]}),
        ),
    ];
    for (path, body, expected) in cases {
        let (status, answer) = app.post(path, body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, expected),
            "{path} {body}"
        );
    }
    // A body over 1 MiB.
    let huge = json!({"name": "x".repeat(1024 * 1024 + 1), "code": "FR"});
    assert_eq!(
        app.post("/api/v1/countries/", huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(counts(&app).await, before);

    // SQL- and formula-looking text is stored and returned as given.
    for name in [
        "'); DROP TABLE countries; --",
        "=HYPERLINK(\"http://x\")",
        "+cmd|' /C calc'!A0",
    ] {
        let city = created(
            &app,
            "/api/v1/cities/",
            json!({"name": name, "country": g.country}),
        )
        .await;
        assert_eq!(city["name"], name);
        let (_, read) = app.get(&format!("/api/v1/cities/{}/", id(&city))).await;
        assert_eq!(read["name"], name);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM countries").await, 1);
}

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "countries",
        "cities",
        "townships",
        "retail_stores",
        "addresses",
    ] {
        out.push(app.count(&format!("SELECT COUNT(*) FROM {table}")).await);
    }
    out
}
