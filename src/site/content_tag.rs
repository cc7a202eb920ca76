//! How a file's strong ETag is made (`--etag`): from its mtime and size ([`FileMeta::etag`]), or
//! from a BLAKE3 digest of its bytes, for builds that reset every mtime (Nix, reproducible builds)
//! where two deploys of different bytes would otherwise share a validator. A digest is computed
//! once per file version and kept in a bounded map shared by the workers, keyed by the whole
//! [`FileMeta`] (device, inode, size, mtime and ctime to the nanosecond), so every later request
//! for that version costs one lookup. It reads files only with positional reads, so it never
//! moves the cursor of a descriptor the sendfile path uses, never holds its lock while reading or
//! hashing, and never fails a request: a file it cannot read gets its mtime tag.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::AsFd;
use std::sync::{Mutex, MutexGuard};

use rustix::io::Errno;

use super::file::{Etag, FileMeta};
use crate::config::EtagMode;

/// File versions remembered, in two generations of half this each. About 100 bytes an entry
/// (key, digest, map slot): at most ~3 MiB, and a site of up to 16,384 files is hashed once per
/// deploy; beyond that the least recently asked-for versions are hashed again when asked for.
pub const MAX_ENTRIES: usize = 1 << 15;

/// Bytes read per positional read while hashing: large enough for BLAKE3 to hash several chunks
/// at once with SIMD, small enough to allocate on a miss.
const READ_SIZE: usize = 64 * 1024;

/// What was learnt about one version: its digest (the first 128 bits of BLAKE3, far beyond any
/// chance of two versions of one resource colliding), or `None` when it could not be read, so
/// it keeps its mtime tag and the failure is logged once, not on every request.
type Learnt = Option<[u8; 16]>;

/// The `--etag` mode, with the digest cache when tags come from content.
#[derive(Debug)]
pub enum Tagger {
    /// From mtime and size: no state, no lookup.
    Mtime,
    /// From a digest of the content.
    Content(ContentTags),
}

impl Tagger {
    /// The tagger for `mode`.
    pub fn new(mode: EtagMode) -> Tagger {
        match mode {
            EtagMode::Mtime => Tagger::Mtime,
            EtagMode::Content => Tagger::Content(ContentTags::new(MAX_ENTRIES)),
        }
    }

    /// The strong ETag of the file open as `fd`, whose fstat gave `meta`.
    pub fn of_file(&self, fd: impl AsFd, meta: &FileMeta) -> Etag {
        match self {
            Tagger::Mtime => meta.etag(),
            Tagger::Content(tags) => tags.tag(meta, |digest| hash_file(fd, meta.len, digest)),
        }
    }

    /// The strong ETag of a file whose bytes, read whole just now, are `bytes`: the same tag
    /// [`Tagger::of_file`] gives, as it hashes the same bytes.
    pub fn of_bytes(&self, bytes: &[u8], meta: &FileMeta) -> Etag {
        match self {
            Tagger::Mtime => meta.etag(),
            Tagger::Content(tags) => tags.tag(meta, |digest| {
                blake3::Hasher::new()
                    .update(bytes)
                    .finalize_xof()
                    .fill(digest);
                Ok(())
            }),
        }
    }
}

/// A multiply-rotate hasher (FxHash's step) for the integer fields of a [`FileMeta`]: std's
/// SipHash cost ~570 instructions a lookup here (callgrind), this ~40. Flooding needs no defence:
/// the keys are stat results of files in the root, not anything a client sends.
#[derive(Debug, Default, Clone, Copy)]
struct StatHasher(u64);

impl Hasher for StatHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }

    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type StatMap = HashMap<FileMeta, Learnt, BuildHasherDefault<StatHasher>>;

/// The two generations: lookups look in `hot`, then in `cold` (a hit there moves the entry back
/// to `hot`); when `hot` is full it becomes `cold` and the old `cold` is dropped. A version asked
/// for at least once per generation stays; the others age out, in O(1) per operation and with
/// no per-entry bookkeeping.
#[derive(Debug, Default)]
struct Generations {
    hot: StatMap,
    cold: StatMap,
}

impl Generations {
    /// Remembers `meta` in `hot`, first rotating when `hot` holds `half` others.
    fn put(&mut self, half: usize, meta: FileMeta, learnt: Learnt) {
        if self.hot.len() >= half && !self.hot.contains_key(&meta) {
            // The old cold map's allocation becomes the new hot one: once both have grown,
            // nothing is allocated again.
            std::mem::swap(&mut self.hot, &mut self.cold);
            self.hot.clear();
        }
        self.hot.insert(meta, learnt);
    }
}

/// Content digests by file version, bounded, behind one lock.
#[derive(Debug)]
pub struct ContentTags {
    inner: Mutex<Generations>,
    /// Entries per generation.
    half: usize,
}

impl ContentTags {
    /// A cache of at most `max_entries` versions.
    pub fn new(max_entries: usize) -> ContentTags {
        ContentTags {
            inner: Mutex::new(Generations::default()),
            half: (max_entries / 2).max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        // A panic elsewhere while holding the lock leaves consistent maps: keep using them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tag of version `meta`: remembered, or learnt by `hash` (outside the lock; two
    /// workers missing at once both hash, and agree).
    fn tag(&self, meta: &FileMeta, hash: impl FnOnce(&mut [u8; 16]) -> Result<(), Errno>) -> Etag {
        let learnt = match self.get(meta) {
            Some(learnt) => learnt,
            None => {
                let mut digest = [0; 16];
                let learnt = match hash(&mut digest) {
                    Ok(()) => Some(digest),
                    Err(e) => {
                        crate::log::error(format_args!(
                            "hashing a file for its ETag failed (inode {}): {}; it keeps its mtime tag until it changes",
                            meta.inode,
                            std::io::Error::from(e),
                        ));
                        None
                    }
                };
                self.insert(*meta, learnt);
                learnt
            }
        };
        match learnt {
            Some(digest) => Etag::from_digest(&digest),
            None => meta.etag(),
        }
    }

    fn get(&self, meta: &FileMeta) -> Option<Learnt> {
        let mut g = self.lock();
        if let Some(learnt) = g.hot.get(meta) {
            return Some(*learnt);
        }
        let learnt = g.cold.remove(meta)?;
        g.put(self.half, *meta, learnt);
        Some(learnt)
    }

    fn insert(&self, meta: FileMeta, learnt: Learnt) {
        self.lock().put(self.half, meta, learnt);
    }

    /// Versions remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        let g = self.lock();
        g.hot.len() + g.cold.len()
    }
}

/// Hashes the first `len` bytes of `fd` (fewer if it is shorter now) into `digest`, with
/// positional reads: the descriptor's offset, which sendfile may rely on, is left alone.
fn hash_file(fd: impl AsFd, len: u64, digest: &mut [u8; 16]) -> Result<(), Errno> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0; READ_SIZE];
    let mut at = 0u64;
    while at < len {
        let want = usize::try_from(len - at).map_or(READ_SIZE, |left| left.min(READ_SIZE));
        let n = match rustix::io::pread(&fd, &mut buf[..want], at) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        at += n as u64;
    }
    hasher.finalize_xof().fill(digest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom, Write};

    fn meta(inode: u64) -> FileMeta {
        FileMeta {
            len: 5,
            mtime: 1_700_000_000,
            mtime_nsec: 1,
            inode,
            dev: 2,
            ctime: 1_700_000_001,
            ctime_nsec: 3,
        }
    }

    /// `tags.tag` that counts its hashes in `hashed`.
    fn tag(tags: &ContentTags, m: &FileMeta, bytes: &[u8], hashed: &mut u32) -> Etag {
        tags.tag(m, |digest| {
            *hashed += 1;
            blake3::Hasher::new()
                .update(bytes)
                .finalize_xof()
                .fill(digest);
            Ok(())
        })
    }

    #[test]
    fn a_version_is_hashed_once_and_any_key_change_misses() {
        let tags = ContentTags::new(64);
        let mut hashed = 0;
        let first = tag(&tags, &meta(1), b"hello", &mut hashed);
        assert_eq!(tag(&tags, &meta(1), b"other", &mut hashed), first);
        assert_eq!(hashed, 1, "the second lookup hit");
        let base = meta(1);
        let changed = [
            FileMeta { dev: 7, ..base },
            FileMeta { inode: 7, ..base },
            FileMeta { len: 7, ..base },
            FileMeta { mtime: 7, ..base },
            FileMeta {
                mtime_nsec: 7,
                ..base
            },
            FileMeta { ctime: 7, ..base },
            FileMeta {
                ctime_nsec: 7,
                ..base
            },
        ];
        for (i, m) in changed.iter().enumerate() {
            let before = hashed;
            let t = tag(&tags, m, b"hello", &mut hashed);
            assert_eq!(hashed, before + 1, "key change {i} must miss: {m:?}");
            // The tag is the content's: same bytes, same tag, whatever the stat says.
            assert_eq!(t, first, "{m:?}");
        }
        let other = tag(&tags, &meta(9), b"olleh", &mut hashed);
        assert_ne!(other, first);
        assert_eq!(tags.len(), changed.len() + 2);
    }

    #[test]
    fn stays_bounded_and_keeps_what_is_asked_for() {
        let tags = ContentTags::new(8);
        let mut hashed = 0;
        for inode in 0..1000 {
            tag(&tags, &meta(inode), b"x", &mut hashed);
            // Version 0 is asked for on every round: it survives every rotation.
            tag(&tags, &meta(0), b"x", &mut hashed);
            assert!(tags.len() <= 8, "{} entries", tags.len());
        }
        assert_eq!(hashed, 1000, "version 0 was hashed once, every other once");
        let before = hashed;
        tag(&tags, &meta(1), b"x", &mut hashed);
        assert_eq!(hashed, before + 1, "an old version was evicted");
    }

    #[test]
    fn file_and_bytes_agree_and_the_offset_stays() {
        let mut f = tempfile::tempfile().unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        f.write_all(&body).unwrap();
        f.seek(SeekFrom::Start(17)).unwrap();
        let m = FileMeta {
            len: body.len() as u64,
            ..meta(1)
        };
        let from_file = Tagger::new(EtagMode::Content).of_file(&f, &m);
        let from_bytes = Tagger::new(EtagMode::Content).of_bytes(&body, &m);
        assert_eq!(from_file, from_bytes);
        assert_eq!(f.stream_position().unwrap(), 17, "the cursor moved");
        let mtime = Tagger::new(EtagMode::Mtime);
        assert_eq!(mtime.of_file(&f, &m), m.etag());
        assert_eq!(mtime.of_bytes(&body, &m), m.etag());
    }

    #[test]
    fn a_file_that_cannot_be_read_keeps_its_mtime_tag_and_is_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        // Opened for writing only: every read fails (EBADF).
        let f = std::fs::File::create(dir.path().join("w")).unwrap();
        let Tagger::Content(tags) = Tagger::new(EtagMode::Content) else {
            unreachable!()
        };
        let m = meta(1);
        assert_eq!(tags.tag(&m, |d| hash_file(&f, 5, d)), m.etag());
        let mut hashed = 0;
        assert_eq!(tag(&tags, &m, b"hello", &mut hashed), m.etag());
        assert_eq!(hashed, 0, "the failure is remembered for this version");
    }
}
