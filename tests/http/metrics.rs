//! `--metrics-path` over real sockets: the page is parsed by a strict reader of the Prometheus
//! text format (0.0.4) below, which fails on anything a Prometheus scrape would reject (and on
//! histograms that do not add up); counters move by exactly the requests made between two
//! scrapes; `--metrics-from` hides the path from other peers; reloads are counted. The counting
//! itself is table-tested in src/metrics.rs; .ci/metrics-check.sh runs python's
//! `prometheus_client` parser over the real binary's page as well.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use muxserve::config::Cidr;

use crate::support::*;

/// Every series of a page, as `name{label="value",…}` (labels sorted) → value.
type Page = BTreeMap<String, f64>;

fn is_name(s: &str, colons: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colons && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':'))
}

fn value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse().map_err(|_| format!("bad value {s:?}")),
    }
}

/// `{a="x",b="y"}` → sorted labels; escapes `\\`, `\"`, `\n` only.
fn labels(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").ok_or(format!("bad labels {s:?}"))?;
        if !is_name(name, false) || out.iter().any(|(n, _)| n == name) {
            return Err(format!("bad or repeated label name {name:?}"));
        }
        let mut val = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => val.push('\\'),
                    Some((_, '"')) => val.push('"'),
                    Some((_, 'n')) => val.push('\n'),
                    other => return Err(format!("bad escape {other:?} in {s:?}")),
                },
                Some((_, '\n')) | None => return Err(format!("unterminated label in {s:?}")),
                Some((_, c)) => val.push(c),
            }
        };
        out.push((name.to_string(), val));
        rest = &after[end + 1..];
        rest = match rest.strip_prefix(',') {
            Some(more) => more,
            None if rest.is_empty() => rest,
            None => return Err(format!("expected , in {s:?}")),
        };
    }
    out.sort();
    Ok(out)
}

/// Reads a page strictly: HELP/TYPE at most once per family and TYPE before its samples, a
/// family's samples together, a sample's name its family's (histograms: `_bucket`, `_sum`,
/// `_count`), no series twice, counters non-negative, histograms cumulative with `+Inf` equal
/// to `_count`.
fn parse(text: &str) -> Result<Page, String> {
    let body = text
        .strip_suffix('\n')
        .ok_or("the page does not end in a newline")?;
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped: Vec<String> = Vec::new();
    let mut finished: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut page = Page::new();
    for line in body.split('\n') {
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    let known = ["counter", "gauge", "histogram", "summary", "untyped"];
                    if !is_name(name, true) || !known.contains(&kind) {
                        return Err(format!("bad TYPE line {line:?}"));
                    }
                    if types.insert(name.into(), kind.into()).is_some()
                        || finished.contains(&name.to_string())
                        || current.as_deref() == Some(name)
                    {
                        return Err(format!("TYPE for {name} twice or after its samples"));
                    }
                }
                (Some("HELP"), Some(name), _) => {
                    if !is_name(name, true) || helped.contains(&name.to_string()) {
                        return Err(format!("bad or repeated HELP {line:?}"));
                    }
                    helped.push(name.into());
                }
                _ => {}
            }
            continue;
        }
        if line.is_empty() {
            return Err("an empty line".into());
        }
        let (series, rest) = match line.find('{') {
            Some(open) => {
                let close = line.rfind('}').ok_or(format!("no }} in {line:?}"))?;
                let (name, inner) = (&line[..open], &line[open + 1..close]);
                let labels = labels(inner)?;
                let rendered: Vec<String> =
                    labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                (
                    (name, format!("{name}{{{}}}", rendered.join(","))),
                    &line[close + 1..],
                )
            }
            None => {
                let (name, rest) = line.split_once(' ').ok_or(format!("no value: {line:?}"))?;
                (
                    (name, name.to_string()),
                    &line[name.len()..][..rest.len() + 1],
                )
            }
        };
        let (name, key) = series;
        if !is_name(name, true) {
            return Err(format!("bad metric name {name:?}"));
        }
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or(format!("no space: {line:?}"))?
            .split(' ');
        let v = value(fields.next().unwrap_or(""))?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>()
                .map_err(|_| format!("bad timestamp in {line:?}"))?;
        }
        if fields.next().is_some() {
            return Err(format!("trailing fields in {line:?}"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                let base = name.strip_suffix(s)?;
                (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
            })
            .unwrap_or(name)
            .to_string();
        let kind = types
            .get(&family)
            .ok_or(format!("{name} has no TYPE line"))?;
        if current.as_ref() != Some(&family) {
            if finished.contains(&family) {
                return Err(format!("{family}'s samples are not together"));
            }
            finished.extend(current.replace(family.clone()));
        }
        if kind == "counter" && (v.is_nan() || v < 0.0) {
            return Err(format!("counter {key} is {v}"));
        }
        if page.insert(key.clone(), v).is_some() {
            return Err(format!("{key} twice"));
        }
    }
    for (name, kind) in &types {
        if kind != "histogram" {
            continue;
        }
        let prefix = format!("{name}_bucket{{le=");
        let mut buckets: Vec<(f64, f64)> = page
            .iter()
            .filter_map(|(k, v)| {
                let le = k.strip_prefix(&prefix)?.strip_suffix('}')?;
                Some((value(le.trim_matches('"')).ok()?, *v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if !buckets.windows(2).all(|w| w[0].1 <= w[1].1) {
            return Err(format!("{name}'s buckets are not cumulative: {buckets:?}"));
        }
        let inf = buckets.last().filter(|b| b.0 == f64::INFINITY);
        let count = page.get(&format!("{name}_count"));
        if inf.map(|b| b.1) != count.copied() || !page.contains_key(&format!("{name}_sum")) {
            return Err(format!(
                "{name}: +Inf bucket {inf:?}, _count {count:?}, or no _sum"
            ));
        }
    }
    Ok(page)
}

#[test]
fn the_reader_rejects_what_prometheus_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 2\n";
    assert_eq!(parse(good).unwrap().get("a_total{x=\"1\"}"), Some(&2.0));
    let bad = [
        "a 1\n",                                                    // no TYPE
        "# TYPE a gauge\na 1",                                      // no final newline
        "# TYPE a gauge\na{x=\"1} 1\n",                             // unterminated label
        "# TYPE a gauge\na 1\na 2\n",                               // series twice
        "# TYPE a gauge\n# TYPE b gauge\na 1\nb 1\na{x=\"y\"} 1\n", // family split
        "# TYPE a gauge\na one\n",                                  // bad value
        "# TYPE a counter\na -1\n",                                 // negative counter
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0\nh_count 1\n",
        "# TYPE a gauge\na 1\n\n", // empty line
    ];
    for page in bad {
        assert!(parse(page).is_err(), "accepted {page:?}");
    }
}

fn server(from: Vec<Cidr>) -> TestServer {
    TestServer::build()
        .config(|c| {
            c.metrics.path = Some("/metrics".into());
            c.metrics.from = from;
        })
        .start()
}

fn scrape(s: &TestServer) -> Page {
    let resp = s.get("/metrics");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8"),
        "{resp}"
    );
    assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp}");
    parse(&resp.body_str()).unwrap_or_else(|e| panic!("{e}\n{}", resp.body_str()))
}

fn delta(before: &Page, after: &Page, series: &str) -> f64 {
    let get = |p: &Page| {
        *p.get(series)
            .unwrap_or_else(|| panic!("no {series}: {p:?}"))
    };
    get(after) - get(before)
}

#[test]
fn counters_move_by_the_requests_made_between_scrapes() {
    let s = server(Vec::new());
    let before = scrape(&s);
    let mut sent = 0;
    for _ in 0..3 {
        let resp = s.get("/style.css");
        assert_eq!(resp.status, 200, "{resp}");
        sent += resp.body.len();
    }
    assert_eq!(s.head_with("/style.css", &[]).status, 200);
    assert_eq!(s.get("/missing.txt").status, 404);
    assert_eq!(s.method_with("POST", "/style.css", &[]).status, 405);
    let refused = s.raw(b"GET /\r\n\r\n");
    assert!(refused.starts_with(b"HTTP/1.1 400"), "{refused:?}");
    let after = scrape(&s);
    // The first scrape is counted too: it was answered before the second.
    let req = |m: &str, c: &str| format!("muxserve_requests_total{{code=\"{c}\",method=\"{m}\"}}");
    assert_eq!(delta(&before, &after, &req("GET", "2xx")), 4.0);
    assert_eq!(delta(&before, &after, &req("HEAD", "2xx")), 1.0);
    assert_eq!(delta(&before, &after, &req("GET", "4xx")), 1.0);
    assert_eq!(delta(&before, &after, &req("other", "4xx")), 2.0);
    assert_eq!(delta(&before, &after, &req("GET", "5xx")), 0.0);
    let count = "muxserve_request_duration_seconds_count";
    assert_eq!(delta(&before, &after, count), 8.0);
    let bytes = delta(&before, &after, "muxserve_response_bytes_total");
    assert!(
        bytes > sent as f64,
        "{bytes} bytes counted, {sent} of bodies alone"
    );
    // The scrape's own connection is open while it is answered.
    assert!(after["muxserve_open_connections"] >= 1.0, "{after:?}");
    assert_eq!(after["muxserve_draining"], 0.0);
    assert_eq!(after["muxserve_connections_cut_total"], 0.0);
}

#[test]
fn head_gets_the_head_only_and_other_forms_are_the_sites() {
    let s = server(Vec::new());
    let head = s.head_with("/metrics", &[]);
    assert_eq!(head.status, 200, "{head}");
    assert!(head.body.is_empty(), "{head}");
    assert!(head.content_length().is_some_and(|n| n > 0), "{head}");
    assert_eq!(s.get("/metrics?x=1").status, 404);
    assert_eq!(s.get("/metrics/").status, 404);
    assert_eq!(s.method_with("POST", "/metrics", &[]).status, 405);
}

#[test]
fn peers_outside_metrics_from_get_the_sites_404() {
    let outside = server(vec!["10.0.0.0/8".parse().unwrap()]);
    let resp = outside.get("/metrics");
    assert_eq!(resp.status, 404, "{resp}");
    assert!(!resp.body_str().contains("muxserve_"), "{resp}");
    // A Forwarded header does not get a peer in.
    let forwarded = outside.get_with("/metrics", &[("X-Forwarded-For", "10.1.2.3")]);
    assert_eq!(forwarded.status, 404, "{forwarded}");
    let inside = server(vec![
        "10.0.0.0/8".parse().unwrap(),
        "127.0.0.1".parse().unwrap(),
    ]);
    scrape(&inside);
}

#[test]
fn without_metrics_path_the_path_is_the_sites() {
    let s = TestServer::start();
    assert_eq!(s.get("/metrics").status, 404);
}

#[test]
fn reloads_are_counted() {
    let s = server(Vec::new());
    let ok = "muxserve_reloads_total{outcome=\"ok\"}";
    assert_eq!(scrape(&s)[ok], 0.0);
    s.running().reload_handle().reload();
    let until = Instant::now() + Duration::from_secs(5);
    while scrape(&s)[ok] < 1.0 {
        assert!(Instant::now() < until, "no reload counted in 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        scrape(&s)["muxserve_reloads_total{outcome=\"failed\"}"],
        0.0
    );
}

#[test]
fn a_scrape_after_a_request_with_headers_rules_gets_none_of_them() {
    let s = TestServer::build()
        .site(|site| {
            std::fs::write(site.root().join("_headers"), "/style.css\n  X-Rule: yes\n").unwrap()
        })
        .config(|c| c.metrics.path = Some("/metrics".into()))
        .start();
    let first = "GET /style.css HTTP/1.1\r\nHost: t\r\n\r\n";
    let (styled, page) = pipelined_pair(s.addr(), first, "/metrics");
    assert_eq!(styled.header("X-Rule"), Some("yes"), "{styled}");
    assert_eq!(page.status, 200, "{page}");
    assert_eq!(page.header("X-Rule"), None, "{page}");
}

#[test]
fn cache_lookups_and_sizes_are_counted() {
    let s = TestServer::build()
        .site(|site| {
            let css = "body { color: red }\n".repeat(200);
            std::fs::write(site.root().join("big.css"), css).unwrap()
        })
        .config(|c| {
            c.metrics.path = Some("/metrics".into());
            c.site.compress = true;
        })
        .start();
    let memory = |o: &str| format!("muxserve_memory_cache_lookups_total{{outcome=\"{o}\"}}");
    let zipped = |o: &str| format!("muxserve_compression_cache_lookups_total{{outcome=\"{o}\"}}");
    let before = scrape(&s);
    assert_eq!(before["muxserve_memory_cache_bytes"], 0.0, "{before:?}");
    assert_eq!(
        before["muxserve_compression_cache_bytes"], 0.0,
        "{before:?}"
    );
    // The first read fills the memory cache, the second is answered from it.
    for _ in 0..2 {
        assert_eq!(s.get("/big.css").status, 200);
    }
    let filled = scrape(&s);
    assert_eq!(delta(&before, &filled, &memory("miss")), 1.0);
    assert_eq!(delta(&before, &filled, &memory("hit")), 1.0);
    assert!(filled["muxserve_memory_cache_bytes"] > 4000.0, "{filled:?}");
    // gzip: the memory cache holds the original only, so each is a miss there; the first is
    // compressed, the second taken from the compression cache.
    for _ in 0..2 {
        let resp = s.get_with("/big.css", &[("Accept-Encoding", "gzip")]);
        assert_eq!(resp.header("Content-Encoding"), Some("gzip"), "{resp}");
    }
    let zipped_page = scrape(&s);
    assert_eq!(delta(&filled, &zipped_page, &memory("miss")), 2.0);
    assert_eq!(delta(&filled, &zipped_page, &zipped("miss")), 1.0);
    assert_eq!(delta(&filled, &zipped_page, &zipped("hit")), 1.0);
    assert!(zipped_page["muxserve_compression_cache_bytes"] > 0.0);
    // A scrape itself touches no cache.
    let again = scrape(&s);
    for series in [memory("hit"), memory("miss"), zipped("hit"), zipped("miss")] {
        assert_eq!(delta(&zipped_page, &again, &series), 0.0, "{series}");
    }
}

#[test]
fn kept_descriptors_are_counted() {
    let s = TestServer::build()
        .site(|site| std::fs::write(site.root().join("big.bin"), vec![7u8; 64 * 1024]).unwrap())
        .config(|c| c.metrics.path = Some("/metrics".into()))
        .start();
    let open = |o: &str| format!("muxserve_open_file_cache_lookups_total{{outcome=\"{o}\"}}");
    let before = scrape(&s);
    assert_eq!(before["muxserve_open_file_cache_descriptors"], 0.0);
    // Above the memory cache's bound: the first opens and keeps it, the next two use it.
    for _ in 0..3 {
        assert_eq!(s.get("/big.bin").body.len(), 64 * 1024);
    }
    let after = scrape(&s);
    assert_eq!(delta(&before, &after, &open("miss")), 1.0, "{after:?}");
    assert_eq!(delta(&before, &after, &open("hit")), 2.0, "{after:?}");
    assert_eq!(after["muxserve_open_file_cache_descriptors"], 1.0);
}

#[test]
fn auth_failures_are_counted_by_reason() {
    use base64::Engine as _;
    let file = fixtures_dir().join("auth/bcrypt.htpasswd");
    let s = TestServer::build()
        .site(|site| {
            std::fs::create_dir_all(site.root().join("private")).unwrap();
            std::fs::write(site.root().join("private/x.txt"), "x\n").unwrap();
        })
        .config(|c| {
            c.metrics.path = Some("/metrics".into());
            let rule = format!("/private/*={}", file.display());
            c.site.auth.rules = vec![muxserve::config::AuthRule::parse(&rule).unwrap()];
        })
        .start();
    let basic = |creds: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(creds);
        format!("Basic {token}")
    };
    let failed = |r: &str| format!("muxserve_auth_failures_total{{reason=\"{r}\"}}");
    let before = scrape(&s);
    assert_eq!(s.get("/private/x.txt").status, 401);
    let garbled = s.get_with("/private/x.txt", &[("Authorization", "Basic !!!")]);
    assert_eq!(garbled.status, 401);
    let wrong = basic("alice:not-it");
    assert_eq!(
        s.get_with("/private/x.txt", &[("Authorization", &wrong)])
            .status,
        401
    );
    let right = basic("alice:alice-pw");
    assert_eq!(
        s.get_with("/private/x.txt", &[("Authorization", &right)])
            .status,
        200
    );
    assert_eq!(s.get("/style.css").status, 200);
    let after = scrape(&s);
    assert_eq!(delta(&before, &after, &failed("missing")), 2.0);
    assert_eq!(delta(&before, &after, &failed("rejected")), 1.0);
    assert_eq!(delta(&before, &after, &failed("busy")), 0.0);
}

#[test]
fn idle_connections_are_open_but_not_active() {
    let s = server(Vec::new());
    let idle: Vec<_> = (0..3).map(|_| connect_to(s.addr())).collect();
    // The reactor stores its counts once a turn, so a scrape may see the turn before, and the
    // kernel holds a connection that sends nothing for about a second before it is accepted
    // (TCP_DEFER_ACCEPT): ask until the three idle connections and the scrape's own are counted.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let page = scrape(&s);
        let seen = (
            page["muxserve_open_connections"],
            page["muxserve_active_connections"],
        );
        if seen == (4.0, 1.0) {
            break;
        }
        assert!(Instant::now() < until, "open, active: {seen:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(idle);
}

/// RFC 9110 §13.2.1 (MUST): the probe's and the scrape's 200s have no validators, and their
/// preconditions are evaluated all the same: a tag fails `If-Match`, `*` matches.
#[test]
fn preconditions_apply_to_the_probe_and_the_scrape() {
    let s = TestServer::build()
        .config(|c| {
            c.metrics.path = Some("/metrics".into());
            c.site.health_path = Some("/healthz".into());
        })
        .start();
    for path in ["/healthz", "/metrics"] {
        for (field, value, status) in [
            ("If-Match", "\"nope\"", 412),
            ("If-Match", "*", 200),
            ("If-None-Match", "*", 304),
            ("If-None-Match", "\"nope\"", 200),
            // No modification date: both dates are ignored (RFC 9110 §13.1.3, §13.1.4).
            ("If-Modified-Since", "Sat, 01 Jan 2050 00:00:00 GMT", 200),
            ("If-Unmodified-Since", "Thu, 01 Jan 1970 00:00:00 GMT", 200),
        ] {
            let resp = s.get_with(path, &[(field, value)]);
            assert_eq!(
                resp.status, status,
                "GET {path} with {field}: {value}: {resp}"
            );
            assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{resp}");
            if status == 304 {
                assert!(
                    resp.body.is_empty() && resp.header("Content-Type").is_none(),
                    "{resp}"
                );
            }
        }
    }
}
