//! Responses: `Response` and the assertions every test makes on one, a
//! `ResponseReader` that reads them off a connection one at a time (plain,
//! chunked or close-delimited bodies; `read_response()` for GET and the
//! rest, `read_head_response()` for HEAD), parsing captured bytes, and
//! entity-tag helpers.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The `Allow` value muxserve sends on 405 and OPTIONS.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[derive(Debug, Clone, Default)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// First value of header `name` (case-insensitive) in `headers`.
pub(super) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All values of header `name` (case-insensitive).
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the comma-separated header `name` contains `token`
    /// (case-insensitive), e.g. `has_token("Connection", "close")`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("Content-Length")
            .map(|v| v.trim().parse().expect("numeric Content-Length"))
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts the headers every response must carry.
    pub fn assert_common_headers(&self) {
        assert_eq!(self.version, "HTTP/1.1", "status line version: {self:?}");
        let date = self
            .header("Date")
            .unwrap_or_else(|| panic!("no Date header: {self:?}"));
        assert!(date.ends_with(" GMT"), "Date not an IMF-fixdate: {date:?}");
        assert_eq!(self.header("Server"), Some("muxserve"), "{self:?}");
        if self.status != 204 && self.status != 304 && !(100..200).contains(&self.status) {
            assert!(
                self.header("Content-Length").is_some(),
                "no Content-Length on a {} response: {self:?}",
                self.status
            );
        }
        if !self.body.is_empty() {
            assert!(
                self.header("Content-Type").is_some(),
                "a body without Content-Type: {self:?}"
            );
        }
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} {} {}", self.version, self.status, self.reason)?;
        for (k, v) in &self.headers {
            writeln!(f, "{k}: {v}")?;
        }
        let body = String::from_utf8_lossy(&self.body);
        let shown: String = body.chars().take(300).collect();
        write!(f, "\n{shown}")
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn parse_head(head: &[u8]) -> io::Result<Response> {
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let text =
        std::str::from_utf8(head).map_err(|_| bad(format!("non-UTF-8 response head: {head:?}")))?;
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_string();
    if !version.starts_with("HTTP/") {
        return Err(bad(format!("bad status line: {status_line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status code: {status_line:?}")))?;
    let reason = parts.next().unwrap_or("").to_string();
    let mut headers = Vec::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line: {line:?}")))?;
        headers.push((k.to_string(), v.trim().to_string()));
    }
    Ok(Response {
        version,
        status,
        reason,
        headers,
        body: Vec::new(),
    })
}

/// What a single read on a connection produced.
#[derive(Debug)]
pub enum ReadOutcome {
    /// Orderly close (read returned 0).
    Eof,
    /// Connection reset / aborted / broken: also means "closed".
    Reset,
    /// Bytes arrived.
    Data(Vec<u8>),
    /// Nothing arrived within the read timeout.
    TimedOut,
    /// Some other error.
    Other(io::Error),
}

impl ReadOutcome {
    pub fn is_closed(&self) -> bool {
        matches!(self, ReadOutcome::Eof | ReadOutcome::Reset)
    }
}

fn classify_read(r: io::Result<usize>, buf: &[u8]) -> ReadOutcome {
    match r {
        Ok(0) => ReadOutcome::Eof,
        Ok(n) => ReadOutcome::Data(buf[..n].to_vec()),
        Err(e) => match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadOutcome::TimedOut,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => ReadOutcome::Reset,
            _ => ReadOutcome::Other(e),
        },
    }
}

/// Wraps a stream and reads responses one at a time, keeping bytes that
/// belong to the next response in an internal buffer.
pub struct ResponseReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Never read past the end of the current response (byte-at-a-time for
    /// the head). Used by the free function `read_response`.
    exact: bool,
}

impl<R: Read> ResponseReader<R> {
    pub fn new(inner: R) -> Self {
        ResponseReader {
            inner,
            buf: Vec::new(),
            exact: false,
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The stream back, with any bytes already buffered lost: call
    /// `take_buffered` first.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Bytes already received but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    pub fn take_buffered(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }

    fn fill(&mut self, max: usize) -> io::Result<usize> {
        let mut tmp = vec![0u8; max.clamp(1, 65536)];
        let n = self.inner.read(&mut tmp)?;
        self.buf.extend_from_slice(&tmp[..n]);
        Ok(n)
    }

    fn eof_error(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "connection closed while reading {what}; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
        )
    }

    /// Reads and parses one response head (body left unread).
    pub fn read_head(&mut self) -> io::Result<Response> {
        loop {
            if let Some(end) = find_head_end(&self.buf) {
                let head: Vec<u8> = self.buf.drain(..end).collect();
                return parse_head(&head);
            }
            if self.buf.len() > 1 << 20 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "response head larger than 1 MiB",
                ));
            }
            let max = if self.exact { 1 } else { 65536 };
            if self.fill(max)? == 0 {
                return Err(self.eof_error("a response head"));
            }
        }
    }

    fn read_exact_body(&mut self, len: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() < len {
            let want = len - self.buf.len();
            let max = if self.exact { want } else { want.max(65536) };
            if self.fill(max)? == 0 {
                return Err(self.eof_error(&format!("a body of {len} bytes")));
            }
        }
        Ok(self.buf.drain(..len).collect())
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..p + 2).collect();
                return Ok(line[..p].to_vec());
            }
            let max = if self.exact { 1 } else { 65536 };
            if self.fill(max)? == 0 {
                return Err(self.eof_error("a chunk line"));
            }
        }
    }

    fn read_chunked_body(&mut self) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8_lossy(&line).into_owned();
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad chunk size {line:?}"),
                )
            })?;
            if size == 0 {
                // trailers until an empty line
                while !self.read_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.read_exact_body(size)?);
            if !self.read_line()?.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk not followed by CRLF",
                ));
            }
        }
    }

    /// Reads exactly one response to a request other than HEAD.
    pub fn try_read_response(&mut self) -> io::Result<Response> {
        self.read_one(false)
    }

    /// Reads exactly one response to a HEAD request: it has no body whatever
    /// its headers say.
    pub fn try_read_head_response(&mut self) -> io::Result<Response> {
        self.read_one(true)
    }

    /// Like `try_read_response` but panics with context on failure.
    pub fn read_response(&mut self) -> Response {
        self.try_read_response()
            .unwrap_or_else(|e| panic!("failed to read a response: {e}"))
    }

    /// Like `try_read_head_response` but panics with context on failure.
    pub fn read_head_response(&mut self) -> Response {
        self.try_read_head_response()
            .unwrap_or_else(|e| panic!("failed to read the response to a HEAD: {e}"))
    }

    /// Reads the response to `request` (the raw bytes sent): without a body
    /// when it is a HEAD request. For tests that loop over methods.
    pub fn try_read_response_to(&mut self, request: impl AsRef<[u8]>) -> io::Result<Response> {
        self.read_one(request.as_ref().starts_with(b"HEAD "))
    }

    /// Like `try_read_response_to` but panics with context on failure.
    pub fn read_response_to(&mut self, request: impl AsRef<[u8]>) -> Response {
        self.try_read_response_to(request)
            .unwrap_or_else(|e| panic!("failed to read a response: {e}"))
    }

    /// Reads exactly one response, whose request was HEAD if `head_request`.
    fn read_one(&mut self, head_request: bool) -> io::Result<Response> {
        let mut resp = self.read_head()?;
        let bodyless = head_request
            || resp.status == 204
            || resp.status == 304
            || (100..200).contains(&resp.status);
        if bodyless {
            return Ok(resp);
        }
        if resp.has_token("Transfer-Encoding", "chunked") {
            resp.body = self.read_chunked_body()?;
        } else if let Some(cl) = resp.header("Content-Length") {
            let len: usize = cl.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length {cl:?}"),
                )
            })?;
            resp.body = self.read_exact_body(len)?;
        } else {
            // delimited by close
            loop {
                match self.fill(65536) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                        ) =>
                    {
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    /// One read (buffered bytes first) classified as EOF/reset/data/timeout.
    pub fn poll(&mut self) -> ReadOutcome {
        if !self.buf.is_empty() {
            return ReadOutcome::Data(std::mem::take(&mut self.buf));
        }
        let mut tmp = vec![0u8; 65536];
        let r = self.inner.read(&mut tmp);
        classify_read(r, &tmp)
    }

    /// Asserts the peer closes the connection with no further bytes.
    pub fn expect_eof(&mut self) {
        match self.poll() {
            ReadOutcome::Eof | ReadOutcome::Reset => {}
            ReadOutcome::Data(d) => panic!(
                "expected the server to close the connection, got more bytes: {:?}",
                String::from_utf8_lossy(&d)
            ),
            ReadOutcome::TimedOut => {
                panic!("expected the server to close the connection, but it stayed open")
            }
            ReadOutcome::Other(e) => panic!("expected EOF, got error {e}"),
        }
    }

    /// Reads everything until EOF/reset/timeout (buffer included).
    pub fn read_rest(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.buf);
        let mut tmp = vec![0u8; 65536];
        loop {
            match self.inner.read(&mut tmp) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&tmp[..n]),
                Err(_) => break,
            }
        }
        out
    }
}

impl ResponseReader<TcpStream> {
    /// Writes raw bytes to the underlying stream.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.inner
            .write_all(bytes.as_ref())
            .unwrap_or_else(|e| panic!("writing request: {e}"));
    }

    pub fn set_read_timeout(&self, d: Duration) {
        self.inner.set_read_timeout(Some(d)).unwrap();
    }
}

/// Reads exactly one response (to a request other than HEAD) from `r`
/// without consuming any byte beyond it (head read byte-by-byte).
pub fn read_response(r: &mut impl Read) -> Response {
    let mut reader = ResponseReader {
        inner: r,
        buf: Vec::new(),
        exact: true,
    };
    let resp = reader.read_response();
    debug_assert!(reader.buf.is_empty());
    resp
}

/// Parses every response found in `bytes` (e.g. the result of `raw`).
pub fn parse_responses(bytes: &[u8]) -> Vec<Response> {
    let mut reader = ResponseReader::new(bytes);
    let mut out = Vec::new();
    while let Ok(r) = reader.try_read_response() {
        out.push(r);
    }
    out
}

/// Parses the first response in `bytes`, panicking if there is none.
pub fn parse_response(bytes: &[u8]) -> Response {
    ResponseReader::new(bytes)
        .try_read_response()
        .unwrap_or_else(|e| {
            panic!(
                "no parsable response in {:?}: {e}",
                String::from_utf8_lossy(bytes)
            )
        })
}

/// The response's `ETag`, asserted to be a strong entity tag: `"…"`, no
/// `W/`, only etagc characters inside (RFC 9110 §8.8.3).
pub fn strong_etag(resp: &Response) -> String {
    let etag = resp
        .header("ETag")
        .unwrap_or_else(|| panic!("no ETag on a {} response: {resp}", resp.status))
        .to_string();
    assert!(
        !etag.starts_with("W/"),
        "ETag {etag:?} is weak, expected a strong validator"
    );
    assert!(
        etag.len() >= 2 && etag.starts_with('"') && etag.ends_with('"'),
        "ETag {etag:?} is not a quoted entity-tag"
    );
    let inner = &etag.as_bytes()[1..etag.len() - 1];
    assert!(
        inner
            .iter()
            .all(|&b| b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80),
        "ETag {etag:?} has characters outside etagc"
    );
    etag
}

/// `W/"x"` for the strong tag `"x"`.
pub fn weak_form(strong: &str) -> String {
    format!("W/{strong}")
}

/// Headers of `resp` without `Date`, in order, for byte-for-byte comparison
/// of two heads.
pub fn headers_without_date(resp: &Response) -> Vec<(String, String)> {
    resp.headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("Date"))
        .cloned()
        .collect()
}
