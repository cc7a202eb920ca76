//! `_redirects` and `_headers` from the root, through a real socket: every rule form, the
//! Netlify examples we claim, shadowing and `!`, rewrite safety (escapes, dotfiles, the rules
//! files, loops), header merge and removal, 304s, overriding `--header` and Cache-Control, and
//! `--site-rules false`. The parsers' and matcher's own tables are unit tests in
//! src/site/rules/.

use std::fs;

use crate::support::*;

const REDIRECTS: &str = "\
# Netlify's examples
/home              /
/blog/my-post.php  /blog/my-post      302
/google            https://www.google.com
/news/:year/:month/:date/:slug  /blog/:year/:month/:date/:slug
/news/*            /blog/:splat
/store id=:id      /blog/:id          301
/pass-through      /index.html        200
/ecommerce         /store-closed      404
/see               /other             303
/temp              /elsewhere         307
/perm              /elsewhere         308
# shadowing: style.css exists, so only the forced rule applies to it
/style.css         /shadowed          302
/index.html        /forced            302!
# rewrites that must stay inside what a request could reach
/secret            /../outside/secret 200
/dot               /.hidden           200
/rules             /_redirects        200
/dir-rewrite       /dir               200
/loop-a            /loop-b            200
/loop-b            /loop-a            200
/app/*             /dir/index.html    200
/spa/*             /index.html        200!
";

const HEADERS: &str = "\
/*
  X-Site: all
  X-Robots-Tag: nosnippet
/dir/*
  X-Robots-Tag: noindex
  Cache-Control: public, max-age=60
  ! X-Site
/style.css
  X-Content-Type-Options: custom
  X-Frame-Options: DENY
  Content-Type: text/x-special
/dir/index.html
  X-Site: back
";

fn server(configure: impl FnOnce(&mut muxserve::Config)) -> TestServer {
    TestServer::build()
        .site(|site| {
            fs::write(site.root().join("_redirects"), REDIRECTS).unwrap();
            fs::write(site.root().join("_headers"), HEADERS).unwrap();
            fs::write(site.root().join("store-closed.html"), "closed\n").unwrap();
        })
        .config(configure)
        .start()
}

#[test]
fn redirect_rules_answer_with_their_status_and_location() {
    let s = server(|_| {});
    for (path, status, location) in [
        ("/home", 301, "/"),
        ("/home/", 301, "/"),
        ("/home?utm=1", 301, "/?utm=1"),
        ("/blog/my-post.php", 302, "/blog/my-post"),
        ("/google", 301, "https://www.google.com"),
        (
            "/news/2004/02/12/my-story",
            301,
            "/blog/2004/02/12/my-story",
        ),
        ("/news/a/b%20c", 301, "/blog/a/b%20c"),
        ("/store?id=my-blog-post", 301, "/blog/my-blog-post"),
        ("/see", 303, "/other"),
        ("/temp", 307, "/elsewhere"),
        ("/perm?x=1", 308, "/elsewhere?x=1"),
        ("/index.html", 302, "/forced"),
    ] {
        let resp = s.get(path);
        assert_eq!(resp.status, status, "{path}: {resp}");
        assert_eq!(resp.header("Location"), Some(location), "{path}");
        // Redirects carry no `_headers` (they are for content).
        assert_eq!(resp.header("X-Site"), None, "{path}");
    }
}

#[test]
fn rewrites_serve_the_target_under_the_url_asked_for() {
    let s = server(|_| {});
    let resp = s.get("/pass-through");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("index.html"));
    assert!(resp.header("ETag").is_some());
    assert_eq!(resp.header("Location"), None);
    // A splat rewrite, and one forced over every path.
    assert_eq!(s.get("/app/any/route").body, fixture("dir/index.html"));
    assert_eq!(s.get("/spa/x/y").body, fixture("index.html"));
    // A rewrite to a directory serves its index, without a redirect to the slashed URL.
    let resp = s.get("/dir-rewrite");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("dir/index.html"));
    // A rewrite's target keeps its own validators and ranges.
    let etag = s.get("/pass-through").header("ETag").unwrap().to_string();
    let resp = s.get_with("/pass-through", &[("If-None-Match", &etag)]);
    assert_eq!(resp.status, 304, "{resp}");
    let resp = s.get_with("/pass-through", &[("Range", "bytes=0-3")]);
    assert_eq!(resp.status, 206, "{resp}");
}

#[test]
fn a_404_rule_serves_its_page_with_404() {
    let s = server(|_| {});
    let resp = s.get("/ecommerce");
    assert_eq!(resp.status, 404, "{resp}");
    assert_eq!(resp.body, b"closed\n");
    assert_eq!(resp.header("Cache-Control"), Some("no-store"));
    assert_eq!(resp.header("ETag"), None);
    // Conditions and ranges do not apply to an error page.
    let resp = s.get_with("/ecommerce", &[("Range", "bytes=0-1")]);
    assert_eq!((resp.status, resp.body.len()), (404, 7), "{resp}");
}

#[test]
fn a_file_at_from_shadows_a_rule_unless_it_is_forced() {
    let s = server(|_| {});
    let resp = s.get("/style.css");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
    // Forced: the file exists, the rule wins anyway.
    assert_eq!(s.get("/index.html").status, 302);
    // `/` is index.html too, but the rule is for /index.html only.
    assert_eq!(s.get("/").status, 200);
}

#[test]
fn rewrites_reach_nothing_a_request_could_not() {
    let s = server(|_| {});
    for path in ["/secret", "/dot", "/rules"] {
        let resp = s.get(path);
        assert!(resp.status == 404 || resp.status == 403, "{path}: {resp}");
        assert!(!contains(&resp.body, OUTSIDE_MARKER.as_bytes()), "{path}");
        assert!(!contains(&resp.body, b"/home"), "{path} leaked _redirects");
    }
    // Rewrites are one step: a loop ends at a 404, at once.
    let resp = s.get("/loop-a");
    assert_eq!(resp.status, 404, "{resp}");
}

#[test]
fn the_rules_files_are_never_served() {
    let s = server(|_| {});
    for path in ["/_redirects", "/_headers", "/_redirects/", "/%5Fheaders"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "{path}: {resp}");
        assert!(!contains(&resp.body, b"X-Robots-Tag"), "{path}");
    }
}

#[test]
fn header_blocks_merge_in_file_order() {
    let s = server(|c| {
        c.site.headers = vec![("X-Frame-Options".into(), "SAMEORIGIN".into())];
    });
    let resp = s.get("/index.html?no-redirect");
    // The forced rule redirects /index.html; ask for / instead.
    assert_eq!(resp.status, 302);
    let resp = s.get("/");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("X-Site"), Some("all"));
    assert_eq!(resp.header("X-Robots-Tag"), Some("nosnippet"));
    assert_eq!(resp.header("X-Frame-Options"), Some("SAMEORIGIN"));
    assert_eq!(resp.header("Cache-Control"), Some("no-cache"));

    // Two blocks set X-Robots-Tag: one line, values joined; `! X-Site` removes the first
    // block's; a later block sets it again; the rule's Cache-Control replaces the server's.
    let resp = s.get("/dir/");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header_all("X-Robots-Tag"), ["nosnippet, noindex"]);
    assert_eq!(resp.header_all("Cache-Control"), ["public, max-age=60"]);
    assert_eq!(resp.header("X-Site"), None, "{resp}");
    let resp = s.get("/dir/index.html");
    assert_eq!(resp.header_all("X-Site"), ["back"], "{resp}");

    // A block replaces `--header`, nosniff and the Content-Type of the same names.
    let resp = s.get("/style.css");
    assert_eq!(resp.header_all("X-Frame-Options"), ["DENY"], "{resp}");
    assert_eq!(resp.header_all("X-Content-Type-Options"), ["custom"]);
    assert_eq!(resp.header_all("Content-Type"), ["text/x-special"]);
}

#[test]
fn headers_go_on_200_206_and_304_only() {
    let s = server(|_| {});
    let resp = s.get("/style.css");
    let etag = resp.header("ETag").unwrap().to_string();
    let resp = s.get_with("/style.css", &[("If-None-Match", &etag)]);
    assert_eq!(resp.status, 304, "{resp}");
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(
        resp.header("Content-Type"),
        None,
        "a 304 has no content metadata"
    );
    let resp = s.get_with("/style.css", &[("Range", "bytes=0-1")]);
    assert_eq!(resp.status, 206, "{resp}");
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    let resp = s.head_with("/style.css", &[]);
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"));
    // Errors and redirects do not get them.
    let resp = s.get("/missing");
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("X-Site"), None, "{resp}");
    let resp = s.get("/dir");
    assert_eq!(resp.status, 301);
    assert_eq!(resp.header("X-Site"), None, "{resp}");
}

#[test]
fn site_rules_false_ignores_both_files() {
    let s = server(|c| c.site.site_rules = false);
    assert_eq!(s.get("/home").status, 404);
    // Not read, and still not served.
    assert_eq!(s.get("/_redirects").status, 404);
    assert_eq!(s.get("/_headers").status, 404);
    assert_eq!(s.get("/index.html").status, 200);
    assert_eq!(s.get("/").header("X-Site"), None);
}

#[test]
fn config_rules_follow_the_files() {
    let s = server(|c| {
        c.site.redirects = vec![muxserve::config::RedirectSpec {
            from: "/home".into(),
            query: Vec::new(),
            to: "/from-config".into(),
            status: 302,
            force: false,
            origin: "test.toml:1".into(),
        }];
        c.site.header_rules = vec![muxserve::config::HeaderSpec {
            pattern: "/*".into(),
            set: vec![("X-Config".into(), "yes".into())],
            remove: vec!["X-Site".into()],
            origin: "test.toml:5".into(),
        }];
    });
    // `_redirects` comes first.
    assert_eq!(s.get("/home").header("Location"), Some("/"));
    let resp = s.get("/");
    assert_eq!(resp.header("X-Config"), Some("yes"), "{resp}");
    assert_eq!(resp.header("X-Site"), None, "{resp}");
}

#[test]
fn a_bad_rules_line_stops_the_binary_naming_file_and_line() {
    let site = TempSite::new();
    fs::write(site.root().join("_redirects"), "/ok /fine\n/bad /x 299\n").unwrap();
    let out = Binary::serving(site.root())
        .listen("127.0.0.1:0")
        .run(std::time::Duration::from_secs(10));
    assert!(!out.status.success());
    let stderr = &out.stderr;
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("_redirects:2: status 299"), "{stderr}");
    fs::write(site.root().join("_redirects"), "").unwrap();
    fs::write(site.root().join("_headers"), "/a\n  X-Bad: a\u{1}b\n").unwrap();
    let out = Binary::serving(site.root())
        .listen("127.0.0.1:0")
        .run(std::time::Duration::from_secs(10));
    assert!(!out.status.success());
    let stderr = &out.stderr;
    assert!(stderr.contains("_headers:2: X-Bad"), "{stderr}");
}

#[test]
fn listings_leave_the_rules_files_out() {
    let s = server(|c| c.site.dir_listing = true);
    fs::remove_file(s.root().join("index.html")).unwrap();
    // The SPA rule (/spa/*) is forced only under /spa/; / has no index now.
    let resp = s.get("/");
    assert_eq!(resp.status, 200, "{resp}");
    let page = resp.body_str();
    assert!(page.contains("style.css"), "{page}");
    assert!(
        !page.contains("_redirects") && !page.contains("_headers"),
        "{page}"
    );
    let resp = s.get_with("/", &[("Accept", "application/json")]);
    let page = resp.body_str();
    assert!(page.contains("style.css"), "{page}");
    assert!(
        !page.contains("_redirects") && !page.contains("_headers"),
        "{page}"
    );
}

/// A server whose root has exactly these rules files.
fn with_rules(redirects: &str, headers: &str) -> TestServer {
    let (redirects, headers) = (redirects.to_string(), headers.to_string());
    TestServer::build()
        .site(move |site| {
            fs::write(site.root().join("_redirects"), redirects).unwrap();
            fs::write(site.root().join("_headers"), headers).unwrap();
        })
        .start()
}

#[test]
fn the_first_rule_that_applies_wins_forced_or_not() {
    let s = with_rules(
        "/a /first 302\n/a /second 302!\n\
         /style.css /shadowed 302\n/style.css /forced-later 302!\n\
         /* /index.html 200\n/b /bee 302!\n",
        "",
    );
    // No file at /a: the unforced rule applies, and it comes first.
    assert_eq!(s.get("/a").header("Location"), Some("/first"));
    // A file at /style.css shadows the first rule; the later forced one still applies.
    assert_eq!(
        s.get("/style.css").header("Location"),
        Some("/forced-later")
    );
    // The catch-all comes before /b's forced rule: /b is rewritten to index.html.
    let resp = s.get("/b");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("index.html"));
    // A file the catch-all shadows is served.
    assert_eq!(s.get("/dir/").body, fixture("dir/index.html"));
}

#[test]
fn a_redirect_to_the_url_asked_for_does_not_apply() {
    // Cloudflare's documented example; trailing-slash-blind matching would loop on it.
    let s = with_rules("/trailing /trailing/ 301\n/x/ /x 301\n", "");
    let resp = s.get("/trailing");
    assert_eq!(resp.header("Location"), Some("/trailing/"), "{resp}");
    let resp = s.get("/trailing/");
    assert_eq!(resp.status, 404, "{resp}");
    assert_eq!(s.get("/x/").header("Location"), Some("/x"));
    assert_eq!(s.get("/x").status, 404);
}

#[test]
fn targets_and_values_take_placeholders_as_cloudflare_writes_them() {
    let s = with_rules(
        "/s /wiki/Special:Search 301\n/posts/:slug.html /blog/:slug 301\n",
        "/movies/:title\n  X-Movie: You are watching \":title\"\n\
         /style.css\n  Vary: Origin\n",
    );
    assert_eq!(s.get("/s").header("Location"), Some("/wiki/Special:Search"));
    assert_eq!(
        s.get("/posts/hello.html").header("Location"),
        Some("/blog/hello")
    );
    // Values are filled in on the content they go on (200, 206, 304).
    fs::create_dir_all(s.root().join("movies")).unwrap();
    fs::write(s.root().join("movies/star"), "x").unwrap();
    let resp = s.get("/movies/star");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(
        resp.header("X-Movie"),
        Some("You are watching \"star\""),
        "{resp}"
    );
    // A block's Vary goes beside the server's, never instead of it.
    let resp = s.get_with("/style.css", &[("Accept-Encoding", "gzip")]);
    let vary = resp.header_all("Vary").join(", ");
    assert!(
        vary.contains("Accept-Encoding") && vary.contains("Origin"),
        "{resp}"
    );
}

#[test]
fn a_value_captured_from_the_path_cannot_add_query_parameters() {
    // Cloudflare's documented example. A path's `%26` decodes to `&`: written back raw into the
    // target's query it would split one value into two parameters.
    let s = with_rules(
        "/products/:code/:name /products?code=:code&name=:name 301\n\
         /go/* /to?path=:splat 302\n\
         /store id=:id /items/:id 301\n",
        "",
    );
    let resp = s.get("/products/a%26b/c%3Dd+e");
    assert_eq!(
        resp.header("Location"),
        Some("/products?code=a%26b&name=c%3Dd%2Be"),
        "{resp}"
    );
    // A splat keeps its slashes in a query as in a path; `#` cannot start a fragment.
    let resp = s.get("/go/x/y%23z");
    assert_eq!(resp.header("Location"), Some("/to?path=x/y%23z"), "{resp}");
    // A query value moved into the path cannot add a segment or start a query.
    let resp = s.get("/store?id=a/b?c");
    assert_eq!(resp.header("Location"), Some("/items/a%2Fb%3Fc"), "{resp}");
}

#[test]
fn a_clean_url_shadows_a_rule_with_or_without_its_slash() {
    let s = with_rules("/post /elsewhere 302\n/posts/* /blog/:splat 301\n", "");
    fs::write(s.root().join("post.html"), "POST\n").unwrap();
    fs::create_dir_all(s.root().join("posts")).unwrap();
    fs::write(s.root().join("posts/hello.html"), "HELLO\n").unwrap();
    // The page answers at its clean URL, so the unforced rules do not apply to it...
    assert_eq!(s.get("/post").body, b"POST\n");
    assert_eq!(s.get("/posts/hello").body, b"HELLO\n");
    // ...nor with a trailing slash, which matching ignores: the slash redirect to the page.
    for (path, location) in [("/post/", "/post"), ("/posts/hello/", "/posts/hello")] {
        let resp = s.get(path);
        assert_eq!(resp.status, 301, "{path}: {resp}");
        assert_eq!(resp.header("Location"), Some(location), "{path}");
    }
    // Where no page answers, the rule still does.
    assert_eq!(s.get("/posts/gone/").header("Location"), Some("/blog/gone"));
}

#[test]
fn header_blocks_may_name_hosts_with_placeholders_as_cloudflare_documents() {
    // Cloudflare Pages' documented example: keep preview deployments out of search engines.
    let s = with_rules(
        "",
        "https://:project.pages.dev/*\n  X-Robots-Tag: noindex\n\
         https://staging.:project.pages.dev/*\n  X-Stage: staging\n",
    );
    let on = |host: &str| {
        s.request(&format!(
            "GET /style.css HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ))
    };
    let resp = on("site.pages.dev");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("X-Robots-Tag"), Some("noindex"), "{resp}");
    assert_eq!(resp.header("X-Stage"), None, "{resp}");
    let resp = on("staging.site.pages.dev:8443");
    assert_eq!(resp.header("X-Stage"), Some("staging"), "{resp}");
    assert_eq!(resp.header("X-Robots-Tag"), None, "{resp}");
    for host in ["example.com", "pages.dev", "site.pages.dev.example"] {
        let resp = on(host);
        assert_eq!(resp.header("X-Robots-Tag"), None, "{host}: {resp}");
    }
}

#[test]
fn a_byte_order_mark_before_the_rules_is_ignored() {
    let s = with_rules(
        "\u{feff}/old /new 302\n",
        "\u{feff}/style.css\n  X-Bom: read\n",
    );
    assert_eq!(s.get("/old").header("Location"), Some("/new"));
    assert_eq!(s.get("/style.css").header("X-Bom"), Some("read"));
}
