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
fn http11_absolute_form_without_host_is_400() {
    // RFC 9112 §3.2 (MUST): 400 for any HTTP/1.1 request that lacks Host; an absolute-form
    // target's authority replaces Host's value (§3.2.2) but not the field.
    let s = TestServer::start();
    expect_status_then_close(
        &s,
        b"GET http://x/style.css HTTP/1.1\r\nConnection: close\r\n\r\n",
        400,
    );
    let resp = s.request("GET http://x/style.css HTTP/1.0\r\n\r\n");
    assert_eq!(resp.status, 200, "HTTP/1.0 needs no Host: {resp}");
    assert_eq!(resp.body, fixture("style.css"));
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
fn invalid_host_values_are_400() {
    // RFC 9112 §3.2 (MUST): 400 for a Host whose value is not `uri-host [ ":" port ]`
    // (RFC 3986 §3.2.2-3.2.3), even when every byte of it could appear in one.
    let s = TestServer::start();
    for host in ["a:xyz", "[::1", "[::1]x", "a:80:80", "a%zz"] {
        let raw = format!("GET /style.css HTTP/1.1\r\nHost: {host}\r\n\r\n");
        expect_status_then_close(&s, raw.as_bytes(), 400);
    }
    for host in ["", "[::1]:8080", "a%41b:80", "[v1.x]"] {
        let raw = format!("GET /style.css HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let resp = expect_status_then_open(&s, &raw, 200);
        assert_eq!(resp.body, fixture("style.css"), "Host: {host}");
    }
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

/// A site with its own pages for some statuses, and a 404 page in `docs/`.
fn error_page_site(site: &TempSite) {
    let root = site.root();
    for code in [400, 403, 405, 505] {
        std::fs::write(root.join(format!("{code}.html")), format!("SITE-{code}\n")).unwrap();
    }
    std::fs::create_dir_all(root.join("docs/sub")).unwrap();
    std::fs::write(root.join("docs/404.html"), b"DOCS-404\n").unwrap();
}

#[test]
fn every_error_status_gets_the_sites_page_when_it_has_one() {
    let s = TestServer::build().site(error_page_site).start();
    struct Case {
        raw: &'static str,
        status: u16,
        body: &'static [u8],
    }
    let cases = [
        // Answered by the pipeline: a directory without index or listing, a method not allowed.
        Case {
            raw: "GET /noindex/ HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 403,
            body: b"SITE-403\n",
        },
        Case {
            raw: "POST /index.html HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
            status: 405,
            body: b"SITE-405\n",
        },
        // Refused before the head could be read: no Host, a version that is not 1.x.
        Case {
            raw: "GET / HTTP/1.1\r\n\r\n",
            status: 400,
            body: b"SITE-400\n",
        },
        Case {
            raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
            status: 505,
            body: b"SITE-505\n",
        },
        // The nearest 404.html up the tree, as Cloudflare Pages answers; else the root's.
        Case {
            raw: "GET /docs/missing HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 404,
            body: b"DOCS-404\n",
        },
        Case {
            raw: "GET /docs/sub/missing.css HTTP/1.1\r\nHost: h\r\n\r\n",
            status: 404,
            body: b"DOCS-404\n",
        },
    ];
    for c in &cases {
        let r = s.request(c.raw);
        assert_eq!(r.status, c.status, "{:?}: {r}", c.raw);
        assert_eq!(r.body, c.body, "{:?}", c.raw);
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"), "{:?}", c.raw);
    }
    // The site's 404.html at the top still answers for the rest of the tree.
    let r = s.get("/missing");
    assert_eq!(r.status, 404);
    assert_eq!(r.body, fixture("404.html"));
    // 405 keeps its Allow beside the site's page.
    let r = s.request("DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(r.header("Allow"), Some(ALLOW), "{r}");
    // HEAD of an error page announces the page's length.
    let head = s.request("HEAD /docs/missing HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(head.status, 404);
    assert_eq!(head.header("Content-Length"), Some("9"));
}

#[test]
fn without_site_pages_errors_keep_the_built_in_page_and_are_not_stored() {
    let s = TestServer::start();
    let r = s.request("GET /noindex/ HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(r.status, 403);
    assert!(r.body_str().contains("403 Forbidden"), "{r}");
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    // Success keeps the site's caching rules.
    assert_eq!(
        s.get("/style.css").header("Cache-Control"),
        Some("no-cache")
    );
}

/// The nearest 404.html is found however deep the path: a candidate longer than the stack
/// buffer `not_found` writes it in (512 bytes) goes to the heap, and shorter ones up the same
/// tree are found as before.
#[test]
fn the_nearest_404_page_is_found_past_the_stack_buffer() {
    let deep = ["a".repeat(200), "b".repeat(200), "c".repeat(200)].join("/");
    let s = TestServer::build()
        .site(|site| {
            let root = site.root();
            std::fs::create_dir_all(root.join(&deep)).unwrap();
            std::fs::write(root.join(&deep).join("404.html"), b"DEEP-404\n").unwrap();
            std::fs::write(root.join("a".repeat(200)).join("404.html"), b"A-404\n").unwrap();
        })
        .start();
    let r = s.get(&format!("/{deep}/missing.html"));
    assert_eq!(
        (r.status, r.body.as_slice()),
        (404, &b"DEEP-404\n"[..]),
        "{r}"
    );
    // Under the second level, which has no page: the first level's.
    let r = s.get(&format!("/{}/{}/missing", "a".repeat(200), "b".repeat(200)));
    assert_eq!((r.status, r.body.as_slice()), (404, &b"A-404\n"[..]), "{r}");
    let r = s.get("/missing");
    assert_eq!((r.status, r.body), (404, fixture("404.html")));
}
