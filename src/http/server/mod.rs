//! kadro's HTTP/1.1 server: hyper under an accept loop of our own, so that the connection cap,
//! the deadlines of each connection and graceful shutdown are kadro's to decide (`axum::serve`
//! has neither a cap nor read deadlines).
//!
//! - At most `max_connections` connections are open at once. The loop takes a slot before it
//!   accepts, so when all are taken further clients wait in the kernel's backlog, unaccepted,
//!   and the connections being served are not slowed down.
//! - Each connection has a watchdog ([`conn`]): a client gets `request_read_timeout` to send a
//!   request's head (the body's deadline is enforced by [`body::ReadDeadline`]), and a kept-alive
//!   connection `idle_timeout` to start its next request.
//! - Stopping closes the listener, closes idle connections, lets in-flight requests finish, and
//!   returns when the last connection has ended.

mod body;
mod conn;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

pub use body::{RequestReadTimeout, is_read_timeout};

use crate::config::Config;

/// The limits each connection is held to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time to send a request's head and body, and a new connection's first request.
    pub read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        Limits {
            read_timeout: config.request_read_timeout(),
            idle_timeout: config.idle_timeout(),
            max_connections: config.max_connections(),
        }
    }
}

/// Clients the kernel holds, handshake done, until kadro accepts them (capped by the system's
/// `net.core.somaxconn`). Higher than the usual 128: when every connection slot is taken, a
/// burst of new clients waits here rather than being dropped and retrying.
pub const LISTEN_BACKLOG: u32 = 1024;

/// Binds `addr` (`host:port`, the first address it resolves to that binds) with
/// [`LISTEN_BACKLOG`].
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no address to bind");
    for resolved in tokio::net::lookup_host(addr).await? {
        let socket = if resolved.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(resolved) {
            Ok(()) => return socket.listen(LISTEN_BACKLOG),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Serves `router` on `listener` until `stop` is cancelled, then drains (see the module doc).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) -> io::Result<()> {
    let max = u32::try_from(limits.max_connections).unwrap_or(u32::MAX >> 3);
    let slots = Arc::new(Semaphore::new(max as usize));
    let limits = Arc::new(limits);
    metrics::gauge!("kadro_http_connections_max").set(f64::from(max));
    tracing::info!(
        max_connections = max,
        read_timeout_ms = limits.read_timeout.as_millis() as u64,
        idle_timeout_ms = limits.idle_timeout.as_millis() as u64,
        "serving HTTP"
    );
    loop {
        let slot = tokio::select! {
            _ = stop.cancelled() => break,
            slot = slots.clone().acquire_owned() => slot.expect("the slots are never closed"),
        };
        let (stream, peer) = tokio::select! {
            _ = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors or memory: wait rather than spin.
                    tracing::error!(error = %e, "accept error");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
            },
        };
        let (router, limits, stop) = (router.clone(), limits.clone(), stop.clone());
        tokio::spawn(async move {
            conn::serve_connection(stream, peer, router, &limits, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    // Every connection gives its slot back when it ends.
    let _all = slots.acquire_many(max).await;
    Ok(())
}

/// Errors about one connection that went away before it was accepted; the next accept works.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
