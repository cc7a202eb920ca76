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
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rustix::io::Errno;
use rustix::net::SendFlags;

use crate::http::body::Discard;
use crate::http::request::{self, BodyFraming, Limits, Method, Parsed, RequestHead, Version};
use crate::http::response::{HeadWriter, Status};
use crate::log::{AccessLogger, Entry};
use crate::site::{ALLOW, Body, Reply, Site};

/// Small responses to pipelined requests are gathered up to this size before one write.
const BATCH: usize = 32 * 1024;
/// Largest count handed to one `sendfile` call.
const SENDFILE_MAX: u64 = 1 << 30;
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
    /// More bytes of a request body being discarded.
    Body,
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
    path: Vec<u8>,
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
            path: Vec::with_capacity(256),
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

/// A file body being sent.
#[derive(Debug)]
struct FileSend {
    fd: OwnedFd,
    offset: u64,
    end: u64,
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
    file: Option<FileSend>,
    discard: Discard,
    /// When the pending request head began; `None` between requests.
    head_since: Option<Instant>,
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
            file: None,
            discard: Discard::Done,
            head_since: Some(accepted),
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
        } else if !self.output.is_empty() || self.file.is_some() {
            Wait::Write
        } else if !self.discard.is_done() {
            Wait::Body
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
            while self.file.is_none() && s.out.len() < BATCH && !self.close_after {
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
                return self.close(s);
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
                let reply = ctx.site.respond(&head, &mut s.path);
                let status = reply.status;
                let bytes = self.queue(&mut s.out, reply, head.method, head.version, keep_alive);
                log(ctx, self.peer, Some(&head), status, bytes);
                self.discard = Discard::new(head.body);
                s.start += len;
                self.head_since = (s.start < s.end).then(Instant::now);
                if !keep_alive {
                    self.close_after = true;
                    self.linger_on_close = head.expect_continue || s.start < s.end;
                }
                true
            }
            Err(e) => {
                let bytes = self.queue(
                    &mut s.out,
                    Reply::page(e.status()),
                    Method::Get,
                    Version::Http11,
                    false,
                );
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

    /// Appends the response head (and a static body) to `out`, or sets up the file body;
    /// returns the body bytes to be sent.
    fn queue(
        &mut self,
        out: &mut Vec<u8>,
        reply: Reply,
        method: Method,
        version: Version,
        keep_alive: bool,
    ) -> u64 {
        let mut w = HeadWriter::new(out, reply.status);
        if let Some(ct) = reply.content_type {
            w.content_type(ct.essence, ct.utf8);
        }
        // RFC 9110 §8.6: no Content-Length in a 204. HEAD carries GET's length (§9.3.2).
        if reply.status.allows_body() {
            w.content_length(reply.body.len());
        }
        if let Some(location) = &reply.location {
            w.header(b"Location", location.as_bytes());
        }
        if reply.allow {
            w.header(b"Allow", ALLOW);
        }
        if !keep_alive {
            w.header(b"Connection", b"close");
        } else if version == Version::Http10 {
            w.header(b"Connection", b"keep-alive");
        }
        w.finish();
        if method == Method::Head || !reply.status.allows_body() {
            return 0;
        }
        match reply.body {
            Body::Empty => 0,
            Body::Static(bytes) => {
                out.extend_from_slice(bytes);
                bytes.len() as u64
            }
            Body::File { fd, len } => {
                if len > 0 {
                    self.file = Some(FileSend {
                        fd,
                        offset: 0,
                        end: len,
                    });
                }
                len
            }
        }
    }

    /// Writes queued bytes, then the file body; false if the socket filled first.
    fn flush(&mut self, s: &mut Scratch) -> io::Result<bool> {
        while s.sent < s.out.len() {
            // MSG_MORE: let the kernel put the head in the same segment as the file's start.
            let flags = if self.file.is_some() {
                SendFlags::NOSIGNAL | SendFlags::MORE
            } else {
                SendFlags::NOSIGNAL
            };
            match rustix::net::send(&self.stream, &s.out[s.sent..], flags) {
                Ok(n) => s.sent += n,
                Err(Errno::AGAIN) => return Ok(false),
                Err(Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
        s.out.clear();
        s.sent = 0;
        if let Some(f) = &mut self.file {
            while f.offset < f.end {
                let count = (f.end - f.offset).min(SENDFILE_MAX) as usize;
                match rustix::fs::sendfile(&self.stream, &f.fd, Some(&mut f.offset), count) {
                    // The file shrank after its length was sent: the response cannot be
                    // completed, and only closing tells the client so.
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(_) => {}
                    Err(Errno::AGAIN) => return Ok(false),
                    Err(Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            self.file = None;
        }
        Ok(true)
    }

    /// Ends the connection after the last response: at once, or after lingering.
    fn close(&mut self, s: &mut Scratch) -> io::Result<Next> {
        if !self.linger_on_close && s.start == s.end && self.discard.is_done() {
            return Ok(Next::Close);
        }
        // Closing with unread bytes makes the kernel send a reset, which can destroy the
        // response the client has not read yet: half-close, then drain until the peer closes.
        self.stream.shutdown(Shutdown::Write)?;
        self.linger_since = Some(Instant::now());
        self.linger(s)
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
