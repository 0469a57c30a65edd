//! The server's own limits, tried with real sockets: slow clients are answered 408 or closed
//! at the read deadline while `/healthz` keeps answering, idle connections close at the idle
//! deadline, connections over the cap wait without slowing the ones served, and a handler
//! that does not answer in time is a 504 (a streamed download is not cut).

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use kadro::exports::store::StoredFile;
use kadro::exports::{ExportStore, LocalDirStore};
use kadro::http::error::REQUEST_TIMEOUT;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::b2b_divisions::create_division;
use crate::b2b_users::user_body;
use crate::exports::{export_status, start_export};
use crate::helpers::{Backend, TestApp, within};
use crate::per_backend;

per_backend!(
    slow_clients_are_cut_off_while_healthz_answers,
    idle_connections_close_after_the_idle_timeout,
    connections_over_the_cap_wait_for_a_free_slot,
    slow_handlers_answer_504,
    downloads_stream_past_the_handler_timeout,
);

fn addr(app: &TestApp) -> &str {
    app.base.trim_start_matches("http://")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(addr(app)).await.expect("connect")
}

/// Reads until the server closes the connection; what it sent before closing.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    // A reset after the answer still ends the connection; what was read is kept.
    let _ = within(
        "the server closes the connection",
        stream.read_to_end(&mut received),
    )
    .await;
    String::from_utf8_lossy(&received).into_owned()
}

/// Reads one answer (head and `Content-Length` body) from a kept-alive connection.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(stream.read_u8().await.expect("an answer"));
    }
    let head = String::from_utf8(head).unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .expect("content-length")
        .trim()
        .parse()
        .unwrap();
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (head, String::from_utf8(body).unwrap())
}

async fn get_healthz(stream: &mut TcpStream, host: &str, close: bool) -> String {
    let connection = if close { "close" } else { "keep-alive" };
    let request =
        format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: {connection}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (head, body) = within("the /healthz answer", read_response(stream)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body
}

/// Half-sent requests of every kind (nothing, part of a head, a head trickled byte by byte, a
/// body shorter than its `Content-Length`, a chunked body without its last chunk) are cut off
/// at the read deadline, not before and not much after, while `/healthz` answers throughout.
async fn slow_clients_are_cut_off_while_healthz_answers(backend: Backend) {
    let read_timeout = Duration::from_millis(700);
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.request_read_timeout_ms = read_timeout.as_millis() as u64;
    })
    .await
    else {
        return;
    };
    let host = addr(&app).to_owned();
    let login = format!(
        "POST /api/v1/auth/login/ HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    );
    let kinds = [
        ("nothing", String::new()),
        (
            "part of a head",
            format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: "),
        ),
        (
            "short body",
            format!("{login}Content-Length: 100\r\n\r\n{{\"email\": "),
        ),
        (
            "short chunked body",
            format!("{login}Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"ema\r\n"),
        ),
    ];
    let started = Instant::now();
    let mut slow = Vec::new();
    for round in 0..15 {
        for (kind, sent) in &kinds {
            let mut stream = connect(&app).await;
            stream.write_all(sent.as_bytes()).await.unwrap();
            slow.push((round, *kind, stream));
        }
    }
    // A head trickled a byte every 50 ms: activity does not move the deadline.
    let trickled = connect(&app).await;
    let (mut trickled_read, mut trickled_write) = trickled.into_split();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\nX-Slow: ");
    trickled_write.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        while trickled_write.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // While 61 clients hang, the server answers.
    for _ in 0..5 {
        let asked = Instant::now();
        let response = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            asked.elapsed() < Duration::from_millis(500),
            "{:?}",
            asked.elapsed()
        );
    }
    assert!(
        started.elapsed() < read_timeout,
        "the test itself was too slow"
    );

    for (round, kind, mut stream) in slow {
        let received = until_closed(&mut stream).await;
        let closed = started.elapsed();
        assert!(
            closed >= read_timeout,
            "{kind} #{round} closed after {closed:?}"
        );
        assert!(
            closed < read_timeout + Duration::from_secs(5),
            "{kind}: {closed:?}"
        );
        if kind == "nothing" {
            assert_eq!(
                received, "",
                "a connection that asked nothing is closed quietly"
            );
            continue;
        }
        assert!(received.starts_with("HTTP/1.1 408"), "{kind}: {received}");
        let body = received.split("\r\n\r\n").nth(1).unwrap_or("");
        let body: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{received}"));
        assert_eq!(body, json!({ "detail": REQUEST_TIMEOUT }), "{kind}");
        assert!(
            received
                .to_ascii_lowercase()
                .contains("x-content-type-options: nosniff")
        );
    }
    let mut received = Vec::new();
    let _ = within(
        "the trickled head is cut",
        trickled_read.read_to_end(&mut received),
    )
    .await;
    let closed = started.elapsed();
    assert!(
        closed < read_timeout * 3,
        "the trickle moved the deadline: {closed:?}"
    );
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 408"));
    trickle.abort();
    // The server is as available as before.
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// A kept-alive connection may wait longer than the read deadline for its next request, and
/// is closed at the idle deadline.
async fn idle_connections_close_after_the_idle_timeout(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| {
        c.request_read_timeout_ms = 300;
        c.idle_timeout_ms = 1_200;
    })
    .await
    else {
        return;
    };
    let host = addr(&app).to_owned();
    let mut stream = connect(&app).await;
    get_healthz(&mut stream, &host, false).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    get_healthz(&mut stream, &host, false).await;
    let answered = Instant::now();
    let received = until_closed(&mut stream).await;
    let idle = answered.elapsed();
    assert_eq!(received, "");
    assert!(
        idle >= Duration::from_millis(1_150),
        "closed after {idle:?}"
    );
    assert!(idle < Duration::from_secs(5), "closed after {idle:?}");
}

/// With every slot taken, a new client is not accepted: it waits, while the connections being
/// served keep being answered; when one of them ends, the waiting client is served.
async fn connections_over_the_cap_wait_for_a_free_slot(backend: Backend) {
    let Some(app) = TestApp::spawn_with(backend, |c| c.max_connections = Some(3)).await else {
        return;
    };
    let host = addr(&app).to_owned();
    let mut served = Vec::new();
    for _ in 0..3 {
        let mut stream = connect(&app).await;
        get_healthz(&mut stream, &host, false).await;
        served.push(stream);
    }
    // The kernel completes the handshake; kadro does not accept the connection yet.
    let mut waiting = connect(&app).await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n");
    waiting.write_all(request.as_bytes()).await.unwrap();
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read_u8()).await;
    assert!(
        early.is_err(),
        "a connection over the cap was served: {early:?}"
    );
    for stream in &mut served {
        get_healthz(stream, &host, false).await;
    }
    let early = tokio::time::timeout(Duration::from_millis(100), waiting.read_u8()).await;
    assert!(
        early.is_err(),
        "a connection over the cap was served: {early:?}"
    );
    // One served connection ends: its slot goes to the waiting client.
    get_healthz(&mut served[0], &host, true).await;
    assert_eq!(until_closed(&mut served[0]).await, "");
    let (head, _) = within("the waiting client is served", read_response(&mut waiting)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// A create that waits on a hanging Commerce platform longer than the handler timeout answers
/// 504 at the timeout; nothing of it shows, and the server answers other requests.
async fn slow_handlers_answer_504(backend: Backend) {
    let commerce = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&commerce)
        .await;
    let url = commerce.uri();
    let Some(app) = TestApp::spawn_with(backend, move |c| {
        c.commerce_url = Some(url);
        c.commerce_timeout_ms = 30_000;
        c.handler_timeout_ms = 400;
    })
    .await
    else {
        return;
    };
    let division = create_division(&app, "Main", "main", None).await;
    let asked = Instant::now();
    let (status, body) = app
        .post("/api/v1/users/", user_body(division, "slow@example.com"))
        .await;
    let took = asked.elapsed();
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(
        body,
        json!({ "detail": "The server did not answer in time." })
    );
    assert!(took >= Duration::from_millis(400), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (status, users) = app.get("/api/v1/users/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users["count"], 0, "{users}");
}

/// A store whose files are read a few bytes at a time, slowly.
#[derive(Debug)]
struct SlowReads(LocalDirStore);

struct Trickle {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(40))));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        let mut small = [0u8; 16];
        let mut part = ReadBuf::new(&mut small);
        let result = self.inner.as_mut().poll_read(cx, &mut part);
        buf.put_slice(part.filled());
        result
    }
}

#[async_trait::async_trait]
impl ExportStore for SlowReads {
    async fn scratch(&self, name: &str) -> io::Result<PathBuf> {
        self.0.scratch(name).await
    }
    async fn publish(&self, scratch: &Path, name: &str) -> io::Result<()> {
        self.0.publish(scratch, name).await
    }
    async fn discard_scratch(&self, name: &str) -> io::Result<()> {
        self.0.discard_scratch(name).await
    }
    async fn open(&self, name: &str) -> io::Result<Option<StoredFile>> {
        Ok(self.0.open(name).await?.map(|file| StoredFile {
            len: file.len,
            reader: Box::pin(Trickle {
                inner: file.reader,
                pause: None,
            }),
        }))
    }
    async fn delete(&self, name: &str) -> io::Result<()> {
        self.0.delete(name).await
    }
}

/// The handler timeout limits the time to the answer's head: a download whose body streams for
/// several times that long arrives whole.
async fn downloads_stream_past_the_handler_timeout(backend: Backend) {
    let handler_timeout = Duration::from_millis(300);
    let Some(app) = TestApp::spawn_with_state(
        backend,
        |c| c.handler_timeout_ms = handler_timeout.as_millis() as u64,
        |state| {
            state.exports =
                std::sync::Arc::new(SlowReads(LocalDirStore::new(&state.config.export_dir)))
        },
    )
    .await
    else {
        return;
    };
    for i in 0..20 {
        crate::helpers::create_b2b_staff(&app.state, &format!("staff{i}@example.com"), false, None)
            .await;
    }
    let key = start_export(&app, "fields=id&fields=email&format=csv").await;
    app.drain_jobs().await;
    let (_, status) = export_status(&app, &key).await;
    let url = status["url"].as_str().expect("url");
    let started = Instant::now();
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("the whole file");
    let took = started.elapsed();
    assert!(
        took > handler_timeout * 2,
        "the body was not slow: {took:?}"
    );
    assert_eq!(text.lines().count(), 22, "{text}");
    assert!(text.contains("staff19@example.com"), "{text}");
}
