//! Request bodies and message framing: Content-Length and chunked bodies on
//! GET must be consumed so that a pipelined request after them is parsed
//! correctly; ambiguous framing is rejected.

use std::thread;
use std::time::Duration;

use crate::support::*;

fn expect_index_then_style(r: &mut ResponseReader<std::net::TcpStream>) {
    let first = r.read_response();
    assert_eq!(first.status, 200, "first response: {first}");
    assert_eq!(first.body, fixture("index.html"), "first response body");
    let second = r.read_response();
    assert_eq!(second.status, 200, "second response: {second}");
    assert_eq!(second.body, fixture("style.css"), "second response body");
    assert_eq!(
        second.header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
}

const NEXT: &str = "GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n";

#[test]
fn content_length_body_then_pipelined_request() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello{NEXT}"
    ));
    expect_index_then_style(&mut r);
}

#[test]
fn body_that_looks_like_a_request_is_not_parsed_as_one() {
    // The body is itself a request; it must be skipped, not served.
    let s = TestServer::start();
    let body = "GET /image.png HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut r = s.reader();
    r.send(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{body}{NEXT}",
        body.len()
    ));
    expect_index_then_style(&mut r);
}

#[test]
fn content_length_body_split_across_writes() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.get_ref().set_nodelay(true).unwrap();
    r.send("GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n");
    thread::sleep(Duration::from_millis(30));
    r.send("hel");
    thread::sleep(Duration::from_millis(30));
    r.send("lo wo");
    thread::sleep(Duration::from_millis(30));
    r.send(format!("rl{NEXT}"));
    expect_index_then_style(&mut r);
}

#[test]
fn chunked_body_then_pipelined_request() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n{NEXT}"
    ));
    expect_index_then_style(&mut r);
}

#[test]
fn chunked_body_with_several_chunks_extension_and_trailer() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n\
         3\r\nhel\r\n2;ext=1\r\nlo\r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n{NEXT}"
    ));
    expect_index_then_style(&mut r);
}

#[test]
fn chunked_body_split_across_writes() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.get_ref().set_nodelay(true).unwrap();
    let pieces = [
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
        "5",
        "\r\nhe",
        "llo\r",
        "\n0\r",
        "\n\r",
    ];
    for p in pieces {
        r.send(p);
        thread::sleep(Duration::from_millis(30));
    }
    r.send(format!("\n{NEXT}"));
    expect_index_then_style(&mut r);
}

#[test]
fn content_length_with_transfer_encoding_is_400_and_closes() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    );
    let resp = r.read_response();
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_common_headers();
    r.expect_eof();
}

#[test]
fn transfer_codings_other_than_chunked_are_501_and_close() {
    // RFC 9112 §6.1 (SHOULD): 501 for a transfer coding the server does not understand; it
    // decodes chunked alone, so `gzip, chunked` is one, on one line or two (RFC 9110 §5.2).
    let s = TestServer::start();
    for te in [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let mut r = s.reader();
        r.send(format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\n{te}\r\n5\r\nhello\r\n0\r\n\r\n{NEXT}"
        ));
        let resp = r.read_response();
        assert_eq!(resp.status, 501, "{te:?}: {resp}");
        resp.assert_common_headers();
        assert!(resp.has_token("Connection", "close"), "{te:?}: {resp}");
        r.expect_eof();
    }
    // §6.3 (4) (MUST): a final coding other than chunked leaves the body undelimited: 400.
    let mut r = s.reader();
    r.send(format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\nhello{NEXT}"
    ));
    let resp = r.read_response();
    assert_eq!(resp.status, 400, "{resp}");
    r.expect_eof();
    // §6.1 (MUST NOT for a sender): chunked twice leaves where the body ends to the layer a
    // reader decodes, so it is refused as the smuggling attempt it would be.
    for te in [
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let mut r = s.reader();
        r.send(format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\n{te}\r\n5\r\nhello\r\n0\r\n\r\n{NEXT}"
        ));
        let resp = r.read_response();
        assert_eq!(resp.status, 400, "{te:?}: {resp}");
        r.expect_eof();
    }
}

#[test]
fn differing_content_lengths_are_400_and_close() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(
        "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    );
    let resp = r.read_response();
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_common_headers();
    r.expect_eof();
}

#[test]
fn non_numeric_content_length_is_400() {
    let s = TestServer::start();
    for cl in ["abc", "-1", "5 5", "+5"] {
        let mut r = s.reader();
        r.send(format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: {cl}\r\n\r\nhello"
        ));
        let resp = r.read_response();
        assert_eq!(resp.status, 400, "Content-Length: {cl}: {resp}");
        r.expect_eof();
    }
}

#[test]
fn body_on_405_request_does_not_desync_the_connection() {
    // If the connection stays open after a 405 the body must have been
    // skipped; if the server closes instead, that is also acceptable.
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello{NEXT}"
    ));
    let first = r.read_response();
    assert_eq!(first.status, 405, "{first}");
    if first.has_token("Connection", "close") {
        r.expect_eof();
    } else {
        let second = r.read_response();
        assert_eq!(second.status, 200, "{second}");
        assert_eq!(second.body, fixture("style.css"));
    }
}
