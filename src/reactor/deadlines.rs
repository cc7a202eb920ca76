//! Deadlines: the pure choice of when a parked connection is due ([`deadline_for`]), and a
//! min-heap of `(when, key, generation)` that orders them ([`Deadlines`]). The heap only orders
//! and pops; whether an entry still means anything (the slot may be gone, reused, or its
//! deadline moved) is the slots' to check, so entries are never searched for or removed early.
//! Nothing here knows of sockets or reads the clock.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crate::conn::Wait;

/// How long an idle connection stays open after a shutdown signal, for a request in flight.
pub(super) const DRAIN_IDLE_GRACE: Duration = Duration::from_millis(300);
/// How long a closing connection may linger for the peer's close.
pub(super) const LINGER: Duration = Duration::from_secs(2);

/// The reactor's timeouts.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// For a whole request head, and for a whole request body being discarded.
    pub header: Duration,
    /// For an idle keep-alive connection.
    pub keep_alive: Duration,
    /// For a write that makes no progress.
    pub send: Duration,
    /// For the drain after a shutdown signal.
    pub shutdown: Duration,
}

/// When a connection parked at `now`, waiting for `wait`, is due to be ended.
///
/// While draining, a connection with no request under way may still receive one from a client
/// that reused it before seeing our close: it gets a short grace, not the full keep-alive (or
/// header) timeout, and a request in that window is answered with `Connection: close`.
pub(super) fn deadline_for(
    wait: Wait,
    mid_request: bool,
    now: Instant,
    t: &Timeouts,
    draining: bool,
) -> Instant {
    let due = match wait {
        // A head, and a body after it, must each arrive whole within the header timeout, so
        // a client trickling a byte at a time cannot hold the connection.
        Wait::Head { since } | Wait::Body { since } => since + t.header,
        Wait::Idle => now + t.keep_alive,
        Wait::Write => now + t.send,
        Wait::Linger { since } => since + LINGER,
        Wait::Held { until } => until,
    };
    match wait {
        // The process is going: a held answer goes out now (`Conn` sends it when draining).
        Wait::Held { .. } if draining => now,
        Wait::Idle | Wait::Head { .. } if draining && !mid_request => {
            due.min(now + DRAIN_IDLE_GRACE)
        }
        _ => due,
    }
}

/// Deadlines in the order they fall due.
#[derive(Debug, Default)]
pub(super) struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Deadlines {
    /// Adds a deadline for slot `key` in generation `generation`.
    pub(super) fn push(&mut self, at: Instant, key: usize, generation: u64) {
        self.heap.push(Reverse((at, key, generation)));
    }

    /// The earliest deadline, if any.
    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the earliest deadline if it is due at `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_order_and_only_when_due() {
        let t0 = Instant::now();
        let mut d = Deadlines::default();
        d.push(t0 + Duration::from_secs(3), 3, 0);
        d.push(t0 + Duration::from_secs(1), 1, 0);
        d.push(t0 + Duration::from_secs(2), 2, 7);
        assert_eq!(d.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(d.pop_due(t0), None);
        let due = t0 + Duration::from_secs(2);
        assert_eq!(d.pop_due(due).map(|e| e.1), Some(1));
        assert_eq!(d.pop_due(due).map(|e| (e.1, e.2)), Some((2, 7)));
        assert_eq!(d.pop_due(due), None);
    }

    #[test]
    fn deadlines_per_wait_and_phase() {
        let ms = Duration::from_millis;
        let t = Timeouts {
            header: ms(10_000),
            keep_alive: ms(5_000),
            send: ms(20_000),
            shutdown: ms(30_000),
        };
        let since = Instant::now();
        let now = since + ms(1_000);
        struct Case {
            wait: Wait,
            mid_request: bool,
            draining: bool,
            due: Instant,
        }
        let cases = [
            // The head's timeout runs from its first byte, not from the last read.
            Case {
                wait: Wait::Head { since },
                mid_request: true,
                draining: false,
                due: since + ms(10_000),
            },
            Case {
                wait: Wait::Body { since },
                mid_request: true,
                draining: false,
                due: since + ms(10_000),
            },
            Case {
                wait: Wait::Idle,
                mid_request: false,
                draining: false,
                due: now + ms(5_000),
            },
            Case {
                wait: Wait::Write,
                mid_request: false,
                draining: false,
                due: now + ms(20_000),
            },
            Case {
                wait: Wait::Linger { since },
                mid_request: false,
                draining: false,
                due: since + LINGER,
            },
            // Draining: an idle connection, or one accepted with nothing sent yet, gets the
            // short grace.
            Case {
                wait: Wait::Idle,
                mid_request: false,
                draining: true,
                due: now + DRAIN_IDLE_GRACE,
            },
            Case {
                wait: Wait::Head { since },
                mid_request: false,
                draining: true,
                due: now + DRAIN_IDLE_GRACE,
            },
            // …but a request under way keeps its whole timeout, and so do writes and bodies.
            Case {
                wait: Wait::Head { since },
                mid_request: true,
                draining: true,
                due: since + ms(10_000),
            },
            Case {
                wait: Wait::Body { since },
                mid_request: true,
                draining: true,
                due: since + ms(10_000),
            },
            Case {
                wait: Wait::Write,
                mid_request: false,
                draining: true,
                due: now + ms(20_000),
            },
            // A held answer goes out when its hold ends, or at once when draining.
            Case {
                wait: Wait::Held {
                    until: now + ms(700),
                },
                mid_request: false,
                draining: false,
                due: now + ms(700),
            },
            Case {
                wait: Wait::Held {
                    until: now + ms(700),
                },
                mid_request: false,
                draining: true,
                due: now,
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            assert_eq!(
                deadline_for(c.wait, c.mid_request, now, &t, c.draining),
                c.due,
                "case {i}: {:?}",
                c.wait
            );
        }
        // The grace never lengthens a deadline that falls earlier.
        let late = since + ms(9_900);
        assert_eq!(
            deadline_for(Wait::Head { since }, false, late, &t, true),
            since + ms(10_000)
        );
    }
}
