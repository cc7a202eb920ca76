//! The reactor's table of connections: a slab of slots, each a connection parked here or busy
//! on a worker, with its generation (so a stale heap entry or a late return never touches a
//! later connection in the same slot) and its deadline, kept in the heap with at most one live
//! entry per slot. [`Slots::close`] is the one way a parked connection is closed on the reactor
//! thread: taken out of the poller first (if a worker registered it), as polling requires, then
//! dropped. It never reads, writes or shuts down a socket.

use std::time::Instant;

use polling::Poller;
use slab::Slab;

use super::deadlines::Deadlines;
use crate::conn::{Conn, Wait};

#[derive(Debug)]
enum State {
    /// Boxed: one allocation per connection, and a pointer, not the whole state, moves
    /// through the channels at every hand-off.
    Parked(Box<Conn>),
    /// Moved to a worker, which hands it back or closes it.
    Busy,
}

#[derive(Debug)]
struct Slot {
    state: State,
    generation: u64,
    deadline: Instant,
    /// The deadline this slot has in the heap, if any.
    queued: Option<Instant>,
}

/// What the reactor finds under a key when an edge comes for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// No connection: it closed after the edge was reported.
    Gone,
    /// Parked, and may be driven.
    Parked,
    /// Parked, holding its answer back until its deadline.
    Held,
    /// On a worker.
    Busy,
}

/// Every open connection, by poller key.
#[derive(Debug, Default)]
pub(super) struct Slots {
    slab: Slab<Slot>,
    heap: Deadlines,
    generation: u64,
    /// Slots whose connection is on a worker now.
    busy: usize,
}

impl Slots {
    /// Open connections, parked or busy.
    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Connections on a worker now: being read, answered or written.
    pub(super) fn busy(&self) -> usize {
        self.busy
    }

    pub(super) fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// Parks a new connection due at `deadline`.
    pub(super) fn insert(&mut self, conn: Box<Conn>, deadline: Instant) -> usize {
        self.generation += 1;
        let key = self.slab.insert(Slot {
            state: State::Parked(conn),
            generation: self.generation,
            deadline,
            queued: None,
        });
        self.queue(key);
        key
    }

    /// What is under `key`.
    pub(super) fn seen(&self, key: usize) -> Seen {
        match self.slab.get(key).map(|slot| &slot.state) {
            None => Seen::Gone,
            Some(State::Busy) => Seen::Busy,
            Some(State::Parked(conn)) if matches!(conn.wait(), Wait::Held { .. }) => Seen::Held,
            Some(State::Parked(_)) => Seen::Parked,
        }
    }

    /// Takes a parked connection to hand it to a worker; the slot stays, busy.
    pub(super) fn take(&mut self, key: usize) -> Option<Box<Conn>> {
        let slot = self.slab.get_mut(key)?;
        match std::mem::replace(&mut slot.state, State::Busy) {
            State::Parked(conn) => {
                self.busy += 1;
                Some(conn)
            }
            State::Busy => None,
        }
    }

    /// Parks a connection a worker handed back, due at `deadline`; gives it back if its slot
    /// is gone (which one owner per connection rules out).
    pub(super) fn park(
        &mut self,
        key: usize,
        conn: Box<Conn>,
        deadline: Instant,
    ) -> Result<(), Box<Conn>> {
        let Some(slot) = self.slab.get_mut(key) else {
            return Err(conn);
        };
        if matches!(
            std::mem::replace(&mut slot.state, State::Parked(conn)),
            State::Busy
        ) {
            self.busy -= 1;
        }
        slot.deadline = deadline;
        self.queue(key);
        Ok(())
    }

    /// Frees the slot of a connection a worker closed.
    pub(super) fn free(&mut self, key: usize) -> bool {
        self.remove(key).is_some()
    }

    /// Closes a parked connection (or frees a busy one's slot, whose worker then finds it
    /// gone): out of the poller first, as polling requires; returned to be dropped.
    pub(super) fn close(&mut self, key: usize, poller: &Poller) -> Option<Box<Conn>> {
        if let Some(Slot {
            state: State::Parked(mut conn),
            ..
        }) = self.remove(key)
        {
            let (registration, stream) = conn.registration();
            registration.forget(poller, stream);
            return Some(conn);
        }
        None
    }

    /// Empties a slot, keeping the count of busy ones.
    fn remove(&mut self, key: usize) -> Option<Slot> {
        let slot = self.slab.try_remove(key)?;
        if matches!(slot.state, State::Busy) {
            self.busy -= 1;
        }
        Some(slot)
    }

    /// Keys of every parked connection.
    pub(super) fn parked(&self) -> Vec<usize> {
        self.slab
            .iter()
            .filter(|(_, s)| matches!(s.state, State::Parked(_)))
            .map(|(k, _)| k)
            .collect()
    }

    /// Moves a parked connection's deadline to what `f` makes of it and its current one.
    pub(super) fn reschedule(&mut self, key: usize, f: impl FnOnce(&Conn, Instant) -> Instant) {
        if let Some(Slot {
            state: State::Parked(conn),
            deadline,
            ..
        }) = self.slab.get_mut(key)
        {
            *deadline = f(conn, *deadline);
            self.queue(key);
        }
    }

    /// The earliest deadline in the heap.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.heap.next()
    }

    /// The next parked connection whose deadline has passed at `now`, taken out of its slot
    /// (which stays, busy) to be ended. Stale entries are skipped, and a slot whose deadline
    /// moved later is queued again.
    pub(super) fn take_expired(&mut self, now: Instant) -> Option<(usize, Box<Conn>)> {
        while let Some((at, key, generation)) = self.heap.pop_due(now) {
            let Some(slot) = self.slab.get_mut(key) else {
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
            if slot.deadline > now {
                self.queue(key);
                continue;
            }
            if let Some(conn) = self.take(key) {
                return Some((key, conn));
            }
        }
        None
    }

    /// Makes sure the heap holds an entry no later than the slot's deadline.
    fn queue(&mut self, key: usize) {
        if let Some(slot) = self.slab.get_mut(key)
            && slot.queued.is_none_or(|q| q > slot.deadline)
        {
            self.heap.push(slot.deadline, key, slot.generation);
            slot.queued = Some(slot.deadline);
        }
    }
}
