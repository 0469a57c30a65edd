//! kadro's integration tests: a real server on a random port, over SQLite and (when
//! `KADRO_TEST_DATABASE_URL` is set) PostgreSQL.

#[allow(dead_code)] // the harness offers more than any one group of tests uses
mod helpers;

mod account_tokens;
mod audit;
mod audit_trail;
mod auth;
mod b2b_commerce;
mod b2b_commerce_faults;
mod b2b_divisions;
mod b2b_users;
mod body_errors;
mod cli;
mod cli_accounts;
mod cli_import;
mod cli_start;
mod console;
mod conventions;
mod exports;
mod hardening;
mod imports;
mod imports_formats;
mod imports_lifecycle;
mod imports_staffs;
mod instore_geography;
mod instore_login;
mod instore_permissions;
mod instore_staff_writes;
mod instore_staffs;
#[allow(dead_code)] // each group of Instore tests uses part of it
mod instore_support;
mod jobs;
mod login_lockout;
mod nodes;
mod null_characters;
mod ops;
mod ops_process;
mod process;
mod query_counts;
mod request_tracing;
mod scim;
mod scim_groups;
mod scim_okta;
mod scim_queries;
#[allow(dead_code)] // each group of SCIM tests uses part of it
mod scim_support;
mod scim_versions;
mod server_limits;
mod settings;
mod unicode;
mod webhook_logs;
mod webhooks;
mod workers;
