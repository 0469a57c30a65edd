//! Instore: geography, retail stores, permissions and permission groups, staffs and their
//! login. Every protected endpoint is declared once in [`routes::ENDPOINTS`], from which both
//! the router and the `permissions` table are built.

pub mod auth;
pub mod demo;
pub mod geography;
pub mod permissions;
pub mod references;
pub mod routes;
pub mod staffs;
pub mod stores;

pub use routes::router;
pub use staffs::export::export_sources;
