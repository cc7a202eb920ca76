//! CORS (`--cors-origins`, `--cors-headers`, `--cors-max-age`) over real sockets: preflights
//! and simple requests from allowed and other origins, with a list and with `*`; `Vary` on every
//! answer that depends on Origin; 206 and 304 carrying the 200's CORS headers; `_headers` and
//! `--header` beside it. The policy's decisions are table-tested in src/site/cors.rs.

use std::fs;
use std::time::Duration;

use muxserve::config::{CorsOptions, CorsOrigins};

use crate::support::*;

const ALLOWED: &str = "https://app.example";
const OTHER: &str = "https://evil.example";

fn list() -> CorsOptions {
    CorsOptions {
        origins: CorsOrigins::List(vec![ALLOWED.into(), "http://localhost:3000".into()]),
        headers: vec!["X-Requested-With".into(), "If-None-Match".into()],
        max_age: 600,
    }
}

fn any() -> CorsOptions {
    CorsOptions {
        origins: CorsOrigins::Any,
        ..list()
    }
}

fn server(cors: CorsOptions) -> TestServer {
    TestServer::build()
        .config(|c| c.site.cors = Some(cors))
        .start()
}

fn preflight(s: &TestServer, origin: &str) -> Response {
    s.method_with(
        "OPTIONS",
        "/style.css",
        &[
            ("Origin", origin),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "x-requested-with"),
        ],
    )
}

/// The `Access-Control-*` lines of `resp`, in order, as `Name: value`.
fn cors_lines(resp: &Response) -> Vec<String> {
    resp.headers
        .iter()
        .filter(|(n, _)| n.to_ascii_lowercase().starts_with("access-control-"))
        .map(|(n, v)| format!("{n}: {v}"))
        .collect()
}

#[test]
fn preflight_from_an_allowed_origin_gets_the_allow_headers() {
    for (cors, allow_origin) in [(list(), ALLOWED), (any(), "*")] {
        let s = server(cors);
        let resp = preflight(&s, ALLOWED);
        assert_eq!(resp.status, 204, "{resp}");
        assert_eq!(
            cors_lines(&resp),
            [
                format!("Access-Control-Allow-Origin: {allow_origin}"),
                "Access-Control-Allow-Methods: GET, HEAD, OPTIONS".into(),
                "Access-Control-Allow-Headers: X-Requested-With, If-None-Match".into(),
                "Access-Control-Max-Age: 600".into(),
            ],
            "{resp}"
        );
        assert_eq!(resp.header("Allow"), Some("GET, HEAD, OPTIONS"), "{resp}");
        assert_eq!(
            resp.header_all("Vary"),
            ["Origin, Access-Control-Request-Method"],
            "{resp}"
        );
        assert_eq!(resp.header("Content-Length"), None, "{resp}");
        assert!(resp.body.is_empty(), "{resp}");
    }
}

#[test]
fn preflight_from_another_origin_is_a_plain_options() {
    let s = server(list());
    for origin in [OTHER, "null", "https://APP.example", "https://app.example/"] {
        let resp = preflight(&s, origin);
        assert_eq!(resp.status, 204, "{origin}: {resp}");
        assert_eq!(cors_lines(&resp), Vec::<String>::new(), "{origin}: {resp}");
        assert_eq!(resp.header("Allow"), Some("GET, HEAD, OPTIONS"), "{resp}");
        assert_eq!(
            resp.header("Vary"),
            Some("Origin, Access-Control-Request-Method"),
            "{origin}: {resp}"
        );
    }
}

#[test]
fn options_without_request_method_is_not_a_preflight() {
    for cors in [list(), any()] {
        let s = server(cors);
        for headers in [&[("Origin", ALLOWED)][..], &[]] {
            let resp = s.method_with("OPTIONS", "/style.css", headers);
            assert_eq!(resp.status, 204, "{headers:?}: {resp}");
            assert_eq!(cors_lines(&resp), Vec::<String>::new(), "{resp}");
            assert_eq!(resp.header("Allow"), Some("GET, HEAD, OPTIONS"), "{resp}");
            assert_eq!(
                resp.header("Vary"),
                Some("Origin, Access-Control-Request-Method"),
                "{resp}"
            );
        }
    }
}

#[test]
fn simple_requests_get_the_origin_only_when_it_is_allowed() {
    let s = server(list());
    let allowed = format!("Access-Control-Allow-Origin: {ALLOWED}");
    let local = "Access-Control-Allow-Origin: http://localhost:3000".to_string();
    for method in ["GET", "HEAD"] {
        for (path, status) in [("/style.css", 200), ("/nope.txt", 404), ("/dir", 301)] {
            for (origin, expected) in [
                (Some(ALLOWED), vec![allowed.clone()]),
                (Some("http://localhost:3000"), vec![local.clone()]),
                (Some(OTHER), vec![]),
                (Some("null"), vec![]),
                (Some("http://localhost:3000/"), vec![]),
                (None, vec![]),
            ] {
                let headers: Vec<(&str, &str)> =
                    origin.map(|o| ("Origin", o)).into_iter().collect();
                let raw = request_with(method, path, &headers);
                let resp = if method == "HEAD" {
                    let mut r = s.reader();
                    r.send(&raw);
                    r.read_head_response()
                } else {
                    s.request(&raw)
                };
                let what = format!("{method} {path} Origin {origin:?}");
                assert_eq!(resp.status, status, "{what}: {resp}");
                assert_eq!(cors_lines(&resp), expected, "{what}: {resp}");
                // Fetch §3.2.5: a list's answers all name Origin, so a cache keys on it.
                assert!(resp.has_token("Vary", "Origin"), "{what}: {resp}");
                assert!(
                    !resp.has_token("Vary", "Access-Control-Request-Method"),
                    "{what}: {resp}"
                );
            }
        }
    }
}

#[test]
fn an_origin_sent_twice_is_not_allowed() {
    let s = server(list());
    let resp = s.request(&format!(
        "GET /style.css HTTP/1.1\r\nHost: x\r\nOrigin: {ALLOWED}\r\nOrigin: {ALLOWED}\r\n\r\n"
    ));
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(cors_lines(&resp), Vec::<String>::new(), "{resp}");
    assert!(resp.has_token("Vary", "Origin"), "{resp}");
}

#[test]
fn a_star_answers_everyone_alike_without_vary() {
    let s = server(any());
    for origin in [Some(ALLOWED), Some(OTHER), Some("null"), None] {
        let headers: Vec<(&str, &str)> = origin.map(|o| ("Origin", o)).into_iter().collect();
        for path in ["/image.png", "/nope.txt"] {
            let resp = s.get_with(path, &headers);
            assert_eq!(
                cors_lines(&resp),
                ["Access-Control-Allow-Origin: *"],
                "{path} {origin:?}: {resp}"
            );
            assert!(!resp.has_token("Vary", "Origin"), "{path}: {resp}");
        }
    }
}

#[test]
fn partial_and_not_modified_carry_the_same_cors_headers() {
    for cors in [list(), any()] {
        let s = server(cors);
        let origin = ("Origin", ALLOWED);
        let ok = s.get_with("/style.css", &[origin]);
        assert_eq!(ok.status, 200, "{ok}");
        let etag = strong_etag(&ok);
        let partial = s.get_with("/style.css", &[origin, ("Range", "bytes=0-3")]);
        assert_eq!(partial.status, 206, "{partial}");
        let not_modified = s.get_with("/style.css", &[origin, ("If-None-Match", &etag)]);
        assert_eq!(not_modified.status, 304, "{not_modified}");
        assert!(!cors_lines(&ok).is_empty(), "{ok}");
        for resp in [&partial, &not_modified] {
            assert_eq!(cors_lines(resp), cors_lines(&ok), "{resp}");
            assert_eq!(resp.header_all("Vary"), ok.header_all("Vary"), "{resp}");
        }
    }
}

#[test]
fn a_headers_rule_replaces_the_allowed_origin() {
    let s = TestServer::build()
        .site(|site| {
            let rules = "/style.css\n  Access-Control-Allow-Origin: https://rule.example\n";
            fs::write(site.root().join("_headers"), rules).unwrap();
        })
        .config(|c| c.site.cors = Some(list()))
        .start();
    let resp = s.get_with("/style.css", &[("Origin", ALLOWED)]);
    assert_eq!(
        resp.header_all("Access-Control-Allow-Origin"),
        ["https://rule.example"],
        "{resp}"
    );
    let resp = s.get_with("/image.png", &[("Origin", ALLOWED)]);
    assert_eq!(
        resp.header_all("Access-Control-Allow-Origin"),
        [ALLOWED],
        "{resp}"
    );
}

#[test]
fn without_cors_nothing_is_added() {
    let s = TestServer::start();
    let resp = preflight(&s, ALLOWED);
    assert_eq!(resp.status, 204, "{resp}");
    assert_eq!(cors_lines(&resp), Vec::<String>::new(), "{resp}");
    assert_eq!(resp.header("Vary"), None, "{resp}");
    let resp = s.get_with("/image.png", &[("Origin", ALLOWED)]);
    assert_eq!(cors_lines(&resp), Vec::<String>::new(), "{resp}");
    assert_eq!(resp.header("Vary"), None, "{resp}");
}

#[test]
fn command_line_flags() {
    let site = TempSite::new();
    let srv = Binary::serving(site.root())
        .args([
            "--cors-origins",
            "https://app.example,http://localhost:3000",
            "--cors-headers",
            "X-A",
            "--cors-max-age",
            "60",
        ])
        .spawn();
    let resp = srv.request(&request_with(
        "OPTIONS",
        "/style.css",
        &[
            ("Origin", "http://localhost:3000"),
            ("Access-Control-Request-Method", "GET"),
        ],
    ));
    assert_eq!(
        cors_lines(&resp),
        [
            "Access-Control-Allow-Origin: http://localhost:3000",
            "Access-Control-Allow-Methods: GET, HEAD, OPTIONS",
            "Access-Control-Allow-Headers: X-A",
            "Access-Control-Max-Age: 60",
        ],
        "{resp}"
    );
    drop(srv);
    let srv = Binary::serving(site.root())
        .args(["--cors-origins", "*"])
        .spawn();
    let resp = srv.request(&request_with(
        "OPTIONS",
        "/style.css",
        &[("Origin", OTHER), ("Access-Control-Request-Method", "GET")],
    ));
    assert_eq!(
        cors_lines(&resp),
        [
            "Access-Control-Allow-Origin: *",
            "Access-Control-Allow-Methods: GET, HEAD, OPTIONS",
            "Access-Control-Max-Age: 86400",
        ],
        "defaults: {resp}"
    );
    drop(srv);
    // Without the flags, --header keeps doing what it did.
    let srv = Binary::serving(site.root())
        .args(["--header", "Access-Control-Allow-Origin: https://x.example"])
        .spawn();
    let resp = srv.request(&request_with("GET", "/style.css", &[("Origin", OTHER)]));
    assert_eq!(
        cors_lines(&resp),
        ["Access-Control-Allow-Origin: https://x.example"],
        "{resp}"
    );
    assert!(!resp.has_token("Vary", "Origin"), "{resp}");
}

#[test]
fn command_line_rejects_cors_it_cannot_keep() {
    let site = TempSite::new();
    for (args, message) in [
        (
            &[
                "--cors-origins",
                "*",
                "--header",
                "Access-Control-Allow-Origin: *",
            ][..],
            "--header Access-Control-Allow-Origin conflicts with --cors-origins, which sends it",
        ),
        (&["--cors-origins", "null"], "never allowed"),
        (&["--cors-origins", "https://app.example/"], "has a path"),
        (
            &["--cors-origins", "*,https://app.example"],
            "give it alone",
        ),
        (
            &["--cors-headers", "X-A"],
            "--cors-headers needs --cors-origins",
        ),
    ] {
        let out = Binary::serving(site.root())
            .args(args)
            .run(Duration::from_secs(10));
        assert!(!out.status.success(), "{args:?} must be refused");
        let stderr = out.stderr.trim();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
