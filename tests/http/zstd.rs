//! zstd (RFC 8878, the `zstd` content coding): `file.zst` sidecars beside
//! `.br` and `.gz`, chosen by q-values with br > zstd > gzip on equal weight
//! (RFC 9110 §12.5.3), their own validators and ranges, 406 as for the other
//! codings, and zstd on the fly with `compress = true` (decodes to the file,
//! cached, the original's ETag with `-zstd`).
//!
//! Each sidecar holds DIFFERENT text from the identity file, so the bytes that
//! come back show which file was chosen.

use std::fs;

use crate::support::*;

const IDENTITY: &[u8] = b"IDENTITY of pre.txt: plain bytes, never compressed.\n";
const BR_TEXT: &[u8] = b"BROTLI-SIDECAR of pre.txt.br\n";
const ZSTD_TEXT: &[u8] = b"ZSTD-SIDECAR-MARKER: this text only exists inside pre.txt.zst\n";
const GZ_TEXT: &[u8] = b"GZIP-SIDECAR of pre.txt.gz\n";
/// `two.txt` has a `.zst` and a `.gz` sidecar only.
const TWO_IDENTITY: &[u8] = b"two.txt identity bytes\n";
const TWO_ZSTD_TEXT: &[u8] = b"two.txt.zst sidecar text\n";
const TWO_GZ_TEXT: &[u8] = b"two.txt.gz sidecar text\n";
const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rep {
    Identity,
    Brotli,
    Zstd,
    Gzip,
}

impl Rep {
    fn coding(self) -> Option<&'static str> {
        match self {
            Rep::Identity => None,
            Rep::Brotli => Some("br"),
            Rep::Zstd => Some("zstd"),
            Rep::Gzip => Some("gzip"),
        }
    }
}

struct Site {
    server: TestServer,
    br: Vec<u8>,
    zst: Vec<u8>,
    gz: Vec<u8>,
}

impl Site {
    /// The bytes of `/pre.txt` in `rep`.
    fn pre(&self, rep: Rep) -> &[u8] {
        match rep {
            Rep::Identity => IDENTITY,
            Rep::Brotli => &self.br,
            Rep::Zstd => &self.zst,
            Rep::Gzip => &self.gz,
        }
    }
}

fn site_with(configure: impl FnOnce(&mut muxserve::Config)) -> Site {
    let (br, zst, gz) = (
        brotli_compress(BR_TEXT),
        zstd_compress(ZSTD_TEXT),
        gzip(GZ_TEXT),
    );
    let (b, z, g) = (br.clone(), zst.clone(), gz.clone());
    let server = TestServer::build()
        .site(move |site| {
            let root = site.root();
            fs::write(root.join("pre.txt"), IDENTITY).unwrap();
            fs::write(root.join("pre.txt.br"), &b).unwrap();
            fs::write(root.join("pre.txt.zst"), &z).unwrap();
            fs::write(root.join("pre.txt.gz"), &g).unwrap();
            fs::write(root.join("two.txt"), TWO_IDENTITY).unwrap();
            fs::write(root.join("two.txt.zst"), zstd_compress(TWO_ZSTD_TEXT)).unwrap();
            fs::write(root.join("two.txt.gz"), gzip(TWO_GZ_TEXT)).unwrap();
        })
        .config(configure)
        .start();
    // Self-check of the fixture: the sidecar is a real zstd frame.
    assert_eq!(unzstd(&zst), ZSTD_TEXT);
    Site {
        server,
        br,
        zst,
        gz,
    }
}

fn site() -> Site {
    site_with(|_| {})
}

#[test]
fn q_values_choose_among_br_zstd_and_gzip_sidecars() {
    let s = site();
    let table: &[(&str, Rep)] = &[
        ("zstd", Rep::Zstd),
        ("ZStd", Rep::Zstd),
        ("br;q=0.5, zstd", Rep::Zstd),
        ("gzip, zstd", Rep::Zstd),
        ("zstd, gzip", Rep::Zstd),
        ("br, zstd, gzip", Rep::Brotli),
        ("gzip, deflate, br, zstd", Rep::Brotli),
        ("zstd;q=0.9, br;q=0.8", Rep::Zstd),
        ("zstd;q=0.5, gzip;q=0.6", Rep::Gzip),
        ("zstd;q=0", Rep::Identity),
        ("zstd;q=0, gzip", Rep::Gzip),
        ("br;q=0, *", Rep::Zstd),
        ("*", Rep::Brotli),
        ("identity;q=0, zstd", Rep::Zstd),
        ("x-zstd", Rep::Identity),
    ];
    let mut failures = Vec::new();
    let mut etags: Vec<(Rep, String)> = Vec::new();
    for &(ae, want) in table {
        let resp = s.server.get_with("/pre.txt", &[("Accept-Encoding", ae)]);
        let body = s.pre(want);
        let ok = resp.status == 200
            && resp.body == body
            && resp.content_length() == Some(body.len() as u64)
            && resp.header("Content-Encoding") == want.coding()
            && resp.header("Content-Type") == Some(TEXT_PLAIN)
            && resp.has_token("Vary", "Accept-Encoding");
        if !ok {
            failures.push(format!(
                "Accept-Encoding: {ae}: expected {want:?}; got {resp}"
            ));
            continue;
        }
        resp.assert_common_headers();
        let etag = strong_etag(&resp);
        match etags.iter().find(|(r, _)| *r == want) {
            Some((_, t)) => assert_eq!(t, &etag, "ETag of {want:?} differs between requests"),
            None => etags.push((want, etag)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Four representations, four tags.
    assert_eq!(etags.len(), 4, "{etags:?}");
    for (i, (a, ta)) in etags.iter().enumerate() {
        for (b, tb) in &etags[i + 1..] {
            assert_ne!(ta, tb, "{a:?} and {b:?} share an ETag");
        }
    }
    assert_eq!(unzstd(s.pre(Rep::Zstd)), ZSTD_TEXT);
}

#[test]
fn without_a_br_sidecar_zstd_comes_before_gzip() {
    let s = site();
    for (ae, coding, text) in [
        ("br, zstd, gzip", Some("zstd"), TWO_ZSTD_TEXT),
        ("gzip, deflate, br, zstd", Some("zstd"), TWO_ZSTD_TEXT),
        ("br, gzip;q=0.9, zstd;q=0.8", Some("gzip"), TWO_GZ_TEXT),
        ("br", None, TWO_IDENTITY),
    ] {
        let resp = s.server.get_with("/two.txt", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.header("Content-Encoding"), coding, "{ae}: {resp}");
        let decoded = match coding {
            Some("zstd") => unzstd(&resp.body),
            Some(_) => gunzip(&resp.body),
            None => resp.body.clone(),
        };
        assert_eq!(decoded, text, "{ae}");
        // The client accepts a sidecar the file has, or the type compresses: Vary either way.
        assert!(resp.has_token("Vary", "Accept-Encoding"), "{ae}: {resp}");
    }
}

#[test]
fn head_matches_get_for_the_zst_sidecar() {
    let s = site();
    let get = s
        .server
        .get_with("/pre.txt", &[("Accept-Encoding", "zstd")]);
    assert_eq!(get.header("Content-Encoding"), Some("zstd"), "{get}");
    let raw = request_with("HEAD", "/pre.txt", &[("Accept-Encoding", "zstd")]);
    let (head, next) = pipelined_pair(s.server.addr(), &raw, "/style.css");
    assert_eq!(next.body, fixture("style.css"), "HEAD sent body bytes");
    assert_eq!(head.status, 200, "{head}");
    assert_eq!(
        head.content_length(),
        Some(s.zst.len() as u64),
        "HEAD's length is the sidecar's: {head}"
    );
    assert_eq!(headers_without_date(&head), headers_without_date(&get));
}

#[test]
fn ranges_count_the_sidecars_bytes() {
    let s = site();
    let len = s.zst.len();
    for (range, first, last) in [
        ("bytes=0-3", 0, 3),
        ("bytes=-5", len - 5, len - 1),
        ("bytes=4-", 4, len - 1),
    ] {
        let resp = s
            .server
            .get_with("/pre.txt", &[("Accept-Encoding", "zstd"), ("Range", range)]);
        assert_eq!(resp.status, 206, "{range}: {resp}");
        assert_eq!(resp.header("Content-Encoding"), Some("zstd"), "{resp}");
        assert_eq!(resp.body, &s.zst[first..=last], "{range}");
        assert_eq!(
            resp.header("Content-Range"),
            Some(format!("bytes {first}-{last}/{len}").as_str()),
            "{range}"
        );
        assert!(resp.has_token("Vary", "Accept-Encoding"), "{resp}");
    }
    // Several ranges: multipart parts of the sidecar's bytes.
    let resp = s.server.get_with(
        "/pre.txt",
        &[("Accept-Encoding", "zstd"), ("Range", "bytes=0-1,5-6")],
    );
    assert_eq!(resp.status, 206, "{resp}");
    let boundary = multipart_boundary(resp.header("Content-Type").unwrap_or(""));
    let parts = parse_multipart(&resp.body, &boundary);
    assert_eq!(parts.len(), 2, "{resp}");
    assert_eq!(parts[0].body, &s.zst[0..2]);
    assert_eq!(parts[1].body, &s.zst[5..7]);
}

#[test]
fn the_sidecars_tag_validates_only_the_sidecar() {
    let s = site();
    let zst = s
        .server
        .get_with("/pre.txt", &[("Accept-Encoding", "zstd")]);
    let tag = strong_etag(&zst);
    let nm = s.server.get_with(
        "/pre.txt",
        &[("Accept-Encoding", "zstd"), ("If-None-Match", &tag)],
    );
    assert_eq!(nm.status, 304, "{nm}");
    assert_eq!(nm.header("ETag"), Some(tag.as_str()));
    assert!(nm.has_token("Vary", "Accept-Encoding"), "{nm}");
    assert!(nm.body.is_empty(), "{nm}");
    // Not the identity's, br's or gzip's validator.
    for (ae, body) in [("identity", IDENTITY), ("br", &s.br[..]), ("gzip", &s.gz)] {
        let full = s.server.get_with(
            "/pre.txt",
            &[("Accept-Encoding", ae), ("If-None-Match", &tag)],
        );
        assert_eq!(full.status, 200, "zstd tag matched {ae}: {full}");
        assert_eq!(full.body, body, "{ae}");
    }
    // If-Range with the sidecar's tag: the range applies to the sidecar.
    let part = s.server.get_with(
        "/pre.txt",
        &[
            ("Accept-Encoding", "zstd"),
            ("Range", "bytes=0-3"),
            ("If-Range", &tag),
        ],
    );
    assert_eq!(part.status, 206, "{part}");
    assert_eq!(part.body, &s.zst[..4]);
    // A rewritten sidecar has a new tag.
    let p = s.server.root().join("pre.txt.zst");
    let new_zst = zstd_compress(b"ZSTD-SIDECAR-MARKER version two\n");
    fs::write(&p, &new_zst).unwrap();
    set_mtime(
        &p,
        fs::metadata(&p).unwrap().modified().unwrap() + std::time::Duration::from_secs(60),
    );
    let after = s.server.get_with(
        "/pre.txt",
        &[("Accept-Encoding", "zstd"), ("If-None-Match", &tag)],
    );
    assert_eq!(after.status, 200, "{after}");
    assert_eq!(after.body, new_zst);
    assert_ne!(strong_etag(&after), tag);
}

#[test]
fn refusing_identity_and_zstd_is_406() {
    let s = site();
    for (path, ae, status, coding) in [
        // style.css has no sidecars and nothing compresses on the fly here.
        ("/style.css", "identity;q=0, zstd", 406, None),
        ("/style.css", "identity;q=0, zstd;q=0", 406, None),
        (
            "/style.css",
            "zstd;q=0, br;q=0, gzip;q=0, identity;q=0",
            406,
            None,
        ),
        // With a sidecar the client accepts, identity;q=0 is satisfiable …
        ("/pre.txt", "identity;q=0, zstd", 200, Some("zstd")),
        ("/two.txt", "identity;q=0, br, zstd", 200, Some("zstd")),
        // … but not when that coding is refused too.
        ("/two.txt", "identity;q=0, zstd;q=0, br", 406, None),
    ] {
        let resp = s.server.get_with(path, &[("Accept-Encoding", ae)]);
        assert_eq!(
            resp.status, status,
            "{path} with Accept-Encoding: {ae}: {resp}"
        );
        assert_eq!(
            resp.header("Content-Encoding"),
            coding,
            "{path} {ae}: {resp}"
        );
        if status == 406 {
            assert!(!contains(&resp.body, &fixture("style.css")), "{resp}");
            assert!(!contains(&resp.body, TWO_IDENTITY), "{resp}");
        }
    }
}

#[test]
fn precompressed_false_ignores_zst_sidecars() {
    let s = site_with(|c| c.site.precompressed = false);
    for ae in ["zstd", "gzip, zstd"] {
        let resp = s.server.get_with("/pre.txt", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.header("Content-Encoding"), None, "{ae}: {resp}");
        assert_eq!(resp.body, IDENTITY, "{ae}");
    }
}

#[test]
fn a_zst_asked_for_by_name_is_a_plain_file() {
    let s = site();
    for ae in [None, Some("zstd")] {
        let headers: Vec<(&str, &str)> = ae.iter().map(|v| ("Accept-Encoding", *v)).collect();
        let resp = s.server.get_with("/pre.txt.zst", &headers);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(resp.header("Content-Type"), Some("application/zstd"));
        assert_eq!(resp.header("Content-Encoding"), None, "{ae:?}: {resp}");
        assert_eq!(resp.body, s.zst, "{ae:?}");
    }
}

/// About 10 KiB of compressible CSS.
fn big_css() -> Vec<u8> {
    (0..200)
        .map(|i| format!(".rule-{i} {{ color: #{:06x}; margin: 0 auto; }}\n", i * 41))
        .collect::<String>()
        .into_bytes()
}

fn compressing() -> TestServer {
    TestServer::build()
        .site(|site| {
            let root = site.root();
            fs::write(root.join("big.css"), big_css()).unwrap();
            // A sidecar outranks compressing on the fly.
            fs::write(root.join("side.css"), big_css()).unwrap();
            fs::write(root.join("side.css.zst"), zstd_compress(&big_css())).unwrap();
        })
        .config(|c| c.site.compress = true)
        .start()
}

#[test]
fn on_the_fly_zstd_decodes_to_the_file_and_is_cached() {
    let s = compressing();
    let file = big_css();
    let identity = s.get("/big.css");
    let id_tag = strong_etag(&identity);

    let first = s.get_with("/big.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(first.status, 200, "{first}");
    first.assert_common_headers();
    assert_eq!(first.header("Content-Encoding"), Some("zstd"), "{first}");
    assert_eq!(
        first.header("Content-Type"),
        Some("text/css; charset=utf-8")
    );
    assert!(first.has_token("Vary", "Accept-Encoding"), "{first}");
    assert!(
        first.body.len() < file.len() / 2,
        "{} bytes for a {}-byte file",
        first.body.len(),
        file.len()
    );
    assert_eq!(first.content_length(), Some(first.body.len() as u64));
    assert_eq!(unzstd(&first.body), file);
    // The original's tag with the coding inside the quotes.
    let tag = strong_etag(&first);
    assert_eq!(
        tag,
        format!("{}-zstd\"", id_tag.trim_end_matches('"')),
        "identity {id_tag}"
    );

    // Cached: the same bytes again, on another connection.
    let second = s.get_with("/big.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(second.body, first.body, "two requests, different bytes");
    assert_eq!(second.header("ETag"), Some(tag.as_str()));

    // HEAD agrees, and the coded tag validates the coded body only.
    let head = s.head_with("/big.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(headers_without_date(&head), headers_without_date(&first));
    let nm = s.get_with(
        "/big.css",
        &[("Accept-Encoding", "zstd"), ("If-None-Match", &tag)],
    );
    assert_eq!(nm.status, 304, "{nm}");
    assert_eq!(nm.header("ETag"), Some(tag.as_str()));
    let other = s.get_with(
        "/big.css",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &tag)],
    );
    assert_eq!(other.status, 200, "zstd tag matched gzip: {other}");
    assert_eq!(other.header("Content-Encoding"), Some("gzip"), "{other}");
}

#[test]
fn on_the_fly_codings_follow_q_values() {
    let s = compressing();
    for (ae, coding) in [
        ("zstd", Some("zstd")),
        ("gzip, zstd", Some("zstd")),
        ("br;q=0.5, zstd", Some("zstd")),
        ("br, zstd, gzip", Some("br")),
        ("gzip, deflate, br, zstd", Some("br")),
        ("zstd;q=0.1, gzip", Some("gzip")),
        ("zstd;q=0", None),
        ("identity;q=0, zstd", Some("zstd")),
    ] {
        let resp = s.get_with("/big.css", &[("Accept-Encoding", ae)]);
        assert_eq!(resp.status, 200, "{ae}: {resp}");
        assert_eq!(resp.header("Content-Encoding"), coding, "{ae}: {resp}");
        let decoded = match coding {
            Some("zstd") => unzstd(&resp.body),
            Some("br") => unbrotli(&resp.body),
            Some(_) => gunzip(&resp.body),
            None => resp.body.clone(),
        };
        assert_eq!(decoded, big_css(), "{ae}");
    }
    // Refusing zstd and identity leaves nothing when zstd is all the client takes.
    let resp = s.get_with("/big.css", &[("Accept-Encoding", "identity;q=0, zstd;q=0")]);
    assert_eq!(resp.status, 406, "{resp}");
}

#[test]
fn a_zst_sidecar_outranks_compressing_on_the_fly() {
    let s = compressing();
    let sidecar = fs::read(s.root().join("side.css.zst")).unwrap();
    let resp = s.get_with("/side.css", &[("Accept-Encoding", "zstd")]);
    assert_eq!(resp.header("Content-Encoding"), Some("zstd"), "{resp}");
    assert_eq!(resp.body, sidecar, "the sidecar's own bytes");
    assert!(
        !strong_etag(&resp).ends_with("-zstd\""),
        "a sidecar has its own tag: {resp}"
    );
}
