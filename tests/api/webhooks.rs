//! Signed webhooks against a real receiver (wiremock): the subscriptions' CRUD, signed
//! deliveries queued with the change, retries after errors and timeouts, ordering per object,
//! the outbox surviving a restart, redelivery, and the refusal of private targets.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use kadro::db::Query;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::b2b_divisions::create_division;
use crate::helpers::{Backend, TestApp, sorted_keys};
use crate::per_backend;

per_backend!(
    crud_shows_the_secret_once,
    bad_input_is_refused_with_every_error,
    changes_are_delivered_signed,
    retries_after_errors_and_timeouts_then_fails,
    deliveries_go_in_order_per_object,
    outbox_survives_a_restart,
    redelivery_sends_the_same_event_again,
    failing_webhooks_are_disabled,
    private_targets_are_refused_by_default,
    cleanup_releases_stranded_and_purges_old_deliveries,
    a_change_queued_while_the_delivery_ahead_finishes_goes_out,
    a_deactivated_webhook_gets_nothing_until_reactivated,
);

/// kadro with webhooks allowed to reach the local receiver, attempts timing out after
/// `timeout_ms`.
async fn spawn(backend: Backend, timeout_ms: u64) -> Option<TestApp> {
    TestApp::spawn_with(backend, move |c| {
        c.webhook_allow_private = true;
        c.webhook_timeout_ms = timeout_ms;
        c.webhook_disable_after = 5;
    })
    .await
}

async fn receiver(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    server
}

/// Creates a webhook to `server` for `events`; returns (id, secret).
async fn subscribe(app: &TestApp, server: &MockServer, events: Value) -> (i64, String) {
    let (status, body) = app
        .post(
            "/api/v1/webhooks/",
            json!({"url": format!("{}/hook", server.uri()), "events": events}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["id"].as_i64().unwrap(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// Makes every queued job due now (the backoff is minutes long).
async fn make_jobs_due(app: &TestApp) {
    Query::new("UPDATE jobs SET run_at = $1 WHERE status = 'queued'")
        .bind(Utc::now() - chrono::Duration::seconds(1))
        .execute(&app.state.db)
        .await
        .expect("rewind jobs");
}

async fn requests(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap_or_default()
}

async fn deliveries(app: &TestApp, webhook: i64) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/v1/webhooks/{webhook}/deliveries/"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["results"].as_array().unwrap().clone()
}

/// Checks `Kadro-Signature` as a receiver would; returns the signed timestamp.
fn verify(request: &wiremock::Request, secret: &str) -> i64 {
    let header = request.headers["Kadro-Signature"].to_str().unwrap();
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("bad signature header {header}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&request.body);
    mac.verify_slice(&hex::decode(v1).unwrap())
        .expect("signature matches");
    t.parse().unwrap()
}

async fn crud_shows_the_secret_once(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let (status, created) = app
        .post(
            "/api/v1/webhooks/",
            json!({"url": "https://hooks.example.com/k", "events": ["user.*", "division.create", "user.*"],
                "description": "CRM"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert_eq!(
        sorted_keys(&created),
        [
            "created_date",
            "description",
            "events",
            "id",
            "is_active",
            "modified_date",
            "secret",
            "url"
        ]
    );
    assert_eq!(created["events"], json!(["division.create", "user.*"]));
    assert_eq!(created["is_active"], json!(true));

    let (status, shown) = app.get(&format!("/api/v1/webhooks/{id}/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(shown.get("secret").is_none(), "{shown}");
    let (status, listed) = app.get("/api/v1/webhooks/?is_active=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["count"], json!(1));
    assert!(listed["results"][0].get("secret").is_none());

    // A given secret is stored but not shown again by a change.
    let (status, patched) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/webhooks/{id}/"),
            Some(&app.token.clone()),
            Some(json!({"secret": "a-new-secret-of-enough-length", "is_active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(patched.get("secret").is_none());
    assert_eq!(patched["is_active"], json!(false));
    assert_eq!(patched["events"], json!(["division.create", "user.*"]));
    let stored: String = Query::new("SELECT secret FROM webhooks WHERE id = $1")
        .bind(id)
        .scalar(&app.state.db)
        .await
        .unwrap();
    assert_eq!(stored, "a-new-secret-of-enough-length");

    let (status, put) = app
        .call(
            Method::PUT,
            &format!("/api/v1/webhooks/{id}/"),
            Some(&app.token.clone()),
            Some(json!({"url": "https://hooks.example.com/other", "events": ["*"]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["events"], json!(["*"]));
    assert_eq!(put["description"], json!("CRM"));

    // The audit log never holds a secret.
    let secrets = app
        .count("SELECT COUNT(*) FROM audit_events WHERE changes LIKE '%secret%'")
        .await;
    assert_eq!(secrets, 0);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action LIKE 'webhook.%'")
            .await,
        3
    );

    // Only superusers.
    let plain = crate::helpers::create_b2b_staff(&app.state, "plain@example.com", false, None)
        .await
        .1;
    let (status, _) = app
        .call(Method::GET, "/api/v1/webhooks/", Some(&plain), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, _) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/webhooks/{id}/"),
            Some(&app.token.clone()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("/api/v1/webhooks/{id}/")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM webhook_events").await, 0);
}

async fn bad_input_is_refused_with_every_error(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let before = app.count("SELECT COUNT(*) FROM audit_events").await;
    let (status, body) = app
        .post(
            "/api/v1/webhooks/",
            json!({"url": "http://hooks.example.com/", "events": ["user.nope", "user.*"],
                "secret": "short", "description": "x".repeat(256)}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({
            "url": ["Enter an https URL."],
            "events": ["\"user.nope\" is not a valid choice."],
            "secret": ["Ensure this field has at least 16 characters."],
            "description": ["Ensure this field has no more than 255 characters."],
        })
    );
    let (status, body) = app.post("/api/v1/webhooks/", json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({"url": ["This field is required."], "events": ["This field is required."]})
    );
    let (status, body) = app
        .post(
            "/api/v1/webhooks/",
            json!({"url": "https://10.0.0.5/hook", "events": []}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body,
        json!({
            "url": ["The URL must not point to a private, loopback or link-local address."],
            "events": ["This list may not be empty."],
        })
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_events").await, before);
    let (status, body) = app.get("/api/v1/webhooks/1/deliveries/?status=lost").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = app.get("/api/v1/webhooks/1/deliveries/").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn changes_are_delivered_signed(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(204).await;
    let (webhook, secret) = subscribe(&app, &server, json!(["division.*"])).await;
    let other = receiver(204).await;
    subscribe(&app, &other, json!(["user.create"])).await;

    let division = create_division(&app, "Main", "main", None).await;
    assert!(
        requests(&server).await.is_empty(),
        "sent before the jobs ran"
    );
    app.drain_jobs().await;

    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let t = verify(&got[0], &secret);
    assert!((Utc::now().timestamp() - t).abs() < 60);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    let event_id: i64 =
        Query::new("SELECT MAX(id) FROM audit_events WHERE action = 'division.create'")
            .scalar(&app.state.db)
            .await
            .unwrap();
    assert_eq!(
        got[0].headers["Kadro-Event-Id"].to_str().unwrap(),
        event_id.to_string()
    );
    assert_eq!(
        got[0].headers["Content-Type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(sorted_keys(&body), ["created_date", "data", "id", "type"]);
    assert_eq!(body["id"], json!(event_id));
    assert_eq!(body["type"], json!("division.create"));
    assert_eq!(body["data"]["id"], json!(division));
    assert_eq!(body["data"]["type"], json!("division"));
    assert_eq!(body["data"]["changes"]["name"], json!([null, "Main"]));
    assert!(requests(&other).await.is_empty());

    let listed = deliveries(&app, webhook).await;
    assert_eq!(listed.len(), 1);
    let d = &listed[0];
    assert_eq!(
        sorted_keys(d),
        [
            "attempts",
            "created_date",
            "event_id",
            "event_type",
            "id",
            "last_attempt_date",
            "last_error",
            "last_status_code",
            "next_attempt_date",
            "status"
        ]
    );
    assert_eq!(d["status"], json!("delivered"));
    assert_eq!(d["attempts"], json!(1));
    assert_eq!(d["last_status_code"], json!(204));
    assert_eq!(d["last_error"], Value::Null);
    assert_eq!(d["next_attempt_date"], Value::Null);

    // A write that fails queues nothing.
    let (status, _) = app
        .post(
            "/api/v1/divisions/",
            json!({"name": "", "division_type": "main"}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        1
    );
    // The secret is in no answer, log line or delivery record.
    let leaked = app
        .count(&format!(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE payload LIKE '%{secret}%'"
        ))
        .await;
    assert_eq!(leaked, 0);
}

async fn retries_after_errors_and_timeouts_then_fails(backend: Backend) {
    let Some(app) = spawn(backend, 300).await else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("x".repeat(100_000)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.create"])).await;
    create_division(&app, "Main", "main", None).await;

    app.drain_jobs().await;
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("pending"));
    assert_eq!(d["attempts"], json!(1));
    assert_eq!(d["last_status_code"], json!(500));
    let error = d["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("answered 500 Internal Server Error: xxx"),
        "{error}"
    );
    assert!(error.len() < 300, "the body is not kept whole");
    let next =
        chrono::DateTime::parse_from_rfc3339(d["next_attempt_date"].as_str().unwrap()).unwrap();
    let wait = next.with_timezone(&Utc) - Utc::now();
    assert!(wait > chrono::Duration::seconds(20) && wait <= chrono::Duration::seconds(30));

    make_jobs_due(&app).await;
    let started = std::time::Instant::now();
    app.drain_jobs().await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timeout held the worker"
    );
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("pending"));
    assert_eq!(d["attempts"], json!(2));
    assert_eq!(d["last_status_code"], Value::Null);
    assert!(
        d["last_error"].as_str().unwrap().starts_with("timed out"),
        "{d}"
    );

    make_jobs_due(&app).await;
    app.drain_jobs().await;
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("delivered"));
    assert_eq!(d["attempts"], json!(3));
    assert_eq!(d["last_status_code"], json!(200));
    assert_eq!(d["last_error"], Value::Null);
    assert_eq!(requests(&server).await.len(), 3);
    // Every attempt carries the same event id.
    let ids: Vec<String> = requests(&server)
        .await
        .iter()
        .map(|r| r.headers["Kadro-Event-Id"].to_str().unwrap().to_owned())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");

    // A delivery still failing 24 hours after its change is marked failed.
    server.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    create_division(&app, "Second", "main", None).await;
    Query::new("UPDATE webhook_deliveries SET created_date = $1 WHERE status = 'pending'")
        .bind(Utc::now() - chrono::Duration::hours(24))
        .execute(&app.state.db)
        .await
        .unwrap();
    app.drain_jobs().await;
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("failed"));
    assert_eq!(d["attempts"], json!(1));
    assert_eq!(d["last_status_code"], json!(503));
    assert_eq!(d["next_attempt_date"], Value::Null);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")
            .await,
        0
    );
}

async fn deliveries_go_in_order_per_object(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.*"])).await;
    let division = create_division(&app, "Main", "main", None).await;
    for name in ["Two", "Three"] {
        let (status, body) = app
            .call(
                Method::PATCH,
                &format!("/api/v1/divisions/{division}/"),
                Some(&app.token.clone()),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let statuses = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            .map(|d| d["status"].as_str().unwrap().to_owned())
            .collect()
    };
    // Newest first: the two updates wait behind the create.
    assert_eq!(
        statuses(deliveries(&app, webhook).await),
        ["waiting", "waiting", "pending"]
    );
    app.drain_jobs().await;
    // The create failed once: nothing after it went out.
    assert_eq!(requests(&server).await.len(), 1);
    assert_eq!(
        statuses(deliveries(&app, webhook).await),
        ["waiting", "waiting", "pending"]
    );
    make_jobs_due(&app).await;
    app.drain_jobs().await;
    assert_eq!(
        statuses(deliveries(&app, webhook).await),
        ["delivered", "delivered", "delivered"]
    );
    let sent: Vec<Value> = requests(&server)
        .await
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .collect();
    let types: Vec<&str> = sent.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "division.create",
            "division.create",
            "division.update",
            "division.update"
        ]
    );
    assert_eq!(sent[2]["data"]["changes"]["name"], json!(["Main", "Two"]));
    assert_eq!(sent[3]["data"]["changes"]["name"], json!(["Two", "Three"]));
}

async fn outbox_survives_a_restart(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(200).await;
    let (webhook, secret) = subscribe(&app, &server, json!(["division.*"])).await;
    create_division(&app, "Main", "main", None).await;
    // The process stops before any worker ran; a new one on the same database delivers.
    let config = app.state.config.as_ref().clone();
    let restarted = kadro::app::App::build(config).await.expect("rebuild");
    let stop = tokio_util::sync::CancellationToken::new();
    while restarted
        .jobs
        .run_one(&restarted.state, "other-worker", &stop)
        .await
        .unwrap()
        != kadro::jobs::worker::Step::Idle
    {}
    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    verify(&got[0], &secret);
    assert_eq!(
        deliveries(&app, webhook).await[0]["status"],
        json!("delivered")
    );
}

async fn redelivery_sends_the_same_event_again(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(200).await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.create"])).await;
    create_division(&app, "Main", "main", None).await;
    app.drain_jobs().await;
    let first = deliveries(&app, webhook).await[0]["id"].as_i64().unwrap();

    let (status, again) = app
        .post(
            &format!("/api/v1/webhooks/{webhook}/deliveries/{first}/redeliver/"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["status"], json!("pending"));
    assert_eq!(again["attempts"], json!(0));
    assert_ne!(again["id"], json!(first));
    app.drain_jobs().await;
    let got = requests(&server).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body);
    assert_eq!(
        got[0].headers["Kadro-Event-Id"],
        got[1].headers["Kadro-Event-Id"]
    );
    let listed = deliveries(&app, webhook).await;
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["status"], json!("delivered"));

    let (status, _) = app
        .post(
            &format!("/api/v1/webhooks/{webhook}/deliveries/999999/redeliver/"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &format!(
                "/api/v1/webhooks/{}/deliveries/{first}/redeliver/",
                webhook + 1
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        2
    );
}

async fn failing_webhooks_are_disabled(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(500).await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.create"])).await;
    for i in 0..3 {
        create_division(&app, &format!("D{i}"), "main", None).await;
    }
    // Five failed attempts in a row (the test's `KADRO_WEBHOOK_DISABLE_AFTER`) disable it.
    app.drain_jobs().await;
    make_jobs_due(&app).await;
    app.drain_jobs().await;
    assert_eq!(requests(&server).await.len(), 5);
    let (_, shown) = app.get(&format!("/api/v1/webhooks/{webhook}/")).await;
    assert_eq!(shown["is_active"], json!(false));
    let listed = deliveries(&app, webhook).await;
    assert!(
        listed.iter().all(|d| d["status"] == json!("failed")),
        "{listed:?}"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM audit_events WHERE action = 'webhook.disable'")
            .await,
        1
    );
    // Nothing more is queued for it; enabling it again starts afresh.
    create_division(&app, "Later", "main", None).await;
    assert_eq!(
        app.count("SELECT COUNT(*) FROM webhook_deliveries").await,
        3
    );
}

async fn private_targets_are_refused_by_default(backend: Backend) {
    let server = receiver(200).await;
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let target = format!("{}/hook", server.uri());
    for (url, error) in [
        (target.as_str(), "Enter an https URL."),
        (
            "https://[::1]:8443/hook",
            "The URL must not point to a private, loopback or link-local address.",
        ),
        (
            "https://169.254.169.254/latest/meta-data",
            "The URL must not point to a private, loopback or link-local address.",
        ),
    ] {
        let (status, body) = app
            .post("/api/v1/webhooks/", json!({"url": url, "events": ["*"]}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"url": [error]}));
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM webhooks").await, 0);
    // A loopback target stored while private targets were allowed is refused at delivery,
    // before any connection.
    let now = Utc::now();
    let webhook: i64 = Query::new(
        "INSERT INTO webhooks (url, secret, is_active, description, created_date, modified_date) \
         VALUES ($1, 'a-secret-of-enough-length', TRUE, '', $2, $2) RETURNING id",
    )
    .bind(&target)
    .bind(now)
    .scalar(&app.state.db)
    .await
    .unwrap();
    Query::new("INSERT INTO webhook_events (webhook_id, pattern) VALUES ($1, '*')")
        .bind(webhook)
        .execute(&app.state.db)
        .await
        .unwrap();
    create_division(&app, "Main", "main", None).await;
    app.drain_jobs().await;
    assert!(requests(&server).await.is_empty());
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("pending"));
    assert_eq!(d["last_error"], json!("refused: Enter an https URL."));
    assert_eq!(d["last_status_code"], Value::Null);
}

async fn cleanup_releases_stranded_and_purges_old_deliveries(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(200).await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.*"])).await;
    let division = create_division(&app, "Main", "main", None).await;
    let (status, _) = app
        .call(
            Method::PATCH,
            &format!("/api/v1/divisions/{division}/"),
            Some(&app.token.clone()),
            Some(json!({"name": "Two"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // As if the first delivery had finished while the second was being queued.
    let first: i64 = Query::new("SELECT MIN(id) FROM webhook_deliveries")
        .scalar(&app.state.db)
        .await
        .unwrap();
    Query::new("UPDATE webhook_deliveries SET status = 'delivered' WHERE id = $1")
        .bind(first)
        .execute(&app.state.db)
        .await
        .unwrap();
    Query::new("DELETE FROM jobs")
        .execute(&app.state.db)
        .await
        .unwrap();
    let cleaned = kadro::exports::cleanup::run_once(&app.state, Utc::now())
        .await
        .unwrap();
    assert_eq!(cleaned.webhook_released, 1);
    assert_eq!(cleaned.webhook_deliveries, 0);
    app.drain_jobs().await;
    let got = requests(&server).await;
    assert_eq!(got.len(), 1);
    let body: Value = serde_json::from_slice(&got[0].body).unwrap();
    assert_eq!(body["type"], json!("division.update"));

    // Finished deliveries follow the audit log's retention.
    let later = Utc::now() + chrono::Duration::days(366);
    let cleaned = kadro::exports::cleanup::run_once(&app.state, later)
        .await
        .unwrap();
    assert_eq!(cleaned.webhook_deliveries, 2);
    assert!(deliveries(&app, webhook).await.is_empty());
}

/// On PostgreSQL, a change queued while a worker is finishing the delivery ahead of it (both
/// transactions open at once) waits for the worker's commit and sees that delivery finished:
/// the new delivery is `pending` at once, not stranded `waiting` until the cleanup.
async fn a_change_queued_while_the_delivery_ahead_finishes_goes_out(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    if app.state.db.dialect() != kadro::db::Dialect::Postgres {
        // SQLite has one writer: the two transactions cannot overlap.
        return;
    }
    let server = receiver(200).await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.*"])).await;
    let division = create_division(&app, "Main", "main", None).await;
    // The worker's transaction marks the create's delivery delivered and stays open.
    let mut worker = app.state.db.begin().await.unwrap();
    Query::new("UPDATE webhook_deliveries SET status = 'delivered' WHERE webhook_id = $1")
        .bind(webhook)
        .execute(&mut worker)
        .await
        .unwrap();
    let change = app
        .client
        .request(
            Method::PATCH,
            app.url(&format!("/api/v1/divisions/{division}/")),
        )
        .header("Authorization", format!("Token {}", app.token))
        .json(&json!({"name": "Two"}))
        .send();
    let change = tokio::spawn(change);
    // The change either waits for the worker's row lock or (without the lock) has finished.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let waiting: i64 = Query::new(
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO webhook_deliveries%'",
        )
        .scalar(&app.state.db)
        .await
        .unwrap();
        if waiting > 0 || change.is_finished() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the change never ran");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.commit().await.unwrap();
    let answer = change.await.unwrap().unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let statuses: Vec<String> = deliveries(&app, webhook)
        .await
        .iter()
        .map(|d| d["status"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(statuses, ["pending", "delivered"]);
    app.drain_jobs().await;
    assert_eq!(requests(&server).await.len(), 1);
}

async fn a_deactivated_webhook_gets_nothing_until_reactivated(backend: Backend) {
    let Some(app) = spawn(backend, 2000).await else {
        return;
    };
    let server = receiver(500).await;
    let (webhook, _) = subscribe(&app, &server, json!(["division.create"])).await;
    create_division(&app, "Main", "main", None).await;
    app.drain_jobs().await;
    let path = format!("/api/v1/webhooks/{webhook}/");
    let token = app.token.clone();
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The pending retry is dropped without an attempt; new changes queue nothing.
    make_jobs_due(&app).await;
    app.drain_jobs().await;
    assert_eq!(requests(&server).await.len(), 1);
    let d = &deliveries(&app, webhook).await[0];
    assert_eq!(d["status"], json!("failed"));
    assert_eq!(d["last_error"], json!("The webhook is not active."));
    create_division(&app, "Second", "main", None).await;
    assert_eq!(deliveries(&app, webhook).await.len(), 1);
    let first = d["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/webhooks/{webhook}/deliveries/{first}/redeliver/"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"detail": "The webhook is not active."}));
    assert_eq!(deliveries(&app, webhook).await.len(), 1);

    // Turned back on, it counts its failures afresh and hears the next change.
    assert_eq!(
        app.count("SELECT failures FROM webhooks").await,
        1,
        "the failed attempt was counted"
    );
    let (status, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.count("SELECT failures FROM webhooks").await, 0);
    create_division(&app, "Third", "main", None).await;
    app.drain_jobs().await;
    assert_eq!(requests(&server).await.len(), 2);
}
