//! Putting the pieces together: [`Server::bind`] opens the root and the listener and starts the
//! workers; [`Server::run`] runs the reactor on the calling thread, with the reload watcher
//! beside it, until a shutdown completes; [`Server::start`] does both on a thread of its own, for
//! embedding and tests. It never parses HTTP and never touches a connection.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use crossbeam_channel::bounded;
use polling::Poller;

use crate::config::{Config, MaxConnections};
use crate::conn::Listening;
use crate::descriptors::{self, Budget};
use crate::log::{self, AccessLogger};
use crate::metrics::Metrics;
use crate::pace::Pace;
use crate::reactor::{Channels, Outcome, Reactor, ReactorConfig};
use crate::readiness::Board;
use crate::reload::{self, ConfigSource, ReloadHandle};
use crate::shutdown::{self, Draining, ShutdownHandle};
use crate::worker::{self, Context, Links};

/// Backlog of the listening socket: room for bursts of connections the reactor has not
/// accepted yet (the kernel caps it at net.core.somaxconn).
const BACKLOG: i32 = 4096;

/// A bound server whose workers are running and whose reactor has not started yet.
#[derive(Debug)]
pub struct Server {
    reactor: Reactor,
    addr: SocketAddr,
    handle: ShutdownHandle,
    ctx: Arc<Context>,
    workers: Vec<JoinHandle<()>>,
    log_writer: Option<JoinHandle<()>>,
    reload: reload::Pending,
}

impl Server {
    /// Opens the root, binds the listener and starts the workers.
    pub fn bind(config: Config) -> anyhow::Result<Server> {
        let (site, serving) = reload::open_site(&config)?;
        let (listener, deferred) =
            listen(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let (log, log_writer) =
            AccessLogger::start(config.access_log).context("cannot start the access log")?;
        let draining = Draining::default();
        let ctx = Arc::new(Context {
            site: ArcSwap::from_pointee(site),
            limits: config.limits,
            trusted: config.proxies.trusted.clone(),
            log: Arc::new(log),
            draining: draining.clone(),
            metrics: Metrics::new(&config.metrics, config.workers),
        });
        let poller = Arc::new(Poller::new().context("cannot create the poller")?);
        // Bounded by the connection limit, which no number of connections in flight can exceed,
        // so a send never blocks; and unlike an unbounded channel, it allocates nothing after
        // start-up.
        let max_connections = connections_within_descriptors(&config);
        let capacity = max_connections.saturating_add(1);
        let (jobs_tx, jobs_rx) = bounded(capacity);
        let (returns_tx, returns_rx) = bounded(capacity);
        let pace = Arc::new(Pace::default());
        let board = Arc::new(Board::new(max_connections));
        let links = Links {
            jobs: jobs_rx,
            returns: returns_tx,
            poller: poller.clone(),
            pace: pace.clone(),
            board: board.clone(),
        };
        let workers = worker::spawn(config.workers, &ctx, &links)
            .context("cannot start the worker threads")?;
        let (handle, shutdown_rx) =
            shutdown::channel().context("cannot create the shutdown pipe")?;
        let channels = Channels {
            poller,
            jobs: jobs_tx,
            returns: returns_rx,
            pace,
            board,
            shutdown: shutdown_rx,
            draining,
            metrics: ctx.metrics.clone(),
            log: ctx.log.clone(),
        };
        let reactor_config = ReactorConfig {
            timeouts: config.timeouts,
            max_connections,
            listening: Listening {
                proxy_protocol: config.proxies.protocol,
                deferred,
            },
        };
        let reactor = Reactor::new(listener, channels, reactor_config)
            .context("cannot register the listener")?;
        let reload =
            reload::Pending::new(config, serving).context("cannot create the reload pipe")?;
        Ok(Server {
            reactor,
            addr,
            handle,
            ctx,
            workers,
            log_writer,
            reload,
        })
    }

    /// Where a reload (SIGHUP, [`ReloadHandle::reload`]) takes the configuration from; without
    /// it, the configuration the server was bound with, so a reload re-reads the root, its
    /// rules files and its error pages.
    pub fn reload_from(mut self, source: ConfigSource) -> Server {
        self.reload.set_source(source);
        self
    }

    /// A handle that reloads the server, as SIGHUP does.
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.handle()
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server, as a signal does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Runs the reactor on this thread, and the reload watcher on one of its own, until shutdown
    /// completes; then stops the watcher and the workers.
    pub fn run(self) -> anyhow::Result<Outcome> {
        let Server {
            reactor,
            ctx,
            workers,
            log_writer,
            reload,
            ..
        } = self;
        let watcher = reload
            .start(ctx.clone())
            .context("cannot start the reload thread")?;
        // Dropping the reactor closes the job channel, which ends the workers' loops.
        let outcome = reactor.run();
        // Before anything else ends: a swap after this would be of a site nobody serves.
        watcher.stop();
        let outcome = outcome.context("the event loop failed")?;
        if outcome == Outcome::Forced {
            return Ok(outcome);
        }
        for w in workers {
            let _ = w.join();
        }
        let dropped = ctx.log.dropped();
        if dropped > 0 {
            log::error(format_args!(
                "{dropped} access-log lines were dropped: stdout was too slow"
            ));
        }
        // The last reference to the access log's queue: its writer flushes and ends.
        drop(ctx);
        if let Some(w) = log_writer {
            let _ = w.join();
        }
        Ok(outcome)
    }

    /// Binds and runs the server on a thread of its own.
    pub fn start(config: Config) -> anyhow::Result<Running> {
        Server::bind(config)?.spawn()
    }

    /// Runs the bound server on a thread of its own.
    pub fn spawn(self) -> anyhow::Result<Running> {
        let addr = self.local_addr();
        let handle = self.shutdown_handle();
        let reload = self.reload_handle();
        let thread = std::thread::Builder::new()
            .name("reactor".into())
            .spawn(move || self.run())
            .context("cannot start the reactor thread")?;
        Ok(Running {
            addr,
            handle,
            reload,
            thread,
        })
    }
}

/// A server running on its own thread.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    handle: ShutdownHandle,
    reload: ReloadHandle,
    thread: JoinHandle<anyhow::Result<Outcome>>,
}

impl Running {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// A handle that stops the server, as a signal does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// A handle that reloads the server, as SIGHUP does.
    pub fn reload_handle(&self) -> ReloadHandle {
        self.reload.clone()
    }

    /// Waits for the server to stop after a shutdown request.
    pub fn join(self) -> anyhow::Result<Outcome> {
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the reactor thread panicked"))?
    }
}

/// `--max-connections`, lowered where the open-file limit could not hold that many connections
/// each sending a file: beyond it, clients wait in the backlog rather than running the process
/// out of descriptors (EMFILE) for everybody. A number someone set is lowered with a warning;
/// the default with an information line.
fn connections_within_descriptors(config: &Config) -> usize {
    let asked = config.max_connections;
    let budget = descriptors::connection_budget(asked.asked(), config.workers);
    if let Budget::Lowered {
        asked: n,
        allowed,
        nofile,
    } = budget
    {
        match asked {
            MaxConnections::Given(_) => log::warn(format_args!(
                "--max-connections {n} lowered to {allowed}: the open-file limit is {nofile} \
                 and a connection sending a file holds two descriptors; raise the limit \
                 (ulimit -n, docker run --ulimit nofile=N:N) to allow more"
            )),
            MaxConnections::Default => log::info(format_args!(
                "at most {allowed} connections (not {n}): the open-file limit is {nofile} and \
                 a connection sending a file holds two descriptors"
            )),
        }
    }
    budget.connections()
}

/// A listening socket with SO_REUSEADDR (restarts do not wait out TIME_WAIT) and a deep backlog.
/// `TCP_DEFER_ACCEPT`: the kernel hands a connection to `accept` once its first bytes have
/// arrived, so the reactor can give it to a worker at once (`Reactor::accept`) and the worker's
/// first read finds the request. A connection that sends nothing waits in the kernel, costing
/// no slot, until the kernel gives up deferring (about a second of SYN-ACK retries) and hands
/// it over anyway; the header timeout then runs from there. Only an optimisation: if the option
/// is refused, connections are accepted as they complete.
/// Returns how long a silent connection is held (zero if the option was refused): a connection
/// whose first read finds nothing was held that long, which its header timeout counts
/// (`Conn`), so `--header-timeout` means the same with and without the deferral.
#[cfg(target_os = "linux")]
fn defer_accept(fd: &rustix::fd::OwnedFd) -> Duration {
    let seconds = 1;
    if set_tcp_option(fd, libc::TCP_DEFER_ACCEPT, seconds) {
        Duration::from_secs(seconds.unsigned_abs().into())
    } else {
        Duration::ZERO
    }
}

#[cfg(not(target_os = "linux"))]
fn defer_accept(_: &rustix::fd::OwnedFd) -> Duration {
    Duration::ZERO
}

/// Bytes a connection may queue in the kernel beyond those on the wire (`TCP_NOTSENT_LOWAT`).
/// Without a bound, send-buffer autotuning lets each socket queue megabytes for a client that
/// reads a few bytes a second (3.5 MiB measured), and a thousand such clients exhaust the host's
/// TCP memory. Only bytes not yet sent count, so a fast client's window on a long path is not
/// limited. The socket is writable again below half of it, so each wake-up can take about a
/// `sendfile` turn (256 KiB): 128 KiB cost 15 % more CPU per 10 MiB download (bench/RESULTS.md),
/// 512 KiB nothing. Linux copies it to every accepted socket, as `TCP_NODELAY`.
#[cfg(target_os = "linux")]
const UNSENT_LIMIT: i32 = 512 * 1024;

#[cfg(target_os = "linux")]
fn limit_unsent(fd: &rustix::fd::OwnedFd) {
    // Best effort: without it the kernel's own limits apply, as before.
    let _ = set_tcp_option(fd, libc::TCP_NOTSENT_LOWAT, UNSENT_LIMIT);
}

#[cfg(not(target_os = "linux"))]
fn limit_unsent(_: &rustix::fd::OwnedFd) {}

/// Sets an `int` option at the `IPPROTO_TCP` level (rustix wraps neither of ours); whether the
/// kernel took it.
#[cfg(target_os = "linux")]
fn set_tcp_option(fd: &rustix::fd::OwnedFd, option: libc::c_int, value: libc::c_int) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid socket, and a pointer to an int of the size given, as the call expects.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::IPPROTO_TCP,
            option,
            std::ptr::from_ref(&value).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// The listener, and how long it defers a silent connection ([`defer_accept`]).
fn listen(addr: SocketAddr) -> std::io::Result<(TcpListener, Duration)> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, bind, listen, socket_with, sockopt};
    let family = if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let fd = socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    sockopt::set_socket_reuseaddr(&fd, true)?;
    // Responses are written whole, so Nagle's delay only adds latency. Linux copies this to
    // every accepted socket, which saves a setsockopt per connection (elsewhere the reactor
    // sets it on each).
    sockopt::set_tcp_nodelay(&fd, true)?;
    limit_unsent(&fd);
    let deferred = defer_accept(&fd);
    bind(&fd, &addr)?;
    listen(&fd, BACKLOG)?;
    Ok((TcpListener::from(fd), deferred))
}
