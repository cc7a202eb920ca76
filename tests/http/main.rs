//! The fast functional suites, one module per feature, in one test binary:
//! each talks to an in-process server (or briefly the binary) over sockets,
//! and none raises a limit that other tests would feel, waits on timing
//! windows or spawns long-lived processes. One crate links once where
//! fourteen linked fourteen times (tests/README.md has the figures).
//!
//! Run one feature with `cargo test --test http static_files::`.

#[path = "../support/mod.rs"]
mod support;

mod auth;
mod cache_control;
mod compression;
mod conditional;
mod conformance;
mod cors;
mod errors;
mod etag;
mod file_cache;
mod framing;
mod headers;
mod keepalive;
mod limits;
mod listing;
mod metrics;
mod precompressed;
mod ranges;
mod site_features;
mod site_rules;
mod static_files;
mod traversal;
mod zstd;
