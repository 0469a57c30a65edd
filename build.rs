//! Tells the tests whether PostgreSQL was configured when they were built: with
//! `KADRO_TEST_DATABASE_URL` set, the `kadro_pg` cfg is on and the PostgreSQL variants of the
//! storage tests run; without it they are compiled as ignored, so `cargo test` reports them as
//! not run instead of as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(kadro_pg)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=KADRO_TEST_DATABASE_URL");
    if std::env::var_os("KADRO_TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=kadro_pg");
    }
}
