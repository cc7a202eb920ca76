//! Precompressed sidecars: `file.br` / `file.gz` next to `file` are served to
//! clients that accept them (RFC 9110 §12.5.3), with `Content-Encoding`, the
//! type of `file`, `Vary: Accept-Encoding` and an ETag per representation.
//!
//! The sidecars here hold DIFFERENT text from the identity file, so the bytes
//! that come back show which file was chosen.

use std::fs;

use crate::support::*;

const IDENTITY: &[u8] = b"IDENTITY-REPRESENTATION of pre.txt: plain bytes, never compressed.\n";
const GZ_TEXT: &[u8] = b"GZIP-SIDECAR-MARKER: this text only exists inside pre.txt.gz\n";
const BR_TEXT: &[u8] = b"BROTLI-SIDECAR-MARKER: this text only exists inside pre.txt.br\n";
const ONLY_GZ_IDENTITY: &[u8] = b"only.txt identity bytes\n";
const ONLY_GZ_TEXT: &[u8] = b"only.txt.gz sidecar text\n";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

struct Site {
    server: TestServer,
    gz: Vec<u8>,
    br: Vec<u8>,
}

fn site_with(configure: impl FnOnce(&mut muxserve::Config)) -> Site {
    let gz = gzip(GZ_TEXT);
    let br = brotli_compress(BR_TEXT);
    let (g, b) = (gz.clone(), br.clone());
    let server = TestServer::build()
        .site(move |site| {
            let root = site.root();
            fs::write(root.join("pre.txt"), IDENTITY).unwrap();
            fs::write(root.join("pre.txt.gz"), &g).unwrap();
            fs::write(root.join("pre.txt.br"), &b).unwrap();
            fs::write(root.join("only.txt"), ONLY_GZ_IDENTITY).unwrap();
            fs::write(root.join("only.txt.gz"), gzip(ONLY_GZ_TEXT)).unwrap();
        })
        .config(configure)
        .start();
    // Self-check of the fixture: the sidecars are real gzip/brotli streams.
    assert_eq!(gunzip(&gz), GZ_TEXT);
    assert_eq!(unbrotli(&br), BR_TEXT);
    Site { server, gz, br }
}

fn site() -> Site {
    site_with(|_| {})
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rep {
    Identity,
    Gzip,
    Brotli,
}

#[test]
fn accept_encoding_selects_the_representation() {
    let s = site();
    let table: &[(Option<&str>, Rep)] = &[
        (Some("br, gzip"), Rep::Brotli),
        (Some("gzip, br"), Rep::Brotli),
        (Some("br"), Rep::Brotli),
        (Some("gzip"), Rep::Gzip),
        (Some("gzip, deflate"), Rep::Gzip),
        (Some("br;q=0.5, gzip;q=0.9"), Rep::Gzip),
        (Some("gzip;q=1.0, br;q=0.1"), Rep::Gzip),
        (Some("br;q=0, gzip"), Rep::Gzip),
        (Some("GZip"), Rep::Gzip),
        (Some("gzip;q=0"), Rep::Identity),
        (Some("gzip;q=0, br;q=0"), Rep::Identity),
        (Some("identity"), Rep::Identity),
        (Some("deflate"), Rep::Identity),
        (Some(""), Rep::Identity),
        (None, Rep::Identity),
    ];
    let mut failures = Vec::new();
    let mut etags: Vec<(Rep, String)> = Vec::new();
    for (ae, want) in table {
        let headers: Vec<(&str, &str)> = ae.iter().map(|v| ("Accept-Encoding", *v)).collect();
        let resp = s.server.get_with("/pre.txt", &headers);
        let (body, ce): (&[u8], Option<&str>) = match want {
            Rep::Identity => (IDENTITY, None),
            Rep::Gzip => (&s.gz, Some("gzip")),
            Rep::Brotli => (&s.br, Some("br")),
        };
        let ok = resp.status == 200
            && resp.body == body
            && resp.content_length() == Some(body.len() as u64)
            && resp.header("Content-Encoding") == ce
            && resp.header("Content-Type") == Some(TEXT_PLAIN)
            && resp.has_token("Vary", "Accept-Encoding");
        if !ok {
            failures.push(format!(
                "GET /pre.txt with Accept-Encoding {ae:?}: expected {want:?} (Content-Encoding {ce:?}, \
                 {} bytes, {TEXT_PLAIN}, Vary: Accept-Encoding); got status {}, Content-Encoding {:?}, \
                 Content-Type {:?}, Vary {:?}, body {:?}",
                body.len(),
                resp.status,
                resp.header("Content-Encoding"),
                resp.header("Content-Type"),
                resp.header_all("Vary"),
                String::from_utf8_lossy(&resp.body).chars().take(80).collect::<String>(),
            ));
            continue;
        }
        resp.assert_common_headers();
        let etag = strong_etag(&resp);
        // The same representation always has the same tag …
        if let Some((_, t)) = etags.iter().find(|(r, _)| r == want) {
            assert_eq!(t, &etag, "ETag of {want:?} differs between requests");
        } else {
            etags.push((*want, etag));
        }
    }
    assert!(
        failures.is_empty(),
        "{} Accept-Encoding case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // … and different representations have different tags.
    assert_eq!(etags.len(), 3, "{etags:?}");
    for i in 0..etags.len() {
        for j in i + 1..etags.len() {
            assert_ne!(
                etags[i].1, etags[j].1,
                "{:?} and {:?} share an ETag",
                etags[i].0, etags[j].0
            );
        }
    }
}

#[test]
fn head_matches_get_for_each_representation() {
    let s = site();
    for ae in ["br", "gzip", "identity"] {
        let get = s.server.get_with("/pre.txt", &[("Accept-Encoding", ae)]);
        let raw = request_with("HEAD", "/pre.txt", &[("Accept-Encoding", ae)]);
        let (head, next) = pipelined_pair(s.server.addr(), &raw, "/style.css");
        assert_eq!(next.body, fixture("style.css"), "HEAD sent body bytes");
        assert_eq!(head.status, 200, "{head}");
        assert_eq!(
            headers_without_date(&head),
            headers_without_date(&get),
            "HEAD and GET heads differ for Accept-Encoding: {ae}"
        );
    }
}

#[test]
fn conditional_request_per_representation() {
    let s = site();
    let br = s.server.get_with("/pre.txt", &[("Accept-Encoding", "br")]);
    assert_eq!(br.header("Content-Encoding"), Some("br"), "{br}");
    let br_tag = strong_etag(&br);
    let id = s.server.get("/pre.txt");
    let id_tag = strong_etag(&id);

    // The br tag validates the br representation …
    let nm = s.server.get_with(
        "/pre.txt",
        &[("Accept-Encoding", "br"), ("If-None-Match", &br_tag)],
    );
    assert_eq!(nm.status, 304, "{nm}");
    assert_eq!(nm.header("ETag"), Some(br_tag.as_str()));
    assert!(
        nm.has_token("Vary", "Accept-Encoding"),
        "304 without Vary: {nm}"
    );
    // … but not the identity one.
    let full = s.server.get_with("/pre.txt", &[("If-None-Match", &br_tag)]);
    assert_eq!(
        full.status, 200,
        "br ETag must not validate identity: {full}"
    );
    assert_eq!(full.body, IDENTITY);
    let nm = s.server.get_with("/pre.txt", &[("If-None-Match", &id_tag)]);
    assert_eq!(nm.status, 304, "{nm}");
}

#[test]
fn range_applies_to_the_encoded_bytes() {
    let s = site();
    let resp = s.server.get_with(
        "/pre.txt",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-3")],
    );
    assert_eq!(resp.status, 206, "{resp}");
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"), "{resp}");
    assert_eq!(resp.body, &s.gz[..4], "the first 4 bytes of pre.txt.gz");
    assert_eq!(
        resp.header("Content-Range"),
        Some(format!("bytes 0-3/{}", s.gz.len()).as_str())
    );
    assert!(resp.has_token("Vary", "Accept-Encoding"), "{resp}");
}

#[test]
fn identity_refused_without_sidecars_is_406() {
    let s = site();
    for ae in ["identity;q=0", "*;q=0", "identity;q=0, br;q=0, gzip;q=0"] {
        let resp = s.server.get_with("/style.css", &[("Accept-Encoding", ae)]);
        assert_eq!(
            resp.status, 406,
            "GET /style.css (no sidecars) with Accept-Encoding: {ae}: {resp}"
        );
        assert!(!contains(&resp.body, &fixture("style.css")), "{resp}");
    }
    // With a sidecar the client accepts, identity;q=0 is satisfiable.
    let resp = s
        .server
        .get_with("/pre.txt", &[("Accept-Encoding", "identity;q=0, gzip")]);
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"));
    assert_eq!(resp.body, s.gz);
}

#[test]
fn only_gz_sidecar_and_br_requested_gives_identity() {
    let s = site();
    let resp = s.server.get_with("/only.txt", &[("Accept-Encoding", "br")]);
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("Content-Encoding"), None, "{resp}");
    assert_eq!(resp.body, ONLY_GZ_IDENTITY);
    assert!(resp.has_token("Vary", "Accept-Encoding"), "{resp}");
    let resp = s
        .server
        .get_with("/only.txt", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"), "{resp}");
    assert_eq!(gunzip(&resp.body), ONLY_GZ_TEXT);
}

#[test]
fn precompressed_false_ignores_sidecars() {
    let s = site_with(|c| c.site.precompressed = false);
    for ae in ["br, gzip", "gzip", "br"] {
        let resp = s.server.get_with("/pre.txt", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.header("Content-Encoding"), None, "AE {ae}: {resp}");
        assert_eq!(resp.body, IDENTITY, "AE {ae}");
        assert_eq!(resp.header("Content-Type"), Some(TEXT_PLAIN));
    }
}

#[test]
fn sidecar_requested_directly_is_a_plain_file() {
    let s = site();
    for ae in [None, Some("gzip"), Some("br, gzip")] {
        let headers: Vec<(&str, &str)> = ae.iter().map(|v| ("Accept-Encoding", *v)).collect();
        let resp = s.server.get_with("/pre.txt.gz", &headers);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(
            resp.header("Content-Type"),
            Some("application/gzip"),
            "{resp}"
        );
        assert_eq!(resp.header("Content-Encoding"), None, "AE {ae:?}: {resp}");
        assert_eq!(resp.body, s.gz, "AE {ae:?}");
    }
}

#[test]
fn a_rewritten_sidecar_is_served_with_a_new_etag() {
    let s = site();
    let before = s.server.get_with("/pre.txt", &[("Accept-Encoding", "br")]);
    assert_eq!(before.body, s.br);
    let old_tag = strong_etag(&before);
    let new_text = b"BROTLI-SIDECAR-MARKER version two, rewritten while serving\n";
    let new_br = brotli_compress(new_text);
    let p = s.server.root().join("pre.txt.br");
    fs::write(&p, &new_br).unwrap();
    let later = fs::metadata(&p).unwrap().modified().unwrap() + std::time::Duration::from_secs(60);
    set_mtime(&p, later);
    let after = s.server.get_with("/pre.txt", &[("Accept-Encoding", "br")]);
    assert_eq!(after.header("Content-Encoding"), Some("br"), "{after}");
    assert_eq!(after.body, new_br, "stale sidecar bytes");
    assert_ne!(
        strong_etag(&after),
        old_tag,
        "ETag unchanged after the sidecar changed"
    );
    // The other representations are unaffected.
    let gz = s
        .server
        .get_with("/pre.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(gz.body, s.gz);
}

#[test]
fn q_value_syntax_variants() {
    let s = site();
    for (ae, want) in [
        ("gzip; q=0.5", Some("gzip")),
        ("gzip ;q=0.5", Some("gzip")),
        ("br;q=0.001, gzip;q=0.002", Some("gzip")),
        ("gzip;q=0.000", None),
        ("br;Q=0, gzip", Some("gzip")),
        ("x-unknown, gzip;q=0.3", Some("gzip")),
    ] {
        let resp = s.server.get_with("/pre.txt", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(
            resp.header("Content-Encoding"),
            want,
            "Accept-Encoding: {ae}"
        );
        let expected: &[u8] = match want {
            Some("gzip") => &s.gz,
            _ => IDENTITY,
        };
        assert_eq!(resp.body, expected, "Accept-Encoding: {ae}");
    }
}

/// The `<li>` items of a page.
fn list_items(body: &str) -> Vec<String> {
    body.split("<li>")
        .skip(1)
        .map(|li| li.split("</li>").next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_406_lists_the_codings_the_file_is_available_in() {
    // RFC 9110 §15.5.7 (SHOULD): the 406 lists the available representations.
    let s = site();
    let resp = s
        .server
        .get_with("/pre.txt", &[("Accept-Encoding", "identity;q=0, zstd")]);
    assert_eq!(resp.status, 406, "{resp}");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
    assert!(resp.has_token("Vary", "Accept-Encoding"), "{resp}");
    assert_eq!(
        list_items(&resp.body_str()),
        [
            "identity (as stored)",
            "br (precompressed)",
            "gzip (precompressed)"
        ],
        "{resp}"
    );
    let resp = s
        .server
        .get_with("/style.css", &[("Accept-Encoding", "*;q=0")]);
    assert_eq!(resp.status, 406, "{resp}");
    assert_eq!(
        list_items(&resp.body_str()),
        ["identity (as stored)"],
        "{resp}"
    );
    // With on-the-fly compression, the codings the server compresses into are available too.
    let s = site_with(|c| {
        c.site.compress = true;
        c.site.compress_min_size = 0;
    });
    let resp = s
        .server
        .get_with("/only.txt", &[("Accept-Encoding", "*;q=0")]);
    assert_eq!(resp.status, 406, "{resp}");
    assert_eq!(
        list_items(&resp.body_str()),
        [
            "identity (as stored)",
            "br (compressed when asked for)",
            "zstd (compressed when asked for)",
            "gzip (precompressed)"
        ],
        "{resp}"
    );
}
