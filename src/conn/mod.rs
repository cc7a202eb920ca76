//! One client connection and the loop a worker runs on it: read into the worker's buffer, let
//! the [`Framer`] find each request (pipelining, bodies, keep-alive), ask the site, write the
//! head ([`head`]) and send the body ([`send`]), until the socket would block; then say what the
//! connection waits for next. The connection's place in its request stream is one [`Phase`],
//! replaced whole. It is also the one place that decides how a connection ends: at once, or
//! half-closed and lingering until the peer's close ([`Conn::end`]).
//!
//! With `--proxy-protocol`, a connection starts in [`Phase::Preface`]: the PROXY header must
//! arrive whole within the header timeout (the first request's head shares that timeout), and
//! a connection whose first bytes cannot be one is closed unanswered. Its source is then the
//! connection's client address, beside the TCP peer. Each response's access-log line is
//! finished when the last byte of the batch it went out in was handed to the kernel (for a
//! `sendfile` body: the last byte of the file), or when the connection ends before that.
//!
//! A parked connection holds only the bytes it could not finish with (a partial request, an
//! unsent response); the large buffers belong to the worker ([`Scratch`]). This folder is the
//! only place that reads, writes or shuts down a connection's socket; it must never touch the
//! poller.

mod head;
mod scratch;
mod send;

use std::io::{self, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::http::forwarded;
use crate::http::framing::{Framer, Rules, Step};
use crate::http::proxy_protocol::{self, Parsed};
use crate::http::request::{BodyFraming, Method, Version};
use crate::http::response::Status;
use crate::log::{AccessLogger, Addrs, Line, Size};
use crate::readiness::Registration;
use crate::site::{Reply, Site};
use crate::worker::Context;
use head::{Exchange, write_head};
pub use scratch::Scratch;
use scratch::{BATCH, WriteBuf};
use send::{Flushed, Sending};

/// Bytes read and thrown away while lingering before the connection is closed anyway.
const LINGER_MAX: usize = 1024 * 1024;

/// How soon a request whose credentials another request is verifying is asked again: a
/// verification takes tens of milliseconds, and each asking costs a parse and a lookup.
const ASK_AGAIN: Duration = Duration::from_millis(20);
/// How long such a request is asked again before it gets the 503 it would have had.
const ASK_LIMIT: Duration = Duration::from_secs(3);

/// What a new connection needs to know of the listener it came from.
#[derive(Clone, Copy, Debug)]
pub struct Listening {
    /// Connections begin with a PROXY protocol header (`--proxy-protocol`).
    pub proxy_protocol: bool,
    /// How long the kernel holds a connection that sends nothing before `accept` returns it
    /// (`TCP_DEFER_ACCEPT`); zero when it does not.
    pub deferred: Duration,
}

/// What a connection waits for after a worker has driven it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Readability: it needs request bytes (or, lingering, the peer's close).
    Read,
    /// Writability: the socket is full and a response is unfinished.
    Write,
    /// Nothing from the socket: it holds an answer back until its deadline
    /// (`--auth-failure-delay`), which then drives it again.
    Hold,
    /// Nothing from the socket: a file's turn or a batch of pipelined answers ended while other
    /// connections wait for a worker, and it goes on after them.
    Yield,
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
    /// The end of an answer's hold, when it is sent.
    Held {
        /// When the hold ends.
        until: Instant,
    },
    /// The peer's close after ours, so our last response is not destroyed by a reset.
    Linger {
        /// When lingering began.
        since: Instant,
    },
}

/// Where the connection stands; the write side (`output`, `sending`) is orthogonal to it.
#[derive(Debug)]
enum Phase {
    /// Waiting for the PROXY protocol header, on a connection accepted at `since`.
    Preface {
        /// When the connection was accepted; the first head's timeout runs from here too.
        since: Instant,
    },
    /// Reading requests: the framer knows whether a head, a body or nothing more is expected.
    Framing(Framer),
    /// Half-closed after the last response; reading and dropping until the peer's FIN,
    /// [`LINGER_MAX`] bytes, or the linger deadline.
    Lingering {
        /// When the half-close was sent.
        since: Instant,
        /// Bytes dropped so far.
        read: usize,
    },
}

enum Fill {
    /// Bytes came; `short` if fewer than there was room for, so the socket held no more.
    Data {
        short: bool,
    },
    Eof,
    Blocked,
}

/// One client connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// The peer, or the source a PROXY protocol header named: the hop forwarding headers are
    /// judged from, and the client when they are not believed.
    client: SocketAddr,
    /// Access-log lines of responses still being written while parked.
    lines: Vec<Line>,
    /// Unprocessed request bytes kept while parked.
    input: Vec<u8>,
    /// Unsent response bytes kept while parked.
    output: Vec<u8>,
    sending: Option<Sending>,
    /// Set when a refused password's answer was queued: until then nothing more is answered
    /// and nothing is sent.
    held: Option<Instant>,
    /// When the request first in the input began waiting on another request's verification of
    /// its credentials (`Site::pending`); it is held unanswered and asked again meanwhile.
    asking_since: Option<Instant>,
    /// The listener's deferral, until the first read: if that finds nothing, the kernel held
    /// the connection this long already, and its first head's timeout counts that time.
    deferred: Duration,
    phase: Phase,
    peer_eof: bool,
    /// What the socket is registered in the poller for; only the worker holding the connection
    /// changes it.
    registration: Registration,
}

impl Conn {
    /// Wraps an accepted, non-blocking stream; with `proxy_protocol`, its first bytes must be a
    /// PROXY protocol header.
    pub fn new(
        stream: TcpStream,
        peer: SocketAddr,
        accepted: Instant,
        listening: Listening,
    ) -> Self {
        Conn {
            stream,
            peer,
            client: peer,
            lines: Vec::new(),
            input: Vec::new(),
            output: Vec::new(),
            sending: None,
            held: None,
            asking_since: None,
            deferred: listening.deferred,
            phase: if listening.proxy_protocol {
                Phase::Preface { since: accepted }
            } else {
                Phase::Framing(Framer::accepted(accepted))
            },
            peer_eof: false,
            registration: Registration::None,
        }
    }

    /// The socket, and what it is registered in the poller for, to change that.
    pub(crate) fn registration(&mut self) -> (&mut Registration, &TcpStream) {
        (&mut self.registration, &self.stream)
    }

    /// What the connection waits for while parked.
    pub fn wait(&self) -> Wait {
        if let Some(until) = self.held {
            return Wait::Held { until };
        }
        match self.phase {
            Phase::Lingering { since, .. } => Wait::Linger { since },
            Phase::Preface { since } => Wait::Head { since },
            _ if !self.output.is_empty() || self.sending.is_some() => Wait::Write,
            Phase::Framing(Framer::Body { since, .. }) => Wait::Body { since },
            Phase::Framing(Framer::Head { since: Some(since) }) => Wait::Head { since },
            Phase::Framing(Framer::Head { since: None }) => Wait::Idle,
            // Parked only while its last response is unsent, which the arm above catches.
            Phase::Framing(Framer::Done { .. }) => Wait::Write,
        }
    }

    /// Whether part of a request has arrived and is waiting for the rest.
    pub fn mid_request(&self) -> bool {
        !self.input.is_empty() || matches!(self.phase, Phase::Framing(Framer::Body { .. }))
    }

    /// Reads, answers from `site` and writes until the socket would block; says what to wait
    /// for next. It waits for readability only after a read in this drive found the socket
    /// empty, and for writability only after a send found it full: its registration is
    /// edge-triggered (`crate::readiness`), so no edge comes for bytes that were there already.
    /// Every request of the drive is answered from the one `site`, so a batch never mixes two
    /// trees; a response still being sent owns its descriptors, so it finishes from the
    /// tree it began in whatever site the next drive gets.
    /// `others_wait` says whether another connection is queued for a worker: a large body
    /// yields the worker after each turn, and a pipelining client after each batch, only then.
    pub fn drive(
        &mut self,
        s: &mut Scratch,
        ctx: &Context,
        site: &Site,
        others_wait: impl Fn() -> bool,
    ) -> Next {
        self.load(s);
        let next = self.run(s, ctx, site, others_wait).unwrap_or(Next::Close);
        self.park(s, next, &ctx.log)
    }

    /// Ends a connection whose deadline passed. While draining, one whose last response is
    /// written but may not have reached the peer (the socket still holds it) is half-closed and
    /// lingers instead: the process is about to exit, and in a container its network namespace
    /// goes with it, dropping those bytes; the peer's close says it has everything.
    pub fn end(&mut self, s: &mut Scratch, ctx: &Context) -> Next {
        // Between requests, with nothing of ours left to write: only the kernel may still hold
        // the last response.
        let delivered_here =
            matches!(self.wait(), Wait::Idle | Wait::Head { .. }) && !self.mid_request();
        if !(ctx.draining.is_set() && delivered_here && has_unsent(&self.stream)) {
            // A write that timed out: its lines say how long it was given, and how far it got.
            self.abandon(&ctx.log);
            return Next::Close;
        }
        // Resets the worker's buffers to this connection's (empty) bytes, so parking it below
        // cannot pick up what another connection left there.
        self.load(s);
        let next = self.begin_linger().and_then(|()| self.linger(s));
        self.park(s, next.unwrap_or(Next::Close), &ctx.log)
    }

    /// Logs the responses of a connection that ends before they were all written (a send
    /// timeout, or the reactor closing it at the drain deadline), each with the body bytes that
    /// left. Touches no socket.
    pub fn abandon(&mut self, log: &AccessLogger) {
        let unsent = unsent(&self.output, self.sending.as_ref());
        finish_lines(&mut self.lines, log, unsent);
    }

    #[inline]
    fn load(&mut self, s: &mut Scratch) {
        s.read.load(&self.input);
        self.input.clear();
        s.out.load(&self.output);
        self.output.clear();
        s.lines.clear();
        if !self.lines.is_empty() {
            s.lines.append(&mut self.lines);
        }
    }

    #[inline]
    fn park(&mut self, s: &mut Scratch, next: Next, log: &AccessLogger) -> Next {
        if next == Next::Close {
            // Ended before its responses were all written: log them as far as they got.
            let unsent = unsent(s.out.unsent(), self.sending.as_ref());
            finish_lines(&mut s.lines, log, unsent);
        } else if !s.lines.is_empty() {
            self.lines.append(&mut s.lines);
        }
        // Usually both are empty: a keep-alive connection between requests keeps nothing.
        if next != Next::Close {
            if !s.read.is_empty() {
                self.input.extend_from_slice(s.read.pending());
            }
            if !s.out.unsent().is_empty() {
                self.output.extend_from_slice(s.out.unsent());
            }
        }
        next
    }

    fn run(
        &mut self,
        s: &mut Scratch,
        ctx: &Context,
        site: &Site,
        others_wait: impl Fn() -> bool,
    ) -> io::Result<Next> {
        match self.phase {
            Phase::Lingering { .. } => return self.linger(s),
            Phase::Preface { since } => {
                if let Some(next) = self.preface(s, since)? {
                    return Ok(next);
                }
            }
            Phase::Framing(_) => {}
        }
        let draining = ctx.draining.is_set();
        let mut answered = false;
        // A read in this drive came back short: every byte that arrives from now on brings an
        // edge of its own.
        let mut emptied = false;
        loop {
            let need_input = self.answer_buffered(s, ctx, site, draining, &mut answered);
            if let Some(until) = self.held {
                // Draining, the process is about to go: nothing is held any longer.
                if !draining && Instant::now() < until {
                    return Ok(Next::Hold);
                }
                self.held = None;
            }
            match send::flush(&self.stream, &mut s.out, &mut self.sending, &others_wait)? {
                Flushed::All => {}
                Flushed::Full => return Ok(Next::Write),
                Flushed::Yielded => return Ok(Next::Yield),
            }
            finish_lines(&mut s.lines, &ctx.log, 0);
            if let Phase::Framing(Framer::Done { linger }) = self.phase {
                return self.close(s, linger, draining);
            }
            // A client that keeps pipelining could keep this drive going for ever: when
            // another connection waits for a worker, it goes on after it. (Nothing buffered:
            // the next step finds that it needs input, and usually returns.)
            if !need_input {
                if !s.read.is_empty() && others_wait() {
                    return Ok(Next::Yield);
                }
                continue;
            }
            // Skip the read that would almost surely find nothing: after a response the client
            // has not seen it yet. Bytes that came after the last short read bring an edge.
            let idle = matches!(self.phase, Phase::Framing(Framer::Head { .. }));
            if answered && emptied && idle && s.read.is_empty() && !self.peer_eof {
                return Ok(Next::Read);
            }
            if self.peer_eof {
                return Ok(Next::Close);
            }
            if answered && others_wait() {
                return Ok(Next::Yield);
            }
            match self.fill(s)? {
                Fill::Data { short } => emptied |= short,
                Fill::Eof => self.peer_eof = true,
                Fill::Blocked => {
                    self.count_deferral(s);
                    return Ok(Next::Read);
                }
            }
        }
    }

    /// On a read that found nothing: if this is the connection's first and nothing has come,
    /// `accept` returned it only because the kernel stopped deferring it, so its first head (or
    /// PROXY header) began that long before the accept; `--header-timeout` runs from then. Once
    /// per connection: the deferral is spent by the first read, whatever it found.
    fn count_deferral(&mut self, s: &Scratch) {
        let deferred = std::mem::take(&mut self.deferred);
        if deferred.is_zero() || !s.read.is_empty() {
            return;
        }
        match &mut self.phase {
            Phase::Preface { since } | Phase::Framing(Framer::Head { since: Some(since) }) => {
                *since = since.checked_sub(deferred).unwrap_or(*since);
            }
            _ => {}
        }
    }

    /// Reads the PROXY protocol header; `None` once it is consumed and requests may follow.
    fn preface(&mut self, s: &mut Scratch, since: Instant) -> io::Result<Option<Next>> {
        loop {
            match proxy_protocol::parse(s.read.pending()) {
                Parsed::Done { client, consumed } => {
                    s.read.consume(consumed);
                    if let Some(client) = client {
                        self.client = client;
                    }
                    self.phase = Phase::Framing(Framer::accepted(since));
                    return Ok(None);
                }
                // Not a proxy we sit behind, or a broken one: nothing it sent can be trusted
                // to be HTTP, so no answer either.
                Parsed::Invalid => return Ok(Some(Next::Close)),
                Parsed::NeedMore if self.peer_eof => return Ok(Some(Next::Close)),
                Parsed::NeedMore => match self.fill(s)? {
                    Fill::Data { .. } => {}
                    Fill::Eof => self.peer_eof = true,
                    Fill::Blocked => {
                        self.count_deferral(s);
                        return Ok(Some(Next::Read));
                    }
                },
            }
        }
    }

    /// Answers every complete request buffered, gathering small responses until a body needs
    /// sending on its own or the batch is full; true if it stopped for want of bytes.
    fn answer_buffered(
        &mut self,
        s: &mut Scratch,
        ctx: &Context,
        current: &Site,
        draining: bool,
        answered: &mut bool,
    ) -> bool {
        let Phase::Framing(framer) = &mut self.phase else {
            return false;
        };
        let rules = Rules {
            limits: &ctx.limits,
            draining,
        };
        let Scratch {
            read,
            out,
            site,
            lines,
            worker,
        } = s;
        let (peer, client) = (self.peer.ip(), self.client.ip());
        let log = &ctx.log;
        let counters = ctx
            .metrics
            .as_deref()
            .and_then(|m| Some((m, m.worker(*worker)?)));
        // Whether a request waiting on another's verification may be asked again later.
        let may_ask_again = !draining && self.asking_since.is_none_or(|t| t.elapsed() < ASK_LIMIT);
        while self.sending.is_none() && self.held.is_none() && out.len() < BATCH {
            let sending = &mut self.sending;
            let held = &mut self.held;
            let mut ask_again = false;
            // When this request's first byte arrived (or, for a connection's first, when it was
            // accepted), for the log's duration. A head always has one; the clock is read only
            // if that ever changes.
            let since = match framer {
                Framer::Head { since } => *since,
                Framer::Body { .. } | Framer::Done { .. } => None,
            };
            let step = framer.advance(
                read.pending_mut(),
                rules,
                Instant::now,
                |head, keep_alive| {
                    let mut exchange = Exchange {
                        method: head.method,
                        version: head.version,
                        keep_alive,
                        extra_headers: current.extra_headers(),
                        rule_headers: None,
                        challenge: current.challenge(),
                    };
                    // Scrapes are judged by the TCP peer: a header can name any client. A scrape
                    // gets no `_headers` lines: `matched` still holds another request's.
                    let (status, size) = match counters {
                        // RFC 9110 §7.4 (MUST): an `https` target needs a connection secured
                        // for it. Ours are plain TCP, secured only where a trusted proxy (the
                        // TCP peer) terminated TLS in front of us.
                        _ if head.https_target && !ctx.trusted.contains(peer) => {
                            let reply = current.refusal(Status::MisdirectedRequest);
                            (reply.status, queue(out, sending, reply, &exchange))
                        }
                        Some((m, _)) if m.is_scrape(head, peer) => {
                            let page = m.page(head, draining, current);
                            (page.status, queue(out, sending, page, &exchange))
                        }
                        _ => {
                            let reply = current.respond(head, site, draining);
                            if current.pending(site)
                                && may_ask_again
                                && head.body == BodyFraming::None
                            {
                                // Not answered, counted or logged: asked again shortly.
                                ask_again = true;
                                return;
                            }
                            if let Some((_, c)) = counters {
                                c.record_site(&site.tally);
                            }
                            if let Some(delay) = current.hold(site) {
                                *held = Some(Instant::now() + delay);
                            }
                            exchange.rule_headers = current.rule_headers(site);
                            (reply.status, queue(out, sending, reply, &exchange))
                        }
                    };
                    if let Some((_, c)) = counters {
                        let took = since.map_or(Duration::ZERO, |t| t.elapsed());
                        c.record(Some(head.method), status.code(), size.body, took);
                    }
                    if log.enabled() {
                        let fields = &head.fields;
                        let addrs = Addrs {
                            client: forwarded::client(
                                client,
                                fields.forwarded.lines(),
                                fields.x_forwarded_for.lines(),
                                &ctx.trusted,
                            ),
                            peer,
                        };
                        let since = since.unwrap_or_else(Instant::now);
                        lines.extend(log.begin(
                            addrs,
                            Some(head),
                            site.creds.user(),
                            status,
                            size,
                            since,
                        ));
                    }
                },
            );
            match step {
                Step::Request { .. } if ask_again => {
                    // The head stays in the input, and the framer where it was before it.
                    let now = Instant::now();
                    *framer = Framer::Head {
                        since: since.or(Some(now)),
                    };
                    *held = Some(now + ASK_AGAIN);
                    self.asking_since.get_or_insert(now);
                    return false;
                }
                Step::Request { len, .. } => {
                    read.consume(len);
                    *answered = true;
                    self.asking_since = None;
                }
                Step::Body { len } => read.consume(len),
                Step::NeedMore => return true,
                Step::Refused(e) => {
                    read.clear();
                    let exchange = Exchange {
                        method: Method::Get,
                        version: Version::Http11,
                        keep_alive: false,
                        extra_headers: current.extra_headers(),
                        rule_headers: None,
                        challenge: current.challenge(),
                    };
                    let size = queue(
                        out,
                        &mut self.sending,
                        current.refusal(e.status()),
                        &exchange,
                    );
                    if let Some((_, c)) = counters {
                        let took = since.map_or(Duration::ZERO, |t| t.elapsed());
                        c.record(None, e.status().code(), size.body, took);
                    }
                    let addrs = Addrs { client, peer };
                    let since = since.unwrap_or_else(Instant::now);
                    lines.extend(log.begin(addrs, None, None, e.status(), size, since));
                }
                // What was answered before still goes out; the rest is not ours to frame.
                Step::BadBody(_) => read.clear(),
                Step::Done => return false,
            }
        }
        false
    }

    /// Ends the connection after the last response: at once, or after lingering.
    fn close(&mut self, s: &mut Scratch, linger: bool, draining: bool) -> io::Result<Next> {
        let unsent = draining && has_unsent(&self.stream);
        if !linger && !unsent && s.read.is_empty() {
            return Ok(Next::Close);
        }
        // Closing with unread bytes makes the kernel send a reset, which can destroy the
        // response the client has not read yet: half-close, then drain until the peer closes.
        // While draining, also when the socket still holds bytes the peer has not acknowledged
        // (see `end`).
        self.begin_linger()?;
        self.linger(s)
    }

    /// Half-closes the connection (a FIN after what is queued) and waits for the peer's close.
    fn begin_linger(&mut self) -> io::Result<()> {
        self.stream.shutdown(Shutdown::Write)?;
        self.phase = Phase::Lingering {
            since: Instant::now(),
            read: 0,
        };
        Ok(())
    }

    fn linger(&mut self, s: &mut Scratch) -> io::Result<Next> {
        let Phase::Lingering { read, .. } = &mut self.phase else {
            return Ok(Next::Close);
        };
        let space = s.read.discard_space();
        loop {
            match (&self.stream).read(space) {
                Ok(0) => return Ok(Next::Close),
                Ok(n) => {
                    *read += n;
                    if *read > LINGER_MAX {
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
        let space = s.read.spare_mut();
        if space.is_empty() {
            // Only a head larger than the limit fills the buffer, and the parser refuses that.
            return Err(io::ErrorKind::InvalidData.into());
        }
        loop {
            match (&self.stream).read(space) {
                Ok(0) => return Ok(Fill::Eof),
                Ok(n) => {
                    self.deferred = Duration::ZERO;
                    if let Phase::Framing(framer) = &mut self.phase {
                        framer.bytes_arrived(Instant::now);
                    }
                    let short = n < space.len();
                    s.read.filled(n);
                    return Ok(Fill::Data { short });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Fill::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Finishes and queues `lines`, their responses written (or their connection ended) now;
/// `unsent` bytes of the connection's output never left, which come off the last responses'
/// counts.
fn finish_lines(lines: &mut Vec<Line>, log: &AccessLogger, unsent: u64) {
    if lines.is_empty() {
        return;
    }
    let mut unsent = unsent;
    for line in lines.iter_mut().rev() {
        if unsent == 0 {
            break;
        }
        unsent = line.cut(unsent);
    }
    let done = Instant::now();
    for line in lines.drain(..) {
        log.finish(line, done);
    }
}

/// The bytes of output still to go: `queued` in the buffer, and the body being sent.
fn unsent(queued: &[u8], sending: Option<&Sending>) -> u64 {
    queued.len() as u64 + sending.map_or(0, Sending::remaining)
}

/// Appends the head of `reply` (and a small body) to the output, or plans the body to be sent
/// after it; returns the bytes the response puts on the wire, for the access log and metrics.
fn queue(
    out: &mut WriteBuf,
    sending: &mut Option<Sending>,
    reply: Reply<'_>,
    exchange: &Exchange<'_>,
) -> Size {
    let before = out.queue().len();
    write_head(out.queue(), &reply, exchange);
    let head = (out.queue().len() - before) as u64;
    if !exchange.sends_body(reply.status) {
        return Size { head, body: 0 };
    }
    let body = reply.body.len();
    // Assigned only when there is a body to send after the head: `sending` is empty here, and
    // overwriting it would still run its drop glue for every response.
    if let Some(rest) = send::plan(out.queue(), reply.body) {
        *sending = Some(rest);
    }
    Size { head, body }
}

/// Whether the socket still holds bytes the peer has not acknowledged (where the system cannot
/// say, it assumes so).
fn has_unsent(stream: &TcpStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut queued: libc::c_int = 0;
        // SAFETY: TIOCOUTQ on a TCP socket writes one c_int, the bytes not yet acknowledged;
        // `queued` is that c_int and the descriptor is ours and open.
        let rc = unsafe { libc::ioctl(stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
        rc != 0 || queued > 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        true
    }
}
