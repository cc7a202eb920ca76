//! Shutdown, the part users judge a server by: the phase the reactor is in, and the reactor's
//! functions that move it. The first shutdown request stops accepting (after taking what the
//! backlog already holds, and where the kernel defers connections, what arrives within the idle
//! grace), marks the server draining, and gives each idle connection a short grace for a
//! request already on its way; connections end as their requests finish. At the
//! drain deadline the phase becomes cutting: every parked connection is closed, and each busy
//! one as its worker hands it back. A second request stops at once. Nothing here touches a
//! connection's socket; ending one is the worker's (`Conn::end`).

use std::time::Instant;

use super::Reactor;
use super::deadlines::{DRAIN_IDLE_GRACE, deadline_for};
use crate::log;
use crate::shutdown;

/// How the reactor stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// After a drain: connections that finished, and those cut at the deadline.
    Drained {
        /// Connections open at the signal, or accepted in the listener's grace after it, that
        /// ended on their own.
        drained: usize,
        /// Connections closed at the deadline.
        cut: usize,
        /// Of those, how many were accepted after the signal.
        late: usize,
    },
    /// A second signal: stopped at once.
    Forced,
}

/// Where shutdown stands.
#[derive(Debug)]
pub(super) enum Phase {
    /// Serving.
    Running,
    /// Not accepting (or, until `listener_closes`, only the connections the kernel deferred);
    /// connections end as their requests finish, until `until`.
    Draining {
        until: Instant,
        /// When the listener closes, if it is still open.
        listener_closes: Option<Instant>,
        /// Connections open at the signal, and those accepted after it before the listener
        /// closed.
        open: Open,
    },
    /// Past the drain deadline: every connection is closed as soon as it is parked.
    Cutting { open: Open, cut: usize },
}

/// The connections a drain answers for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Open {
    /// Open at the signal.
    at_signal: usize,
    /// Accepted after it, while the listener stayed open.
    late: usize,
}

impl Phase {
    /// Whether shutdown has begun.
    pub(super) fn is_draining(&self) -> bool {
        !matches!(self, Phase::Running)
    }

    /// When the phase next changes by itself.
    pub(super) fn wakes_at(&self) -> Option<Instant> {
        match self {
            Phase::Draining {
                until,
                listener_closes,
                ..
            } => Some(listener_closes.map_or(*until, |at| at.min(*until))),
            Phase::Running | Phase::Cutting { .. } => None,
        }
    }

    /// The outcome once no connection is left; `None` while running.
    fn outcome(&self) -> Option<Outcome> {
        let (open, cut) = match *self {
            Phase::Running => return None,
            Phase::Draining { open, .. } => (open, 0),
            Phase::Cutting { open, cut } => (open, cut),
        };
        Some(Outcome::Drained {
            drained: (open.at_signal + open.late).saturating_sub(cut),
            cut,
            late: open.late,
        })
    }
}

impl Reactor {
    /// Handles bytes on the shutdown pipe; true when the reactor must stop at once.
    pub(super) fn on_shutdown_request(&mut self, now: Instant) -> bool {
        let requests = shutdown::take_requests(&self.ch.shutdown);
        let _ = self
            .ch
            .poller
            .modify(&self.ch.shutdown, polling::Event::readable(super::SHUTDOWN));
        for _ in 0..requests {
            if self.phase.is_draining() {
                log::info(format_args!(
                    "second shutdown signal: closing {} connections now",
                    self.slots.len()
                ));
                return true;
            }
            self.begin_drain(now);
        }
        false
    }

    fn begin_drain(&mut self, now: Instant) {
        self.ch.draining.begin();
        // Connections that completed their handshake before the signal are the clients' too:
        // take them from the backlog before closing the listener, or they are reset.
        self.acceptor.unpause();
        self.accept(now);
        // With TCP_DEFER_ACCEPT the kernel keeps a connection that has sent nothing yet out of
        // the backlog, so the accept above cannot take it, and closing the listener would reset
        // it when its request arrives. The listener stays open for the grace an idle
        // connection gets, and what arrives meanwhile is answered with `Connection: close`.
        let listener_closes = if self.config.listening.deferred.is_zero() {
            self.acceptor.close(&self.ch.poller);
            None
        } else {
            Some(now + DRAIN_IDLE_GRACE)
        };
        let shutdown = self.config.timeouts.shutdown;
        let accepting = if listener_closes.is_some() {
            format!("accepting only for {DRAIN_IDLE_GRACE:?} more")
        } else {
            "no longer accepting".to_owned()
        };
        log::info(format_args!(
            "shutdown signal: {accepting}; draining {} connections (up to {shutdown:?})",
            self.slots.len(),
        ));
        self.phase = Phase::Draining {
            until: now + shutdown,
            listener_closes,
            open: Open {
                at_signal: self.slots.len(),
                late: 0,
            },
        };
        // Idle connections stay armed for reading through a short grace: a request already on
        // its way is answered (with Connection: close); then their deadline ends them.
        let timeouts = self.config.timeouts;
        for key in self.slots.parked() {
            self.slots.reschedule(key, |conn, deadline| {
                deadline.min(deadline_for(
                    conn.wait(),
                    conn.mid_request(),
                    now,
                    &timeouts,
                    true,
                ))
            });
        }
    }

    /// Counts connections accepted while the listener stays open in the drain (nothing while
    /// running, or at the signal's own accept, which comes before the phase changes).
    pub(super) fn accepted_while_draining(&mut self, n: usize) {
        if let Phase::Draining { open, .. } = &mut self.phase {
            open.late += n;
        }
    }

    /// Closes the listener at the end of its grace, and cuts at the drain deadline; the
    /// outcome once no connection is left.
    pub(super) fn advance_shutdown(&mut self, now: Instant) -> Option<Outcome> {
        if let Phase::Draining {
            listener_closes: Some(at),
            ..
        } = self.phase
            && now >= at
        {
            // What arrived since the last turn is taken first, as at the signal.
            self.accept(now);
            self.acceptor.close(&self.ch.poller);
            if let Phase::Draining {
                listener_closes, ..
            } = &mut self.phase
            {
                *listener_closes = None;
            }
        }
        if let Phase::Draining { until, open, .. } = self.phase
            && now >= until
        {
            // A shutdown timeout shorter than the listener's grace ends that too.
            self.acceptor.close(&self.ch.poller);
            let parked = self.slots.parked();
            if let Some(m) = &self.ch.metrics {
                m.add_cut(parked.len());
            }
            self.phase = Phase::Cutting {
                open,
                cut: parked.len(),
            };
            for key in parked {
                self.close(key);
            }
        }
        let listening = matches!(
            self.phase,
            Phase::Draining {
                listener_closes: Some(_),
                ..
            }
        );
        if self.slots.is_empty() && !listening {
            return self.phase.outcome();
        }
        None
    }
}
