//! Keep-alive and header timeouts (configured to 1 s).

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

fn one_second_server() -> TestServer {
    TestServer::build()
        .config(|c| {
            c.timeouts.header = Duration::from_secs(1);
            c.timeouts.keep_alive = Duration::from_secs(1);
        })
        .start()
}

/// Waits (bounded by the socket's read timeout) until the server closes the
/// connection; returns how long that took. Panics on data or timeout.
fn time_until_closed(r: &mut ResponseReader<std::net::TcpStream>, start: Instant) -> Duration {
    let mut got = Vec::new();
    loop {
        match r.poll() {
            ReadOutcome::Eof | ReadOutcome::Reset => return start.elapsed(),
            // a 408 before closing is acceptable, nothing else
            ReadOutcome::Data(d) => {
                got.extend(d);
                assert!(
                    got.starts_with(b"HTTP/1.1 408") || b"HTTP/1.1 408".starts_with(&got[..]),
                    "unexpected bytes while waiting for the close: {:?}",
                    String::from_utf8_lossy(&got)
                );
            }
            ReadOutcome::TimedOut => panic!(
                "connection still open {:?} after it went idle",
                start.elapsed()
            ),
            ReadOutcome::Other(e) => panic!("read error: {e}"),
        }
    }
}

/// Asserts the server closes `r` between 500 ms and 3 s after `start`: a 1 s
/// timeout, with room for a loaded machine.
fn assert_closed_about_a_second_after(r: &mut ResponseReader<std::net::TcpStream>, start: Instant) {
    let waited = time_until_closed(r, start);
    assert!(
        waited >= Duration::from_millis(500),
        "closed after {waited:?}: too early for a 1 s timeout"
    );
    assert!(
        waited <= Duration::from_secs(3),
        "closed after {waited:?}: a 1 s timeout should close within ~3 s"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed_after_timeout() {
    let s = one_second_server();
    let mut r = s.reader();
    r.send(get_request("/style.css"));
    let resp = r.read_response();
    assert_eq!(resp.status, 200);
    let idle_since = Instant::now();
    assert_closed_about_a_second_after(&mut r, idle_since);
}

#[test]
fn activity_resets_keep_alive_timer() {
    let s = one_second_server();
    let mut r = s.reader();
    // 5 requests 600 ms apart: 3 s in total, each gap under the timeout.
    for i in 0..5 {
        r.send(get_request("/style.css"));
        let resp = r.read_response();
        assert_eq!(resp.status, 200, "request #{i}");
        thread::sleep(Duration::from_millis(600));
    }
}

#[test]
fn silent_connection_is_closed() {
    // A client that connects and never sends anything.
    let s = one_second_server();
    let mut r = s.reader();
    let start = Instant::now();
    assert_closed_about_a_second_after(&mut r, start);
}

#[test]
fn partial_head_is_cut_off_after_header_timeout() {
    let s = one_second_server();
    let mut r = s.reader();
    r.send("GET / HTTP/1.1\r\nHost: x\r\n");
    let start = Instant::now();
    assert_closed_about_a_second_after(&mut r, start);
}

#[test]
fn slowloris_is_cut_off_while_others_are_served() {
    let s = TestServer::build()
        .config(|c| {
            c.timeouts.header = Duration::from_secs(1);
            c.timeouts.keep_alive = Duration::from_secs(5);
        })
        .start();
    let addr = s.addr();
    // Another client, in the middle of the trickle, must be served.
    let other = thread::spawn(move || {
        thread::sleep(Duration::from_millis(500));
        let resp = request_to(addr, &get_request("/style.css"));
        (resp.status, resp.body)
    });

    let mut slow = s.connect();
    let head = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: abcdefghijklmnopqrstuvwxyz0123456789";
    // The head is never completed.
    let (_, cut_after, sent) = trickle_until_cut(&mut slow, head);
    let (status, body) = other.join().unwrap();
    assert_eq!(status, 200, "the other client was not served");
    assert_eq!(body, fixture("style.css"));
    let cut_after = cut_after.unwrap_or_else(|| {
        panic!("a client trickling one byte every 300 ms was never cut off ({sent} bytes sent)")
    });
    assert!(
        cut_after >= Duration::from_millis(500),
        "cut off after {cut_after:?}: too early"
    );
    assert!(
        cut_after <= Duration::from_millis(3500),
        "cut off after {cut_after:?}: header_timeout is 1 s"
    );
}

/// Sends `bytes` (cycling) one byte every 300 ms for at most 10 s, until the server closes or
/// resets the connection; returns what the server sent, when it cut the connection off, and
/// how many bytes went out.
fn trickle_until_cut(slow: &mut TcpStream, bytes: &[u8]) -> (Vec<u8>, Option<Duration>, usize) {
    slow.set_nodelay(true).unwrap();
    slow.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut tmp = [0u8; 4096];
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(10) {
        if slow.write_all(&[bytes[sent % bytes.len()]]).is_err() {
            return (got, Some(start.elapsed()), sent);
        }
        sent += 1;
        // The read doubles as the 300 ms pause between bytes.
        match slow.read(&mut tmp) {
            Ok(0) => return (got, Some(start.elapsed()), sent),
            Ok(n) => got.extend_from_slice(&tmp[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (got, Some(start.elapsed()), sent),
        }
    }
    (got, None, sent)
}

#[test]
fn trickled_body_gets_one_header_timeout_in_all() {
    // A client that keeps sending a byte of a declared body every 300 ms makes progress, but
    // the body as a whole must arrive within the header timeout, or it could hold the
    // connection (and a slot under --max-connections) for as long as it likes.
    let s = one_second_server();
    let mut slow = s.connect();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        .unwrap();
    let (got, cut_after, _) = trickle_until_cut(&mut slow, b"x");
    assert!(got.starts_with(b"HTTP/1.1 200 OK"), "answered first");
    let cut = cut_after.expect("the trickling body was never cut off");
    assert!(cut < Duration::from_secs(4), "cut after {cut:?}");
}
