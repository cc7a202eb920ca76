//! The multiplexing loop: one thread that owns the listener ([`accept`]), every parked
//! connection and its deadline ([`slots`], [`deadlines`]), and the shutdown phase ([`drain`]).
//! Each turn it lets the workers empty the job queue (see [`crate::pace`]), waits on the
//! poller, takes back the connections workers return (registered by them, edge-triggered),
//! accepts until the listener would block, hands ready connections to the workers (an edge for
//! one a worker holds is marked on the [`Board`] for that worker), hands connections whose
//! deadline passed to a worker to be ended, and advances shutdown.
//!
//! A connection has exactly one owner: parked here in the slab, or moved into a job for one
//! worker. Workers register a connection's socket in the poller (the reactor registers only the
//! listener and the shutdown pipe); whoever drops a connection takes it out of the poller first.
//! It never reads, writes or shuts down a connection's socket: deciding how a connection ends
//! is the worker's.

mod accept;
mod deadlines;
mod drain;
mod slots;

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Events, Poller};

use crate::conn::{Conn, Listening, Wait};
use crate::log::AccessLogger;
use crate::metrics::Metrics;
use crate::pace::Pace;
use crate::readiness::Board;
use crate::shutdown::Draining;
use crate::worker::{Intent, Job, Returned};
use accept::{Acceptor, LISTENER};
pub use deadlines::Timeouts;
use deadlines::deadline_for;
pub use drain::Outcome;
use drain::Phase;
use slots::{Seen, Slots};

/// Poller key of the shutdown pipe.
const SHUTDOWN: usize = usize::MAX - 2;
/// The longest the loop sleeps: connections returned without a wake-up get their
/// deadlines at most this late.
const TICK: Duration = Duration::from_millis(250);
/// The longest the loop waits for the workers to empty the job queue before it polls anyway.
const PACE_LIMIT: Duration = Duration::from_millis(2);

/// The channels and the poller the reactor shares with the workers and the signal handler.
#[derive(Debug)]
pub(crate) struct Channels {
    pub(crate) poller: Arc<Poller>,
    pub(crate) jobs: Sender<Job>,
    pub(crate) returns: Receiver<Returned>,
    pub(crate) pace: Arc<Pace>,
    /// Who owes a connection on a worker another drive.
    pub(crate) board: Arc<Board>,
    /// The reading end of the shutdown pipe.
    pub(crate) shutdown: UnixStream,
    /// Set when the drain begins, for the workers.
    pub(crate) draining: Draining,
    /// Where the open-connection count and the cut connections are reported, if anywhere.
    pub(crate) metrics: Option<Arc<Metrics>>,
    /// The access log, for the responses of connections closed here (cut at the drain
    /// deadline, or with no worker left to end them).
    pub(crate) log: Arc<AccessLogger>,
}

/// The reactor's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReactorConfig {
    pub(crate) timeouts: Timeouts,
    pub(crate) max_connections: usize,
    /// What new connections need to know of the listener.
    pub(crate) listening: Listening,
}

/// The multiplexing loop and everything it owns.
#[derive(Debug)]
pub(crate) struct Reactor {
    acceptor: Acceptor,
    slots: Slots,
    phase: Phase,
    ch: Channels,
    config: ReactorConfig,
    /// Keys of the connections the last accept batch registered, dispatched right after it;
    /// reused, so accepting allocates nothing here.
    fresh: Vec<usize>,
}

impl Reactor {
    /// Registers the listener and the shutdown pipe; the loop starts with [`Reactor::run`].
    pub(crate) fn new(
        listener: TcpListener,
        ch: Channels,
        config: ReactorConfig,
    ) -> io::Result<Reactor> {
        let acceptor = Acceptor::new(listener, &ch.poller)?;
        // SAFETY: polling requires a source to be deleted before it is dropped; the pipe is
        // owned by the Reactor, whose Drop deletes it.
        if let Err(e) = unsafe { ch.poller.add(&ch.shutdown, Event::readable(SHUTDOWN)) } {
            let mut acceptor = acceptor;
            acceptor.close(&ch.poller);
            return Err(e);
        }
        Ok(Reactor {
            acceptor,
            slots: Slots::default(),
            phase: Phase::Running,
            ch,
            config,
            fresh: Vec::new(),
        })
    }

    /// Runs until a shutdown completes.
    pub(crate) fn run(mut self) -> io::Result<Outcome> {
        let mut events = Events::new();
        loop {
            if !self.ch.jobs.is_empty() {
                let limit = self
                    .next_timeout(Instant::now())
                    .map_or(PACE_LIMIT, |t| t.min(PACE_LIMIT));
                self.ch.pace.wait_drained(|| self.ch.jobs.is_empty(), limit);
            }
            let timeout = self.next_timeout(Instant::now());
            events.clear();
            match self.ch.poller.wait(&mut events, timeout) {
                Ok(_) => {}
                // polling's poll(2) backend can find its own wake-up descriptor drained by an
                // earlier pass and say EAGAIN: a wake-up, not a failure of the loop.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            // Returns first: a connection a worker let go may already have an event here.
            while let Ok(returned) = self.ch.returns.try_recv() {
                self.on_return(returned, now);
            }
            for ev in events.iter() {
                match ev.key {
                    LISTENER => self.accept(now),
                    SHUTDOWN => {
                        if self.on_shutdown_request(now) {
                            self.close_parked();
                            return Ok(Outcome::Forced);
                        }
                    }
                    key => self.on_ready(key, now),
                }
            }
            self.expire(now);
            if let Some(m) = &self.ch.metrics {
                // Stores once a turn (and once an accept), not once per connection: a scrape sees
                // the last turn's.
                m.set_connections(self.slots.len(), self.slots.busy());
            }
            let room = self.has_room();
            self.acceptor.resume(&self.ch.poller, now, room);
            if let Some(outcome) = self.advance_shutdown(now) {
                return Ok(outcome);
            }
        }
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        // Workers return connections without waking us, so their deadlines enter the
        // heap at the next wake-up: never sleep longer than TICK.
        [
            self.slots.next_deadline(),
            self.acceptor.wakes_at(),
            self.phase.wakes_at(),
            Some(now + TICK),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Readiness of a connection. A parked one is handed to a worker, unless it holds its
    /// answer back (its deadline drives it). One on a worker is marked on the board, and that
    /// worker drives it again; if the worker has let it go already, it is on its way back: wait
    /// for it, then dispatch. This, pacing and the poller's wait are the only blocking calls on
    /// this thread; the wait is short because the worker lets go just before it sends.
    fn on_ready(&mut self, key: usize, now: Instant) {
        loop {
            match self.slots.seen(key) {
                Seen::Gone | Seen::Held => return,
                Seen::Parked => break,
                Seen::Busy if self.ch.board.owe(key) => return,
                Seen::Busy => match self.ch.returns.recv_timeout(TICK) {
                    Ok(returned) => self.on_return(returned, now),
                    // A worker that never returns it has died; the event is dropped with it.
                    Err(_) => return,
                },
            }
        }
        if let Some(conn) = self.slots.take(key) {
            self.dispatch(key, conn, Intent::Drive);
        }
    }

    fn dispatch(&mut self, key: usize, conn: Box<Conn>, intent: Intent) {
        self.ch.board.dispatched(key);
        if let Err(crossbeam_channel::SendError(job)) = self.ch.jobs.send(Job { key, conn, intent })
        {
            // No worker is left to take it: put it back, to be closed here.
            let _ = self.slots.park(key, job.conn, Instant::now());
            self.close(key);
        }
    }

    fn has_room(&self) -> bool {
        self.room() > 0
    }

    fn room(&self) -> usize {
        self.config.max_connections.saturating_sub(self.slots.len())
    }

    /// Takes connections from the backlog while there is room, and hands each to a worker at
    /// once, unregistered: a client sends its request as soon as it has connected, so it is
    /// usually there already, and waiting for readiness would cost another turn of the loop and
    /// an event per connection; one answered and closed in that drive never enters the poller.
    /// One whose request has not arrived costs its worker one read that finds nothing before it
    /// registers it.
    fn accept(&mut self, now: Instant) {
        let room = self.room();
        let mut fresh = std::mem::take(&mut self.fresh);
        let Reactor {
            acceptor,
            slots,
            ch,
            config,
            ..
        } = self;
        acceptor.accept_batch(&ch.poller, now, room, |stream, peer| {
            fresh.push(admit(slots, config, stream, peer, now));
        });
        self.accepted_while_draining(fresh.len());
        if !fresh.is_empty()
            && let Some(m) = &self.ch.metrics
        {
            // Before they go to a worker: a scrape on one of them must count it as open.
            m.set_connections(self.slots.len(), self.slots.busy());
        }
        for key in fresh.drain(..) {
            if let Some(conn) = self.slots.take(key) {
                self.dispatch(key, conn, Intent::Drive);
            }
        }
        self.fresh = fresh;
    }

    fn on_return(&mut self, returned: Returned, now: Instant) {
        let (key, conn, again) = match returned {
            Returned::Closed { key } => {
                if self.slots.free(key) {
                    let room = self.has_room();
                    self.acceptor.rearm(&self.ch.poller, room);
                }
                return;
            }
            Returned::Parked { key, conn, again } => (key, conn, again),
        };
        if let Phase::Cutting { cut, .. } = &mut self.phase {
            *cut += 1;
            let _ = self.slots.park(key, conn, now);
            return self.close(key);
        }
        if again {
            // It could go on: behind whatever is queued now, with the deadline it has.
            return self.dispatch(key, conn, Intent::Drive);
        }
        let draining = self.phase.is_draining();
        let deadline = deadline_for(
            conn.wait(),
            conn.mid_request(),
            now,
            &self.config.timeouts,
            draining,
        );
        if let Err(mut conn) = self.slots.park(key, conn, deadline) {
            // Cannot happen while one owner holds each connection; be safe anyway.
            let (registration, stream) = conn.registration();
            registration.forget(&self.ch.poller, stream);
        }
    }

    /// Hands every connection whose deadline passed to a worker, which ends it: closed, or
    /// while draining perhaps lingering first (`Conn::end`). One holding an answer back is
    /// driven instead: its deadline is when that answer goes out.
    fn expire(&mut self, now: Instant) {
        while let Some((key, conn)) = self.slots.take_expired(now) {
            let intent = match conn.wait() {
                Wait::Held { .. } => Intent::Drive,
                _ => Intent::End,
            };
            self.dispatch(key, conn, intent);
        }
    }

    /// Closes a parked connection here, on the one path that does (shutdown cuts, no workers);
    /// what it had not sent is logged as cut.
    fn close(&mut self, key: usize) {
        self.cut(key);
        let room = self.has_room();
        self.acceptor.rearm(&self.ch.poller, room);
    }

    fn close_parked(&mut self) {
        for key in self.slots.parked() {
            self.cut(key);
        }
    }

    /// Drops parked connection `key`, logging what it had not sent.
    fn cut(&mut self, key: usize) {
        if let Some(mut conn) = self.slots.close(key, &self.ch.poller) {
            conn.abandon(&self.ch.log);
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.close_parked();
        self.acceptor.close(&self.ch.poller);
        let _ = self.ch.poller.delete(&self.ch.shutdown);
    }
}

/// Parks a newly accepted connection and returns its key; it enters the poller only when a
/// worker finds it has to wait.
fn admit(
    slots: &mut Slots,
    config: &ReactorConfig,
    stream: TcpStream,
    peer: SocketAddr,
    now: Instant,
) -> usize {
    // Linux accepted sockets inherit TCP_NODELAY from the listener (server.rs); other systems
    // need it set on each.
    #[cfg(not(target_os = "linux"))]
    let _ = stream.set_nodelay(true);
    let deadline = now + config.timeouts.header;
    let conn = Conn::new(stream, peer, now, config.listening);
    slots.insert(Box::new(conn), deadline)
}
