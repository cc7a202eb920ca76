//! A worker's reusable buffers: the read buffer that request bytes are parsed in place from, the
//! output buffer that response heads (and small bodies) are gathered in, the site's own
//! scratch space, and the access-log lines of the responses being written. One set per worker, reused for every connection it drives, so a parked
//! connection keeps only the bytes it could not finish with. Nothing here does I/O or knows
//! HTTP; it only keeps the offsets right.

use crate::http::request::Limits;
use crate::log::Line;
use crate::site::Scratch as SiteScratch;

/// Small responses to pipelined requests are gathered up to this size before one write.
pub(crate) const BATCH: usize = 32 * 1024;

/// Request bytes read from a socket: `pending()` is what has not been consumed yet.
#[derive(Debug)]
pub(crate) struct ReadBuf {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
}

impl ReadBuf {
    /// A buffer of `capacity` bytes: the largest head allowed must fit.
    pub(crate) fn new(capacity: usize) -> ReadBuf {
        ReadBuf {
            buf: vec![0; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Starts over with `bytes` (what a parked connection kept) as the pending bytes. A parked
    /// connection never keeps more than one buffer holds; anything past that is dropped.
    pub(crate) fn load(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len());
        if n > 0 {
            self.buf[..n].copy_from_slice(&bytes[..n]);
        }
        self.start = 0;
        self.end = n;
    }

    /// The bytes not consumed yet.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The bytes not consumed yet, for the parser's in-place minor-version rewrite.
    pub(crate) fn pending_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Whether every byte read has been consumed.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Marks the first `n` pending bytes consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        // `n` is at most what is pending (a step's length), so this cannot overflow.
        self.start = (self.start + n).min(self.end);
    }

    /// Drops every pending byte.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Moves the pending bytes to the front, so that the room after them is as large as it can
    /// be; returns that room, empty when the buffer is full.
    pub(crate) fn spare_mut(&mut self) -> &mut [u8] {
        if self.start == self.end {
            self.clear();
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Marks `n` bytes just read into [`ReadBuf::spare_mut`] as pending.
    pub(crate) fn filled(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// The whole buffer, emptied, for bytes that are read only to be thrown away.
    pub(crate) fn discard_space(&mut self) -> &mut [u8] {
        self.clear();
        &mut self.buf
    }
}

/// Response bytes gathered for the socket: `unsent()` is what has not been written yet.
#[derive(Debug)]
pub(crate) struct WriteBuf {
    bytes: Vec<u8>,
    sent: usize,
}

impl WriteBuf {
    fn new() -> WriteBuf {
        WriteBuf {
            bytes: Vec::with_capacity(BATCH + 4096),
            sent: 0,
        }
    }

    /// Starts over with `bytes` (what a parked connection kept) as the unsent bytes.
    pub(crate) fn load(&mut self, bytes: &[u8]) {
        self.bytes.clear();
        if !bytes.is_empty() {
            self.bytes.extend_from_slice(bytes);
        }
        self.sent = 0;
    }

    /// Where response heads and small bodies are appended.
    pub(crate) fn queue(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Bytes gathered, sent or not: what the batch limit is measured against.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The bytes not written yet.
    pub(crate) fn unsent(&self) -> &[u8] {
        self.bytes.get(self.sent..).unwrap_or_default()
    }

    /// Marks `n` more bytes written; once all are, the buffer starts over.
    pub(crate) fn sent(&mut self, n: usize) {
        self.sent += n;
        if self.sent >= self.bytes.len() {
            self.bytes.clear();
            self.sent = 0;
        }
    }
}

/// A worker's reusable buffers.
#[derive(Debug)]
pub struct Scratch {
    pub(crate) read: ReadBuf,
    pub(crate) out: WriteBuf,
    pub(crate) site: SiteScratch,
    /// Access-log lines of the responses queued in `out`, finished once it is all written.
    pub(crate) lines: Vec<Line>,
    /// Which worker owns these buffers: the block of `--metrics-path` counters it writes.
    pub(crate) worker: usize,
}

impl Scratch {
    /// Buffers sized for `limits` for worker `worker`: the read buffer holds the largest head
    /// allowed.
    pub fn new(limits: &Limits, worker: usize) -> Self {
        Scratch {
            worker,
            read: ReadBuf::new(limits.max_head.max(4096)),
            out: WriteBuf::new(),
            site: SiteScratch::default(),
            lines: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_buffer_keeps_offsets() {
        let mut r = ReadBuf::new(8);
        assert!(r.is_empty());
        r.spare_mut()[..5].copy_from_slice(b"abcde");
        r.filled(5);
        assert_eq!(r.pending(), b"abcde");
        r.consume(2);
        assert_eq!(r.pending(), b"cde");
        // Compacting moves what is pending to the front and offers the rest.
        assert_eq!(r.spare_mut().len(), 5);
        assert_eq!(r.pending(), b"cde");
        r.consume(99);
        assert!(r.is_empty());
        assert_eq!(r.spare_mut().len(), 8);
        r.load(b"0123456789");
        assert_eq!(r.pending(), b"01234567");
        assert!(r.spare_mut().is_empty());
        assert_eq!(r.discard_space().len(), 8);
        assert!(r.is_empty());
    }

    #[test]
    fn write_buffer_starts_over_once_sent() {
        let mut w = WriteBuf::new();
        w.queue().extend_from_slice(b"head");
        w.sent(1);
        assert_eq!(w.unsent(), b"ead");
        assert_eq!(w.len(), 4);
        w.sent(3);
        assert_eq!(w.len(), 0);
        assert!(w.unsent().is_empty());
        w.load(b"kept");
        assert_eq!(w.unsent(), b"kept");
    }
}
