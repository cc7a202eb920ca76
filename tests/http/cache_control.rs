//! `Cache-Control`: the default value, the built-in rule for content-hashed
//! names, glob rules over the decoded URL path (first match wins), turning
//! it off, and 304s repeating it.

use std::fs;

use crate::support::*;
use muxserve::config::CacheRule;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Files with hashed and look-alike names, created at runtime.
const NAMES: &[&str] = &[
    "app.3f9a1c.js",
    "main-BcD3f9xZ.css",
    "chunk.8d2e1f0a.mjs",
    "assets/vendor.0123456789abcdef.js",
    "logo-a1b2c3d4.svg",
    "app.js",
    "app.abc.js",
    "main-component.css",
    "app.3f9a1.js",
    "assets/sub/deep.txt",
    "assets/x.js",
    "other.js",
];

fn server(configure: impl FnOnce(&mut muxserve::Config)) -> TestServer {
    TestServer::build()
        .site(|site| {
            for name in NAMES {
                let p = site.root().join(name);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, format!("/* {name} */\n")).unwrap();
            }
        })
        .config(configure)
        .start()
}

fn rule(s: &str) -> CacheRule {
    CacheRule::parse(s).unwrap_or_else(|e| panic!("CacheRule::parse({s:?}): {e}"))
}

fn check(s: &TestServer, table: &[(&str, Option<&str>)]) {
    let mut failures = Vec::new();
    for (path, want) in table {
        let resp = s.get(path);
        if resp.status != 200 {
            failures.push(format!("GET {path}: status {}", resp.status));
            continue;
        }
        let got = resp.header("Cache-Control");
        if got != *want {
            failures.push(format!(
                "GET {path}: Cache-Control {got:?}, expected {want:?}"
            ));
        }
        assert!(
            resp.header_all("Cache-Control").len() <= 1,
            "GET {path}: several Cache-Control lines: {resp}"
        );
    }
    assert!(
        failures.is_empty(),
        "{} Cache-Control case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn default_config_no_cache_and_immutable_for_hashed_names() {
    let s = server(|_| {});
    check(
        &s,
        &[
            ("/style.css", Some("no-cache")),
            ("/index.html", Some("no-cache")),
            ("/", Some("no-cache")),
            ("/image.png", Some("no-cache")),
            // hashed: name.HASH.ext / name-HASH.ext
            ("/app.3f9a1c.js", Some(IMMUTABLE)),
            ("/main-BcD3f9xZ.css", Some(IMMUTABLE)),
            ("/chunk.8d2e1f0a.mjs", Some(IMMUTABLE)),
            ("/assets/vendor.0123456789abcdef.js", Some(IMMUTABLE)),
            ("/logo-a1b2c3d4.svg", Some(IMMUTABLE)),
            // not hashed
            ("/app.js", Some("no-cache")),
            ("/app.abc.js", Some("no-cache")),   // 3 hex digits
            ("/app.3f9a1.js", Some("no-cache")), // 5 hex digits
            ("/main-component.css", Some("no-cache")), // no digit
        ],
    );
}

#[test]
fn rule_for_html_replaces_the_defaults() {
    let s = server(|c| c.site.cache_rules = vec![rule("*.html=no-store")]);
    check(
        &s,
        &[
            ("/index.html", Some("no-store")),
            // `*` crosses `/`
            ("/dir/index.html", Some("no-store")),
            ("/style.css", Some("no-cache")),
            // the rule list replaced the default `hashed` rule
            ("/app.3f9a1c.js", Some("no-cache")),
        ],
    );
}

#[test]
fn first_matching_rule_wins_and_globs_cross_slashes() {
    let s = server(|c| {
        c.site.cache_rules = vec![
            rule("/assets/*=public, max-age=60"),
            rule("*.js=private, max-age=5"),
            rule("hashed=public, max-age=31536000, immutable"),
        ];
        c.site.cache_control = Some("max-age=0, must-revalidate".to_string());
    });
    check(
        &s,
        &[
            ("/assets/x.js", Some("public, max-age=60")),
            ("/assets/sub/deep.txt", Some("public, max-age=60")),
            (
                "/assets/vendor.0123456789abcdef.js",
                Some("public, max-age=60"),
            ),
            ("/other.js", Some("private, max-age=5")),
            ("/app.3f9a1c.js", Some("private, max-age=5")),
            ("/main-BcD3f9xZ.css", Some(IMMUTABLE)),
            ("/style.css", Some("max-age=0, must-revalidate")),
        ],
    );
}

#[test]
fn rules_match_the_decoded_path() {
    let s = server(|c| c.site.cache_rules = vec![rule("/a space.txt=max-age=7")]);
    check(
        &s,
        &[
            ("/a%20space.txt", Some("max-age=7")),
            ("/style.css", Some("no-cache")),
        ],
    );
}

#[test]
fn cache_control_off_sends_none() {
    let s = server(|c| {
        c.site.cache_control = None;
        c.site.cache_rules = Vec::new();
    });
    check(
        &s,
        &[("/style.css", None), ("/app.3f9a1c.js", None), ("/", None)],
    );
}

#[test]
fn not_modified_repeats_cache_control() {
    let s = server(|_| {});
    for path in ["/style.css", "/app.3f9a1c.js"] {
        let full = s.get(path);
        let etag = strong_etag(&full);
        let cc = full.header("Cache-Control").expect("Cache-Control on 200");
        let nm = s.get_with(path, &[("If-None-Match", &etag)]);
        assert_eq!(nm.status, 304, "{path}: {nm}");
        assert_eq!(nm.header("Cache-Control"), Some(cc), "{path}: 304 {nm}");
        let lm = full.header("Last-Modified").expect("Last-Modified");
        let nm = s.get_with(path, &[("If-Modified-Since", lm)]);
        assert_eq!(nm.status, 304, "{path}: {nm}");
        assert_eq!(nm.header("Cache-Control"), Some(cc), "{path}: 304 {nm}");
    }
}

#[test]
fn head_and_partial_responses_carry_cache_control() {
    let s = server(|_| {});
    let head = s.head_with("/app.3f9a1c.js", &[]);
    assert_eq!(head.header("Cache-Control"), Some(IMMUTABLE), "{head}");
    let part = s.get_with("/app.3f9a1c.js", &[("Range", "bytes=0-1")]);
    assert_eq!(part.status, 206, "{part}");
    assert_eq!(part.header("Cache-Control"), Some(IMMUTABLE), "{part}");
}

#[test]
fn cache_rule_parse() {
    let r = CacheRule::parse("*.js=public, max-age=60");
    assert!(r.is_ok(), "{r:?}");
    for bad in ["no-equals-sign", ""] {
        assert!(CacheRule::parse(bad).is_err(), "{bad:?} must be rejected");
    }
}

#[test]
fn command_line_flags() {
    let site = TempSite::new();
    fs::write(site.root().join("app.3f9a1c.js"), b"/* hashed */\n").unwrap();
    // `off` sends no default; rules are repeatable and tried in order.
    let srv = Binary::serving(site.root())
        .args([
            "--cache-control",
            "off",
            "--cache-rule",
            "*.css=max-age=9",
            "--cache-rule",
            "*.html=no-store",
        ])
        .spawn();
    for (path, want) in [
        ("/style.css", Some("max-age=9")),
        ("/index.html", Some("no-store")),
        ("/image.png", None),
        ("/app.3f9a1c.js", None),
    ] {
        let resp = srv.request(&get_request(path));
        assert_eq!(resp.status, 200, "{path}: {resp}");
        assert_eq!(resp.header("Cache-Control"), want, "{path} (binary, flags)");
    }
    drop(srv);
    // Without flags: the defaults.
    let srv = Binary::serving(site.root()).spawn();
    for (path, want) in [("/style.css", "no-cache"), ("/app.3f9a1c.js", IMMUTABLE)] {
        let resp = srv.request(&get_request(path));
        assert_eq!(
            resp.header("Cache-Control"),
            Some(want),
            "{path} (binary, defaults)"
        );
    }
    // A custom default value.
    drop(srv);
    let srv = Binary::serving(site.root())
        .args(["--cache-control", "max-age=60"])
        .spawn();
    let resp = srv.request(&get_request("/style.css"));
    assert_eq!(resp.header("Cache-Control"), Some("max-age=60"));
}

#[test]
fn command_line_rejects_a_malformed_rule() {
    let site = TempSite::new();
    let out = Binary::serving(site.root())
        .args(["--cache-rule", "no-equals-sign"])
        .run(std::time::Duration::from_secs(10));
    assert!(!out.status.success(), "exit {:?}", out.status);
    assert!(!out.stderr.trim().is_empty());
}
