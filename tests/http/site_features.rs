//! Site options: index file names, the single-page-app fallback, directory
//! listings (escaped), and following symlinks out of the root. Hidden files
//! and `/.well-known/` are in traversal.rs.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::*;

const HTML: &str = "text/html; charset=utf-8";
const INDEX_HTM: &[u8] = b"<!doctype html><title>index.htm</title>INDEX-HTM-MARKER\n";

fn assert_html_body(resp: &Response, expected: &[u8], what: &str) {
    assert_eq!(resp.status, 200, "{what}: {resp}");
    resp.assert_common_headers();
    assert_eq!(resp.body, expected, "{what}: body");
    assert_eq!(resp.header("Content-Type"), Some(HTML), "{what}");
}

// ---------------------------------------------------------------------------
// index
// ---------------------------------------------------------------------------

#[test]
fn index_names_are_tried_in_order() {
    let prepare = |site: &TempSite| fs::write(site.root().join("index.htm"), INDEX_HTM).unwrap();
    let s = TestServer::build()
        .site(prepare)
        .config(|c| {
            c.site.index = vec!["index.htm".to_string(), "index.html".to_string()];
        })
        .start();
    assert_html_body(&s.get("/"), INDEX_HTM, "GET / with index.htm first");
    // dir/ only has index.html: the second name is used
    assert_html_body(&s.get("/dir/"), &fixture("dir/index.html"), "GET /dir/");
    // no name matches
    assert_eq!(s.get("/noindex/").status, 403);

    // the default list is just index.html, even when index.htm exists
    let s = TestServer::build().site(prepare).start();
    assert_html_body(&s.get("/"), &fixture("index.html"), "GET / default index");

    // the other order
    let s = TestServer::build()
        .site(prepare)
        .config(|c| {
            c.site.index = vec!["index.html".to_string(), "index.htm".to_string()];
        })
        .start();
    assert_html_body(
        &s.get("/"),
        &fixture("index.html"),
        "GET / index.html first",
    );
}

// ---------------------------------------------------------------------------
// fallback
// ---------------------------------------------------------------------------

#[test]
fn fallback_serves_the_app_shell_for_extensionless_paths() {
    let s = TestServer::build()
        .config(|c| c.site.fallback = Some("index.html".to_string()))
        .start();
    let index = fixture("index.html");
    for path in [
        "/some/app/route",
        "/route",
        "/users/42?tab=2",
        "/some/app/route/",
    ] {
        assert_html_body(&s.get(path), &index, &format!("GET {path} with fallback"));
    }
    // HEAD alike
    let head = s.head_with("/some/app/route", &[]);
    assert_eq!(head.status, 200, "{head}");
    assert_eq!(head.content_length(), Some(index.len() as u64));

    // real files and directories are unaffected
    assert_eq!(s.get("/style.css").body, fixture("style.css"));
    assert_eq!(s.get("/dir/").body, fixture("dir/index.html"));

    // a missing path with an extension is still a 404
    for path in ["/missing.js", "/assets/missing.css", "/img/x.png"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path} with fallback: {resp}");
        assert_eq!(resp.body, fixture("404.html"), "{path}");
    }
    // other methods are still refused
    let resp = s.method_with("POST", "/some/route", &[("Content-Length", "0")]);
    assert_eq!(resp.status, 405, "POST /some/route with fallback: {resp}");
    // dotfiles are still hidden
    for path in ["/.hidden", "/dir/.secret"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path} with fallback: {resp}");
        assert!(!contains(&resp.body, HIDDEN_MARKER.as_bytes()));
        assert!(!contains(&resp.body, DIR_SECRET_MARKER.as_bytes()));
    }
}

#[test]
fn without_fallback_unknown_routes_are_404() {
    let s = TestServer::start();
    let resp = s.get("/some/app/route");
    assert_eq!(resp.status, 404, "{resp}");
}

// ---------------------------------------------------------------------------
// directory listings
// ---------------------------------------------------------------------------

fn has_href(body: &str, target: &str) -> bool {
    body.contains(&format!("href=\"{target}\"")) || body.contains(&format!("href='{target}'"))
}

fn listing_site(site: &TempSite) {
    let dir = site.root().join("noindex");
    fs::write(dir.join("a&b<c>.txt"), b"tricky\n").unwrap();
    fs::write(dir.join("space name.txt"), b"spaced\n").unwrap();
    fs::write(dir.join(".dotfile"), b"DOTFILE-IN-LISTING\n").unwrap();
    fs::create_dir(site.root().join("x<y>")).unwrap();
    fs::write(site.root().join("x<y>").join("inner.txt"), b"inner\n").unwrap();
}

#[test]
fn dir_listing_lists_and_escapes() {
    let s = TestServer::build()
        .site(listing_site)
        .config(|c| c.site.dir_listing = true)
        .start();
    let resp = s.get("/noindex/");
    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_common_headers();
    assert_eq!(resp.header("Content-Type"), Some(HTML));
    let body = resp.body_str();
    assert!(body.contains("a.txt"), "a.txt not listed:\n{body}");
    assert!(has_href(&body, "a.txt"), "no href=\"a.txt\":\n{body}");
    assert!(
        body.contains("a&amp;b&lt;c&gt;.txt"),
        "the name a&b<c>.txt must appear HTML-escaped:\n{body}"
    );
    assert!(!body.contains("<c>"), "raw <c> in the listing:\n{body}");
    assert!(!body.contains("a&b"), "raw & in the listing:\n{body}");
    assert!(
        has_href(&body, "space%20name.txt"),
        "space name.txt must have href=\"space%20name.txt\":\n{body}"
    );
    assert!(
        !body.contains(".dotfile"),
        "dotfiles must not be listed without hidden_files:\n{body}"
    );
    // the links work
    assert_eq!(s.get("/noindex/space%20name.txt").body, b"spaced\n");
    assert_eq!(s.get("/noindex/a.txt").body, fixture("noindex/a.txt"));

    // a directory whose own name needs escaping
    let resp = s.get("/x%3Cy%3E/");
    assert_eq!(resp.status, 200, "{resp}");
    let body = resp.body_str();
    assert!(body.contains("inner.txt"), "{body}");
    assert!(!body.contains("<y>"), "raw <y> in the listing:\n{body}");

    // an empty directory lists fine; a directory with an index still serves it
    assert_eq!(s.get("/empty-dir/").status, 200);
    assert_eq!(s.get("/dir/").body, fixture("dir/index.html"));
    // HEAD agrees with GET
    let head = s.head_with("/noindex/", &[]);
    let get = s.get("/noindex/");
    assert_eq!(head.status, 200, "{head}");
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
}

#[test]
fn dir_listing_shows_dotfiles_only_with_hidden_files() {
    let s = TestServer::build()
        .site(listing_site)
        .config(|c| {
            c.site.dir_listing = true;
            c.site.hidden_files = true;
        })
        .start();
    let resp = s.get("/noindex/");
    assert_eq!(resp.status, 200, "{resp}");
    let body = resp.body_str();
    assert!(has_href(&body, ".dotfile"), "{body}");
}

#[test]
fn dir_listing_off_by_default_is_403() {
    let s = TestServer::build().site(listing_site).start();
    for path in ["/noindex/", "/x%3Cy%3E/"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 403, "GET {path}: {resp}");
        assert!(!contains(&resp.body, b"a.txt"), "{resp}");
        assert!(!contains(&resp.body, b"inner.txt"), "{resp}");
    }
}

// ---------------------------------------------------------------------------
// symlinks
// ---------------------------------------------------------------------------

fn links(site: &TempSite) {
    symlink("style.css", site.root().join("inside.css")).unwrap();
    symlink(
        site.outside().join("secret"),
        site.root().join("outside-abs"),
    )
    .unwrap();
    symlink("../outside/secret", site.root().join("outside-rel")).unwrap();
}

#[test]
fn symlinks_out_of_the_root_refused_by_default() {
    let s = TestServer::build().site(links).start();
    let resp = s.get("/inside.css");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
    for path in ["/outside-abs", "/outside-rel"] {
        let resp = s.get(path);
        assert!(
            matches!(resp.status, 403 | 404),
            "GET {path} (follow_symlinks = false): {resp}"
        );
        assert!(!contains(&resp.body, OUTSIDE_MARKER.as_bytes()), "{path}");
    }
}

#[test]
fn follow_symlinks_serves_targets_outside_the_root() {
    let s = TestServer::build()
        .site(links)
        .config(|c| c.site.follow_symlinks = true)
        .start();
    let secret = fs::read(s.outside().join("secret")).unwrap();
    for path in ["/outside-abs", "/outside-rel"] {
        let resp = s.get(path);
        assert_eq!(
            resp.status, 200,
            "GET {path} (follow_symlinks = true): {resp}"
        );
        assert_eq!(resp.body, secret, "{path}");
    }
    let resp = s.get("/inside.css");
    assert_eq!(resp.body, fixture("style.css"));
    // `..` in the URL still cannot leave the root
    for raw in [
        "GET /../outside/secret HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "GET /%2e%2e/outside/secret HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    ] {
        let bytes = s.raw(raw.as_bytes());
        assert!(
            !contains(&bytes, OUTSIDE_MARKER.as_bytes()),
            "{raw:?} escaped the root with follow_symlinks"
        );
    }
}

#[test]
fn command_line_flags() {
    let site = TempSite::new();
    fs::write(site.root().join("index.htm"), INDEX_HTM).unwrap();
    let well = site.root().join(".well-known");
    fs::create_dir(&well).unwrap();
    fs::write(well.join("x.txt"), b"WELL-KNOWN-X\n").unwrap();
    let srv = Binary::serving(site.root())
        .args([
            "--index",
            "index.htm,index.html",
            "--fallback",
            "index.html",
            "--dir-listing",
            "--hidden-files",
        ])
        .spawn();
    let get = |p: &str| srv.request(&get_request(p));
    assert_eq!(get("/").body, INDEX_HTM, "--index order");
    assert_eq!(get("/dir/").body, fixture("dir/index.html"));
    assert_eq!(
        get("/some/app/route").body,
        fixture("index.html"),
        "--fallback"
    );
    assert_eq!(get("/missing.js").status, 404);
    let listing = get("/noindex/");
    assert_eq!(listing.status, 200, "--dir-listing: {listing}");
    assert!(has_href(&listing.body_str(), "a.txt"), "{listing}");
    assert_eq!(get("/.hidden").status, 200, "--hidden-files");
    drop(srv);

    let srv = Binary::serving(site.root()).spawn();
    let get = |p: &str| srv.request(&get_request(p));
    assert_eq!(get("/").body, fixture("index.html"), "default --index");
    assert_eq!(get("/some/app/route").status, 404);
    assert_eq!(get("/noindex/").status, 403);
    assert_eq!(get("/.hidden").status, 404);
    assert_eq!(get("/.well-known/x.txt").status, 200);
}

#[test]
fn command_line_follow_symlinks() {
    let site = TempSite::new();
    symlink(
        site.outside().join("secret"),
        site.root().join("outside-abs"),
    )
    .unwrap();
    let srv = Binary::serving(site.root())
        .args(["--follow-symlinks"])
        .spawn();
    let resp = srv.request(&get_request("/outside-abs"));
    assert_eq!(resp.status, 200, "--follow-symlinks: {resp}");
    assert!(contains(&resp.body, OUTSIDE_MARKER.as_bytes()));
    drop(srv);
    let srv = Binary::serving(site.root()).spawn();
    let resp = srv.request(&get_request("/outside-abs"));
    assert!(matches!(resp.status, 403 | 404), "{resp}");
    assert!(!contains(&resp.body, OUTSIDE_MARKER.as_bytes()));
}

/// The targets of the `href`s in an HTML listing, HTML-unescaped.
fn hrefs(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("href=") {
        rest = &rest[i + 5..];
        let quote = rest.chars().next().expect("href= at the end");
        assert!(quote == '"' || quote == '\'', "unquoted href: {rest:.40}");
        let end = rest[1..].find(quote).expect("unterminated href") + 1;
        let raw = &rest[1..end];
        out.push(
            raw.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&#x27;", "'")
                .replace("&amp;", "&"),
        );
        rest = &rest[end + 1..];
    }
    out
}

#[test]
fn every_listed_link_resolves_to_its_file() {
    let s = TestServer::build()
        .site(|site| {
            listing_site(site);
            let dir = site.root().join("noindex");
            fs::write(dir.join("quote\"s'.txt"), b"QUOTES\n").unwrap();
            fs::write(dir.join("100%.txt"), b"PERCENT\n").unwrap();
            fs::write(dir.join("q?x#y.txt"), b"QUERYHASH\n").unwrap();
            fs::write(dir.join("caf\u{e9}.txt"), b"CAFE\n").unwrap();
            fs::create_dir(dir.join("sub dir")).unwrap();
        })
        .config(|c| c.site.dir_listing = true)
        .start();
    let listing = s.get("/noindex/");
    assert_eq!(listing.status, 200, "{listing}");
    let body = listing.body_str();
    let links = hrefs(&body);
    let a_txt = fixture("noindex/a.txt");
    let expect: &[(&str, &[u8])] = &[
        ("a.txt", &a_txt),
        ("a&b<c>.txt", b"tricky\n"),
        ("space name.txt", b"spaced\n"),
        ("quote\"s'.txt", b"QUOTES\n"),
        ("100%.txt", b"PERCENT\n"),
        ("q?x#y.txt", b"QUERYHASH\n"),
        ("caf\u{e9}.txt", b"CAFE\n"),
    ];
    // Follow every link that stays in this directory.
    let mut bodies = Vec::new();
    for href in &links {
        if href.starts_with("..") || (href.starts_with('/') && !href.starts_with("/noindex/")) {
            continue;
        }
        assert!(
            !href.contains([' ', '#', '?', '"']),
            "href {href:?} must be percent-encoded"
        );
        let target = if href.starts_with('/') {
            href.clone()
        } else {
            format!("/noindex/{href}")
        };
        let resp = s.get(&target);
        assert_eq!(
            resp.status, 200,
            "following {href:?} from the listing: {resp}"
        );
        bodies.push(resp.body);
    }
    for (name, bytes) in expect {
        assert!(
            bodies.iter().any(|b| b == bytes),
            "no link in the listing leads to {name:?}; links: {links:?}"
        );
    }
    assert!(!body.contains("DOTFILE-IN-LISTING"));
}

#[test]
fn symlink_loops_get_an_answer() {
    for follow in [false, true] {
        let s = TestServer::build()
            .site(|site| {
                symlink("loop-a", site.root().join("loop-b")).unwrap();
                symlink("loop-b", site.root().join("loop-a")).unwrap();
                symlink("self", site.root().join("self")).unwrap();
            })
            .config(|c| c.site.follow_symlinks = follow)
            .start();
        for path in ["/loop-a", "/self", "/self/x"] {
            let resp = s.get(path);
            assert!(
                (400..500).contains(&resp.status),
                "GET {path} (follow_symlinks = {follow}): {resp}"
            );
        }
        // and the server still works
        assert_eq!(s.get("/style.css").body, fixture("style.css"));
    }
}

/// A site with `about.html`, `docs/guide.html`, `shadow` beside `shadow.html`, and a directory
/// `team/` beside `team.html`: what clean URLs find and what they leave alone.
fn clean_url_site(site: &TempSite) {
    let root = site.root();
    fs::write(root.join("about.html"), b"ABOUT-HTML\n").unwrap();
    fs::create_dir(root.join("docs")).unwrap();
    fs::write(root.join("docs/guide.html"), b"GUIDE-HTML\n").unwrap();
    fs::write(root.join("shadow"), b"SHADOW-FILE\n").unwrap();
    fs::write(root.join("shadow.html"), b"SHADOW-HTML\n").unwrap();
    fs::create_dir(root.join("team")).unwrap();
    fs::write(root.join("team/index.html"), b"TEAM-INDEX\n").unwrap();
    fs::write(root.join("team.html"), b"TEAM-HTML\n").unwrap();
}

#[test]
fn clean_urls_serve_name_html_when_nothing_else_matches() {
    let s = TestServer::build().site(clean_url_site).start();
    struct Case {
        path: &'static str,
        status: u16,
        body: &'static [u8],
    }
    let cases = [
        // The point: /about answers with about.html, as an HTML page, also below the top.
        Case {
            path: "/about",
            status: 200,
            body: b"ABOUT-HTML\n",
        },
        Case {
            path: "/about?x=1",
            status: 200,
            body: b"ABOUT-HTML\n",
        },
        Case {
            path: "/docs/guide",
            status: 200,
            body: b"GUIDE-HTML\n",
        },
        // The file itself still answers under its own name.
        Case {
            path: "/about.html",
            status: 200,
            body: b"ABOUT-HTML\n",
        },
        // A file of that exact name wins over NAME.html.
        Case {
            path: "/shadow",
            status: 200,
            body: b"SHADOW-FILE\n",
        },
        // With a slash it names a directory, and there is no about/: the redirect below.
        Case {
            path: "/about/",
            status: 301,
            body: b"",
        },
        // NAME.html.html is never tried, nor anything for names that do not exist at all.
        Case {
            path: "/about.html.html",
            status: 404,
            body: b"",
        },
        Case {
            path: "/nothing",
            status: 404,
            body: b"",
        },
    ];
    for c in &cases {
        let r = s.get(c.path);
        assert_eq!(r.status, c.status, "{}: {r}", c.path);
        if c.status == 200 {
            assert_eq!(r.body, c.body, "{}", c.path);
        }
        // What NAME.html answers is an HTML page, whatever the URL's lack of an extension says.
        if c.body.ends_with(b"-HTML\n") {
            assert_eq!(r.header("Content-Type"), Some(HTML), "{}", c.path);
        }
    }
    // A slashed clean URL goes to the page, query kept, as Cloudflare Pages sends it; a file
    // asked for with a slash is not found.
    for (path, location) in [
        ("/about/", "/about"),
        ("/docs/guide/?x=1", "/docs/guide?x=1"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 301, "{path}: {r}");
        assert_eq!(r.header("Location"), Some(location), "{path}");
    }
    assert_eq!(s.get("/shadow/").status, 404);
    assert_eq!(s.get("/about.html/").status, 404);
    // A directory of that name is still a directory: the redirect to its slash, then its index.
    let r = s.get("/team");
    assert_eq!(r.status, 301, "{r}");
    assert_eq!(r.header("Location"), Some("/team/"));
    assert_eq!(s.get("/team/").body, b"TEAM-INDEX\n");
    // HEAD carries GET's length; a conditional request revalidates the page it found.
    let head = s.request("HEAD /about HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(head.header("Content-Length"), Some("11"));
    let etag = s.get("/about").header("ETag").unwrap().to_string();
    let cond = s.get_with("/about", &[("If-None-Match", &etag)]);
    assert_eq!(cond.status, 304, "{cond}");
}

#[test]
fn clean_urls_off_leave_a_missing_name_missing() {
    let s = TestServer::build()
        .site(clean_url_site)
        .config(|c| c.site.clean_urls = false)
        .start();
    assert_eq!(s.get("/about").status, 404);
    assert_eq!(s.get("/about/").status, 404);
    assert_eq!(s.get("/about.html").body, b"ABOUT-HTML\n");
}

#[test]
fn clean_urls_come_before_the_fallback_and_follow_a_new_file() {
    let s = TestServer::build()
        .site(clean_url_site)
        .config(|c| c.site.fallback = Some("index.html".into()))
        .start();
    assert_eq!(s.get("/about").body, b"ABOUT-HTML\n");
    assert_eq!(s.get("/app/route").body, fixture("index.html"));
    // A file named exactly `about` appearing later wins at once: clean URLs are not cached.
    fs::write(s.root().join("about"), b"ABOUT-FILE\n").unwrap();
    assert_eq!(s.get("/about").body, b"ABOUT-FILE\n");
}

#[test]
fn command_line_clean_urls() {
    let site = TempSite::new();
    clean_url_site(&site);
    let on = Binary::serving(site.root()).spawn();
    assert_eq!(on.request(&get_request("/about")).body, b"ABOUT-HTML\n");
    drop(on);
    let off = Binary::serving(site.root())
        .args(["--clean-urls", "false"])
        .spawn();
    assert_eq!(off.request(&get_request("/about")).status, 404);
    drop(off);
    let env = Binary::serving(site.root())
        .env("MUXSERVE_CLEAN_URLS", "false")
        .spawn();
    assert_eq!(env.request(&get_request("/about")).status, 404);
}

#[test]
fn canonical_urls_redirect_to_the_clean_form_with_the_query() {
    let s = TestServer::build()
        .site(clean_url_site)
        .config(|c| c.site.canonical_urls = true)
        .start();
    for (path, location) in [
        ("/about.html", "/about"),
        ("/about.html?x=1&y", "/about?x=1&y"),
        ("/docs/guide.html", "/docs/guide"),
        ("/team/index.html", "/team/"),
        // The clean URL of an index file is its directory's, as Cloudflare Pages redirects it.
        ("/team/index", "/team/"),
        ("/index?q", "/?q"),
        ("/index.html", "/"),
        ("/index.html?q", "/?q"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 308, "{path}: {r}");
        assert_eq!(r.header("Location"), Some(location), "{path}");
        // And the canonical URL answers with the same page.
        let canonical = location.split('?').next().unwrap();
        let followed = s.get(canonical);
        assert_eq!(followed.status, 200, "{canonical}: {followed}");
    }
    assert_eq!(s.get("/about").body, b"ABOUT-HTML\n");
    // Where the clean form would answer with something else, the .html URL is served as it is:
    // a file named `shadow`, a directory `team/`.
    assert_eq!(s.get("/shadow.html").body, b"SHADOW-HTML\n");
    assert_eq!(s.get("/team.html").body, b"TEAM-HTML\n");
    // Missing files are not redirected, and the Location is always a path here.
    assert_eq!(s.get("/gone.html").status, 404);
    // A target that starts with `//` is a path here, and so is its canonical form: never a URL
    // a client would read as another host.
    let r = s.request("GET //team/index.html HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(r.status, 308, "{r}");
    assert_eq!(r.header("Location"), Some("/team/"));
}

#[test]
fn canonical_urls_need_clean_urls() {
    let site = TempSite::new();
    let out = Binary::serving(site.root())
        .args(["--canonical-urls", "--clean-urls", "false"])
        .run(std::time::Duration::from_secs(10));
    assert!(!out.status.success());
    assert!(
        out.stderr
            .contains("--canonical-urls needs --clean-urls true"),
        "{}",
        out.stderr
    );
}
