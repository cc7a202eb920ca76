//! The worker pool and what its workers share ([`Context`]). Each worker takes a connection
//! from the job channel, drives it until it would block (or, for a connection whose deadline
//! passed, lets it decide how to end), re-arms its interest with `Poller::modify`, and sends it
//! back with what it waits for next; only a connection it closed wakes the reactor
//! (`Poller::notify`), and taking the last queued job signals a reactor that waits for the queue
//! to drain. A panic while driving closes that one connection and the worker goes on. Workers
//! never add poller sources, delete only the connection they close, and never block on anything
//! but the channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Poller};

use crate::conn::{Conn, Next, Scratch};
use crate::http::forwarded::TrustedProxies;
use crate::http::request::Limits;
use crate::log::AccessLogger;
use crate::metrics::Metrics;
use crate::pace::Pace;
use crate::shutdown::Draining;
use crate::site::Site;

/// What every worker shares: the site, the request limits, the trusted proxies, the access log,
/// and whether the server is draining.
#[derive(Debug)]
pub(crate) struct Context {
    /// The site requests are answered from; a reload (`reload.rs`) stores a new one. Each
    /// worker answers a whole drive from the one it has, so a batch never mixes two trees.
    pub(crate) site: ArcSwap<Site>,
    pub(crate) limits: Limits,
    /// Whose forwarding headers name the client, for the access log.
    pub(crate) trusted: TrustedProxies,
    pub(crate) log: AccessLogger,
    pub(crate) draining: Draining,
    /// `--metrics-path`'s counters, one block per worker; `None` counts nothing.
    pub(crate) metrics: Option<Arc<Metrics>>,
}

/// Why a connection is handed to a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    /// It is ready: read, answer, write.
    Drive,
    /// Its deadline passed: end it (the connection decides between closing and lingering).
    End,
}

/// A connection handed to a worker.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) key: usize,
    pub(crate) conn: Box<Conn>,
    pub(crate) intent: Intent,
}

/// What a worker hands back to the reactor.
#[derive(Debug)]
pub(crate) enum Returned {
    /// Re-armed (oneshot) for what it waits for next; the reactor parks it.
    Parked { key: usize, conn: Box<Conn> },
    /// Deleted from the poller and closed by the worker; the reactor frees the slot.
    Closed { key: usize },
}

/// Starts `n` workers.
pub(crate) fn spawn(
    n: usize,
    ctx: &Arc<Context>,
    jobs: &Receiver<Job>,
    returns: &Sender<Returned>,
    poller: &Arc<Poller>,
    pace: &Arc<Pace>,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..n)
        .map(|i| {
            let (ctx, jobs, returns, poller, pace) = (
                ctx.clone(),
                jobs.clone(),
                returns.clone(),
                poller.clone(),
                pace.clone(),
            );
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(i, &ctx, &jobs, &returns, &poller, &pace))
        })
        .collect()
}

fn work(
    index: usize,
    ctx: &Context,
    jobs: &Receiver<Job>,
    returns: &Sender<Returned>,
    poller: &Poller,
    pace: &Pace,
) {
    let mut scratch = Scratch::new(&ctx.limits, index);
    // The site as this worker last saw it: a drive checks it with one atomic load and takes a
    // reference only after a reload swapped another in. It keeps the site it holds alive until
    // its next drive, even if that site was replaced meanwhile.
    let mut site = arc_swap::Cache::new(&ctx.site);
    for Job {
        key,
        mut conn,
        intent,
    } in jobs
    {
        if jobs.is_empty() {
            pace.drained();
        }
        let turn = || match intent {
            Intent::Drive => conn.drive(&mut scratch, ctx, site.load(), || !jobs.is_empty()),
            Intent::End => conn.end(&mut scratch, ctx),
        };
        let next = match catch_unwind(AssertUnwindSafe(turn)) {
            Ok(next) => next,
            Err(_) => {
                // The panic hook has printed the message; the buffers may be half-written.
                crate::log::error(format_args!("a worker panicked; closing that connection"));
                scratch = Scratch::new(&ctx.limits, index);
                Next::Close
            }
        };
        // Re-arming here (oneshot interest, so the reactor saw no event while we drove it)
        // saves the reactor a wake-up and a syscall per request. The connection still moves
        // back by value; an event that fires before it arrives makes the reactor wait for it.
        let interest = match next {
            Next::Read => Some(Event::readable(key)),
            Next::Write => Some(Event::writable(key)),
            // No interest at all: the deadline, not the socket, wakes it.
            Next::Hold => Some(Event::none(key)),
            Next::Close => None,
        };
        let returned = if interest.is_some_and(|ev| poller.modify(conn.stream(), ev).is_ok()) {
            Returned::Parked { key, conn }
        } else {
            // Closing here keeps the costliest syscalls of a short connection (the FIN goes
            // out inside close) off the one reactor thread. Deleted first: the poller must
            // not keep a source that is gone.
            let _ = poller.delete(conn.stream());
            drop(conn);
            Returned::Closed { key }
        };
        let closed = matches!(returned, Returned::Closed { .. });
        if returns.send(returned).is_err() {
            return;
        }
        // A freed slot can matter now (the connection limit, a drain that waits for the last
        // one): wake the reactor. Parked connections it takes back at its next wake-up.
        if closed {
            let _ = poller.notify();
        }
    }
}
