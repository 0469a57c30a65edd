//! Allowed hosts and security headers: a forged `Host` is refused, absolute links come from an
//! allowed `Host` or `KADRO_PUBLIC_URL`, and every answer carries the security headers (HTML
//! also its Content-Security-Policy).

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::exports::start_export;
use crate::helpers::{Backend, TestApp, create_b2b_staff};
use crate::per_backend;

per_backend!(
    forged_hosts_are_refused_and_links_use_an_allowed_host,
    patterns_and_a_star_choose_the_hosts,
    the_public_url_makes_the_links,
    security_headers_on_json_and_html,
);

fn port(app: &TestApp) -> &str {
    app.base.rsplit(':').next().unwrap()
}

/// `GET path` with the superuser's token and `host` as the `Host` header.
async fn get_as(app: &TestApp, path: &str, host: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url(path))
        .header("Host", host)
        .header("Authorization", format!("Token {}", app.token))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn three_staff(app: &TestApp) {
    for email in ["a@example.com", "b@example.com"] {
        create_b2b_staff(&app.state, email, false, None).await;
    }
}

async fn forged_hosts_are_refused_and_links_use_an_allowed_host(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    three_staff(&app).await;
    let port = port(&app).to_owned();
    for forged in [
        "evil.example".to_owned(),
        format!("evil.example:{port}"),
        "evil.example\"><script>alert(1)</script>".to_owned(),
        format!("localhost.evil.example:{port}"),
        "127.0.0.1:80@evil.example".to_owned(),
    ] {
        let (status, body) = get_as(&app, "/api/v1/staff-users/?limit=1", &forged).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{forged}");
        assert_eq!(body, json!({"detail": "Invalid host header."}), "{forged}");
    }
    // Probes answer whatever the Host.
    for probe in ["/healthz", "/readyz/"] {
        let (status, _) = get_as(&app, probe, "evil.example").await;
        assert_eq!(status, StatusCode::OK, "{probe}");
    }
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "LOCALHOST".into(),
    ] {
        let (status, page) = get_as(&app, "/api/v1/staff-users/?limit=1&ordering=id", &host).await;
        assert_eq!(status, StatusCode::OK, "{host}: {page}");
        let next = page["next"].as_str().expect("a next link");
        let expected = format!("http://{}/api/v1/staff-users/?", host.to_ascii_lowercase());
        assert!(next.starts_with(&expected), "{host}: {next}");
    }
    // Download links too.
    let key = start_export(&app, "fields=id&format=csv").await;
    app.drain_jobs().await;
    let status_path = format!("/api/v1/staff-users/?status_cache_key={key}");
    let (status, body) = get_as(&app, &status_path, &format!("localhost:{port}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let url = body["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("http://localhost:{port}/export_file/")),
        "{url}"
    );
    let (status, _) = get_as(&app, &status_path, "evil.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn patterns_and_a_star_choose_the_hosts(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.allowed_hosts = vec!["api.example.com".into(), ".corp.example".into()];
    })
    .await
    else {
        return;
    };
    for (host, allowed) in [
        ("api.example.com", true),
        ("API.example.com:8443", true),
        ("corp.example", true),
        ("eu.kadro.corp.example:8000", true),
        ("badcorp.example", false),
        ("example.com", false),
        // An explicit list replaces the defaults.
        ("127.0.0.1", false),
        ("localhost", false),
    ] {
        let (status, body) = get_as(&app, "/api/v1/staff-users/", host).await;
        let expected = if allowed {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, expected, "{host}: {body}");
    }

    let Some(app) = TestApp::spawn_with(backend, |c| c.allowed_hosts = vec!["*".into()]).await
    else {
        return;
    };
    three_staff(&app).await;
    let (status, page) = get_as(
        &app,
        "/api/v1/staff-users/?limit=1",
        "anything.example:8080",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let next = page["next"].as_str().unwrap();
    assert!(
        next.starts_with("http://anything.example:8080/api/v1/staff-users/?"),
        "{next}"
    );
    // `*` accepts any host name, never a malformed one.
    let (status, _) = get_as(&app, "/api/v1/staff-users/", "evil.example\"><script>").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

async fn the_public_url_makes_the_links(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.public_url = Some("https://kadro.example.com/".into());
    })
    .await
    else {
        return;
    };
    three_staff(&app).await;
    let port = port(&app).to_owned();
    for host in ["kadro.example.com".to_owned(), format!("127.0.0.1:{port}")] {
        let (status, page) = get_as(&app, "/api/v1/staff-users/?limit=1", &host).await;
        assert_eq!(status, StatusCode::OK, "{host}: {page}");
        let next = page["next"].as_str().unwrap();
        assert!(
            next.starts_with("https://kadro.example.com/api/v1/staff-users/?"),
            "{next}"
        );
    }
    let (status, _) = get_as(&app, "/api/v1/staff-users/", "other.example.com").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

fn assert_security_headers(what: &str, headers: &HeaderMap) {
    assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(headers["x-frame-options"], "DENY", "{what}");
    assert_eq!(headers["referrer-policy"], "same-origin", "{what}");
    assert!(headers.get("server").is_none(), "{what}: a Server banner");
}

async fn security_headers_on_json_and_html(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let auth = format!("Token {}", app.token);
    for (path, host, status) in [
        ("/api/v1/staff-users/", None, StatusCode::OK),
        ("/api/v1/staff-users/999999/", None, StatusCode::NOT_FOUND),
        (
            "/api/v1/auth/me/",
            Some("evil.example"),
            StatusCode::BAD_REQUEST,
        ),
        ("/healthz", None, StatusCode::OK),
        ("/api/schema/", None, StatusCode::OK),
    ] {
        let mut request = app.client.get(app.url(path)).header("Authorization", &auth);
        if let Some(host) = host {
            request = request.header("Host", host);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert_security_headers(path, response.headers());
    }

    let page = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_security_headers("docs", page.headers());
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe-"), "{csp}");
    assert!(
        !csp.contains("http"),
        "the page loads nothing from elsewhere: {csp}"
    );
    let html = page.text().await.unwrap();
    // Under that policy the page may have no inline script or style: each script has a source.
    assert!(!html.contains("<style"), "{html}");
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "{html}"
    );
    // The assets it loads have the content types `nosniff` requires.
    for (asset, kind) in [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-initializer.js", "javascript"),
        ("swagger-ui.css", "text/css"),
        ("index.css", "text/css"),
    ] {
        assert!(html.contains(asset), "{asset} is not on the page");
        let response = app
            .client
            .get(app.url(&format!("/api/docs/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.contains(kind), "{asset}: {content_type}");
        assert_security_headers(asset, response.headers());
        let body = response.text().await.unwrap();
        if asset == "swagger-initializer.js" {
            // No online validator badge: it would load an image from validator.swagger.io.
            assert!(body.contains("\"validatorUrl\": \"none\""), "{body}");
        }
    }
}
