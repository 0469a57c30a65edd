//! The `kadro` command line: serve (default), migrate, check, account and token commands.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{self, App};
use crate::auth::password;
use crate::auth::token::{self, AccountKind};
use crate::b2b::accounts::{self, NewStaffAccount};
use crate::config::{Config, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "kadro",
    version,
    about = "Staff and user directory service for commerce platforms"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve HTTP (the default).
    Serve,
    /// Apply migrations and exit.
    Migrate,
    /// Check the configuration and that the database is reachable.
    Check,
    /// Fill the database with a small demo data set (local mode).
    SeedDemo,
    /// Fill the database fast with a large deterministic data set for the load benchmark.
    SeedBench(crate::bench_seed::BenchSize),
    /// Create a B2B superuser; prints its id.
    Createsuperuser(AccountArgs),
    /// B2B staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// Email of the account.
    #[arg(long)]
    pub email: String,
    /// Division id of the account.
    #[arg(long)]
    pub division: Option<i64>,
    /// Read the password from standard input instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Create a B2B staff account; prints its id.
    Create {
        #[command(flatten)]
        account: AccountArgs,
        /// Make the account a superuser.
        #[arg(long)]
        superuser: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a new token for a B2B account; prints the token.
    Issue {
        #[arg(long)]
        email: String,
    },
    /// Revoke a token.
    Revoke { token: String },
}

pub fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    init_tracing(&cli.config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Migrate => {
            App::build(cli.config).await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Check => {
            let app = App::build(cli.config).await?;
            app.state
                .db
                .ping()
                .await
                .context("database not reachable")?;
            println!("ok");
            Ok(())
        }
        Command::SeedDemo => {
            let app = App::build(cli.config).await?;
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
        Command::SeedBench(size) => {
            let app = App::build(cli.config).await?;
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
        Command::Createsuperuser(args) => create_staff(cli.config, args, true).await,
        Command::Staff(StaffCommand::Create { account, superuser }) => {
            create_staff(cli.config, account, superuser).await
        }
        Command::Token(TokenCommand::Issue { email }) => {
            let app = App::build(cli.config).await?;
            let id = accounts::id_by_email(&app.state.db, &email)
                .await?
                .with_context(|| format!("no account with email {email}"))?;
            let mut tx = app.state.db.begin().await?;
            let token = token::issue(&mut tx, AccountKind::User, id).await?;
            tx.commit().await?;
            println!("{token}");
            Ok(())
        }
        Command::Token(TokenCommand::Revoke { token: key }) => {
            let app = App::build(cli.config).await?;
            anyhow::ensure!(token::revoke(&app.state.db, &key).await?, "no such token");
            eprintln!("token revoked");
            Ok(())
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let bind = config.bind.clone();
    let app = App::build(config).await?;
    let mode = if app.state.config.commerce_url.is_some() {
        "commerce sync"
    } else {
        "local (no Commerce platform)"
    };
    let listener = TcpListener::bind(&bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    if let Some(first) = crate::bootstrap::first_start(&app.state).await? {
        let base = app
            .state
            .config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        println!(
            "kadro created a first superuser: {} (password: {})",
            first.email, first.password
        );
        println!(
            "Try it:\n  curl -H 'Authorization: Token {}' {base}/api/v1/auth/me/",
            first.token
        );
    }
    tracing::info!(%addr, mode, backend = ?app.state.db.dialect(), "kadro listening");
    let stop = CancellationToken::new();
    app::cancel_on_signals(stop.clone());
    app.serve(listener, stop).await
}

async fn create_staff(config: Config, args: AccountArgs, superuser: bool) -> anyhow::Result<()> {
    let min_length = config.password_min_length;
    let app = App::build(config).await?;
    let password = read_password(args.password_stdin)?;
    app.state
        .passwords
        .validate("password", &password)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(password.chars().count() >= min_length, "password too short");
    anyhow::ensure!(args.email.contains('@'), "not a valid email address");
    let hash = password::hash_now(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = app.state.db.begin().await?;
    let id = accounts::insert_staff(
        &mut tx,
        NewStaffAccount {
            email: &args.email,
            password_hash: &hash,
            is_superuser: superuser,
            division_id: args.division,
        },
    )
    .await
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            anyhow::anyhow!("an account with email {} already exists", args.email)
        } else if crate::db::is_foreign_key_violation(&e) {
            anyhow::anyhow!("no division with id {:?}", args.division)
        } else {
            e.into()
        }
    })?;
    tx.commit().await?;
    println!("{id}");
    Ok(())
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !from_stdin && stdin.is_terminal() {
        eprint!("Password: ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    anyhow::ensure!(!password.is_empty(), "no password given");
    Ok(password)
}
