//! The commands about the server and its database: serve, migrate, check, demo and benchmark
//! data.

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::app::{self, App};
use crate::config::Config;

pub async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let app = App::build(config).await?;
    let mode = if app.state.config.commerce_url.is_some() {
        "commerce sync"
    } else {
        "local (no Commerce platform)"
    };
    let listener = crate::http::server::bind(&bind)
        .await
        .with_context(|| format!("cannot listen on {bind}"))?;
    let addr = listener.local_addr()?;
    let start = crate::bootstrap::start(&app.state).await?;
    let base = app
        .state
        .config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let database = crate::db::location(app.state.config.database_url.expose());
    if let Some(advice) = crate::bootstrap::advice(&start, base.trim_end_matches('/'), &database) {
        println!("{advice}");
    }
    let stop = CancellationToken::new();
    app::cancel_on_signals(stop.clone());
    tracing::info!(%addr, mode, backend = ?app.state.db.dialect(), "kadro listening");
    app.serve(listener, stop).await
}

pub async fn migrate(config: Config) -> anyhow::Result<()> {
    App::build(config).await?;
    eprintln!("migrations applied");
    Ok(())
}

pub async fn check(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    app.state
        .db
        .ping()
        .await
        .context("the database does not answer")?;
    println!("ok");
    Ok(())
}

pub async fn seed_demo(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    match crate::demo::seed(&app.state).await? {
        None => println!("B2B demo data already present; nothing changed"),
        Some(s) => {
            println!(
                "demo data: {} divisions, {} users, B2B staff {}",
                s.divisions,
                s.users,
                s.staff.join(", ")
            );
            println!(
                "every B2B demo account's password: {}",
                crate::demo::DEMO_PASSWORD
            );
        }
    }
    match crate::instore::demo::seed(&app.state.db, &app.state.passwords).await? {
        None => println!("Instore already has stores; Instore demo data not added"),
        Some(d) => println!(
            "Instore demo: 3 stores, 2 permission groups, staff usernames {} (password: {})",
            d.usernames.join(", "),
            d.password
        ),
    }
    Ok(())
}

pub async fn seed_bench(config: Config, size: crate::bench_seed::BenchSize) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let started = std::time::Instant::now();
    let rows = crate::bench_seed::seed_b2b(&app.state.db, &size).await?
        + crate::bench_seed::seed_instore(&app.state.db, &size).await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {rows} rows in {secs:.1} s ({:.0} rows/s)",
        rows as f64 / secs
    );
    Ok(())
}
