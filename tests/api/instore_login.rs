//! Staff login, staff tokens, password change, deactivation, and the wall between the B2B and
//! Instore APIs.

use kadro::config::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, create_b2b_staff};
use crate::instore_support::{
    PASSWORD, assert_shape, assert_timestamp, geo, group, id, login, make_superuser_staff, send,
    staff, staff_token, store,
};
use crate::on_both_backends;

on_both_backends!(
    login_by_username_or_email_sets_current_store,
    login_failures_look_alike,
    login_rules_and_bad_input,
    change_password_then_login,
    deactivation_revokes_tokens_and_refuses_login,
    accounts_stay_in_their_own_api,
    demo_data_set_logs_in,
);

const BAD_CREDENTIALS: &str = "Unable to log in with provided credentials.";

fn seed_detail() -> Value {
    serde_json::from_str(include_str!("fixtures/seed_002_staff_detail.json")).unwrap()
}

async fn login_by_username_or_email_sets_current_store(app: TestApp) {
    let g = geo(&app).await;
    let (a, b) = (
        store(&app, g.township, "A").await,
        store(&app, g.township, "B").await,
    );
    let readers = group(&app, "Readers", &[("instore:staff-detail", "GET")]).await;
    let sid = staff(&app, "jane@example.com", Some("jane"), &[a, b], &[readers]).await;

    let (status, body) = login(
        &app,
        json!({"username": "JANE", "password": PASSWORD, "retail_store": b}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys = crate::helpers::sorted_keys(&body);
    assert_eq!(keys, ["staff", "token"]);
    let token = body["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 40);
    let staff_out = &body["staff"];
    assert_shape(&seed_detail(), staff_out, "login staff");
    assert_eq!(staff_out["id"], sid);
    assert_eq!(staff_out["current_store"]["id"], b);
    assert_shape(
        &seed_detail()["retail_stores"][0],
        &staff_out["current_store"],
        "current_store",
    );
    assert_timestamp(&staff_out["last_login"]);
    assert_eq!(staff_out["last_login"], staff_out["modified_date"]);

    // The token works where the staff's groups allow, and nowhere else.
    let (status, me) = send(
        &app,
        Method::GET,
        &format!("/api/v1/staffs/{sid}/"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        (status, me["current_store"]["name"].clone()),
        (StatusCode::OK, json!("B"))
    );
    let (status, _) = send(&app, Method::GET, "/api/v1/staffs/", &token, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, me) = send(&app, Method::GET, "/api/v1/auth/me/", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["account_type"].clone(), me["id"].clone()),
        (json!("staff"), json!(sid))
    );
    assert_eq!(me["current_store"]["id"], b);
    assert!(me.get("password").is_none());

    // By email (case-insensitive), at the other store.
    let (status, body) = login(
        &app,
        json!({"email": "Jane@Example.COM", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["staff"]["current_store"]["id"], a);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_tokens WHERE account_kind = 'staff'")
            .await,
        2
    );

    // Logging out revokes the presented token only.
    let (status, _) = send(&app, Method::POST, "/api/v1/auth/logout/", &token, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", &token, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let other = body["token"].as_str().unwrap();
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", other, None)
            .await
            .0,
        StatusCode::OK
    );
}

async fn login_failures_look_alike(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    staff(&app, "ok@example.com", Some("ok"), &[shop], &[]).await;
    let gone = staff(&app, "gone@example.com", Some("gone"), &[shop], &[]).await;
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/staffs/{gone}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let tokens = app.count("SELECT COUNT(*) FROM api_tokens").await;
    let expected = json!({"non_field_errors": [BAD_CREDENTIALS]});
    for body in [
        json!({"username": "ok", "password": "wrong-password", "retail_store": shop}),
        json!({"username": "nobody", "password": PASSWORD, "retail_store": shop}),
        json!({"email": "nobody@example.com", "password": PASSWORD, "retail_store": shop}),
        json!({"username": "gone", "password": PASSWORD, "retail_store": shop}),
        json!({"email": "gone@example.com", "password": PASSWORD, "retail_store": shop}),
        json!({"username": "' OR 1=1 --", "password": "' OR ''='", "retail_store": shop}),
        // Credentials are checked before the store, so a wrong store reveals nothing either.
        json!({"username": "nobody", "password": PASSWORD, "retail_store": 999}),
    ] {
        assert_eq!(
            login(&app, body.clone()).await,
            (StatusCode::BAD_REQUEST, expected.clone()),
            "{body}"
        );
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM api_tokens").await, tokens);
}

async fn login_rules_and_bad_input(app: TestApp) {
    let g = geo(&app).await;
    let (a, b) = (
        store(&app, g.township, "A").await,
        store(&app, g.township, "B").await,
    );
    staff(&app, "shared@example.com", Some("first"), &[a], &[]).await;
    let second = staff(&app, "SHARED@example.com", None, &[a], &[]).await;
    let before = app.count("SELECT COUNT(*) FROM api_tokens").await;

    let (status, body) = login(
        &app,
        json!({"email": "shared@example.com", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"email": ["Several staffs share this email address; log in with your username instead."]})
        )
    );
    let (status, body) = login(
        &app,
        json!({"username": "first", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the username settles it: {body}");

    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/staffs/{second}/"),
            Some(&app.token),
            Some(json!({"username": "second"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = login(
        &app,
        json!({"username": "second", "password": PASSWORD, "retail_store": b}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"retail_store": ["The staff is not assigned to this retail store."]})
        )
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/retail_stores/{a}/"),
            Some(&app.token),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = login(
        &app,
        json!({"username": "second", "password": PASSWORD, "retail_store": a}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"retail_store": ["This retail store is not active."]})
        )
    );

    for (body, expected) in [
        (
            json!({}),
            json!({
                "password": ["This field is required."],
                "retail_store": ["This field is required."],
                "non_field_errors": ["Must include \"username\" or \"email\"."],
            }),
        ),
        (
            json!({"username": "second", "password": "", "retail_store": a}),
            json!({"password": ["This field may not be blank."]}),
        ),
        (
            json!({"username": "second", "password": PASSWORD, "retail_store": "a"}),
            json!({"retail_store": ["A valid integer is required."]}),
        ),
        (
            json!({"username": 5, "password": PASSWORD, "retail_store": a}),
            json!({"username": ["Not a valid string."]}),
        ),
        (
            json!({"username": "x\u{0}", "password": PASSWORD, "retail_store": a}),
            json!({"username": ["Null characters are not allowed."]}),
        ),
        (
            json!({"username": "second", "password": "p".repeat(5000), "retail_store": a}),
            json!({"password": ["Ensure this field has no more than 4096 characters."]}),
        ),
    ] {
        assert_eq!(
            login(&app, body.clone()).await,
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_tokens").await,
        before + 1
    );
}

async fn change_password_then_login(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "cp@example.com", Some("cp"), &[shop], &[]).await;
    let (status, session) = login(
        &app,
        json!({"username": "cp", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let old_token = session["token"].as_str().unwrap().to_owned();

    let bad = [
        (
            json!({}),
            json!({"staff": ["This field is required."], "new_password": ["This field is required."]}),
        ),
        (
            json!({"staff": 999999, "new_password": "another-Pass-77"}),
            json!({"staff": ["Invalid pk \"999999\" - object does not exist."]}),
        ),
        (
            json!({"staff": sid, "new_password": "123"}),
            json!({"new_password": [
                "This password is too short. It must contain at least 8 characters.",
                "This password is entirely numeric."
            ]}),
        ),
        (
            json!({"staff": "me", "new_password": "another-Pass-77"}),
            json!({"staff": ["A valid integer is required."]}),
        ),
    ];
    for (body, expected) in bad {
        assert_eq!(
            app.post("/api/v1/staffs/change_password/", body.clone())
                .await,
            (StatusCode::BAD_REQUEST, expected),
            "{body}"
        );
    }
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", &old_token, None)
            .await
            .0,
        StatusCode::OK
    );

    let (status, body) = app
        .post(
            "/api/v1/staffs/change_password/",
            json!({"staff": sid, "new_password": "another-Pass-77"}),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    // Logged out everywhere; the old password no longer works, the new one does.
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", &old_token, None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = login(
        &app,
        json!({"username": "cp", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": [BAD_CREDENTIALS]})
        )
    );
    let (status, body) = login(
        &app,
        json!({"username": "cp", "password": "another-Pass-77", "retail_store": shop}),
    )
    .await;
    assert_eq!((status, id(&body["staff"])), (StatusCode::OK, sid));
}

async fn deactivation_revokes_tokens_and_refuses_login(app: TestApp) {
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "d@example.com", Some("d"), &[shop], &[]).await;
    let (_, session) = login(
        &app,
        json!({"username": "d", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    let token = session["token"].as_str().unwrap().to_owned();
    let (status, body) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/staffs/{sid}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    let left = app
        .count(&format!(
            "SELECT COUNT(*) FROM api_tokens WHERE account_kind = 'staff' AND account_id = {sid}"
        ))
        .await;
    assert_eq!(left, 0);
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", &token, None).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "Invalid token."})
        )
    );
    let (_, after) = app.get(&format!("/api/v1/staffs/{sid}/")).await;
    assert_eq!(
        (after["is_active"].clone(), after["current_store"].clone()),
        (json!(false), Value::Null)
    );
    let (status, body) = login(
        &app,
        json!({"username": "d", "password": PASSWORD, "retail_store": shop}),
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": [BAD_CREDENTIALS]})
        )
    );
    // A token that outlived deactivation (written behind kadro's back) is still refused.
    let stray = staff_token(&app, sid).await;
    assert_eq!(
        send(&app, Method::GET, "/api/v1/auth/me/", &stray, None).await,
        (
            StatusCode::UNAUTHORIZED,
            json!({"detail": "User inactive or deleted."})
        )
    );
    // Deleting again is harmless.
    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/staffs/{sid}/"),
            Some(&app.token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn accounts_stay_in_their_own_api(app: TestApp) {
    let backend = app.backend;
    drop(app);
    let service = "omnitron-service-token-0123456789";
    let app = TestApp::spawn_with(backend, |c| c.service_tokens = vec![Secret::new(service)])
        .await
        .unwrap();
    let g = geo(&app).await;
    let shop = store(&app, g.township, "Shop").await;
    let sid = staff(&app, "boss@example.com", None, &[shop], &[]).await;
    make_superuser_staff(&app, sid).await;
    let instore_super = staff_token(&app, sid).await;
    let (_, b2b_plain) = create_b2b_staff(&app.state, "b2b@example.com", false, None).await;
    let denied = json!({"detail": "You do not have permission to perform this action."});

    // An Instore superuser reaches every Instore endpoint but no B2B one.
    assert_eq!(
        send(&app, Method::GET, "/api/v1/staffs/", &instore_super, None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            Method::GET,
            "/api/v1/staff-users/",
            &instore_super,
            None
        )
        .await,
        (StatusCode::FORBIDDEN, denied.clone())
    );
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/api/v1/staff-users/1/",
        &instore_super,
        Some(json!({"is_superuser": false})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A B2B account that is not a superuser reaches no Instore endpoint.
    assert_eq!(
        send(&app, Method::GET, "/api/v1/staffs/", &b2b_plain, None).await,
        (StatusCode::FORBIDDEN, denied)
    );
    // B2B superusers and service tokens reach both.
    for token in [app.token.as_str(), service] {
        assert_eq!(
            send(&app, Method::GET, "/api/v1/staffs/", token, None)
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            send(&app, Method::GET, "/api/v1/staff-users/", token, None)
                .await
                .0,
            StatusCode::OK
        );
    }
}

async fn demo_data_set_logs_in(app: TestApp) {
    let demo = kadro::instore::demo::seed(&app.state.db, &app.state.passwords)
        .await
        .unwrap()
        .expect("an empty Instore gets the demo");
    assert_eq!(demo.usernames, ["ayse", "mehmet", "zeynep", "can"]);
    assert!(
        kadro::instore::demo::seed(&app.state.db, &app.state.passwords)
            .await
            .unwrap()
            .is_none()
    );
    let (_, stores) = app.get("/api/v1/retail_stores/").await;
    assert_eq!(stores["count"], 3);
    let first_store = id(&stores["results"][0]);
    let (_, dups) = app.get("/api/v1/staffs/duplicate_email_staffs/").await;
    assert_eq!(dups.as_array().unwrap().len(), 2);

    let (status, manager) = login(
        &app,
        json!({"username": "ayse", "password": demo.password, "retail_store": first_store}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{manager}");
    let manager = manager["token"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, Method::GET, "/api/v1/staffs/", &manager, None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, cashier) = login(
        &app,
        json!({"username": "mehmet", "password": demo.password, "retail_store": first_store}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let cashier = cashier["token"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&app, Method::GET, "/api/v1/retail_stores/", &cashier, None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, Method::GET, "/api/v1/staffs/", &cashier, None)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
}
