//! Zero-loss SIGTERM under load: while six clients hammer the binary (three
//! on keep-alive connections, three with a new connection per request),
//! SIGTERM must not lose a single request that was already sent, nor ever
//! deliver a truncated or wrong body; requests sent after the signal either
//! succeed, are refused, or see their connection end before any byte of a
//! response.

mod support;

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// The files served: name, size, xorshift seed.
const FILES: [(&str, usize, u64); 3] = [
    ("small.bin", 1024, 0x5111_0001),
    ("medium.bin", 64 * 1024, 0x5111_0002),
    ("large.bin", 1024 * 1024, 0x5111_0003),
];
/// Read/write timeout of every client socket.
const CLIENT_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Load before the signal (at least; see `MIN_OK_BEFORE_SIGNAL`).
const LOAD_BEFORE_SIGNAL: Duration = Duration::from_millis(1500);
/// The signal waits until this many requests have succeeded (bounded).
const MIN_OK_BEFORE_SIGNAL: usize = 51;
/// Bound on the wait for that many successes.
const WARM_UP_LIMIT: Duration = Duration::from_secs(30);
/// Clients stop looping after this long whatever happens.
const CLIENT_LIMIT: Duration = Duration::from_secs(60);
/// The process must exit this soon after the signal.
const EXIT_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// One connection, sequential requests; reconnects when it ends.
    KeepAlive,
    /// A new connection (and `Connection: close`) per request.
    PerRequest,
}

#[derive(Debug)]
enum Outcome {
    /// Complete response, status 200, right Content-Length, right bytes.
    Ok,
    /// The connection could not be established.
    Refused(io::Error),
    /// Anything else.
    Failed(Failure),
}

#[derive(Debug)]
struct Failure {
    /// Response bytes received before the failure.
    response_bytes: usize,
    /// The connection ended (write error, EOF, reset), as opposed to a
    /// timeout or wrong bytes.
    connection_ended: bool,
    detail: String,
}

#[derive(Debug)]
struct Record {
    client: usize,
    mode: Mode,
    seq: usize,
    path: &'static str,
    /// Sent on a connection that had already carried a response.
    reused: bool,
    /// When the request's bytes were completely written (taken after
    /// `write_all` returned, so never earlier than the real moment).
    written: Option<Instant>,
    /// When the outcome was known.
    ended: Instant,
    outcome: Outcome,
}

impl Record {
    /// Was this request (provably) on its way before the signal? A request
    /// that was never written counts when its failure was seen before it.
    fn before(&self, t_sig: Instant) -> bool {
        match self.written {
            Some(w) => w < t_sig,
            None => self.ended < t_sig,
        }
    }

    fn category(&self) -> &'static str {
        match &self.outcome {
            Outcome::Ok => "ok",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(f) if f.response_bytes == 0 && f.connection_ended => "ended-empty",
            Outcome::Failed(_) => "BROKEN",
        }
    }

    fn describe(&self, t_sig: Instant) -> String {
        let rel = |t: Instant| {
            if t >= t_sig {
                format!("+{:?}", t - t_sig)
            } else {
                format!("-{:?}", t_sig - t)
            }
        };
        let written = self.written.map_or("never".to_string(), rel);
        let what = match &self.outcome {
            Outcome::Ok => "OK".to_string(),
            Outcome::Refused(e) => format!(
                "REFUSED ({e}, kind {:?}, errno {:?})",
                e.kind(),
                e.raw_os_error()
            ),
            Outcome::Failed(f) => format!(
                "FAILED after {} response bytes, connection ended: {}: {}",
                f.response_bytes, f.connection_ended, f.detail
            ),
        };
        format!(
            "client {} ({:?}) request #{} GET /{}{}: written {written}, ended {} relative to SIGTERM: {what}",
            self.client,
            self.mode,
            self.seq,
            self.path,
            if self.reused {
                " on a reused connection"
            } else {
                " on a new connection"
            },
            rel(self.ended),
        )
    }
}

struct FileSpec {
    name: &'static str,
    data: Vec<u8>,
}

/// Bytes received on a connection, with the failure reading classification.
enum ReadErr {
    /// EOF or reset: the connection ended.
    Ended(String),
    /// A timeout or another error: the connection did not end.
    Stuck(String),
}

impl ReadErr {
    /// The failure after `received` bytes of the response, described by
    /// `ended` or `stuck` (each given the reason).
    fn failure(
        self,
        received: usize,
        ended: impl FnOnce(&str) -> String,
        stuck: impl FnOnce(&str) -> String,
    ) -> Failure {
        let (connection_ended, detail) = match self {
            ReadErr::Ended(why) => (true, ended(&why)),
            ReadErr::Stuck(why) => (false, stuck(&why)),
        };
        Failure {
            response_bytes: received,
            connection_ended,
            detail,
        }
    }
}

fn read_some(stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, ReadErr> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(ReadErr::Ended("EOF".into())),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(match e.kind() {
                    io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe => ReadErr::Ended(format!("{e}")),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadErr::Stuck(format!(
                        "no bytes within the {CLIENT_IO_TIMEOUT:?} read timeout"
                    )),
                    _ => ReadErr::Stuck(format!("read error {e} ({:?})", e.kind())),
                });
            }
        }
    }
}

/// What an exchange produced when it succeeded.
struct Good {
    /// The response asked to close the connection.
    close: bool,
}

/// Sends one GET for `file` and reads its response exactly (never beyond
/// it). Returns the write instant and the verdict.
fn exchange(
    stream: &mut TcpStream,
    file: &FileSpec,
    mode: Mode,
) -> (Option<Instant>, Result<Good, Failure>) {
    let request = match mode {
        Mode::KeepAlive => format!("GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n", file.name),
        Mode::PerRequest => format!(
            "GET /{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            file.name
        ),
    };
    if let Err(e) = stream.write_all(request.as_bytes()) {
        let ended = matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
        );
        return (
            None,
            Err(Failure {
                response_bytes: 0,
                connection_ended: ended,
                detail: format!("write failed: {e} ({:?})", e.kind()),
            }),
        );
    }
    let written = Instant::now();
    (Some(written), read_exact_response(stream, file))
}

fn read_exact_response(stream: &mut TcpStream, file: &FileSpec) -> Result<Good, Failure> {
    let fail = |bytes: usize, ended: bool, detail: String| Failure {
        response_bytes: bytes,
        connection_ended: ended,
        detail,
    };
    // Reads are not limited to the response: requests are never pipelined,
    // so any byte past the body is an error and is reported as one.
    let mut got: Vec<u8> = Vec::with_capacity(file.data.len() + 512);
    let mut buf = vec![0u8; 64 * 1024];
    let head_end = loop {
        if let Some(p) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if got.len() > 64 * 1024 {
            return Err(fail(got.len(), false, "response head over 64 KiB".into()));
        }
        match read_some(stream, &mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                let so_far = String::from_utf8_lossy(&got);
                return Err(e.failure(
                    got.len(),
                    |why| format!("connection ended ({why}) in the head after {so_far:?}"),
                    |why| format!("{why}; head so far {so_far:?}"),
                ));
            }
        }
    };
    let head = match ResponseReader::new(&got[..head_end]).read_head() {
        Ok(h) => h,
        Err(e) => return Err(fail(got.len(), false, format!("unparsable head: {e}"))),
    };
    let show_head = || {
        String::from_utf8_lossy(&got[..head_end])
            .trim_end()
            .replace("\r\n", " | ")
    };
    if head.status != 200 {
        return Err(fail(
            got.len(),
            false,
            format!("status {} instead of 200: {}", head.status, show_head()),
        ));
    }
    let expected_len = file.data.len();
    match head.header("Content-Length").map(str::trim) {
        Some(v) if v == expected_len.to_string() => {}
        other => {
            return Err(fail(
                got.len(),
                false,
                format!(
                    "Content-Length {other:?}, expected {expected_len}: {}",
                    show_head()
                ),
            ));
        }
    }
    let total = head_end + expected_len;
    while got.len() < total {
        match read_some(stream, &mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                let body = got.len() - head_end;
                return Err(e.failure(
                    got.len(),
                    |why| {
                        format!(
                            "TRUNCATED: connection ended ({why}) after {body} of {expected_len} body bytes"
                        )
                    },
                    |why| format!("{why} after {body} of {expected_len} body bytes"),
                ));
            }
        }
    }
    if got.len() > total {
        return Err(fail(
            got.len(),
            false,
            format!(
                "{} unexpected bytes after the body: {:?}",
                got.len() - total,
                String::from_utf8_lossy(&got[total..(total + 80).min(got.len())])
            ),
        ));
    }
    let body = &got[head_end..];
    if body != file.data.as_slice() {
        let at = body
            .iter()
            .zip(&file.data)
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        return Err(fail(
            got.len(),
            false,
            format!("WRONG BODY BYTES: first difference at offset {at}"),
        ));
    }
    Ok(Good {
        close: head.has_token("Connection", "close"),
    })
}

/// After a response with `Connection: close`, the server must close the
/// connection without sending anything more.
fn check_closed_after_close(stream: &mut TcpStream) -> Option<String> {
    let mut buf = [0u8; 1024];
    match read_some(stream, &mut buf) {
        Err(ReadErr::Ended(_)) => None,
        Ok(n) => Some(format!(
            "{n} bytes after a Connection: close response: {:?}",
            String::from_utf8_lossy(&buf[..n])
        )),
        Err(ReadErr::Stuck(why)) => Some(format!(
            "connection not closed after a Connection: close response: {why}"
        )),
    }
}

struct ClientResult {
    records: Vec<Record>,
    /// Protocol problems that are not per-request outcomes.
    problems: Vec<String>,
}

fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, CLIENT_IO_TIMEOUT)?;
    s.set_read_timeout(Some(CLIENT_IO_TIMEOUT))?;
    s.set_write_timeout(Some(CLIENT_IO_TIMEOUT))?;
    Ok(s)
}

/// One client: loops until a connection attempt fails (the server is gone)
/// or `stop_at` passes.
fn client(
    id: usize,
    mode: Mode,
    addr: SocketAddr,
    files: &[FileSpec],
    ok: &AtomicUsize,
    stop_at: Instant,
) -> ClientResult {
    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut conn: Option<TcpStream> = None;
    // Deterministic, different per client: xorshift over the file index.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1);
    for seq in 0.. {
        if Instant::now() >= stop_at {
            problems.push(format!(
                "client {id} ({mode:?}) still running after {CLIENT_LIMIT:?}: never refused"
            ));
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let file = &files[(x % files.len() as u64) as usize];
        let path = file.name;
        let reused = conn.is_some();
        let mut stream = match conn.take() {
            Some(s) => s,
            None => match connect(addr) {
                Ok(s) => s,
                Err(e) => {
                    records.push(Record {
                        client: id,
                        mode,
                        seq,
                        path,
                        reused,
                        written: None,
                        ended: Instant::now(),
                        outcome: Outcome::Refused(e),
                    });
                    break;
                }
            },
        };
        let (written, verdict) = exchange(&mut stream, file, mode);
        let ended = Instant::now();
        let outcome = match verdict {
            Ok(good) => {
                ok.fetch_add(1, Ordering::SeqCst);
                if mode == Mode::PerRequest && !good.close {
                    problems.push(format!(
                        "client {id} request #{seq}: no Connection: close in the answer to a \
                         Connection: close request"
                    ));
                }
                if good.close {
                    if let Some(p) = check_closed_after_close(&mut stream) {
                        problems.push(format!("client {id} ({mode:?}) request #{seq}: {p}"));
                    }
                } else if mode == Mode::KeepAlive {
                    conn = Some(stream);
                }
                Outcome::Ok
            }
            Err(f) => Outcome::Failed(f),
        };
        records.push(Record {
            client: id,
            mode,
            seq,
            path,
            reused,
            written,
            ended,
            outcome,
        });
    }
    ClientResult { records, problems }
}

struct Summary<'a> {
    records: &'a [Record],
    t_sig: Instant,
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "zero-loss summary (requests by when they were written):")?;
        for mode in [Mode::KeepAlive, Mode::PerRequest] {
            for before in [true, false] {
                let mut counts: Vec<(&str, usize)> = Vec::new();
                for r in self
                    .records
                    .iter()
                    .filter(|r| r.mode == mode && r.before(self.t_sig) == before)
                {
                    let c = r.category();
                    match counts.iter_mut().find(|(k, _)| *k == c) {
                        Some((_, n)) => *n += 1,
                        None => counts.push((c, 1)),
                    }
                }
                let reused = self
                    .records
                    .iter()
                    .filter(|r| r.mode == mode && r.before(self.t_sig) == before && r.reused)
                    .count();
                writeln!(
                    f,
                    "  {:<10} {:<16} {:?} (on reused connections: {reused})",
                    format!("{mode:?}"),
                    if before {
                        "before SIGTERM"
                    } else {
                        "after SIGTERM"
                    },
                    counts
                )?;
            }
        }
        let in_flight = self
            .records
            .iter()
            .filter(|r| r.before(self.t_sig) && r.ended >= self.t_sig)
            .count();
        writeln!(
            f,
            "  written before SIGTERM, finished after it (in flight): {in_flight}"
        )?;
        let unusual: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Ok))
            .collect();
        writeln!(f, "  non-OK requests ({}):", unusual.len())?;
        for r in unusual.iter().take(40) {
            writeln!(f, "    {}", r.describe(self.t_sig))?;
        }
        if unusual.len() > 40 {
            writeln!(f, "    ... and {} more", unusual.len() - 40)?;
        }
        Ok(())
    }
}

/// `N` in `... draining N connections ...`.
fn draining_count(stderr: &str) -> Option<usize> {
    let line = stderr.lines().find(|l| l.contains("shutdown signal"))?;
    let rest = &line[line.find("draining ")? + "draining ".len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// `(D, C, L)` in `stopped: D connections drained, C cut at the deadline (L accepted after the
/// signal)`.
fn stopped_counts(stderr: &str) -> Option<(usize, usize, usize)> {
    let line = stderr.lines().find(|l| l.contains("stopped: "))?;
    let rest = &line[line.find("stopped: ")? + "stopped: ".len()..];
    let mut words = rest.split_whitespace();
    let drained = words.next()?.parse().ok()?;
    if words.next()? != "connections" || words.next()? != "drained," {
        return None;
    }
    let cut = words.next()?.parse().ok()?;
    let late = rest
        .split('(')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    (rest.contains("cut at the deadline")).then_some((drained, cut, late))
}

#[test]
fn sigterm_under_load_loses_no_request() {
    let site = TempSite::new();
    let files: Arc<Vec<FileSpec>> = Arc::new(
        FILES
            .iter()
            .map(|&(name, len, seed)| {
                let data = xorshift_bytes(len, seed);
                std::fs::write(site.root().join(name), &data).unwrap();
                FileSpec { name, data }
            })
            .collect(),
    );
    let mut server = Binary::serving(site.root())
        .args(["--shutdown-timeout", "10s", "--workers", "2"])
        .spawn();
    let addr = server.addr;

    let modes = [
        Mode::KeepAlive,
        Mode::PerRequest,
        Mode::KeepAlive,
        Mode::PerRequest,
        Mode::KeepAlive,
        Mode::PerRequest,
    ];
    let ok_counts: Arc<Vec<AtomicUsize>> =
        Arc::new(modes.iter().map(|_| AtomicUsize::new(0)).collect());
    let stop_at = Instant::now() + CLIENT_LIMIT;
    let clients: Vec<_> = modes
        .iter()
        .enumerate()
        .map(|(id, &mode)| {
            let files = files.clone();
            let ok_counts = ok_counts.clone();
            thread::Builder::new()
                .name(format!("client-{id}"))
                .spawn(move || client(id, mode, addr, &files, &ok_counts[id], stop_at))
                .unwrap()
        })
        .collect();

    // ~1.5 s of load; then make sure there is enough of it (every client has
    // succeeded at least once and more than 50 in all), bounded.
    thread::sleep(LOAD_BEFORE_SIGNAL);
    let warm_start = Instant::now();
    loop {
        let each = ok_counts.iter().all(|c| c.load(Ordering::SeqCst) > 0);
        let total: usize = ok_counts.iter().map(|c| c.load(Ordering::SeqCst)).sum();
        if (each && total >= MIN_OK_BEFORE_SIGNAL) || warm_start.elapsed() > WARM_UP_LIMIT {
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }

    let t_sig = Instant::now();
    server.signal(libc::SIGTERM);
    let status = server.wait_timeout(EXIT_LIMIT);
    let exit_after = t_sig.elapsed();
    if status.is_none() {
        // Do not leave it running; the clients then end on refused connects.
        send_signal(server.pid(), libc::SIGKILL);
        let _ = server.child.wait();
    }

    let mut records = Vec::new();
    let mut problems = Vec::new();
    let mut last_outcomes = Vec::new();
    for (id, handle) in clients.into_iter().enumerate() {
        let result = handle.join().expect("client thread panicked");
        last_outcomes.push((
            id,
            result
                .records
                .last()
                .map(|r| (matches!(r.outcome, Outcome::Refused(_)), r.ended >= t_sig)),
        ));
        records.extend(result.records);
        problems.extend(result.problems);
    }
    server.drain_pipes();
    let stderr = server.stderr();

    let summary = Summary {
        records: &records,
        t_sig,
    };
    eprintln!("{summary}");
    eprintln!("process exit {status:?} {exit_after:?} after SIGTERM; stderr:\n{stderr}");

    // Sanity: real load before the signal, of both kinds.
    let ok_before = |mode: Mode| {
        records
            .iter()
            .filter(|r| r.mode == mode && r.before(t_sig) && matches!(r.outcome, Outcome::Ok))
            .count()
    };
    let reused_before = records
        .iter()
        .filter(|r| r.reused && r.before(t_sig) && matches!(r.outcome, Outcome::Ok))
        .count();
    assert!(
        ok_before(Mode::KeepAlive) + ok_before(Mode::PerRequest) > 50,
        "only {} + {} requests succeeded before the signal",
        ok_before(Mode::KeepAlive),
        ok_before(Mode::PerRequest)
    );
    assert!(ok_before(Mode::KeepAlive) > 0 && ok_before(Mode::PerRequest) > 0);
    assert!(
        reused_before > 0,
        "keep-alive clients never reused a connection"
    );

    // The core property: nothing sent before the signal was lost.
    let lost: Vec<String> = records
        .iter()
        .filter(|r| r.before(t_sig) && !matches!(r.outcome, Outcome::Ok))
        .map(|r| r.describe(t_sig))
        .collect();
    assert!(
        lost.is_empty(),
        "{} request(s) sent before SIGTERM were not answered completely:\n{}",
        lost.len(),
        lost.join("\n")
    );

    // After the signal: OK, refused, or the connection ended before any byte
    // of a response. Never a partial or wrong response, never a hang.
    let bad_after: Vec<String> = records
        .iter()
        .filter(|r| !r.before(t_sig))
        .filter(|r| match &r.outcome {
            Outcome::Ok | Outcome::Refused(_) => false,
            Outcome::Failed(f) => f.response_bytes > 0 || !f.connection_ended,
        })
        .map(|r| r.describe(t_sig))
        .collect();
    assert!(
        bad_after.is_empty(),
        "request(s) sent after SIGTERM got a partial/wrong response or hung:\n{}",
        bad_after.join("\n")
    );

    assert!(
        problems.is_empty(),
        "protocol problems:\n{}",
        problems.join("\n")
    );

    // Every client ended on a refused connection attempt after the signal.
    for (id, last) in &last_outcomes {
        assert_eq!(
            *last,
            Some((true, true)),
            "client {id} did not end on a connection refused after SIGTERM"
        );
    }
    // A connect racing the listener's close may see its handshake completed by the kernel and
    // reset an instant later, before the client thread polled it (std's connect_timeout then
    // reports ECONNRESET from SO_ERROR): the same for a client as refused, and possible with
    // any server that closes its listener. A timeout, or any of it before the signal, is not.
    let refused_kinds: Vec<String> = records
        .iter()
        .filter_map(|r| match &r.outcome {
            Outcome::Refused(e) => {
                let raced_the_close = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) && r.ended >= t_sig;
                (e.kind() != io::ErrorKind::ConnectionRefused && !raced_the_close)
                    .then(|| r.describe(t_sig))
            }
            _ => None,
        })
        .collect();
    assert!(
        refused_kinds.is_empty(),
        "connection attempts failed other than by being refused:\n{}",
        refused_kinds.join("\n")
    );

    // The process: exit 0 within the limit, both log lines.
    let status = status.unwrap_or_else(|| {
        panic!("the process did not exit within {EXIT_LIMIT:?} of SIGTERM; stderr: {stderr}")
    });
    assert_eq!(status.code(), Some(0), "exit status {status:?}");
    let n = draining_count(&stderr)
        .unwrap_or_else(|| panic!("no `shutdown signal ... draining N connections` line"));
    let (drained, cut, late) = stopped_counts(&stderr).unwrap_or_else(|| {
        panic!("no `stopped: D connections drained, C cut at the deadline (L accepted ...)` line")
    });
    assert_eq!(
        cut, 0,
        "connections cut at the deadline although every client reads promptly"
    );
    assert_eq!(
        drained + cut,
        n + late,
        "the stopped line does not account for the {n} connections open at the signal and the \
         {late} accepted after it"
    );
}
