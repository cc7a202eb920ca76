//! The client behind a proxy and the access log that says who it was, through the real binary
//! (the access log is its stdout): `--trusted-proxies` with forged and honest `Forwarded` /
//! `X-Forwarded-For`, `--proxy-protocol` v1 and v2 headers (whole, trickled byte by byte,
//! malformed, missing), and the JSON line parsed as JSON with its `time` read by a strict
//! RFC 3339 parser. The parsers themselves are table-tested in `src/http/proxy_protocol.rs` and
//! `src/http/forwarded.rs`, and fuzzed in `properties.rs`.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// How long a test waits for a line to reach the server's stdout.
const LOG_WAIT: Duration = Duration::from_secs(5);

/// The first line of `server`'s stdout containing `needle`, waiting for it.
fn log_line(server: &BinaryServer, needle: &str) -> String {
    let deadline = Instant::now() + LOG_WAIT;
    loop {
        let out = server.stdout();
        if let Some(line) = out.lines().find(|l| l.contains(needle)) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no access-log line with {needle:?} in {out:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The JSON access-log line for the request whose target contains `needle`, parsed.
fn json_line(server: &BinaryServer, needle: &str) -> Value {
    let line = log_line(server, needle);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

/// Writes `chunks` on a fresh connection, `gap` apart, then reads until EOF, a reset or the
/// read timeout; returns the bytes and how long after the last write the connection ended.
fn exchange(addr: SocketAddr, chunks: &[&[u8]], gap: Duration) -> (Vec<u8>, Duration) {
    let mut s = connect_to(addr);
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(gap);
        }
        if let Err(e) = s.write_all(chunk) {
            // Refused part way: what came back is the answer.
            let refused = [ErrorKind::BrokenPipe, ErrorKind::ConnectionReset];
            assert!(refused.contains(&e.kind()), "write {i}: {e}");
            break;
        }
    }
    let sent = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A close with our bytes unread is a reset: still no answer.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read after {:?}: {e}", sent.elapsed()),
        }
    }
    (out, sent.elapsed())
}

/// Every byte of `bytes` as a chunk of its own.
fn bytewise(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.chunks(1).collect()
}

fn get(target: &str, extra: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: site.test\r\n{extra}Connection: close\r\n\r\n")
}

fn status_of(bytes: &[u8]) -> u16 {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("HTTP/1.1 "), "not a response: {text:?}");
    text[9..12].parse().unwrap()
}

/// A PROXY v2 header for TCP over IPv6 from `src`, port 4711.
fn v2_tcp6(src: Ipv6Addr) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    h.extend_from_slice(&[0x21, 0x21, 0, 36 + 7]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    h.extend_from_slice(&4711u16.to_be_bytes());
    h.extend_from_slice(&443u16.to_be_bytes());
    // A TLV (PP2_TYPE_AUTHORITY, "a.test"), skipped.
    h.extend_from_slice(&[0x02, 0, 4, b'a', b'.', b't', b'e']);
    h
}

#[test]
fn json_lines_parse_and_carry_rfc3339_times_and_durations() {
    let site = TempSite::new();
    let server = Binary::serving(site.root()).access_log("json").spawn();
    // The head arrives in two parts 300 ms apart: the duration runs from its first byte (the
    // accept, for a connection's first request) to the response's last.
    let head = get("/style.css?slow", "User-Agent: agent \"x\"\r\n");
    let (first, rest) = head.as_bytes().split_at(10);
    let (resp, _) = exchange(server.addr, &[first, rest], Duration::from_millis(300));
    assert_eq!(status_of(&resp), 200);
    let (resp, _) = exchange(
        server.addr,
        &[get("/missing-page", "").as_bytes()],
        Duration::ZERO,
    );
    assert_eq!(status_of(&resp), 404);
    let (resp, _) = exchange(
        server.addr,
        &[b"GET /refused\x01 HTTP/1.1\r\n\r\n"],
        Duration::ZERO,
    );
    assert_eq!(status_of(&resp), 400);
    let _ = log_line(&server, "/missing-page");
    let _ = log_line(&server, "\"status\":400");

    let out = server.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    for line in &lines {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let time = v["time"]
            .as_str()
            .unwrap_or_else(|| panic!("no time: {line}"));
        let parsed = OffsetDateTime::parse(time, &Rfc3339)
            .unwrap_or_else(|e| panic!("{e}: time {time:?} is not RFC 3339"));
        assert_eq!(parsed.offset(), time::UtcOffset::UTC, "{time}");
        // Milliseconds, always three digits.
        assert!(time.len() == 24 && time.as_bytes()[19] == b'.', "{time}");
        let age = OffsetDateTime::now_utc() - parsed;
        assert!(age.whole_seconds().abs() < 60, "{time} is not now");
        let duration = v["duration_ms"]
            .as_f64()
            .unwrap_or_else(|| panic!("{line}"));
        assert!((0.0..10_000.0).contains(&duration), "{line}");
        assert_eq!(v["remote_addr"], "127.0.0.1", "{line}");
        assert_eq!(v["peer_addr"], "127.0.0.1", "{line}");
        assert!(v["user"].is_null(), "{line}");
        assert!(v["status"].is_u64() && v["bytes"].is_u64(), "{line}");
    }
    let slow = json_line(&server, "?slow");
    assert_eq!(slow["method"], "GET");
    assert_eq!(slow["uri"], "/style.css?slow");
    assert_eq!(slow["host"], "site.test");
    assert_eq!(slow["status"], 200);
    assert_eq!(slow["user_agent"], "agent \"x\"");
    assert_eq!(slow["bytes"], fixture("style.css").len() as u64);
    let ms = slow["duration_ms"].as_f64().unwrap();
    assert!(
        ms >= 250.0,
        "the head took 300 ms to arrive, logged {ms} ms"
    );
    let refused: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(
        (refused["status"].as_u64(), refused["host"].is_null()),
        (Some(400), true)
    );
}

#[test]
fn trusted_proxy_headers_name_the_client_and_forged_entries_do_not() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .access_log("json")
        .args(["--trusted-proxies", "127.0.0.1,10.0.0.0/8"])
        .spawn();
    // (target, headers, the client the log must show)
    let cases = [
        // The leftmost entry is whatever the client wrote; the rightmost untrusted one is the
        // address our proxy saw.
        (
            "/a?forged",
            "X-Forwarded-For: 6.6.6.6, 198.51.100.7\r\n",
            "198.51.100.7",
        ),
        // Trusted hops on the right are skipped; several lines are one list.
        (
            "/a?hops",
            "X-Forwarded-For: 6.6.6.6, 198.51.100.8\r\nX-Forwarded-For: 10.1.1.1\r\n",
            "198.51.100.8",
        ),
        (
            "/a?quoted-v6",
            "Forwarded: for=\"[2001:db8::7]:4711\";proto=https\r\n",
            "2001:db8::7",
        ),
        // Forwarded wins over X-Forwarded-For.
        (
            "/a?both",
            "X-Forwarded-For: 198.51.100.1\r\nForwarded: for=192.0.2.60, for=10.0.0.3\r\n",
            "192.0.2.60",
        ),
        // An obfuscated hop ends the walk at the last trusted one.
        (
            "/a?hidden",
            "Forwarded: for=192.0.2.61, for=_hidden, for=10.0.0.4\r\n",
            "10.0.0.4",
        ),
        ("/a?none", "", "127.0.0.1"),
    ];
    for (target, headers, _) in cases {
        let (resp, _) = exchange(
            server.addr,
            &[get(target, headers).as_bytes()],
            Duration::ZERO,
        );
        assert_eq!(status_of(&resp), 404, "{target}");
    }
    for (target, headers, client) in cases {
        let v = json_line(&server, target);
        assert_eq!(v["remote_addr"], client, "{target} with {headers:?}: {v}");
        assert_eq!(v["peer_addr"], "127.0.0.1", "{target}: {v}");
    }
}

#[test]
fn an_untrusted_peer_cannot_name_the_client() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .access_log("combined")
        .args(["--trusted-proxies", "10.0.0.0/8,fd00::/8"])
        .spawn();
    let headers = "X-Forwarded-For: 198.51.100.7\r\nForwarded: for=192.0.2.1\r\n";
    let (resp, _) = exchange(
        server.addr,
        &[get("/style.css?untrusted", headers).as_bytes()],
        Duration::ZERO,
    );
    assert_eq!(status_of(&resp), 200);
    let line = log_line(&server, "?untrusted");
    // Still the standard combined format, its %h the peer.
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
    assert!(
        line.contains("] \"GET /style.css?untrusted HTTP/1.1\" 200 "),
        "{line}"
    );
    assert!(
        !line.contains("198.51.100.7") && !line.contains("192.0.2.1"),
        "{line}"
    );
}

#[test]
fn common_log_shows_the_forwarded_client_as_its_host_field() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .access_log("common")
        .args(["--trusted-proxies", "127.0.0.0/8"])
        .spawn();
    let (resp, _) = exchange(
        server.addr,
        &[get("/style.css?common", "X-Forwarded-For: 203.0.113.9\r\n").as_bytes()],
        Duration::ZERO,
    );
    assert_eq!(status_of(&resp), 200);
    let line = log_line(&server, "?common");
    let len = fixture("style.css").len();
    assert!(line.starts_with("203.0.113.9 - - ["), "{line}");
    assert!(
        line.ends_with(&format!("] \"GET /style.css?common HTTP/1.1\" 200 {len}")),
        "{line}"
    );
}

/// A server that takes only PROXY-protocol connections, with a 1 s header timeout.
fn proxied(site: &TempSite, extra: &[&str]) -> BinaryServer {
    Binary::serving(site.root())
        .access_log("json")
        .args(["--proxy-protocol", "--header-timeout", "1"])
        .args(extra)
        .spawn()
}

#[test]
fn proxy_protocol_v1_and_v2_name_the_client_whole_or_trickled() {
    let site = TempSite::new();
    let server = proxied(&site, &[]);
    let v1 = |tag: &str| {
        format!(
            "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n{}",
            get(&format!("/style.css?{tag}"), "")
        )
    };
    let v6: Ipv6Addr = "2001:db8::9".parse().unwrap();
    let v2 = |tag: &str| {
        [
            v2_tcp6(v6),
            get(&format!("/style.css?{tag}"), "").into_bytes(),
        ]
        .concat()
    };
    let gap = Duration::from_millis(2);
    let whole_v1 = v1("v1");
    let split_v1 = v1("v1-split");
    let whole_v2 = v2("v2");
    let split_v2 = v2("v2-split");
    let sends: [(&str, Vec<&[u8]>); 4] = [
        ("?v1", vec![whole_v1.as_bytes()]),
        ("?v1-split", bytewise(split_v1.as_bytes())),
        ("?v2", vec![&whole_v2]),
        ("?v2-split", bytewise(&split_v2)),
    ];
    for (tag, chunks) in &sends {
        let (resp, _) = exchange(server.addr, chunks, gap);
        assert_eq!(
            status_of(&resp),
            200,
            "{tag}: {}",
            String::from_utf8_lossy(&resp)
        );
    }
    for (tag, client) in [
        ("?v1", "192.0.2.1"),
        ("?v1-split", "192.0.2.1"),
        ("?v2", "2001:db8::9"),
        ("?v2-split", "2001:db8::9"),
    ] {
        let v = json_line(&server, tag);
        assert_eq!(v["remote_addr"], client, "{tag}: {v}");
        assert_eq!(v["peer_addr"], "127.0.0.1", "{tag}: {v}");
    }
    // UNKNOWN and LOCAL keep the TCP peer.
    let unknown = format!("PROXY UNKNOWN\r\n{}", get("/style.css?unknown", ""));
    let mut local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00".to_vec();
    local.extend_from_slice(get("/style.css?local", "").as_bytes());
    for (tag, bytes) in [("?unknown", unknown.as_bytes()), ("?local", &local[..])] {
        let (resp, _) = exchange(server.addr, &[bytes], Duration::ZERO);
        assert_eq!(status_of(&resp), 200, "{tag}");
        assert_eq!(json_line(&server, tag)["remote_addr"], "127.0.0.1", "{tag}");
    }
}

#[test]
fn proxy_protocol_source_is_the_hop_forwarding_headers_are_judged_from() {
    let site = TempSite::new();
    let server = proxied(&site, &["--trusted-proxies", "192.0.2.0/24"]);
    let trusted = format!(
        "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n{}",
        get(
            "/style.css?cdn",
            "X-Forwarded-For: 6.6.6.6, 198.51.100.3\r\n"
        )
    );
    let untrusted = format!(
        "PROXY TCP4 203.0.113.5 192.0.2.2 5555 80\r\n{}",
        get("/style.css?direct", "X-Forwarded-For: 198.51.100.3\r\n")
    );
    for bytes in [&trusted, &untrusted] {
        let (resp, _) = exchange(server.addr, &[bytes.as_bytes()], Duration::ZERO);
        assert_eq!(status_of(&resp), 200);
    }
    assert_eq!(json_line(&server, "?cdn")["remote_addr"], "198.51.100.3");
    assert_eq!(json_line(&server, "?direct")["remote_addr"], "203.0.113.5");
}

#[test]
fn malformed_or_missing_proxy_headers_are_closed_unanswered() {
    let site = TempSite::new();
    let server = proxied(&site, &[]);
    let req = get("/style.css", "");
    let cases: [(&str, Vec<u8>); 5] = [
        ("a plain request", req.clone().into_bytes()),
        (
            "a bad address",
            format!("PROXY TCP4 192.0.2.300 192.0.2.2 1 2\r\n{req}").into_bytes(),
        ),
        (
            "no ports",
            format!("PROXY TCP4 192.0.2.1 192.0.2.2\r\n{req}").into_bytes(),
        ),
        (
            "a v2 version 1",
            [
                &b"\r\n\r\n\0\r\nQUIT\n\x11\x11\x00\x0c"[..],
                &[0; 12],
                req.as_bytes(),
            ]
            .concat(),
        ),
        (
            "a line past 107 bytes",
            format!("PROXY UNKNOWN {}\r\n{req}", "x".repeat(120)).into_bytes(),
        ),
    ];
    for (what, bytes) in &cases {
        let (resp, waited) = exchange(server.addr, &[bytes], Duration::ZERO);
        assert!(
            resp.is_empty(),
            "{what}: answered {:?}",
            String::from_utf8_lossy(&resp)
        );
        // Refused on the bytes, not by the 1 s header timeout.
        assert!(
            waited < Duration::from_millis(700),
            "{what}: closed after {waited:?}"
        );
    }
    // A header that never ends gets the header timeout, as a head would.
    let (resp, waited) = exchange(server.addr, &[b"PROXY TCP4 192.0.2.1"], Duration::ZERO);
    assert!(resp.is_empty(), "{:?}", String::from_utf8_lossy(&resp));
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(3),
        "an unfinished PROXY header closed after {waited:?} with --header-timeout 1"
    );
    // The PROXY header and the head after it share one header timeout: each takes 700 ms
    // here, under the 1 s timeout alone, 1.4 s together: cut.
    let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n";
    let (line_a, line_b) = line.split_at(20);
    let (head_a, head_b) = req.as_bytes().split_at(20);
    let middle = [line_b, head_a].concat();
    let (resp, _) = exchange(
        server.addr,
        &[line_a, &middle, head_b],
        Duration::from_millis(700),
    );
    assert!(resp.is_empty(), "{:?}", String::from_utf8_lossy(&resp));
    assert!(!server.stdout().contains("192.0.2"), "{}", server.stdout());
}

/// The flags reach the binary, and without them forwarding headers are ignored and a PROXY
/// line is just a bad request.
#[test]
fn command_line_flags() {
    let site = TempSite::new();
    let with = Binary::serving(site.root())
        .access_log("json")
        .args(["--trusted-proxies", "127.0.0.1", "--proxy-protocol"])
        .spawn();
    let bytes = format!(
        "PROXY TCP4 192.0.2.1 192.0.2.2 5555 80\r\n{}",
        get("/style.css?flags", "X-Forwarded-For: 198.51.100.3\r\n")
    );
    let (resp, _) = exchange(with.addr, &[bytes.as_bytes()], Duration::ZERO);
    assert_eq!(status_of(&resp), 200);
    // The PROXY source (192.0.2.1) is not trusted: its X-Forwarded-For is ignored.
    assert_eq!(json_line(&with, "?flags")["remote_addr"], "192.0.2.1");

    let without = Binary::serving(site.root()).access_log("json").spawn();
    let (resp, _) = exchange(without.addr, &[bytes.as_bytes()], Duration::ZERO);
    assert_eq!(status_of(&resp), 400, "{}", String::from_utf8_lossy(&resp));
    let xff = get("/style.css?default", "X-Forwarded-For: 198.51.100.3\r\n");
    let (resp, _) = exchange(without.addr, &[xff.as_bytes()], Duration::ZERO);
    assert_eq!(status_of(&resp), 200);
    assert_eq!(json_line(&without, "?default")["remote_addr"], "127.0.0.1");
}

#[test]
fn command_line_rejects_bad_proxy_blocks() {
    let site = TempSite::new();
    for bad in ["10.0.0.0/33", "10.1.2.3/8", "proxy.internal"] {
        let out = Binary::serving(site.root())
            .args(["--trusted-proxies", bad])
            .run(Duration::from_secs(10));
        assert!(!out.status.success(), "{bad} accepted");
        assert!(
            out.stderr.contains("--trusted-proxies"),
            "{bad}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(bad), "{bad}: {}", out.stderr);
    }
}
