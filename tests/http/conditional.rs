//! Validators and conditional requests (RFC 9110 §8.8, §13): strong `ETag`s
//! and `Last-Modified` on every file response, `If-None-Match`,
//! `If-Modified-Since`, `If-Match`, `If-Unmodified-Since`, their precedence,
//! and what a 304 carries.

use std::fs;

use crate::support::*;

/// The mtime every file of these tests gets, and its IMF-fixdate.
const MTIME: u64 = 1_614_834_367;
const MTIME_HTTP: &str = "Thu, 04 Mar 2021 05:06:07 GMT";
/// The same instant in the two obsolete formats a recipient must accept
/// (RFC 9110 §5.6.7).
const MTIME_RFC850: &str = "Thursday, 04-Mar-21 05:06:07 GMT";
const MTIME_ASCTIME: &str = "Thu Mar  4 05:06:07 2021";
const HOUR_BEFORE: &str = "Thu, 04 Mar 2021 04:06:07 GMT";
const HOUR_AFTER: &str = "Thu, 04 Mar 2021 06:06:07 GMT";

const FILES: [&str; 5] = [
    "style.css",
    "index.html",
    "image.png",
    "empty.txt",
    "dir/index.html",
];

fn pin_mtimes(site: &TempSite) {
    for f in FILES {
        set_mtime(&site.root().join(f), unix_time(MTIME));
    }
}

fn server() -> TestServer {
    TestServer::build().site(pin_mtimes).start()
}

#[test]
fn file_responses_carry_strong_etag_and_last_modified() {
    let s = server();
    for (path, file) in [
        ("/style.css", "style.css"),
        ("/index.html", "index.html"),
        ("/", "index.html"),
        ("/image.png", "image.png"),
        ("/empty.txt", "empty.txt"),
        ("/dir/", "dir/index.html"),
    ] {
        let get = s.get(path);
        assert_eq!(get.status, 200, "GET {path}: {get}");
        assert_eq!(get.body, fixture(file), "GET {path}");
        let etag = strong_etag(&get);
        assert_eq!(
            get.header("Last-Modified"),
            Some(MTIME_HTTP),
            "GET {path}: Last-Modified must be the IMF-fixdate of the mtime"
        );
        let head = s.head_with(path, &[]);
        assert_eq!(head.status, 200, "HEAD {path}: {head}");
        assert_eq!(head.header("ETag"), Some(etag.as_str()), "HEAD {path}");
        assert_eq!(
            head.header("Last-Modified"),
            Some(MTIME_HTTP),
            "HEAD {path}"
        );
    }
}

#[test]
fn etags_of_different_files_differ() {
    let s = server();
    let tags: Vec<String> = ["/style.css", "/index.html", "/image.png", "/empty.txt"]
        .iter()
        .map(|p| strong_etag(&s.get(p)))
        .collect();
    for i in 0..tags.len() {
        for j in i + 1..tags.len() {
            assert_ne!(tags[i], tags[j], "two different files share an ETag");
        }
    }
}

#[test]
fn etag_is_stable_across_requests_and_a_restart() {
    let site = TempSite::new();
    pin_mtimes(&site);
    let first = {
        let srv = TestServer::build().root(site.root()).start();
        let a = srv.get_with("/style.css", &[]);
        let b = srv.get_with("/style.css", &[]);
        assert_eq!(a.status, 200, "{a}");
        assert_eq!(
            strong_etag(&a),
            strong_etag(&b),
            "ETag changed between requests"
        );
        a
    };
    // The first server is shut down and joined here; a new one over the same files.
    let srv = TestServer::build().root(site.root()).start();
    let again = srv.get_with("/style.css", &[]);
    assert_eq!(again.status, 200, "{again}");
    assert_eq!(
        strong_etag(&again),
        strong_etag(&first),
        "ETag changed across a restart on unchanged files"
    );
    assert_eq!(again.header("Last-Modified"), first.header("Last-Modified"));
    // and the old tag still validates
    let cond = srv.get_with("/style.css", &[("If-None-Match", &strong_etag(&first))]);
    assert_eq!(cond.status, 304, "{cond}");
}

#[test]
fn etag_and_last_modified_change_when_the_file_changes() {
    let s = server();
    let path = s.root().join("style.css");
    let before = s.get("/style.css");
    assert_eq!(before.status, 200, "{before}");
    let old_tag = strong_etag(&before);

    // Same length, different bytes, a different mtime.
    let old = fixture("style.css");
    let new: Vec<u8> = old
        .iter()
        .map(|&b| if b == b'{' || b == b'}' { b } else { b'x' })
        .collect();
    assert_eq!(new.len(), old.len());
    assert_ne!(new, old);
    fs::write(&path, &new).unwrap();
    set_mtime(&path, unix_time(MTIME + 100));

    let after = s.get("/style.css");
    assert_eq!(after.status, 200, "{after}");
    assert_eq!(after.body, new, "the new content must be served");
    let new_tag = strong_etag(&after);
    assert_ne!(new_tag, old_tag, "ETag unchanged after the file changed");
    assert_eq!(
        after.header("Last-Modified"),
        Some("Thu, 04 Mar 2021 05:07:47 GMT")
    );

    // The old tag no longer matches: the full new representation comes back.
    let cond = s.get_with("/style.css", &[("If-None-Match", &old_tag)]);
    assert_eq!(cond.status, 200, "a stale ETag must not give 304: {cond}");
    assert_eq!(cond.body, new);
    let cond = s.get_with("/style.css", &[("If-None-Match", &new_tag)]);
    assert_eq!(cond.status, 304, "{cond}");
    let cond = s.get_with("/style.css", &[("If-Match", &old_tag)]);
    assert_eq!(cond.status, 412, "If-Match with a stale ETag: {cond}");
}

/// One row: request headers (built from the current ETag) and the status
/// expected for both GET and HEAD.
struct Case {
    name: &'static str,
    headers: Vec<(&'static str, String)>,
    status: u16,
}

fn cases(etag: &str) -> Vec<Case> {
    let c = |name, headers: &[(&'static str, &str)], status| Case {
        name,
        headers: headers.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        status,
    };
    let list = format!("\"x\", {etag}");
    let list_nospace = format!("\"x\",{etag},\"y\"");
    let weak = weak_form(etag);
    vec![
        // If-None-Match: weak comparison
        c("INM exact", &[("If-None-Match", etag)], 304),
        c("INM in a list", &[("If-None-Match", &list)], 304),
        c(
            "INM in a list without spaces",
            &[("If-None-Match", &list_nospace)],
            304,
        ),
        c(
            "INM split over two field lines",
            &[("If-None-Match", "\"x\""), ("If-None-Match", etag)],
            304,
        ),
        c("INM *", &[("If-None-Match", "*")], 304),
        c(
            "INM weak form (weak comparison)",
            &[("If-None-Match", &weak)],
            304,
        ),
        c("INM non-matching", &[("If-None-Match", "\"nope\"")], 200),
        c(
            "INM list, none matching",
            &[("If-None-Match", "\"a\", W/\"b\"")],
            200,
        ),
        // If-Modified-Since
        c(
            "IMS = Last-Modified",
            &[("If-Modified-Since", MTIME_HTTP)],
            304,
        ),
        c(
            "IMS = Last-Modified, RFC 850 form",
            &[("If-Modified-Since", MTIME_RFC850)],
            304,
        ),
        c(
            "IMS = Last-Modified, asctime form",
            &[("If-Modified-Since", MTIME_ASCTIME)],
            304,
        ),
        c(
            "IMS after Last-Modified",
            &[("If-Modified-Since", HOUR_AFTER)],
            304,
        ),
        c(
            "IMS before Last-Modified",
            &[("If-Modified-Since", HOUR_BEFORE)],
            200,
        ),
        c(
            "IMS invalid date",
            &[("If-Modified-Since", "not a date")],
            200,
        ),
        // INM takes precedence over IMS
        c(
            "INM non-matching + IMS that would give 304",
            &[
                ("If-None-Match", "\"nope\""),
                ("If-Modified-Since", MTIME_HTTP),
            ],
            200,
        ),
        c(
            "INM matching + IMS before Last-Modified",
            &[("If-None-Match", etag), ("If-Modified-Since", HOUR_BEFORE)],
            304,
        ),
        // If-Match: strong comparison
        c("If-Match exact", &[("If-Match", etag)], 200),
        c("If-Match in a list", &[("If-Match", &list)], 200),
        c("If-Match *", &[("If-Match", "*")], 200),
        c("If-Match non-matching", &[("If-Match", "\"nope\"")], 412),
        c(
            "If-Match weak form (strong comparison)",
            &[("If-Match", &weak)],
            412,
        ),
        // If-Unmodified-Since
        c(
            "IUS before Last-Modified",
            &[("If-Unmodified-Since", HOUR_BEFORE)],
            412,
        ),
        c(
            "IUS = Last-Modified",
            &[("If-Unmodified-Since", MTIME_HTTP)],
            200,
        ),
        c(
            "IUS after Last-Modified",
            &[("If-Unmodified-Since", HOUR_AFTER)],
            200,
        ),
        c(
            "IUS invalid date (ignored)",
            &[("If-Unmodified-Since", "yesterday")],
            200,
        ),
        // If-Match takes precedence over IUS; If-Match is evaluated before INM
        c(
            "If-Match matching + IUS before Last-Modified",
            &[("If-Match", etag), ("If-Unmodified-Since", HOUR_BEFORE)],
            200,
        ),
        c(
            "If-Match failing + INM non-matching",
            &[("If-Match", "\"nope\""), ("If-None-Match", "\"other\"")],
            412,
        ),
        c(
            "If-Match matching + INM matching",
            &[("If-Match", etag), ("If-None-Match", etag)],
            304,
        ),
    ]
}

#[test]
fn conditional_requests_table_get_and_head() {
    let s = server();
    let base = s.get("/style.css");
    assert_eq!(base.status, 200, "{base}");
    let etag = strong_etag(&base);
    let file = fixture("style.css");
    let mut failures = Vec::new();
    for case in cases(&etag) {
        let headers: Vec<(&str, &str)> =
            case.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for method in ["GET", "HEAD"] {
            let raw = request_with(method, "/style.css", &headers);
            // A GET after it on the same connection: a body wrongly sent on a
            // 304 or a HEAD would corrupt that second response.
            let (resp, next) = pipelined_pair(s.addr(), &raw, "/image.png");
            assert_eq!(next.status, 200, "{}: response after it: {next}", case.name);
            assert_eq!(next.body, fixture("image.png"), "{}", case.name);
            if resp.status != case.status {
                failures.push(format!(
                    "{} ({method}): request {raw:?}: expected {}, got {}\n{resp}",
                    case.name, case.status, resp.status
                ));
                continue;
            }
            match case.status {
                200 => {
                    resp.assert_common_headers();
                    assert_eq!(resp.header("ETag"), Some(etag.as_str()), "{}", case.name);
                    assert_eq!(
                        resp.content_length(),
                        Some(file.len() as u64),
                        "{}",
                        case.name
                    );
                    if method == "GET" {
                        assert_eq!(resp.body, file, "{}", case.name);
                    }
                }
                304 => {
                    assert!(resp.body.is_empty(), "{}: 304 with a body", case.name);
                    assert_eq!(
                        resp.header("ETag"),
                        Some(etag.as_str()),
                        "{}: a 304 must carry the ETag",
                        case.name
                    );
                    assert!(resp.header("Date").is_some(), "{}", case.name);
                    assert!(
                        resp.header("Transfer-Encoding").is_none(),
                        "{}: 304 with Transfer-Encoding",
                        case.name
                    );
                }
                412 => {
                    resp.assert_common_headers();
                    assert!(
                        !contains(&resp.body, &file),
                        "{}: a 412 must not carry the file",
                        case.name
                    );
                }
                other => unreachable!("{other}"),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} conditional case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn date_conditions_sent_on_two_lines_are_ignored() {
    // RFC 9110 §5.2: two field lines are one list value; a recipient MUST ignore an
    // If-Modified-Since with more than one member (§13.1.3) and an If-Unmodified-Since that
    // appears to be a list of dates (§13.1.4). Each pair alone would give 304 or 412.
    let s = server();
    for (name, first, second) in [
        ("If-Modified-Since", MTIME_HTTP, MTIME_HTTP),
        ("If-Modified-Since", HOUR_AFTER, HOUR_BEFORE),
        ("If-Unmodified-Since", HOUR_BEFORE, HOUR_BEFORE),
        ("If-Unmodified-Since", HOUR_BEFORE, HOUR_AFTER),
    ] {
        let one = s.get_with("/style.css", &[(name, first)]);
        assert_ne!(one.status, 200, "{name}: {first} alone decides: {one}");
        let resp = s.get_with("/style.css", &[(name, first), (name, second)]);
        assert_eq!(resp.status, 200, "{name}: {first} / {second}: {resp}");
        assert_eq!(resp.body, fixture("style.css"), "{name}");
    }
}

#[test]
fn not_modified_repeats_etag_cache_control_and_vary() {
    // A gzip sidecar makes the 200 carry `Vary: Accept-Encoding`.
    let s = TestServer::build()
        .site(|site| {
            pin_mtimes(site);
            let gz = gzip(&fixture("style.css"));
            fs::write(site.root().join("style.css.gz"), gz).unwrap();
        })
        .start();
    for ae in [None, Some("gzip")] {
        let extra: Vec<(&str, &str)> = ae.iter().map(|v| ("Accept-Encoding", *v)).collect();
        let full = s.get_with("/style.css", &extra);
        assert_eq!(full.status, 200, "AE {ae:?}: {full}");
        let etag = strong_etag(&full);
        assert!(
            full.has_token("Vary", "Accept-Encoding"),
            "AE {ae:?}: a file with a sidecar must Vary on Accept-Encoding: {full}"
        );
        assert!(full.header("Cache-Control").is_some(), "{full}");

        let mut cond = extra.clone();
        cond.push(("If-None-Match", &etag));
        let raw = request_with("GET", "/style.css", &cond);
        let (nm, next) = pipelined_pair(s.addr(), &raw, "/image.png");
        assert_eq!(next.body, fixture("image.png"));
        assert_eq!(nm.status, 304, "request {raw:?}: {nm}");
        assert_eq!(nm.header("ETag"), Some(etag.as_str()), "AE {ae:?}");
        assert_eq!(
            nm.header("Cache-Control"),
            full.header("Cache-Control"),
            "AE {ae:?}: 304 must repeat Cache-Control"
        );
        assert_eq!(
            nm.header_all("Vary"),
            full.header_all("Vary"),
            "AE {ae:?}: 304 must repeat Vary"
        );
        assert_eq!(nm.header("Content-Encoding"), None, "AE {ae:?}");
        // and by date (the Last-Modified of this representation)
        let lm = full.header("Last-Modified").expect("Last-Modified");
        let mut cond = extra.clone();
        cond.push(("If-Modified-Since", lm));
        let by_date = s.get_with("/style.css", &cond);
        assert_eq!(by_date.status, 304, "AE {ae:?}: {by_date}");
        assert!(by_date.body.is_empty());
        assert_eq!(by_date.header("ETag"), Some(etag.as_str()));
        assert_eq!(
            by_date.header("Cache-Control"),
            full.header("Cache-Control")
        );
    }
}

#[test]
fn not_modified_keeps_the_connection_usable() {
    let s = server();
    let etag = strong_etag(&s.get("/style.css"));
    let mut r = s.reader();
    let cond = request_with("GET", "/style.css", &[("If-None-Match", &etag)]);
    r.send(format!("{cond}{cond}{}", get_request("/style.css")));
    for i in 0..2 {
        let resp = r.read_response();
        assert_eq!(resp.status, 304, "response {i}: {resp}");
    }
    let last = r.read_response();
    assert_eq!(last.status, 200, "{last}");
    assert_eq!(last.body, fixture("style.css"));
}

#[test]
fn conditionals_on_a_missing_file_do_not_give_304_or_412() {
    let s = server();
    for (k, v) in [
        ("If-None-Match", "*"),
        ("If-Modified-Since", HOUR_AFTER),
        ("If-Unmodified-Since", HOUR_BEFORE),
    ] {
        let resp = s.get_with("/nope.css", &[(k, v)]);
        assert_eq!(resp.status, 404, "{k}: {v} on a missing file: {resp}");
    }
    // If-Match: * on a resource without a current representation fails (RFC 9110 §13.1.1).
    let resp = s.get_with("/nope.css", &[("If-Match", "*")]);
    assert!(
        matches!(resp.status, 404 | 412),
        "If-Match: * on a missing file: {resp}"
    );
}

/// Replicas behind a load balancer serve copies of the same files at other inodes: they must
/// give the same validators, so a revalidation that reaches another replica gets 304.
#[test]
fn replicas_with_copies_of_the_same_files_agree_on_validators() {
    let (one, two) = (TempSite::new(), TempSite::new());
    pin_mtimes(&one);
    pin_mtimes(&two);
    let a = TestServer::build().root(one.root()).start();
    let b = TestServer::build().root(two.root()).start();
    for path in ["/style.css", "/index.html"] {
        let ra = a.get(path);
        let rb = b.get(path);
        assert_eq!(ra.status, 200, "{ra}");
        assert_eq!(strong_etag(&ra), strong_etag(&rb), "{path}");
        assert_eq!(ra.header("Last-Modified"), rb.header("Last-Modified"));
        let cond = b.get_with(path, &[("If-None-Match", &strong_etag(&ra))]);
        assert_eq!(
            cond.status, 304,
            "{path} revalidated on the other replica: {cond}"
        );
    }
}

/// Unix seconds of an IMF-fixdate header value.
fn secs_of(date: Option<&str>) -> u64 {
    let date = date.expect("a date header");
    httpdate::parse_http_date(date)
        .unwrap_or_else(|e| panic!("{date:?}: {e}"))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn a_future_mtime_is_sent_as_the_date_and_compared_as_sent() {
    // RFC 9110 §8.8.2.1 (MUST): no Last-Modified later than the message's origination; a
    // modification time in the future is replaced by that date.
    let s = TestServer::build()
        .site(|site| {
            let path = site.root().join("future.txt");
            fs::write(&path, b"written in 2099\n").unwrap();
            // 2099-01-01T00:00:00Z
            set_mtime(&path, unix_time(4_070_908_800));
        })
        .start();
    let resp = s.get("/future.txt");
    assert_eq!(resp.status, 200, "{resp}");
    let (date, last_modified) = (
        secs_of(resp.header("Date")),
        secs_of(resp.header("Last-Modified")),
    );
    assert!(
        last_modified <= date && date - last_modified <= 1,
        "Last-Modified must be the Date, not the 2099 mtime: {resp}"
    );
    // The tag still names the file's version, so it validates as before.
    let etag = strong_etag(&resp);
    let again = s.get_with("/future.txt", &[("If-None-Match", &etag)]);
    assert_eq!(again.status, 304, "{again}");
    // The dates are compared with the Last-Modified sent (today), not with 2099.
    let year_2050 = "Sat, 01 Jan 2050 00:00:00 GMT";
    let ius = s.get_with("/future.txt", &[("If-Unmodified-Since", year_2050)]);
    assert_eq!(ius.status, 200, "{ius}");
    let ims = s.get_with("/future.txt", &[("If-Modified-Since", year_2050)]);
    assert_eq!(ims.status, 304, "{ims}");
}

#[test]
fn rfc_850_two_digit_years_more_than_50_years_ahead_are_past() {
    // RFC 9110 §5.6.7 (MUST). `70` is 2070 (within 50 years of today), a Wednesday: an
    // If-Modified-Since then covers the 2021 mtime, 304. Read with a fixed pivot it was 1970,
    // whose 1 January was a Thursday: an invalid date, ignored, 200.
    let s = server();
    let ims = "Wednesday, 01-Jan-70 00:00:00 GMT";
    let resp = s.get_with("/style.css", &[("If-Modified-Since", ims)]);
    assert_eq!(resp.status, 304, "If-Modified-Since: {ims}: {resp}");
    // `94` is more than 50 years ahead as 2094: it is 1994, before the mtime.
    let ims = "Sunday, 06-Nov-94 08:49:37 GMT";
    let resp = s.get_with("/style.css", &[("If-Modified-Since", ims)]);
    assert_eq!(resp.status, 200, "If-Modified-Since: {ims}: {resp}");
    let resp = s.get_with("/style.css", &[("If-Modified-Since", MTIME_RFC850)]);
    assert_eq!(
        resp.status, 304,
        "If-Modified-Since: {MTIME_RFC850}: {resp}"
    );
}
