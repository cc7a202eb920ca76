//! Graceful shutdown: of the binary via SIGTERM/SIGINT, and in-process via
//! `ShutdownHandle`.

mod support;

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

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
    let (tx, rx) = mpsc::channel();
    let joiner = thread::spawn(move || {
        let r = running.join();
        let _ = tx.send(r.is_ok());
    });
    handle.shutdown();
    let joined = rx.recv_timeout(Duration::from_secs(5));
    if joined.is_err() {
        // do not leave the server running: immediate stop
        handle.shutdown();
    }
    let _ = joiner.join();
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
    let (tx, rx) = mpsc::channel();
    let joiner = thread::spawn(move || {
        let _ = tx.send(running.join().is_ok());
    });
    let joined = rx.recv_timeout(Duration::from_secs(5));
    if joined.is_err() {
        handle.shutdown();
    }
    let _ = joiner.join();
    assert_eq!(joined, Ok(true));
}

#[test]
fn in_process_second_shutdown_stops_immediately() {
    let mut sha = String::new();
    let mut s = TestServer::build()
        .site(|site| sha = write_random_file(&site.root().join("big.bin"), BIG, 7))
        .config(|c| c.shutdown_timeout = Duration::from_secs(60))
        .start();
    assert!(!sha.is_empty());
    // A download that stalls (the client never reads the body).
    let mut stalled = s.reader();
    stalled.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = stalled.read_head().expect("head");
    assert_eq!(head.status, 200);

    let running = s.take_running();
    let handle = running.shutdown_handle();
    let (tx, rx) = mpsc::channel();
    let joiner = thread::spawn(move || {
        let _ = tx.send(running.join().is_ok());
    });
    handle.shutdown();
    // Graceful: the stalled download keeps it alive for now.
    assert!(
        rx.recv_timeout(Duration::from_millis(500)).is_err(),
        "join() returned while a response was still in flight"
    );
    handle.shutdown();
    let joined = rx.recv_timeout(Duration::from_secs(3));
    let _ = joiner.join();
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
        .config(|c| c.shutdown_timeout = Duration::from_secs(30))
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
    let (tx, rx) = mpsc::channel();
    let joiner = thread::spawn(move || {
        let _ = tx.send(running.join().is_ok());
    });
    let dl = download.join().unwrap().expect("download after shutdown()");
    assert_eq!(dl.sha256, sha);
    let joined = rx.recv_timeout(Duration::from_secs(10));
    if joined.is_err() {
        handle.shutdown();
    }
    let _ = joiner.join();
    assert_eq!(joined, Ok(true));
}
