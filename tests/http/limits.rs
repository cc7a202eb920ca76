//! Size limits (431 / 414 / 413) and many concurrent connections.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::support::*;

fn expect_close_with(s: &TestServer, raw: &[u8], status: u16) {
    let mut r = s.reader();
    r.send(raw);
    let resp = r.try_read_response().unwrap_or_else(|e| {
        panic!(
            "request of {} bytes expecting {status}: no response: {e}",
            raw.len()
        )
    });
    assert_eq!(resp.status, status, "{resp}");
    resp.assert_common_headers();
    r.expect_eof();
}

#[test]
fn head_larger_than_default_limit_is_431() {
    let s = TestServer::start();
    let filler = "a".repeat(20_000);
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Fill: {filler}\r\n\r\n");
    expect_close_with(&s, raw.as_bytes(), 431);
}

#[test]
fn many_headers_over_the_limit_is_431() {
    let s = TestServer::start();
    let mut raw = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
    for i in 0..400 {
        raw.push_str(&format!("X-Header-{i}: {}\r\n", "v".repeat(40)));
    }
    raw.push_str("\r\n");
    assert!(raw.len() > 16384);
    expect_close_with(&s, raw.as_bytes(), 431);
}

#[test]
fn header_count_limit_follows_config() {
    let s = TestServer::build()
        .config(|c| c.limits.max_headers = 10)
        .start();
    let with_fields = |n: usize| {
        let mut raw = String::from("GET / HTTP/1.1\r\nHost: x\r\n");
        for i in 1..n {
            raw.push_str(&format!("X-{i}: v\r\n"));
        }
        raw + "\r\n"
    };
    // Host plus 9 more is exactly the limit; one more is 431, although the head is tiny.
    let resp = s.request(&with_fields(10));
    assert_eq!(resp.status, 200, "{resp}");
    expect_close_with(&s, with_fields(11).as_bytes(), 431);
}

#[test]
fn head_limit_follows_config() {
    let s = TestServer::build()
        .config(|c| c.limits.max_head = 1024)
        .start();
    // under the limit: fine
    let ok = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(600)
    );
    let resp = s.request(&ok);
    assert_eq!(resp.status, 200, "{resp}");
    // over it: 431
    let big = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: {}\r\n\r\n",
        "a".repeat(2000)
    );
    expect_close_with(&s, big.as_bytes(), 431);
}

#[test]
fn head_over_limit_without_terminator_is_431() {
    // The client never finishes the head; the server must not wait forever
    // for the blank line once the limit is exceeded.
    let s = TestServer::build()
        .config(|c| c.limits.max_head = 1024)
        .start();
    let raw = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Fill: {}", "a".repeat(3000));
    expect_close_with(&s, raw.as_bytes(), 431);
}

#[test]
fn uri_longer_than_limit_is_414() {
    let s = TestServer::start();
    let raw = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(9000));
    expect_close_with(&s, raw.as_bytes(), 414);
}

#[test]
fn uri_limit_follows_config() {
    let s = TestServer::build()
        .config(|c| c.limits.max_uri = 100)
        .start();
    let resp = s.get(&format!("/{}", "b".repeat(50)));
    assert_eq!(resp.status, 404, "a 51-byte target is allowed: {resp}");
    let raw = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "b".repeat(200));
    expect_close_with(&s, raw.as_bytes(), 414);
}

#[test]
fn long_uri_just_under_limit_is_not_414() {
    let s = TestServer::start();
    let resp = s.get(&format!("/{}", "a".repeat(8000)));
    assert_eq!(resp.status, 404, "{resp}");
}

#[test]
fn content_length_above_max_body_is_413() {
    let s = TestServer::start();
    // no body bytes are sent: the server must decide from the header alone
    expect_close_with(
        &s,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
        413,
    );
}

#[test]
fn body_limit_follows_config() {
    let s = TestServer::build()
        .config(|c| c.limits.max_body = 10)
        .start();
    let mut r = s.reader();
    r.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
    let resp = r.read_response();
    assert_eq!(
        resp.status, 200,
        "a body of exactly max_body_size is allowed"
    );
    expect_close_with(
        &s,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
        413,
    );
}

#[test]
fn two_thousand_idle_connections_and_fresh_requests_still_work() {
    let limit = raise_fd_limit();
    assert!(
        limit >= 4600,
        "RLIMIT_NOFILE hard limit {limit} is too low for 2000 client + 2000 server sockets"
    );
    let s = TestServer::build()
        .config(|c| {
            c.timeouts.header = Duration::from_secs(120);
            c.timeouts.keep_alive = Duration::from_secs(120);
        })
        .start();
    let mut idle: Vec<TcpStream> = Vec::with_capacity(2000);
    for i in 0..2000 {
        let c = TcpStream::connect_timeout(&s.addr(), Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("idle connection #{i}: {e}"));
        c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        c.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        idle.push(c);
    }
    // While all of them are open, fresh requests succeed.
    for i in 0..20 {
        let resp = s.get("/style.css");
        assert_eq!(resp.status, 200, "fresh request #{i}: {resp}");
        assert_eq!(resp.body, fixture("style.css"));
    }
    // The idle connections really were accepted and are served too.
    for i in (0..2000).step_by(100) {
        let mut r = ResponseReader::new(&mut idle[i]);
        r.get_mut()
            .write_all(get_request("/image.png").as_bytes())
            .unwrap();
        let resp = r
            .try_read_response()
            .unwrap_or_else(|e| panic!("idle connection #{i}: {e}"));
        assert_eq!(resp.status, 200, "idle connection #{i}: {resp}");
        assert_eq!(resp.body, fixture("image.png"));
    }
    drop(idle);
    // And after they are dropped the server still works.
    for i in 0..5 {
        let resp = s.get("/");
        assert_eq!(resp.status, 200, "after dropping idle connections #{i}");
    }
}
