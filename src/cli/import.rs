//! `kadro import users|staffs FILE`: the API's import (the file copied to the uploads, an
//! `imports` row and its `import.run` job), run by this process with its progress on stderr.
//! A server's worker may take the job instead; the command then follows it to the end.
//! Exits 1 when any row was refused (they are listed on stderr) or the import failed.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use super::words::human;
use crate::app::App;
use crate::config::Config;
use crate::db::Db;
use crate::exports::record::{Owner, Status};
use crate::imports::record::{self, ImportRow};
use crate::imports::upload::{self, ImportRequest};
use crate::imports::{staffs, users};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import B2B users from a CSV or XLSX file (the columns of `POST /api/v1/users/import/`).
    Users(ImportArgs),
    /// Import Instore staffs from a CSV or XLSX file (the columns of `POST /api/v1/staffs/import/`).
    Staffs(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file: CSV, or XLSX when its name ends in `.xlsx`.
    file: PathBuf,
    /// `create` refuses an existing account (a refused row); `upsert` updates it.
    #[arg(long, value_enum, default_value_t = Mode::Create)]
    mode: Mode,
    /// Check every row and write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    Create,
    Upsert,
}

/// Refused rows listed on stderr at the end; the rest are counted.
const LISTED_ERRORS: i64 = 20;

pub async fn run(config: Config, command: ImportCommand) -> anyhow::Result<()> {
    let (target, args) = match command {
        ImportCommand::Users(args) => (users::TARGET, args),
        ImportCommand::Staffs(args) => (staffs::TARGET, args),
    };
    let app = App::build(config).await?;
    let state = &app.state;
    let request = ImportRequest {
        target,
        upsert: args.mode == Mode::Upsert,
        dry_run: args.dry_run,
        // The command acts with the operator's full access: as a service token would.
        owner: Owner {
            kind: "service",
            id: None,
        },
    };
    let (key, job) = upload::start_from_file(state, request, &args.file)
        .await
        .map_err(|e| human(e, &[("file", "FILE")], ""))?;
    let stop = CancellationToken::new();
    crate::app::cancel_on_signals(stop.clone());
    let terminal = std::io::stderr().is_terminal();
    let shown = tokio::spawn(show_progress(state.db.clone(), key.clone(), terminal));
    let import = loop {
        app.jobs.run_job(state, "kadro-import", &stop, job).await?;
        let import = record::by_key(&state.db, &key)
            .await?
            .context("the import is gone")?;
        if matches!(import.status(), Status::Completed | Status::Failed) {
            break import;
        }
        if stop.is_cancelled() {
            shown.abort();
            anyhow::bail!(
                "stopped after {} rows; a kadro server's worker resumes import {key}",
                import.rows_done
            );
        }
        // Not due (a retry waits) or a server's worker holds it.
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.cancelled() => {}
        }
    };
    shown.abort();
    if terminal {
        eprintln!();
    }
    summarize(&state.db, &import, &args.file).await
}

/// The progress every half second: a bar on a terminal, a line every ten seconds otherwise.
async fn show_progress(db: Db, key: String, terminal: bool) {
    let mut tick = 0u64;
    loop {
        if let Ok(Some(import)) = record::by_key(&db, &key).await {
            let done = import.rows_done;
            let total = import.rows_total.unwrap_or(0);
            if terminal {
                let width = 30;
                let filled = if total > 0 {
                    (done * width / total) as usize
                } else {
                    0
                };
                let percent = if total > 0 { done * 100 / total } else { 0 };
                eprint!(
                    "\r[{}{}] {done}/{total} rows ({percent}%), {} failed",
                    "#".repeat(filled),
                    " ".repeat(width as usize - filled),
                    import.failed
                );
                let _ = std::io::stderr().flush();
            } else if tick.is_multiple_of(20) {
                eprintln!("{done}/{total} rows, {} failed", import.failed);
            }
        }
        tick += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One summary line (and the first refused rows) on stderr; an error when any row failed.
async fn summarize(db: &Db, import: &ImportRow, file: &std::path::Path) -> anyhow::Result<()> {
    let errors = record::errors_after(db, import.id, 0, LISTED_ERRORS).await?;
    for e in &errors {
        eprintln!("row {}: {}: {}", e.row_number, e.field, e.message);
    }
    if errors.len() as i64 == LISTED_ERRORS {
        eprintln!(
            "… see the status of import {} for every refused row",
            import.cache_key
        );
    }
    let dry = if import.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    eprintln!(
        "{}: {} rows, {} created, {} updated, {} failed{dry}",
        file.display(),
        import.rows_done,
        import.created,
        import.updated,
        import.failed
    );
    if let Some(reason) = &import.reason {
        anyhow::bail!("the import failed: {reason}");
    }
    anyhow::ensure!(import.failed == 0, "{} rows were refused", import.failed);
    Ok(())
}
