//! The worker pool and what its workers share ([`Context`], [`Links`]). Each worker takes a
//! connection from the job channel, drives it until it would block (or, for a connection whose
//! deadline passed, lets it decide how to end), registers it in the poller the first time it has
//! to wait ([`crate::readiness::Registration`]), and lets it go on the [`Board`], driving it again at once if
//! readiness came meanwhile; then it sends it back. Only a connection it closed, or one that is
//! to be driven again behind the others, wakes the reactor (`Poller::notify`), and taking the last
//! queued job signals a reactor that waits for the queue to drain. A panic while driving closes
//! that one connection and the worker goes on. Workers touch the poller only for the connection
//! they hold, and never block on anything but the channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, Sender};
use polling::Poller;

use crate::conn::{Conn, Next, Scratch};
use crate::http::forwarded::TrustedProxies;
use crate::http::request::Limits;
use crate::log::AccessLogger;
use crate::metrics::Metrics;
use crate::pace::Pace;
use crate::readiness::{Board, Release};
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
    pub(crate) log: Arc<AccessLogger>,
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
    /// Registered for what it waits for next; the reactor parks it, or with `again` hands it to
    /// a worker once more (it could go on, and no edge will come to say so).
    Parked {
        key: usize,
        conn: Box<Conn>,
        again: bool,
    },
    /// Taken out of the poller and closed by the worker; the reactor frees the slot.
    Closed { key: usize },
}

/// A worker's ends of what it shares with the reactor.
#[derive(Clone, Debug)]
pub(crate) struct Links {
    pub(crate) jobs: Receiver<Job>,
    pub(crate) returns: Sender<Returned>,
    pub(crate) poller: Arc<Poller>,
    pub(crate) pace: Arc<Pace>,
    pub(crate) board: Arc<Board>,
}

/// Starts `n` workers.
pub(crate) fn spawn(
    n: usize,
    ctx: &Arc<Context>,
    links: &Links,
) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..n)
        .map(|i| {
            let (ctx, links) = (ctx.clone(), links.clone());
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(i, &ctx, &links))
        })
        .collect()
}

fn work(index: usize, ctx: &Context, links: &Links) {
    let Links {
        jobs,
        returns,
        poller,
        pace,
        board,
    } = links;
    let mut scratch = Scratch::new(&ctx.limits, index);
    // The site as this worker last saw it: a drive checks it with one atomic load and takes a
    // reference only after a reload swapped another in. It keeps the site it holds alive until
    // its next drive, even if that site was replaced meanwhile.
    let mut site = arc_swap::Cache::new(&ctx.site);
    for Job {
        key,
        mut conn,
        mut intent,
    } in jobs
    {
        if jobs.is_empty() {
            pace.drained();
        }
        // A held connection's deadline enters the reactor's timers only when it takes the
        // connection back: woken, it does so now, not at its next tick (250 ms), which would
        // stretch a 20 ms ask-again (`conn`) tenfold.
        let mut held = false;
        let returned = loop {
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
            // Whether it goes back to be driven again at once, behind whatever is queued.
            let again = match next {
                Next::Close => break close(poller, key, conn),
                Next::Read | Next::Write => {
                    let (registration, stream) = conn.registration();
                    if registration
                        .arm(poller, stream, key, next == Next::Write)
                        .is_err()
                    {
                        break close(poller, key, conn);
                    }
                    match board.release(key) {
                        Release::Parked => {
                            break Returned::Parked {
                                key,
                                conn,
                                again: false,
                            };
                        }
                        // An edge came while it was driven, and will not come again: drive it
                        // now, unless others wait, whom it then goes behind.
                        Release::Again if jobs.is_empty() => {
                            intent = Intent::Drive;
                            continue;
                        }
                        Release::Again => true,
                    }
                }
                // Edges while it holds its answer are not driven: its deadline drives it, and
                // that drive reads whatever came.
                Next::Hold => {
                    held = true;
                    false
                }
                Next::Yield => true,
            };
            board.let_go(key);
            break Returned::Parked { key, conn, again };
        };
        // A freed slot can matter now (the connection limit, a drain that waits for the last
        // one), and a connection to drive again, or held until a deadline, must not wait for
        // the next wake-up: wake the reactor. Other parked connections it takes back at its
        // next wake-up.
        let wake = held || !matches!(returned, Returned::Parked { again: false, .. });
        if returns.send(returned).is_err() {
            return;
        }
        if wake {
            let _ = poller.notify();
        }
    }
}

/// Closes a connection on the worker: the costliest syscalls of a short connection (the FIN
/// goes out inside close) stay off the one reactor thread. Out of the poller first: it must not
/// keep a source that is gone.
fn close(poller: &Poller, key: usize, mut conn: Box<Conn>) -> Returned {
    let (registration, stream) = conn.registration();
    registration.forget(poller, stream);
    drop(conn);
    Returned::Closed { key }
}
