//! muxserve: a static-site HTTP/1.1 server.
//!
//! ```text
//!              SIGTERM/SIGINT ──► shutdown pipe ─┐
//!                                                ▼
//!   clients ──► listener ──► [ reactor: polling::Poller ] ──jobs──► crossbeam ──► [ worker 1..N ]
//!                             owns listener, parked conns,  ◄──returns── crossbeam ◄──┘
//!                             deadlines, shutdown phase          (+ Poller::notify)
//! ```
//!
//! One thread (the reactor, `src/reactor/`) accepts connections and waits for readiness; a pool
//! of workers (`src/worker.rs`) reads, parses and frames ([`http`]), asks the [`site`] what to
//! answer and writes it (`src/conn/`). A connection has exactly one owner at any moment: parked in the reactor's slab,
//! or moved by value into one worker's job and back. See docs/ARCHITECTURE.md.

// Nothing a client, the network or the filesystem does may panic the server: errors are values.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod config;
pub(crate) mod conn;
pub mod descriptors;
pub mod health;
pub mod http;
pub mod log;
pub mod metrics;
pub(crate) mod pace;
pub(crate) mod reactor;
pub(crate) mod readiness;
pub mod reload;
pub mod server;
pub mod shutdown;
pub mod site;
pub(crate) mod worker;

pub use config::{AccessLog, Cli, Command, Config, MaxConnections};
pub use reactor::Outcome;
pub use reload::{ConfigSource, ReloadHandle};
pub use server::{Running, Server};
pub use shutdown::ShutdownHandle;
