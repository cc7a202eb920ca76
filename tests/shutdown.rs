//! Graceful shutdown: of the binary via SIGTERM/SIGINT, and in-process via
//! `ShutdownHandle`; the health probe's 503 while draining.

mod support;

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use muxserve::{Running, ShutdownHandle};
use support::*;

const BIG: usize = 50 * 1024 * 1024;

/// Opens `n` connections that have each completed one request, i.e. idle
/// keep-alive connections.
fn idle_keep_alive(addr: std::net::SocketAddr, n: usize) -> Vec<ResponseReader<TcpStream>> {
    (0..n)
        .map(|i| {
            let mut r = ResponseReader::new(connect_to(addr));
            r.send(get_request("/style.css"));
            let resp = r.read_response();
            assert_eq!(resp.status, 200, "warm-up request #{i}");
            r
        })
        .collect()
}

fn assert_all_closed(conns: &mut [ResponseReader<TcpStream>]) {
    for (i, r) in conns.iter_mut().enumerate() {
        r.set_read_timeout(Duration::from_secs(5));
        let outcome = r.poll();
        assert!(
            outcome.is_closed(),
            "idle connection #{i} not closed on shutdown: {outcome:?}"
        );
    }
}

/// `Running::join` on its own thread, so a test can bound its wait for it.
struct Joining {
    handle: ShutdownHandle,
    joined: mpsc::Receiver<bool>,
    thread: thread::JoinHandle<()>,
}

fn join_in_background(running: Running) -> Joining {
    let handle = running.shutdown_handle();
    let (tx, joined) = mpsc::channel();
    let thread = thread::spawn(move || {
        let _ = tx.send(running.join().is_ok());
    });
    Joining {
        handle,
        joined,
        thread,
    }
}

impl Joining {
    /// Whether `join()` returned `Ok`, if it returned within `limit`.
    fn wait(&self, limit: Duration) -> Result<bool, mpsc::RecvTimeoutError> {
        self.joined.recv_timeout(limit)
    }

    /// `wait(limit)`; if `join()` has not returned by then, a further
    /// `shutdown()` stops the server at once. The join thread is reaped.
    fn finish(self, limit: Duration) -> Result<bool, mpsc::RecvTimeoutError> {
        let joined = self.wait(limit);
        if joined.is_err() {
            self.handle.shutdown();
        }
        let _ = self.thread.join();
        joined
    }
}

#[test]
fn sigterm_during_slow_download_finishes_it_and_refuses_new_connections() {
    let site = TempSite::new();
    let sha = write_random_file(&site.root().join("big.bin"), BIG, 0xdead_beef_cafe_f00d);
    let mut server = Binary::serving(site.root())
        .args(["--shutdown-timeout", "30s", "--workers", "2"])
        .spawn();
    let pid = server.pid();
    let addr = server.addr;

    let signalled = Arc::new(AtomicBool::new(false));
    let probe_done = Arc::new(AtomicBool::new(false));
    let received_at_refusal = Arc::new(AtomicU64::new(0));
    let received_now = Arc::new(AtomicU64::new(0));

    let download = {
        let signalled = signalled.clone();
        let probe_done = probe_done.clone();
        let received_now = received_now.clone();
        thread::spawn(move || {
            let stream = connect_to(addr);
            let mut hold_since: Option<Instant> = None;
            slow_download(stream, "/big.bin", |got| {
                received_now.store(got, Ordering::SeqCst);
                if got >= 5 * 1024 * 1024 && !signalled.load(Ordering::SeqCst) {
                    send_signal(pid, libc::SIGTERM);
                    signalled.store(true, Ordering::SeqCst);
                    hold_since = Some(Instant::now());
                }
                // After the signal, dawdle until the main thread has probed
                // the listener (at most 5 s), so the download is provably
                // still in flight at that moment.
                if let Some(t) = hold_since {
                    if !probe_done.load(Ordering::SeqCst) && t.elapsed() < Duration::from_secs(5) {
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
    };

    // Wait for the signal to be sent (bounded).
    let start = Instant::now();
    while !signalled.load(Ordering::SeqCst) {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "download never reached 5 MiB"
        );
        thread::sleep(Duration::from_millis(5));
    }
    // New connection attempts must start failing quickly.
    let refused = wait_until_refused(addr, Duration::from_secs(3));
    received_at_refusal.store(received_now.load(Ordering::SeqCst), Ordering::SeqCst);
    let still_running = server.child.try_wait().unwrap().is_none();
    probe_done.store(true, Ordering::SeqCst);
    assert!(
        refused,
        "connections were still accepted 3 s after SIGTERM (stderr: {})",
        server.stderr()
    );
    assert!(
        still_running,
        "the process exited before the in-flight download finished"
    );
    assert!(
        received_at_refusal.load(Ordering::SeqCst) < BIG as u64,
        "download already complete when the listener was probed"
    );

    let dl = download
        .join()
        .unwrap()
        .expect("the in-flight download must complete after SIGTERM");
    assert_eq!(dl.received, BIG as u64);
    assert_eq!(dl.sha256, sha, "download corrupted during shutdown");

    let status = server
        .wait_timeout(Duration::from_secs(30))
        .expect("process did not exit after the download finished");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr: {}",
        server.stderr()
    );
}

fn idle_only_signal_exits_quickly(sig: i32) {
    let site = TempSite::new();
    let mut server = Binary::serving(site.root()).spawn();
    let mut conns = idle_keep_alive(server.addr, 5);
    let sent = Instant::now();
    server.signal(sig);
    let status = server.wait_timeout(Duration::from_secs(10));
    let took = sent.elapsed();
    let status = status.expect("process did not exit within 10 s");
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status:?}; stderr: {}",
        server.stderr()
    );
    assert!(
        took <= Duration::from_secs(1),
        "with only idle connections the process should exit within 1 s, took {took:?}"
    );
    assert_all_closed(&mut conns);
}

#[test]
fn sigterm_with_only_idle_connections_exits_fast() {
    idle_only_signal_exits_quickly(libc::SIGTERM);
}

#[test]
fn sigint_with_only_idle_connections_exits_fast() {
    idle_only_signal_exits_quickly(libc::SIGINT);
}

#[test]
fn sigterm_with_no_connections_exits_zero() {
    let site = TempSite::new();
    let mut server = Binary::serving(site.root()).spawn();
    assert_eq!(server.request(&get_request("/")).status, 200);
    server.signal(libc::SIGTERM);
    let status = server
        .wait_timeout(Duration::from_secs(5))
        .expect("no exit within 5 s");
    assert!(status.success(), "{status:?}");
}

#[test]
fn in_process_shutdown_with_idle_connections_joins() {
    let mut s = TestServer::start();
    let mut conns = idle_keep_alive(s.addr(), 5);
    let running = s.take_running();
    let handle = running.shutdown_handle();
    let joining = join_in_background(running);
    handle.shutdown();
    let joined = joining.finish(Duration::from_secs(5));
    assert_eq!(
        joined,
        Ok(true),
        "join() must return Ok within 5 s after shutdown()"
    );
    assert_all_closed(&mut conns);
    assert!(
        TcpStream::connect_timeout(&s.addr(), Duration::from_secs(2)).is_err(),
        "still accepting after join()"
    );
}

#[test]
fn in_process_shutdown_handle_is_clone_and_send() {
    let mut s = TestServer::start();
    let running = s.take_running();
    let handle = running.shutdown_handle();
    let clone = handle.clone();
    thread::spawn(move || clone.shutdown()).join().unwrap();
    let joined = join_in_background(running).finish(Duration::from_secs(5));
    assert_eq!(joined, Ok(true));
}

#[test]
fn in_process_second_shutdown_stops_immediately() {
    let mut sha = String::new();
    let mut s = TestServer::build()
        .site(|site| sha = write_random_file(&site.root().join("big.bin"), BIG, 7))
        .config(|c| c.timeouts.shutdown = Duration::from_secs(60))
        .start();
    assert!(!sha.is_empty());
    // A download that stalls (the client never reads the body).
    let mut stalled = s.reader();
    stalled.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = stalled.read_head().expect("head");
    assert_eq!(head.status, 200);

    let running = s.take_running();
    let handle = running.shutdown_handle();
    let joining = join_in_background(running);
    handle.shutdown();
    // Graceful: the stalled download keeps it alive for now.
    assert!(
        joining.wait(Duration::from_millis(500)).is_err(),
        "join() returned while a response was still in flight"
    );
    handle.shutdown();
    let joined = joining.finish(Duration::from_secs(3));
    assert!(
        joined.is_ok(),
        "a second shutdown() must stop immediately, join() still blocked"
    );
    drop(stalled);
}

#[test]
fn in_process_graceful_shutdown_completes_in_flight_download() {
    let mut sha = String::new();
    let mut s = TestServer::build()
        .site(|site| sha = write_random_file(&site.root().join("big.bin"), BIG, 11))
        .config(|c| c.timeouts.shutdown = Duration::from_secs(30))
        .start();
    let running = s.take_running();
    let handle = running.shutdown_handle();
    let addr = s.addr();
    let (started_tx, started_rx) = mpsc::channel();
    let download = thread::spawn(move || {
        let mut started = Some(started_tx);
        slow_download(connect_to(addr), "/big.bin", |got| {
            if got >= 4 * 1024 * 1024 {
                if let Some(tx) = started.take() {
                    let _ = tx.send(());
                }
            }
        })
    });
    started_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("download did not start");
    handle.shutdown();
    let joining = join_in_background(running);
    let dl = download.join().unwrap().expect("download after shutdown()");
    assert_eq!(dl.sha256, sha);
    let joined = joining.finish(Duration::from_secs(10));
    assert_eq!(joined, Ok(true));
}

#[test]
fn health_path_answers_503_draining_during_shutdown() {
    let mut s = TestServer::build()
        .config(|c| c.site.health_path = Some(HEALTH.into()))
        .start();
    let addr = s.addr();
    let mut conn = s.reader();
    conn.set_read_timeout(Duration::from_secs(10));
    conn.send(get_request(HEALTH));
    let warm = conn.read_response();
    assert_ok_probe(&warm, true);
    assert!(!warm.has_token("Connection", "close"), "{warm}");

    // The next request, all but its final CRLF: it completes only once the
    // server is provably draining. A connection in the middle of a request
    // keeps its header timeout (15 s) through the drain, so this does not
    // race the 300 ms grace given to idle connections.
    conn.send(format!("GET {HEALTH} HTTP/1.1\r\nHost: localhost\r\n"));

    let running = s.take_running();
    let handle = running.shutdown_handle();
    let joining = join_in_background(running);
    handle.shutdown();

    // The listener closes when the drain begins (after the draining flag is
    // set): wait for new connections to be refused.
    let refused = wait_until_refused(addr, Duration::from_secs(5));

    let resp = if refused {
        conn.send("\r\n");
        Some(conn.try_read_response())
    } else {
        None
    };
    let closed = resp.as_ref().map(|_| conn.poll());

    // Stop the server whatever happened above, bounded.
    let joined = joining.finish(Duration::from_secs(5));

    assert!(refused, "still accepting connections 5 s after shutdown()");
    let resp = resp
        .unwrap()
        .expect("no response to the probe while draining");
    resp.assert_common_headers();
    assert_eq!(resp.status, 503, "{resp}");
    assert_eq!(resp.body, b"draining\n", "{resp}");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "{resp}"
    );
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp}");
    assert!(
        resp.has_token("Connection", "close"),
        "a response while draining must close the connection: {resp}"
    );
    let closed = closed.unwrap();
    assert!(
        closed.is_closed(),
        "connection not closed after the draining answer: {closed:?}"
    );
    assert_eq!(
        joined,
        Ok(true),
        "join() must return Ok within 5 s once the last connection closed"
    );
}

/// A client that connected before the signal and sends its request just after it is answered,
/// as an idle keep-alive connection would be. Linux holds a connection that has sent nothing out
/// of the accept queue (`TCP_DEFER_ACCEPT`), so the drain cannot take it from the backlog: the
/// listener stays open through the idle grace, and closing it at the signal reset this client.
#[test]
fn a_connection_that_had_sent_nothing_at_the_signal_is_answered() {
    let mut s = TestServer::start();
    let mut conn = ResponseReader::new(connect_to(s.addr()));
    // Long enough for the handshake to be done and the connection deferred, well within the
    // kernel's one-second deferral.
    thread::sleep(Duration::from_millis(150));
    let running = s.take_running();
    let handle = running.shutdown_handle();
    let joining = join_in_background(running);
    handle.shutdown();
    thread::sleep(Duration::from_millis(50));
    conn.send(get_request("/style.css"));
    let resp = conn.try_read_response();
    let joined = joining.finish(Duration::from_secs(5));
    let resp = resp.expect("the request sent 50 ms after the signal was not answered");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(conn.poll().is_closed(), "not closed after the answer");
    assert_eq!(joined, Ok(true), "join() did not return within 5 s");
}
