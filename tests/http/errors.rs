//! Malformed and unsupported requests: statuses, headers, and whether the
//! connection is closed afterwards.

use crate::support::*;

/// Sends `raw` on a fresh connection, expects one response with `status`,
/// then expects the server to close the connection.
fn expect_status_then_close(s: &TestServer, raw: &[u8], status: u16) -> Response {
    let mut r = s.reader();
    r.send(raw);
    let resp = r.try_read_response().unwrap_or_else(|e| {
        panic!(
            "request {:?}: no response: {e}",
            String::from_utf8_lossy(raw)
        )
    });
    assert_eq!(
        resp.status,
        status,
        "request {:?}: {resp}",
        String::from_utf8_lossy(raw)
    );
    resp.assert_common_headers();
    assert_eq!(
        resp.content_length(),
        Some(resp.body.len() as u64),
        "Content-Length must match the body"
    );
    r.expect_eof();
    resp
}

/// Sends `raw` on a fresh connection, expects `status`, then checks the
/// connection is still usable for a GET /style.css.
fn expect_status_then_open(s: &TestServer, raw: &str, status: u16) -> Response {
    let mut r = s.reader();
    r.send(raw);
    let resp = r.read_response_to(raw);
    assert_eq!(resp.status, status, "request {raw:?}: {resp}");
    resp.assert_common_headers();
    assert!(
        !resp.has_token("Connection", "close"),
        "{status} should keep the connection open: {resp}"
    );
    r.send(get_request("/style.css"));
    let next = r.read_response();
    assert_eq!(next.status, 200, "request after a {status}: {next}");
    assert_eq!(next.body, fixture("style.css"));
    resp
}

#[test]
fn http11_without_host_is_400() {
    let s = TestServer::start();
    expect_status_then_close(&s, b"GET / HTTP/1.1\r\n\r\n", 400);
}

#[test]
fn http10_without_host_is_fine() {
    let s = TestServer::start();
    let resp = s.request("GET /style.css HTTP/1.0\r\n\r\n");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
}

#[test]
fn two_host_headers_is_400() {
    let s = TestServer::start();
    expect_status_then_close(
        &s,
        b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
        400,
    );
}

#[test]
fn malformed_request_lines_are_400() {
    let s = TestServer::start();
    for raw in [&b"GARBAGE\r\n\r\n"[..], b"GET\r\n\r\n"] {
        expect_status_then_close(&s, raw, 400);
    }
}

#[test]
fn other_malformed_request_lines_are_400() {
    let s = TestServer::start();
    for raw in [
        &b"GET /\r\nHost: x\r\n\r\n"[..],
        b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        b"GET / FOO/1.1\r\nHost: x\r\n\r\n",
    ] {
        expect_status_then_close(&s, raw, 400);
    }
}

#[test]
fn bad_header_lines_are_400() {
    let s = TestServer::start();
    for raw in [
        // whitespace between field name and colon (RFC 9112 5.1)
        &b"GET / HTTP/1.1\r\nHost : x\r\n\r\n"[..],
        // a header line without a colon
        b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    ] {
        expect_status_then_close(&s, raw, 400);
    }
}

#[test]
fn write_methods_are_405_with_allow() {
    let s = TestServer::start();
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let raw = format!("{method} /index.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        let resp = expect_status_then_open(&s, &raw, 405);
        assert_eq!(resp.header("Allow"), Some(ALLOW), "{method}");
    }
}

#[test]
fn unknown_method_is_501() {
    let s = TestServer::start();
    expect_status_then_close(&s, b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501);
}

#[test]
fn unsupported_versions_are_505() {
    let s = TestServer::start();
    for version in ["HTTP/2.0", "HTTP/3.0"] {
        let raw = format!("GET / {version}\r\nHost: x\r\n\r\n");
        expect_status_then_close(&s, raw.as_bytes(), 505);
    }
}

#[test]
fn not_found_keeps_connection_open() {
    let s = TestServer::start();
    expect_status_then_open(&s, &get_request("/does-not-exist"), 404);
}

#[test]
fn error_does_not_break_other_connections() {
    let s = TestServer::start();
    let mut bad = s.reader();
    bad.send("GARBAGE\r\n\r\n");
    let resp = s.get("/style.css");
    assert_eq!(resp.status, 200);
    let bad_resp = bad.read_response();
    assert_eq!(bad_resp.status, 400);
}
