#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kadro::cli::main().await
}
