//! Body transport: the plan for a response's body (copied behind its head when small, else sent
//! after it from shared bytes or from the file with `sendfile`), and [`flush`], which writes the
//! gathered heads and then the body until the socket is full. File bytes go out at most
//! [`FILE_TURN`] per turn, and after a turn the worker is yielded if another connection waits
//! for one, so one large download cannot hold a worker from others. It decides nothing about
//! HTTP; it only moves bytes that were planned.

use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;

use rustix::io::Errno;
use rustix::net::SendFlags;

use super::scratch::WriteBuf;
use crate::site::{Body, OpenFile, Part};

/// Run-time bodies up to this size are copied into the output buffer and sent with the head;
/// larger ones leave beside the head in one `sendmsg` without the copy. At 16 KiB the copy of
/// memory-cached files was 12 % of the instructions of bench/run.sh's site mix (row f); at 2 KiB
/// that row took 11 % fewer instructions per request under callgrind and 13 % less CPU pinned,
/// and a 100 B body (row a) is still copied and sent whole with its head.
const INLINE_MAX: usize = 2 * 1024;
/// File bytes sent per turn of a connection on a worker (and at most per `sendfile` call).
const FILE_TURN: u64 = 256 * 1024;

/// MSG_MORE: hold a head back to share a segment with the body after it. Linux only; elsewhere
/// the head goes in a segment of its own.
#[cfg(target_os = "linux")]
const MORE: SendFlags = SendFlags::MORE;
#[cfg(not(target_os = "linux"))]
const MORE: SendFlags = SendFlags::empty();

/// A body being sent after the bytes in the output buffer.
#[derive(Debug)]
pub(crate) enum Sending {
    /// File ranges: the current one, then more parts (each with its head), then a tail.
    File {
        fd: OpenFile,
        offset: u64,
        end: u64,
        /// Kept in reverse, so that each next part is a cheap pop.
        parts: Vec<Part>,
        tail: Vec<u8>,
    },
    /// Bytes made at run time, too large to copy into the output buffer.
    Shared {
        bytes: Arc<[u8]>,
        pos: usize,
        end: usize,
    },
}

impl Sending {
    /// The bytes of the body still to be sent.
    pub(crate) fn remaining(&self) -> u64 {
        match self {
            Sending::File {
                offset,
                end,
                parts,
                tail,
                ..
            } => {
                let parts: u64 = parts
                    .iter()
                    .map(|p| p.head.len() as u64 + (p.end - p.start))
                    .sum();
                (end - offset) + parts + tail.len() as u64
            }
            Sending::Shared { pos, end, .. } => (end - pos) as u64,
        }
    }
}

/// Appends a small body to `out` behind its head, or returns how the rest is to be sent.
pub(crate) fn plan(out: &mut Vec<u8>, body: Body) -> Option<Sending> {
    match body {
        Body::Empty => None,
        Body::Static(bytes) => {
            out.extend_from_slice(bytes);
            None
        }
        Body::Shared { bytes, start, end } if end - start <= INLINE_MAX => {
            out.extend_from_slice(&bytes[start..end]);
            None
        }
        Body::Shared { bytes, start, end } => Some(Sending::Shared {
            bytes,
            pos: start,
            end,
        }),
        Body::File { fd, start, len } => (len > 0).then(|| Sending::File {
            fd,
            offset: start,
            end: start + len,
            parts: Vec::new(),
            tail: Vec::new(),
        }),
        Body::Parts {
            fd,
            mut parts,
            tail,
        } => {
            parts.reverse();
            let first = parts.pop()?;
            out.extend_from_slice(&first.head);
            Some(Sending::File {
                fd,
                offset: first.start,
                end: first.end,
                parts,
                tail,
            })
        }
    }
}

/// How far [`flush`] got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flushed {
    /// Everything queued went to the kernel.
    All,
    /// The socket filled: a writable edge comes when it has room again.
    Full,
    /// A file's turn ended while others wait for a worker; the socket may still have room, so
    /// no edge will come for it.
    Yielded,
}

/// Writes the gathered bytes, then the body being sent, until all is sent, the socket fills,
/// or a turn ends while `others_wait`. An error means the response cannot be completed: the
/// connection closes.
pub(crate) fn flush(
    stream: &TcpStream,
    out: &mut WriteBuf,
    sending: &mut Option<Sending>,
    others_wait: &impl Fn() -> bool,
) -> io::Result<Flushed> {
    // A head and a shared body leave in one sendmsg: the one case where both are in memory
    // and a second send would cost a second segment.
    if let Some(Sending::Shared { bytes, pos, end }) = sending {
        while !out.unsent().is_empty() {
            let head = out.unsent();
            let body = bytes.get(*pos..*end).unwrap_or_default();
            match send_pair(stream, head, body)? {
                Some(n) => {
                    let in_head = n.min(head.len());
                    out.sent(in_head);
                    *pos += n - in_head;
                }
                None => return Ok(Flushed::Full),
            }
        }
    }
    let mut turn = FILE_TURN;
    loop {
        while !out.unsent().is_empty() {
            // MSG_MORE: let the kernel put the head in the same segment as the body's start.
            match send(stream, out.unsent(), sending.is_some())? {
                Some(n) => out.sent(n),
                None => return Ok(Flushed::Full),
            }
        }
        let Some(body) = sending else {
            return Ok(Flushed::All);
        };
        match body {
            Sending::Shared { bytes, pos, end } => {
                while *pos < *end {
                    match send(stream, &bytes[*pos..*end], false)? {
                        Some(n) => *pos += n,
                        None => return Ok(Flushed::Full),
                    }
                }
            }
            Sending::File {
                fd,
                offset,
                end,
                parts,
                tail,
            } => {
                while *offset < *end {
                    if turn == 0 {
                        // Nobody waits for a worker: another turn costs less than the reactor
                        // pass and hand-off that yielding would.
                        if others_wait() {
                            return Ok(Flushed::Yielded);
                        }
                        turn = FILE_TURN;
                    }
                    let count = (*end - *offset).min(turn) as usize;
                    match send_file(stream, &*fd, offset, count) {
                        // The file shrank after its length was sent: the response cannot be
                        // completed, and only closing tells the client so.
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => turn = turn.saturating_sub(n as u64),
                        Err(Errno::AGAIN) => return Ok(Flushed::Full),
                        Err(Errno::INTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                if let Some(part) = parts.pop() {
                    out.queue().extend_from_slice(&part.head);
                    *offset = part.start;
                    *end = part.end;
                    continue;
                }
                out.queue().append(tail);
            }
        }
        *sending = None;
    }
}

/// Sends `head` then `body` in one call, without SIGPIPE; `None` when the socket is full.
fn send_pair(stream: &TcpStream, head: &[u8], body: &[u8]) -> io::Result<Option<usize>> {
    let iov = [io::IoSlice::new(head), io::IoSlice::new(body)];
    loop {
        let mut control = rustix::net::SendAncillaryBuffer::default();
        match rustix::net::sendmsg(stream, &iov, &mut control, SendFlags::NOSIGNAL) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::AGAIN) => return Ok(None),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends `buf` without SIGPIPE; `None` when the socket is full. `more`: a body follows, so the
/// kernel may hold this back to fill a segment (MSG_MORE).
fn send(stream: &TcpStream, buf: &[u8], more: bool) -> io::Result<Option<usize>> {
    let flags = if more {
        SendFlags::NOSIGNAL | MORE
    } else {
        SendFlags::NOSIGNAL
    };
    loop {
        match rustix::net::send(stream, buf, flags) {
            Ok(n) => return Ok(Some(n)),
            Err(Errno::AGAIN) => return Ok(None),
            Err(Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends up to `count` bytes of `file` from `offset` with `sendfile`, advancing `offset` by what
/// the socket took.
#[cfg(target_os = "linux")]
fn send_file(
    stream: &TcpStream,
    file: impl AsFd,
    offset: &mut u64,
    count: usize,
) -> Result<usize, Errno> {
    rustix::fs::sendfile(stream, file, Some(offset), count)
}

/// Elsewhere rustix has no `sendfile`: a piece is read into a buffer on the stack and sent, one
/// copy through user space (compiled for FreeBSD in CI, not measured; Linux is the supported
/// platform). Only what the socket took counts; the rest is read again on the next call.
#[cfg(not(target_os = "linux"))]
fn send_file(
    stream: &TcpStream,
    file: impl AsFd,
    offset: &mut u64,
    count: usize,
) -> Result<usize, Errno> {
    let mut buf = [0u8; 16 * 1024];
    let want = count.min(buf.len());
    let read = rustix::io::pread(file, &mut buf[..want], *offset)?;
    if read == 0 {
        return Ok(0);
    }
    let sent = rustix::net::send(stream, &buf[..read], SendFlags::NOSIGNAL)?;
    *offset += sent as u64;
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bodies_go_behind_the_head_and_large_ones_after_it() {
        let mut out = b"HEAD".to_vec();
        assert!(plan(&mut out, Body::Static(b"abc")).is_none());
        assert_eq!(out, b"HEADabc");
        let small: Arc<[u8]> = vec![7u8; INLINE_MAX].into();
        let mut out = Vec::new();
        let body = Body::Shared {
            bytes: small.clone(),
            start: 0,
            end: INLINE_MAX,
        };
        assert!(plan(&mut out, body).is_none());
        assert_eq!(out.len(), INLINE_MAX);
        let large: Arc<[u8]> = vec![7u8; INLINE_MAX + 1].into();
        let mut out = Vec::new();
        let body = Body::Shared {
            bytes: large,
            start: 0,
            end: INLINE_MAX + 1,
        };
        assert!(matches!(
            plan(&mut out, body),
            Some(Sending::Shared { pos: 0, end, .. }) if end == INLINE_MAX + 1
        ));
        assert!(out.is_empty());
        assert!(plan(&mut out, Body::Empty).is_none());
    }
}
