//! Clients that break the exchange: resets in the middle of a request or a
//! response, half-closes, bytes after `Connection: close`, bodies cut short.
//! Each scenario runs 50 times against its own muxserve process; afterwards
//! the process must hold no more descriptors than before (polled for up to
//! 3 s), its RSS must not have grown by more than a few MiB, and a normal GET
//! must still work.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use support::*;

const ROUNDS: usize = 50;
/// Allowed RSS growth over a scenario's 50 rounds.
const RSS_SLACK_KIB: u64 = 4 * 1024;
const BIG: &str = "/big.bin";
const BIG_LEN: usize = 20 * 1024 * 1024;
const MID: &str = "/mid.bin";
const MID_LEN: usize = 1024 * 1024;

/// A muxserve process over a fixture site with a 20 MB and a 1 MB file,
/// warmed up, with its descriptor and RSS baselines.
struct Subject {
    server: BinaryServer,
    _site: TempSite,
    big_sha: String,
    mid: Vec<u8>,
    fds: usize,
    rss_kib: u64,
}

impl Subject {
    fn start() -> Subject {
        let site = TempSite::new();
        let big_sha = write_random_file(&site.root().join("big.bin"), BIG_LEN, 0x5eed);
        write_random_file(&site.root().join("mid.bin"), MID_LEN, 0xfeed);
        let mid = std::fs::read(site.root().join("mid.bin")).unwrap();
        let server = Binary::serving(site.root())
            .args(["--workers", "2"])
            .spawn();
        let mut s = Subject {
            server,
            _site: site,
            big_sha,
            mid,
            fds: 0,
            rss_kib: 0,
        };
        // Warm-up: every kind of response the scenarios provoke, once, so
        // first-use allocations (thread buffers, date caches) are in the baseline.
        s.check_get();
        let resp = s.server.request(&get_request(MID));
        assert_eq!(resp.status, 200);
        let dl = slow_download(s.server.connect(), BIG, |_| {}).expect("warm-up download");
        assert_eq!(dl.sha256, s.big_sha, "the 20 MB file arrived corrupted");
        let resp = s.server.request(&request_with("POST", "/index.html", &[]));
        assert_eq!(resp.status, 405, "{resp}");
        thread::sleep(Duration::from_millis(200));
        s.fds = proc_fd_count(s.pid());
        s.rss_kib = proc_rss_kib(s.pid());
        s
    }

    fn pid(&self) -> i32 {
        self.server.pid()
    }

    fn connect(&self) -> TcpStream {
        self.server.connect()
    }

    fn check_get(&self) {
        let resp = self.server.request(&get_request("/index.html"));
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.body, fixture("index.html"));
    }

    /// After a scenario: alive, descriptors back to baseline within 3 s,
    /// RSS within the slack, a normal GET works.
    fn check_no_leak(&self, scenario: &str) {
        let pid = self.pid();
        let mut server_alive = self.server.stderr();
        server_alive.truncate(2000);
        assert!(
            std::fs::metadata(format!("/proc/{pid}")).is_ok(),
            "{scenario}: muxserve is gone; stderr: {server_alive}"
        );
        let fds = wait_fd_count_at_most(pid, self.fds, Duration::from_secs(3));
        let rss = proc_rss_kib(pid);
        eprintln!(
            "{scenario}: fds baseline {} -> {}; RSS {} KiB -> {} KiB ({:+} KiB)",
            self.fds,
            match fds {
                Ok(t) => format!("back in {t:?}"),
                Err(n) => format!("STILL {n} after 3 s"),
            },
            self.rss_kib,
            rss,
            rss as i64 - self.rss_kib as i64
        );
        assert!(
            fds.is_ok(),
            "{scenario}: the server holds {} descriptors 3 s after {ROUNDS} rounds (baseline {}); \
             /proc/{pid}/fd: {:?}",
            fds.unwrap_err(),
            self.fds,
            list_fds(pid)
        );
        assert!(
            rss <= self.rss_kib + RSS_SLACK_KIB,
            "{scenario}: RSS grew from {} KiB to {rss} KiB over {ROUNDS} rounds",
            self.rss_kib
        );
        self.check_get();
    }
}

fn list_fds(pid: i32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    let target = std::fs::read_link(e.path())
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                    format!("{}->{target}", e.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn reset_in_the_middle_of_a_request_head() {
    let s = Subject::start();
    let head = get_request("/index.html");
    let half = &head.as_bytes()[..head.len() / 2];
    for i in 0..ROUNDS {
        let mut c = s.connect();
        c.write_all(half).unwrap();
        // Alternate: reset at once, or after the server has read the half head.
        if i % 2 == 1 {
            thread::sleep(Duration::from_millis(5));
        }
        reset_close(c);
    }
    s.check_no_leak("reset mid-request");
}

#[test]
fn reset_in_the_middle_of_a_20mb_response() {
    let s = Subject::start();
    for i in 0..ROUNDS {
        let mut c = s.connect();
        c.write_all(get_request(BIG).as_bytes()).unwrap();
        let mut got = 0usize;
        let mut buf = vec![0u8; 16 * 1024];
        while got < 100 * 1024 {
            match c.read(&mut buf) {
                Ok(0) => panic!("round {i}: EOF after {got} bytes of a 20 MB response"),
                Ok(n) => got += n,
                Err(e) => panic!("round {i}: {e} after {got} bytes of a 20 MB response"),
            }
        }
        reset_close(c);
    }
    s.check_no_leak("reset mid-response (20 MB, 100 KB read)");
}

#[test]
fn half_close_after_the_request_still_gets_the_response_then_eof() {
    let s = Subject::start();
    for i in 0..ROUNDS {
        // Alternate a small file and a 1 MB one (which cannot fit in one write).
        let (path, want) = if i % 2 == 0 {
            ("/index.html", fixture("index.html"))
        } else {
            (MID, s.mid.clone())
        };
        let c = s.connect();
        let mut r = ResponseReader::new(c);
        r.send(get_request(path));
        r.get_ref().shutdown(Shutdown::Write).unwrap();
        let resp = r
            .try_read_response()
            .unwrap_or_else(|e| panic!("round {i}: GET {path} then shutdown(Write): {e}"));
        assert_eq!(resp.status, 200, "round {i}: {resp}");
        assert!(resp.body == want, "round {i}: body of {path} differs");
        r.set_read_timeout(Duration::from_secs(5));
        match r.poll() {
            ReadOutcome::Eof => {}
            other => panic!(
                "round {i}: after the response to a half-closed client expected EOF, got {other:?}"
            ),
        }
    }
    s.check_no_leak("half-close after request");
}

#[test]
fn bytes_after_connection_close_are_ignored() {
    let s = Subject::start();
    let first = request_with("GET", "/index.html", &[("Connection", "close")]);
    let extra = format!("{}junk that is not HTTP\r\n\r\n", get_request("/style.css"));
    let (mut eofs, mut resets) = (0, 0);
    for i in 0..ROUNDS {
        let mut r = ResponseReader::new(s.connect());
        // Alternate: the extra bytes in the same write, or a moment later.
        let delayed = i % 2 == 1;
        if delayed {
            r.send(&first);
            thread::sleep(Duration::from_millis(2));
            // The server may have closed already; a failed write is fine.
            let _ = r.get_mut().write_all(extra.as_bytes());
        } else {
            r.send(format!("{first}{extra}"));
        }
        let resp = r
            .try_read_response()
            .unwrap_or_else(|e| panic!("round {i} (delayed: {delayed}): {e}"));
        assert_eq!(resp.status, 200, "round {i}: {resp}");
        assert_eq!(resp.body, fixture("index.html"), "round {i}");
        assert!(resp.has_token("Connection", "close"), "round {i}: {resp}");
        r.set_read_timeout(Duration::from_secs(5));
        match r.poll() {
            ReadOutcome::Eof => eofs += 1,
            // When the extra bytes reach a socket the server already closed, its
            // kernel answers with a RST; what matters is that no response follows.
            ReadOutcome::Reset if delayed => resets += 1,
            other => panic!(
                "round {i} (delayed: {delayed}): after the Connection: close response expected EOF, got {other:?}"
            ),
        }
    }
    eprintln!("bytes after Connection: close: {eofs} EOF, {resets} reset after the response");
    s.check_no_leak("bytes after Connection: close");
}

#[test]
fn body_cut_short_by_the_client() {
    let s = Subject::start();
    let partial = vec![b'x'; 10_000];
    for i in 0..ROUNDS {
        let method = if i % 2 == 0 { "GET" } else { "POST" };
        let head = format!(
            "{method} /index.html HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n\r\n"
        );
        let mut c = s.connect();
        c.write_all(head.as_bytes()).unwrap();
        c.write_all(&partial).unwrap();
        match i % 3 {
            // Plain close (FIN) with 90 000 body bytes missing.
            0 => drop(c),
            // Abortive close.
            1 => reset_close(c),
            // Half-close: the answer (already due after the head) arrives, then EOF.
            _ => {
                c.shutdown(Shutdown::Write).unwrap();
                let mut r = ResponseReader::new(c);
                let resp = r
                    .try_read_response()
                    .unwrap_or_else(|e| panic!("round {i} ({method}): {e}"));
                let want = if method == "GET" { 200 } else { 405 };
                assert_eq!(resp.status, want, "round {i}: {resp}");
                r.set_read_timeout(Duration::from_secs(5));
                let rest = r.read_rest();
                assert!(
                    rest.is_empty(),
                    "round {i}: bytes after the response: {:?}",
                    String::from_utf8_lossy(&rest)
                );
            }
        }
    }
    s.check_no_leak("body cut short");
}

#[test]
fn all_broken_clients_interleaved_in_parallel() {
    // The five kinds at once from four threads, so resets land while other
    // connections are mid-flight on the same workers.
    let s = Subject::start();
    let addr = s.server.addr;
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..ROUNDS / 2 {
                    let mut c = connect_to(addr);
                    match (t + i) % 4 {
                        0 => {
                            c.write_all(b"GET /index.html HTTP/1.1\r\nHo").unwrap();
                            reset_close(c);
                        }
                        1 => {
                            c.write_all(get_request(BIG).as_bytes()).unwrap();
                            let mut buf = vec![0u8; 100 * 1024];
                            let _ = c.read_exact(&mut buf);
                            reset_close(c);
                        }
                        2 => {
                            c.write_all(get_request("/index.html").as_bytes()).unwrap();
                            c.shutdown(Shutdown::Write).unwrap();
                            let mut r = ResponseReader::new(c);
                            let resp = r.read_response();
                            assert_eq!(resp.status, 200);
                        }
                        _ => {
                            c.write_all(
                                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\nabc",
                            )
                            .unwrap();
                            drop(c);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    eprintln!(
        "interleaved: {} connections in {:?}",
        4 * (ROUNDS / 2),
        started.elapsed()
    );
    s.check_no_leak("interleaved");
}
