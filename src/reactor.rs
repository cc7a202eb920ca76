//! The multiplexing loop: one thread that owns the listener, every parked connection, the
//! deadlines and the shutdown phase. Each turn it lets the workers empty the job queue (see
//! [`crate::pace`]), waits on the poller, takes back the connections workers return (already
//! re-armed by them, oneshot), accepts until the listener would block, hands ready connections
//! to the workers, closes the ones whose deadline passed, and advances shutdown.
//!
//! A connection has exactly one owner: parked here in the slab, or moved into a job for one
//! worker. This is the only place that registers sources in the poller (workers re-arm the one
//! they hold, or delete and close it), and it deletes a socket before closing it. It never reads or
//! writes request bytes.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use polling::{Event, Events, Poller};
use rustix::net::SocketFlags;
use slab::Slab;

use crate::conn::{Conn, Context, Wait};
use crate::deadline::Deadlines;
use crate::log;
use crate::pace::Pace;
use crate::shutdown;
use crate::worker::{Job, Returned};

/// Poller key of the listener (polling reserves `usize::MAX` for its own notifications).
const LISTENER: usize = usize::MAX - 1;
/// Poller key of the shutdown pipe.
const SHUTDOWN: usize = usize::MAX - 2;
/// Connections accepted per readiness event, so a connect flood cannot starve the rest.
const ACCEPT_BATCH: usize = 256;
/// How long accepting pauses when the process is out of descriptors.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);
/// The longest the loop sleeps: re-armed connections returned without a wake-up get their
/// deadlines at most this late.
const TICK: Duration = Duration::from_millis(250);
/// How long an idle connection stays open after a shutdown signal, for a request in flight.
const DRAIN_IDLE_GRACE: Duration = Duration::from_millis(300);
/// How long a closing connection may linger for the peer's close.
const LINGER: Duration = Duration::from_secs(2);
/// The longest the loop waits for the workers to empty the job queue before it polls anyway.
const PACE_LIMIT: Duration = Duration::from_millis(2);

/// The reactor's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For a whole request head.
    pub header: Duration,
    /// For an idle keep-alive connection.
    pub keep_alive: Duration,
    /// For a write that makes no progress.
    pub send: Duration,
    /// For the drain after a shutdown signal.
    pub shutdown: Duration,
}

/// How the reactor stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// After a drain: connections that finished, and those cut at the deadline.
    Drained {
        /// Connections open at the signal that ended on their own.
        drained: usize,
        /// Connections closed at the deadline.
        cut: usize,
    },
    /// A second signal: stopped at once.
    Forced,
}

#[derive(Debug)]
enum Phase {
    Running,
    Draining {
        until: Instant,
        open_at_signal: usize,
        cutting: bool,
        cut: usize,
    },
}

#[derive(Debug)]
enum State {
    /// Boxed: one allocation per connection, and a pointer, not the whole state, moves
    /// through the channels at every hand-off.
    Parked(Box<Conn>),
    Busy,
}

#[derive(Debug)]
struct Slot {
    state: State,
    /// Distinguishes this connection from later ones in the same slab slot.
    generation: u64,
    deadline: Instant,
    /// The deadline this slot has in the heap, if any; at most one is live at a time.
    queued: Option<Instant>,
}

/// The multiplexing loop and everything it owns.
#[derive(Debug)]
pub struct Reactor {
    poller: Arc<Poller>,
    listener: Option<TcpListener>,
    listener_armed: bool,
    accept_paused_until: Option<Instant>,
    /// Whether running out of descriptors was logged in this episode (one line, not ten a
    /// second).
    exhaustion_logged: bool,
    shutdown_rx: UnixStream,
    slots: Slab<Slot>,
    deadlines: Deadlines,
    generation: u64,
    jobs: Sender<Job>,
    returns: Receiver<Returned>,
    pace: Arc<Pace>,
    ctx: Arc<Context>,
    timeouts: Timeouts,
    max_connections: usize,
    phase: Phase,
}

impl Reactor {
    /// Registers the listener and the shutdown pipe; the loop starts with [`Reactor::run`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        poller: Arc<Poller>,
        listener: TcpListener,
        shutdown_rx: UnixStream,
        jobs: Sender<Job>,
        returns: Receiver<Returned>,
        pace: Arc<Pace>,
        ctx: Arc<Context>,
        timeouts: Timeouts,
        max_connections: usize,
    ) -> io::Result<Reactor> {
        listener.set_nonblocking(true)?;
        // SAFETY: the listener and the pipe are owned by the Reactor, which deletes the
        // listener from the poller before dropping it (begin_drain) and is dropped with the
        // poller's last use; the poller never outlives the reactor's use of these sources.
        unsafe {
            poller.add(&listener, Event::readable(LISTENER))?;
            poller.add(&shutdown_rx, Event::readable(SHUTDOWN))?;
        }
        Ok(Reactor {
            poller,
            listener: Some(listener),
            listener_armed: true,
            accept_paused_until: None,
            exhaustion_logged: false,
            shutdown_rx,
            slots: Slab::new(),
            deadlines: Deadlines::default(),
            generation: 0,
            jobs,
            returns,
            pace,
            ctx,
            timeouts,
            max_connections,
            phase: Phase::Running,
        })
    }

    /// Runs until a shutdown completes.
    pub fn run(mut self) -> io::Result<Outcome> {
        let mut events = Events::new();
        loop {
            if !self.jobs.is_empty() {
                let limit = self
                    .next_timeout(Instant::now())
                    .map_or(PACE_LIMIT, |t| t.min(PACE_LIMIT));
                self.pace.wait_drained(|| self.jobs.is_empty(), limit);
            }
            let timeout = self.next_timeout(Instant::now());
            events.clear();
            self.poller.wait(&mut events, timeout)?;
            let now = Instant::now();
            // Returns first: a connection a worker re-armed may already have an event here.
            while let Ok(returned) = self.returns.try_recv() {
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
            if self.accept_paused_until.is_some_and(|t| t <= now) {
                self.accept_paused_until = None;
                self.arm_listener();
            }
            if let Some(outcome) = self.advance_shutdown(now) {
                return Ok(outcome);
            }
        }
    }

    fn next_timeout(&self, now: Instant) -> Option<Duration> {
        let drain = match self.phase {
            Phase::Draining { until, .. } => Some(until),
            Phase::Running => None,
        };
        // Workers return re-armed connections without waking us, so their deadlines enter the
        // heap at the next wake-up: never sleep longer than TICK.
        let tick = now + TICK;
        [
            self.deadlines.next(),
            self.accept_paused_until,
            drain,
            Some(tick),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|at| at.saturating_duration_since(now))
    }

    /// Readiness of a connection. A connection still marked busy was re-armed by its worker,
    /// which hands it back right after: wait for that, then dispatch.
    fn on_ready(&mut self, key: usize, now: Instant) {
        while matches!(
            self.slots.get(key),
            Some(Slot {
                state: State::Busy,
                ..
            })
        ) {
            match self.returns.recv_timeout(TICK) {
                Ok(returned) => self.on_return(returned, now),
                // A worker that never returns it has died; the event is dropped with it.
                Err(_) => return,
            }
        }
        self.dispatch(key);
    }

    fn accept(&mut self, now: Instant) {
        self.listener_armed = false;
        for _ in 0..ACCEPT_BATCH {
            if self.slots.len() >= self.max_connections {
                // Left disarmed: new connections wait in the backlog until one closes.
                return;
            }
            let Some(listener) = &self.listener else {
                return;
            };
            // accept4 with SOCK_NONBLOCK: no fcntl round trips per connection.
            match rustix::net::acceptfrom_with(
                listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            )
            .map_err(io::Error::from)
            {
                Ok((fd, peer)) => {
                    self.exhaustion_logged = false;
                    let peer = peer
                        .and_then(|p| SocketAddr::try_from(p).ok())
                        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                    self.register(TcpStream::from(fd), peer, now);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if out_of_descriptors(&e) => {
                    // Accepting again at once would spin: the error persists until some
                    // connection closes. Back off and go on serving those we have.
                    if !self.exhaustion_logged {
                        log::error(format_args!("accept: {e}; pausing new connections"));
                        self.exhaustion_logged = true;
                    }
                    self.accept_paused_until = Some(now + EXHAUSTED_PAUSE);
                    return;
                }
                // ECONNABORTED and the like concern one connection, not the listener.
                Err(_) => {}
            }
        }
        self.arm_listener();
    }

    fn arm_listener(&mut self) {
        if let Some(listener) = &self.listener
            && !self.listener_armed
            && self.accept_paused_until.is_none()
            && self.slots.len() < self.max_connections
        {
            match self.poller.modify(listener, Event::readable(LISTENER)) {
                Ok(()) => self.listener_armed = true,
                Err(e) => log::error(format_args!("re-arming the listener: {e}")),
            }
        }
    }

    fn register(&mut self, stream: TcpStream, peer: SocketAddr, now: Instant) {
        // Linux accepted sockets inherit TCP_NODELAY from the listener (server.rs); other
        // systems need it set on each.
        #[cfg(not(target_os = "linux"))]
        let _ = stream.set_nodelay(true);
        let key = self.slots.vacant_key();
        // SAFETY: the stream is owned by the Conn stored in this slot; every path that drops a
        // Conn deletes it from the poller first (`close` here, or the worker that closes it).
        if let Err(e) = unsafe { self.poller.add(&stream, Event::readable(key)) } {
            log::error(format_args!("registering a connection: {e}"));
            return;
        }
        self.generation += 1;
        let deadline = now + self.timeouts.header;
        self.slots.insert(Slot {
            state: State::Parked(Box::new(Conn::new(stream, peer, now))),
            generation: self.generation,
            deadline,
            queued: None,
        });
        self.queue_deadline(key);
    }

    fn dispatch(&mut self, key: usize) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        if let State::Parked(conn) = std::mem::replace(&mut slot.state, State::Busy) {
            if let Err(crossbeam_channel::SendError(job)) = self.jobs.send(Job { key, conn }) {
                self.close(key, job.conn);
            }
        }
    }

    fn on_return(&mut self, returned: Returned, now: Instant) {
        let (key, conn) = match returned {
            Returned::Closed { key } => {
                if self.slots.contains(key) {
                    self.slots.remove(key);
                    self.arm_listener();
                }
                return;
            }
            Returned::Parked { key, conn } => (key, conn),
        };
        if !self.slots.contains(key) {
            // Cannot happen while one owner holds each connection; be safe anyway.
            let _ = self.poller.delete(conn.stream());
            return;
        }
        if let Phase::Draining {
            cutting: true,
            ref mut cut,
            ..
        } = self.phase
        {
            *cut += 1;
            return self.close(key, conn);
        }
        let deadline = match conn.wait() {
            Wait::Head { since } => since + self.timeouts.header,
            Wait::Idle => now + self.timeouts.keep_alive,
            Wait::Body { since } => since + self.timeouts.header,
            Wait::Write => now + self.timeouts.send,
            Wait::Linger { since } => since + LINGER,
        };
        let deadline = self.drain_deadline(&conn, deadline, now);
        let slot = &mut self.slots[key];
        slot.state = State::Parked(conn);
        slot.deadline = deadline;
        self.queue_deadline(key);
    }

    /// While draining, a connection with no request under way may still receive one from a
    /// client that reused it before seeing our close: it gets a short grace, not the full
    /// keep-alive timeout, and a request in that window is answered with `Connection: close`.
    fn drain_deadline(&self, conn: &Conn, deadline: Instant, now: Instant) -> Instant {
        match (&self.phase, conn.wait()) {
            (Phase::Draining { .. }, Wait::Idle | Wait::Head { .. }) if !conn.mid_request() => {
                deadline.min(now + DRAIN_IDLE_GRACE)
            }
            _ => deadline,
        }
    }

    /// Makes sure the heap holds an entry no later than the slot's deadline.
    fn queue_deadline(&mut self, key: usize) {
        let slot = &mut self.slots[key];
        if slot.queued.is_none_or(|q| q > slot.deadline) {
            self.deadlines.push(slot.deadline, key, slot.generation);
            slot.queued = Some(slot.deadline);
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((at, key, generation)) = self.deadlines.pop_due(now) {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            if slot.generation != generation || slot.queued != Some(at) {
                continue;
            }
            slot.queued = None;
            // A busy connection gets a fresh deadline when its worker returns it.
            if matches!(slot.state, State::Busy) {
                continue;
            }
            if slot.deadline <= now {
                if self.linger_at_drain(key, now) {
                    continue;
                }
                if let State::Parked(conn) = self.slots.remove(key).state {
                    let _ = self.poller.delete(conn.stream());
                }
                self.arm_listener();
            } else {
                self.queue_deadline(key);
            }
        }
    }

    /// While draining, an idle connection whose grace has passed but whose last response still
    /// sits in the socket's send queue is half-closed and waits for the peer's close instead of
    /// closing at once: the process's exit (and, in a container, its network namespace's)
    /// would drop those bytes. True if it now lingers.
    fn linger_at_drain(&mut self, key: usize, now: Instant) -> bool {
        if !matches!(self.phase, Phase::Draining { .. }) {
            return false;
        }
        let Some(Slot {
            state: State::Parked(conn),
            deadline,
            ..
        }) = self.slots.get_mut(key)
        else {
            return false;
        };
        if !matches!(conn.wait(), Wait::Idle | Wait::Head { .. })
            || conn.mid_request()
            || !conn.has_unsent()
            || conn.begin_linger().is_err()
            || self
                .poller
                .modify(conn.stream(), Event::readable(key))
                .is_err()
        {
            return false;
        }
        *deadline = now + LINGER;
        self.queue_deadline(key);
        true
    }

    fn close(&mut self, key: usize, conn: Box<Conn>) {
        let _ = self.poller.delete(conn.stream());
        drop(conn);
        self.slots.remove(key);
        self.arm_listener();
    }

    /// Handles bytes on the shutdown pipe; true when the reactor must stop at once.
    fn on_shutdown_request(&mut self, now: Instant) -> bool {
        let requests = shutdown::take_requests(&self.shutdown_rx);
        let _ = self
            .poller
            .modify(&self.shutdown_rx, Event::readable(SHUTDOWN));
        for _ in 0..requests {
            match self.phase {
                Phase::Running => self.begin_drain(now),
                Phase::Draining { .. } => {
                    log::info(format_args!(
                        "second shutdown signal: closing {} connections now",
                        self.slots.len()
                    ));
                    return true;
                }
            }
        }
        false
    }

    fn begin_drain(&mut self, now: Instant) {
        self.ctx.draining.store(true, Ordering::SeqCst);
        // Connections that completed their handshake before the signal are the clients'
        // too: take them from the backlog before closing the listener, or they are reset.
        self.listener_armed = false;
        self.accept_paused_until = None;
        self.accept(now);
        if let Some(listener) = self.listener.take() {
            let _ = self.poller.delete(&listener);
        }
        let until = now + self.timeouts.shutdown;
        log::info(format_args!(
            "shutdown signal: no longer accepting; draining {} connections (up to {:?})",
            self.slots.len(),
            self.timeouts.shutdown
        ));
        self.phase = Phase::Draining {
            until,
            open_at_signal: self.slots.len(),
            cutting: false,
            cut: 0,
        };
        // Idle connections stay armed for reading through a short grace: a request already
        // on its way is answered (with Connection: close); then the deadline closes them.
        let keys: Vec<usize> = self.slots.iter().map(|(key, _)| key).collect();
        for key in keys {
            if let State::Parked(conn) = &self.slots[key].state {
                let deadline = self.drain_deadline(conn, self.slots[key].deadline, now);
                self.slots[key].deadline = deadline;
                self.queue_deadline(key);
            }
        }
    }

    fn advance_shutdown(&mut self, now: Instant) -> Option<Outcome> {
        let Phase::Draining {
            until,
            open_at_signal,
            ref mut cutting,
            ref mut cut,
        } = self.phase
        else {
            return None;
        };
        if now >= until && !*cutting {
            *cutting = true;
            let parked: Vec<usize> = self
                .slots
                .iter()
                .filter(|(_, s)| matches!(s.state, State::Parked(_)))
                .map(|(k, _)| k)
                .collect();
            *cut += parked.len();
            for key in parked {
                if let State::Parked(conn) = self.slots.remove(key).state {
                    let _ = self.poller.delete(conn.stream());
                }
            }
        }
        if self.slots.is_empty() {
            let cut = match self.phase {
                Phase::Draining { cut, .. } => cut,
                Phase::Running => 0,
            };
            return Some(Outcome::Drained {
                drained: open_at_signal.saturating_sub(cut),
                cut,
            });
        }
        None
    }

    fn close_parked(&mut self) {
        for slot in self.slots.drain() {
            if let State::Parked(conn) = slot.state {
                let _ = self.poller.delete(conn.stream());
            }
        }
    }
}

impl Drop for Reactor {
    fn drop(&mut self) {
        self.close_parked();
        if let Some(listener) = &self.listener {
            let _ = self.poller.delete(listener);
        }
        let _ = self.poller.delete(&self.shutdown_rx);
    }
}

fn out_of_descriptors(e: &io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw_os_error),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
    )
}
