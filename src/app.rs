//! Assembling a kadro process: state, router, workers, serving and shutdown.

use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::auth::cache::AuthCache;
use crate::auth::password::Passwords;
use crate::auth::throttle::LoginRate;
use crate::commerce::Commerce;
use crate::config::Config;
use crate::db::{Db, DbOptions};
use crate::exports::ExportSources;
use crate::http::client::TrustedProxies;
use crate::http::hosts::AllowedHosts;
use crate::http::json::BODY_LIMIT;
use crate::http::request::PublicUrl;
use crate::jobs::worker::JobRunner;
use crate::state::AppState;
use crate::{auth, b2b, console, exports, http, instore, ops, settings};

/// A built application, ready to serve.
pub struct App {
    pub state: AppState,
    pub jobs: JobRunner,
}

impl App {
    /// Connects, migrates and loads the settings kept in the database.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        ops::metrics_handle();
        let db = Db::connect(
            config.database_url.expose(),
            &DbOptions {
                max_connections: config.db_max_connections,
            },
        )
        .await?;
        db.migrate().await.context("applying migrations")?;
        db.limit_sqlite_cache(config.sqlite_cache_mb).await?;
        instore::permissions::sync(&db)
            .await
            .context("updating the Instore permissions")?;
        let replica = match &config.database_replica_url {
            None => db.clone(),
            Some(url) => {
                let replica = Db::connect(
                    url.expose(),
                    &DbOptions {
                        max_connections: config.db_max_connections,
                    },
                )
                .await
                .context("KADRO_DATABASE_REPLICA_URL")?;
                anyhow::ensure!(
                    replica.dialect() == db.dialect(),
                    "KADRO_DATABASE_REPLICA_URL must name the same kind of database as KADRO_DATABASE_URL"
                );
                replica
            }
        };
        let secret_key = match &config.secret_key {
            Some(key) => key.clone(),
            None => settings::secret_key(&db).await?,
        };
        let service_token_digests = config
            .service_tokens
            .iter()
            .map(|t| t.expose().trim())
            .filter(|t| !t.is_empty())
            .map(auth::token::digest)
            .collect();
        let commerce = Commerce::from_config(&config)?;
        let webhook_client = crate::webhooks::delivery::client(&config)?;
        let trusted_proxies = TrustedProxies::parse(&config.trusted_proxies)?;
        // On PostgreSQL the cache waits for its listener to hear other nodes' changes.
        let auth_cache = Arc::new(AuthCache::new(
            config.auth_cache(),
            db.writes().clone(),
            db.postgres().is_none(),
        ));
        let state = AppState {
            db,
            replica,
            commerce,
            exports: exports::store::from_config(&config).context("KADRO_EXPORT_STORE")?,
            export_sources: Arc::new(crate::audit::export_sources(instore::export_sources(
                b2b::export_sources(ExportSources::default()),
            ))),
            passwords: Passwords::new(config.hash_concurrency, config.password_min_length),
            auth_cache,
            login_rate: Arc::new(LoginRate::new(config.login_rate_per_minute)),
            config: Arc::new(config),
            service_token_digests: Arc::new(service_token_digests),
            secret_key: Arc::new(secret_key),
            job_signal: Arc::new(Notify::new()),
            trusted_proxies,
            describe_staff: instore::auth::describe_me,
            shutting_down: CancellationToken::new(),
            webhook_client,
        };
        let jobs = crate::commerce::jobs::register(crate::webhooks::register(JobRunner::default()))
            .with_handler(exports::BUILD_JOB, Arc::new(exports::BuildExport))
            .with_handler(crate::imports::RUN_JOB, Arc::new(crate::imports::RunImport));
        Ok(App { state, jobs })
    }

    /// The HTTP application with its middleware.
    pub fn router(&self) -> Router {
        let api = Router::new()
            .merge(ops::router())
            .merge(auth::routes::router())
            .merge(b2b::router())
            .merge(instore::router(&self.state))
            .merge(exports::router())
            .merge(crate::imports::router())
            .merge(crate::audit::routes::router())
            .merge(crate::webhooks::router())
            .merge(crate::scim::router())
            .fallback(http::not_found)
            .method_not_allowed_fallback(http::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                auth::cache::forget_after_writes,
            ))
            .layer(axum::middleware::from_fn(crate::audit::context))
            .layer(axum::middleware::from_fn(http::json_renderer_only))
            .layer(axum::middleware::from_fn_with_state(
                self.state.config.handler_timeout(),
                http::hardening::handler_timeout,
            ))
            .layer(axum::Extension(PublicUrl(
                self.state.config.public_url.as_deref().map(Arc::from),
            )))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .with_state(self.state.clone());
        let console = console::router(self.state.clone(), api.clone());
        let routes = Router::new()
            .merge(ops::docs())
            .route("/", axum::routing::get(ops::to_docs))
            .merge(console)
            .merge(api)
            .layer(axum::middleware::from_fn(http::observe))
            // Outside `observe`, which names the client through the trusted proxies.
            .layer(axum::Extension(self.state.trusted_proxies.clone()));
        // Routing happens inside the fallback, after the path has been normalised.
        Router::new()
            .fallback_service(routes)
            .layer(axum::middleware::from_fn(http::trim_trailing_slash))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(AllowedHosts::from_config(&self.state.config)),
                http::hosts::check_host,
            ))
            .layer(axum::middleware::from_fn(http::hardening::security_headers))
    }

    /// Serves on `listener` until `stop` is cancelled: in-flight requests finish, workers
    /// release their jobs, then the pool closes.
    pub async fn serve(self, listener: TcpListener, stop: CancellationToken) -> anyhow::Result<()> {
        let router = self.router();
        let state = self.state.clone();
        let mut workers =
            self.jobs
                .spawn_workers(state.clone(), state.config.workers, stop.clone());
        if let Some(pool) = state.db.postgres()
            && state.auth_cache.enabled()
        {
            workers.spawn(auth::notify::listen(
                pool.clone(),
                state.auth_cache.clone(),
                stop.clone(),
            ));
        }
        if state.config.workers > 0 {
            workers.spawn(exports::cleanup::run_periodically(
                state.clone(),
                stop.clone(),
            ));
            workers.spawn(auth::housekeeping::run_periodically(
                state.db.clone(),
                state.config.token_ttl(),
                stop.clone(),
            ));
        }
        let shutting_down = state.shutting_down.clone();
        let signal = stop.clone();
        tokio::spawn(async move {
            signal.cancelled().await;
            shutting_down.cancel();
        });
        let limits = http::server::Limits::from_config(&state.config);
        http::server::serve(listener, router, limits, stop.clone())
            .await
            .context("serving HTTP")?;
        while workers.join_next().await.is_some() {}
        state.db.close().await;
        Ok(())
    }
}

/// Cancels `stop` on SIGINT or SIGTERM. The handlers are in place when this returns, so a
/// signal that arrives right after (say, once "listening" is logged) is never lost.
pub fn cancel_on_signals(stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::spawn(async move {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    tracing::info!("shutting down: finishing in-flight requests");
                    stop.cancel();
                });
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGINT and SIGTERM");
            }
        }
    }
    #[cfg(not(unix))]
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight requests");
        stop.cancel();
    });
}
