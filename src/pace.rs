//! Pacing between the reactor and the workers. While jobs are still queued, a socket event
//! the reactor caught now would only wait behind them; waking the reactor for each one costs
//! a sleep and a wake-up per request. So the reactor, when it leaves jobs queued, sleeps here
//! until a worker takes the last one, then collects every event that came meanwhile in one
//! poll. It owns the flag and the one-slot signal between them; it must never make a worker
//! wait (workers only swap a flag and try a non-blocking send).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, bounded};

/// The "queue drained" signal between the workers and the reactor.
#[derive(Debug)]
pub struct Pace {
    wanted: AtomicBool,
    tx: Sender<()>,
    rx: Receiver<()>,
}

impl Default for Pace {
    fn default() -> Pace {
        let (tx, rx) = bounded(1);
        Pace {
            wanted: AtomicBool::new(false),
            tx,
            rx,
        }
    }
}

impl Pace {
    /// Called by a worker that just took a job and left the queue empty.
    pub fn drained(&self) {
        if self.wanted.load(Ordering::SeqCst) && self.wanted.swap(false, Ordering::SeqCst) {
            let _ = self.tx.try_send(());
        }
    }

    /// Called by the reactor: returns when `is_empty()` holds, a worker signalled it, or
    /// `limit` passed, whichever is first.
    pub fn wait_drained(&self, is_empty: impl Fn() -> bool, limit: Duration) {
        // A signal left from an earlier round would end this wait at once.
        while self.rx.try_recv().is_ok() {}
        self.wanted.store(true, Ordering::SeqCst);
        // The last job may have been taken between the caller's check and the store above,
        // by a worker that then saw no one waiting.
        if !is_empty() {
            let _ = self.rx.recv_timeout(limit);
        }
        self.wanted.store(false, Ordering::SeqCst);
    }
}
