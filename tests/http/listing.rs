//! Directory listings (`--dir-listing`) as clients get them over a socket: the page or, when
//! Accept prefers `application/json`, JSON; `Vary: Accept` on both; directories first; hidden
//! files left out; HEAD like GET. Escaping of names in the page is in site_features.rs.

use std::fs;

use serde_json::{Value, json};

use crate::support::*;

const HTML: &str = "text/html; charset=utf-8";
const JSON: &str = "application/json";
const JSON_ACCEPT: &[(&str, &str)] = &[("Accept", "application/json")];

/// `/tree/`: two directories, files small and big with names to encode, a dotfile and a
/// dot-directory; file mtimes pinned.
fn tree(site: &TempSite) {
    let dir = site.root().join("tree");
    fs::create_dir_all(dir.join("zeta dir/inner")).unwrap();
    fs::create_dir(dir.join("alpha")).unwrap();
    fs::create_dir(dir.join(".git")).unwrap();
    fs::write(dir.join("a b.txt"), b"hello").unwrap();
    fs::write(dir.join("\"quote\".txt"), b"QUOTE\n").unwrap();
    fs::write(dir.join("<tag>.html"), b"<p>tag</p>\n").unwrap();
    fs::write(dir.join("caf\u{e9}.txt"), b"CAFE\n").unwrap();
    fs::write(dir.join(".secret"), b"SECRET-IN-LISTING\n").unwrap();
    write_random_file(&dir.join("big.bin"), 3 * 1024 * 1024 + 400 * 1024, 7);
    for name in [
        "a b.txt",
        "\"quote\".txt",
        "<tag>.html",
        "caf\u{e9}.txt",
        "big.bin",
    ] {
        set_mtime(&dir.join(name), unix_time(1_796_119_200));
    }
}

fn listing_server(hidden: bool) -> TestServer {
    TestServer::build()
        .site(tree)
        .config(|c| {
            c.site.dir_listing = true;
            c.site.hidden_files = hidden;
        })
        .start()
}

/// The body of `resp` as a JSON array.
fn entries(resp: &Response) -> Vec<Value> {
    let value: Value =
        serde_json::from_slice(&resp.body).unwrap_or_else(|e| panic!("not JSON ({e}): {resp}"));
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {resp}"))
        .clone()
}

fn names(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["name"].as_str().expect("a name"))
        .collect()
}

#[test]
fn json_lists_entries_with_types_sizes_times_and_links() {
    let s = listing_server(false);
    let resp = s.get_with("/tree/", JSON_ACCEPT);
    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_common_headers();
    assert_eq!(resp.header("Content-Type"), Some(JSON), "{resp}");
    assert_eq!(resp.header_all("Vary"), ["Accept"], "{resp}");
    assert_eq!(resp.header("Cache-Control"), Some("no-cache"), "{resp}");
    let entries = entries(&resp);
    assert_eq!(
        names(&entries),
        [
            "alpha",
            "zeta dir",
            "\"quote\".txt",
            "<tag>.html",
            "a b.txt",
            "big.bin",
            "caf\u{e9}.txt"
        ],
        "directories first, each group by name, no dotfiles: {resp}"
    );
    let by_name = |name: &str| {
        entries
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name:?} missing: {resp}"))
    };
    assert_eq!(
        *by_name("a b.txt"),
        json!({
            "name": "a b.txt",
            "type": "file",
            "size": 5,
            "mtime": "2026-12-01T10:00:00Z",
            "url": "a%20b.txt",
        })
    );
    assert_eq!(by_name("big.bin")["size"], 3 * 1024 * 1024 + 400 * 1024);
    assert_eq!(by_name("\"quote\".txt")["url"], "%22quote%22.txt");
    assert_eq!(by_name("<tag>.html")["url"], "%3Ctag%3E.html");
    assert_eq!(by_name("caf\u{e9}.txt")["url"], "caf%C3%A9.txt");
    let dir = by_name("zeta dir");
    assert_eq!(dir["type"], "directory", "{dir}");
    assert_eq!(dir["url"], "zeta%20dir/", "{dir}");
    assert!(dir.get("size").is_none(), "a directory has no size: {dir}");
    let mtime = dir["mtime"].as_str().expect("mtime");
    assert!(
        mtime.len() == 20 && mtime.ends_with('Z') && mtime.as_bytes()[10] == b'T',
        "RFC 3339 UTC: {mtime}"
    );
    // Every url, relative to the listing, leads to what the entry names.
    for (name, body) in [
        ("a b.txt", &b"hello"[..]),
        ("\"quote\".txt", b"QUOTE\n"),
        ("<tag>.html", b"<p>tag</p>\n"),
        ("caf\u{e9}.txt", b"CAFE\n"),
    ] {
        let url = by_name(name)["url"].as_str().unwrap().to_owned();
        let got = s.get(&format!("/tree/{url}"));
        assert_eq!(got.status, 200, "{name:?} at {url}: {got}");
        assert_eq!(got.body, body, "{name:?} at {url}");
    }
    let inner = s.get_with("/tree/zeta%20dir/", JSON_ACCEPT);
    assert_eq!(inner.status, 200, "{inner}");
    assert_eq!(names(&self::entries(&inner)), ["inner"], "{inner}");
}

#[test]
fn accept_decides_the_format_over_the_socket() {
    let s = listing_server(false);
    for (accept, expected) in [
        (None, HTML),
        (Some("*/*"), HTML),
        (Some("text/html, application/json"), HTML),
        (
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            HTML,
        ),
        (Some("image/png"), HTML),
        (Some("application/json;q=0, */*"), HTML),
        (Some("application/json"), JSON),
        (Some("application/json, text/html;q=0.9"), JSON),
        (Some("text/html;q=0, */*"), JSON),
        (Some("application/*"), JSON),
    ] {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("Accept", a)).into_iter().collect();
        let resp = s.get_with("/tree/", &headers);
        assert_eq!(resp.status, 200, "Accept {accept:?}: {resp}");
        assert_eq!(
            resp.header("Content-Type"),
            Some(expected),
            "Accept {accept:?}: {resp}"
        );
        assert_eq!(resp.header_all("Vary"), ["Accept"], "Accept {accept:?}");
        if expected == JSON {
            entries(&resp);
        } else {
            assert!(resp.body_str().starts_with("<!DOCTYPE html>"), "{resp}");
        }
    }
}

#[test]
fn html_lists_directories_first_with_sizes_for_people() {
    let s = listing_server(false);
    let resp = s.get("/tree/");
    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_common_headers();
    assert_eq!(resp.header("Content-Type"), Some(HTML), "{resp}");
    assert_eq!(resp.header_all("Vary"), ["Accept"], "{resp}");
    let body = resp.body_str();
    let order = [
        "href=\"../\"",
        "href=\"alpha/\"",
        "href=\"zeta%20dir/\"",
        "href=\"%22quote%22.txt\"",
        "href=\"%3Ctag%3E.html\"",
        "href=\"a%20b.txt\"",
        "href=\"big.bin\"",
        "href=\"caf%C3%A9.txt\"",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|href| {
            body.find(href)
                .unwrap_or_else(|| panic!("{href} missing:\n{body}"))
        })
        .collect();
    assert!(positions.is_sorted(), "{positions:?}:\n{body}");
    for expected in [
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "title=\"3555328 bytes\">3.4 MiB</td>",
        "title=\"5 bytes\">5 B</td>",
        "<time datetime=\"2026-12-01T10:00:00Z\">2026-12-01 10:00</time>",
        "&quot;quote&quot;.txt</a>",
        "&lt;tag&gt;.html</a>",
        "2 directories, 5 files, 3.4 MiB",
    ] {
        assert!(body.contains(expected), "missing {expected:?}:\n{body}");
    }
    // No parent link at the root (listed here: no index name matches).
    let s = TestServer::build()
        .config(|c| {
            c.site.dir_listing = true;
            c.site.index = vec!["absent.html".to_string()];
        })
        .start();
    let root = s.get("/");
    assert_eq!(root.status, 200, "{root}");
    let body = root.body_str();
    assert!(body.contains("<h1>Index of /</h1>"), "{root}");
    assert!(body.contains("href=\"noindex/\""), "{root}");
    assert!(!body.contains("href=\"../\""), "{root}");
}

#[test]
fn hidden_files_stay_out_of_both_forms_unless_served() {
    let s = listing_server(false);
    let html = s.get("/tree/");
    let json = s.get_with("/tree/", JSON_ACCEPT);
    for resp in [&html, &json] {
        assert_eq!(resp.status, 200, "{resp}");
        for hidden in [".secret", ".git"] {
            assert!(!resp.body_str().contains(hidden), "{hidden} listed: {resp}");
        }
    }
    let s = listing_server(true);
    let html = s.get("/tree/");
    assert!(html.body_str().contains("href=\".secret\""), "{html}");
    let json = s.get_with("/tree/", JSON_ACCEPT);
    let names = names(&self::entries(&json))
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    assert_eq!(names[..3], [".git", "alpha", "zeta dir"], "{json}");
    assert!(names.iter().any(|n| n == ".secret"), "{json}");
}

#[test]
fn head_of_a_listing_has_the_heads_of_get() {
    let s = listing_server(false);
    for accept in [&[][..], JSON_ACCEPT] {
        let get = s.get_with("/tree/", accept);
        let head = s.head_with("/tree/", accept);
        assert_eq!(head.status, 200, "{head}");
        assert!(head.body.is_empty(), "HEAD sent a body: {head}");
        assert_eq!(head.content_length(), Some(get.body.len() as u64), "{head}");
        for name in ["Content-Type", "Content-Length", "Vary", "Cache-Control"] {
            assert_eq!(
                head.header_all(name),
                get.header_all(name),
                "{name} with {accept:?}: HEAD {head} GET {get}"
            );
        }
    }
}

/// Neither form is served without `--dir-listing`: the 403 does not depend on Accept.
#[test]
fn listings_off_answer_403_in_any_format() {
    let s = TestServer::build().site(tree).start();
    for accept in [&[][..], JSON_ACCEPT] {
        let resp = s.get_with("/tree/", accept);
        assert_eq!(resp.status, 403, "{accept:?}: {resp}");
        assert!(!resp.body_str().contains("a b.txt"), "{resp}");
        assert!(resp.header("Vary").is_none(), "{resp}");
    }
}

/// RFC 9110 §13.2.1 (MUST): a listing's preconditions are evaluated as a file's, with no
/// validators to compare: a tag never matches, `*` does (a listing exists), dates are ignored.
#[test]
fn preconditions_apply_to_a_listing_without_validators() {
    let s = listing_server(false);
    for (method, field, value, status) in [
        ("GET", "If-Match", "\"nope\"", 412),
        ("HEAD", "If-Match", "\"nope\"", 412),
        ("GET", "If-Match", "*", 200),
        ("GET", "If-None-Match", "*", 304),
        ("HEAD", "If-None-Match", "*", 304),
        ("GET", "If-None-Match", "\"nope\"", 200),
        (
            "GET",
            "If-Modified-Since",
            "Sat, 01 Jan 2050 00:00:00 GMT",
            200,
        ),
        (
            "GET",
            "If-Unmodified-Since",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            200,
        ),
    ] {
        let resp = s.method_with(method, "/tree/", &[(field, value)]);
        assert_eq!(
            resp.status, status,
            "{method} /tree/ with {field}: {value}: {resp}"
        );
        match status {
            304 => {
                // What the 200 would have said of caching and variance, and nothing else.
                assert_eq!(resp.header("Cache-Control"), Some("no-cache"), "{resp}");
                assert_eq!(resp.header("Vary"), Some("Accept"), "{resp}");
                assert_eq!(resp.header("Content-Type"), None, "{resp}");
                assert!(resp.body.is_empty(), "{resp}");
            }
            412 => assert!(!resp.body_str().contains("a b.txt"), "{resp}"),
            _ => {}
        }
    }
    // Both preconditions at once: If-Match passes, If-None-Match then matches (§13.2.2).
    let both = s.get_with("/tree/", &[("If-Match", "*"), ("If-None-Match", "*")]);
    assert_eq!(both.status, 304, "{both}");
}
