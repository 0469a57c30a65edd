//! kadro's integration tests: a real server on a random port, over SQLite and (when
//! `KADRO_TEST_DATABASE_URL` is set) PostgreSQL.

#[allow(dead_code)] // the harness offers more than any one group of tests uses
mod helpers;

mod auth;
mod conventions;
mod exports;
mod jobs;
mod ops;
