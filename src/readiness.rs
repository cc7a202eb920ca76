//! How a connection hears from the poller. Connections are registered edge-triggered, once, by
//! the worker that first has to wait for one ([`Registration`]): a connection read, answered and
//! closed in its first drive never enters the poller at all, and one that stays never needs its
//! interest re-armed, because an edge comes for every arrival after it was registered. What
//! that asks of a drive is that it never waits for readability without a read that came back
//! short (or found nothing) since it began, nor for writability without a send that found the
//! socket full; `conn` keeps that rule.
//!
//! An edge can come while a worker holds the connection. The [`Board`] says, for each poller
//! key, whether the connection is parked, on a worker, or on a worker that owes it another
//! drive: the reactor marks the last without waiting, and the worker that lets the connection go
//! finds the mark and drives it again. It holds three states a key and nothing else; it never
//! touches a socket, and the poller only through [`Registration::arm`] and
//! [`Registration::forget`].
//!
//! polling's `poll(2)` backend (other systems, and `bench/scaling.sh`'s comparison build) cannot
//! report edges: there a connection is armed oneshot for each wait instead, one `modify` a wait,
//! and the board works the same, since an event then comes only after that arming.

use std::io;
use std::net::TcpStream;
use std::sync::atomic::{AtomicU8, Ordering};

use polling::{Event, PollMode, Poller};

/// The connection is in the reactor's table (or on its way back there).
const PARKED: u8 = 0;
/// A worker holds it.
const BUSY: u8 = 1;
/// A worker holds it, and readiness came after it was handed over.
const AGAIN: u8 = 2;

/// What a worker finds when it lets a connection go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// It is the reactor's again.
    Parked,
    /// Readiness came while it was driven: the worker still holds it and drives it again.
    Again,
}

/// One cell per poller key, shared by the reactor and the workers.
#[derive(Debug)]
pub(crate) struct Board {
    cells: Box<[AtomicU8]>,
}

impl Board {
    /// Cells for keys `0..keys`; the reactor's table never uses a key at or past its connection
    /// limit. Zeroed memory, so pages no key has used yet cost nothing.
    pub(crate) fn new(keys: usize) -> Board {
        let bytes = vec![PARKED; keys].into_boxed_slice();
        // SAFETY: AtomicU8 has the size, alignment and bit validity of u8, so a boxed slice of
        // one is a boxed slice of the other with the same length and allocation.
        let cells = unsafe { Box::from_raw(Box::into_raw(bytes) as *mut [AtomicU8]) };
        Board { cells }
    }

    /// Reactor: `key`'s connection is being handed to a worker.
    pub(crate) fn dispatched(&self, key: usize) {
        if let Some(cell) = self.cells.get(key) {
            cell.store(BUSY, Ordering::SeqCst);
        }
    }

    /// Reactor: readiness came for `key`, whose connection it handed to a worker. True if that
    /// worker will drive it again; false if the worker has let it go already, so it is on its
    /// way back (or has no cell, and the reactor must wait for it either way).
    pub(crate) fn owe(&self, key: usize) -> bool {
        let Some(cell) = self.cells.get(key) else {
            return false;
        };
        match cell.compare_exchange(BUSY, AGAIN, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => true,
            Err(state) => state == AGAIN,
        }
    }

    /// Worker: lets `key`'s connection go back to the reactor, unless readiness came for it
    /// meanwhile; then the worker keeps it, as busy as when it was handed over.
    pub(crate) fn release(&self, key: usize) -> Release {
        let Some(cell) = self.cells.get(key) else {
            return Release::Parked;
        };
        match cell.compare_exchange(BUSY, PARKED, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => Release::Parked,
            Err(_) => {
                cell.store(BUSY, Ordering::SeqCst);
                Release::Again
            }
        }
    }

    /// Worker: lets `key`'s connection go whatever came for it; the reactor then decides (a
    /// connection that holds its answer is driven by its deadline, one that yielded at once).
    pub(crate) fn let_go(&self, key: usize) {
        if let Some(cell) = self.cells.get(key) {
            cell.store(PARKED, Ordering::SeqCst);
        }
    }
}

/// What a connection's socket is registered in the poller for, edge-triggered (with the
/// `poll(2)` backend: what it was last armed for, oneshot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Registration {
    /// Not in the poller: it has not had to wait yet.
    #[default]
    None,
    /// Readability only: everything a connection waits for until a send first fills its socket.
    Read,
    /// Readability and writability, kept for good once a send filled the socket: a writable
    /// edge comes only after a send found it full, so it costs nothing between requests.
    ReadWrite,
}

impl Registration {
    /// Makes sure the poller reports what the connection waits for next (writability if
    /// `write`, else readability) under `key`. At most one syscall, and none once registered
    /// for it. Adding or widening the interest reports the socket's present state too, so a
    /// byte that came before it is not missed.
    pub(crate) fn arm(
        &mut self,
        poller: &Poller,
        stream: &TcpStream,
        key: usize,
        write: bool,
    ) -> io::Result<()> {
        let (wanted, interest) = if write {
            (Registration::ReadWrite, Event::all(key))
        } else {
            (Registration::Read, Event::readable(key))
        };
        if !poller.supports_edge() {
            // Level-triggered and oneshot: armed for exactly what it waits for, every time.
            let event = if write {
                Event::writable(key)
            } else {
                interest
            };
            if *self == Registration::None {
                // SAFETY: as below.
                unsafe { poller.add_with_mode(stream, event, PollMode::Oneshot)? };
            } else {
                poller.modify_with_mode(stream, event, PollMode::Oneshot)?;
            }
            *self = wanted;
            return Ok(());
        }
        match (*self, wanted) {
            (Registration::None, _) => {
                // SAFETY: polling requires a source to be deleted before it is dropped. The
                // stream is owned by the Conn this registration belongs to, and every path that
                // drops a registered Conn deletes it first (`Registration::forget`).
                unsafe { poller.add_with_mode(stream, interest, PollMode::Edge)? };
            }
            (Registration::Read, Registration::ReadWrite) => {
                poller.modify_with_mode(stream, interest, PollMode::Edge)?;
            }
            _ => return Ok(()),
        }
        *self = wanted;
        Ok(())
    }

    /// Takes the socket out of the poller before it is closed, if it was ever put there.
    pub(crate) fn forget(&mut self, poller: &Poller, stream: &TcpStream) {
        if *self != Registration::None {
            let _ = poller.delete(stream);
            *self = Registration::None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_for_a_busy_connection_is_owed_to_its_worker_until_it_lets_go() {
        let board = Board::new(4);
        board.dispatched(1);
        assert_eq!(board.release(1), Release::Parked, "nothing came");
        board.dispatched(1);
        assert!(board.owe(1));
        assert!(board.owe(1), "a second edge is owed as one drive");
        assert_eq!(board.release(1), Release::Again);
        assert_eq!(board.release(1), Release::Parked, "the drive again paid it");
        assert!(
            !board.owe(1),
            "let go already: the reactor waits for its return"
        );
        board.dispatched(2);
        assert!(board.owe(2));
        board.let_go(2);
        assert!(!board.owe(2));
        assert!(!board.owe(9), "a key past the board is never owed");
        assert_eq!(board.release(9), Release::Parked);
    }
}
