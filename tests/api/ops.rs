//! Operations: probes, metrics, schema, docs, request ids and graceful shutdown.

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, until, within};
use crate::on_both_backends;

on_both_backends!(
    root_redirects_to_the_docs,
    probes_metrics_and_request_ids,
    schema_and_offline_docs,
    graceful_shutdown_finishes_in_flight_requests
);

async fn probes_metrics_and_request_ids(app: TestApp) {
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"].len(), 32);
    let response = app
        .client
        .get(app.url("/readyz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    app.get("/api/v1/staff-users/").await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("kadro_http_requests_total"), "{metrics}");
    for line in metrics.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).unwrap();
        assert!(
            metrics.contains(&format!("# HELP {name} ")),
            "no # HELP for {name}:\n{metrics}"
        );
    }
    assert!(
        metrics.contains("route=\"/api/v1/staff-users\""),
        "{metrics}"
    );
    assert!(metrics.contains("kadro_http_request_duration_seconds_bucket"));
    assert!(metrics.contains("kadro_job_queue_depth"));
    assert!(
        metrics.contains("kadro_db_pool_connections{state=\"in_use\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("kadro_db_pool_max "), "{metrics}");
}

async fn schema_and_offline_docs(app: TestApp) {
    let (status, schema) = app.get("/api/schema/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(schema["openapi"].as_str().unwrap().starts_with("3."));
    let paths = schema["paths"].as_object().unwrap();
    for (path, item) in paths {
        let methods = ["get", "post", "put", "patch", "delete"];
        for (method, operation) in item.as_object().unwrap() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(!summary.is_empty(), "{method} {path} has no summary");
            for (status, response) in operation["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.is_empty(),
                    "{method} {path} {status}: no description"
                );
            }
        }
    }
    for path in [
        "/api/v1/auth/login/",
        "/api/v1/auth/me/",
        "/api/v1/staff-users/",
        "/api/v1/staff-users/{id}/",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the schema");
    }
    assert!(
        paths["/api/v1/users/{id}/"].get("patch").is_some()
            && paths["/api/v1/users/{id}/"].get("put").is_some()
    );
    // Operation ids are unique, as OpenAPI requires.
    let mut ids = std::collections::HashSet::new();
    for item in paths.values() {
        for operation in item
            .as_object()
            .unwrap()
            .values()
            .filter(|o| o.get("responses").is_some())
        {
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            let mut names: Vec<&str> = operation["parameters"].as_array().map_or(vec![], |p| {
                p.iter().map(|p| p["name"].as_str().unwrap()).collect()
            });
            let all = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), all, "duplicate parameter in {id}");
        }
    }
    // Every referenced component exists.
    let text = schema.to_string();
    let components = &schema["components"]["schemas"];
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = reference.split('"').next().unwrap();
        assert!(components.get(name).is_some(), "dangling $ref {name}");
    }
    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"));
    assert!(
        !html.contains("https://"),
        "the docs page must not load anything from the internet"
    );
    for asset in [
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-initializer.js",
    ] {
        let response = app
            .client
            .get(app.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.unwrap();
        assert!(body.len() > 100, "{asset}");
    }
    let spec: Value = app
        .client
        .get(app.url("/api/docs/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec, schema);
}

/// A request whose body is still arriving when shutdown starts gets its full answer; new
/// connections are refused afterwards.
async fn graceful_shutdown_finishes_in_flight_requests(mut app: TestApp) {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = r#"{"email": "nobody@example.com", "password": "whatever-it-is"}"#;
    // `Expect: 100-continue`: the server says "continue" once the handler reads the body, so
    // the test knows the request is in flight before asking the server to stop.
    let head = format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.flush().await.unwrap();
    let interim = within("100 Continue", read_head(&mut stream)).await;
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    stream.flush().await.unwrap();
    app.stop.cancel();
    // Shutdown has begun once the listener refuses new connections.
    until("the listener closes", || async {
        tokio::net::TcpStream::connect(&addr).await.is_err()
    })
    .await;
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut response = String::new();
    within("the answer", stream.read_to_string(&mut response))
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
    assert!(response.contains("Unable to log in with provided credentials."));
    let server = app.server.take().unwrap();
    within("the server stops", server).await.unwrap().unwrap();
    assert!(
        tokio::net::TcpStream::connect(&addr).await.is_err(),
        "listener closed"
    );
}

/// Reads one response head (up to the blank line) byte by byte.
async fn read_head(stream: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.unwrap());
    }
    String::from_utf8(head).unwrap()
}

async fn root_redirects_to_the_docs(app: TestApp) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(response.headers()["location"], "/api/docs/");
    let followed = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(followed.status(), StatusCode::OK);
    assert!(followed.text().await.unwrap().contains("swagger"));
}
