//! One client connection and everything a worker does with it: read, parse every buffered
//! request (pipelining), ask the site, write the response head and send the body with
//! `sendfile`, until the socket would block. [`Conn::drive`] says what it waits for next.
//!
//! A parked connection holds only the bytes it could not finish with (a partial request, an
//! unsent response); the large read and write buffers belong to the worker ([`Scratch`]) and
//! are reused for every connection it drives, so thousands of idle connections cost little.
//! This is the only module that does socket I/O; it must never touch the poller.

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::http::body::Discard;
use crate::http::request::{self, BodyFraming, Limits, Method, Parsed, RequestHead, Version};
use crate::http::response::{HeadWriter, Status};
use crate::log::{AccessLogger, Entry};
use crate::site::{ALLOW, Body, ContentRange, Part, Reply, Scratch as SiteScratch, Site};

/// Small responses to pipelined requests are gathered up to this size before one write.
const BATCH: usize = 32 * 1024;
/// Run-time bodies up to this size are copied into the output buffer and sent with the head.
const INLINE_MAX: usize = 16 * 1024;
/// File bytes sent per turn of a connection on a worker.
const FILE_TURN: u64 = 256 * 1024;
/// Bytes read and thrown away while lingering before the connection is closed anyway.
const LINGER_MAX: usize = 1024 * 1024;

/// What a connection waits for after a worker has driven it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Readability: it needs request bytes.
    Read,
    /// Writability: the socket is full and a response is unfinished.
    Write,
    /// Nothing: close it.
    Close,
}

/// What a parked connection is waiting for, which decides its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// A request head that began (or a connection that was accepted) at `since`.
    Head {
        /// When the head's first byte arrived, or the connection was accepted.
        since: Instant,
    },
    /// Between requests on a keep-alive connection.
    Idle,
    /// More bytes of a request body being discarded, which began at `since`.
    Body {
        /// When the body began.
        since: Instant,
    },
    /// Room in the socket to go on writing.
    Write,
    /// The peer's close after ours, so our last response is not destroyed by a reset.
    Linger {
        /// When lingering began.
        since: Instant,
    },
}

/// What every worker shares: the site, limits, the access log, and the draining flag.
#[derive(Debug)]
pub struct Context {
    /// The site being served.
    pub site: Site,
    /// Request limits.
    pub limits: Limits,
    /// The access log.
    pub log: AccessLogger,
    /// Set once shutdown begins: responses then close their connections.
    pub draining: AtomicBool,
}

/// A worker's reusable buffers.
#[derive(Debug)]
pub struct Scratch {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    out: Vec<u8>,
    sent: usize,
    site: SiteScratch,
}

impl Scratch {
    /// Buffers sized for `limits`: the read buffer holds the largest head allowed.
    pub fn new(limits: &Limits) -> Self {
        Scratch {
            buf: vec![0; limits.max_head.max(4096)].into_boxed_slice(),
            start: 0,
            end: 0,
            out: Vec::with_capacity(BATCH + 4096),
            sent: 0,
            site: SiteScratch::default(),
        }
    }

    fn compact(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }
}

/// A body being sent after the bytes in the output buffer.
#[derive(Debug)]
enum Sending {
    /// File ranges: the current one, then more parts (each with its head), then a tail.
    File {
        fd: OwnedFd,
        offset: u64,
        end: u64,
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

/// What the response head needs to know of the request and the connection.
#[derive(Clone, Copy, Debug)]
struct Exchange<'a> {
    method: Method,
    version: Version,
    keep_alive: bool,
    extra_headers: &'a [u8],
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

/// Sends `buf` without SIGPIPE; `None` when the socket is full.
fn send(stream: &TcpStream, buf: &[u8], more: bool) -> io::Result<Option<usize>> {
    let flags = if more {
        SendFlags::NOSIGNAL | SendFlags::MORE
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

enum Fill {
    Data,
    Eof,
    Blocked,
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Unprocessed request bytes kept while parked.
    input: Vec<u8>,
    /// Unsent response bytes kept while parked.
    output: Vec<u8>,
    sending: Option<Sending>,
    discard: Discard,
    /// When the pending request head began; `None` between requests.
    head_since: Option<Instant>,
    /// When the body being discarded began: the whole body gets one header timeout, so a
    /// client trickling a byte at a time cannot hold the connection.
    body_since: Option<Instant>,
    /// Close once the queued output is written.
    close_after: bool,
    /// On that close, linger first: unread bytes may still arrive or be buffered.
    linger_on_close: bool,
    linger_since: Option<Instant>,
    lingered: usize,
    peer_eof: bool,
}

impl Conn {
    /// Wraps an accepted, non-blocking stream.
    pub fn new(stream: TcpStream, peer: SocketAddr, accepted: Instant) -> Self {
        Conn {
            stream,
            peer,
            input: Vec::new(),
            output: Vec::new(),
            sending: None,
            discard: Discard::Done,
            head_since: Some(accepted),
            body_since: None,
            close_after: false,
            linger_on_close: false,
            linger_since: None,
            lingered: 0,
            peer_eof: false,
        }
    }

    /// The socket, for registration with the poller.
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// What the connection waits for while parked.
    pub fn wait(&self) -> Wait {
        if let Some(since) = self.linger_since {
            Wait::Linger { since }
        } else if !self.output.is_empty() || self.sending.is_some() {
            Wait::Write
        } else if !self.discard.is_done() {
            Wait::Body {
                since: self.body_since.unwrap_or_else(Instant::now),
            }
        } else if let Some(since) = self.head_since {
            Wait::Head { since }
        } else {
            Wait::Idle
        }
    }

    /// Whether part of a request has arrived and is waiting for the rest.
    pub fn mid_request(&self) -> bool {
        !self.input.is_empty() || !self.discard.is_done()
    }

    /// Reads, answers and writes until the socket would block; says what to wait for next.
    pub fn drive(&mut self, s: &mut Scratch, ctx: &Context) -> Next {
        s.start = 0;
        s.end = self.input.len();
        s.buf[..s.end].copy_from_slice(&self.input);
        self.input.clear();
        s.out.clear();
        s.sent = 0;
        s.out.extend_from_slice(&self.output);
        self.output.clear();

        let next = self.run(s, ctx).unwrap_or(Next::Close);
        if next != Next::Close {
            self.input.extend_from_slice(&s.buf[s.start..s.end]);
            self.output.extend_from_slice(&s.out[s.sent..]);
        }
        next
    }

    fn run(&mut self, s: &mut Scratch, ctx: &Context) -> io::Result<Next> {
        if self.linger_since.is_some() {
            return self.linger(s);
        }
        let mut answered = false;
        loop {
            // Answer every complete request already buffered, gathering small responses.
            let mut need_input = false;
            while self.sending.is_none() && s.out.len() < BATCH && !self.close_after {
                if !self.discard.is_done() {
                    let n = self
                        .discard
                        .consume(&s.buf[s.start..s.end], ctx.limits.max_body)
                        .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
                    s.start += n;
                    if !self.discard.is_done() {
                        need_input = true;
                        break;
                    }
                }
                if s.start == s.end || !self.answer(s, ctx) {
                    need_input = true;
                    break;
                }
                answered = true;
            }
            if !self.flush(s)? {
                return Ok(Next::Write);
            }
            if self.close_after {
                return self.close(s, ctx.draining.load(Ordering::Relaxed));
            }
            if !need_input {
                continue;
            }
            // Skip the read that would almost surely find nothing: after a response the
            // client has not seen it yet. Level-triggered re-arming reports bytes that did
            // arrive in between.
            if answered && s.start == s.end && self.discard.is_done() && !self.peer_eof {
                return Ok(Next::Read);
            }
            if self.peer_eof {
                return Ok(Next::Close);
            }
            match self.fill(s)? {
                Fill::Data => {}
                Fill::Eof => self.peer_eof = true,
                Fill::Blocked => return Ok(Next::Read),
            }
        }
    }

    /// Parses and answers one request at `s.start`; false if it is still incomplete.
    fn answer(&mut self, s: &mut Scratch, ctx: &Context) -> bool {
        let limits = &ctx.limits;
        let parsed = match request::parse(&s.buf[s.start..s.end], limits) {
            Err(e) => {
                if request::normalize_minor_version(&mut s.buf[s.start..s.end]) {
                    request::parse(&s.buf[s.start..s.end], limits)
                } else {
                    Err(e)
                }
            }
            other => other,
        };
        match parsed {
            Ok(Parsed::Partial) => {
                s.compact();
                false
            }
            Ok(Parsed::Complete { head, len }) => {
                let draining = ctx.draining.load(Ordering::Relaxed);
                // A client waiting for 100 Continue may or may not send its body after our
                // final answer (RFC 9110 §10.1.1): closing is the only framing-safe choice.
                let keep_alive = head.keep_alive
                    && !draining
                    && !(head.expect_continue && head.body != BodyFraming::None);
                let reply = ctx.site.respond(&head, &mut s.site, draining);
                let status = reply.status;
                let exchange = Exchange {
                    method: head.method,
                    version: head.version,
                    keep_alive,
                    extra_headers: ctx.site.extra_headers(),
                };
                let bytes = self.queue(&mut s.out, reply, exchange);
                log(ctx, self.peer, Some(&head), status, bytes);
                self.discard = Discard::new(head.body);
                self.body_since = (!self.discard.is_done()).then(Instant::now);
                s.start += len;
                self.head_since = (s.start < s.end).then(Instant::now);
                if !keep_alive {
                    self.close_after = true;
                    self.linger_on_close = head.expect_continue || s.start < s.end;
                }
                true
            }
            Err(e) => {
                let exchange = Exchange {
                    method: Method::Get,
                    version: Version::Http11,
                    keep_alive: false,
                    extra_headers: ctx.site.extra_headers(),
                };
                let bytes = self.queue(&mut s.out, Reply::page(e.status()), exchange);
                log(ctx, self.peer, None, e.status(), bytes);
                // RFC 9112 §9.6: after an error the framing of what follows is unknown, so the
                // connection ends; what the client still sends is read and dropped.
                s.start = s.end;
                self.close_after = true;
                self.linger_on_close = true;
                true
            }
        }
    }

    /// Appends the response head (and a small body) to `out`, or sets up the body to be sent
    /// after it; returns the body bytes to be sent.
    fn queue(&mut self, out: &mut Vec<u8>, reply: Reply<'_>, exchange: Exchange<'_>) -> u64 {
        let status = reply.status;
        let mut w = HeadWriter::new(out, status);
        match (&reply.boundary, reply.content_type) {
            (Some(boundary), _) => {
                w.header(b"Content-Type", b"multipart/byteranges; boundary=");
                w.continue_value(boundary.as_bytes());
            }
            (None, Some(ct)) => {
                w.content_type(ct.essence, ct.utf8);
            }
            (None, None) => {}
        }
        // RFC 9110 §8.6: no Content-Length in 204 or 304. HEAD carries GET's length (§9.3.2).
        if status.allows_body() {
            w.content_length(reply.body.len());
        }
        if let Some(coding) = reply.encoding {
            w.header(b"Content-Encoding", coding.token().as_bytes());
        }
        match reply.content_range {
            Some(ContentRange::Bytes(r, len)) => w.content_range(Some((r.start, r.end)), len),
            Some(ContentRange::Unsatisfied(len)) => w.content_range(None, len),
            None => &mut w,
        };
        if reply.accept_ranges {
            w.header(b"Accept-Ranges", b"bytes");
        }
        if let Some((etag, last_modified)) = &reply.validators {
            w.header(b"ETag", etag.as_bytes());
            // RFC 9110 §15.4.5: a 304 has the ETag, so Last-Modified adds nothing.
            if status != Status::NotModified {
                w.http_date(b"Last-Modified", *last_modified);
            }
        }
        if let Some(cc) = reply.cache_control {
            w.header(b"Cache-Control", cc.as_bytes());
        }
        if reply.vary {
            w.header(b"Vary", b"Accept-Encoding");
        }
        if let Some(location) = &reply.location {
            w.header(b"Location", location.as_bytes());
        }
        if reply.allow {
            w.header(b"Allow", ALLOW);
        }
        w.raw(exchange.extra_headers);
        if !exchange.keep_alive {
            w.header(b"Connection", b"close");
        } else if exchange.version == Version::Http10 {
            w.header(b"Connection", b"keep-alive");
        }
        w.finish();
        if exchange.method == Method::Head || !status.allows_body() {
            return 0;
        }
        let len = reply.body.len();
        match reply.body {
            Body::Empty => {}
            Body::Static(bytes) => out.extend_from_slice(bytes),
            Body::Shared { bytes, start, end } if end - start <= INLINE_MAX => {
                out.extend_from_slice(&bytes[start..end]);
            }
            Body::Shared { bytes, start, end } => {
                self.sending = Some(Sending::Shared {
                    bytes,
                    pos: start,
                    end,
                });
            }
            Body::File { fd, start, len } => {
                if len > 0 {
                    self.sending = Some(Sending::File {
                        fd,
                        offset: start,
                        end: start + len,
                        parts: Vec::new(),
                        tail: Vec::new(),
                    });
                }
            }
            Body::Parts {
                fd,
                mut parts,
                tail,
            } => {
                // Kept in reverse so each next part is a cheap pop.
                parts.reverse();
                if let Some(first) = parts.pop() {
                    out.extend_from_slice(&first.head);
                    self.sending = Some(Sending::File {
                        fd,
                        offset: first.start,
                        end: first.end,
                        parts,
                        tail,
                    });
                }
            }
        }
        len
    }

    /// Writes queued bytes, then the body being sent; false if the socket filled first.
    fn flush(&mut self, s: &mut Scratch) -> io::Result<bool> {
        // Head and an in-memory body leave in one sendmsg.
        if let Some(Sending::Shared { bytes, pos, end }) = &mut self.sending {
            while s.sent < s.out.len() {
                let head = s.out.get(s.sent..).unwrap_or_default();
                let body = bytes.get(*pos..*end).unwrap_or_default();
                match send_pair(&self.stream, head, body)? {
                    Some(n) => {
                        let in_head = n.min(head.len());
                        s.sent += in_head;
                        *pos += n - in_head;
                    }
                    None => return Ok(false),
                }
            }
        }
        let mut turn = FILE_TURN;
        loop {
            while s.sent < s.out.len() {
                // MSG_MORE: let the kernel put the head in the same segment as the body's start.
                let more = self.sending.is_some();
                match send(&self.stream, &s.out[s.sent..], more)? {
                    Some(n) => s.sent += n,
                    None => return Ok(false),
                }
            }
            s.out.clear();
            s.sent = 0;
            let Some(sending) = &mut self.sending else {
                return Ok(true);
            };
            match sending {
                Sending::Shared { bytes, pos, end } => {
                    while *pos < *end {
                        match send(&self.stream, &bytes[*pos..*end], false)? {
                            Some(n) => *pos += n,
                            None => return Ok(false),
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
                            return Ok(false);
                        }
                        let count = (*end - *offset).min(turn) as usize;
                        match rustix::fs::sendfile(&self.stream, &*fd, Some(offset), count) {
                            // The file shrank after its length was sent: the response cannot
                            // be completed, and only closing tells the client so.
                            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                            Ok(n) => turn = turn.saturating_sub(n as u64),
                            Err(Errno::AGAIN) => return Ok(false),
                            Err(Errno::INTR) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    if let Some(part) = parts.pop() {
                        s.out.extend_from_slice(&part.head);
                        *offset = part.start;
                        *end = part.end;
                        continue;
                    }
                    s.out.append(tail);
                }
            }
            self.sending = None;
        }
    }

    /// Ends the connection after the last response: at once, or after lingering.
    fn close(&mut self, s: &mut Scratch, draining: bool) -> io::Result<Next> {
        let unsent = draining && self.has_unsent();
        if !self.linger_on_close && !unsent && s.start == s.end && self.discard.is_done() {
            return Ok(Next::Close);
        }
        // Closing with unread bytes makes the kernel send a reset, which can destroy the
        // response the client has not read yet: half-close, then drain until the peer closes.
        // While draining, also when the socket still holds bytes the peer has not
        // acknowledged: the process is about to exit, and in a container its network
        // namespace goes with it, dropping them; the peer's close says it has everything.
        self.begin_linger()?;
        self.linger(s)
    }

    /// Whether the socket still holds bytes the peer has not acknowledged (where the system
    /// cannot say, it assumes so).
    pub fn has_unsent(&self) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let mut queued: libc::c_int = 0;
            // SAFETY: TIOCOUTQ on a TCP socket writes one c_int, the bytes not yet
            // acknowledged; `queued` is that c_int and the descriptor is ours and open.
            let rc = unsafe { libc::ioctl(self.stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
            rc != 0 || queued > 0
        }
        #[cfg(not(target_os = "linux"))]
        {
            true
        }
    }

    /// Half-closes the connection (a FIN after what is queued) and waits for the peer's close.
    pub fn begin_linger(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)?;
        self.linger_since = Some(Instant::now());
        Ok(())
    }

    fn linger(&mut self, s: &mut Scratch) -> io::Result<Next> {
        s.start = 0;
        s.end = 0;
        loop {
            match (&self.stream).read(&mut s.buf) {
                Ok(0) => return Ok(Next::Close),
                Ok(n) => {
                    self.lingered += n;
                    if self.lingered > LINGER_MAX {
                        return Ok(Next::Close);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Read),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn fill(&mut self, s: &mut Scratch) -> io::Result<Fill> {
        s.compact();
        if s.end == s.buf.len() {
            // Only a head larger than the limit fills the buffer, and the parser refuses that.
            return Err(io::ErrorKind::InvalidData.into());
        }
        loop {
            match (&self.stream).read(&mut s.buf[s.end..]) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    if s.start == s.end && self.discard.is_done() && self.head_since.is_none() {
                        self.head_since = Some(Instant::now());
                    }
                    s.end += n;
                    return Ok(Fill::Data);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn log(
    ctx: &Context,
    peer: SocketAddr,
    head: Option<&RequestHead<'_>>,
    status: Status,
    bytes: u64,
) {
    if !ctx.log.enabled() {
        return;
    }
    ctx.log.record(&Entry {
        peer: peer.ip(),
        method: head.map_or("-", |h| h.method_str),
        target: head.map_or("-", |h| h.target),
        version: head.map_or("-", |h| h.version.as_str()),
        status: status.code(),
        bytes,
        referer: head.and_then(|h| h.fields.referer),
        user_agent: head.and_then(|h| h.fields.user_agent),
    });
}
