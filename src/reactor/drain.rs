//! Shutdown, the part users judge a server by: the phase the reactor is in, and the reactor's
//! functions that move it. The first shutdown request stops accepting (after taking what the
//! backlog already holds), marks the server draining, and gives each idle connection a short
//! grace for a request already on its way; connections end as their requests finish. At the
//! drain deadline the phase becomes cutting: every parked connection is closed, and each busy
//! one as its worker hands it back. A second request stops at once. Nothing here touches a
//! connection's socket; ending one is the worker's (`Conn::end`).

use std::time::Instant;

use super::Reactor;
use super::deadlines::deadline_for;
use crate::log;
use crate::shutdown;

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

/// Where shutdown stands.
#[derive(Debug)]
pub(super) enum Phase {
    /// Serving.
    Running,
    /// Not accepting; connections end as their requests finish, until `until`.
    Draining {
        until: Instant,
        open_at_signal: usize,
    },
    /// Past the drain deadline: every connection is closed as soon as it is parked.
    Cutting { open_at_signal: usize, cut: usize },
}

impl Phase {
    /// Whether shutdown has begun.
    pub(super) fn is_draining(&self) -> bool {
        !matches!(self, Phase::Running)
    }

    /// When the phase next changes by itself.
    pub(super) fn wakes_at(&self) -> Option<Instant> {
        match self {
            Phase::Draining { until, .. } => Some(*until),
            Phase::Running | Phase::Cutting { .. } => None,
        }
    }

    /// The outcome once no connection is left; `None` while running.
    fn outcome(&self) -> Option<Outcome> {
        let (open_at_signal, cut) = match *self {
            Phase::Running => return None,
            Phase::Draining { open_at_signal, .. } => (open_at_signal, 0),
            Phase::Cutting {
                open_at_signal,
                cut,
            } => (open_at_signal, cut),
        };
        Some(Outcome::Drained {
            drained: open_at_signal.saturating_sub(cut),
            cut,
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
        self.acceptor.close(&self.ch.poller);
        let shutdown = self.config.timeouts.shutdown;
        log::info(format_args!(
            "shutdown signal: no longer accepting; draining {} connections (up to {shutdown:?})",
            self.slots.len(),
        ));
        self.phase = Phase::Draining {
            until: now + shutdown,
            open_at_signal: self.slots.len(),
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

    /// Cuts at the drain deadline; the outcome once no connection is left.
    pub(super) fn advance_shutdown(&mut self, now: Instant) -> Option<Outcome> {
        if let Phase::Draining {
            until,
            open_at_signal,
        } = self.phase
            && now >= until
        {
            let parked = self.slots.parked();
            if let Some(m) = &self.ch.metrics {
                m.add_cut(parked.len());
            }
            self.phase = Phase::Cutting {
                open_at_signal,
                cut: parked.len(),
            };
            for key in parked {
                self.close(key);
            }
        }
        if self.slots.is_empty() {
            return self.phase.outcome();
        }
        None
    }
}
