//! Small files kept in memory, so a hit costs one `fstatat` instead of open, fstat, sendfile and
//! close, and the response is one write of head and body. Entries are keyed by the normalised
//! request path and hold the resolved file's bytes and validators (mtime, size, inode); the caller
//! checks every hit against the disk, so a changed file is never served stale. The byte budget is
//! bounded; over it, entries are evicted. It never decides what a request may see: only files the
//! normal path resolved and served get in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::file::FileMeta;

/// Largest file kept. Beyond it, copying the body into the socket costs more than the three
/// syscalls sendfile's path adds (docs/ARCHITECTURE.md has the measurements).
pub const MAX_FILE: u64 = 16 * 1024;
/// What an entry costs beyond its bytes (key, path, bookkeeping), for the budget.
const OVERHEAD: usize = 128;

/// One cached file.
#[derive(Debug)]
pub struct Entry {
    /// The root-relative path of the file served (an index file for a directory).
    pub rel: Box<[u8]>,
    /// Its content.
    pub bytes: Arc<[u8]>,
    /// Its validators when read.
    pub meta: FileMeta,
    /// Whether a `.br` or `.gz` sidecar existed beside it when it was read.
    pub sidecars: bool,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Box<[u8]>, Arc<Entry>>,
    used: usize,
}

/// The cache.
#[derive(Debug)]
pub struct FileCache {
    inner: Mutex<Inner>,
    budget: usize,
}

impl FileCache {
    /// A cache holding at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        FileCache {
            inner: Mutex::new(Inner::default()),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a consistent map: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `key`, whatever the disk holds now: the caller compares `meta`.
    pub fn get(&self, key: &[u8]) -> Option<Arc<Entry>> {
        self.lock().map.get(key).cloned()
    }

    /// Stores a file read just now under `key`, evicting others to stay within the budget.
    pub fn insert(&self, key: &[u8], rel: &[u8], bytes: Arc<[u8]>, meta: FileMeta, sidecars: bool) {
        let cost = bytes
            .len()
            .saturating_add(key.len())
            .saturating_add(OVERHEAD);
        if cost > self.budget {
            return;
        }
        let entry = Arc::new(Entry {
            rel: rel.into(),
            bytes,
            meta,
            sidecars,
        });
        let mut inner = self.lock();
        if let Some(old) = inner.map.remove(key) {
            inner.used = inner.used.saturating_sub(cost_of(key, &old));
        }
        while inner.used.saturating_add(cost) > self.budget {
            // Any victim will do: the budget, not the choice, keeps memory bounded, and a hot
            // file evicted by chance comes back on its next request.
            let Some(victim) = inner.map.keys().next().cloned() else {
                break;
            };
            if let Some(old) = inner.map.remove(&victim) {
                inner.used = inner.used.saturating_sub(cost_of(&victim, &old));
            }
        }
        inner.used = inner.used.saturating_add(cost);
        inner.map.insert(key.into(), entry);
    }

    /// Bytes held, counting overheads.
    pub fn used(&self) -> usize {
        self.lock().used
    }
}

fn cost_of(key: &[u8], entry: &Entry) -> usize {
    entry
        .bytes
        .len()
        .saturating_add(key.len())
        .saturating_add(OVERHEAD)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(len: u64) -> FileMeta {
        FileMeta {
            len,
            mtime: 1,
            mtime_nsec: 2,
            inode: 3,
        }
    }

    #[test]
    fn inserted_then_replaced() {
        let cache = FileCache::new(1 << 20);
        assert!(cache.get(b"a").is_none());
        cache.insert(b"a", b"a", Arc::from(&b"hello"[..]), meta(5), false);
        let hit = cache.get(b"a").unwrap();
        assert_eq!((&*hit.bytes, hit.meta), (&b"hello"[..], meta(5)));
        cache.insert(b"a", b"a", Arc::from(&b"bye"[..]), meta(3), false);
        assert_eq!(&*cache.get(b"a").unwrap().bytes, b"bye");
        assert_eq!(cache.used(), 3 + 1 + OVERHEAD);
    }

    #[test]
    fn stays_within_budget() {
        let cache = FileCache::new(4 * (1000 + OVERHEAD + 2));
        for i in 0..50u8 {
            cache.insert(
                &[b'k', i],
                b"x",
                Arc::from(vec![i; 1000]),
                meta(1000),
                false,
            );
            assert!(cache.used() <= 4 * (1000 + OVERHEAD + 2));
        }
        cache.insert(
            b"big",
            b"x",
            Arc::from(vec![0; 10_000]),
            meta(10_000),
            false,
        );
        assert!(cache.get(b"big").is_none());
    }
}
