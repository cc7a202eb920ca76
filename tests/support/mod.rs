//! Shared helpers for the muxserve integration tests.
//!
//! Everything here talks to a real server over real sockets on 127.0.0.1:
//! either an in-process `muxserve::Server` (`TestServer`) or the compiled
//! binary (`spawn_binary` / `run_binary`). Every socket has read and write
//! timeouts, every loop is bounded, and every child process is reaped.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use muxserve::{AccessLog, Config, Running, Server};

/// Read/write timeout used on every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The unique marker stored in `tests/fixtures/outside/secret`.
pub const OUTSIDE_MARKER: &str = "OUTSIDE-SECRET-MARKER-7f3c9a1e";
/// The unique marker stored in `tests/fixtures/site/.hidden`.
pub const HIDDEN_MARKER: &str = "HIDDEN-FILE-MARKER-9b2e";
/// The unique marker stored in `tests/fixtures/site/dir/.secret`.
pub const DIR_SECRET_MARKER: &str = "DIR-SECRET-MARKER-d41c";

pub const ALLOW: &str = "GET, HEAD, OPTIONS";

// ---------------------------------------------------------------------------
// Fixtures and temporary sites
// ---------------------------------------------------------------------------

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Bytes of a file of the fixture site (`tests/fixtures/site/<rel>`).
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join("site").join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        let to = dst.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &to);
        } else if ty.is_file() {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A fresh temporary copy of the fixtures:
/// `<tmp>/site` (the document root) and `<tmp>/outside` (a sibling directory
/// holding a secret that must never be served). `<tmp>/site/empty-dir` is
/// created here because git does not keep empty directories.
pub struct TempSite {
    dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl TempSite {
    pub fn new() -> TempSite {
        let dir = tempfile::Builder::new()
            .prefix("muxserve-test-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("site");
        let outside = dir.path().join("outside");
        copy_dir(&fixtures_dir().join("site"), &root);
        copy_dir(&fixtures_dir().join("outside"), &outside);
        fs::create_dir_all(root.join("empty-dir")).unwrap();
        let secret = fs::read_to_string(outside.join("secret")).unwrap();
        assert!(
            secret.contains(OUTSIDE_MARKER),
            "fixture secret lacks marker"
        );
        TempSite { dir, root, outside }
    }

    /// The document root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A directory next to the root (`<root>/../outside`).
    pub fn outside(&self) -> &Path {
        &self.outside
    }

    /// The temporary directory holding both `site` and `outside`.
    pub fn base(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TempSite {
    fn default() -> Self {
        TempSite::new()
    }
}

/// Deterministic pseudo-random bytes (xorshift64).
pub fn xorshift_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `len` pseudo-random bytes to `path` and returns their sha256 (hex).
pub fn write_random_file(path: &Path, len: usize, seed: u64) -> String {
    let data = xorshift_bytes(len, seed);
    fs::write(path, &data).unwrap();
    sha256_hex(&data)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(data))
}

pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(s, "{b:02x}").unwrap();
    }
    s
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// First value of header `name` (case-insensitive) in `headers`.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
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

    /// Reads exactly one response. `head_request`: the request was HEAD, so
    /// the response has no body whatever its headers say.
    pub fn try_read_response(&mut self, head_request: bool) -> io::Result<Response> {
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

    /// Like `try_read_response` but panics with context on failure.
    pub fn read_response(&mut self, head_request: bool) -> Response {
        self.try_read_response(head_request)
            .unwrap_or_else(|e| panic!("failed to read a response: {e}"))
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

/// Reads exactly one response from `r` without consuming any byte beyond
/// it (head read byte-by-byte).
pub fn read_response(r: &mut impl Read, head_request: bool) -> Response {
    let mut reader = ResponseReader {
        inner: r,
        buf: Vec::new(),
        exact: true,
    };
    let resp = reader.read_response(head_request);
    debug_assert!(reader.buf.is_empty());
    resp
}

/// Parses every response found in `bytes` (e.g. the result of `raw`).
pub fn parse_responses(bytes: &[u8]) -> Vec<Response> {
    let mut reader = ResponseReader::new(bytes);
    let mut out = Vec::new();
    while let Ok(r) = reader.try_read_response(false) {
        out.push(r);
    }
    out
}

/// Parses the first response in `bytes`, panicking if there is none.
pub fn parse_response(bytes: &[u8]) -> Response {
    ResponseReader::new(bytes)
        .try_read_response(false)
        .unwrap_or_else(|e| {
            panic!(
                "no parsable response in {:?}: {e}",
                String::from_utf8_lossy(bytes)
            )
        })
}

// ---------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------

pub fn connect_to(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s
}

/// Writes `bytes` on a fresh connection and reads until EOF, reset, or the
/// read timeout `timeout`.
pub fn raw_to(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = connect_to(addr);
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let mut tmp = vec![0u8; 65536];
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&tmp[..n]),
            Err(_) => break,
        }
    }
    out
}

/// One request on a fresh connection; reads one response.
pub fn request_to(addr: SocketAddr, raw: &str) -> Response {
    let mut r = ResponseReader::new(connect_to(addr));
    r.send(raw);
    let head = raw.starts_with("HEAD ");
    r.try_read_response(head)
        .unwrap_or_else(|e| panic!("request {raw:?}: {e}"))
}

pub fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

// ---------------------------------------------------------------------------
// In-process server
// ---------------------------------------------------------------------------

/// An in-process muxserve over a fresh temporary copy of the fixture site.
/// Dropping it shuts the server down (graceful, then immediate after 5 s)
/// and joins it.
pub struct TestServer {
    running: Option<Running>,
    addr: SocketAddr,
    site: TempSite,
}

impl TestServer {
    /// Default config (workers 2, access log off) over the fixture site.
    pub fn start() -> TestServer {
        TestServer::with(|_| {})
    }

    /// Like `start`, letting the test adjust the config first.
    pub fn with(configure: impl FnOnce(&mut Config)) -> TestServer {
        TestServer::with_site(|_| {}, configure)
    }

    /// `prepare` gets the temp root before the server starts (add/remove
    /// files, create symlinks); `configure` adjusts the config.
    pub fn with_site(
        prepare: impl FnOnce(&TempSite),
        configure: impl FnOnce(&mut Config),
    ) -> TestServer {
        let site = TempSite::new();
        prepare(&site);
        let mut config = Config {
            root: site.root().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            access_log: AccessLog::Off,
            ..Config::default()
        };
        configure(&mut config);
        let running = Server::start(config).expect("Server::start");
        let addr = running.local_addr();
        assert!(addr.ip().is_loopback(), "server bound to {addr}");
        assert_ne!(addr.port(), 0, "local_addr() reports port 0");
        TestServer {
            running: Some(running),
            addr,
            site,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn root(&self) -> &Path {
        self.site.root()
    }

    pub fn outside(&self) -> &Path {
        self.site.outside()
    }

    pub fn site(&self) -> &TempSite {
        &self.site
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server already taken")
    }

    /// Takes the `Running` out; the caller is then responsible for shutdown.
    pub fn take_running(&mut self) -> Running {
        self.running.take().expect("server already taken")
    }

    pub fn connect(&self) -> TcpStream {
        connect_to(self.addr)
    }

    /// A fresh connection wrapped in a `ResponseReader`.
    pub fn reader(&self) -> ResponseReader<TcpStream> {
        ResponseReader::new(self.connect())
    }

    /// One raw request on a fresh connection; reads one response.
    pub fn request(&self, raw: &str) -> Response {
        request_to(self.addr, raw)
    }

    /// `GET path HTTP/1.1` with a Host header on a fresh connection.
    pub fn get(&self, path: &str) -> Response {
        self.request(&get_request(path))
    }

    /// Writes bytes on a fresh connection, reads until EOF (or 10 s).
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        raw_to(self.addr, bytes, IO_TIMEOUT)
    }
}

/// Shuts `running` down gracefully and joins it; if the join has not
/// finished after `grace`, a second shutdown (immediate stop) is issued.
pub fn shutdown_and_join(running: Running, grace: Duration) -> anyhow::Result<()> {
    let handle = running.shutdown_handle();
    handle.shutdown();
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(grace) {
            handle.shutdown();
        }
    });
    let result = running.join().map(|_| ());
    let _ = tx.send(());
    let _ = watchdog.join();
    result
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            if let Err(e) = shutdown_and_join(running, Duration::from_secs(5)) {
                eprintln!("muxserve join after test returned an error: {e:#}");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_muxserve")
}

fn collect(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    listening: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            sink.lock().unwrap().extend_from_slice(&line);
            if let Some(tx) = &listening {
                let text = String::from_utf8_lossy(&line);
                if let Some(pos) = text.find("listening on http://") {
                    let rest = &text[pos + "listening on http://".len()..];
                    let hostport = rest.split('/').next().unwrap_or("").trim();
                    if let Ok(addr) = hostport.parse::<SocketAddr>() {
                        let _ = tx.send(addr);
                    }
                }
            }
        }
    })
}

/// A running muxserve process. Dropping it kills it (by PID) and reaps it.
pub struct BinaryServer {
    pub child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
}

/// Spawns the binary with `args` and waits (up to 10 s) for its
/// `listening on http://IP:PORT/` line on stderr.
pub fn spawn_binary<I, S>(args: I) -> BinaryServer
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    spawn_binary_configured(args, |_| {})
}

impl BinaryServer {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) to this process only.
    pub fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    pub fn connect(&self) -> TcpStream {
        connect_to(self.addr)
    }

    pub fn request(&self, raw: &str) -> Response {
        request_to(self.addr, raw)
    }

    /// Polls `try_wait` until the process exits or `limit` passes.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// After the process has exited: waits for the pipe readers to drain.
    pub fn drain_pipes(&mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.drain_pipes();
    }
}

pub fn send_signal(pid: i32, sig: i32) {
    assert!(pid > 0, "refusing to signal pid {pid}");
    // SAFETY: kill(2) with a specific positive pid of a child we spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the binary to completion (killing it after `limit`).
pub fn run_binary<I, S>(args: I, limit: Duration) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    run_binary_with(args, |_| {}, limit).0
}

/// Standard args for the binary over `root`.
pub fn binary_args(root: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "--root".to_string(),
        root.to_str().unwrap().to_string(),
        "--listen".to_string(),
        "127.0.0.1:0".to_string(),
        "--access-log".to_string(),
        "off".to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

// ---------------------------------------------------------------------------
// Slow downloads
// ---------------------------------------------------------------------------

pub struct Download {
    /// Head of the response (body not kept).
    pub response: Response,
    pub received: u64,
    pub sha256: String,
}

/// GETs `path` on `stream` (with `Connection: close`) and reads the body
/// slowly: 64 KiB reads with a 1 ms sleep every 4 reads, so the server's
/// socket buffer fills. `progress(received_so_far)` runs after each read.
/// Reads exactly Content-Length body bytes.
pub fn slow_download(
    stream: TcpStream,
    path: &str,
    mut progress: impl FnMut(u64),
) -> io::Result<Download> {
    use sha2::{Digest, Sha256};
    let mut reader = ResponseReader::new(stream);
    reader.send(format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    ));
    let response = reader.read_head()?;
    if response.status != 200 {
        return Err(io::Error::other(format!(
            "slow_download {path}: status {}",
            response.status
        )));
    }
    let total = response
        .content_length()
        .ok_or_else(|| io::Error::other("no Content-Length"))?;
    let mut hasher = Sha256::new();
    let first = reader.take_buffered();
    let mut received = first.len() as u64;
    hasher.update(&first);
    let mut stream = reader.inner;
    let mut buf = vec![0u8; 64 * 1024];
    let mut reads = 0u64;
    while received < total {
        let want = ((total - received) as usize).min(buf.len());
        let n = stream.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("EOF after {received} of {total} body bytes"),
            ));
        }
        hasher.update(&buf[..n]);
        received += n as u64;
        reads += 1;
        progress(received);
        if reads % 4 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(Download {
        response,
        received,
        sha256: hex(&hasher.finalize()),
    })
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft
/// limit.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
        }
    }
    rl.rlim_cur
}

// ---------------------------------------------------------------------------
// Requests with headers, validators, encodings, multipart bodies
// ---------------------------------------------------------------------------

/// `METHOD path HTTP/1.1` with a Host header and `headers`, ending the head.
pub fn request_with(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        write!(raw, "{k}: {v}\r\n").unwrap();
    }
    raw.push_str("\r\n");
    raw
}

impl TestServer {
    /// `GET path` with extra request headers on a fresh connection.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with("GET", path, headers))
    }

    /// `HEAD path` with extra request headers on a fresh connection.
    pub fn head_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with("HEAD", path, headers))
    }

    /// `method path` with extra request headers on a fresh connection.
    pub fn method_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with(method, path, headers))
    }
}

/// An in-process muxserve over a root the caller owns (e.g. to restart a
/// server on the same files). Same defaults as `TestServer`; dropping it
/// shuts the server down and joins it.
pub struct RootServer {
    running: Option<Running>,
    addr: SocketAddr,
}

impl RootServer {
    pub fn start(root: &Path, configure: impl FnOnce(&mut Config)) -> RootServer {
        let mut config = Config {
            root: root.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            access_log: AccessLog::Off,
            ..Config::default()
        };
        configure(&mut config);
        let running = Server::start(config).expect("Server::start");
        let addr = running.local_addr();
        assert!(addr.ip().is_loopback(), "server bound to {addr}");
        RootServer {
            running: Some(running),
            addr,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn request(&self, raw: &str) -> Response {
        request_to(self.addr, raw)
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with("GET", path, headers))
    }
}

impl Drop for RootServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            if let Err(e) = shutdown_and_join(running, Duration::from_secs(5)) {
                eprintln!("muxserve join after test returned an error: {e:#}");
            }
        }
    }
}

/// `UNIX_EPOCH + secs`.
pub fn unix_time(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + Duration::from_secs(secs)
}

/// Sets the modification time of `path` (a regular file).
pub fn set_mtime(path: &Path, t: std::time::SystemTime) {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {} to set its mtime: {e}", path.display()));
    f.set_modified(t)
        .unwrap_or_else(|e| panic!("setting the mtime of {}: {e}", path.display()));
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

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Decodes a gzip member; panics with context when `data` is not gzip.
pub fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("body is not valid gzip ({} bytes): {e}", data.len()));
    out
}

pub fn brotli_compress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 11, 22);
        w.write_all(data).unwrap();
        w.flush().unwrap();
    }
    out
}

/// Decodes a brotli stream; panics with context when `data` is not brotli.
pub fn unbrotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(data, 4096)
        .read_to_end(&mut out)
        .unwrap_or_else(|e| panic!("body is not valid brotli ({} bytes): {e}", data.len()));
    out
}

/// One part of a `multipart/byteranges` body.
#[derive(Debug, Clone)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The `boundary` parameter of a `multipart/byteranges` Content-Type.
pub fn multipart_boundary(content_type: &str) -> String {
    let (essence, params) = content_type
        .split_once(';')
        .unwrap_or_else(|| panic!("no parameters in Content-Type {content_type:?}"));
    assert!(
        essence.trim().eq_ignore_ascii_case("multipart/byteranges"),
        "Content-Type {content_type:?} is not multipart/byteranges"
    );
    for p in params.split(';') {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("boundary") {
                let v = v.trim().trim_matches('"');
                assert!(!v.is_empty(), "empty boundary in {content_type:?}");
                return v.to_string();
            }
        }
    }
    panic!("no boundary parameter in Content-Type {content_type:?}")
}

/// Parses a `multipart/byteranges` body strictly (RFC 2046 §5.1.1, RFC 9110
/// §14.6): optional preamble, `--boundary CRLF`, part headers, `CRLF`, data
/// of exactly the length its `Content-Range` names, `CRLF--boundary`, …,
/// the close delimiter `--boundary--`, then at most a CRLF.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let show = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(600)
            .collect::<String>()
    };
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();
    // The first delimiter: at the start or after a preamble ending in CRLF.
    let mut pos = if body.starts_with(dash) {
        dash.len()
    } else {
        let mut needle = b"\r\n".to_vec();
        needle.extend_from_slice(dash);
        let p = body
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .unwrap_or_else(|| panic!("no first boundary in multipart body: {:?}", show()));
        p + needle.len()
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            let epilogue = &rest[2..];
            assert!(
                epilogue.is_empty() || epilogue == b"\r\n",
                "unexpected bytes after the close delimiter: {:?}",
                String::from_utf8_lossy(epilogue)
            );
            return parts;
        }
        assert!(
            rest.starts_with(b"\r\n"),
            "boundary not followed by CRLF or --: {:?}",
            show()
        );
        pos += 2;
        let head_end = body[pos..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| pos + p)
            .unwrap_or_else(|| panic!("part headers never end: {:?}", show()));
        let head = std::str::from_utf8(&body[pos..head_end]).expect("UTF-8 part headers");
        let mut headers = Vec::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (k, v) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad part header line {line:?}"));
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let part_head = Part {
            headers,
            body: Vec::new(),
        };
        let cr = part_head
            .header("Content-Range")
            .unwrap_or_else(|| panic!("part without Content-Range: {part_head:?}"))
            .to_string();
        let (first, last, _) = parse_content_range(&cr);
        let len = (last - first + 1) as usize;
        let data_start = head_end + 4;
        assert!(
            data_start + len <= body.len(),
            "part {cr:?} runs past the end of the body"
        );
        let data = body[data_start..data_start + len].to_vec();
        pos = data_start + len;
        let mut delim = b"\r\n".to_vec();
        delim.extend_from_slice(dash);
        assert!(
            body[pos..].starts_with(&delim),
            "part {cr:?} data not followed by CRLF--boundary: {:?}",
            String::from_utf8_lossy(&body[pos..(pos + 80).min(body.len())])
        );
        pos += delim.len();
        parts.push(Part {
            headers: part_head.headers,
            body: data,
        });
        assert!(parts.len() <= 1000, "runaway multipart body");
    }
}

/// Parses `bytes FIRST-LAST/COMPLETE` into its numbers.
pub fn parse_content_range(v: &str) -> (u64, u64, u64) {
    fn bad(v: &str) -> ! {
        panic!("bad Content-Range {v:?}")
    }
    let rest = v.strip_prefix("bytes ").unwrap_or_else(|| bad(v));
    let (range, complete) = rest.split_once('/').unwrap_or_else(|| bad(v));
    let (first, last) = range.split_once('-').unwrap_or_else(|| bad(v));
    let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| bad(v));
    let (first, last, complete) = (n(first), n(last), n(complete));
    assert!(
        first <= last && last < complete,
        "inconsistent Content-Range {v:?}"
    );
    (first, last, complete)
}

/// Sends `first` and `second` pipelined on one connection and reads both
/// responses; the second is always a GET, so a body wrongly sent on the
/// first (e.g. on a 304 or a HEAD) shows up as garbage before its status
/// line and fails the read.
pub fn pipelined_pair(addr: SocketAddr, first: &str, second_path: &str) -> (Response, Response) {
    let mut r = ResponseReader::new(connect_to(addr));
    r.send(format!("{first}{}", get_request(second_path)));
    let a = r
        .try_read_response(first.starts_with("HEAD "))
        .unwrap_or_else(|e| panic!("first response to {first:?}: {e}"));
    let b = r
        .try_read_response(false)
        .unwrap_or_else(|e| panic!("the response after {a} must start right after its head: {e}"));
    (a, b)
}

// ---------------------------------------------------------------------------
// Running the binary with a customised command (environment)
// ---------------------------------------------------------------------------

/// Like `run_binary`, but `configure` may adjust the `Command` first (e.g.
/// `env`, `env_remove`). Kills the process (by PID) after `limit`, always
/// reaps it, and reports how long it ran.
pub fn run_binary_with<I, S>(
    args: I,
    configure: impl FnOnce(&mut Command),
    limit: Duration,
) -> (Output, Duration)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let started = Instant::now();
    let mut child = cmd.spawn().expect("spawning muxserve");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let threads = [
        collect(child.stdout.take().unwrap(), stdout.clone(), None),
        collect(child.stderr.take().unwrap(), stderr.clone(), None),
    ];
    let deadline = started + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            send_signal(child.id() as i32, libc::SIGKILL);
            let _ = child.wait();
            for t in threads {
                let _ = t.join();
            }
            panic!(
                "muxserve did not exit within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&stderr.lock().unwrap())
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    let took = started.elapsed();
    for t in threads {
        let _ = t.join();
    }
    let stdout = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    (
        Output {
            status,
            stdout,
            stderr,
        },
        took,
    )
}

// ---------------------------------------------------------------------------
// Hostile and broken clients: a configurable spawn, /proc accounting, resets
// ---------------------------------------------------------------------------

/// Like `spawn_binary`, but `configure` may adjust the `Command` first (e.g.
/// a `pre_exec` that lowers RLIMIT_NOFILE, see `limit_nofile`). Waits (up to
/// 10 s) for the `listening on http://IP:PORT/` line; dropping the result
/// kills the process by PID and reaps it.
pub fn spawn_binary_configured<I, S>(args: I, configure: impl FnOnce(&mut Command)) -> BinaryServer
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    configure(&mut cmd);
    let mut child = cmd.spawn().expect("spawning muxserve");
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let threads = vec![
        collect(child.stdout.take().unwrap(), stdout.clone(), None),
        collect(child.stderr.take().unwrap(), stderr.clone(), Some(tx)),
    ];
    let deadline = Instant::now() + Duration::from_secs(10);
    let addr = loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(addr) => break addr,
            Err(_) => {
                let exited = child.try_wait().ok().flatten();
                if exited.is_some() || Instant::now() > deadline {
                    let _ = child.kill();
                    let status = child.wait();
                    thread::sleep(Duration::from_millis(100));
                    panic!(
                        "muxserve never reported `listening on http://...` (exit: {status:?}); stderr: {}",
                        String::from_utf8_lossy(&stderr.lock().unwrap())
                    );
                }
            }
        }
    };
    BinaryServer {
        child,
        addr,
        stdout,
        stderr,
        threads,
    }
}

/// Makes the child start with RLIMIT_NOFILE soft = hard = `n` (set in the
/// child between fork and exec). Both are set because muxserve raises its
/// soft limit to the hard limit at startup.
pub fn limit_nofile(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit, which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Number of open descriptors of process `pid` (entries of /proc/PID/fd).
pub fn proc_fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
        .count()
}

/// Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status).
pub fn proc_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time (user + system, all threads) used so far by process `pid`, in
/// seconds: fields 14 and 15 of /proc/PID/stat over sysconf(_SC_CLK_TCK).
pub fn proc_cpu_seconds(pid: i32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/stat: {e}"));
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let after = &stat[stat.rfind(')').expect("comm in /proc/PID/stat") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(ticks > 0, "sysconf(_SC_CLK_TCK) = {ticks}");
    (utime + stime) as f64 / ticks as f64
}

/// Polls (every 20 ms, up to `limit`) until process `pid` has at most
/// `target` open descriptors; Ok(time it took) or Err(last count seen).
pub fn wait_fd_count_at_most(pid: i32, target: usize, limit: Duration) -> Result<Duration, usize> {
    let start = Instant::now();
    loop {
        let n = proc_fd_count(pid);
        if n <= target {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(n);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sets SO_LINGER {on, 0 s}: closing the socket then sends a RST instead of
/// a FIN and drops anything unsent.
pub fn set_linger_zero(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let lg = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a socket we own with a correctly sized struct.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lg as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

/// Closes `s` abortively: SO_LINGER 0, then close, so the peer gets a RST.
pub fn reset_close(s: TcpStream) {
    set_linger_zero(&s);
    drop(s);
}
