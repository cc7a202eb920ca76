//! `--basic-auth` (RFC 7617) through real sockets: every hash format, every way to get it wrong,
//! every spelling and route that could reach a protected file without the password (normalised
//! paths, rewrites, the memory and compression caches, conditional and range requests, HEAD,
//! OPTIONS, listings), CORS preflights, `Cache-Control: private`, the access log and refused
//! htpasswd files.

use std::fs;
use std::time::Duration;

use base64::Engine as _;
use muxserve::config::AuthRule;

use crate::support::*;

const MARKER: &str = "PRIVATE-MARKER-51d0";

fn htpasswd(name: &str) -> String {
    fixtures_dir().join("auth").join(name).display().to_string()
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn rule(pattern: &str, file: &str) -> AuthRule {
    AuthRule::parse(&format!("{pattern}={}", htpasswd(file))).unwrap()
}

/// The fixture site plus `private/` (a marker file, a CSS file worth compressing, a
/// subdirectory without an index file), `401.html`, and rules that rewrite public paths into
/// `private/`; `/private/*` needs alice or bob, and one prefix per hash format.
fn builder<'a>() -> TestServerBuilder<'a> {
    TestServer::build()
        .site(|site| {
            let root = site.root();
            fs::create_dir_all(root.join("private/sub")).unwrap();
            fs::write(root.join("private/secret.txt"), format!("{MARKER}\n")).unwrap();
            fs::write(
                root.join("private/index.html"),
                format!("<p>{MARKER}</p>\n"),
            )
            .unwrap();
            let css = format!("/* {MARKER} */\n{}", "body { color: red }\n".repeat(100));
            fs::write(root.join("private/big.css"), css).unwrap();
            fs::write(root.join("private/sub/x.txt"), format!("{MARKER}\n")).unwrap();
            fs::write(root.join("private/page.html"), format!("{MARKER}\n")).unwrap();
            for dir in ["sha", "argon", "b2"] {
                fs::create_dir_all(root.join(dir)).unwrap();
                fs::write(root.join(dir).join("f.txt"), format!("{MARKER}\n")).unwrap();
            }
            fs::write(root.join("401.html"), "<h1>who goes there</h1>\n").unwrap();
            fs::write(
                root.join("_redirects"),
                "/go /private/secret.txt 200\n/go-dir /private/sub/ 200\n\
                 /style.css /private/secret.txt 200!\n",
            )
            .unwrap();
        })
        .config(|c| {
            c.site.dir_listing = true;
            // Short, so the many refusals below stay quick; the hold itself is tested apart.
            c.site.auth.failure_delay = Duration::from_millis(10);
            c.site.auth.rules = vec![
                rule("/private/*", "bcrypt.htpasswd"),
                rule("/sha/*", "sha.htpasswd"),
                rule("/argon/*", "argon2.htpasswd"),
                rule("/b2/*", "bcrypt-2b-2a.htpasswd"),
            ];
        })
}

fn server(configure: impl FnOnce(&mut muxserve::Config)) -> TestServer {
    builder().config(configure).start()
}

fn assert_refused(resp: &Response, what: &str) {
    assert_eq!(resp.status, 401, "{what}: {resp}");
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some("Basic realm=\"restricted\", charset=\"UTF-8\""),
        "{what}: {resp}"
    );
    assert!(!resp.body_str().contains(MARKER), "{what}: {resp}");
    for leak in ["ETag", "Last-Modified", "Content-Range", "Accept-Ranges"] {
        assert_eq!(resp.header(leak), None, "{what}: {leak} leaks: {resp}");
    }
}

#[test]
fn every_hash_format_lets_its_user_in() {
    let s = server(|_| {});
    for (path, user, password) in [
        ("/private/secret.txt", "alice", "alice-pw"),
        ("/private/secret.txt", "bob", "bob pw:with colon"),
        ("/sha/f.txt", "carol", "carol-pw"),
        ("/sha/f.txt", "dave", "dave-pw"),
        ("/argon/f.txt", "erin", "erin-pw"),
        ("/b2/f.txt", "frank", "frank-pw"),
        ("/b2/f.txt", "grace", "grace-pw"),
    ] {
        let auth = basic(user, password);
        let resp = s.get_with(path, &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{user} on {path}: {resp}");
        assert_eq!(resp.body_str(), format!("{MARKER}\n"), "{user}: {resp}");
        assert_eq!(
            resp.header("Cache-Control"),
            Some("private, no-cache"),
            "{resp}"
        );
        // A user of another file is a stranger here.
        let resp = s.get_with("/argon/f.txt", &[("Authorization", &basic(user, password))]);
        if user != "erin" {
            assert_refused(&resp, user);
        }
    }
}

#[test]
fn wrong_or_malformed_credentials_get_401_with_the_site_page() {
    let s = server(|_| {});
    let utf8_bad = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(b"alice:alice-pw\xff")
    );
    let cases: Vec<(&str, String)> = vec![
        ("no header", String::new()),
        ("wrong password", basic("alice", "nope")),
        ("unknown user", basic("mallory", "alice-pw")),
        ("empty password", basic("alice", "")),
        ("not Basic", "Bearer YWxpY2U6YWxpY2UtcHc=".into()),
        ("Basic alone", "Basic".into()),
        ("bad base64", "Basic %%%notbase64%%%".into()),
        (
            "no colon",
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("alice")
            ),
        ),
        ("not UTF-8", utf8_bad),
    ];
    for (what, auth) in cases {
        let headers: Vec<(&str, &str)> = if auth.is_empty() {
            vec![]
        } else {
            vec![("Authorization", &auth)]
        };
        let resp = s.get_with("/private/secret.txt", &headers);
        assert_refused(&resp, what);
        assert_eq!(
            resp.body_str(),
            "<h1>who goes there</h1>\n",
            "{what}: {resp}"
        );
        assert_eq!(resp.header("Cache-Control"), Some("no-store"), "{what}");
    }
    // Two Authorization lines are ambiguous: neither is used.
    let good = basic("alice", "alice-pw");
    let resp = s.get_with(
        "/private/secret.txt",
        &[("Authorization", &good), ("Authorization", &good)],
    );
    assert_refused(&resp, "two lines");
    // The scheme is case-insensitive (RFC 9110 §11.1).
    let lower = good.replace("Basic", "bAsIc");
    let resp = s.get_with("/private/secret.txt", &[("Authorization", &lower)]);
    assert_eq!(resp.status, 200, "{resp}");
}

#[test]
fn no_spelling_of_a_protected_path_gets_past() {
    let s = server(|_| {});
    for path in [
        "/private/secret.txt",
        "//private/secret.txt",
        "/%70rivate/secret.txt",
        "/%70%72%69%76%61%74%65/secret.txt",
        "/public/../private/secret.txt",
        "/dir/../private/secret.txt",
        "/private/./secret.txt",
        "/./private/secret.txt",
        "/private//secret.txt",
        "/private;x/../private/secret.txt",
        "/private/secret.txt?x=1",
        "http://localhost/private/secret.txt",
        "/private",
        "/private/",
        "/private/index.html",
        "/private/sub/",
        "/private/sub",
        "/private/missing.txt",
        "/private/missing/deeper",
        "/private/page",
    ] {
        let resp = s.get(path);
        assert_refused(&resp, path);
    }
    // Not the protected directory: answered as any other path, and no marker either way.
    for path in ["/private;x/", "/privatex/secret.txt", "/Private/secret.txt"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "{path}: {resp}");
        assert!(!resp.body_str().contains(MARKER), "{path}: {resp}");
    }
}

#[test]
fn conditional_range_head_options_and_listing_requests_get_401() {
    let s = server(|_| {});
    let auth = basic("alice", "alice-pw");
    let ok = s.get_with("/private/secret.txt", &[("Authorization", &auth)]);
    let etag = ok.header("ETag").unwrap().to_string();
    let date = ok.header("Last-Modified").unwrap().to_string();
    let path = "/private/secret.txt";
    for (what, headers) in [
        ("If-None-Match", vec![("If-None-Match", etag.as_str())]),
        (
            "If-Modified-Since",
            vec![("If-Modified-Since", date.as_str())],
        ),
        ("If-Match miss", vec![("If-Match", "\"other\"")]),
        ("Range", vec![("Range", "bytes=0-3")]),
        ("unsatisfiable Range", vec![("Range", "bytes=9999-")]),
        (
            "If-Range",
            vec![("Range", "bytes=0-3"), ("If-Range", etag.as_str())],
        ),
    ] {
        assert_refused(&s.get_with(path, &headers), what);
    }
    let head = s.head_with(path, &[]);
    assert_eq!(head.status, 401, "{head}");
    assert!(head.header("WWW-Authenticate").is_some(), "{head}");
    assert_eq!(
        head.content_length(),
        Some(fs::metadata(s.root().join("401.html")).unwrap().len()),
        "HEAD announces the 401 page, not the file: {head}"
    );
    let options = s.request(&request_with("OPTIONS", path, &[]));
    assert_refused(&options, "OPTIONS");
    let options = s.request(&request_with("OPTIONS", path, &[("Authorization", &auth)]));
    assert_eq!(options.status, 204, "{options}");
    assert_eq!(
        s.request(&request_with("OPTIONS", "/style.css", &[]))
            .status,
        204
    );
    for accept in ["text/html", "application/json"] {
        assert_refused(&s.get_with("/private/sub/", &[("Accept", accept)]), accept);
    }
    let listing = s.get_with("/private/sub/", &[("Authorization", &auth)]);
    assert_eq!(listing.status, 200, "{listing}");
    assert!(listing.body_str().contains("x.txt"), "{listing}");
    assert_eq!(
        listing.header("Cache-Control"),
        Some("private, no-cache"),
        "{listing}"
    );
    // With credentials, validators and ranges work as anywhere.
    let not_modified = s.get_with(
        path,
        &[("Authorization", &auth), ("If-None-Match", etag.as_str())],
    );
    assert_eq!(not_modified.status, 304, "{not_modified}");
    assert_eq!(
        not_modified.header("Cache-Control"),
        Some("private, no-cache")
    );
    let partial = s.get_with(path, &[("Authorization", &auth), ("Range", "bytes=0-6")]);
    assert_eq!(
        (partial.status, partial.body_str().as_str()),
        (206, "PRIVATE")
    );
    assert_eq!(partial.header("Cache-Control"), Some("private, no-cache"));
}

#[test]
fn rewrites_into_a_protected_path_need_its_password() {
    let s = server(|_| {});
    let auth = basic("alice", "alice-pw");
    // Unforced rules (no file at /go), a rewrite to a directory listing, a forced rule over a
    // public file.
    for path in ["/go", "/go-dir", "/style.css"] {
        assert_refused(&s.get(path), path);
        let resp = s.get_with(path, &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{path}: {resp}");
        assert!(
            resp.body_str().contains(MARKER) || path == "/go-dir",
            "{resp}"
        );
        assert_eq!(
            resp.header("Cache-Control"),
            Some("private, no-cache"),
            "{resp}"
        );
    }
}

#[test]
fn the_memory_and_compression_caches_stay_behind_the_password() {
    let s = server(|c| {
        c.site.compress = true;
        c.site.cache_rules =
            vec![muxserve::config::CacheRule::parse("*=public, max-age=60").unwrap()];
    });
    let auth = basic("bob", "bob pw:with colon");
    for _ in 0..2 {
        // Twice each: the first answer would have filled a cache.
        let resp = s.get_with("/private/secret.txt", &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{resp}");
        assert_eq!(
            resp.header("Cache-Control"),
            Some("private, max-age=60"),
            "a public rule: {resp}"
        );
        let gz = s.get_with(
            "/private/big.css",
            &[("Authorization", &auth), ("Accept-Encoding", "gzip")],
        );
        assert_eq!(gz.header("Content-Encoding"), Some("gzip"), "{gz}");
        assert!(String::from_utf8_lossy(&gunzip(&gz.body)).contains(MARKER));
    }
    assert_refused(&s.get("/private/secret.txt"), "memory cache");
    assert_refused(&s.get("/private/"), "index in memory");
    let gz = s.get_with("/private/big.css", &[("Accept-Encoding", "gzip")]);
    assert_refused(&gz, "compression cache");
    assert_eq!(gz.header("Content-Encoding"), None, "{gz}");
    // Public files keep their rule.
    let public = s.get("/index.html");
    assert_eq!(
        public.header("Cache-Control"),
        Some("public, max-age=60"),
        "{public}"
    );
}

#[test]
fn a_sidecar_is_guarded_as_the_file_it_compresses() {
    let s = builder()
        .site(|site| {
            let root = site.root();
            fs::create_dir_all(root.join("docs")).unwrap();
            for name in [
                "report.html",
                "report.html.gz",
                "report.html.br",
                "report.html.zst",
                "report.html.gz.br",
                "docs/plan.pdf",
                "docs/plan.pdf.gz",
            ] {
                fs::write(root.join(name), format!("{MARKER} {name}\n")).unwrap();
            }
            fs::write(root.join("archive.tar.gz"), "public archive\n").unwrap();
            // A file named as the protected folder is, with sidecars of its own.
            fs::write(root.join("private.gz"), format!("{MARKER}\n")).unwrap();
            fs::write(root.join("private.br"), format!("{MARKER}\n")).unwrap();
        })
        .config(|c| {
            c.site
                .auth
                .rules
                .push(rule("/report.html", "bcrypt.htpasswd"));
            c.site
                .auth
                .rules
                .push(rule("/docs/*.pdf", "bcrypt.htpasswd"));
        })
        .start();
    let auth = basic("alice", "alice-pw");
    for path in [
        "/report.html",
        "/report.html.gz",
        "/report.html.br",
        "/report.html.zst",
        "/report.html.gz.br",
        "/report.html%2Egz",
        "/docs/plan.pdf.gz",
    ] {
        assert_refused(&s.get(path), path);
        let head = s.head_with(path, &[]);
        assert_eq!(head.status, 401, "HEAD {path}: {head}");
        let resp = s.get_with(path, &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{path}: {resp}");
        assert!(resp.body_str().contains(MARKER), "{path}: {resp}");
        assert_eq!(
            resp.header("Cache-Control"),
            Some("private, no-cache"),
            "{resp}"
        );
    }
    // A sidecar beside a name its rule guards as a directory.
    for path in ["/private.gz", "/private.br"] {
        assert_refused(&s.get(path), path);
    }
    // A name that only ends like a sidecar is guarded by its own rules alone.
    let public = s.get("/archive.tar.gz");
    assert_eq!(public.status, 200, "{public}");
    assert_eq!(public.body_str(), "public archive\n");
}

#[test]
fn listings_name_protected_entries_only_behind_the_rule_that_guards_them() {
    let s = builder()
        .site(|site| {
            let root = site.root();
            fs::create_dir_all(root.join("shelf/locked/inner")).unwrap();
            fs::write(root.join("shelf/open.txt"), "open\n").unwrap();
            fs::write(root.join("shelf/secret-name.txt"), "x\n").unwrap();
            fs::write(root.join("shelf/secret-name.txt.gz"), "x\n").unwrap();
            fs::write(root.join("shelf/locked/inner.txt"), "x\n").unwrap();
            fs::write(root.join("shelf/locked/inner/deep.txt"), "x\n").unwrap();
        })
        .config(|c| {
            c.site
                .auth
                .rules
                .push(rule("/shelf/secret-name.txt", "bcrypt.htpasswd"));
            c.site
                .auth
                .rules
                .push(rule("/shelf/locked/*", "sha.htpasswd"));
        })
        .start();
    let alice = basic("alice", "alice-pw");
    let carol = basic("carol", "carol-pw");
    // Both have passed their rules once, so both are remembered.
    for (path, auth) in [
        ("/shelf/secret-name.txt", &alice),
        ("/shelf/locked/inner.txt", &carol),
    ] {
        let passed = s.get_with(path, &[("Authorization", auth)]);
        assert_eq!(passed.status, 200, "{passed}");
    }
    let hidden = ["secret-name", "locked"];
    for accept in ["text/html", "application/json"] {
        // The public directory's listing is the same for everybody: whether an entry shows
        // must not tell a remembered password from a guess, which would make the listing a
        // guessing oracle with no verification and no failure delay.
        for headers in [
            vec![("Accept", accept)],
            vec![("Accept", accept), ("Authorization", alice.as_str())],
            vec![("Accept", accept), ("Authorization", carol.as_str())],
            vec![("Accept", accept), ("Authorization", "Basic !!")],
            vec![
                ("Accept", accept),
                ("Authorization", &basic("alice", "guess")),
            ],
        ] {
            let listing = s.get_with("/shelf/", &headers);
            assert_eq!(listing.status, 200, "{listing}");
            let body = listing.body_str();
            assert!(body.contains("open.txt"), "{body}");
            for name in hidden {
                assert!(
                    !body.contains(name),
                    "{name} listed for {headers:?}: {body}"
                );
            }
            assert_eq!(listing.header("Cache-Control"), Some("no-cache"));
        }
    }
    // Behind its rule, a directory lists what that rule guards, to those who passed it.
    let listing = s.get_with("/shelf/locked/", &[("Authorization", &carol)]);
    assert_eq!(listing.status, 200, "{listing}");
    let body = listing.body_str();
    assert!(
        body.contains("inner.txt") && body.contains("inner/"),
        "{body}"
    );
    assert_eq!(
        listing.header("Cache-Control"),
        Some("private, no-cache"),
        "{listing}"
    );
    assert_refused(&s.get("/shelf/locked/"), "the protected listing");
    let wrong = s.get_with("/shelf/locked/", &[("Authorization", &alice)]);
    assert_eq!(wrong.status, 401, "{wrong}");
}

#[test]
fn headers_rules_cannot_make_an_authenticated_answer_public() {
    let s = builder()
        .site(|site| {
            let rules = "/private/*\n  Cache-Control: public, max-age=600\n  X-Team: yes\n";
            fs::write(site.root().join("_headers"), rules).unwrap();
        })
        .start();
    let auth = basic("alice", "alice-pw");
    let resp = s.get_with("/private/secret.txt", &[("Authorization", &auth)]);
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(
        resp.header_all("Cache-Control"),
        ["private, max-age=600"],
        "{resp}"
    );
    assert_eq!(
        resp.header("X-Team"),
        Some("yes"),
        "the other headers stay: {resp}"
    );
}

#[test]
fn an_authenticated_answer_is_private_and_keeps_what_the_operator_told_browsers() {
    let s = builder()
        .site(|site| {
            let rules = "/private/secret.txt\n  Cache-Control: no-store\n\
                         /private/page.html\n  ! Cache-Control\n\
                         /private/sub/*\n  Cache-Control: public, s-maxage=600\n  \
                         Cache-Control: max-age=5, MUST-revalidate\n";
            fs::write(site.root().join("_headers"), rules).unwrap();
        })
        .config(|c| {
            c.site.cache_rules = vec![
                muxserve::config::CacheRule::parse("/private/big.css=no-store").unwrap(),
                muxserve::config::CacheRule::parse("*=public, max-age=60").unwrap(),
            ];
        })
        .start();
    let auth = basic("alice", "alice-pw");
    for (path, want) in [
        ("/private/secret.txt", "private, no-store"),
        ("/private/page.html", "private"),
        ("/private/sub/x.txt", "private, max-age=5, MUST-revalidate"),
        ("/private/big.css", "private, no-store"),
        ("/private/", "private, max-age=60"),
    ] {
        let resp = s.get_with(path, &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{path}: {resp}");
        assert_eq!(resp.header_all("Cache-Control"), [want], "{path}: {resp}");
        let etag = resp.header("ETag").unwrap().to_string();
        let again = s.get_with(path, &[("Authorization", &auth), ("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}: {again}");
        assert_eq!(
            again.header_all("Cache-Control"),
            [want],
            "304 {path}: {again}"
        );
    }
    // Without credentials: the 401's own no-store; public files keep their rules.
    assert_eq!(
        s.get("/private/secret.txt").header("Cache-Control"),
        Some("no-store")
    );
    assert_eq!(
        s.get("/index.html").header("Cache-Control"),
        Some("public, max-age=60")
    );
}

#[test]
fn a_flood_beyond_the_hashing_bound_gets_503_with_retry_after() {
    // One hash at a time, two workers, eight clients: verifications overlap, and the one that
    // finds the slot taken is refused at once. Remembered successes need no slot.
    let s = server(|c| c.site.auth.hashing = 1);
    let auth = basic("alice", "alice-pw");
    assert_eq!(
        s.get_with("/private/secret.txt", &[("Authorization", &auth)])
            .status,
        200
    );
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let addr = s.addr();
            std::thread::spawn(move || {
                let wrong = basic("alice", &format!("wrong-{i}"));
                (0..20)
                    .map(|_| {
                        request_to(
                            addr,
                            &request_with("GET", "/private/x", &[("Authorization", &wrong)]),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in threads {
        for resp in t.join().unwrap() {
            if resp.status == 503 {
                assert_eq!(resp.header("Retry-After"), Some("1"), "{resp}");
            } else {
                assert_refused(&resp, "flood");
            }
            statuses.push(resp.status);
        }
    }
    assert!(statuses.contains(&401), "some verified: {statuses:?}");
    assert!(statuses.contains(&503), "some over the bound: {statuses:?}");
    // The remembered success still passes, whatever the flood does.
    let resp = s.get_with("/private/secret.txt", &[("Authorization", &auth)]);
    assert_eq!(resp.status, 200, "{resp}");
}

#[test]
fn parallel_requests_with_new_credentials_wait_for_one_verification_instead_of_503() {
    // A page's assets right after a login or a restart: the same credentials, not remembered
    // yet, on several connections at once. One hashing slot, two workers: one verifies, and the
    // others wait for its result instead of being refused for want of a slot.
    let s = server(|c| c.site.auth.hashing = 1);
    // Each round with credentials no request has verified yet; the last are wrong, and all
    // get the one verification's 401, none a 503.
    for (round, (user, password)) in [
        ("alice", "alice-pw"),
        ("bob", "bob pw:with colon"),
        ("alice", "not her password"),
    ]
    .into_iter()
    .enumerate()
    {
        let right = round < 2;
        let auth = basic(user, password);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (addr, auth, barrier) = (s.addr(), auth.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = ResponseReader::new(connect_to(addr));
                    let path = if i % 2 == 0 {
                        "/private/secret.txt"
                    } else {
                        "/private/page.html"
                    };
                    barrier.wait();
                    conn.send(request_with("GET", path, &[("Authorization", &auth)]));
                    conn.read_response()
                })
            })
            .collect();
        for t in threads {
            let resp = t.join().unwrap();
            if right {
                assert_eq!(resp.status, 200, "round {round}: {resp}");
                assert!(resp.body_str().contains(MARKER), "{resp}");
            } else {
                assert_refused(&resp, "the same wrong password at once");
            }
        }
    }
}

#[test]
fn passwords_never_reach_the_access_log() {
    let site = TempSite::new();
    fs::create_dir_all(site.root().join("private")).unwrap();
    fs::write(site.root().join("private/s.txt"), MARKER).unwrap();
    let secret = "pw-IN-NO-LOG-83f1";
    for format in ["common", "combined", "json"] {
        let mut srv = Binary::serving(site.root())
            .access_log(format)
            .args([
                "--basic-auth",
                &format!("/private/*={}", htpasswd("bcrypt.htpasswd")),
            ])
            .spawn();
        let good = basic("alice", "alice-pw");
        let bad = basic("alice", secret);
        let ok = srv.request(&request_with(
            "GET",
            "/private/s.txt",
            &[("Authorization", &good)],
        ));
        assert_eq!(ok.status, 200, "{ok}");
        let no = srv.request(&request_with(
            "GET",
            "/private/s.txt",
            &[("Authorization", &bad)],
        ));
        assert_eq!(no.status, 401, "{no}");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline && srv.stdout().lines().count() < 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
        srv.signal(libc::SIGTERM);
        assert!(srv.wait_timeout(Duration::from_secs(10)).is_some());
        srv.drain_pipes();
        let out = srv.stdout();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{format}: {out}");
        for leak in [secret, "alice-pw", &good[6..], &bad[6..]] {
            assert!(!out.contains(leak), "{format} logs {leak:?}: {out}");
            assert!(!srv.stderr().contains(leak), "{format}: {}", srv.stderr());
        }
        match format {
            "json" => {
                assert!(lines[0].contains("\"user\":\"alice\""), "{out}");
                assert!(
                    lines[1].contains("\"user\":null"),
                    "a 401 has no user: {out}"
                );
            }
            _ => {
                assert!(lines[0].starts_with("127.0.0.1 - alice ["), "{out}");
                assert!(lines[1].starts_with("127.0.0.1 - - ["), "{out}");
            }
        }
    }
}

#[test]
fn weak_htpasswd_files_refuse_to_start_with_file_line_and_why() {
    let site = TempSite::new();
    for (file, why) in [
        (
            "md5.htpasswd",
            "MD5-crypt ($apr1$) is too fast to resist guessing",
        ),
        ("sha1.htpasswd", "{SHA} is unsalted SHA-1"),
        ("plain.htpasswd", "not a bcrypt, SHA-crypt or argon2id hash"),
    ] {
        let out = Binary::serving(site.root())
            .args(["--basic-auth", &format!("/*={}", htpasswd(file))])
            .run(Duration::from_secs(10));
        assert!(!out.status.success(), "{file}: {}", out.stderr);
        let expected = format!("{}:1: user \"mallory\": {why}", htpasswd(file));
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {}", out.stderr);
        assert!(lines[0].contains(&expected), "{file}: {}", out.stderr);
    }
    let out = Binary::serving(site.root())
        .args(["--basic-auth", "/*=/no/such/file"])
        .run(Duration::from_secs(10));
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("/no/such/file: cannot read the htpasswd file"),
        "{}",
        out.stderr
    );
}

#[test]
fn command_line_flags() {
    let site = TempSite::new();
    fs::create_dir_all(site.root().join("team")).unwrap();
    fs::write(site.root().join("team/a.txt"), MARKER).unwrap();
    let srv = Binary::serving(site.root())
        .args([
            "--basic-auth",
            &format!("/team/*={}", htpasswd("sha.htpasswd")),
        ])
        .args(["--auth-realm", "Team pages"])
        .spawn();
    let resp = srv.request(&get_request("/team/a.txt"));
    assert_eq!(resp.status, 401, "{resp}");
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some("Basic realm=\"Team pages\", charset=\"UTF-8\""),
        "{resp}"
    );
    let auth = basic("carol", "carol-pw");
    let resp = srv.request(&request_with(
        "GET",
        "/team/a.txt",
        &[("Authorization", &auth)],
    ));
    assert_eq!(resp.status, 200, "{resp}");
    drop(srv);
    let open = Binary::serving(site.root()).spawn();
    assert_eq!(open.request(&get_request("/team/a.txt")).status, 200);
    drop(open);
    // A pattern ending in `/` is the folder and all in it, not its index page alone.
    fs::create_dir_all(site.root().join("team/deep")).unwrap();
    fs::write(site.root().join("team/deep/b.txt"), MARKER).unwrap();
    let folder = Binary::serving(site.root())
        .args([
            "--basic-auth",
            &format!("/team/={}", htpasswd("sha.htpasswd")),
        ])
        .spawn();
    for path in ["/team/a.txt", "/team/deep/b.txt", "/team/", "/team"] {
        let resp = folder.request(&get_request(path));
        assert_eq!(resp.status, 401, "{path}: {resp}");
        assert!(!resp.body_str().contains(MARKER), "{path}: {resp}");
    }
    let resp = folder.request(&request_with(
        "GET",
        "/team/deep/b.txt",
        &[("Authorization", &auth)],
    ));
    assert_eq!(resp.status, 200, "{resp}");
}

#[test]
fn command_line_rejects_bad_rules_and_realms() {
    let site = TempSite::new();
    for args in [
        ["--basic-auth", "no-equals"],
        ["--basic-auth", "=file"],
        ["--basic-auth", "[=file"],
        ["--auth-realm", "a\"b"],
    ] {
        let out = Binary::serving(site.root())
            .args(args)
            .run(Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
    }
}

/// A browser sends no credentials with a CORS preflight and fails the request it precedes
/// unless the preflight gets a 2xx (Fetch §3.2.3, §4.8): an allowed origin's preflight to a
/// protected path gets its 204, the same for a missing path, and nothing of the file; the
/// request itself still needs the password. Other origins' preflights are plain OPTIONS: 401.
#[test]
fn an_allowed_origins_preflight_passes_and_its_request_is_still_checked() {
    use muxserve::config::{CorsOptions, CorsOrigins};
    let s = server(|c| {
        c.site.cors = Some(CorsOptions {
            origins: CorsOrigins::List(vec!["https://app.example".into()]),
            headers: vec!["Authorization".into()],
            max_age: 60,
        })
    });
    let preflight = |path: &str, origin: &str| {
        s.request(&request_with(
            "OPTIONS",
            path,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "GET"),
                ("Access-Control-Request-Headers", "authorization"),
            ],
        ))
    };
    let seen = preflight("/private/secret.txt", "https://app.example");
    let unseen = preflight("/private/nothing-here.txt", "https://app.example");
    for resp in [&seen, &unseen] {
        assert_eq!(resp.status, 204, "{resp}");
        assert_eq!(
            resp.header("Access-Control-Allow-Origin"),
            Some("https://app.example"),
            "{resp}"
        );
        assert_eq!(
            resp.header("Access-Control-Allow-Headers"),
            Some("Authorization"),
            "{resp}"
        );
        assert!(resp.body.is_empty(), "{resp}");
        for leak in ["ETag", "Last-Modified"] {
            assert_eq!(resp.header(leak), None, "{leak}: {resp}");
        }
    }
    let but_date = |r: &Response| {
        let mut h = r.headers.clone();
        h.retain(|(n, _)| !n.eq_ignore_ascii_case("date"));
        h
    };
    assert_eq!(
        but_date(&seen),
        but_date(&unseen),
        "an existing and a missing protected path get the same preflight answer"
    );
    assert_refused(
        &preflight("/private/secret.txt", "https://evil.example"),
        "another origin's preflight",
    );
    let get = |headers: &[(&str, &str)]| s.get_with("/private/secret.txt", headers);
    assert_refused(
        &get(&[("Origin", "https://app.example")]),
        "the request after it",
    );
    let auth = basic("alice", "alice-pw");
    let read = get(&[("Origin", "https://app.example"), ("Authorization", &auth)]);
    assert_eq!(read.status, 200, "{read}");
    assert_eq!(
        read.header("Access-Control-Allow-Origin"),
        Some("https://app.example"),
        "{read}"
    );
}

/// `--auth-failure-delay`: the answer to a wrong password is held back on its connection (and
/// what was pipelined behind it waits with it, in order), while other connections are served
/// and a request without credentials gets its 401 at once.
#[test]
fn a_wrong_passwords_answer_is_held_back_and_nobody_else_waits() {
    use std::io::{Read, Write};
    let delay = Duration::from_millis(1500);
    let s = server(|c| c.site.auth.failure_delay = delay);
    let wrong = basic("alice", "not-it");
    let mut held = s.connect();
    let started = std::time::Instant::now();
    let pipelined = format!(
        "GET /private/secret.txt HTTP/1.1\r\nHost: t\r\nAuthorization: {wrong}\r\n\r\n\
         GET /image.png HTTP/1.1\r\nHost: t\r\n\r\n"
    );
    held.write_all(pipelined.as_bytes()).unwrap();
    // Meanwhile: no credentials is a 401 at once, and a public file is served.
    let asked = std::time::Instant::now();
    assert_refused(&s.get("/private/secret.txt"), "no credentials");
    assert_eq!(s.get("/image.png").status, 200);
    assert!(
        asked.elapsed() < delay,
        "others waited {:?} for the held connection",
        asked.elapsed()
    );
    held.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        matches!(held.read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the refusal was sent before its delay"
    );
    held.set_nonblocking(false).unwrap();
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = ResponseReader::new(held);
    let refused = reader.read_response();
    assert!(
        started.elapsed() >= delay,
        "answered after {:?}",
        started.elapsed()
    );
    assert_refused(&refused, "wrong password");
    let after = reader.read_response();
    assert_eq!(
        after.status, 200,
        "the request pipelined behind it: {after}"
    );
    // The right password is never held.
    let right = basic("alice", "alice-pw");
    let quick = std::time::Instant::now();
    let ok = s.get_with("/private/secret.txt", &[("Authorization", &right)]);
    assert_eq!(ok.status, 200, "{ok}");
    assert!(quick.elapsed() < delay, "took {:?}", quick.elapsed());
}

/// A new connection that has sent a request for the protected file with a wrong password.
fn send_a_wrong_password(s: &TestServer) -> std::net::TcpStream {
    use std::io::Write;
    let mut held = s.connect();
    let wrong = basic("alice", "not-it");
    let raw =
        format!("GET /private/secret.txt HTTP/1.1\r\nHost: t\r\nAuthorization: {wrong}\r\n\r\n");
    held.write_all(raw.as_bytes()).unwrap();
    held
}

/// A shutdown does not wait out a hold: the held answer goes out as the drain begins.
#[test]
fn a_held_answer_goes_out_when_the_server_drains() {
    let mut s = server(|c| c.site.auth.failure_delay = Duration::from_secs(30));
    let held = send_a_wrong_password(&s);
    // Let the worker queue and hold it.
    std::thread::sleep(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let running = s.take_running();
    let stopper = std::thread::spawn(move || shutdown_and_join(running, Duration::from_secs(20)));
    held.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let resp = ResponseReader::new(held).read_response();
    assert_refused(&resp, "held at shutdown");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    stopper.join().unwrap().unwrap();
}

/// A request that arrives while an answer is held is read when the hold ends: its bytes came
/// while nothing was driving the connection, and no later event announces them.
#[test]
fn a_request_sent_during_a_hold_is_answered_after_it() {
    use std::io::Write;
    let delay = Duration::from_millis(600);
    let s = server(|c| c.site.auth.failure_delay = delay);
    let mut held = send_a_wrong_password(&s);
    std::thread::sleep(Duration::from_millis(200));
    held.write_all(get_request("/image.png").as_bytes())
        .unwrap();
    held.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut reader = ResponseReader::new(held);
    assert_refused(&reader.read_response(), "wrong password");
    let after = reader.read_response();
    assert_eq!(
        after.status, 200,
        "the request sent during the hold: {after}"
    );
    assert_eq!(after.body, fixture("image.png"));
}
