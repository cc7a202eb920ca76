//! RFC rows of docs/CONFORMANCE.md that no feature suite owns: raw requests on a socket, and the
//! status, fields and body bytes that come back. Conditional requests, ranges, headers and
//! listings have their own files; this one holds the request-target and error-page rules.

use muxserve::http::forwarded::TrustedProxies;

use crate::support::*;

/// Sends `request` on `r`'s connection and reads its response.
fn ask(r: &mut ResponseReader<std::net::TcpStream>, request: &str) -> Response {
    r.send(request);
    r.read_response_to(request)
}

#[test]
fn https_targets_over_plain_tcp_are_misdirected_unless_a_trusted_proxy_sent_them() {
    // RFC 9110 §7.4 (MUST): a request for an `https` resource is rejected unless its
    // connection was secured for it; ours is plain TCP.
    let s = TestServer::start();
    let mut r = s.reader();
    for target in ["https://x/style.css", "HTTPS://x/style.css"] {
        let resp = ask(&mut r, &format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert_eq!(resp.status, 421, "GET {target}: {resp}");
        assert!(!contains(&resp.body, &fixture("style.css")), "{resp}");
        assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp}");
        // The request was well framed: the connection goes on, as after a 404.
        assert!(!resp.has_token("Connection", "close"), "{resp}");
    }
    let resp = ask(&mut r, "GET http://x/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        resp.status, 200,
        "an http target on the same connection: {resp}"
    );
    assert_eq!(resp.body, fixture("style.css"));
    // A trusted proxy terminated TLS in front of us: its https targets are served.
    let behind = TestServer::build()
        .config(|c| {
            c.proxies.trusted = TrustedProxies::new(vec!["127.0.0.1".parse().unwrap()]);
        })
        .start();
    let resp = behind.request("GET https://x/style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
}

#[test]
fn connect_is_a_method_not_allowed_as_post_is() {
    // RFC 9110 §9.1 (SHOULD): a method the server knows but the resource does not allow is
    // 405 with Allow; an unknown one is 501. CONNECT's authority-form target is read, not
    // refused as a malformed request.
    let s = TestServer::start();
    for request in [
        "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n",
        "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n",
        "CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
    ] {
        let mut r = s.reader();
        let resp = ask(&mut r, request);
        assert_eq!(resp.status, 405, "{request:?}: {resp}");
        assert_eq!(
            resp.header("Allow"),
            Some("GET, HEAD, OPTIONS"),
            "{request:?}"
        );
        assert!(
            !resp.has_token("Connection", "close"),
            "{request:?}: {resp}"
        );
        // And the connection still serves.
        let next = ask(&mut r, &get_request("/style.css"));
        assert_eq!(next.status, 200, "after {request:?}: {next}");
    }
    let resp = s.request("BREW / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 501, "{resp}");
    // Authority-form is CONNECT's alone, and needs a port.
    for request in [
        "GET x:443 HTTP/1.1\r\nHost: x\r\n\r\n",
        "CONNECT x HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        assert_eq!(s.request(request).status, 400, "{request:?}");
    }
}

#[test]
fn a_505_says_why_and_which_versions_are_served() {
    // RFC 9110 §15.6.6 (SHOULD): explain why, and what protocols the server supports.
    let s = TestServer::start();
    let resp = s.request("GET / HTTP/2.0\r\nHost: x\r\n\r\n");
    assert_eq!(resp.status, 505, "{resp}");
    let body = resp.body_str();
    assert!(
        body.contains("<h1>505 HTTP Version Not Supported</h1>"),
        "{body}"
    );
    assert!(
        body.contains("not one this server speaks") && body.contains("HTTP/1.1 and HTTP/1.0"),
        "{body}"
    );
    assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
}

/// One raw request and what must come back, for a row of docs/CONFORMANCE.md.
struct Row {
    /// The section(s) and the rule, for the failure message.
    rfc: &'static str,
    request: &'static [u8],
    status: u16,
    /// Whether the server must close after the answer (else the connection serves the next).
    closes: bool,
    /// A fixture file whose whole content must be the body.
    whole: Option<&'static str>,
    /// Fields the answer must not carry.
    absent: &'static [&'static str],
}

const ROW: Row = Row {
    rfc: "",
    request: b"",
    status: 200,
    closes: false,
    whole: None,
    absent: &[],
};

#[test]
fn request_rules_table() {
    let rows = [
        Row {
            rfc: "9110 §4.2.1, §4.2.2: an http URI with an empty host is rejected",
            request: b"GET http:///style.css HTTP/1.1\r\nHost: x\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9110 §5.5: obs-text in a value is opaque",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nX-Name: caf\xe9\r\n\r\n",
            whole: Some("style.css"),
            ..ROW
        },
        Row {
            rfc: "9110 §5.5, 9112 §2.2: a bare CR in a value is rejected",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9110 §5.5: NUL in a value is rejected",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9112 §2.2: a bare CR in the target is rejected",
            request: b"GET /sty\rle.css HTTP/1.1\r\nHost: x\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9112 §2.2: a whitespace-led line after the start line is rejected",
            request: b"GET /style.css HTTP/1.1\r\n Host: x\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9112 §5.2: obs-fold is answered with 400",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9112 §7.1: parameters on chunked are an error",
            request: b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked;foo=bar\r\n\r\n",
            status: 501,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9112 §7.2: parameters on a compression coding are an error",
            request: b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip;q=1, chunked\r\n\r\n",
            status: 501,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9110 §7.8: Upgrade in an HTTP/1.0 request is ignored",
            request: b"GET /style.css HTTP/1.0\r\nUpgrade: websocket\r\n\
                       Connection: Upgrade, keep-alive\r\n\r\n",
            whole: Some("style.css"),
            absent: &["Upgrade"],
            ..ROW
        },
        Row {
            rfc: "9110 §10.1.1: 100-continue in an HTTP/1.0 request is ignored",
            request: b"GET /style.css HTTP/1.0\r\nExpect: 100-continue\r\n\
                       Connection: keep-alive\r\n\r\n",
            whole: Some("style.css"),
            ..ROW
        },
        Row {
            rfc: "9110 §9.3.6: a CONNECT with an empty port is rejected",
            request: b"CONNECT x: HTTP/1.1\r\nHost: x\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9110 §9.3.6: a CONNECT with an invalid port is rejected",
            request: b"CONNECT x:https HTTP/1.1\r\nHost: x\r\n\r\n",
            status: 400,
            closes: true,
            ..ROW
        },
        Row {
            rfc: "9110 §13.2.1: OPTIONS selects no representation: preconditions ignored",
            request: b"OPTIONS /style.css HTTP/1.1\r\nHost: x\r\nIf-Match: \"nope\"\r\n\r\n",
            status: 204,
            ..ROW
        },
        Row {
            rfc: "9110 §14.4: Content-Range in a GET is ignored",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nContent-Range: bytes 0-1/5\r\n\r\n",
            whole: Some("style.css"),
            absent: &["Content-Range"],
            ..ROW
        },
        Row {
            rfc: "9110 §13.1.5: If-Range without Range is ignored",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nIf-Range: \"nope\"\r\n\r\n",
            whole: Some("style.css"),
            absent: &["Content-Range"],
            ..ROW
        },
        Row {
            rfc: "9110 §13.1.5: If-Range (and Range) on a listing, which has no ranges",
            request: b"GET /noindex/ HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\n\
                       If-Range: \"nope\"\r\n\r\n",
            absent: &["Content-Range", "Accept-Ranges"],
            ..ROW
        },
        Row {
            rfc: "9110 §8.7: a request's Content-Location alters nothing",
            request: b"GET /style.css HTTP/1.1\r\nHost: x\r\nContent-Location: /index.html\r\n\r\n",
            whole: Some("style.css"),
            ..ROW
        },
    ];
    let s = TestServer::build()
        .config(|c| c.site.dir_listing = true)
        .start();
    for row in rows {
        let rfc = row.rfc;
        let mut r = s.reader();
        r.send(row.request);
        let resp = r.read_response_to(row.request);
        assert_eq!(resp.status, row.status, "{rfc}: {resp}");
        if let Some(file) = row.whole {
            assert_eq!(resp.body, fixture(file), "{rfc}: {resp}");
        }
        for name in row.absent {
            assert_eq!(resp.header(name), None, "{rfc}: {name} sent: {resp}");
        }
        if row.closes {
            assert!(resp.has_token("Connection", "close"), "{rfc}: {resp}");
            r.expect_eof();
        } else {
            assert!(!resp.has_token("Connection", "close"), "{rfc}: {resp}");
            let next = ask(&mut r, &get_request("/style.css"));
            assert_eq!(next.status, 200, "{rfc}: the next request: {next}");
        }
    }
}
