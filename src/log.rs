//! Logging: one-line messages on stderr for the operator, and the access log on stdout, one line
//! per response in the configured format. Access lines are formatted by the worker into a
//! recycled buffer and handed to a writer thread through a bounded channel; when stdout is slow
//! the line is dropped and counted, so a worker never blocks on it.

use std::io::{BufWriter, Write};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};

use crate::config::AccessLog;
use crate::http::date;
use crate::http::request::RequestHead;
use crate::http::response::Status;

/// Writes one operator message on stderr.
pub fn info(args: std::fmt::Arguments<'_>) {
    eprintln!("muxserve: {args}");
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
    /// The client's address.
    pub peer: IpAddr,
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
    /// The user whose credentials `--basic-auth` accepted (never the password).
    pub user: Option<&'a [u8]>,
}

/// The access log: a format, the queue to the writer thread, and recycled line buffers.
#[derive(Debug)]
pub struct AccessLogger {
    format: AccessLog,
    lines: Option<Sender<Vec<u8>>>,
    free: Receiver<Vec<u8>>,
    dropped: AtomicU64,
}

impl AccessLogger {
    /// Logs one response to `head` (`None`: a head refused before it could be read), asked
    /// for by `user` when credentials were accepted.
    pub fn request(
        &self,
        peer: &std::net::SocketAddr,
        head: Option<&RequestHead<'_>>,
        user: Option<&[u8]>,
        status: Status,
        bytes: u64,
    ) {
        if !self.enabled() {
            return;
        }
        self.record(&Entry {
            peer: peer.ip(),
            method: head.map_or("-", |h| h.method_str),
            target: head.map_or("-", |h| h.target),
            version: head.map_or("-", |h| h.version.as_str()),
            status: status.code(),
            bytes,
            referer: head.and_then(|h| h.fields.referer),
            user_agent: head.and_then(|h| h.fields.user_agent),
            user,
        });
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

    /// Queues one line for `e`.
    pub fn record(&self, e: &Entry<'_>) {
        let Some(lines) = &self.lines else { return };
        let mut line = self.free.try_recv().unwrap_or_default();
        line.clear();
        match self.format {
            AccessLog::Off => return,
            AccessLog::Common => common(&mut line, e),
            AccessLog::Combined => {
                common(&mut line, e);
                line.extend_from_slice(b" \"");
                clf_escape(&mut line, e.referer.unwrap_or(b"-"));
                line.extend_from_slice(b"\" \"");
                clf_escape(&mut line, e.user_agent.unwrap_or(b"-"));
                line.push(b'"');
            }
            AccessLog::Json => json(&mut line, e),
        }
        line.push(b'\n');
        if let Err(TrySendError::Full(_)) = lines.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
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

/// `1.2.3.4 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 1234`
fn common(line: &mut Vec<u8>, e: &Entry<'_>) {
    let _ = write!(line, "{} - ", e.peer);
    clf_escape(line, e.user.unwrap_or(b"-"));
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
    line.extend_from_slice(itoa::Buffer::new().format(e.bytes).as_bytes());
}

/// Escapes `"`, `\`, control and non-ASCII bytes as `\xHH`, as nginx does, so a request can
/// neither break a line nor forge a field.
fn clf_escape(line: &mut Vec<u8>, v: &[u8]) {
    for &b in v {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            let _ = write!(line, "\\x{b:02X}");
        } else {
            line.push(b);
        }
    }
}

fn json(line: &mut Vec<u8>, e: &Entry<'_>) {
    let _ = write!(line, "{{\"time\":\"");
    date::with_now(|d| date::clf_from_imf(d, line));
    let _ = write!(line, "\",\"remote_addr\":\"{}\",\"method\":\"", e.peer);
    json_escape(line, e.method.as_bytes());
    line.extend_from_slice(b"\",\"uri\":\"");
    json_escape(line, e.target.as_bytes());
    let _ = write!(
        line,
        "\",\"protocol\":\"{}\",\"status\":{},\"bytes\":{},\"referer\":\"",
        e.version, e.status, e.bytes
    );
    json_escape(line, e.referer.unwrap_or(b""));
    line.extend_from_slice(b"\",\"user_agent\":\"");
    json_escape(line, e.user_agent.unwrap_or(b""));
    if let Some(user) = e.user {
        line.extend_from_slice(b"\",\"user\":\"");
        json_escape(line, user);
    }
    line.extend_from_slice(b"\"}");
}

/// Escapes a JSON string body; bytes that are not UTF-8 become `\u00HH`.
fn json_escape(line: &mut Vec<u8>, v: &[u8]) {
    let utf8 = std::str::from_utf8(v).is_ok();
    for &b in v {
        match b {
            b'"' => line.extend_from_slice(b"\\\""),
            b'\\' => line.extend_from_slice(b"\\\\"),
            0x80.. if utf8 => line.push(b),
            0..0x20 | 0x7f.. => {
                let _ = write!(line, "\\u{b:04x}");
            }
            _ => line.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry<'static> {
        Entry {
            peer: "127.0.0.1".parse().unwrap(),
            method: "GET",
            target: "/a\"b",
            version: "HTTP/1.1",
            status: 200,
            bytes: 5,
            referer: None,
            user_agent: Some(b"curl \"x\"\n\xff"),
            user: None,
        }
    }

    #[test]
    fn formats() {
        let mut line = Vec::new();
        common(&mut line, &entry());
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("127.0.0.1 - - ["), "{s}");
        assert!(s.ends_with("] \"GET /a\\x22b HTTP/1.1\" 200 5"), "{s}");

        let mut line = Vec::new();
        json(&mut line, &entry());
        let s = String::from_utf8(line).unwrap();
        assert!(s.contains("\"uri\":\"/a\\\"b\""), "{s}");
        assert!(s.contains("\"status\":200,\"bytes\":5"), "{s}");
        assert!(
            s.contains("\"user_agent\":\"curl \\\"x\\\"\\u000a\\u00ff\""),
            "{s}"
        );
        assert!(!s.contains("\"user\""), "{s}");

        let user = Entry {
            user: Some(b"al ice\""),
            ..entry()
        };
        let mut line = Vec::new();
        common(&mut line, &user);
        let s = String::from_utf8(line).unwrap();
        assert!(s.starts_with("127.0.0.1 - al ice\\x22 ["), "{s}");
        let mut line = Vec::new();
        json(&mut line, &user);
        let s = String::from_utf8(line).unwrap();
        assert!(s.ends_with(",\"user\":\"al ice\\\"\"}"), "{s}");
    }
}
