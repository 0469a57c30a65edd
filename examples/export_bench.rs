//! Benchmark (not a test): fills a database with N staff users, exports them through the real
//! export job, and prints the wall time and the peak memory of the export.
//!
//! ```sh
//! cargo run --release --example export_bench -- --rows 1000000 --format xls
//! cargo run --release --example export_bench -- --rows 1000000 --format csv \
//!     --database-url postgres://postgres@127.0.0.1:5432/kadro_bench   # an empty database
//! ```
//!
//! The export store is the configured one (`KADRO_EXPORT_STORE` and the S3 variables, see the
//! README), so the same run measures an S3 upload:
//!
//! ```sh
//! KADRO_EXPORT_STORE=s3://bench/exports KADRO_S3_ENDPOINT=http://127.0.0.1:5055 \
//!     AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
//!     cargo run --release --example export_bench -- --rows 1000000 --format csv
//! ```
//!
//! Peak memory is the process's high-water mark of resident memory (`VmHWM`), reset after the
//! fill so it measures the export alone (Linux only).

use std::time::Instant;

use clap::Parser;
use kadro::app::App;
use kadro::auth::Caller;
use kadro::b2b::export::{ACCOUNT_FIELDS, StaffUsersExport};
use kadro::config::{Config, Secret};
use kadro::db::{Db, Query};
use kadro::exports::format::Format;
use kadro::exports::{self, ExportList};
use kadro::http::time;
use kadro::jobs::worker::Step;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
struct Args {
    /// Staff users to create and export.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// csv, xls or xlsx.
    #[arg(long, default_value = "xls")]
    format: String,
    /// An empty database to use instead of a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Keep the temporary directory (database and export file) and print its path.
    #[arg(long)]
    keep: bool,
}

/// Rows per multi-row INSERT, and INSERTs per transaction.
const ROWS_PER_INSERT: u64 = 500;
const INSERTS_PER_TX: u64 = 50;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let format = Format::parse(&args.format)
        .ok_or_else(|| anyhow::anyhow!("--format must be csv, xls or xlsx"))?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(args, format))
}

async fn run(args: Args, format: Format) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::defaults();
    config.database_url = Secret::new(
        args.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display())),
    );
    config.export_dir = dir.path().join("exports");
    config.workers = 0;
    let app = App::build(config).await?;
    let state = app.state.clone();

    let started = Instant::now();
    fill(&state.db, args.rows).await?;
    let fill_time = started.elapsed();
    println!(
        "filled {} staff users in {:.1} s",
        args.rows,
        fill_time.as_secs_f64()
    );

    reset_peak_memory();
    let fields: Vec<String> = ACCOUNT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let list = ExportList::of(StaffUsersExport::default());
    let started = Instant::now();
    let key = exports::start(&state, &Caller::Service, &list, &fields, format)
        .await
        .map_err(|e| anyhow::anyhow!("starting the export: {e}"))?;
    let step = app
        .jobs
        .run_one(&state, "bench", &CancellationToken::new())
        .await?;
    let elapsed = started.elapsed();
    anyhow::ensure!(matches!(step, Step::Done(_)), "export job: {step:?}");
    let peak = peak_memory_kib();
    let name = format!("{key}.{}", format.extension());
    let size = state
        .exports
        .open(&name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("{name} is not in the export store"))?
        .len;
    println!(
        "exported {} rows x {} fields to {} in {:.1} s ({:.0} rows/s), file {:.1} MiB, \
         peak RSS during the export {}",
        args.rows,
        fields.len(),
        format.extension(),
        elapsed.as_secs_f64(),
        args.rows as f64 / elapsed.as_secs_f64(),
        size as f64 / 1_048_576.0,
        peak.map_or("unknown".into(), |k| format!(
            "{:.1} MiB",
            k as f64 / 1024.0
        )),
    );
    state.db.close().await;
    if args.keep {
        println!(
            "kept {} (and {name} in the export store)",
            dir.path().display()
        );
        let _ = dir.keep();
    }
    Ok(())
}

/// Inserts `rows` staff users in multi-row INSERTs (one password hash for all), spread over
/// ten divisions.
async fn fill(db: &Db, rows: u64) -> anyhow::Result<()> {
    let now = time::now();
    let mut divisions = Vec::new();
    for i in 0..10 {
        let id: i64 = Query::new(
            "INSERT INTO divisions (name, division_type, is_active, extra_data, created_date, \
             modified_date) VALUES ($1, 'main', TRUE, '{}', $2, $2) RETURNING id",
        )
        .bind(format!("Division {i} — Şişli"))
        .bind(now)
        .scalar(db)
        .await?;
        divisions.push(id);
    }
    let hash = kadro::auth::password::hash_now("benchmark password")
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))?;
    let mut next = 0u64;
    while next < rows {
        let mut tx = db.begin().await?;
        for _ in 0..INSERTS_PER_TX {
            if next >= rows {
                break;
            }
            let n = ROWS_PER_INSERT.min(rows - next);
            // `$1`, the hash, is bound once and referenced from every row.
            let mut q = Query::new(
                "INSERT INTO users (email, password_hash, first_name, last_name, phone_number, \
                 division_id, is_active, is_staff, is_superuser, shop_token, remote_id, language, \
                 date_joined, last_login) VALUES ",
            )
            .bind(hash.as_str());
            for i in next..next + n {
                if i > next {
                    q.push(", ");
                }
                let division = divisions[(i % divisions.len() as u64) as usize];
                q.push("(")
                    .push_bind(format!("user{i}@example.com"))
                    .push(", $1, ")
                    .push_bind(format!("Zoë {i}"))
                    .push(", ")
                    .push_bind(format!("Öztürk-{}", i % 9973))
                    .push(", ")
                    .push_bind(format!("+90 555 {:07}", i % 10_000_000))
                    .push(", ")
                    .push_bind(division)
                    .push(", TRUE, TRUE, FALSE, ")
                    .push_bind(format!("{:032x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
                    .push(", ")
                    .push_bind(i as i64 + 1)
                    .push(", 'tr', ")
                    .push_bind(now)
                    .push(", ")
                    .push_bind((i % 3 == 0).then_some(now))
                    .push(")");
            }
            q.execute(&mut tx).await?;
            next += n;
        }
        tx.commit().await?;
    }
    Ok(())
}

/// Resets `VmHWM` to the current resident size (Linux: `echo 5 > /proc/self/clear_refs`).
fn reset_peak_memory() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// `VmHWM` of this process, in KiB.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
