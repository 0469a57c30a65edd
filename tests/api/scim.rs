//! SCIM 2.0 at `/scim/v2/`: an identity provider's sequence over Instore staffs, SCIM-shaped
//! errors and who may call.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};
use crate::instore_support::{geo, send, staff, staff_token, store};
use crate::scim_support::{STAFF, assert_error, new_user, patch, scim, urlencode};
use crate::{on_both_backends, per_backend};

on_both_backends!(
    an_identity_provider_provisions_a_staff,
    bad_filters_and_bodies_are_scim_errors,
    a_taken_user_name_is_a_uniqueness_conflict,
    only_service_tokens_and_superusers_call,
    discovery_documents_describe_users,
);
per_backend!(a_service_token_provisions);

async fn an_identity_provider_provisions_a_staff(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let other = staff(&app, "other@example.com", Some("other"), &[shop], &[]).await;

    let (status, created) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("ada", shop)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["userName"], "ada");
    assert_eq!(created["externalId"], "okta-ada");
    assert_eq!(created["name"]["familyName"], "Lovelace");
    assert_eq!(created["emails"][0]["value"], "ada@example.com");
    assert_eq!(created["active"], true);
    assert_eq!(created["meta"]["location"], format!("/scim/v2/Users/{id}"));
    let staff_id: i64 = id.parse().unwrap();
    let (_, api) = app.get(&format!("/api/v1/staffs/{staff_id}/")).await;
    assert_eq!(api["username"], "ada");
    assert_eq!(api["remote_id"], "okta-ada");

    let (status, got) = scim(
        &app,
        Method::GET,
        &format!("/scim/v2/Users/{id}"),
        root,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, created);

    // The filters Okta and Entra ID send, user input bound and never SQL.
    for (filter, expected) in [
        ("userName eq \"ADA\"", vec![id.clone()]),
        ("externalId eq \"okta-ada\"", vec![id.clone()]),
        ("emails.value eq \"ada@example.com\"", vec![id.clone()]),
        ("userName eq \"nobody' OR 1=1 --\"", vec![]),
        (
            "userName sw \"o\" and active eq true",
            vec![other.to_string()],
        ),
    ] {
        let path = format!("/scim/v2/Users?filter={}", urlencode(filter));
        let (status, list) = scim(&app, Method::GET, &path, root, None).await;
        assert_eq!(status, StatusCode::OK, "{filter}: {list}");
        let ids: Vec<&str> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{filter}");
        assert_eq!(list["totalResults"], expected.len(), "{filter}");
    }
    let (_, page) = scim(
        &app,
        Method::GET,
        "/scim/v2/Users?startIndex=2&count=1",
        root,
        None,
    )
    .await;
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["startIndex"], 2);
    assert_eq!(page["Resources"][0]["id"], id);

    // PATCH active false: the existing deactivation, the staff's token refused.
    let token = staff_token(&app, staff_id).await;
    let (status, _) = send(&app, Method::GET, "/api/v1/auth/me/", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    let off = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let (status, patched) = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        root,
        Some(off),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    let (status, _) = send(&app, Method::GET, "/api/v1/auth/me/", &token, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // PATCH with paths: add, replace, remove.
    let ops = patch(json!([
        {"op": "replace", "path": "name.givenName", "value": "Augusta"},
        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "augusta@example.com"},
        {"op": "remove", "path": "externalId"},
        {"op": "Replace", "path": "active", "value": "True"},
    ]));
    let (status, patched) = scim(
        &app,
        Method::PATCH,
        &format!("/scim/v2/Users/{id}"),
        root,
        Some(ops),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["name"]["givenName"], "Augusta");
    assert_eq!(patched["emails"][0]["value"], "augusta@example.com");
    assert_eq!(patched["externalId"], Value::Null);
    assert_eq!(patched["active"], true);

    // PUT replaces what is sent; the stores stay.
    let mut put = new_user("ada.l", shop);
    put.as_object_mut().unwrap().remove(STAFF);
    put["name"]["familyName"] = json!("King");
    let (status, replaced) = scim(
        &app,
        Method::PUT,
        &format!("/scim/v2/Users/{id}"),
        root,
        Some(put),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["userName"], "ada.l");
    assert_eq!(replaced["name"]["familyName"], "King");
    assert_eq!(replaced[STAFF]["retailStores"], json!([shop.to_string()]));

    // DELETE deactivates (204); the staff stays, inactive, but SCIM no longer finds it.
    let user_path = format!("/scim/v2/Users/{id}");
    let (status, _) = scim(&app, Method::DELETE, &user_path, root, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, api) = app.get(&format!("/api/v1/staffs/{staff_id}/")).await;
    assert_eq!(api["is_active"], false);
    let gone = [
        (Method::GET, None),
        (Method::PUT, Some(new_user("ada.l", shop))),
        (
            Method::PATCH,
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        ),
        (Method::DELETE, None),
    ];
    for (method, body) in gone {
        let (status, body) = scim(&app, method.clone(), &user_path, root, body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {body}");
        assert_error(&body, "404", None);
    }
    let listed = |list: &Value| {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["id"] == json!(id))
    };
    let (_, list) = scim(&app, Method::GET, "/scim/v2/Users", root, None).await;
    assert!(!listed(&list), "{list}");
    let (_, api) = app.get(&format!("/api/v1/staffs/{staff_id}/")).await;
    assert_eq!(
        api["is_active"], false,
        "the PATCH through SCIM changed nothing"
    );
    // Reactivated through the staff API, it is back.
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staffs/{staff_id}/"),
            root,
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, back) = scim(&app, Method::GET, &user_path, root, None).await;
    assert_eq!(
        (status, back["active"].clone()),
        (StatusCode::OK, json!(true))
    );
    let (_, list) = scim(&app, Method::GET, "/scim/v2/Users", root, None).await;
    assert!(listed(&list), "{list}");
    for method in [Method::GET, Method::DELETE] {
        let (status, body) = scim(&app, method, "/scim/v2/Users/99999", root, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_error(&body, "404", None);
    }
}

async fn bad_filters_and_bodies_are_scim_errors(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    for filter in [
        "userName",
        "userName xx \"a\"",
        "password eq \"a\"",
        "userName eq \"a",
        "(userName eq \"a\"",
        "userName eq \"a\" or",
        "emails[type eq \"work\"",
    ] {
        let path = format!("/scim/v2/Users?filter={}", urlencode(filter));
        let (status, body) = scim(&app, Method::GET, &path, root, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{filter}");
        assert_error(&body, "400", Some("invalidFilter"));
    }
    let before = app.count("SELECT COUNT(*) FROM staffs").await;
    let mut bad_email = new_user("bob", shop);
    bad_email["emails"] = json!([{"value": "not-an-address"}]);
    let mut no_store = new_user("bob", shop);
    no_store.as_object_mut().unwrap().remove(STAFF);
    for body in [bad_email, no_store, json!({"userName": 5})] {
        let (status, answer) = scim(&app, Method::POST, "/scim/v2/Users", root, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_error(&answer, "400", Some("invalidValue"));
    }
    let (status, answer) = scim(&app, Method::POST, "/scim/v2/Users", root, Some(json!([1]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, "400", Some("invalidSyntax"));
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, before);

    // What every staff has cannot be removed; removing it changes nothing.
    let (_, ada) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("ada", shop)),
    )
    .await;
    let path = format!("/scim/v2/Users/{}", ada["id"].as_str().unwrap());
    for attribute in [
        "active",
        "name",
        "name.familyName",
        "emails",
        "userName",
        STAFF,
    ] {
        let ops = patch(json!([{"op": "remove", "path": attribute}]));
        let (status, answer) = scim(&app, Method::PATCH, &path, root, Some(ops)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{attribute}: {answer}");
        assert_error(&answer, "400", Some("mutability"));
    }
    let (_, after) = scim(&app, Method::GET, &path, root, None).await;
    assert_eq!(after, ada);
    // A search of several resource types at once is not implemented.
    let (status, answer) = scim(
        &app,
        Method::POST,
        "/scim/v2/.search",
        root,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED);
    assert_error(&answer, "501", None);
}

async fn a_taken_user_name_is_a_uniqueness_conflict(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    staff(&app, "taken@example.com", Some("taken"), &[shop], &[]).await;
    let before = app.count("SELECT COUNT(*) FROM staffs").await;
    let (status, body) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        root,
        Some(new_user("TAKEN", shop)),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, "409", Some("uniqueness"));
    assert_eq!(app.count("SELECT COUNT(*) FROM staffs").await, before);
}

async fn only_service_tokens_and_superusers_call(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let plain = staff(&app, "plain@example.com", Some("plain"), &[shop], &[]).await;
    let plain = staff_token(&app, plain).await;
    for (token, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong"), StatusCode::UNAUTHORIZED),
        (Some(plain.as_str()), StatusCode::FORBIDDEN),
    ] {
        for path in ["/scim/v2/Users", "/scim/v2/ServiceProviderConfig"] {
            let (status, body) = scim(&app, Method::GET, path, token, None).await;
            assert_eq!(status, expected, "{path} {token:?}");
            assert_error(&body, expected.as_str(), None);
        }
        let (status, _) = scim(
            &app,
            Method::POST,
            "/scim/v2/Users",
            token,
            Some(new_user("eve", shop)),
        )
        .await;
        assert_eq!(status, expected);
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM staffs WHERE username = 'eve'")
            .await,
        0
    );
}

async fn discovery_documents_describe_users(app: TestApp) {
    let root = Some(app.token.as_str());
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let (status, config) = scim(
        &app,
        Method::GET,
        "/scim/v2/ServiceProviderConfig",
        root,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["sort"]["supported"], true);
    let (_, types) = scim(&app, Method::GET, "/scim/v2/ResourceTypes", root, None).await;
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(types["Resources"][1]["endpoint"], "/Groups");
    let (_, schemas) = scim(&app, Method::GET, "/scim/v2/Schemas", root, None).await;
    let names: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["User", "Group", "Staff"]);
    // What every staff has is required; the stores that exist are the extension's suggestions.
    let user_attributes = &schemas["Resources"][0]["attributes"];
    let required: Vec<&str> = user_attributes
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["required"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(required, ["userName", "name", "emails", "active"]);
    let stores = &schemas["Resources"][2]["attributes"][0];
    assert_eq!(stores["name"], "retailStores");
    assert_eq!(stores["canonicalValues"], json!([shop.to_string()]));
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][0]["required"],
        true
    );
    let (status, group) = scim(
        &app,
        Method::GET,
        "/scim/v2/ResourceTypes/Group",
        root,
        None,
    )
    .await;
    assert_eq!((status, &group), (StatusCode::OK, &types["Resources"][1]));
    let user = "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User";
    let (status, schema) = scim(&app, Method::GET, user, root, None).await;
    assert_eq!(
        (status, &schema),
        (StatusCode::OK, &schemas["Resources"][0])
    );
    for path in [
        "/scim/v2/ResourceTypes/Staff",
        "/scim/v2/Schemas/urn:example:nothing",
        "/scim/v2/Nothing/here",
    ] {
        let (status, body) = scim(&app, Method::GET, path, root, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_error(&body, "404", None);
    }
}

async fn a_service_token_provisions(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.service_tokens = vec![kadro::config::Secret::new("scim-service-token".to_owned())];
    })
    .await
    else {
        return;
    };
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let (status, body) = scim(
        &app,
        Method::POST,
        "/scim/v2/Users",
        Some("scim-service-token"),
        Some(new_user("svc", shop)),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
