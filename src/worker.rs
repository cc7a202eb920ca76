//! The worker pool. Each worker takes a connection from the job channel, drives it until it
//! would block, re-arms its interest with `Poller::modify`, and sends it back with what it waits
//! for next; only a connection to close wakes the reactor (`Poller::notify`), and taking the
//! last queued job signals a reactor that waits for the queue to drain. A panic while
//! driving closes that one connection and the worker goes on. Workers never add or delete
//! poller sources and never block on anything but the channel.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Poller};

use crate::conn::{Conn, Context, Next, Scratch};
use crate::pace::Pace;

/// A ready connection handed to a worker.
#[derive(Debug)]
pub struct Job {
    /// The connection's slot in the reactor.
    pub key: usize,
    /// The connection.
    pub conn: Box<Conn>,
}

/// A connection handed back to the reactor.
#[derive(Debug)]
pub struct Returned {
    /// The connection's slot in the reactor.
    pub key: usize,
    /// The connection.
    pub conn: Box<Conn>,
    /// What it waits for.
    pub next: Next,
    /// Whether the worker already re-armed it in the poller for `next`.
    pub armed: bool,
}

/// Starts `n` workers.
pub fn spawn(
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
                .spawn(move || work(&ctx, &jobs, &returns, &poller, &pace))
        })
        .collect()
}

fn work(
    ctx: &Context,
    jobs: &Receiver<Job>,
    returns: &Sender<Returned>,
    poller: &Poller,
    pace: &Pace,
) {
    let mut scratch = Scratch::new(&ctx.limits);
    for Job { key, mut conn } in jobs {
        if jobs.is_empty() {
            pace.drained();
        }
        let next = match catch_unwind(AssertUnwindSafe(|| conn.drive(&mut scratch, ctx))) {
            Ok(next) => next,
            Err(_) => {
                // The panic hook has printed the message; the buffers may be half-written.
                crate::log::error(format_args!("a worker panicked; closing that connection"));
                scratch = Scratch::new(&ctx.limits);
                Next::Close
            }
        };
        // Re-arming here (oneshot interest, so the reactor saw no event while we drove it)
        // saves the reactor a wake-up and a syscall per request. The connection still moves
        // back by value; an event that fires before it arrives makes the reactor wait for it.
        let interest = match next {
            Next::Read => Some(Event::readable(key)),
            Next::Write => Some(Event::writable(key)),
            Next::Close => None,
        };
        let armed = interest.is_some_and(|ev| poller.modify(conn.stream(), ev).is_ok());
        if returns
            .send(Returned {
                key,
                conn,
                next,
                armed,
            })
            .is_err()
        {
            return;
        }
        // A connection to close (or one we could not re-arm) needs the reactor now; the others
        // it takes back at its next wake-up.
        if !armed {
            let _ = poller.notify();
        }
    }
}
