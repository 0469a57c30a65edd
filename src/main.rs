#![forbid(unsafe_code)]

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match kadro::cli::run(kadro::cli::Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kadro: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
