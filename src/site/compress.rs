//! On-the-fly compression (gzip, brotli, zstd) of files that have no precompressed sidecar: a bounded,
//! least-recently-used in-memory cache of compressed bodies keyed by one version of one file.
//! Which types are worth compressing is the content type's to say (`mime`). It must never move a
//! file's cursor (the fd is shared with the sendfile path), never hold its lock while reading or
//! compressing, and never grow past its byte budget.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::site::encoding::Coding;
use crate::site::tally::CacheUse;

/// Files larger than this are sent uncompressed: compressing them would hold a worker (and this
/// much memory) for too long on a cache miss.
pub const MAX_INPUT: u64 = 8 << 20;

/// What each cached entry costs besides its compressed bytes and key: the map slot, the `Arc`
/// header, bookkeeping. Charging it keeps remembered refusals (which hold no data) bounded too.
const ENTRY_OVERHEAD: usize = 64;

/// gzip level 6: zlib's default, the usual speed/size balance for on-the-fly compression.
const GZIP_LEVEL: u32 = 6;

/// Brotli quality 6 and a 4 MiB window: close to gzip -9 speed, clearly smaller output.
const BROTLI_QUALITY: i32 = 6;
const BROTLI_LGWIN: i32 = 22;

/// zstd level 6: the lowest level whose output is no larger than gzip -6's on real CSS and JS
/// (rustdoc's 44–91 KB files: 0.5–1 % smaller; levels 3–5 are 2–10 % larger), while compressing
/// faster than gzip -6 (about 65–85 against 42–58 MB/s here). Below gzip's size, a client that
/// takes both gets zstd for good reason; the body is compressed once per file version anyway.
const ZSTD_LEVEL: i32 = 6;

/// One cached result: the compressed body, or None when compression did not make it smaller.
struct Entry {
    data: Option<Arc<[u8]>>,
    last_used: u64,
}

/// The cached results for one key: one slot per coding we compress to.
#[derive(Default)]
struct Slots {
    br: Option<Entry>,
    zstd: Option<Entry>,
    gzip: Option<Entry>,
}

impl Slots {
    fn slot(&mut self, coding: Coding) -> Option<&mut Option<Entry>> {
        match coding {
            Coding::Br => Some(&mut self.br),
            Coding::Zstd => Some(&mut self.zstd),
            Coding::Gzip => Some(&mut self.gzip),
            Coding::Identity => None,
        }
    }

    /// Each coding's slot, filled or not.
    fn each(&self) -> [(Coding, &Option<Entry>); 3] {
        [
            (Coding::Br, &self.br),
            (Coding::Zstd, &self.zstd),
            (Coding::Gzip, &self.gzip),
        ]
    }

    fn is_empty(&self) -> bool {
        self.each().iter().all(|(_, e)| e.is_none())
    }
}

struct Inner {
    // Keyed by the bytes alone so a hit can look up with a borrowed `&[u8]`, without allocating.
    map: HashMap<Box<[u8]>, Slots>,
    /// A logical clock for recency: incremented on every hit and insert.
    tick: u64,
    /// Bytes charged for all entries (see [`charge`]).
    size: usize,
}

/// What an entry counts against the budget.
fn charge(key: &[u8], data: &Option<Arc<[u8]>>) -> usize {
    data.as_ref().map_or(0, |d| d.len()) + key.len() + ENTRY_OVERHEAD
}

impl Inner {
    /// Drops least recently used entries until the held bytes fit `max_bytes`.
    fn evict_to(&mut self, max_bytes: usize) {
        while self.size > max_bytes {
            // A linear scan: the cache holds hundreds of entries, and this runs only after a miss
            // that just paid for a compression.
            let oldest = self
                .map
                .iter()
                .flat_map(|(key, slots)| {
                    slots
                        .each()
                        .into_iter()
                        .filter_map(move |(c, e)| e.as_ref().map(|e| (e.last_used, key, c)))
                })
                .min_by_key(|(tick, _, _)| *tick)
                .map(|(_, key, coding)| (key.clone(), coding));
            let Some((key, coding)) = oldest else {
                // Nothing left to evict; `size` can only be 0 here.
                self.size = 0;
                return;
            };
            let Some(slots) = self.map.get_mut(&key) else {
                return;
            };
            if let Some(entry) = slots.slot(coding).and_then(Option::take) {
                self.size = self.size.saturating_sub(charge(&key, &entry.data));
            }
            if slots.is_empty() {
                self.map.remove(&key);
            }
        }
    }
}

/// What [`CompressCache::get`] found: the compressed bytes (None when compressing does not pay)
/// and whether they were already cached.
#[derive(Debug)]
pub struct Compressed {
    /// The body in the coding asked for; `None` when it would not be smaller.
    pub data: Option<Arc<[u8]>>,
    /// Whether it was in the cache, or was compressed (and stored) just now.
    pub from: CacheUse,
}

/// Compressed bodies by (key, coding), where a key names one version of one file (path + ETag).
pub struct CompressCache {
    max_bytes: usize,
    inner: Mutex<Inner>,
}

impl fmt::Debug for CompressCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompressCache")
            .field("max_bytes", &self.max_bytes)
            .field("size", &self.size())
            .finish()
    }
}

impl CompressCache {
    /// A cache holding at most `max_bytes` of compressed data (least recently used evicted first).
    pub fn new(max_bytes: usize) -> Self {
        CompressCache {
            max_bytes,
            inner: Mutex::new(Inner {
                map: HashMap::new(),
                tick: 0,
                size: 0,
            }),
        }
    }

    /// The first `len` bytes of `file` compressed with `coding`, cached; None if not worth it.
    ///
    /// None when `coding` is identity, `len` exceeds [`MAX_INPUT`], or the result would not be
    /// smaller (remembered, so it is not retried). A file shorter than `len` is `UnexpectedEof`.
    pub fn get(&self, key: &[u8], coding: Coding, file: &File, len: u64) -> io::Result<Compressed> {
        let miss = |data| Compressed {
            data,
            from: CacheUse::Miss,
        };
        if coding == Coding::Identity || len > MAX_INPUT {
            return Ok(miss(None));
        }
        {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            if let Some(entry) = inner
                .map
                .get_mut(key)
                .and_then(|slots| slots.slot(coding))
                .and_then(Option::as_mut)
            {
                entry.last_used = tick;
                return Ok(Compressed {
                    data: entry.data.clone(),
                    from: CacheUse::Hit,
                });
            }
        }

        // Miss: read and compress without the lock, so other workers are not held up. Two
        // workers may race on one key; both compress, the first insert is kept.
        let input = read_prefix(file, len)?;
        let compressed = compress(coding, &input)?;
        let data: Option<Arc<[u8]>> =
            (compressed.len() < input.len()).then(|| Arc::from(compressed));
        drop(input);

        let cost = charge(key, &data);
        if cost > self.max_bytes {
            // Too big to ever fit: serve it, don't cache it.
            return Ok(miss(data));
        }
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.tick += 1;
        let tick = inner.tick;
        if !inner.map.contains_key(key) {
            inner.map.insert(Box::from(key), Slots::default());
        }
        let Some(slot) = inner.map.get_mut(key).and_then(|s| s.slot(coding)) else {
            return Ok(miss(data));
        };
        if let Some(existing) = slot {
            // Another worker won the race: hand out its copy so everyone shares one allocation.
            existing.last_used = tick;
            return Ok(miss(existing.data.clone()));
        }
        *slot = Some(Entry {
            data: data.clone(),
            last_used: tick,
        });
        inner.size += cost;
        // The new entry is the most recent, so it is evicted last, and alone it fits.
        inner.evict_to(self.max_bytes);
        Ok(miss(data))
    }

    /// Bytes currently held: compressed data plus each entry's key and a fixed per-entry overhead.
    pub fn size(&self) -> usize {
        self.lock().size
    }

    /// The lock, recovered if a worker panicked while holding it: every critical section leaves
    /// the map consistent (at worst `size` is off by one entry), so serving on is safe.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Exactly the first `len` bytes of `file`, read with positional reads so the shared cursor does
/// not move; a file shorter than `len` is an `UnexpectedEof` error.
fn read_prefix(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buf = vec![0; len];
    file.read_exact_at(&mut buf, 0)?;
    Ok(buf)
}

/// `input` compressed with `coding` (Identity: unchanged).
fn compress(coding: Coding, input: &[u8]) -> io::Result<Vec<u8>> {
    match coding {
        Coding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(
                Vec::with_capacity(input.len() / 2),
                flate2::Compression::new(GZIP_LEVEL),
            );
            enc.write_all(input)?;
            enc.finish()
        }
        Coding::Br => {
            let params = brotli::enc::BrotliEncoderParams {
                quality: BROTLI_QUALITY,
                lgwin: BROTLI_LGWIN,
                size_hint: input.len(),
                ..Default::default()
            };
            let mut out = Vec::with_capacity(input.len() / 2);
            brotli::BrotliCompress(&mut &input[..], &mut out, &params)?;
            Ok(out)
        }
        // A one-shot compression with the size known: the frame header records it, and the
        // window never exceeds the input, so with `MAX_INPUT` it stays within the 8 MiB that
        // every `zstd` content-coding decoder must support (RFC 9659 §3).
        Coding::Zstd => zstd::bulk::compress(input, ZSTD_LEVEL),
        Coding::Identity => Ok(input.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, SeekFrom};

    const CODINGS: [Coding; 3] = [Coding::Gzip, Coding::Br, Coding::Zstd];

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().expect("tempfile");
        f.write_all(bytes).expect("write");
        f.seek(SeekFrom::Start(0)).expect("seek");
        f
    }

    fn text(n: usize) -> Vec<u8> {
        b"<p>The quick brown fox jumps over the lazy dog.</p>\n"
            .iter()
            .copied()
            .cycle()
            .take(n)
            .collect()
    }

    /// xorshift64: incompressible bytes without a rand dependency.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    fn decompress(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .expect("gunzip");
            }
            Coding::Br => {
                brotli::Decompressor::new(data, 4096)
                    .read_to_end(&mut out)
                    .expect("unbrotli");
            }
            Coding::Zstd => out = zstd::decode_all(data).expect("unzstd"),
            Coding::Identity => out.extend_from_slice(data),
        }
        out
    }

    #[test]
    fn round_trip() {
        let body = text(10_000);
        let cache = CompressCache::new(1 << 20);
        for coding in CODINGS {
            let mut file = file_with(&body);
            // Only the first `len` bytes are compressed.
            let got = cache
                .get(b"k", coding, &file, 9_000)
                .expect("io")
                .data
                .expect("compressible");
            assert!(got.len() < 9_000);
            assert_eq!(decompress(coding, &got), &body[..9_000], "{coding:?}");
            // The cursor did not move.
            assert_eq!(file.stream_position().expect("pos"), 0);
        }
    }

    #[test]
    fn refusals() {
        let cache = CompressCache::new(1 << 20);
        let f = file_with(&text(100));
        for (coding, len) in [(Coding::Identity, 100), (Coding::Gzip, MAX_INPUT + 1)] {
            assert!(cache.get(b"k", coding, &f, len).expect("io").data.is_none());
        }
        assert_eq!(cache.size(), 0);
        // Shorter than claimed.
        let err = cache.get(b"k", Coding::Gzip, &f, 101).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn caching() {
        let cache = CompressCache::new(1 << 20);
        let f = file_with(&text(5_000));
        for coding in CODINGS {
            let a = cache.get(b"k", coding, &f, 5_000).expect("io");
            let b = cache.get(b"k", coding, &f, 5_000).expect("io");
            assert_eq!((a.from, b.from), (CacheUse::Miss, CacheUse::Hit));
            assert!(
                Arc::ptr_eq(&a.data.expect("some"), &b.data.expect("some")),
                "{coding:?}"
            );
        }
        let br = cache.get(b"k", Coding::Br, &f, 5_000).expect("io").data;
        let gz = cache.get(b"k", Coding::Gzip, &f, 5_000).expect("io").data;
        let zst = cache.get(b"k", Coding::Zstd, &f, 5_000).expect("io").data;
        assert_ne!(br, gz);
        assert_ne!(zst, gz);
        assert_ne!(zst, br);
    }

    #[test]
    fn incompressible_is_remembered() {
        let cache = CompressCache::new(1 << 20);
        let data = noise(4_096);
        for coding in CODINGS {
            let first = cache.get(b"rnd", coding, &file_with(&data), 4_096);
            assert!(first.expect("io").data.is_none());
            // Remembered: even a file that now reads differently is not retried under this key.
            let again = cache.get(b"rnd", coding, &file_with(&text(4_096)), 4_096);
            let again = again.expect("io");
            assert_eq!(
                (again.data, again.from),
                (None, CacheUse::Hit),
                "{coding:?}"
            );
        }
        assert_eq!(cache.size(), 3 * (3 + ENTRY_OVERHEAD));
        // Empty files never shrink.
        let f = file_with(b"");
        assert!(
            cache
                .get(b"empty", Coding::Gzip, &f, 0)
                .expect("io")
                .data
                .is_none()
        );
    }

    #[test]
    fn changed_key_recompresses() {
        let cache = CompressCache::new(1 << 20);
        let old = text(3_000);
        let mut new = text(3_000);
        new.extend_from_slice(b"changed");
        let a = cache
            .get(b"/a.html\"v1\"", Coding::Gzip, &file_with(&old), 3_000)
            .expect("io")
            .data
            .expect("some");
        let b = cache
            .get(b"/a.html\"v2\"", Coding::Gzip, &file_with(&new), 3_007)
            .expect("io")
            .data
            .expect("some");
        assert!(!Arc::ptr_eq(&a, &b));
        assert_eq!(decompress(Coding::Gzip, &a), old);
        assert_eq!(decompress(Coding::Gzip, &b), new);
    }

    #[test]
    fn eviction_keeps_budget() {
        let f = file_with(&text(20_000));
        let one = {
            let probe = CompressCache::new(usize::MAX);
            probe.get(b"0", Coding::Gzip, &f, 20_000).expect("io");
            probe.size()
        };
        // budget in entries, keys requested, keys expected to survive
        for (budget, keys, survivors) in [
            (3, &[0u8, 1, 2, 3, 4][..], &[2u8, 3, 4][..]),
            (2, &[0, 1, 0, 2], &[0, 2]),
            (1, &[0, 1, 2], &[2]),
        ] {
            let max = one * budget;
            let cache = CompressCache::new(max);
            let mut held = HashMap::new();
            for &k in keys {
                let got = cache.get(&[k], Coding::Gzip, &f, 20_000).expect("io").data;
                held.insert(k, got.expect("some"));
                assert!(cache.size() <= max);
            }
            for &k in survivors {
                let again = cache.get(&[k], Coding::Gzip, &f, 20_000).expect("io").data;
                assert!(
                    Arc::ptr_eq(&held[&k], &again.expect("some")),
                    "budget {budget}: key {k} should have survived"
                );
            }
            assert!(cache.size() <= max);
        }
    }

    #[test]
    fn eviction_takes_the_oldest_coding_of_a_key() {
        let f = file_with(&text(20_000));
        let sizes: Vec<usize> = CODINGS
            .iter()
            .map(|&c| {
                let probe = CompressCache::new(usize::MAX);
                probe.get(b"k", c, &f, 20_000).expect("io");
                probe.size()
            })
            .collect();
        // Room for all three codings of one key but the first, then for none but the last.
        for (budget, survivors) in [(sizes[1] + sizes[2], 2), (sizes[2], 1)] {
            let cache = CompressCache::new(budget);
            let held: Vec<_> = CODINGS
                .iter()
                .map(|&c| {
                    cache
                        .get(b"k", c, &f, 20_000)
                        .expect("io")
                        .data
                        .expect("some")
                })
                .collect();
            // Only the survivors are held: the evicted slots were emptied, whichever coding.
            assert_eq!(cache.size(), budget);
            for (held, &c) in held.iter().zip(&CODINGS).skip(CODINGS.len() - survivors) {
                let again = cache
                    .get(b"k", c, &f, 20_000)
                    .expect("io")
                    .data
                    .expect("some");
                assert!(Arc::ptr_eq(held, &again), "{c:?} was evicted");
            }
        }
    }

    #[test]
    fn oversized_entry_is_served_not_cached() {
        let cache = CompressCache::new(100);
        let f = file_with(&text(50_000));
        let a = cache.get(b"k", Coding::Br, &f, 50_000).expect("io").data;
        assert!(a.is_some());
        assert_eq!(cache.size(), 0);
        let b = cache.get(b"k", Coding::Br, &f, 50_000).expect("io").data;
        assert!(!Arc::ptr_eq(&a.expect("some"), &b.expect("some")));
    }

    #[test]
    fn poisoned_lock_recovers() {
        let cache = Arc::new(CompressCache::new(1 << 20));
        let c = Arc::clone(&cache);
        let _ = std::thread::spawn(move || {
            let _guard = c.inner.lock();
            panic!("poison");
        })
        .join();
        assert!(cache.inner.is_poisoned());
        let f = file_with(&text(1_000));
        assert!(
            cache
                .get(b"k", Coding::Gzip, &f, 1_000)
                .expect("io")
                .data
                .is_some()
        );
        assert!(cache.size() > 0);
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<CompressCache>();
    }
}
