//! The client side: connections with timeouts, raw and formatted requests,
//! pipelined pairs, a deliberately slow download, waiting for a listener to
//! close, and abortive closes.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::codec::hex;
use super::response::{Response, ResponseReader};

/// Read/write timeout used on every client socket.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to `addr` with `IO_TIMEOUT` on connect, read and write.
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
    r.try_read_response_to(raw)
        .unwrap_or_else(|e| panic!("request {raw:?}: {e}"))
}

/// `GET path HTTP/1.1` with a Host header, ending the head.
pub fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

/// `METHOD path HTTP/1.1` with a Host header and `headers`, ending the head.
pub fn request_with(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (k, v) in headers {
        write!(raw, "{k}: {v}\r\n").unwrap();
    }
    raw.push_str("\r\n");
    raw
}

/// Sends `first` and `second` pipelined on one connection and reads both
/// responses; the second is always a GET, so a body wrongly sent on the
/// first (e.g. on a 304 or a HEAD) shows up as garbage before its status
/// line and fails the read.
pub fn pipelined_pair(addr: SocketAddr, first: &str, second_path: &str) -> (Response, Response) {
    let mut r = ResponseReader::new(connect_to(addr));
    r.send(format!("{first}{}", get_request(second_path)));
    let a = r
        .try_read_response_to(first)
        .unwrap_or_else(|e| panic!("first response to {first:?}: {e}"));
    let b = r
        .try_read_response()
        .unwrap_or_else(|e| panic!("the response after {a} must start right after its head: {e}"));
    (a, b)
}

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
    let mut stream = reader.into_inner();
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

/// Polls `addr` (a connect with a 500 ms timeout, then 10 ms apart) until a
/// connection is refused or `limit` passes; whether it was refused. A
/// server that has begun to shut down closes its listener first.
pub fn wait_until_refused(addr: SocketAddr, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
            Err(_) => return true,
            Ok(c) => {
                drop(c);
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
    false
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
