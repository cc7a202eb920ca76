//! The binary: startup errors, --help/--version, duration flags, access log, the `--config`
//! file and `muxserve check`.

mod support;

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::*;

const RUN_LIMIT: Duration = Duration::from_secs(10);

fn one_line(stderr: &str) -> bool {
    stderr.trim_end_matches('\n').lines().count() == 1 && !stderr.trim().is_empty()
}

#[test]
fn missing_root_fails_with_one_line() {
    let site = TempSite::new();
    let missing = site.base().join("no-such-root");
    let out = Binary::serving(&missing).run(RUN_LIMIT);
    assert!(!out.status.success(), "exit {:?}", out.status);
    assert!(
        one_line(&out.stderr),
        "expected exactly one line on stderr, got {:?}",
        out.stderr
    );
}

#[test]
fn root_that_is_a_file_fails() {
    let site = TempSite::new();
    let out = Binary::serving(&site.root().join("style.css")).run(RUN_LIMIT);
    assert!(!out.status.success(), "exit {:?}", out.status);
    assert!(one_line(&out.stderr), "stderr: {:?}", out.stderr);
}

#[test]
fn port_in_use_fails_with_one_line() {
    let site = TempSite::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Binary::serving(site.root()).listen(addr).run(RUN_LIMIT);
    assert!(!out.status.success(), "exit {:?}", out.status);
    assert!(
        one_line(&out.stderr),
        "expected exactly one line on stderr, got {:?}",
        out.stderr
    );
    drop(taken);
}

#[test]
fn invalid_flag_values_fail() {
    let site = TempSite::new();
    for extra in [
        &["--workers", "zero"][..],
        &["--workers", "0"],
        &["--header-timeout", "soon"],
        &["--access-log", "verbose"],
        &["--no-such-flag"],
    ] {
        let out = Binary::serving(site.root()).args(extra).run(RUN_LIMIT);
        assert!(
            !out.status.success(),
            "{extra:?} should be rejected; exit {:?}, stderr {:?}",
            out.status,
            out.stderr
        );
        assert!(
            !out.stderr.trim().is_empty(),
            "{extra:?}: nothing on stderr"
        );
    }
}

#[test]
fn probe_and_scrape_paths_are_checked_and_kept_apart() {
    let site = TempSite::new();
    for (extra, says) in [
        (
            &["--health-path", "/same", "--metrics-path", "/same"][..],
            "--health-path and --metrics-path are both /same",
        ),
        (&["--metrics-path", "metrics"], "--metrics-path"),
        (&["--health-path", "/a b"], "--health-path"),
    ] {
        let out = Binary::serving(site.root()).args(extra).run(RUN_LIMIT);
        assert!(!out.status.success(), "{extra:?}: {:?}", out.stderr);
        assert!(one_line(&out.stderr), "{extra:?}: {:?}", out.stderr);
        assert!(out.stderr.contains(says), "{extra:?}: {:?}", out.stderr);
        assert!(
            !out.stderr.contains("health path"),
            "{extra:?} names its flag, not another: {:?}",
            out.stderr
        );
    }
}

#[test]
fn invalid_listen_address_fails() {
    let site = TempSite::new();
    // No --access-log here, unlike Binary::serving: only --listen is wrong.
    let out = Binary::new()
        .arg("--root")
        .arg(site.root())
        .arg("--listen")
        .arg("not-an-address")
        .run(RUN_LIMIT);
    assert!(!out.status.success());
}

#[test]
fn help_mentions_root() {
    let out = Binary::new().args(["--help"]).run(RUN_LIMIT);
    assert!(out.status.success(), "exit {:?}", out.status);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(text.contains("--root"), "help text: {text}");
    assert!(text.contains("--listen"), "help text: {text}");
}

#[test]
fn version_prints_version() {
    let out = Binary::new().args(["--version"]).run(RUN_LIMIT);
    assert!(out.status.success(), "exit {:?}", out.status);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION")),
        "version output: {text:?}"
    );
}

#[test]
fn binary_serves_files() {
    let site = TempSite::new();
    let server = Binary::serving(site.root()).spawn();
    assert!(server.addr.ip().is_loopback());
    let resp = server.request(&get_request("/"));
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, fixture("index.html"));
    assert_eq!(resp.header("Server"), Some("muxserve"));
}

#[test]
fn duration_flags_accept_ms_s_and_bare_seconds() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .args([
            "--header-timeout",
            "500ms",
            "--keep-alive-timeout",
            "1",
            "--shutdown-timeout",
            "2s",
        ])
        .spawn();
    let mut r = ResponseReader::new(server.connect());
    r.send(get_request("/style.css"));
    let resp = r.read_response();
    assert_eq!(resp.status, 200);
    // keep-alive timeout of 1 (bare seconds) is in effect
    let idle = Instant::now();
    let outcome = r.poll();
    assert!(outcome.is_closed(), "{outcome:?}");
    let waited = idle.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(3),
        "idle connection closed after {waited:?} with --keep-alive-timeout 1"
    );
}

/// Starts the binary with `--access-log fmt`, does GET /style.css, stops the
/// process, and returns its whole stdout.
fn access_log_output(fmt: &str) -> String {
    let site = TempSite::new();
    let mut server = Binary::serving(site.root()).access_log(fmt).spawn();
    let resp = server.request(
        "GET /style.css HTTP/1.1\r\nHost: localhost\r\nUser-Agent: muxserve-test-agent/1.0\r\nReferer: http://ref.example/\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(resp.status, 200);
    // Give the logger a moment, then stop the process so stdout is flushed.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !server.stdout().contains("/style.css") {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.signal(libc::SIGTERM);
    let status = server.wait_timeout(Duration::from_secs(10));
    assert!(status.is_some(), "no exit after SIGTERM");
    server.drain_pipes();
    server.stdout()
}

/// The access-log line of that request, in `--access-log fmt`.
fn access_log_line(fmt: &str) -> String {
    let out = access_log_output(fmt);
    out.lines()
        .find(|l| l.contains("/style.css"))
        .unwrap_or_else(|| panic!("no access log line in stdout: {out:?}"))
        .to_string()
}

#[test]
fn access_log_common() {
    let line = access_log_line("common");
    assert!(
        line.contains("\"GET /style.css HTTP/1.1\" 200"),
        "common log line: {line:?}"
    );
    assert!(line.starts_with("127.0.0.1 "), "common log line: {line:?}");
}

#[test]
fn access_log_combined() {
    let line = access_log_line("combined");
    assert!(
        line.contains("\"GET /style.css HTTP/1.1\" 200"),
        "combined log line: {line:?}"
    );
    assert!(
        line.contains("\"muxserve-test-agent/1.0\""),
        "combined log line lacks the user agent: {line:?}"
    );
    assert!(
        line.contains("\"http://ref.example/\""),
        "combined log line lacks the referer: {line:?}"
    );
}

#[test]
fn access_log_json() {
    let line = access_log_line("json");
    let trimmed = line.trim();
    assert!(
        trimmed.starts_with('{') && trimmed.ends_with('}'),
        "not a JSON object: {line:?}"
    );
    assert!(
        trimmed.contains("\"status\":200"),
        "json log line: {line:?}"
    );
}

#[test]
fn access_log_off_prints_nothing() {
    let out = access_log_output("off");
    assert!(
        !out.contains("/style.css"),
        "--access-log off still logged: {out:?}"
    );
}

/// Writes `toml` as `site.toml` beside the site's root and returns its path.
fn config_file(site: &TempSite, toml: &str) -> PathBuf {
    let path = site.base().join("site.toml");
    fs::write(&path, toml).unwrap();
    path
}

#[test]
fn config_file_with_a_bad_key_fails_with_one_line_naming_file_line_and_key() {
    let site = TempSite::new();
    let file = config_file(&site, "workers = 2\n\nheader-timout = \"15s\"\n");
    let out = Binary::serving(site.root())
        .arg("--config")
        .arg(&file)
        .run(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(1), "stderr {:?}", out.stderr);
    assert!(one_line(&out.stderr), "stderr: {:?}", out.stderr);
    let want = format!(
        "{}:3: key \"header-timout\": unknown option (did you mean \"header-timeout\"?)",
        file.display()
    );
    assert!(out.stderr.contains(&want), "stderr: {:?}", out.stderr);
}

#[test]
fn config_file_settings_are_served() {
    let site = TempSite::new();
    let file = config_file(
        &site,
        "header = [\"X-From-File: yes\"]\nnosniff = false\n\n[[headers]]\nfor = \"/*\"\nremove = [\"X-A\"]\n",
    );
    let server = Binary::serving(site.root())
        .arg("--config")
        .arg(&file)
        .env_remove("MUXSERVE_HEADERS")
        .env_remove("MUXSERVE_NOSNIFF")
        .spawn();
    let resp = server.request(&get_request("/style.css"));
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("X-From-File"), Some("yes"), "{resp}");
    assert_eq!(resp.header("X-Content-Type-Options"), None, "{resp}");
}

#[test]
fn config_file_rule_tables_are_served() {
    let site = TempSite::new();
    let file = config_file(
        &site,
        "[[redirects]]\nfrom = \"/old/*\"\nto = \"/new/:splat\"\nstatus = 302\n\n\
         [[redirects]]\nfrom = \"/style.css\"\nto = \"/forced\"\nforce = true\n\n\
         [[headers]]\nfor = \"/dir/*\"\n[headers.values]\nX-Frame-Options = \"DENY\"\n\
         Cache-Control = \'\'\'\n  max-age=0,\n  must-revalidate\n\'\'\'\n\
         Link = [\"</a.css>; rel=preload\", \"</b.js>; rel=preload\"]\n",
    );
    let server = Binary::serving(site.root())
        .arg("--config")
        .arg(&file)
        .spawn();
    let resp = server.request(&get_request("/old/a/b?q=1"));
    assert_eq!(resp.status, 302, "{resp}");
    assert_eq!(resp.header("Location"), Some("/new/a/b?q=1"), "{resp}");
    let resp = server.request(&get_request("/style.css"));
    assert_eq!(resp.status, 301, "{resp}");
    assert_eq!(resp.header("Location"), Some("/forced"), "{resp}");
    let resp = server.request(&get_request("/dir/"));
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("X-Frame-Options"), Some("DENY"), "{resp}");
    assert_eq!(
        resp.header_all("Cache-Control"),
        ["max-age=0, must-revalidate"],
        "{resp}"
    );
    assert_eq!(
        resp.header_all("Link"),
        ["</a.css>; rel=preload, </b.js>; rel=preload"],
        "{resp}"
    );
}

#[test]
fn environment_beats_the_config_file_and_the_command_line_beats_both() {
    let site = TempSite::new();
    let file = config_file(&site, "header = [\"X-Said-By: file\"]\nnosniff = false\n");
    let server = Binary::serving(site.root())
        .args(["--nosniff", "true"])
        .arg("--config")
        .arg(&file)
        .env("MUXSERVE_HEADERS", "X-Said-By: environment")
        .env_remove("MUXSERVE_NOSNIFF")
        .spawn();
    let resp = server.request(&get_request("/style.css"));
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.header("X-Said-By"), Some("environment"), "{resp}");
    assert_eq!(
        resp.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{resp}"
    );
}

#[test]
fn check_with_a_good_config_says_ok_and_binds_nothing() {
    let site = TempSite::new();
    let file = config_file(
        &site,
        "workers = 2\n[[redirects]]\nfrom = \"/old\"\nto = \"/new\"\n\n\
         [[headers]]\nfor = \"/*\"\n[headers.values]\nX-Frame-Options = \"DENY\"\n",
    );
    // A port that is taken: serving would fail to bind, check must not try.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let out = Binary::new()
        .arg("check")
        .arg("--config")
        .arg(&file)
        .arg("--root")
        .arg(site.root())
        .arg("--listen")
        .arg(taken.local_addr().unwrap().to_string())
        .run(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "stderr {:?}", out.stderr);
    assert!(one_line(&out.stderr), "stderr: {:?}", out.stderr);
    let want = format!(
        "muxserve: configuration ok (root {}, 1 redirect rules and 1 header blocks from the root's rules files and {})",
        site.root().display(),
        file.display()
    );
    assert_eq!(out.stderr.trim_end(), want);
    drop(taken);
}

#[test]
fn check_with_a_bad_config_lists_every_problem() {
    let site = TempSite::new();
    let file = config_file(
        &site,
        "workers = \"four\"\nheader = [\"Bad Name: x\"]\n[[redirects]]\nfrom = \"/a\"\n",
    );
    let out = Binary::new()
        .arg("check")
        .arg("--config")
        .arg(&file)
        .arg("--root")
        .arg(site.root())
        .run(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(1), "stderr {:?}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let f = file.display();
    let want = [
        format!("{f}:1: key \"workers\": expected an integer"),
        format!("{f}:2: key \"header\": invalid value \"Bad Name: x\""),
        format!("{f}:3: key \"redirects.to\": missing"),
    ];
    assert_eq!(lines.len(), want.len(), "stderr: {:?}", out.stderr);
    for (line, want) in lines.iter().zip(&want) {
        assert!(line.contains(want.as_str()), "{line:?} lacks {want:?}");
    }
}

#[test]
fn check_without_a_config_file_checks_the_root() {
    let site = TempSite::new();
    let out = Binary::new()
        .arg("check")
        .arg("--root")
        .arg(site.root())
        .env_remove("MUXSERVE_CONFIG")
        .run(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(0), "stderr {:?}", out.stderr);
    assert!(
        out.stderr.contains("configuration ok") && !out.stderr.contains(" and /"),
        "stderr: {:?}",
        out.stderr
    );
    let missing = site.base().join("no-such-root");
    let out = check_root(&missing);
    assert_eq!(out.status.code(), Some(1), "stderr {:?}", out.stderr);
    assert!(one_line(&out.stderr), "stderr: {:?}", out.stderr);
    assert!(
        out.stderr.contains("no-such-root"),
        "stderr: {:?}",
        out.stderr
    );
}

/// `muxserve check --root ROOT`, run to its end.
fn check_root(root: &Path) -> Output {
    Binary::new()
        .arg("check")
        .arg("--root")
        .arg(root)
        .run(RUN_LIMIT)
}

#[test]
fn check_lists_every_problem_of_the_rules_files() {
    let site = TempSite::new();
    fs::write(
        site.root().join("_redirects"),
        "/ok /fine\n/a /b 299\n/c\n/d https://x.example/ 200\n",
    )
    .unwrap();
    fs::write(site.root().join("_headers"), "/*\n  Content-Length: 1\n").unwrap();
    let out = check_root(site.root());
    assert_eq!(out.status.code(), Some(1), "stderr {:?}", out.stderr);
    let lines: Vec<&str> = out.stderr.lines().collect();
    let root = site.root().display();
    // Each file's problems in line order (its lines are judged in two passes), redirects first.
    let want = [
        format!("{root}/_redirects:2: status 299"),
        format!("{root}/_redirects:3: "),
        format!("{root}/_redirects:4: "),
        format!("{root}/_headers:2: Content-Length"),
    ];
    assert_eq!(lines.len(), want.len(), "stderr: {:?}", out.stderr);
    for (line, want) in lines.iter().zip(&want) {
        assert!(
            line.contains(want.as_str()),
            "{want:?} expected: {lines:#?}"
        );
    }
    // Serving names the first of them.
    let out = Binary::serving(site.root()).run(RUN_LIMIT);
    assert!(one_line(&out.stderr), "stderr: {:?}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("{root}/_redirects:2: status 299")),
        "stderr: {:?}",
        out.stderr
    );
    fs::write(
        site.root().join("_redirects"),
        "/ok /fine\n/x/* /y/:splat 302!\n",
    )
    .unwrap();
    fs::write(site.root().join("_headers"), "/*\n  X-A: 1\n").unwrap();
    let out = check_root(site.root());
    assert_eq!(out.status.code(), Some(0), "stderr {:?}", out.stderr);
    assert!(
        out.stderr.contains("2 redirect rules and 1 header blocks"),
        "{:?}",
        out.stderr
    );
}

/// A client that asks for `/big.bin` (16 MiB), reads its head and then nothing more.
fn stalled_download(server: &BinaryServer, target: &str) -> ResponseReader<std::net::TcpStream> {
    let mut r = ResponseReader::new(server.connect());
    r.send(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n"));
    let head = r.read_head().expect("the download's head");
    assert_eq!(head.status, 200);
    r
}

/// The `bytes` of the JSON access-log line whose URI contains `needle`, once it is written.
fn logged_bytes(server: &BinaryServer, needle: &str, limit: Duration) -> Option<u64> {
    let deadline = Instant::now() + limit;
    loop {
        let out = server.stdout();
        if let Some(line) = out.lines().find(|l| l.contains(needle)) {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            return v["bytes"].as_u64();
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const BIG_DOWNLOAD: usize = 16 * 1024 * 1024;

#[test]
fn a_download_cut_short_logs_the_bytes_that_left_not_its_size() {
    let site = TempSite::new();
    fs::write(site.root().join("big.bin"), vec![7u8; BIG_DOWNLOAD]).unwrap();
    let server = Binary::serving(site.root())
        .access_log("json")
        .args(["--send-timeout", "1s"])
        .spawn();
    let mut stalled = stalled_download(&server, "/big.bin?stalled");
    // The send timeout ends it; its line says how far it got.
    let bytes = logged_bytes(&server, "?stalled", Duration::from_secs(10))
        .expect("a line for the cut download");
    assert!(
        bytes > 0 && bytes < BIG_DOWNLOAD as u64,
        "logged {bytes} bytes of a download cut short"
    );
    // What the client can still read is at most that much body.
    let mut received = stalled.take_buffered().len() as u64;
    let mut buf = vec![0u8; 256 * 1024];
    let stream = stalled.get_mut();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    while let Ok(n @ 1..) = std::io::Read::read(stream, &mut buf) {
        received += n as u64;
    }
    assert!(received <= bytes, "received {received}, logged {bytes}");
    // A download that completes logs its whole size.
    let whole =
        server.request("GET /big.bin?whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!(whole.body.len(), BIG_DOWNLOAD);
    assert_eq!(
        logged_bytes(&server, "?whole", Duration::from_secs(5)),
        Some(BIG_DOWNLOAD as u64)
    );
}

#[test]
fn a_download_cut_at_the_shutdown_deadline_is_logged() {
    let site = TempSite::new();
    fs::write(site.root().join("big.bin"), vec![7u8; BIG_DOWNLOAD]).unwrap();
    let mut server = Binary::serving(site.root())
        .access_log("common")
        .args(["--shutdown-timeout", "1s", "--send-timeout", "60s"])
        .spawn();
    let _stalled = stalled_download(&server, "/big.bin?at-the-deadline");
    server.signal(libc::SIGTERM);
    let status = server
        .wait_timeout(Duration::from_secs(10))
        .expect("the server exits after its deadline");
    assert!(status.success(), "exit {status:?}: {}", server.stderr());
    server.drain_pipes();
    let out = server.stdout();
    let line = out
        .lines()
        .find(|l| l.contains("?at-the-deadline"))
        .unwrap_or_else(|| panic!("no line for the cut download: {out:?}"));
    let bytes: u64 = line
        .rsplit(' ')
        .next()
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("no byte count: {line:?}"));
    assert!(
        bytes > 0 && bytes < BIG_DOWNLOAD as u64,
        "{line:?} logs more than left"
    );
    assert!(line.contains("\" 200 "), "{line}");
}

#[test]
fn a_root_the_server_may_enter_but_not_read_serves_its_files() {
    use std::os::unix::fs::PermissionsExt;
    // Mode 711, as a web root often is: a user other than the owner may open what is in it by
    // name but not list it. Run as root, the test runs the server as nobody (65534); run as
    // another user, it takes the owner's read permission away (311) to the same effect.
    let root_user = unsafe { libc::geteuid() } == 0;
    let site = TempSite::new();
    let sub = site.root().join("enter-only");
    fs::create_dir_all(&sub).unwrap();
    fs::write(sub.join("page.html"), "<p>inside</p>\n").unwrap();
    let dir_mode = if root_user { 0o711 } else { 0o311 };
    for dir in [site.base(), site.root(), sub.as_path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(dir_mode)).unwrap();
    }
    for entry in walk(site.root()) {
        if entry.is_file() {
            fs::set_permissions(&entry, fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let mut binary = Binary::serving(site.root()).arg("--dir-listing");
    if root_user {
        binary = binary.run_as(65534, 65534);
    }
    let server = binary.spawn();
    for (path, status) in [
        ("/", 200),
        ("/style.css", 200),
        ("/enter-only/page.html", 200),
        ("/enter-only/", 403),
        ("/enter-only/missing.html", 404),
    ] {
        let resp = server.request(&get_request(path));
        assert_eq!(resp.status, status, "{path}: {resp}");
    }
    let page = server.request(&get_request("/enter-only/page.html"));
    assert_eq!(page.body_str(), "<p>inside</p>\n");
    drop(server);
    for dir in [site.base(), site.root(), sub.as_path()] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Every path beneath `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(walk(&path));
        }
        all.push(path);
    }
    all
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let site = TempSite::new();
    let out = Binary::serving(site.root())
        .env("MUXSERVE_WORKERS", "zero")
        .run(RUN_LIMIT);
    assert_eq!(out.status.code(), Some(2), "{:?}", out.stderr);
    assert!(one_line(&out.stderr), "{:?}", out.stderr);
    assert!(
        out.stderr
            .contains("'--workers <N>' (from MUXSERVE_WORKERS)"),
        "{:?}",
        out.stderr
    );
    // Typed on the command line, the flag alone is named, whatever the environment holds.
    let out = Binary::serving(site.root())
        .env("MUXSERVE_WORKERS", "zero")
        .args(["--workers", "none"])
        .run(RUN_LIMIT);
    assert!(out.stderr.contains("'none'"), "{:?}", out.stderr);
    assert!(!out.stderr.contains("MUXSERVE_WORKERS"), "{:?}", out.stderr);
}
