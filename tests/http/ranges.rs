//! Range requests (RFC 9110 §14): single ranges, suffixes, clipping, 416,
//! ignored syntax, `If-Range`, `multipart/byteranges`, coalescing, HEAD,
//! large offsets, and preconditions evaluated before the range.

use std::fs;

use crate::support::*;

const LEN: usize = 10_000;
const SEED: u64 = 0x5eed_1234;
const MTIME: u64 = 1_614_834_367;
const MTIME_HTTP: &str = "Thu, 04 Mar 2021 05:06:07 GMT";
const HOUR_BEFORE: &str = "Thu, 04 Mar 2021 04:06:07 GMT";
const HOUR_AFTER: &str = "Thu, 04 Mar 2021 06:06:07 GMT";

/// A server whose root holds `data.bin`: 10 000 known bytes, pinned mtime.
/// The Content-Type a plain GET /data.bin gets.
fn content_type(s: &TestServer) -> String {
    s.get("/data.bin")
        .header("Content-Type")
        .unwrap()
        .to_string()
}

fn server() -> (TestServer, Vec<u8>) {
    let data = xorshift_bytes(LEN, SEED);
    let d = data.clone();
    let s = TestServer::build()
        .site(move |site| {
            let p = site.root().join("data.bin");
            fs::write(&p, &d).unwrap();
            set_mtime(&p, unix_time(MTIME));
            set_mtime(&site.root().join("empty.txt"), unix_time(MTIME));
        })
        .start();
    (s, data)
}

fn range(s: &TestServer, spec: &str) -> Response {
    s.get_with("/data.bin", &[("Range", spec)])
}

#[test]
fn file_responses_advertise_accept_ranges() {
    let (s, _) = server();
    for path in ["/data.bin", "/style.css", "/", "/image.png", "/empty.txt"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 200, "GET {path}: {resp}");
        assert_eq!(resp.header("Accept-Ranges"), Some("bytes"), "GET {path}");
    }
    let resp = range(&s, "bytes=0-0");
    assert_eq!(resp.status, 206, "{resp}");
    assert_eq!(resp.header("Accept-Ranges"), Some("bytes"), "{resp}");
}

/// What a row expects.
enum Want {
    /// 206 with `Content-Range: bytes FIRST-LAST/10000` and those bytes.
    Partial(usize, usize),
    /// 416 with `Content-Range: bytes */10000`.
    Unsatisfiable,
    /// 200 with the whole file (the Range header was ignored).
    Full,
}

#[test]
fn single_ranges_table() {
    let (s, data) = server();
    let full = s.get("/data.bin");
    assert_eq!(full.status, 200, "{full}");
    assert_eq!(full.body, data);
    let etag = strong_etag(&full);
    let ctype = full.header("Content-Type").unwrap().to_string();

    let table: &[(&str, Want)] = &[
        ("bytes=0-0", Want::Partial(0, 0)),
        ("bytes=100-199", Want::Partial(100, 199)),
        ("bytes=9990-", Want::Partial(9990, 9999)),
        ("bytes=-10", Want::Partial(9990, 9999)),
        ("bytes=9999-9999", Want::Partial(9999, 9999)),
        ("bytes=0-999999", Want::Partial(0, 9999)),
        ("bytes=5000-20000", Want::Partial(5000, 9999)),
        ("bytes=-20000", Want::Partial(0, 9999)),
        ("bytes=0-", Want::Partial(0, 9999)),
        ("bytes=-0", Want::Unsatisfiable),
        ("bytes=10000-", Want::Unsatisfiable),
        ("bytes=10000-10005", Want::Unsatisfiable),
        ("bytes=20000-30000", Want::Unsatisfiable),
        ("bytes=abc", Want::Full),
        ("items=0-1", Want::Full),
    ];
    let mut failures = Vec::new();
    for (spec, want) in table {
        let resp = range(&s, spec);
        let req = format!("GET /data.bin with Range: {spec}");
        let (status, ok) = match want {
            Want::Partial(first, last) => {
                let cr = format!("bytes {first}-{last}/{LEN}");
                let slice = &data[*first..=*last];
                (
                    206,
                    resp.status == 206
                        && resp.header("Content-Range") == Some(cr.as_str())
                        && resp.content_length() == Some(slice.len() as u64)
                        && resp.body == slice
                        && resp.header("Content-Type") == Some(ctype.as_str())
                        && resp.header("ETag") == Some(etag.as_str())
                        && resp.header("Last-Modified") == Some(MTIME_HTTP)
                        && resp.header("Accept-Ranges") == Some("bytes"),
                )
            }
            Want::Unsatisfiable => {
                let cr = format!("bytes */{LEN}");
                (
                    416,
                    resp.status == 416
                        && resp.header("Content-Range") == Some(cr.as_str())
                        && !contains(&resp.body, &data[..64]),
                )
            }
            Want::Full => (
                200,
                resp.status == 200 && resp.header("Content-Range").is_none() && resp.body == data,
            ),
        };
        if ok {
            resp.assert_common_headers();
        } else {
            failures.push(format!(
                "{req}: expected {status}, got {} with Content-Range {:?}, Content-Length {:?}, {} body bytes",
                resp.status,
                resp.header("Content-Range"),
                resp.header("Content-Length"),
                resp.body.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} range case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn range_on_an_empty_file_is_416() {
    let (s, _) = server();
    for spec in ["bytes=0-0", "bytes=0-", "bytes=-1"] {
        let resp = s.get_with("/empty.txt", &[("Range", spec)]);
        assert_eq!(resp.status, 416, "Range: {spec} on empty.txt: {resp}");
        assert_eq!(resp.header("Content-Range"), Some("bytes */0"), "{spec}");
        resp.assert_common_headers();
    }
}

#[test]
fn if_range_table() {
    let (s, data) = server();
    let full = s.get("/data.bin");
    let etag = strong_etag(&full);
    assert_eq!(full.header("Last-Modified"), Some(MTIME_HTTP));
    let weak = weak_form(&etag);
    let rows: &[(&str, &str, bool)] = &[
        ("current ETag", &etag, true),
        ("another ETag", "\"not-the-etag\"", false),
        ("weak form of the current ETag", &weak, false),
        ("the Last-Modified date", MTIME_HTTP, true),
        ("an earlier date", HOUR_BEFORE, false),
        ("a later date", HOUR_AFTER, false),
    ];
    for (what, value, partial) in rows {
        let resp = s.get_with(
            "/data.bin",
            &[("Range", "bytes=100-199"), ("If-Range", value)],
        );
        let desc = format!("Range: bytes=100-199, If-Range: {value} ({what})");
        if *partial {
            assert_eq!(resp.status, 206, "{desc}: {resp}");
            assert_eq!(
                resp.header("Content-Range"),
                Some(format!("bytes 100-199/{LEN}").as_str()),
                "{desc}"
            );
            assert_eq!(resp.body, &data[100..200], "{desc}");
        } else {
            assert_eq!(resp.status, 200, "{desc}: must ignore the Range: {resp}");
            assert_eq!(resp.header("Content-Range"), None, "{desc}");
            assert_eq!(resp.body, data, "{desc}");
        }
    }
}

#[test]
fn multiple_ranges_are_multipart_byteranges() {
    let (s, data) = server();
    let ctype = content_type(&s);
    for (spec, expected) in [
        ("bytes=0-9,20-29", vec![(0usize, 9usize), (20, 29)]),
        (
            "bytes=0-0, 5000-5009, -3",
            vec![(0, 0), (5000, 5009), (9997, 9999)],
        ),
        // In the order asked (RFC 9110 §15.3.7.2, SHOULD), not sorted by offset.
        ("bytes=20-29,0-9", vec![(20, 29), (0, 9)]),
        (
            "bytes=-3, 5000-5009, 0-0",
            vec![(9997, 9999), (5000, 5009), (0, 0)],
        ),
        // Coalesced ranges stand where the first of them was asked.
        (
            "bytes=5000-5009,0-4,20-29,5-9",
            vec![(5000, 5009), (0, 9), (20, 29)],
        ),
    ] {
        let resp = range(&s, spec);
        assert_eq!(resp.status, 206, "Range: {spec}: {resp}");
        resp.assert_common_headers();
        assert_eq!(
            resp.content_length(),
            Some(resp.body.len() as u64),
            "Range: {spec}: Content-Length must equal the multipart body length"
        );
        assert_eq!(
            resp.header("Content-Range"),
            None,
            "Range: {spec}: a multipart 206 has no top-level Content-Range"
        );
        let ct = resp
            .header("Content-Type")
            .unwrap_or_else(|| panic!("no Content-Type: {resp}"));
        let boundary = multipart_boundary(ct);
        let parts = parse_multipart(&resp.body, &boundary);
        assert_eq!(
            parts.len(),
            expected.len(),
            "Range: {spec}: parts {parts:?}"
        );
        for (part, (first, last)) in parts.iter().zip(&expected) {
            assert_eq!(
                part.header("Content-Type"),
                Some(ctype.as_str()),
                "Range: {spec}: part Content-Type"
            );
            assert_eq!(
                part.header("Content-Range"),
                Some(format!("bytes {first}-{last}/{LEN}").as_str()),
                "Range: {spec}"
            );
            assert_eq!(
                part.body,
                &data[*first..=*last],
                "Range: {spec}: part bytes"
            );
        }
    }
}

#[test]
fn overlapping_ranges_coalesce_into_one() {
    let (s, data) = server();
    for spec in ["bytes=0-5,3-9", "bytes=3-9,0-5"] {
        let resp = range(&s, spec);
        assert_eq!(resp.status, 206, "Range: {spec}: {resp}");
        assert_eq!(
            resp.header("Content-Range"),
            Some(format!("bytes 0-9/{LEN}").as_str()),
            "Range: {spec}: overlapping ranges must coalesce into a single part"
        );
        assert!(
            !resp
                .header("Content-Type")
                .unwrap_or("")
                .starts_with("multipart/"),
            "Range: {spec}: {resp}"
        );
        assert_eq!(resp.body, &data[..10], "Range: {spec}");
    }
}

#[test]
fn head_with_range_is_a_plain_200_head() {
    let (s, _) = server();
    let raw = request_with("HEAD", "/data.bin", &[("Range", "bytes=0-9")]);
    let (resp, next) = pipelined_pair(s.addr(), &raw, "/style.css");
    assert_eq!(resp.status, 200, "HEAD with Range: {resp}");
    assert_eq!(resp.content_length(), Some(LEN as u64), "{resp}");
    assert_eq!(resp.header("Content-Range"), None, "{resp}");
    assert_eq!(next.body, fixture("style.css"), "HEAD sent body bytes");
}

#[test]
fn range_deep_inside_a_large_file() {
    let s = TestServer::build()
        .site(|site| {
            write_random_file(&site.root().join("big.bin"), 10 * 1024 * 1024, 77);
        })
        .start();
    let data = xorshift_bytes(10 * 1024 * 1024, 77);
    for (first, last) in [
        (5_000_000usize, 5_000_099usize),
        (10 * 1024 * 1024 - 7, 10 * 1024 * 1024 - 1),
    ] {
        let spec = format!("bytes={first}-{last}");
        let resp = s.get_with("/big.bin", &[("Range", &spec)]);
        assert_eq!(resp.status, 206, "Range: {spec}: {resp}");
        assert_eq!(
            resp.header("Content-Range"),
            Some(format!("bytes {first}-{last}/{}", data.len()).as_str())
        );
        assert_eq!(resp.content_length(), Some((last - first + 1) as u64));
        assert_eq!(resp.body, &data[first..=last], "Range: {spec}");
    }
}

#[test]
fn multipart_parts_larger_than_a_send_turn_arrive_whole() {
    // A worker sends a file in turns of a few hundred KiB and parks the connection between
    // them; parts of 1 MiB and more, one worker, and a request pipelined behind them check
    // that each turn resumes at the right offset of the right part.
    const BIG: usize = 4 * 1024 * 1024;
    let s = TestServer::build()
        .site(|site| {
            write_random_file(&site.root().join("big.bin"), BIG, 91);
        })
        .config(|c| c.workers = 1)
        .start();
    let data = xorshift_bytes(BIG, 91);
    let spec = "bytes=100-1200099,2000000-3500000,-500000";
    let raw = request_with("GET", "/big.bin", &[("Range", spec)]);
    let (resp, next) = pipelined_pair(s.addr(), &raw, "/style.css");
    assert_eq!(resp.status, 206, "{resp}");
    assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
    let boundary = multipart_boundary(resp.header("Content-Type").unwrap());
    let parts = parse_multipart(&resp.body, &boundary);
    let expected = [
        (100, 1_200_099),
        (2_000_000, 3_500_000),
        (BIG - 500_000, BIG - 1),
    ];
    assert_eq!(parts.len(), expected.len());
    for (part, (first, last)) in parts.iter().zip(expected) {
        assert_eq!(
            part.header("Content-Range"),
            Some(format!("bytes {first}-{last}/{BIG}").as_str())
        );
        assert!(
            part.body == data[first..=last],
            "part {first}-{last} corrupted"
        );
    }
    assert_eq!(next.body, fixture("style.css"));
}

#[test]
fn range_keeps_the_connection_usable() {
    let (s, data) = server();
    let mut r = s.reader();
    r.send(format!(
        "{}{}{}",
        request_with("GET", "/data.bin", &[("Range", "bytes=10-19")]),
        request_with("GET", "/data.bin", &[("Range", "bytes=0-1,5-6")]),
        get_request("/style.css"),
    ));
    let a = r.read_response();
    assert_eq!(a.status, 206, "{a}");
    assert_eq!(a.body, &data[10..20]);
    let b = r.read_response();
    assert_eq!(b.status, 206, "{b}");
    let c = r.read_response();
    assert_eq!(c.status, 200, "{c}");
    assert_eq!(c.body, fixture("style.css"));
}

#[test]
fn preconditions_are_evaluated_before_the_range() {
    let (s, data) = server();
    let etag = strong_etag(&s.get("/data.bin"));

    let raw = request_with(
        "GET",
        "/data.bin",
        &[("If-None-Match", &etag), ("Range", "bytes=0-9")],
    );
    let (resp, next) = pipelined_pair(s.addr(), &raw, "/style.css");
    assert_eq!(resp.status, 304, "{raw:?}: {resp}");
    assert_eq!(next.body, fixture("style.css"), "a 304 sent body bytes");

    let resp = s.get_with(
        "/data.bin",
        &[("If-Match", "\"nope\""), ("Range", "bytes=0-9")],
    );
    assert_eq!(resp.status, 412, "If-Match failing + Range: {resp}");

    let resp = s.get_with(
        "/data.bin",
        &[("If-Unmodified-Since", HOUR_BEFORE), ("Range", "bytes=0-9")],
    );
    assert_eq!(
        resp.status, 412,
        "If-Unmodified-Since failing + Range: {resp}"
    );

    let resp = s.get_with(
        "/data.bin",
        &[("If-None-Match", "\"other\""), ("Range", "bytes=0-9")],
    );
    assert_eq!(
        resp.status, 206,
        "If-None-Match not matching + Range: {resp}"
    );
    assert_eq!(resp.body, &data[..10]);

    let resp = s.get_with("/data.bin", &[("If-Match", &etag), ("Range", "bytes=0-9")]);
    assert_eq!(resp.status, 206, "If-Match matching + Range: {resp}");
    assert_eq!(resp.body, &data[..10]);

    // A precondition failure beats an unsatisfiable range.
    let resp = s.get_with(
        "/data.bin",
        &[("If-Match", "\"nope\""), ("Range", "bytes=20000-")],
    );
    assert_eq!(
        resp.status, 412,
        "If-Match failing + unsatisfiable Range: {resp}"
    );
}

#[test]
fn if_range_mismatch_ignores_even_an_unsatisfiable_range() {
    let (s, data) = server();
    let resp = s.get_with(
        "/data.bin",
        &[("Range", "bytes=20000-"), ("If-Range", "\"not-the-etag\"")],
    );
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, data);
}

#[test]
fn numbers_beyond_u64_do_not_break_the_server() {
    let (s, data) = server();
    for spec in [
        "bytes=0-18446744073709551615",
        "bytes=0-18446744073709551616",
        "bytes=0-99999999999999999999999999",
        "bytes=-18446744073709551616",
        "bytes=18446744073709551616-",
        "bytes=18446744073709551615-18446744073709551615",
    ] {
        let resp = range(&s, spec);
        match resp.status {
            200 => assert_eq!(resp.body, data, "Range: {spec}"),
            206 => {
                let cr = resp.header("Content-Range").unwrap_or_default();
                let (first, last, complete) = parse_content_range(cr);
                assert_eq!(complete, LEN as u64, "Range: {spec}");
                assert_eq!(
                    resp.body,
                    &data[first as usize..=last as usize],
                    "Range: {spec}"
                );
            }
            416 => assert_eq!(
                resp.header("Content-Range"),
                Some(format!("bytes */{LEN}").as_str()),
                "Range: {spec}"
            ),
            other => panic!("Range: {spec}: status {other}: {resp}"),
        }
    }
    assert_eq!(s.get("/data.bin").body, data, "server still serving");
}

/// One range-spec of a generated `Range` header.
#[derive(Clone, Debug)]
enum Spec {
    Closed(u64, u64),
    Open(u64),
    Suffix(u64),
}

impl Spec {
    fn text(&self) -> String {
        match self {
            Spec::Closed(a, b) => format!("{a}-{b}"),
            Spec::Open(a) => format!("{a}-"),
            Spec::Suffix(n) => format!("-{n}"),
        }
    }

    /// The bytes it selects of a LEN-byte file, inclusive, if satisfiable.
    fn select(&self) -> Option<(u64, u64)> {
        let len = LEN as u64;
        match *self {
            Spec::Closed(a, b) if a < len => Some((a, b.min(len - 1))),
            Spec::Open(a) if a < len => Some((a, len - 1)),
            Spec::Suffix(n) if n > 0 => Some((len - n.min(len), len - 1)),
            _ => None,
        }
    }
}

/// Sorted, with overlapping and touching intervals merged: a byte set.
fn merged(mut v: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    v.sort();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Like `range`, but a broken response is an error with a short message
/// (the body is not dumped).
fn try_range(s: &TestServer, spec: &str) -> Result<Response, String> {
    let raw = request_with("GET", "/data.bin", &[("Range", spec)]);
    let mut r = ResponseReader::new(s.connect());
    r.send(&raw);
    r.try_read_response().map_err(|e| {
        let msg = e.to_string();
        let short: String = msg.chars().take(160).collect();
        format!("Range: {spec}: no well-formed response: {short}…")
    })
}

fn spec_strategy() -> impl proptest::strategy::Strategy<Value = Spec> {
    use proptest::prelude::*;
    let pos = prop_oneof![0u64..12_000, 9_980u64..10_020, 0u64..20];
    prop_oneof![
        (pos.clone(), 0u64..3_000).prop_map(|(a, n)| Spec::Closed(a, a + n)),
        pos.clone().prop_map(Spec::Open),
        prop_oneof![0u64..12_000, 0u64..20].prop_map(Spec::Suffix),
    ]
}

#[test]
fn generated_range_sets_match_a_model() {
    use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRunner};
    let (s, data) = server();
    let ctype = content_type(&s);
    let mut runner = TestRunner::new(Config {
        cases: 128,
        rng_algorithm: RngAlgorithm::XorShift,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(spec_strategy(), 1..=4);
    runner
        .run(&strategy, |specs| {
            let header = format!(
                "bytes={}",
                specs.iter().map(Spec::text).collect::<Vec<_>>().join(",")
            );
            let wanted: Vec<(u64, u64)> = specs.iter().filter_map(Spec::select).collect();
            let resp = try_range(&s, &header).map_err(TestCaseError::fail)?;
            if wanted.is_empty() {
                assert_eq!(resp.status, 416, "Range: {header}: {resp}");
                assert_eq!(
                    resp.header("Content-Range"),
                    Some(format!("bytes */{LEN}").as_str()),
                    "Range: {header}"
                );
                return Ok(());
            }
            assert_eq!(resp.status, 206, "Range: {header}: {resp}");
            assert_eq!(resp.content_length(), Some(resp.body.len() as u64));
            let ct = resp.header("Content-Type").unwrap_or_default().to_string();
            let mut got: Vec<(u64, u64)> = Vec::new();
            if ct.starts_with("multipart/byteranges") {
                let parts = parse_multipart(&resp.body, &multipart_boundary(&ct));
                assert!(
                    parts.len() >= 2,
                    "Range: {header}: a multipart with one part"
                );
                for p in parts {
                    assert_eq!(p.header("Content-Type"), Some(ctype.as_str()));
                    let (a, b, complete) =
                        parse_content_range(p.header("Content-Range").unwrap_or_default());
                    assert_eq!(complete, LEN as u64);
                    assert_eq!(p.body, &data[a as usize..=b as usize], "Range: {header}");
                    got.push((a, b));
                }
            } else {
                assert_eq!(ct, ctype, "Range: {header}");
                let (a, b, complete) =
                    parse_content_range(resp.header("Content-Range").unwrap_or_default());
                assert_eq!(complete, LEN as u64);
                assert_eq!(resp.body, &data[a as usize..=b as usize], "Range: {header}");
                got.push((a, b));
            }
            // No byte twice: overlapping ranges are coalesced.
            let mut sorted = got.clone();
            sorted.sort();
            for w in sorted.windows(2) {
                assert!(w[0].1 < w[1].0, "Range: {header}: parts {got:?} overlap");
            }
            assert_eq!(
                merged(got.clone()),
                merged(wanted.clone()),
                "Range: {header}: sent {got:?}, asked for {wanted:?}"
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}
