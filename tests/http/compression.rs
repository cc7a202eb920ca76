//! On-the-fly compression (`compress = true`): gzip, brotli and zstd bodies that
//! decode to the file, deterministic bytes and ETags, a distinct ETag per
//! coding, HEAD agreeing with GET, and the cases left uncompressed.

use std::fs;

use crate::support::*;

const CSS: &str = "text/css; charset=utf-8";

/// Every coding compressed on the fly.
const CODINGS: [&str; 3] = ["gzip", "br", "zstd"];

/// About 10 KiB of compressible CSS.
fn big_css() -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0u32;
    while out.len() < 10 * 1024 {
        out.extend_from_slice(
            format!(
                ".rule-{i} {{ color: #{:06x}; margin: 0 auto; padding: 4px 8px; }}\n",
                i * 37
            )
            .as_bytes(),
        );
        i += 1;
    }
    out
}

fn small_css() -> Vec<u8> {
    let mut css = b".small { color: red; }\n".repeat(20);
    css.truncate(500);
    css
}

/// A ".png" that is really 10 KiB of compressible text: only the type may
/// keep it from being compressed.
fn fake_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(b"AAAAAAAAAAAAAAAA".repeat(640));
    png
}

fn server(configure: impl FnOnce(&mut muxserve::Config)) -> TestServer {
    TestServer::build()
        .site(|site| {
            let root = site.root();
            fs::write(root.join("big.css"), big_css()).unwrap();
            fs::write(root.join("small.css"), small_css()).unwrap();
            fs::write(root.join("big.png"), fake_png()).unwrap();
        })
        .config(configure)
        .start()
}

fn on() -> TestServer {
    server(|c| c.site.compress = true)
}

fn decode(coding: &str, body: &[u8]) -> Vec<u8> {
    match coding {
        "gzip" => gunzip(body),
        "br" => unbrotli(body),
        "zstd" => unzstd(body),
        other => panic!("unexpected coding {other}"),
    }
}

#[test]
fn compressed_bodies_decode_to_the_file() {
    let s = on();
    let file = big_css();
    for coding in CODINGS {
        let resp = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(resp.status, 200, "{resp}");
        resp.assert_common_headers();
        assert_eq!(
            resp.header("Content-Encoding"),
            Some(coding),
            "Accept-Encoding: {coding}: {resp}"
        );
        assert_eq!(resp.header("Content-Type"), Some(CSS));
        assert!(resp.has_token("Vary", "Accept-Encoding"), "{resp}");
        assert!(
            resp.body.len() < file.len() / 2,
            "{coding}: {} bytes for a {}-byte compressible file",
            resp.body.len(),
            file.len()
        );
        assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
        assert_eq!(decode(coding, &resp.body), file, "{coding} body");
    }
}

#[test]
fn compressed_responses_are_deterministic_with_distinct_etags() {
    let s = on();
    let identity = s.get("/big.css");
    assert_eq!(identity.status, 200, "{identity}");
    assert_eq!(identity.header("Content-Encoding"), None);
    assert_eq!(identity.body, big_css());
    let id_tag = strong_etag(&identity);
    let mut tags = vec![id_tag.clone()];
    for coding in CODINGS {
        let a = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        let b = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(a.header("Content-Encoding"), Some(coding), "{a}");
        assert_eq!(a.body, b.body, "{coding}: two requests, different bytes");
        let tag = strong_etag(&a);
        assert_eq!(
            Some(tag.as_str()),
            b.header("ETag"),
            "{coding}: ETag unstable"
        );
        assert!(!tags.contains(&tag), "{coding} ETag {tag} reused: {tags:?}");
        tags.push(tag.clone());

        // The coded tag validates the coded representation.
        let raw = request_with(
            "GET",
            "/big.css",
            &[("Accept-Encoding", coding), ("If-None-Match", &tag)],
        );
        let (nm, next) = pipelined_pair(s.addr(), &raw, "/style.css");
        assert_eq!(nm.status, 304, "{raw:?}: {nm}");
        assert_eq!(nm.header("ETag"), Some(tag.as_str()));
        assert_eq!(next.body, fixture("style.css"), "a 304 sent body bytes");
    }
}

#[test]
fn head_has_the_same_content_length_as_get() {
    let s = on();
    for coding in CODINGS {
        // HEAD first, so it cannot rely on a GET having filled a cache.
        let raw = request_with("HEAD", "/big.css", &[("Accept-Encoding", coding)]);
        let (head, next) = pipelined_pair(s.addr(), &raw, "/style.css");
        assert_eq!(next.body, fixture("style.css"), "HEAD sent body bytes");
        let get = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(head.status, 200, "{head}");
        assert_eq!(head.header("Content-Encoding"), Some(coding), "{head}");
        assert_eq!(
            head.header("Content-Length"),
            get.header("Content-Length"),
            "HEAD vs GET Content-Length with Accept-Encoding: {coding}"
        );
        assert_eq!(head.header("ETag"), get.header("ETag"));
        assert_eq!(headers_without_date(&head), headers_without_date(&get));
    }
}

#[test]
fn cases_left_uncompressed() {
    let s = on();
    for (path, file, ae, why) in [
        (
            "/small.css",
            small_css(),
            "gzip, br, zstd",
            "below compress_min_size",
        ),
        ("/big.png", fake_png(), "gzip, br, zstd", "image/png"),
        ("/big.css", big_css(), "identity", "identity requested"),
        (
            "/big.css",
            big_css(),
            "gzip;q=0, br;q=0, zstd;q=0",
            "codings refused",
        ),
        (
            "/big.css",
            big_css(),
            "compress, deflate",
            "unsupported codings only",
        ),
    ] {
        let resp = s.get_with(path, &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{path} ({why}): {resp}");
        assert_eq!(
            resp.header("Content-Encoding"),
            None,
            "{path} with Accept-Encoding: {ae} ({why}) must not be compressed"
        );
        assert_eq!(resp.body, file, "{path} ({why})");
    }
}

#[test]
fn compress_min_size_is_configurable() {
    let s = server(|c| {
        c.site.compress = true;
        c.site.compress_min_size = 100;
    });
    let resp = s.get_with("/small.css", &[("Accept-Encoding", "gzip")]);
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"), "{resp}");
    assert_eq!(gunzip(&resp.body), small_css());

    let s = server(|c| {
        c.site.compress = true;
        c.site.compress_min_size = 1 << 20;
    });
    let resp = s.get_with("/big.css", &[("Accept-Encoding", "gzip")]);
    assert_eq!(resp.header("Content-Encoding"), None, "{resp}");
    assert_eq!(resp.body, big_css());
}

#[test]
fn compression_is_off_by_default() {
    let s = server(|_| {});
    for ae in ["gzip", "br", "zstd", "br, zstd, gzip"] {
        let resp = s.get_with("/big.css", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.header("Content-Encoding"), None, "AE {ae}: {resp}");
        assert_eq!(resp.body, big_css());
    }
}

#[test]
fn compressed_responses_keep_the_connection_usable() {
    let s = on();
    let mut r = s.reader();
    let req = request_with("GET", "/big.css", &[("Accept-Encoding", "gzip")]);
    r.send(format!("{req}{req}{}", get_request("/style.css")));
    for i in 0..2 {
        let resp = r.read_response();
        assert_eq!(
            resp.header("Content-Encoding"),
            Some("gzip"),
            "#{i}: {resp}"
        );
        assert_eq!(gunzip(&resp.body), big_css(), "#{i}");
    }
    let last = r.read_response();
    assert_eq!(last.body, fixture("style.css"));
}

#[test]
fn a_changed_file_is_compressed_again() {
    let s = on();
    let path = s.root().join("big.css");
    let v1 = big_css();
    let first: Vec<(String, String)> = CODINGS
        .iter()
        .map(|c| {
            let r = s.get_with("/big.css", &[("Accept-Encoding", c)]);
            assert_eq!(decode(c, &r.body), v1, "{c} before the change");
            (c.to_string(), strong_etag(&r))
        })
        .collect();

    // Same length, different bytes, a later mtime.
    let v2: Vec<u8> = v1
        .iter()
        .map(|&b| if b == b'#' { b'@' } else { b })
        .collect();
    assert_eq!(v2.len(), v1.len());
    fs::write(&path, &v2).unwrap();
    let later =
        fs::metadata(&path).unwrap().modified().unwrap() + std::time::Duration::from_secs(60);
    set_mtime(&path, later);

    for (coding, old_tag) in &first {
        let r = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(r.status, 200, "{r}");
        assert_eq!(r.header("Content-Encoding"), Some(coding.as_str()), "{r}");
        assert_eq!(
            decode(coding, &r.body),
            v2,
            "{coding}: a stale compressed body was served after the file changed"
        );
        assert_ne!(
            &strong_etag(&r),
            old_tag,
            "{coding}: ETag unchanged after the file changed"
        );
        let head = s.head_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(
            head.header("Content-Length"),
            r.header("Content-Length"),
            "{coding}"
        );
        let cond = s.get_with(
            "/big.css",
            &[("Accept-Encoding", coding), ("If-None-Match", old_tag)],
        );
        assert_eq!(
            cond.status, 200,
            "{coding}: the old ETag still matched: {cond}"
        );
    }
}

#[test]
fn range_on_a_compressed_response_is_consistent() {
    // Whether a Range applies to the coded bytes or is ignored is the
    // server's choice; what comes back must be self-consistent.
    let s = on();
    for coding in CODINGS {
        let full = s.get_with("/big.css", &[("Accept-Encoding", coding)]);
        assert_eq!(full.header("Content-Encoding"), Some(coding));
        let part = s.get_with(
            "/big.css",
            &[("Accept-Encoding", coding), ("Range", "bytes=0-9")],
        );
        match part.status {
            200 => {
                assert_eq!(decode(coding, &part.body), big_css(), "{coding}: 200 body");
            }
            206 => {
                assert_eq!(part.header("Content-Encoding"), Some(coding), "{part}");
                assert_eq!(
                    part.header("Content-Range"),
                    Some(format!("bytes 0-9/{}", full.body.len()).as_str()),
                    "{coding}"
                );
                assert_eq!(part.body, &full.body[..10], "{coding}: 206 bytes");
                assert_eq!(part.header("ETag"), full.header("ETag"), "{coding}");
            }
            other => panic!("{coding} + Range: status {other}: {part}"),
        }
    }
}
