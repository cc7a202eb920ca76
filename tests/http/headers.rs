//! Response headers: `X-Content-Type-Options`, configured extra headers on
//! every kind of response, and no response splitting through encoded CR/LF.
//! Content types, OPTIONS and HEAD = GET are in static_files.rs.

use std::fs;

use crate::support::*;

fn assert_once(resp: &Response, name: &str, value: &str, what: &str) {
    assert_eq!(
        resp.header_all(name),
        vec![value],
        "{what}: expected exactly one `{name}: {value}`: {resp}"
    );
}

#[test]
fn nosniff_by_default() {
    let s = TestServer::start();
    for (path, status) in [("/style.css", 200), ("/nope.html", 404), ("/noindex/", 403)] {
        let resp = s.get(path);
        assert_eq!(resp.status, status, "GET {path}: {resp}");
        assert_once(
            &resp,
            "X-Content-Type-Options",
            "nosniff",
            &format!("GET {path}"),
        );
    }
}

#[test]
fn nosniff_false_omits_it() {
    let s = TestServer::build()
        .config(|c| c.site.nosniff = false)
        .start();
    for path in ["/style.css", "/nope.html"] {
        let resp = s.get(path);
        assert_eq!(
            resp.header("X-Content-Type-Options"),
            None,
            "GET {path} with nosniff = false: {resp}"
        );
    }
}

#[test]
fn configured_headers_on_200_404_and_304() {
    let s = TestServer::build()
        .config(|c| {
            c.site.headers = vec![
                ("Access-Control-Allow-Origin".to_string(), "*".to_string()),
                ("X-Frame-Options".to_string(), "DENY".to_string()),
            ]
        })
        .start();
    let ok = s.get("/style.css");
    assert_eq!(ok.status, 200, "{ok}");
    let etag = strong_etag(&ok);
    let not_found = s.get("/nope.html");
    assert_eq!(not_found.status, 404, "{not_found}");
    let not_modified = s.get_with("/style.css", &[("If-None-Match", &etag)]);
    assert_eq!(not_modified.status, 304, "{not_modified}");
    let head = s.head_with("/style.css", &[]);
    for (what, resp) in [
        ("200", &ok),
        ("404", &not_found),
        ("304", &not_modified),
        ("HEAD 200", &head),
    ] {
        assert_once(resp, "Access-Control-Allow-Origin", "*", what);
        assert_once(resp, "X-Frame-Options", "DENY", what);
        // the server's own headers are still there
        assert_eq!(resp.header("Server"), Some("muxserve"), "{what}");
    }
    assert_eq!(ok.body, fixture("style.css"));
}

/// The raw response head for `target` on its own connection.
fn raw_head(s: &TestServer, target: &str) -> (Response, Vec<u8>) {
    let req = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let bytes = s.raw(req.as_bytes());
    let resp = parse_response(&bytes);
    let end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head");
    (resp, bytes[..end + 4].to_vec())
}

#[test]
fn encoded_crlf_never_splits_the_response() {
    let s = TestServer::build()
        .site(|site| {
            // A directory whose name holds CR LF, so a redirect to it would
            // echo the decoded name into Location.
            fs::create_dir(site.root().join("evil\r\nX-Injected: yes")).unwrap();
        })
        .start();
    for target in [
        "/evil%0D%0AX-Injected:%20yes",
        "/evil%0d%0aX-Injected:%20yes",
        "/dir%0d%0aX-Injected:%20yes",
        "/dir?%0d%0aX-Injected:%20yes",
        "/dir?x=%0d%0aX-Injected:%20yes",
        "/noindex?%0d%0aX-Injected:%20yes",
    ] {
        let (resp, head) = raw_head(&s, target);
        assert!(
            matches!(resp.status, 301 | 400 | 403 | 404),
            "GET {target}: {resp}"
        );
        assert!(
            resp.header("X-Injected").is_none(),
            "GET {target}: response splitting: {:?}",
            String::from_utf8_lossy(&head)
        );
        assert!(
            !contains(&head, b"\nX-Injected"),
            "GET {target}: {:?}",
            String::from_utf8_lossy(&head)
        );
        if let Some(loc) = resp.header("Location") {
            assert!(
                !loc.contains('\r') && !loc.contains('\n') && loc.starts_with('/'),
                "GET {target}: Location {loc:?}"
            );
            assert!(
                loc.bytes().all(|b| b.is_ascii_graphic()),
                "GET {target}: Location {loc:?} has bytes that must be percent-encoded"
            );
        }
    }
    // The redirects keep the query as sent (still encoded).
    let (resp, _) = raw_head(&s, "/dir?%0d%0aX-Injected:%20yes");
    assert_eq!(resp.status, 301, "{resp}");
    assert_eq!(
        resp.header("Location"),
        Some("/dir/?%0d%0aX-Injected:%20yes")
    );
}

#[test]
fn command_line_flags() {
    let site = TempSite::new();
    let srv = Binary::serving(site.root())
        .args([
            "--header",
            "X-Frame-Options: DENY",
            "--header",
            "Access-Control-Allow-Origin: *",
            "--nosniff",
            "false",
        ])
        .spawn();
    for path in ["/style.css", "/nope.html"] {
        let resp = srv.request(&get_request(path));
        assert_once(&resp, "X-Frame-Options", "DENY", path);
        assert_once(&resp, "Access-Control-Allow-Origin", "*", path);
        assert_eq!(
            resp.header("X-Content-Type-Options"),
            None,
            "{path}: {resp}"
        );
    }
    drop(srv);
    let srv = Binary::serving(site.root()).spawn();
    let resp = srv.request(&get_request("/style.css"));
    assert_once(&resp, "X-Content-Type-Options", "nosniff", "binary default");
    assert_eq!(resp.header("X-Frame-Options"), None);
}

#[test]
fn command_line_rejects_header_values_with_control_characters() {
    // RFC 9110 §5.5: a field value never holds CR or other control characters; sending one would
    // split or corrupt every response.
    let site = TempSite::new();
    for bad in ["X-A: b\rX-Injected: yes", "X-A: b\u{1}c", "X-A: b\u{7f}c"] {
        let out = Binary::serving(site.root())
            .args(["--header", bad])
            .run(std::time::Duration::from_secs(10));
        assert!(
            !out.status.success(),
            "--header {bad:?} must be refused; exit {:?}",
            out.status
        );
        assert!(!out.stderr.trim().is_empty(), "refused without a message");
    }
}

#[test]
fn configured_headers_on_every_kind_of_response() {
    let s = TestServer::build()
        .config(|c| {
            c.site.headers = vec![("X-Frame-Options".to_string(), "DENY".to_string())];
        })
        .start();
    let cases: Vec<(u16, String)> = vec![
        (
            206,
            request_with("GET", "/style.css", &[("Range", "bytes=0-1")]),
        ),
        (
            416,
            request_with("GET", "/style.css", &[("Range", "bytes=99999-")]),
        ),
        (
            412,
            request_with("GET", "/style.css", &[("If-Match", "\"x\"")]),
        ),
        (301, get_request("/dir")),
        (403, get_request("/noindex/")),
        (204, request_with("OPTIONS", "/", &[])),
        (405, request_with("POST", "/", &[("Content-Length", "0")])),
        (200, request_with("HEAD", "/", &[])),
    ];
    for (status, raw) in cases {
        let resp = s.request(&raw);
        assert_eq!(resp.status, status, "{raw:?}: {resp}");
        assert_once(&resp, "X-Frame-Options", "DENY", &format!("{raw:?}"));
        assert_once(
            &resp,
            "X-Content-Type-Options",
            "nosniff",
            &format!("{raw:?}"),
        );
    }
}

#[test]
fn command_line_refuses_singletons_the_server_sends_or_that_would_repeat() {
    // RFC 9110 §5.3 (MUST NOT): no second line of a field that is not a list. `--header` adds
    // its line to every response, beside the server's own Content-Type, Location, Allow, …;
    // a `_headers` block replaces the server's line instead, and may set them.
    let site = TempSite::new();
    let refuse = |args: &[&str], says: &str| {
        let out = Binary::serving(site.root())
            .args(args)
            .run(std::time::Duration::from_secs(10));
        assert!(!out.status.success(), "{args:?} must be refused");
        let lines: Vec<&str> = out.stderr.trim().lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("--header") && l.contains(says)),
            "{args:?}: one line naming the option and the field: {:?}",
            out.stderr
        );
    };
    for field in [
        "Content-Type: text/plain",
        "Location: /x",
        "Retry-After: 5",
        "Allow: GET, POST",
        "Accept-Ranges: none",
        "Age: 0",
        "Cache-Control: public, max-age=60",
        "cache-control: no-store",
    ] {
        let name = field.split(':').next().unwrap();
        refuse(
            &["--header", field],
            &format!("header {name} is sent by the server"),
        );
    }
    // Expires is the operator's to send, once.
    refuse(
        &["--header", "Expires: 0", "--header", "Expires: 1"],
        "Expires is given twice",
    );
    let srv = Binary::serving(site.root())
        .args([
            "--header",
            "Expires: 0",
            "--header",
            "Link: </a>",
            "--header",
            "Link: </b>",
        ])
        .spawn();
    let resp = srv.request(&get_request("/dir"));
    assert_eq!(resp.status, 301, "{resp}");
    assert_once(&resp, "Expires", "0", "GET /dir");
    assert_once(
        &resp,
        "Content-Type",
        "text/html; charset=utf-8",
        "GET /dir",
    );
    assert_once(&resp, "Location", "/dir/", "GET /dir");
    assert_eq!(resp.header_all("Link"), ["</a>", "</b>"], "{resp}");
}
