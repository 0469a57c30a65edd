//! How many statements a request (or any scope) sends to the database.
//!
//! Every [`Query`](super::Query) run inside [`count_queries`] adds one, so the request log line
//! and the `Server-Timing` header can say how many round trips a request cost, and a test can
//! prove that a page costs a fixed number of queries however many rows it holds. A task-local
//! counter: it costs one thread-local lookup per query and needs no plumbing through the
//! functions in between.

use std::cell::Cell;

tokio::task_local! {
    static QUERIES: Cell<u32>;
}

/// Runs `work`, returning its output and the number of queries it sent.
pub async fn count_queries<F: Future>(work: F) -> (F::Output, u32) {
    QUERIES
        .scope(Cell::new(0), async {
            let output = work.await;
            (output, QUERIES.with(Cell::get))
        })
        .await
}

/// Counts one query in the current scope (nothing outside one).
pub(super) fn counted() {
    let _ = QUERIES.try_with(|n| n.set(n.get().saturating_add(1)));
}
