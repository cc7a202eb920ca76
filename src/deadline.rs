//! A min-heap of deadlines `(when, key, generation)`. It only orders and pops; whether an entry
//! still means anything (the slot may be gone, reused, or its deadline moved) is the reactor's
//! to check, so entries are never searched for or removed early. It knows nothing of sockets.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// Deadlines in the order they fall due.
#[derive(Debug, Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
}

impl Deadlines {
    /// Adds a deadline for slot `key` in generation `generation`.
    pub fn push(&mut self, at: Instant, key: usize, generation: u64) {
        self.heap.push(Reverse((at, key, generation)));
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// Removes and returns the earliest deadline if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(Instant, usize, u64)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
}
