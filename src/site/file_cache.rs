//! Files the normal path served, kept so a hit costs one `fstatat` from the root: a small file's
//! bytes (a hit is then one write of head and body, instead of open, fstat, sendfile and close),
//! and a larger file's open descriptor (a hit is one `fstatat` and the `sendfile`, instead of
//! `openat2`, `fstat`, `sendfile` and `close`). Entries are keyed by the normalised request path
//! and hold the resolved file's path, its version (size, mtime, ctime, inode, device), its ETag
//! and which sidecars it had. Every lookup checks the version against the disk, so a changed
//! file is never served stale, even one rewritten in place with its mtime restored (the ctime
//! still moves); an entry found stale is dropped there. Each cache is bounded (bytes for the
//! one, descriptors for the other); over it, entries are evicted, and [`FileCache::sweep`]
//! drops those no request used since the sweep before, so the descriptor of a file deleted from
//! the disk is not held for long. It never decides what a request may see: only files the
//! normal path resolved and served get in.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::encoding::Available;
use super::file::{Etag, FileMeta};
use super::resolve::Root;

/// Largest file kept in memory. Beyond it, copying the body into the socket costs more than the
/// three syscalls sendfile's path adds (docs/ARCHITECTURE.md has the measurements), and the
/// descriptor is kept instead.
pub const MAX_FILE: u64 = 16 * 1024;
/// Descriptors of larger files kept open, at most: a site's hot assets above [`MAX_FILE`]
/// (images, bundles, fonts). `descriptors` counts them in the process's budget.
pub const MAX_OPEN: usize = 1024;
/// What a bytes entry costs beyond its bytes (key, path, bookkeeping), for the budget.
const OVERHEAD: usize = 128;

/// What an entry keeps of its file, and what that costs against the cache's budget.
pub trait Held {
    /// The entry's cost, with `key_len` bytes of key.
    fn cost(&self, key_len: usize) -> usize;
}

/// A small file's content, counted in bytes.
impl Held for Arc<[u8]> {
    fn cost(&self, key_len: usize) -> usize {
        self.len().saturating_add(key_len).saturating_add(OVERHEAD)
    }
}

/// A larger file's descriptor, counted as one of the budget's descriptors.
impl Held for Arc<File> {
    fn cost(&self, _: usize) -> usize {
        1
    }
}

/// One cached file.
#[derive(Debug)]
pub struct Entry<T> {
    /// The root-relative path of the file served (an index file for a directory).
    pub rel: Box<[u8]>,
    /// Its content, or its open descriptor.
    pub held: T,
    /// Its version when read.
    pub meta: FileMeta,
    /// Its strong ETag, as the disk path would make it (`--etag`).
    pub etag: Etag,
    /// The `.br`, `.zst` and `.gz` sidecars beside it when it was read.
    pub sidecars: Available,
    /// Whether a request used it since the last sweep.
    used: AtomicBool,
}

impl<T> Entry<T> {
    /// An entry for a file read or opened just now.
    pub fn new(rel: &[u8], held: T, meta: FileMeta, etag: Etag, sidecars: Available) -> Self {
        Entry {
            rel: rel.into(),
            held,
            meta,
            etag,
            sidecars,
            used: AtomicBool::new(true),
        }
    }
}

#[derive(Debug)]
struct Inner<T> {
    map: HashMap<Box<[u8]>, Arc<Entry<T>>, foldhash::fast::RandomState>,
    used: usize,
}

/// The cache.
#[derive(Debug)]
pub struct FileCache<T> {
    inner: Mutex<Inner<T>>,
    budget: usize,
}

impl<T: Held> FileCache<T> {
    /// A cache whose entries cost at most `budget` in all.
    pub fn new(budget: usize) -> Self {
        FileCache {
            inner: Mutex::new(Inner {
                map: HashMap::default(),
                used: 0,
            }),
            budget,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // A panic elsewhere while holding the lock leaves a consistent map: keep using it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `key` if the file it was read from is unchanged: one `fstatat` from the
    /// root compares its version. A path whose symlinks changed since resolves to another inode
    /// and misses. An entry that misses is dropped, so it costs that `fstatat` once only.
    pub fn lookup(&self, root: &Root, key: &[u8]) -> Option<Arc<Entry<T>>> {
        let entry = self.get(key)?;
        let now = root
            .stat(&entry.rel)
            .ok()
            .map(|st| FileMeta::from_stat(&st));
        if now != Some(entry.meta) {
            self.drop_entry(key, &entry);
            return None;
        }
        // Read first: most hits find it set, and a load leaves the cache line shared.
        if !entry.used.load(Ordering::Relaxed) {
            entry.used.store(true, Ordering::Relaxed);
        }
        Some(entry)
    }

    /// The entry for `key`, whatever the disk holds now.
    fn get(&self, key: &[u8]) -> Option<Arc<Entry<T>>> {
        self.lock().map.get(key).cloned()
    }

    /// Removes `entry` from under `key`, unless another has taken its place since.
    fn drop_entry(&self, key: &[u8], entry: &Arc<Entry<T>>) {
        let mut inner = self.lock();
        if inner.map.get(key).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            inner.map.remove(key);
            inner.used = inner.used.saturating_sub(entry.held.cost(key.len()));
        }
    }

    /// Stores a file read just now under `key`, evicting others to stay within the budget.
    pub fn fill(&self, key: &[u8], entry: Entry<T>) -> Arc<Entry<T>> {
        let entry = Arc::new(entry);
        let cost = entry.held.cost(key.len());
        if cost > self.budget {
            return entry;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.map.remove(key) {
            inner.used = inner.used.saturating_sub(old.held.cost(key.len()));
        }
        while inner.used.saturating_add(cost) > self.budget {
            // Any victim will do: the budget, not the choice, keeps the cache bounded, and a hot
            // file evicted by chance comes back on its next request.
            let Some(victim) = inner.map.keys().next().cloned() else {
                break;
            };
            if let Some(old) = inner.map.remove(&victim) {
                inner.used = inner.used.saturating_sub(old.held.cost(victim.len()));
            }
        }
        inner.used = inner.used.saturating_add(cost);
        inner.map.insert(key.into(), entry.clone());
        entry
    }

    /// Drops the entries no request used since the last sweep, and starts the next period. A
    /// dropped descriptor closes when the last response sending from it ends.
    pub fn sweep(&self) {
        let mut inner = self.lock();
        let mut freed = 0usize;
        inner.map.retain(|key, entry| {
            let used = entry.used.swap(false, Ordering::Relaxed);
            if !used {
                freed = freed.saturating_add(entry.held.cost(key.len()));
            }
            used
        });
        inner.used = inner.used.saturating_sub(freed);
    }

    /// What the entries cost now: bytes, counting overheads, or descriptors.
    pub fn used(&self) -> usize {
        self.lock().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bytes: &[u8], meta: FileMeta) -> Entry<Arc<[u8]>> {
        Entry::new(b"x", bytes.into(), meta, meta.etag(), Available::default())
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
        assert_eq!((&*hit.held, hit.meta), (&b"hello"[..], meta(5)));
        cache.fill(b"a", entry(b"bye", meta(3)));
        assert_eq!(&*cache.get(b"a").unwrap().held, b"bye");
        assert_eq!(cache.used(), 3 + 1 + OVERHEAD);
    }

    #[test]
    fn stays_within_budget() {
        let cache = FileCache::new(4 * (1000 + OVERHEAD + 2));
        for i in 0..50u8 {
            cache.fill(&[b'k', i], entry(&[i; 1000], meta(1000)));
            assert!(cache.used() <= 4 * (1000 + OVERHEAD + 2));
        }
        let big = cache.fill(b"big", entry(&[0; 10_000], meta(10_000)));
        assert_eq!(big.held.len(), 10_000, "served, though not kept");
        assert!(cache.get(b"big").is_none());
    }

    #[test]
    fn descriptors_count_one_each() {
        let cache: FileCache<Arc<File>> = FileCache::new(2);
        let open = || Arc::new(File::open("Cargo.toml").unwrap());
        for key in [&b"a"[..], b"b", b"c"] {
            let m = meta(1);
            cache.fill(
                key,
                Entry::new(b"x", open(), m, m.etag(), Available::default()),
            );
            assert!(cache.used() <= 2);
        }
        assert_eq!(cache.used(), 2);
    }

    #[test]
    fn a_sweep_drops_what_went_unused_since_the_last() {
        let cache = FileCache::new(1 << 20);
        cache.fill(b"a", entry(b"aa", meta(2)));
        cache.fill(b"b", entry(b"bb", meta(2)));
        // Both were used when filled: the first sweep keeps them and starts a period.
        cache.sweep();
        assert!(cache.get(b"a").is_some() && cache.get(b"b").is_some());
        let a = cache.get(b"a").unwrap();
        a.used.store(true, Ordering::Relaxed);
        cache.sweep();
        assert!(cache.get(b"a").is_some());
        assert!(cache.get(b"b").is_none());
        assert_eq!(cache.used(), 2 + 1 + OVERHEAD);
        cache.sweep();
        assert!(cache.get(b"a").is_none());
        assert_eq!(cache.used(), 0);
    }
}
