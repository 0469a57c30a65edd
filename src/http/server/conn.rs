//! One client connection: hyper's HTTP/1.1 state machine, watched by a deadline of our own.
//!
//! The watchdog sees the connection in one of three phases:
//! - **waiting** for a request, no byte of it arrived yet: a new connection may wait
//!   `read_timeout` for its first request, a kept-alive one `idle_timeout` for its next; then
//!   the connection is closed;
//! - **receiving a head**: its first bytes arrived; the whole head must be in within
//!   `read_timeout` (from the connection's start, for its first request), else the client is
//!   answered 408 and the connection closed;
//! - **busy** from a complete head until the answer has been sent. The body has its own
//!   deadline ([`ReadDeadline`]), the handler the handler timeout; a download's body may stream
//!   for as long as the client reads it.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::Limits;
use super::body::{Answer, ReadDeadline};

#[derive(Clone, Copy, Debug)]
enum Phase {
    Waiting {
        since: Instant,
        limit: Duration,
        first: bool,
    },
    Head {
        since: Instant,
    },
    Busy,
}

/// What the watchdog does when a deadline passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// Nothing was asked: close quietly.
    Close,
    /// A request is half sent: answer 408, then close.
    TooSlow,
}

/// The phase of one connection, shared by its reader, its service and its watchdog (all on
/// the connection's task, so the lock is never contended).
pub(super) struct ConnState {
    phase: Mutex<Phase>,
    changed: Notify,
    read_timeout: Duration,
    idle_timeout: Duration,
}

impl ConnState {
    fn new(limits: &Limits) -> Self {
        ConnState {
            phase: Mutex::new(Phase::Waiting {
                since: Instant::now(),
                limit: limits.read_timeout,
                first: true,
            }),
            changed: Notify::new(),
            read_timeout: limits.read_timeout,
            idle_timeout: limits.idle_timeout,
        }
    }

    fn set(&self, change: impl FnOnce(Phase) -> Option<Phase>) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(next) = change(*phase) {
            *phase = next;
            self.changed.notify_one();
        }
    }

    fn bytes_arrived(&self) {
        self.set(|phase| match phase {
            Phase::Waiting { since, first, .. } => Some(Phase::Head {
                since: if first { since } else { Instant::now() },
            }),
            _ => None,
        });
    }

    /// The head is complete: returns the deadline of the body.
    fn request_started(&self) -> Instant {
        let mut started = Instant::now();
        self.set(|phase| {
            if let Phase::Head { since } = phase {
                started = since;
            }
            Some(Phase::Busy)
        });
        started + self.read_timeout
    }

    pub(super) fn response_sent(&self) {
        let idle_timeout = self.idle_timeout;
        self.set(|_| {
            Some(Phase::Waiting {
                since: Instant::now(),
                limit: idle_timeout,
                first: false,
            })
        });
    }

    fn deadline(&self) -> Option<(Instant, Expiry)> {
        match *self.phase.lock().unwrap_or_else(PoisonError::into_inner) {
            Phase::Waiting { since, limit, .. } => Some((since + limit, Expiry::Close)),
            Phase::Head { since } => Some((since + self.read_timeout, Expiry::TooSlow)),
            Phase::Busy => None,
        }
    }
}

/// Serves one connection until it ends, is found too slow, or is drained after `stop`.
pub(super) async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: &Limits,
    stop: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let state = Arc::new(ConnState::new(limits));
    let io = TokioIo::new(Watched {
        stream,
        conn: state.clone(),
    });
    let service = {
        let state = state.clone();
        hyper::service::service_fn(move |req| answer(req, peer, router.clone(), state.clone()))
    };
    let mut conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    metrics::gauge!("kadro_http_connections_open").increment(1.0);
    let mut draining = false;
    loop {
        let deadline = state.deadline();
        let wake = deadline.map_or_else(|| Instant::now() + Duration::from_secs(86_400), |d| d.0);
        enum Event {
            Ended(Result<(), hyper::Error>),
            Changed,
            Due,
            Stop,
        }
        let event = tokio::select! {
            result = &mut conn => Event::Ended(result),
            () = state.changed.notified() => Event::Changed,
            () = tokio::time::sleep_until(wake), if deadline.is_some() => Event::Due,
            () = stop.cancelled(), if !draining => Event::Stop,
        };
        match event {
            Event::Ended(Ok(())) => break,
            Event::Ended(Err(e)) => {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
                break;
            }
            Event::Changed => {}
            Event::Stop => {
                draining = true;
                Pin::new(&mut conn).graceful_shutdown();
            }
            Event::Due => match state.deadline() {
                Some((at, expiry)) if at <= Instant::now() => {
                    let reason = match expiry {
                        Expiry::Close => "idle",
                        Expiry::TooSlow => "read_timeout",
                    };
                    metrics::counter!("kadro_http_connections_timed_out_total", "reason" => reason)
                        .increment(1);
                    if expiry == Expiry::TooSlow {
                        let watched = conn.into_parts().io.into_inner();
                        answer_too_slow(watched.stream).await;
                    }
                    break;
                }
                _ => {}
            },
        }
    }
    metrics::gauge!("kadro_http_connections_open").decrement(1.0);
}

/// Hands one request to the router; its body gets the read deadline, its answer tells the
/// connection when it has been sent. The peer's address is there for `ConnectInfo`.
async fn answer(
    req: hyper::Request<Incoming>,
    peer: SocketAddr,
    router: Router,
    conn: Arc<ConnState>,
) -> Result<hyper::Response<Answer>, Infallible> {
    let deadline = conn.request_started();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = axum::body::Body::new(ReadDeadline::new(body, deadline));
    let response = router.oneshot(Request::from_parts(parts, body)).await?;
    Ok(response.map(|body| Answer::new(body, conn)))
}

/// The 408 sent to a client whose request head did not arrive in time, written on the raw
/// socket (hyper has given it up), then the connection is closed.
async fn answer_too_slow(mut stream: TcpStream) {
    let body = serde_json::json!({ "detail": crate::http::error::REQUEST_TIMEOUT }).to_string();
    let mut response = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in crate::http::hardening::SECURITY_HEADERS {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&body);
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// The socket, noting when bytes of a request arrive.
struct Watched {
    stream: TcpStream,
    conn: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.conn.bytes_arrived();
        }
        result
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
