#![forbid(unsafe_code)]

/// jemalloc, with its background thread, gives memory freed after a burst (thousands of
/// connections at once) back to the system within seconds; glibc's allocator keeps the peak.
#[cfg(unix)]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    kadro::cli::main().await
}
