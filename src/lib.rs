//! kadro: a staff and user directory service for commerce platforms.
#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod b2b;
pub mod bench_seed;
pub mod bootstrap;
pub mod cli;
pub mod commerce;
pub mod config;
pub mod console;
pub mod db;
pub mod demo;
pub mod exports;
pub mod http;
pub mod imports;
pub mod instore;
pub mod jobs;
pub mod openapi;
pub mod ops;
pub mod scim;
pub mod settings;
pub mod state;
pub mod webhooks;
