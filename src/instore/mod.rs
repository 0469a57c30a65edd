//! Instore: geography, retail stores, permission groups and staffs.

pub mod auth;
