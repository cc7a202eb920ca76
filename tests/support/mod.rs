//! Shared helpers for the muxserve integration tests (tests/README.md says
//! which test file covers what, and how to add one).
//!
//! Everything here talks to a real server over real sockets on 127.0.0.1:
//! either an in-process `muxserve::Server` (`TestServer::build()`, server.rs)
//! or the compiled binary (`Binary::serving(root).spawn()`, binary.rs). Every
//! socket has read and write timeouts, every loop is bounded, and every
//! child process is reaped (and only ever signalled by its PID).
//!
//! | module | holds |
//! | --- | --- |
//! | `fixtures` | the fixture site, `TempSite` copies, generated files, mtimes |
//! | `server` | `TestServer` (in-process) and its builder |
//! | `binary` | `Binary` (the executable's command line), `BinaryServer`, `Output` |
//! | `client` | connections, requests, pipelining, slow downloads, resets, `wait_until_refused` |
//! | `response` | `Response`, `ResponseReader`, parsing captured bytes, ETags |
//! | `multipart` | `multipart/byteranges` bodies and `Content-Range` |
//! | `codec` | gzip, brotli, zstd, sha256 |
//! | `probe` | the `--health-path` probe's expected answer |
//! | `proc` | signals, RLIMIT_NOFILE, /proc accounting |
//!
//! Test files `use support::*;`: everything is re-exported here.
//!
//! Each file in tests/ is its own crate and compiles this module again, using
//! a different part of it, so an item one crate leaves unused is dead code
//! there and alive elsewhere. `dead_code` is allowed for this module alone for
//! that reason (the test files themselves keep the lint); the structural fix,
//! a `muxserve-test-support` library crate as a dev-dependency, needs a
//! change to Cargo.toml.
#![allow(dead_code)]

pub mod binary;
pub mod client;
pub mod codec;
pub mod fixtures;
pub mod multipart;
pub mod probe;
pub mod proc;
pub mod response;
pub mod server;

// One glob for test files (`use support::*;`); a crate that needs nothing
// from one of these modules would otherwise be warned about its import.
#[allow(unused_imports)]
pub use {
    binary::*, client::*, codec::*, fixtures::*, multipart::*, probe::*, proc::*, response::*,
    server::*,
};
