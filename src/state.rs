//! The state every handler, job and middleware reads: shared handles built once at start.

use std::sync::Arc;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::cache::AuthCache;
use crate::auth::password::Passwords;
use crate::auth::routes::DescribeStaff;
use crate::auth::throttle::LoginRate;
use crate::commerce::Commerce;
use crate::config::{Config, Secret};
use crate::db::Db;
use crate::exports::{ExportSources, ExportStore};
use crate::http::client::TrustedProxies;

/// What every handler reads; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Reads that may lag behind the primary by the replication delay (export rows):
    /// `KADRO_DATABASE_REPLICA_URL`, or the primary itself.
    pub replica: Db,
    pub config: Arc<Config>,
    pub passwords: Passwords,
    /// SHA-256 digests of `KADRO_SERVICE_TOKENS`, compared in constant time.
    pub service_token_digests: Arc<Vec<String>>,
    /// Signs export download links.
    pub secret_key: Arc<Secret>,
    /// The exportable lists, by the name their exports store.
    pub export_sources: Arc<ExportSources>,
    /// Where export files are kept.
    pub exports: Arc<dyn ExportStore>,
    /// The proxies whose `X-Forwarded-For` names the client (`KADRO_TRUSTED_PROXIES`).
    pub trusted_proxies: TrustedProxies,
    /// Wakes idle workers when a job is enqueued in this process.
    pub job_signal: Arc<Notify>,
    /// The Commerce platform, or local mode.
    pub commerce: Commerce,
    /// Token → caller, when `KADRO_AUTH_CACHE_MS` is set.
    pub auth_cache: Arc<AuthCache>,
    /// Login attempts per client address, counted in this process.
    pub login_rate: Arc<LoginRate>,
    /// How `GET /api/v1/auth/me/` describes an Instore staff (given by the Instore context).
    pub describe_staff: DescribeStaff,
    /// The client of webhook deliveries (timeout, no redirects, public addresses only).
    pub webhook_client: reqwest::Client,
    /// Cancelled when the process starts shutting down.
    pub shutting_down: CancellationToken,
}
