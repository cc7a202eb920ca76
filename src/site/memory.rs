//! Small files kept in memory, so a hit costs one `fstatat` instead of open, fstat, sendfile and
//! close, and the response is one write of head and body. Entries are keyed by the normalised
//! request path and hold the resolved file's bytes, its version (size, mtime, ctime, inode,
//! device), its ETag and which sidecars it had; every lookup checks the version against the disk,
//! so a changed file is never served stale, even one rewritten in place with its mtime restored
//! (the ctime still moves). The byte budget is bounded; over it, entries are evicted. It never
//! decides what a request may see: only files the normal path resolved and served get in.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::encoding::Available;
use super::file::{Etag, FileMeta};
use super::resolve::Root;

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
    /// Its version when read.
    pub meta: FileMeta,
    /// Its strong ETag, as the disk path would make it (`--etag`).
    pub etag: Etag,
    /// The `.br`, `.zst` and `.gz` sidecars beside it when it was read.
    pub sidecars: Available,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<Box<[u8]>, Arc<Entry>, foldhash::fast::RandomState>,
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

    /// The entry for `key` if the file it was read from is unchanged: one `fstatat` from the
    /// root compares its version. A path whose symlinks changed since resolves to another inode
    /// and misses.
    pub fn lookup(&self, root: &Root, key: &[u8]) -> Option<Arc<Entry>> {
        let entry = self.get(key)?;
        let now = root
            .stat(&entry.rel)
            .ok()
            .map(|st| FileMeta::from_stat(&st));
        (now == Some(entry.meta)).then_some(entry)
    }

    /// The entry for `key`, whatever the disk holds now.
    fn get(&self, key: &[u8]) -> Option<Arc<Entry>> {
        self.lock().map.get(key).cloned()
    }

    /// Stores a file read just now under `key`, evicting others to stay within the budget.
    pub fn fill(&self, key: &[u8], entry: Entry) {
        let cost = cost_of(key, &entry);
        if cost > self.budget {
            return;
        }
        let entry = Arc::new(entry);
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

    fn entry(bytes: &[u8], meta: FileMeta) -> Entry {
        Entry {
            rel: b"x"[..].into(),
            bytes: bytes.into(),
            meta,
            etag: meta.etag(),
            sidecars: Available::default(),
        }
    }

    fn meta(len: u64) -> FileMeta {
        FileMeta {
            len,
            mtime: 1,
            mtime_nsec: 2,
            inode: 3,
            ..FileMeta::default()
        }
    }

    #[test]
    fn inserted_then_replaced() {
        let cache = FileCache::new(1 << 20);
        assert!(cache.get(b"a").is_none());
        cache.fill(b"a", entry(b"hello", meta(5)));
        let hit = cache.get(b"a").unwrap();
        assert_eq!((&*hit.bytes, hit.meta), (&b"hello"[..], meta(5)));
        cache.fill(b"a", entry(b"bye", meta(3)));
        assert_eq!(&*cache.get(b"a").unwrap().bytes, b"bye");
        assert_eq!(cache.used(), 3 + 1 + OVERHEAD);
    }

    #[test]
    fn stays_within_budget() {
        let cache = FileCache::new(4 * (1000 + OVERHEAD + 2));
        for i in 0..50u8 {
            cache.fill(&[b'k', i], entry(&[i; 1000], meta(1000)));
            assert!(cache.used() <= 4 * (1000 + OVERHEAD + 2));
        }
        cache.fill(b"big", entry(&[0; 10_000], meta(10_000)));
        assert!(cache.get(b"big").is_none());
    }
}
