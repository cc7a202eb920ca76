//! Logging: one-line messages on stderr for the operator, and the access log on stdout, one line
//! per response in the configured format. Access lines are formatted by the worker into a
//! recycled buffer and handed to a writer thread through a bounded channel; when stdout is slow
//! the line is dropped and counted, so a worker never blocks on it.
//!
//! A line is made in two steps, because the JSON form says how long the exchange took: [`begin`]
//! formats everything the request and the reply decide while the head is still borrowed, and
//! [`finish`] adds the duration once the connection has handed the response's last byte to the
//! kernel, then queues it. `common` and `combined` stay exactly the NCSA / nginx formats, with the
//! client (behind trusted proxies) as `%h`. Nothing here may block a worker or reorder one
//! connection's lines.
//!
//! [`begin`]: AccessLogger::begin
//! [`finish`]: AccessLogger::finish

use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::config::AccessLog;
use crate::http::date;
use crate::http::request::RequestHead;
use crate::http::response::Status;

/// Writes one operator message on stderr.
pub fn info(args: std::fmt::Arguments<'_>) {
    eprintln!("muxserve: {args}");
}

/// Writes one warning on stderr: the server runs, but not quite as configured.
pub fn warn(args: std::fmt::Arguments<'_>) {
    eprintln!("muxserve: warning: {args}");
}

/// Writes one error message on stderr.
pub fn error(args: std::fmt::Arguments<'_>) {
    eprintln!("muxserve: error: {args}");
}

/// Lines queued for the writer thread at most.
const QUEUE: usize = 16 * 1024;

/// One response, as the access log sees it.
#[derive(Debug)]
pub struct Entry<'a> {
    /// The client's address: the peer's, or what trusted proxies say it is (`remote_addr`).
    pub client: IpAddr,
    /// The TCP peer's address (`peer_addr`): the proxy, when there is one.
    pub peer: IpAddr,
    /// The host the request is for (absolute-form authority or `Host`).
    pub host: Option<&'a [u8]>,
    /// The user whose credentials `--basic-auth` accepted (never the password); `None` for
    /// anonymous requests.
    pub user: Option<&'a [u8]>,
    /// Method token.
    pub method: &'a str,
    /// Request-target as sent.
    pub target: &'a str,
    /// Protocol version.
    pub version: &'a str,
    /// Status code.
    pub status: u16,
    /// Body bytes to be sent.
    pub bytes: u64,
    /// `Referer`.
    pub referer: Option<&'a [u8]>,
    /// `User-Agent`.
    pub user_agent: Option<&'a [u8]>,
}

/// The access log: a format, the queue to the writer thread, and recycled line buffers.
#[derive(Debug)]
pub struct AccessLogger {
    format: AccessLog,
    lines: Option<Sender<Vec<u8>>>,
    free: Receiver<Vec<u8>>,
    dropped: AtomicU64,
}

/// A line formatted but for its duration, waiting for its response's last byte to be written.
#[derive(Debug)]
pub struct Line {
    buf: Vec<u8>,
    since: Instant,
    /// Where the body's byte count is written in `buf`, to be rewritten if the response is cut.
    bytes_at: std::ops::Range<usize>,
    /// The response's size: its head, and the body bytes the line says.
    size: Size,
}

/// How many bytes a response puts on the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size {
    /// The head's.
    pub head: u64,
    /// The body's (0 for HEAD, 204 and 304).
    pub body: u64,
}

impl Line {
    /// For a response whose last `unsent` bytes of the connection's output never left (its
    /// connection ended first), or some of them: the body bytes the line says become those
    /// that went to the kernel, as nginx's `$body_bytes_sent` does. Returns the unsent bytes
    /// left over for the responses queued before this one.
    pub fn cut(&mut self, unsent: u64) -> u64 {
        let total = self.size.head + self.size.body;
        let here = unsent.min(total);
        let sent = self.size.body - here.min(self.size.body);
        if sent != self.size.body {
            let mut digits = itoa::Buffer::new();
            let digits = digits.format(sent).as_bytes();
            self.buf
                .splice(self.bytes_at.clone(), digits.iter().copied());
            self.bytes_at.end = self.bytes_at.start + digits.len();
            self.size.body = sent;
        }
        unsent - here
    }
}

/// Where a response's client stands: its address and the connection's peer.
#[derive(Clone, Copy, Debug)]
pub struct Addrs {
    /// The client (`remote_addr`).
    pub client: IpAddr,
    /// The peer (`peer_addr`).
    pub peer: IpAddr,
}

impl AccessLogger {
    /// Begins the line for one response to `head` (`None`: a head refused before it could be
    /// read), whose first byte arrived at `since`; `None` when the log is off.
    pub fn begin(
        &self,
        addrs: Addrs,
        head: Option<&RequestHead<'_>>,
        user: Option<&[u8]>,
        status: Status,
        size: Size,
        since: Instant,
    ) -> Option<Line> {
        if !self.enabled() {
            return None;
        }
        self.begin_entry(
            &Entry {
                client: addrs.client,
                peer: addrs.peer,
                host: head.and_then(|h| h.host),
                user,
                method: head.map_or("-", |h| h.method_str),
                target: head.map_or("-", |h| h.target),
                version: head.map_or("-", |h| h.version.as_str()),
                status: status.code(),
                bytes: size.body,
                referer: head.and_then(|h| h.fields.referer),
                user_agent: head.and_then(|h| h.fields.user_agent),
            },
            size.head,
            since,
        )
    }

    /// Starts the writer thread (none for `Off`).
    pub fn start(format: AccessLog) -> std::io::Result<(AccessLogger, Option<JoinHandle<()>>)> {
        let (free_tx, free) = bounded(QUEUE);
        if format == AccessLog::Off {
            let logger = AccessLogger {
                format,
                lines: None,
                free,
                dropped: AtomicU64::new(0),
            };
            return Ok((logger, None));
        }
        let (lines, rx) = bounded::<Vec<u8>>(QUEUE);
        let handle = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_lines(&rx, &free_tx))?;
        let logger = AccessLogger {
            format,
            lines: Some(lines),
            free,
            dropped: AtomicU64::new(0),
        };
        Ok((logger, Some(handle)))
    }

    /// Whether lines are being written.
    pub fn enabled(&self) -> bool {
        self.lines.is_some()
    }

    /// Lines dropped because stdout could not keep up.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Begins the line for `e`, whose response's head is `head` bytes and whose request's first
    /// byte arrived at `since`.
    pub fn begin_entry(&self, e: &Entry<'_>, head: u64, since: Instant) -> Option<Line> {
        self.lines.as_ref()?;
        let mut line = self.free.try_recv().unwrap_or_default();
        line.clear();
        let bytes_at = match self.format {
            AccessLog::Off => return None,
            AccessLog::Common => common(&mut line, e),
            AccessLog::Combined => {
                let at = common(&mut line, e);
                line.extend_from_slice(b" \"");
                clf_escape(&mut line, e.referer.unwrap_or(b"-"));
                line.extend_from_slice(b"\" \"");
                clf_escape(&mut line, e.user_agent.unwrap_or(b"-"));
                line.push(b'"');
                at
            }
            AccessLog::Json => json(&mut line, e),
        };
        Some(Line {
            buf: line,
            since,
            bytes_at,
            size: Size {
                head,
                body: e.bytes,
            },
        })
    }

    /// Ends `line` with how long its exchange took until `done` and queues it.
    pub fn finish(&self, line: Line, done: Instant) {
        let Some(lines) = &self.lines else { return };
        let Line { mut buf, since, .. } = line;
        if self.format == AccessLog::Json {
            buf.extend_from_slice(b",\"duration_ms\":");
            write_millis(&mut buf, done.saturating_duration_since(since));
            buf.push(b'}');
        }
        buf.push(b'\n');
        if let Err(TrySendError::Full(_)) = lines.try_send(buf) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Milliseconds with three decimals (microseconds): `12.345`, a JSON number.
fn write_millis(line: &mut Vec<u8>, d: std::time::Duration) {
    let micros = d.as_micros();
    line.extend_from_slice(itoa::Buffer::new().format(micros / 1000).as_bytes());
    let frac = micros % 1000;
    line.push(b'.');
    // Three digits of a number below 1000.
    for div in [100, 10, 1] {
        line.push(b'0' + (frac / div % 10) as u8);
    }
}

fn write_lines(rx: &Receiver<Vec<u8>>, free: &Sender<Vec<u8>>) {
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    while let Ok(line) = rx.recv() {
        let mut line = Some(line);
        while let Some(l) = line.take() {
            if out.write_all(&l).is_err() {
                return;
            }
            let _ = free.try_send(l);
            line = rx.try_recv().ok();
        }
        // Flush whenever the queue runs dry, so lines appear promptly at low load.
        if out.flush().is_err() {
            return;
        }
    }
    let _ = out.flush();
}

/// `1.2.3.4 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 1234`; returns where the
/// byte count is.
fn common(line: &mut Vec<u8>, e: &Entry<'_>) -> std::ops::Range<usize> {
    write_ip(line, e.client);
    line.extend_from_slice(b" - ");
    match e.user {
        Some(user) => clf_escape(line, user),
        None => line.push(b'-'),
    }
    line.extend_from_slice(b" [");
    date::with_now(|d| date::clf_from_imf(d, line));
    line.extend_from_slice(b"] \"");
    clf_escape(line, e.method.as_bytes());
    line.push(b' ');
    clf_escape(line, e.target.as_bytes());
    line.push(b' ');
    line.extend_from_slice(e.version.as_bytes());
    line.extend_from_slice(b"\" ");
    line.extend_from_slice(itoa::Buffer::new().format(e.status).as_bytes());
    line.push(b' ');
    let start = line.len();
    line.extend_from_slice(itoa::Buffer::new().format(e.bytes).as_bytes());
    start..line.len()
}

/// Writes `ip` as its `Display` does. IPv4 goes without the formatting machinery, which cost
/// ~1,000 instructions an address, more than half of a `common` line (callgrind); IPv6, with
/// RFC 5952's zero compression to get right, is left to the standard library.
fn write_ip(line: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut digits = itoa::Buffer::new();
            let [a, b, c, d] = v4.octets();
            line.extend_from_slice(digits.format(a).as_bytes());
            for octet in [b, c, d] {
                line.push(b'.');
                line.extend_from_slice(digits.format(octet).as_bytes());
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(line, "{ip}");
        }
    }
}

/// Escapes `"`, `\`, control and non-ASCII bytes as `\xHH`, as nginx does, so a request can
/// neither break a line nor forge a field.
fn clf_escape(line: &mut Vec<u8>, v: &[u8]) {
    escape_runs(
        line,
        v,
        |b| PRINTABLE[usize::from(b)],
        |line, b| {
            line.extend_from_slice(&[
                b'\\',
                b'x',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]);
        },
    );
}

/// Appends `v` to `line`, runs of the bytes `plain` takes copied whole (a push a byte cost ~20
/// instructions a byte of every logged target, callgrind) and each other byte as `escape`
/// writes it.
fn escape_runs(
    line: &mut Vec<u8>,
    mut v: &[u8],
    plain: impl Fn(u8) -> bool,
    escape: impl Fn(&mut Vec<u8>, u8),
) {
    while !v.is_empty() {
        let run = v.iter().position(|&b| !plain(b)).unwrap_or(v.len());
        let (text, rest) = v.split_at(run);
        line.extend_from_slice(text);
        let Some((&b, rest)) = rest.split_first() else {
            break;
        };
        escape(line, b);
        v = rest;
    }
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// The bytes both formats write as they are: printable ASCII but `"` and `\`.
const PRINTABLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        table[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    table
};

/// Everything but `duration_ms` and the closing brace, which [`AccessLogger::finish`] adds;
/// returns where the byte count is.
fn json(line: &mut Vec<u8>, e: &Entry<'_>) -> std::ops::Range<usize> {
    line.extend_from_slice(b"{\"time\":\"");
    date::write_rfc3339_now(line);
    line.extend_from_slice(b"\",\"remote_addr\":\"");
    write_ip(line, e.client);
    line.extend_from_slice(b"\",\"peer_addr\":\"");
    write_ip(line, e.peer);
    line.extend_from_slice(b"\",\"host\":");
    json_string_or_null(line, e.host);
    line.extend_from_slice(b",\"user\":");
    json_string_or_null(line, e.user);
    line.extend_from_slice(b",\"method\":\"");
    json_escape(line, e.method.as_bytes());
    line.extend_from_slice(b"\",\"uri\":\"");
    json_escape(line, e.target.as_bytes());
    line.extend_from_slice(b"\",\"protocol\":\"");
    line.extend_from_slice(e.version.as_bytes());
    line.extend_from_slice(b"\",\"status\":");
    line.extend_from_slice(itoa::Buffer::new().format(e.status).as_bytes());
    line.extend_from_slice(b",\"bytes\":");
    let start = line.len();
    line.extend_from_slice(itoa::Buffer::new().format(e.bytes).as_bytes());
    let bytes_at = start..line.len();
    line.extend_from_slice(b",\"referer\":\"");
    json_escape(line, e.referer.unwrap_or(b""));
    line.extend_from_slice(b"\",\"user_agent\":\"");
    json_escape(line, e.user_agent.unwrap_or(b""));
    line.push(b'"');
    bytes_at
}

fn json_string_or_null(line: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            line.push(b'"');
            json_escape(line, v);
            line.push(b'"');
        }
        None => line.extend_from_slice(b"null"),
    }
}

/// Escapes a JSON string body; bytes that are not UTF-8 become `\u00HH`.
fn json_escape(line: &mut Vec<u8>, v: &[u8]) {
    let utf8 = std::str::from_utf8(v).is_ok();
    let plain = |b: u8| PRINTABLE[usize::from(b)] || (utf8 && b >= 0x80);
    escape_runs(line, v, plain, |line, b| match b {
        b'"' => line.extend_from_slice(b"\\\""),
        b'\\' => line.extend_from_slice(b"\\\\"),
        _ => line.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX_LOWER[usize::from(b >> 4)],
            HEX_LOWER[usize::from(b & 15)],
        ]),
    });
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            client: "2001:db8::1".parse().unwrap(),
            peer: "127.0.0.1".parse().unwrap(),
            host: Some(b"example.com"),
            user: None,
            method: "GET",
            target: "/a\"b",
            version: "HTTP/1.1",
            status: 200,
            bytes: 5,
            referer: None,
            user_agent: Some(b"curl \"x\"\n\xff"),
        }
    }

    #[test]
    fn a_cut_line_says_the_body_bytes_that_left() {
        let (tx, _rx) = bounded(4);
        for format in [AccessLog::Common, AccessLog::Json] {
            let logger = AccessLogger {
                format,
                lines: Some(tx.clone()),
                free: bounded(1).1,
                dropped: AtomicU64::new(0),
            };
            // A 100-byte head and a 1,000-byte body; the unsent bytes are the output's last.
            for (unsent, says, left_over) in [
                (0, 1000, 0),
                (1, 999, 0),
                (500, 500, 0),
                (1000, 0, 0),
                (1050, 0, 0),
                (1100, 0, 0),
                (1300, 0, 200),
            ] {
                let e = Entry {
                    bytes: 1000,
                    ..entry()
                };
                let mut line = logger.begin_entry(&e, 100, Instant::now()).unwrap();
                assert_eq!(line.cut(unsent), left_over, "{format:?} {unsent}");
                let text = String::from_utf8(line.buf.clone()).unwrap();
                let want = match format {
                    AccessLog::Json => format!("\"bytes\":{says},"),
                    _ => format!(" {says}"),
                };
                assert!(text.contains(&want), "{format:?} {unsent}: {text}");
                if format != AccessLog::Json {
                    assert!(text.ends_with(&want), "{text}");
                }
                // Cut again by nothing: unchanged.
                assert_eq!(line.cut(0), 0);
                assert!(String::from_utf8(line.buf).unwrap().contains(&want));
            }
        }
    }

    #[test]
    fn every_byte_is_escaped_as_the_format_wants() {
        for b in 0..=255u8 {
            let mut clf = Vec::new();
            clf_escape(&mut clf, &[b'a', b, b'z', b]);
            let one = if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
                format!("\\x{b:02X}")
            } else {
                char::from(b).to_string()
            };
            assert_eq!(clf, format!("a{one}z{one}").as_bytes(), "{b:#04x}");
            let mut json = Vec::new();
            json_escape(&mut json, &[b'a', b, b'z']);
            let one = match b {
                b'"' => "\\\"".to_string(),
                b'\\' => "\\\\".to_string(),
                0..0x20 | 0x7f.. => format!("\\u{b:04x}"),
                _ => char::from(b).to_string(),
            };
            assert_eq!(json, format!("a{one}z").as_bytes(), "{b:#04x}");
        }
        // UTF-8 passes as it is; a name that is not UTF-8 is escaped byte by byte.
        let mut json = Vec::new();
        json_escape(&mut json, "é\"".as_bytes());
        assert_eq!(json, "é\\\"".as_bytes());
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "1.2.3.4",
            "10.0.0.255",
            "127.0.0.1",
            "192.168.100.9",
            "255.255.255.255",
            "::1",
            "::ffff:192.0.2.1",
            "2001:db8::1",
            "fe80::1:2:3:4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut line = b"x".to_vec();
            write_ip(&mut line, ip);
            assert_eq!(line, format!("x{ip}").as_bytes(), "{ip}");
        }
    }

    #[test]
    fn formats() {
        let mut line = Vec::new();
        common(&mut line, &entry());
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("2001:db8::1 - - ["), "{s}");
        assert!(s.ends_with("] \"GET /a\\x22b HTTP/1.1\" 200 5"), "{s}");
        let mut line = Vec::new();
        common(
            &mut line,
            &Entry {
                user: Some(b"ann b"),
                ..entry()
            },
        );
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("2001:db8::1 - ann b ["), "{s}");

        let mut line = Vec::new();
        json(&mut line, &entry());
        line.extend_from_slice(b",\"duration_ms\":1.000}");
        let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(v["remote_addr"], "2001:db8::1");
        assert_eq!(v["peer_addr"], "127.0.0.1");
        assert_eq!(v["host"], "example.com");
        assert!(v["user"].is_null());
        let s = String::from_utf8(line).unwrap();
        assert!(s.contains("\"uri\":\"/a\\\"b\""), "{s}");
        assert!(s.contains("\"status\":200,\"bytes\":5"), "{s}");
        assert!(
            s.contains("\"user_agent\":\"curl \\\"x\\\"\\u000a\\u00ff\""),
            "{s}"
        );

        let user = Entry {
            user: Some(b"al ice\""),
            ..entry()
        };
        let mut line = Vec::new();
        common(&mut line, &user);
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("2001:db8::1 - al ice\\x22 ["), "{s}");
        let mut line = Vec::new();
        json(&mut line, &user);
        let s = String::from_utf8(line).unwrap();
        assert!(s.contains(",\"user\":\"al ice\\\"\","), "{s}");
    }

    #[test]
    fn durations_are_milliseconds_with_three_decimals() {
        use std::time::Duration;
        for (d, want) in [
            (Duration::ZERO, "0.000"),
            (Duration::from_nanos(999), "0.000"),
            (Duration::from_micros(1), "0.001"),
            (Duration::from_micros(12_345), "12.345"),
            (Duration::from_secs(3), "3000.000"),
        ] {
            let mut line = Vec::new();
            write_millis(&mut line, d);
            assert_eq!(String::from_utf8(line).unwrap(), want, "{d:?}");
        }
    }
}
