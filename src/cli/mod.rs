//! The `kadro` command line, by what each command acts on: the server (`serve`, the default,
//! `migrate`, `check`), data (`seed-demo`, `seed-bench`), B2B accounts (`createsuperuser`,
//! `staff`, `user`), API tokens, Instore staffs (`instore staff`) and bulk imports (`import`).
//!
//! Only the options under "Global options" (the database and logging) belong to every
//! command. Every other [`Config`] field is an option of `kadro serve` (and of bare `kadro`,
//! which serves), however it is declared: [`Cli::command`] makes it so. The other commands read
//! the server's settings from their `KADRO_*` variables and defaults.
//!
//! Exit codes: 0 success, 1 failure (one line on stderr), 2 usage error.

mod accounts;
mod import;
mod instore;
mod prompt;
mod server;
mod words;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Config, GLOBAL_OPTIONS, LogFormat, Secret};

#[derive(Debug, Parser)]
#[command(
    name = "kadro",
    version,
    about = "Staff and user directory service for commerce platforms",
    after_help = "Without a command, kadro serves and takes the options of `kadro serve` \
        (see `kadro serve --help`).\n\
        Exit codes: 0 success, 1 failure, 2 usage error."
)]
pub struct Cli {
    /// The settings: from the top level for bare `kadro`, from `serve`'s options for
    /// `kadro serve`, from variables and defaults plus the global options otherwise.
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve HTTP (also what bare `kadro` does).
    Serve(Box<Config>),
    /// Apply migrations and exit.
    Migrate,
    /// Check the configuration and that the database is reachable; prints `ok`.
    Check,
    /// Fill the database with a small demo data set (local mode).
    SeedDemo,
    /// Fill the database fast with a large deterministic data set for the load benchmark.
    SeedBench(crate::bench_seed::BenchSize),
    /// Create a B2B superuser; prints its id.
    Createsuperuser(accounts::AccountArgs),
    /// B2B staff accounts (`staff create`).
    #[command(subcommand)]
    Staff(accounts::StaffCommand),
    /// B2B accounts: create, set a password, activate, deactivate, list.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// API tokens of B2B accounts.
    #[command(subcommand)]
    Token(accounts::TokenCommand),
    /// Instore: the staffs who work in retail stores.
    #[command(subcommand)]
    Instore(instore::InstoreCommand),
    /// Import B2B users or Instore staffs from a CSV or XLSX file, as the API's import does.
    #[command(subcommand)]
    Import(import::ImportCommand),
}

impl Cli {
    /// The command definition: the server options are hidden at the top level (bare `kadro`
    /// still takes them) and global nowhere, whatever their attributes say.
    pub fn command() -> clap::Command {
        <Self as CommandFactory>::command().mut_args(|arg| {
            if is_global(&arg) {
                arg
            } else {
                arg.global(false).hide(true)
            }
        })
    }

    /// Parses `args` (the program name first).
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let mut cmd = Self::command();
        let matches = cmd.try_get_matches_from_mut(args)?;
        let mut cli = Self::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
        if let Some(command) = &cli.command
            && !matches!(command, Command::Serve(_))
        {
            if let Some(flag) = server_flag_given(&cmd, &matches) {
                return Err(cmd.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--{flag} is an option of `kadro serve`, not of this command"),
                ));
            }
            take_globals(&mut cli.config, leaf(&matches));
        }
        Ok(cli)
    }

    /// The settings the command runs with.
    fn into_parts(self) -> (Config, Option<Command>) {
        match self.command {
            Some(Command::Serve(config)) => (*config, None),
            command => (self.config, command),
        }
    }
}

fn is_global(arg: &clap::Arg) -> bool {
    arg.get_help_heading() == Some(GLOBAL_OPTIONS)
}

/// A server option given before a command that is not `serve` (`kadro --bind … check`).
fn server_flag_given(cmd: &clap::Command, matches: &ArgMatches) -> Option<String> {
    cmd.get_arguments()
        .filter(|a| !is_global(a) && a.get_long().is_some())
        .find(|a| matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .and_then(|a| a.get_long().map(str::to_owned))
}

/// The innermost subcommand's matches: global options given anywhere end up there.
fn leaf(matches: &ArgMatches) -> &ArgMatches {
    match matches.subcommand() {
        Some((_, sub)) => leaf(sub),
        None => matches,
    }
}

/// Copies the global options of `matches` into `config`.
fn take_globals(config: &mut Config, matches: &ArgMatches) {
    if let Some(url) = matches.get_one::<Secret>("database_url") {
        config.database_url = url.clone();
    }
    if let Some(log) = matches.get_one::<String>("log") {
        config.log = log.clone();
    }
    if let Some(format) = matches.get_one::<LogFormat>("log_format") {
        config.log_format = *format;
    }
}

/// Logs to stderr: colours only on a terminal, sqlx's notices only from warnings up unless
/// the filter names sqlx.
pub fn init_tracing(config: &Config) {
    let spec = if config.log.contains("sqlx") {
        config.log.clone()
    } else {
        format!("{},sqlx=warn", config.log)
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Parses the process's arguments, runs the command and reports its outcome as an exit code.
pub async fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kadro: {}", words::one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let (config, command) = cli.into_parts();
    init_tracing(&config);
    // What a command writes is the command line's doing in the audit log (a served request
    // names its own caller).
    let work = async move {
        match command {
            None | Some(Command::Serve(_)) => server::serve(config).await,
            Some(Command::Migrate) => server::migrate(config).await,
            Some(Command::Check) => server::check(config).await,
            Some(Command::SeedDemo) => server::seed_demo(config).await,
            Some(Command::SeedBench(size)) => server::seed_bench(config, size).await,
            Some(Command::Createsuperuser(args)) => {
                accounts::create_staff(config, args, true).await
            }
            Some(Command::Staff(command)) => accounts::staff(config, command).await,
            Some(Command::User(command)) => accounts::user(config, command).await,
            Some(Command::Token(command)) => accounts::token(config, command).await,
            Some(Command::Instore(command)) => instore::run(config, command).await,
            Some(Command::Import(command)) => import::run(config, command).await,
        }
    };
    crate::audit::acting_as(crate::audit::Actor::Cli, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command says what it does and every option what it is for, including options
    /// added to `Config` later.
    #[test]
    fn every_command_and_option_is_explained() {
        fn walk(cmd: &clap::Command, path: &str) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(
                    arg.get_help().is_some(),
                    "`{path}`: `{id}` has no help text"
                );
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                assert!(sub.get_about().is_some(), "`{path}` has no help text");
                walk(sub, &path);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        cmd.clone().debug_assert();
        walk(&cmd, "kadro");
    }

    #[test]
    fn server_options_belong_to_serve() {
        let cli = Cli::try_parse_from(["kadro", "--bind", "127.0.0.1:1"]).unwrap();
        assert_eq!(cli.config.bind, "127.0.0.1:1");
        let cli = Cli::try_parse_from(["kadro", "--log", "warn", "serve", "--bind", "0.0.0.0:2"])
            .unwrap();
        let (config, command) = cli.into_parts();
        assert!(command.is_none());
        assert_eq!(
            (config.bind.as_str(), config.log.as_str()),
            ("0.0.0.0:2", "warn")
        );
        let cli = Cli::try_parse_from(["kadro", "check", "--log", "debug"]).unwrap();
        assert_eq!(cli.config.log, "debug");
        let refused = Cli::try_parse_from(["kadro", "check", "--bind", "127.0.0.1:1"]);
        assert_eq!(refused.unwrap_err().exit_code(), 2);
    }
}
