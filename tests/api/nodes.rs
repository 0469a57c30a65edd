//! Two kadro processes on one PostgreSQL database and one S3 bucket, as behind a load balancer:
//! exports cross nodes, a deactivation on one node reaches the other's token cache, concurrent
//! creates stay unique, and every job runs once. PostgreSQL and an S3 server only (SQLite
//! serves a single process); skipped without them like the other tests.

use std::time::{Duration, Instant};

use kadro::auth::token::{self, AccountKind};
use kadro::b2b::accounts::{self, NewStaffAccount};
use kadro::db::{Db, DbOptions, Query};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::b2b_users::user_body;
use crate::exports::s3::{Bucket, s3_endpoint};
use crate::helpers::{Backend, TestDb, WAIT, until};
use crate::process::{DEADLINE, Kadro, kadro};

const SERVICE: &str = "nodes-service-token";

/// One running node.
struct Node {
    base: String,
    process: Kadro,
    _scratch: crate::helpers::tempdir::TempDirGuard,
}

/// Two nodes on one database and one bucket.
struct Cluster {
    a: Node,
    b: Node,
    db: Db,
    bucket: Bucket,
    client: reqwest::Client,
    _test_db: TestDb,
}

impl Node {
    fn start(test_db: &TestDb, bucket: &Bucket, endpoint: &str) -> Node {
        let scratch =
            std::env::temp_dir().join(format!("kadro-node-{}", uuid::Uuid::new_v4().simple()));
        let mut cmd = kadro(test_db);
        cmd.args(["serve", "--bind", "127.0.0.1:0", "--workers", "1"])
            .env("KADRO_LOG", "warn,kadro::cli=info,kadro::exports=info")
            .env("KADRO_LOG_FORMAT", "json")
            .env("KADRO_SERVICE_TOKENS", SERVICE)
            .env("KADRO_EXPORT_DIR", &scratch)
            .env(
                "KADRO_EXPORT_STORE",
                format!("s3://{}/exports", bucket.name),
            )
            .env("KADRO_S3_ENDPOINT", endpoint)
            .env("AWS_ACCESS_KEY_ID", "kadro-test")
            .env("AWS_SECRET_ACCESS_KEY", "kadro-test-secret");
        let mut process = Kadro::spawn(cmd);
        let line = process.wait_for_line("the listening line", DEADLINE, |_, l| {
            l.contains("\"kadro listening\"")
        });
        let addr = serde_json::from_str::<Value>(&line).expect("a JSON log line")["fields"]["addr"]
            .as_str()
            .expect("addr")
            .to_owned();
        Node {
            base: format!("http://{addr}"),
            process,
            _scratch: crate::helpers::tempdir::TempDirGuard(scratch),
        }
    }

    /// The `fields` of every JSON log line with this message, read so far.
    fn logged(&self, message: &str) -> Vec<Value> {
        self.process
            .seen
            .iter()
            .filter_map(|(_, line)| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v["fields"]["message"] == message)
            .map(|v| v["fields"].clone())
            .collect()
    }
}

impl Cluster {
    async fn start() -> Option<Cluster> {
        let endpoint = s3_endpoint()?;
        let test_db = TestDb::create(Backend::Postgres).await?;
        let bucket = Bucket::create(&endpoint).await;
        // A first, so that it migrates and keeps the signing key; then B.
        let a = Node::start(&test_db, &bucket, &endpoint);
        let b = Node::start(&test_db, &bucket, &endpoint);
        let db = Db::connect(&test_db.url, &DbOptions::default())
            .await
            .expect("connect");
        let cluster = Cluster {
            a,
            b,
            db,
            bucket,
            client: reqwest::Client::builder().timeout(WAIT).build().unwrap(),
            _test_db: test_db,
        };
        for node in [&cluster.a, &cluster.b] {
            until("the node is ready", || async {
                let url = format!("{}/readyz", node.base);
                matches!(cluster.client.get(url).send().await, Ok(r) if r.status() == StatusCode::OK)
            })
            .await;
        }
        Some(cluster)
    }

    async fn call(
        &self,
        node: &Node,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", node.base))
            .header("Authorization", format!("Token {token}"));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A B2B staff account made in the database, with a token.
    async fn account(&self, email: &str) -> (i64, String) {
        let mut tx = self.db.begin().await.unwrap();
        let id = accounts::insert_staff(
            &mut tx,
            NewStaffAccount {
                email,
                password_hash: "",
                is_superuser: false,
                division_id: None,
            },
        )
        .await
        .unwrap();
        let token = token::issue(&mut tx, AccountKind::User, id).await.unwrap();
        tx.commit().await.unwrap();
        (id, token)
    }

    async fn me(&self, node: &Node, token: &str) -> StatusCode {
        self.call(node, Method::GET, "/api/v1/auth/me/", token, None)
            .await
            .0
    }

    async fn count(&self, sql: &str) -> i64 {
        Query::new(sql).scalar(&self.db).await.unwrap()
    }
}

#[cfg_attr(
    not(kadro_pg),
    ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_share_exports_auth_and_uniqueness() {
    let Some(mut cluster) = Cluster::start().await else {
        return;
    };
    export_requested_on_a_is_downloaded_through_b(&cluster).await;
    let delays = deactivation_on_a_is_refused_on_b_within_a_second(&cluster).await;
    eprintln!("invalidation delays A → B (ms): {delays:?}");
    concurrent_creates_of_one_email_make_one_account(&cluster).await;
    every_export_job_runs_once(&mut cluster).await;
}

async fn export_requested_on_a_is_downloaded_through_b(cluster: &Cluster) {
    let (a, b) = (&cluster.a, &cluster.b);
    let (status, body) = cluster
        .call(
            a,
            Method::GET,
            "/api/v1/staff-users/?fields=id&fields=email&format=csv",
            SERVICE,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = body["cache_key"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/staff-users/?status_cache_key={key}");
    let url = crate::helpers::within("the export is built by either node", async {
        loop {
            let (_, body) = cluster.call(b, Method::GET, &path, SERVICE, None).await;
            if let Some(url) = body["url"].as_str() {
                return url.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    // The link names the node that answered (B); it works on A too, without a token.
    for node in [b, a] {
        let link = format!(
            "{}/export_file/{}",
            node.base,
            url.split_once("/export_file/").unwrap().1
        );
        let response = cluster.client.get(&link).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{link}");
        let text = response.text().await.unwrap();
        assert_eq!(
            text, "id,email\r\n",
            "no staff users yet: the header row only"
        );
    }
    let objects = cluster.bucket.objects().await;
    assert_eq!(objects.len(), 1, "{objects:?}");
    assert_eq!(objects[0].0, format!("exports/{key}.csv"));
}

/// Deactivates an account through A while B has its token cached, several times; the delays
/// until B refuses the token.
async fn deactivation_on_a_is_refused_on_b_within_a_second(cluster: &Cluster) -> Vec<u128> {
    let (a, b) = (&cluster.a, &cluster.b);
    let (id, token) = cluster.account("moving@example.com").await;
    // B caches tokens: a change no node is told of (the trigger off) is not seen by B...
    assert_eq!(cluster.me(b, &token).await, StatusCode::OK);
    Query::new("ALTER TABLE users DISABLE TRIGGER users_auth_changed")
        .execute(&cluster.db)
        .await
        .unwrap();
    Query::new("UPDATE users SET is_active = FALSE WHERE id = $1")
        .bind(id)
        .execute(&cluster.db)
        .await
        .unwrap();
    assert_eq!(
        cluster.me(b, &token).await,
        StatusCode::OK,
        "B's cache in use"
    );
    Query::new("ALTER TABLE users ENABLE TRIGGER users_auth_changed")
        .execute(&cluster.db)
        .await
        .unwrap();
    // ...while one it is told of reaches it.
    let mut delays = Vec::new();
    for round in 0..5 {
        let (status, body) = cluster
            .call(
                a,
                Method::POST,
                &format!("/api/v1/users/{id}/activate/"),
                SERVICE,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        until("B accepts the token again", || async {
            cluster.me(b, &token).await == StatusCode::OK
        })
        .await;
        assert_eq!(cluster.me(b, &token).await, StatusCode::OK, "cached on B");
        let (status, body) = cluster
            .call(
                a,
                Method::POST,
                &format!("/api/v1/users/{id}/deactivate/"),
                SERVICE,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "round {round}: {body}");
        let done = Instant::now();
        while cluster.me(b, &token).await != StatusCode::UNAUTHORIZED {
            assert!(
                done.elapsed() < Duration::from_secs(1),
                "round {round}: B still accepts the token after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        delays.push(done.elapsed().as_millis());
    }
    delays
}

async fn concurrent_creates_of_one_email_make_one_account(cluster: &Cluster) {
    let (status, body) = cluster
        .call(
            &cluster.a,
            Method::POST,
            "/api/v1/divisions/",
            SERVICE,
            Some(json!({"name": "Nodes", "division_type": "main"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let division = body["id"].as_i64().unwrap();
    let creates = (0..20).map(|i| {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let email = if i % 3 == 0 {
            "Same@Example.com"
        } else {
            "same@example.com"
        };
        cluster.call(
            node,
            Method::POST,
            "/api/v1/users/",
            SERVICE,
            Some(user_body(division, email)),
        )
    });
    let answers = futures_util::future::join_all(creates).await;
    let created = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::BAD_REQUEST,
            "{status}: {body}"
        );
    }
    assert_eq!(created, 1, "{answers:?}");
    assert_eq!(
        cluster
            .count("SELECT COUNT(*) FROM users WHERE lower(email) = 'same@example.com'")
            .await,
        1
    );
}

/// Ten exports asked of both nodes: each is built exactly once, by one node or the other.
async fn every_export_job_runs_once(cluster: &mut Cluster) {
    let mut keys = Vec::new();
    for i in 0..10 {
        let node = if i % 2 == 0 { &cluster.a } else { &cluster.b };
        let path = format!("/api/v1/staff-users/?fields=id&fields=email&format=csv&email=n{i}");
        let (status, body) = cluster.call(node, Method::GET, &path, SERVICE, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        keys.push(body["cache_key"].as_str().unwrap().to_owned());
    }
    until("every export is completed", || async {
        cluster
            .count("SELECT COUNT(*) FROM exports WHERE status = 'completed'")
            .await
            == 11
    })
    .await;
    until("no job is left", || async {
        cluster
            .count("SELECT COUNT(*) FROM jobs WHERE status NOT IN ('done', 'failed')")
            .await
            == 0
    })
    .await;
    // The log lines of the last builds may still be on their way: read until every key has
    // been logged, with a deadline, rather than for a fixed time.
    let deadline = Instant::now() + crate::helpers::WAIT;
    let built = loop {
        let mut built: Vec<String> = Vec::new();
        for node in [&mut cluster.a, &mut cluster.b] {
            node.process.drain();
            built.extend(
                node.logged("export built")
                    .iter()
                    .map(|f| f["cache_key"].as_str().unwrap().to_owned()),
            );
        }
        if keys.iter().all(|key| built.contains(key)) {
            break built;
        }
        assert!(
            Instant::now() < deadline,
            "not every export was logged as built: {built:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for key in &keys {
        assert_eq!(
            built.iter().filter(|k| *k == key).count(),
            1,
            "{key}: {built:?}"
        );
    }
}

/// Node A is killed (SIGKILL) in the middle of writing an export; once its lease has run out
/// node B builds the export from the start, and the bucket holds only the complete file.
#[cfg_attr(
    not(kadro_pg),
    ignore = "KADRO_TEST_DATABASE_URL was not set when the tests were built"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_of_a_killed_node_is_finished_by_the_other() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let Some(test_db) = TestDb::create(Backend::Postgres).await else {
        return;
    };
    let bucket = Bucket::create(&endpoint).await;
    let a = Node::start(&test_db, &bucket, &endpoint);
    let db = Db::connect(&test_db.url, &DbOptions::default())
        .await
        .unwrap();
    const ROWS: i64 = 300_000;
    Query::new(
        "INSERT INTO users (email, is_active, is_staff, date_joined) \
         SELECT 'row' || g || '@example.com', TRUE, TRUE, now() FROM generate_series(1, $1) g",
    )
    .bind(ROWS)
    .execute(&db)
    .await
    .unwrap();
    let client = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    let ask = |node: &Node, path: String| {
        client
            .get(format!("{}{path}", node.base))
            .header("Authorization", format!("Token {SERVICE}"))
            .send()
    };
    let body: Value = ask(
        &a,
        "/api/v1/staff-users/?fields=id&fields=email&format=csv".into(),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let key = body["cache_key"].as_str().expect("cache_key").to_owned();
    let progress = || async {
        Query::new("SELECT rows_written FROM exports WHERE cache_key = $1")
            .bind(key.clone())
            .scalar::<i64>(&db)
            .await
            .unwrap()
    };
    until("A is writing the file", || async { progress().await > 0 }).await;
    drop(a); // SIGKILL
    let written = progress().await;
    assert!(
        written < ROWS,
        "A finished before it was killed ({written} rows)"
    );
    assert_eq!(
        bucket.objects().await,
        vec![],
        "no object from the killed build"
    );
    // A's lease (60 s) runs out; the test does not wait for it.
    Query::new("UPDATE jobs SET locked_until = $1 WHERE status = 'running'")
        .bind(kadro::http::time::now() - chrono::Duration::seconds(1))
        .execute(&db)
        .await
        .unwrap();
    let b = Node::start(&test_db, &bucket, &endpoint);
    let status = format!("/api/v1/staff-users/?status_cache_key={key}");
    let url = crate::helpers::within("B completes the export", async {
        loop {
            let body: Value = ask(&b, status.clone()).await.unwrap().json().await.unwrap();
            if let Some(url) = body["url"].as_str() {
                return url.to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let text = client.get(&url).send().await.unwrap().text().await.unwrap();
    let lines: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(lines.len() as i64, ROWS + 1, "the header and every row");
    assert_eq!(lines[0], "id,email");
    assert!(lines[1..].iter().any(|l| l.ends_with(",row1@example.com")));
    let attempts: i64 = Query::new("SELECT attempts FROM jobs WHERE kind = 'export.build'")
        .scalar(&db)
        .await
        .unwrap();
    assert_eq!(attempts, 2, "A's attempt and B's");
    let objects = bucket.objects().await;
    assert_eq!(
        objects,
        vec![(format!("exports/{key}.csv"), text.len() as u64)]
    );
    db.close().await;
}
