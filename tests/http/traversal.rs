//! Requests must never escape the document root, nor reach hidden files
//! (dotfiles and dot-directories, except `/.well-known/`) unless
//! `hidden_files` is on. The temp layout is `<tmp>/site` (root) and
//! `<tmp>/outside/secret` (a unique marker).

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::*;

/// Sends `request_line` (plus Host and Connection: close) and returns the
/// parsed response and the full bytes received.
fn send(s: &TestServer, request_line: &[u8]) -> (Option<Response>, Vec<u8>) {
    let mut raw = request_line.to_vec();
    raw.extend_from_slice(b"\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let bytes = s.raw(&raw);
    let resp = ResponseReader::new(&bytes[..])
        .try_read_response_to(request_line)
        .ok();
    (resp, bytes)
}

/// Ok if the request neither leaks the secret nor gets a status other than
/// 400/403/404.
fn check_blocked(s: &TestServer, request_line: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(request_line).into_owned();
    let (resp, bytes) = send(s, request_line);
    if contains(&bytes, OUTSIDE_MARKER.as_bytes()) {
        return Err(format!(
            "{shown:?} LEAKED the outside secret: {:?}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    let Some(resp) = resp else {
        return Err(format!(
            "{shown:?}: no parsable response: {:?}",
            String::from_utf8_lossy(&bytes)
        ));
    };
    if !matches!(resp.status, 400 | 403 | 404) {
        return Err(format!(
            "{shown:?}: status {} (expected 400/403/404)",
            resp.status
        ));
    }
    Ok(())
}

fn assert_blocked(s: &TestServer, request_line: &[u8]) {
    if let Err(e) = check_blocked(s, request_line) {
        panic!("{e}");
    }
}

const SPELLINGS: &[&[u8]] = &[
    b"GET /../outside/secret HTTP/1.1",
    b"GET /%2e%2e/outside/secret HTTP/1.1",
    b"GET /%2E%2E/%2e%2e/outside/secret HTTP/1.1",
    b"GET /..%2foutside%2fsecret HTTP/1.1",
    b"GET /..%2Foutside%2Fsecret HTTP/1.1",
    b"GET /%2e%2e%2foutside%2fsecret HTTP/1.1",
    b"GET /..%5coutside%5csecret HTTP/1.1",
    b"GET /..\\outside\\secret HTTP/1.1",
    b"GET /dir/../../outside/secret HTTP/1.1",
    b"GET /dir/..%2f..%2foutside/secret HTTP/1.1",
    b"GET /.%2e/outside/secret HTTP/1.1",
    b"GET /%2e./outside/secret HTTP/1.1",
    b"GET //../outside/secret HTTP/1.1",
    b"GET /%252e%252e/outside/secret HTTP/1.1",
    b"GET /dir/%00/../secret HTTP/1.1",
    b"GET /dir/%00/../../outside/secret HTTP/1.1",
    b"GET /./../outside/secret HTTP/1.1",
    b"GET /..;/outside/secret HTTP/1.1",
    b"GET /../../../../../../../../outside/secret HTTP/1.1",
    b"GET /../outside/secret?x=1 HTTP/1.1",
    b"GET /..%c0%afoutside%c0%afsecret HTTP/1.1",
    b"GET ../outside/secret HTTP/1.1",
    b"GET http://x/../outside/secret HTTP/1.1",
    b"GET http://x/%2e%2e/outside/secret HTTP/1.1",
    b"HEAD /../outside/secret HTTP/1.1",
];

#[test]
fn traversal_spellings_never_escape_the_root() {
    let s = TestServer::start();
    let failures: Vec<String> = SPELLINGS
        .iter()
        .filter_map(|line| check_blocked(&s, line).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // the server is still fine afterwards
    assert_eq!(s.get("/style.css").status, 200);
}

#[test]
fn absolute_path_of_secret_is_not_served() {
    let s = TestServer::start();
    let abs = s.outside().join("secret");
    let line = format!("GET {} HTTP/1.1", abs.display());
    // `/tmp/.../outside/secret` is resolved under the root.
    assert_blocked(&s, line.as_bytes());
}

#[test]
fn symlink_to_file_outside_root_is_not_served() {
    let s = TestServer::build()
        .site(|site| {
            symlink(site.outside().join("secret"), site.root().join("abs-link")).unwrap();
            symlink("../outside/secret", site.root().join("rel-link")).unwrap();
            symlink(
                site.outside().join("secret"),
                site.root().join("dir").join("deep-link.txt"),
            )
            .unwrap();
        })
        .start();
    for line in [
        &b"GET /abs-link HTTP/1.1"[..],
        b"GET /rel-link HTTP/1.1",
        b"GET /dir/deep-link.txt HTTP/1.1",
        b"HEAD /abs-link HTTP/1.1",
    ] {
        assert_blocked(&s, line);
    }
}

#[test]
fn symlink_to_directory_outside_root_is_not_served() {
    let s = TestServer::build()
        .site(|site| {
            symlink(site.outside(), site.root().join("out-dir")).unwrap();
            symlink("../../outside", site.root().join("dir").join("up")).unwrap();
        })
        .start();
    for line in [
        &b"GET /out-dir/secret HTTP/1.1"[..],
        b"GET /out-dir/ HTTP/1.1",
        b"GET /out-dir HTTP/1.1",
        b"GET /dir/up/secret HTTP/1.1",
    ] {
        let (resp, bytes) = send(&s, line);
        assert!(
            !contains(&bytes, OUTSIDE_MARKER.as_bytes()),
            "{:?} leaked the secret",
            String::from_utf8_lossy(line)
        );
        let status = resp.expect("a response").status;
        // `/out-dir` may be answered with a redirect to `/out-dir/`, which is
        // then refused; everything else must be refused directly.
        let ok = if line.ends_with(b"/out-dir HTTP/1.1") {
            matches!(status, 301 | 400 | 403 | 404)
        } else {
            matches!(status, 400 | 403 | 404)
        };
        assert!(ok, "{:?}: status {status}", String::from_utf8_lossy(line));
    }
}

#[test]
fn symlink_inside_root_is_served() {
    let s = TestServer::build()
        .site(|site| {
            symlink("style.css", site.root().join("link.css")).unwrap();
            symlink(site.root().join("image.png"), site.root().join("abs.png")).unwrap();
        })
        .start();
    let resp = s.get("/link.css");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
    assert_eq!(resp.header("Content-Type"), Some("text/css; charset=utf-8"));
    let resp = s.get("/abs.png");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("image.png"));
}

#[test]
fn symlinked_directory_inside_root_is_served() {
    let s = TestServer::build()
        .site(|site| symlink(site.root().join("dir"), site.root().join("dir-link")).unwrap())
        .start();
    let resp = s.get("/dir-link/");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("dir/index.html"));
}

#[test]
fn dot_segments_inside_root_do_not_reach_dotfiles() {
    let s = TestServer::start();
    for line in [
        &b"GET /dir/../.hidden HTTP/1.1"[..],
        b"GET /dir/./.secret HTTP/1.1",
        b"GET /%2ehidden HTTP/1.1",
        b"GET /dir/%2esecret HTTP/1.1",
        b"GET /dir%2f.secret HTTP/1.1",
    ] {
        let (resp, bytes) = send(&s, line);
        assert!(!contains(&bytes, HIDDEN_MARKER.as_bytes()));
        assert!(!contains(&bytes, DIR_SECRET_MARKER.as_bytes()));
        let status = resp.expect("a response").status;
        assert!(
            matches!(status, 400 | 403 | 404),
            "{:?}: {status}",
            String::from_utf8_lossy(line)
        );
    }
}

// ---------------------------------------------------------------------------
// Hidden files: dotfiles, dot-directories, `/.well-known/`
// ---------------------------------------------------------------------------

#[test]
fn dotfiles_are_not_found() {
    let s = TestServer::start();
    for path in ["/.hidden", "/dir/.secret", "/%2ehidden", "/dir/%2Esecret"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path}: {resp}");
        assert!(!contains(&resp.body, HIDDEN_MARKER.as_bytes()), "{path}");
        assert!(
            !contains(&resp.body, DIR_SECRET_MARKER.as_bytes()),
            "{path}"
        );
    }
}

fn well_known(site: &TempSite) {
    let dir = site.root().join(".well-known");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("x.txt"), b"WELL-KNOWN-X\n").unwrap();
    fs::write(dir.join("security.txt"), b"Contact: mailto:a@example.com\n").unwrap();
}

#[test]
fn hidden_files_option_serves_dotfiles() {
    let s = TestServer::build()
        .site(well_known)
        .config(|c| c.site.hidden_files = true)
        .start();
    let resp = s.get("/.hidden");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture(".hidden"));
    assert!(contains(&resp.body, HIDDEN_MARKER.as_bytes()));
    let resp = s.get("/dir/.secret");
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("dir/.secret"));
    // still confined to the root
    let resp = s.get("/../outside/secret");
    assert!(!contains(&resp.body, OUTSIDE_MARKER.as_bytes()), "{resp}");
}

#[test]
fn dotfiles_hidden_by_default_but_well_known_served() {
    let s = TestServer::build().site(well_known).start();
    for path in ["/.hidden", "/dir/.secret"] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path}: {resp}");
    }
    for (path, body) in [
        ("/.well-known/x.txt", &b"WELL-KNOWN-X\n"[..]),
        (
            "/.well-known/security.txt",
            b"Contact: mailto:a@example.com\n",
        ),
    ] {
        let resp = s.get(path);
        assert_eq!(resp.status, 200, "GET {path} (default config): {resp}");
        assert_eq!(resp.body, body, "{path}");
        assert_eq!(
            resp.header("Content-Type"),
            Some("text/plain; charset=utf-8")
        );
    }
}

#[test]
fn dot_directories_hidden_by_default() {
    let s = TestServer::build()
        .site(|site| {
            well_known(site);
            let git = site.root().join(".git");
            fs::create_dir(&git).unwrap();
            fs::write(git.join("config"), b"GIT-CONFIG-MARKER\n").unwrap();
        })
        .start();
    for path in [
        "/.git/config",
        "/.git/",
        "/.well-known/../.git/config",
        "/.well-known/%2e%2e/.hidden",
    ] {
        let resp = s.get(path);
        assert_eq!(resp.status, 404, "GET {path}: {resp}");
        assert!(!contains(&resp.body, b"GIT-CONFIG-MARKER"), "{path}");
        assert!(!contains(&resp.body, HIDDEN_MARKER.as_bytes()), "{path}");
    }
}

/// A FIFO planted in the root is neither served nor listed, and opening it never blocks a worker:
/// files are opened non-blocking and only regular files and directories are answered. Were the
/// open blocking, the first request would hang until the header timeout, and the next one too.
#[test]
fn fifo_in_the_root_is_not_found_and_never_blocks() {
    use rustix::fs::{FileType, Mode, mknodat};
    let s = TestServer::build()
        .config(|c| c.site.dir_listing = true)
        .site(|site| {
            let spool = site.root().join("spool");
            fs::create_dir(&spool).unwrap();
            fs::write(spool.join("a.txt"), b"a\n").unwrap();
            let dir = fs::File::open(&spool).unwrap();
            mknodat(&dir, "pipe", FileType::Fifo, Mode::from_raw_mode(0o644), 0).unwrap();
        })
        .start();
    for _ in 0..3 {
        let r = s.get("/spool/pipe");
        assert_eq!(r.status, 404, "{r}");
    }
    let listing = s.get("/spool/");
    assert_eq!(listing.status, 200, "{listing}");
    let page = String::from_utf8_lossy(&listing.body);
    assert!(page.contains("a.txt"), "{page}");
    assert!(!page.contains("pipe"), "{page}");
    assert_eq!(s.get("/spool/a.txt").body, b"a\n");
}

/// Clean URLs open `NAME.html` beneath the root like any other file: a symlink named so that
/// leads out, a dotfile or a climb never answers, whatever the spelling.
#[test]
fn clean_urls_never_escape_the_root() {
    let s = TestServer::build()
        .site(|site| {
            symlink(site.outside().join("secret"), site.root().join("leak.html")).unwrap();
            symlink("../outside/secret", site.root().join("dir").join("up.html")).unwrap();
            fs::write(site.root().join(".env.html"), b"DOTFILE\n").unwrap();
        })
        .start();
    for line in [
        &b"GET /leak HTTP/1.1"[..],
        b"GET /dir/up HTTP/1.1",
        b"GET /.env HTTP/1.1",
        b"GET /dir/../leak HTTP/1.1",
        b"GET /%2e%2e/outside/secret HTTP/1.1",
        b"HEAD /leak HTTP/1.1",
    ] {
        assert_blocked(&s, line);
    }
    assert_eq!(s.get("/.env").status, 404);
}
