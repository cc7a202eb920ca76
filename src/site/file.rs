//! Validators of an opened file, from the one `fstat` done when it was opened: a strong `ETag`
//! built from modification time and size (cheap, stable across restarts, and the same on every
//! replica that serves the same files) or formatted from a content digest (`content_tag` computes
//! it), and `Last-Modified`; and the stat fields that name one version of a file. Formatted into
//! fixed buffers, so nothing is allocated. It never reads file content.

use std::io::Write;

/// The longest ETag we format: three u64 in hex, two separators, quotes and a suffix.
const ETAG_MAX: usize = 2 + 3 * 16 + 2 + 4;

/// A strong entity-tag, quotes included (RFC 9110 §8.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Etag {
    buf: [u8; ETAG_MAX],
    len: usize,
}

impl Etag {
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn push_hex(&mut self, v: u64) {
        let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
        for i in (0..digits).rev() {
            let nibble = (v >> (i * 4)) & 0xf;
            self.push(b"0123456789abcdef"[nibble as usize]);
        }
    }

    /// The tag of content whose digest is `digest`, e.g. `"9f86d081884c7d659a2feaa0c55ad015"`.
    pub fn from_digest(digest: &[u8; 16]) -> Etag {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0; ETAG_MAX];
        buf[0] = b'"';
        // Fixed offsets the compiler can check once: this runs on every content-mode response.
        for (pair, &b) in buf[1..33].chunks_exact_mut(2).zip(digest) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        buf[33] = b'"';
        Etag { buf, len: 34 }
    }

    /// The tag as sent, e.g. `"6553f1a2.1c9c3800-400-2a81"`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The tag of a representation derived from this one, e.g. gzip-compressed on the fly:
    /// a different representation needs a different strong tag (RFC 9110 §8.8.3).
    pub fn with_suffix(&self, suffix: &str) -> Etag {
        let mut out = *self;
        let inner = self.len - 1;
        let mut cursor = &mut out.buf[inner..];
        let written = write!(cursor, "-{suffix}\"").is_ok();
        out.len = if written {
            inner + 2 + suffix.len()
        } else {
            self.len
        };
        out
    }
}

/// What `fstat` told about a file. Equal values name one version of one file on this machine: a
/// rewrite in place that restores mtime and size still changes the ctime, which no one can set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FileMeta {
    /// Size in bytes.
    pub len: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Nanoseconds within that second.
    pub mtime_nsec: u32,
    /// Inode number.
    pub inode: u64,
    /// The device the inode is on.
    pub dev: u64,
    /// Status change time, seconds since the epoch.
    pub ctime: i64,
    /// Nanoseconds within that second.
    pub ctime_nsec: u32,
}

impl FileMeta {
    /// Reads the fields the validators need from a stat.
    pub fn from_stat(st: &rustix::fs::Stat) -> FileMeta {
        FileMeta {
            len: u64::try_from(st.st_size).unwrap_or(0),
            mtime: st.st_mtime,
            mtime_nsec: u32::try_from(st.st_mtime_nsec).unwrap_or(0),
            inode: st.st_ino,
            dev: st.st_dev,
            ctime: st.st_ctime,
            ctime_nsec: u32::try_from(st.st_ctime_nsec).unwrap_or(0),
        }
    }

    /// The strong ETag, from the modification time (to the nanosecond) and the size: any write
    /// changes the time. Not the inode: replicas serving the same image from different disks,
    /// or a site copied into place, have other inodes for the same bytes, and a revalidation
    /// that reaches another replica must still get 304. (The memory cache still compares
    /// inodes, to notice a file replaced on this machine.)
    pub fn etag(&self) -> Etag {
        // Hand-formatted hex: this runs for every file response, and fmt costs several times
        // more.
        let mut tag = Etag {
            buf: [0; ETAG_MAX],
            len: 0,
        };
        tag.push(b'"');
        tag.push_hex(self.mtime as u64);
        tag.push(b'.');
        tag.push_hex(u64::from(self.mtime_nsec));
        tag.push(b'-');
        tag.push_hex(self.len);
        tag.push(b'"');
        tag
    }

    /// Last-Modified as seconds since the epoch (0 for times before it).
    pub fn last_modified(&self) -> u64 {
        u64::try_from(self.mtime).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        let meta = FileMeta {
            len: 1024,
            mtime: 0x6553_f1a2,
            mtime_nsec: 0x1c9c_3800,
            inode: 0x2a81,
            ..FileMeta::default()
        };
        assert_eq!(meta.etag().as_bytes(), b"\"6553f1a2.1c9c3800-400\"");
        assert_eq!(
            meta.etag().with_suffix("br").as_bytes(),
            b"\"6553f1a2.1c9c3800-400-br\""
        );
        let big = FileMeta {
            len: u64::MAX,
            mtime: i64::MIN,
            mtime_nsec: u32::MAX,
            inode: u64::MAX,
            ..FileMeta::default()
        };
        assert!(big.etag().as_bytes().ends_with(b"\""));
        assert_ne!(meta.etag(), FileMeta { len: 1025, ..meta }.etag());
        assert_ne!(
            meta.etag(),
            FileMeta {
                mtime_nsec: 1,
                ..meta
            }
            .etag()
        );
        // The same bytes at another inode (another replica, a copy) keep their validator.
        assert_eq!(meta.etag(), FileMeta { inode: 1, ..meta }.etag());
        let other = FileMeta {
            dev: 9,
            ctime: 5,
            ..meta
        };
        assert_eq!(meta.etag(), other.etag());
    }

    #[test]
    fn digest_tags_fit_a_coding_suffix() {
        let digest: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
        let tag = Etag::from_digest(&digest);
        assert_eq!(tag.as_bytes(), b"\"00112233445566778899aabbccddeeff\"");
        assert_eq!(
            tag.with_suffix("gzip").as_bytes(),
            b"\"00112233445566778899aabbccddeeff-gzip\""
        );
    }
}
