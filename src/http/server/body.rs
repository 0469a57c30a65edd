//! The bodies around a request: the request body's read deadline, and the response body that
//! tells its connection when the answer has been sent.

use std::error::Error;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::conn::ConnState;

/// The error a request body yields once its deadline has passed.
#[derive(Debug)]
pub struct RequestReadTimeout;

impl fmt::Display for RequestReadTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body was not received in time")
    }
}

impl Error for RequestReadTimeout {}

/// Whether `err`, or an error it wraps, is a [`RequestReadTimeout`]: the body extractor's
/// rejection wraps the body's error.
pub fn is_read_timeout(err: &(dyn Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.is::<RequestReadTimeout>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A request body that fails with [`RequestReadTimeout`] when it is still incomplete at its
/// deadline (the head's arrival plus the read timeout).
pub(super) struct ReadDeadline {
    inner: Incoming,
    deadline: Option<Pin<Box<Sleep>>>,
}

impl ReadDeadline {
    pub(super) fn new(inner: Incoming, deadline: Instant) -> Self {
        // A request without a body needs no timer.
        let deadline =
            (!inner.is_end_stream()).then(|| Box::pin(tokio::time::sleep_until(deadline)));
        ReadDeadline { inner, deadline }
    }
}

impl Body for ReadDeadline {
    type Data = Bytes;
    type Error = Box<dyn Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let expired = this
                    .deadline
                    .as_mut()
                    .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                if expired {
                    Poll::Ready(Some(Err(Box::new(RequestReadTimeout))))
                } else {
                    Poll::Pending
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells its connection, when hyper is done with it, that the answer has
/// been sent and the idle deadline starts.
pub(super) struct Answer {
    inner: axum::body::Body,
    conn: Arc<ConnState>,
}

impl Answer {
    pub(super) fn new(inner: axum::body::Body, conn: Arc<ConnState>) -> Self {
        Answer { inner, conn }
    }
}

impl Drop for Answer {
    fn drop(&mut self) {
        self.conn.response_sent();
    }
}

impl Body for Answer {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
