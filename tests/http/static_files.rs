//! Serving files: bytes, content types, HEAD (its head equals GET's),
//! directories, 404s, request-target forms and OPTIONS. Dotfiles are in
//! traversal.rs.

use std::fs;

use crate::support::*;

fn assert_file(resp: &Response, rel: &str, content_type: &str) {
    assert_eq!(resp.status, 200, "GET {rel}: {resp}");
    resp.assert_common_headers();
    let expected = fixture(rel);
    assert_eq!(
        resp.content_length(),
        Some(expected.len() as u64),
        "Content-Length of {rel}"
    );
    assert_eq!(resp.body, expected, "body of {rel}");
    assert_eq!(
        resp.header("Content-Type"),
        Some(content_type),
        "Content-Type of {rel}"
    );
}

#[test]
fn get_root_serves_index_html_exactly() {
    let s = TestServer::start();
    let resp = s.get("/");
    assert_file(&resp, "index.html", "text/html; charset=utf-8");
    assert_eq!(resp.reason, "OK");
}

#[test]
fn get_index_html_by_name() {
    let s = TestServer::start();
    assert_file(
        &s.get("/index.html"),
        "index.html",
        "text/html; charset=utf-8",
    );
}

#[test]
fn content_types() {
    let s = TestServer::start();
    assert_file(&s.get("/style.css"), "style.css", "text/css; charset=utf-8");
    assert_file(&s.get("/image.png"), "image.png", "image/png");
    assert_file(
        &s.get("/file.unknownext"),
        "file.unknownext",
        "application/octet-stream",
    );
    assert_file(
        &s.get("/noindex/a.txt"),
        "noindex/a.txt",
        "text/plain; charset=utf-8",
    );
}

#[test]
fn content_types_of_web_files() {
    let table = [
        ("app.wasm", "application/wasm"),
        ("module.mjs", "text/javascript; charset=utf-8"),
        ("script.js", "text/javascript; charset=utf-8"),
        (
            "site.webmanifest",
            "application/manifest+json; charset=utf-8",
        ),
        ("photo.avif", "image/avif"),
        ("font.woff2", "font/woff2"),
        ("UPPER.WASM", "application/wasm"),
        ("font.otf", "font/otf"),
        ("font.ttf", "font/ttf"),
        ("app.js.map", "application/json; charset=utf-8"),
        ("config.yml", "application/yaml; charset=utf-8"),
    ];
    let s = TestServer::build()
        .site(|site| {
            for (name, _) in table {
                fs::write(site.root().join(name), format!("content of {name}\n")).unwrap();
            }
        })
        .start();
    let mut failures = Vec::new();
    for (name, ctype) in table {
        let resp = s.get(&format!("/{name}"));
        assert_eq!(resp.status, 200, "GET /{name}: {resp}");
        assert_eq!(resp.body, format!("content of {name}\n").as_bytes());
        if resp.header("Content-Type") != Some(ctype) {
            failures.push(format!(
                "/{name}: Content-Type {:?}, expected {ctype:?}",
                resp.header("Content-Type")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn empty_file_has_content_length_zero() {
    let s = TestServer::start();
    let resp = s.get("/empty.txt");
    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_common_headers();
    assert_eq!(resp.header("Content-Length"), Some("0"));
    assert!(resp.body.is_empty());
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
}

#[test]
fn percent_encoded_names_are_decoded() {
    let s = TestServer::start();
    assert_file(
        &s.get("/a%20space.txt"),
        "a space.txt",
        "text/plain; charset=utf-8",
    );
    assert_file(
        &s.get("/caf%C3%A9.txt"),
        "café.txt",
        "text/plain; charset=utf-8",
    );
    // lower-case hex digits too
    assert_file(
        &s.get("/caf%c3%a9.txt"),
        "café.txt",
        "text/plain; charset=utf-8",
    );
}

#[test]
fn query_string_is_ignored_for_file_lookup() {
    let s = TestServer::start();
    assert_file(
        &s.get("/style.css?v=1&x=%2F"),
        "style.css",
        "text/css; charset=utf-8",
    );
}

#[test]
fn head_has_same_headers_and_no_body() {
    let s = TestServer::start();
    let get = s.get("/");
    let mut r = s.reader();
    // HEAD and a GET pipelined: right after HEAD's head must come the GET's
    // status line, nothing else.
    r.send("HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\nGET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = r.read_head_response();
    assert_eq!(head.status, 200, "{head}");
    head.assert_common_headers();
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert_eq!(
        head.header("Content-Length"),
        Some(fixture("index.html").len().to_string().as_str())
    );
    assert_eq!(head.header("Content-Type"), get.header("Content-Type"));
    // read until the next head is complete and check where it starts
    let next = r.read_head().expect("response to the GET after HEAD");
    assert_eq!(next.status, 200);
    assert_eq!(
        next.header("Content-Length"),
        Some(fixture("style.css").len().to_string().as_str()),
        "the response after HEAD must be the GET /style.css one"
    );
}

#[test]
fn head_then_get_sequentially_next_bytes_are_status_line() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send("HEAD /image.png HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = r.read_head_response();
    assert_eq!(head.status, 200, "{head}");
    assert_eq!(
        head.content_length(),
        Some(fixture("image.png").len() as u64)
    );
    assert_eq!(head.header("Content-Type"), Some("image/png"));
    r.send("GET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n");
    // The very next bytes on the wire must be the GET's status line.
    let mut first = Vec::new();
    while first.len() < 9 {
        match r.poll() {
            ReadOutcome::Data(d) => first.extend(d),
            other => panic!("expected the GET's response, got {other:?}"),
        }
    }
    assert!(
        first.starts_with(b"HTTP/1.1 200"),
        "bytes after a HEAD response: {:?}",
        String::from_utf8_lossy(&first)
    );
}

#[test]
fn head_equals_get_except_date_and_body() {
    let s = TestServer::build()
        .site(|site| {
            fs::write(
                site.root().join("style.css.gz"),
                gzip(&fixture("style.css")),
            )
            .unwrap();
        })
        .config(|c| c.site.headers = vec![("X-Extra".to_string(), "1".to_string())])
        .start();
    let etag = strong_etag(&s.get("/image.png"));
    let rows: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("/style.css", vec![]),
        ("/style.css", vec![("Accept-Encoding", "gzip")]),
        ("/", vec![]),
        ("/image.png", vec![]),
        ("/image.png", vec![("If-None-Match", &etag)]),
        ("/image.png", vec![("If-Match", "\"nope\"")]),
        ("/empty.txt", vec![]),
        ("/file.unknownext", vec![]),
        ("/nope.html", vec![]),
        ("/dir", vec![]),
        ("/noindex/", vec![]),
    ];
    let mut failures = Vec::new();
    for (path, headers) in &rows {
        let get = s.get_with(path, headers);
        let raw = request_with("HEAD", path, headers);
        let (head, next) = pipelined_pair(s.addr(), &raw, "/image.png");
        assert_eq!(
            next.body,
            fixture("image.png"),
            "HEAD {path} sent body bytes"
        );
        if head.status != get.status
            || head.reason != get.reason
            || headers_without_date(&head) != headers_without_date(&get)
        {
            failures.push(format!(
                "{path} {headers:?}:\nGET:\n{:?} {:?}\nHEAD:\n{:?} {:?}",
                get.status,
                headers_without_date(&get),
                head.status,
                headers_without_date(&head)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn directory_without_slash_redirects() {
    let s = TestServer::start();
    let resp = s.get("/dir");
    assert_eq!(resp.status, 301, "{resp}");
    resp.assert_common_headers();
    assert_eq!(resp.header("Location"), Some("/dir/"));

    let resp = s.get("/dir?a=1&b=2");
    assert_eq!(resp.status, 301, "{resp}");
    assert_eq!(resp.header("Location"), Some("/dir/?a=1&b=2"));
}

#[test]
fn directory_with_slash_serves_its_index() {
    let s = TestServer::start();
    assert_file(
        &s.get("/dir/"),
        "dir/index.html",
        "text/html; charset=utf-8",
    );
}

#[test]
fn directory_without_index_is_forbidden() {
    let s = TestServer::start();
    let resp = s.get("/noindex/");
    assert_eq!(resp.status, 403, "{resp}");
    resp.assert_common_headers();
    assert!(
        !contains(&resp.body, b"a.txt"),
        "403 must not list the directory: {resp}"
    );
    let resp = s.get("/empty-dir/");
    assert_eq!(resp.status, 403, "{resp}");
}

#[test]
fn missing_file_serves_site_404_page() {
    let s = TestServer::start();
    for path in ["/nope.html", "/dir/nope", "/no/such/dir/", "/style.css/x"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path}: {resp}");
        resp.assert_common_headers();
        assert_eq!(resp.body, fixture("404.html"), "GET {path}");
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/html; charset=utf-8"),
            "GET {path}"
        );
    }
}

#[test]
fn missing_file_without_404_page_gets_builtin_body() {
    let s = TestServer::build()
        .site(|site| fs::remove_file(site.root().join("404.html")).unwrap())
        .start();
    let resp = s.get("/nope.html");
    assert_eq!(resp.status, 404, "{resp}");
    resp.assert_common_headers();
    assert!(!resp.body.is_empty(), "built-in 404 body is empty");
    assert!(contains(&resp.body, b"404"), "{resp}");
    assert!(
        resp.header("Content-Type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{resp}"
    );
    assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
}

#[test]
fn absolute_form_target_is_served() {
    let s = TestServer::start();
    let resp = s.request("GET http://localhost/style.css HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_file(&resp, "style.css", "text/css; charset=utf-8");
}

#[test]
fn options_star_and_path() {
    let s = TestServer::start();
    for raw in [
        "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "OPTIONS / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ] {
        let resp = s.request(raw);
        assert_eq!(resp.status, 204, "{raw:?}: {resp}");
        assert_eq!(resp.header("Allow"), Some(ALLOW), "{raw:?}");
        assert!(resp.body.is_empty());
        assert!(resp.header("Date").is_some());
        assert_eq!(resp.header("Server"), Some("muxserve"));
    }
}

#[test]
fn options_keeps_connection_usable() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send("OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\nGET /style.css HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let opt = r.read_response();
    assert_eq!(opt.status, 204, "{opt}");
    let get = r.read_response();
    assert_eq!(get.status, 200, "{get}");
    assert_eq!(get.body, fixture("style.css"));
}

#[test]
fn options_on_a_file() {
    let s = TestServer::start();
    let raw = request_with("OPTIONS", "/style.css", &[]);
    let (resp, next) = pipelined_pair(s.addr(), &raw, "/image.png");
    assert_eq!(resp.status, 204, "{resp}");
    assert_eq!(resp.header("Allow"), Some(ALLOW));
    assert!(resp.body.is_empty());
    assert_eq!(next.status, 200, "{next}");
    assert_eq!(next.body, fixture("image.png"), "OPTIONS sent body bytes");
}
