//! Reloading while serving: a `--root` symlink that a deploy swaps (`ln -sfn` + `mv -T`), SIGHUP
//! with a good and with a failing reload, against the real binary; and, in-process, a reload
//! with a new configuration (`Server::reload_from`, `ReloadHandle`). A separate binary: it
//! spawns processes, signals them, and waits on the watcher's one-second tick.

mod support;

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use muxserve::{AccessLog, Config, Server};
use support::*;

const BIG: usize = 16 * 1024 * 1024;

/// Upper bound for a change to show: the watcher looks once a second; wide for loaded CI.
const SWAP_SEEN_WITHIN: Duration = Duration::from_secs(3);

/// `<tmp>/v1`, `<tmp>/v2` (each with `index.html` and `404.html` naming its version) and
/// `<tmp>/current` → `v1`, as a deploy lays them out.
struct Deploys {
    dir: tempfile::TempDir,
}

impl Deploys {
    fn new() -> Deploys {
        let dir = tempfile::Builder::new()
            .prefix("muxserve-reload-")
            .tempdir()
            .unwrap();
        for v in ["v1", "v2"] {
            let root = dir.path().join(v);
            fs::create_dir(&root).unwrap();
            fs::write(root.join("index.html"), format!("{v}\n")).unwrap();
            fs::write(root.join("404.html"), format!("{v} not found\n")).unwrap();
        }
        symlink("v1", dir.path().join("current")).unwrap();
        Deploys { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The link the server serves.
    fn current(&self) -> PathBuf {
        self.path("current")
    }

    /// Points `current` at `version` atomically, as `ln -sfn V current.tmp && mv -T current.tmp
    /// current` does.
    fn swap_to(&self, version: &str) {
        let tmp = self.path("current.tmp");
        symlink(version, &tmp).unwrap();
        fs::rename(&tmp, self.current()).unwrap();
    }

    fn spawn(&self) -> BinaryServer {
        Binary::serving(&self.current())
            .args(["--workers", "2"])
            .spawn()
    }
}

/// Polls `srv`'s stderr until it holds `needle` `times` times, up to `limit`.
fn wait_for_log(srv: &BinaryServer, needle: &str, times: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if srv.stderr().matches(needle).count() >= times {
            return true;
        }
        thread::sleep(Duration::from_millis(20));
    }
    false
}

/// GETs `path` on fresh connections until the body is `want` or `limit` passes; how long it took.
fn poll_body(
    addr: SocketAddr,
    path: &str,
    want: &str,
    limit: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        let resp = request_to(addr, &get_request(path));
        if resp.body_str() == want {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(format!("{resp}"));
        }
        thread::sleep(Duration::from_millis(25));
    }
}

fn get_on(r: &mut ResponseReader<std::net::TcpStream>, path: &str) -> Response {
    r.send(get_request(path));
    r.read_response()
}

#[test]
fn download_begun_before_a_symlink_swap_finishes_from_the_old_tree() {
    let d = Deploys::new();
    let v1_sha = write_random_file(&d.path("v1/big.bin"), BIG, 1);
    let v2_sha = write_random_file(&d.path("v2/big.bin"), BIG, 2);
    assert_ne!(v1_sha, v2_sha);
    let srv = d.spawn();

    // The download pauses after its first MiB until the swap has been seen, so the swap happens
    // while its response is in flight.
    let (started_tx, started) = mpsc::channel();
    let (go, go_rx) = mpsc::channel::<()>();
    let conn = srv.connect();
    let download = thread::spawn(move || {
        let mut paused = false;
        slow_download(conn, "/big.bin", |received| {
            if !paused && received >= 1024 * 1024 {
                paused = true;
                let _ = started_tx.send(());
                let _ = go_rx.recv_timeout(Duration::from_secs(20));
            }
        })
    });
    started
        .recv_timeout(Duration::from_secs(10))
        .expect("the download never got its first MiB");

    d.swap_to("v2");
    // Gone from the disk: what is still to come can only come from the descriptor.
    fs::remove_file(d.path("v1/big.bin")).unwrap();
    let took = poll_body(srv.addr, "/", "v2\n", SWAP_SEEN_WITHIN)
        .unwrap_or_else(|last| panic!("v2 not served within {SWAP_SEEN_WITHIN:?}: {last}"));
    let missing = srv.request(&get_request("/no-such-page"));
    assert_eq!(missing.status, 404, "{missing}");
    assert_eq!(
        missing.body_str(),
        "v2 not found\n",
        "v2's 404.html: {missing}"
    );
    let fresh = srv.request(&get_request("/big.bin"));
    assert_eq!(sha256_hex(&fresh.body), v2_sha, "a new download is v2's");

    go.send(()).unwrap();
    let dl = download.join().unwrap().expect("the first download");
    assert_eq!(dl.received, BIG as u64);
    assert_eq!(
        dl.sha256, v1_sha,
        "the download begun on v1 must be v1's file, whole"
    );
    let log = srv.stderr();
    assert!(
        log.contains("reloaded (the root or its rules files changed)"),
        "swap seen after {took:?}; stderr: {log}"
    );
}

#[test]
fn sighup_reloads_and_a_kept_alive_connection_sees_the_new_tree() {
    let d = Deploys::new();
    let srv = d.spawn();
    let mut r = ResponseReader::new(srv.connect());
    let before = get_on(&mut r, "/");
    assert_eq!(before.body_str(), "v1\n", "{before}");

    d.swap_to("v2");
    srv.signal(libc::SIGHUP);
    assert!(
        wait_for_log(&srv, "reloaded (requested)", 1, Duration::from_secs(5)),
        "no reload line after SIGHUP; stderr: {}",
        srv.stderr()
    );
    let after = get_on(&mut r, "/");
    assert_eq!(after.status, 200, "{after}");
    assert_eq!(
        after.body_str(),
        "v2\n",
        "the same connection, after SIGHUP: {after}"
    );
    let missing = get_on(&mut r, "/gone");
    assert_eq!(missing.body_str(), "v2 not found\n", "{missing}");
    assert!(!srv.stderr().contains("differ"), "{}", srv.stderr());
}

#[test]
fn failed_reload_keeps_the_running_tree_and_logs_one_line() {
    const FAILED: &str = "reload failed, keeping the running settings: ";
    let d = Deploys::new();
    let mut srv = d.spawn();
    let mut r = ResponseReader::new(srv.connect());
    assert_eq!(get_on(&mut r, "/").body_str(), "v1\n");

    // The root path now leads nowhere: SIGHUP's reparse (and the watcher) cannot open it.
    fs::rename(d.current(), d.path("current.away")).unwrap();
    srv.signal(libc::SIGHUP);
    assert!(
        wait_for_log(&srv, FAILED, 1, Duration::from_secs(5)),
        "stderr: {}",
        srv.stderr()
    );
    let log = srv.stderr();
    let line = log.lines().find(|l| l.contains(FAILED)).unwrap();
    assert!(line.contains(&*d.current().to_string_lossy()), "{line}");

    let kept = get_on(&mut r, "/");
    assert_eq!(kept.status, 200, "{kept}");
    assert_eq!(
        kept.body_str(),
        "v1\n",
        "the running tree, on the kept connection: {kept}"
    );
    let fresh = srv.request(&get_request("/"));
    assert_eq!(fresh.body_str(), "v1\n", "and on a new one: {fresh}");

    // Whether the watcher's tick or SIGHUP came first, a failure is not retried every second.
    let failures = srv.stderr().matches(FAILED).count();
    assert!((1..=2).contains(&failures), "{}", srv.stderr());
    thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        srv.stderr().matches(FAILED).count(),
        failures,
        "{}",
        srv.stderr()
    );

    // The root back, now leading to v2: the watcher picks it up by itself.
    symlink("v2", d.current()).unwrap();
    poll_body(srv.addr, "/", "v2\n", SWAP_SEEN_WITHIN)
        .unwrap_or_else(|last| panic!("the restored root was not served: {last}"));
    assert_eq!(get_on(&mut r, "/").body_str(), "v2\n");
    drop(r);

    // The watcher stops with the server: SIGTERM still drains and exits 0.
    srv.signal(libc::SIGTERM);
    let status = srv.wait_timeout(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "{status:?}; stderr: {}",
        srv.stderr()
    );
}

#[test]
fn a_changed_rules_file_rebuilds_the_site_unless_rules_are_off() {
    const CHANGED: &str = "reloaded (the root or its rules files changed)";
    let d = Deploys::new();
    let srv = d.spawn();
    let off = Binary::serving(&d.current())
        .args(["--workers", "1", "--site-rules", "false"])
        .spawn();
    fs::write(d.path("v1/_headers"), "/*\n  X-Rules: 1\n").unwrap();
    fs::write(d.path("v1/_redirects"), "/old /new 301\n").unwrap();
    assert!(
        wait_for_log(&srv, CHANGED, 1, SWAP_SEEN_WITHIN),
        "stderr: {}",
        srv.stderr()
    );
    // A rewrite in place (same name, same inode) is a change too.
    let reloads = srv.stderr().matches(CHANGED).count();
    fs::write(d.path("v1/_redirects"), "/old /newer 302\n").unwrap();
    assert!(
        wait_for_log(&srv, CHANGED, reloads + 1, SWAP_SEEN_WITHIN),
        "stderr: {}",
        srv.stderr()
    );
    assert!(!off.stderr().contains("reloaded"), "{}", off.stderr());
    let resp = srv.request(&get_request("/"));
    assert_eq!(resp.body_str(), "v1\n");
    assert_eq!(resp.header("X-Rules"), Some("1"), "{resp}");
    let resp = srv.request(&get_request("/old"));
    assert_eq!(
        (resp.status, resp.header("Location")),
        (302, Some("/newer")),
        "{resp}"
    );

    // A bad line: the reload fails with one line naming it, and the running rules stay.
    fs::write(d.path("v1/_redirects"), "/old /newest 299\n").unwrap();
    assert!(
        wait_for_log(&srv, "reload failed", 1, SWAP_SEEN_WITHIN),
        "stderr: {}",
        srv.stderr()
    );
    let failed: Vec<String> = srv
        .stderr()
        .lines()
        .filter(|l| l.contains("reload failed"))
        .map(str::to_string)
        .collect();
    assert!(failed[0].contains("_redirects:1: status 299"), "{failed:?}");
    let resp = srv.request(&get_request("/old"));
    assert_eq!(resp.header("Location"), Some("/newer"), "{resp}");
}

#[test]
fn sighup_rereads_the_config_file_for_open_connections() {
    let d = Deploys::new();
    let file = d.path("site.toml");
    fs::write(&file, "header = [\"X-Version: 1\"]\n").unwrap();
    let srv = Binary::serving(&d.current())
        .args(["--workers", "2"])
        .arg("--config")
        .arg(&file)
        .env_remove("MUXSERVE_HEADERS")
        .spawn();
    let mut r = ResponseReader::new(srv.connect());
    assert_eq!(get_on(&mut r, "/").header("X-Version"), Some("1"));

    fs::write(
        &file,
        "header = [\"X-Version: 2\"]\n[[redirects]]\nfrom = \"/moved\"\nto = \"/\"\nstatus = 302\n",
    )
    .unwrap();
    srv.signal(libc::SIGHUP);
    assert!(
        wait_for_log(&srv, "reloaded (requested)", 1, Duration::from_secs(5)),
        "stderr: {}",
        srv.stderr()
    );
    let resp = get_on(&mut r, "/");
    assert_eq!(
        resp.header("X-Version"),
        Some("2"),
        "the same connection: {resp}"
    );
    assert_eq!(get_on(&mut r, "/moved").status, 302);

    // A bad key: one line naming the file, line and key; the running settings stay.
    fs::write(&file, "header = [\"X-Version: 3\"]\nworkerz = 2\n").unwrap();
    srv.signal(libc::SIGHUP);
    assert!(
        wait_for_log(&srv, "reload failed", 1, Duration::from_secs(5)),
        "stderr: {}",
        srv.stderr()
    );
    let line = srv
        .stderr()
        .lines()
        .find(|l| l.contains("reload failed"))
        .map(str::to_string)
        .unwrap();
    assert!(
        line.contains("site.toml:2") && line.contains("workerz"),
        "{line}"
    );
    let resp = get_on(&mut r, "/");
    assert_eq!(resp.header("X-Version"), Some("2"), "{resp}");

    // A setting a reload cannot change is named, and the rest applies.
    fs::write(&file, "header = [\"X-Version: 4\"]\nmax-connections = 5\n").unwrap();
    srv.signal(libc::SIGHUP);
    assert!(
        wait_for_log(&srv, "reloaded (requested)", 2, Duration::from_secs(5)),
        "stderr: {}",
        srv.stderr()
    );
    assert!(
        srv.stderr().contains("max-connections differ"),
        "{}",
        srv.stderr()
    );
    assert_eq!(get_on(&mut r, "/").header("X-Version"), Some("4"));
}

fn in_process_config(root: &Path) -> Config {
    Config {
        root: root.to_path_buf(),
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        workers: 2,
        access_log: AccessLog::Off,
        ..Config::default()
    }
}

#[test]
fn reload_handle_applies_a_new_configuration_to_open_connections() {
    let site = TempSite::new();
    let config = in_process_config(site.root());
    let next = Arc::new(Mutex::new(config.clone()));
    let source = next.clone();
    let running = Server::bind(config.clone())
        .unwrap()
        .reload_from(Box::new(move || Ok(source.lock().unwrap().clone())))
        .spawn()
        .unwrap();
    let addr = running.local_addr();
    let mut r = ResponseReader::new(connect_to(addr));
    assert_eq!(get_on(&mut r, "/").header("X-Deploy"), None);

    next.lock()
        .unwrap()
        .site
        .headers
        .push(("X-Deploy".into(), "2".into()));
    running.reload_handle().reload();
    let start = Instant::now();
    let seen = loop {
        let resp = get_on(&mut r, "/");
        if resp.header("X-Deploy") == Some("2") || start.elapsed() > Duration::from_secs(5) {
            break resp;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(seen.header("X-Deploy"), Some("2"), "{seen}");
    assert_eq!(seen.status, 200, "{seen}");
    drop(r);

    // Join returns: the watcher thread stops with the server.
    let handle = running.shutdown_handle();
    let (tx, joined) = mpsc::channel();
    let join = thread::spawn(move || {
        let _ = tx.send(running.join().is_ok());
    });
    handle.shutdown();
    let ok = joined.recv_timeout(Duration::from_secs(10));
    if ok.is_err() {
        handle.shutdown();
    }
    join.join().unwrap();
    assert_eq!(ok, Ok(true), "the server did not stop");
}

#[test]
fn a_changed_htpasswd_file_is_read_again() {
    use base64::Engine as _;
    const CHANGED: &str = "reloaded (the root or its rules files changed)";
    let basic = |user_pass: &str| {
        let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
        format!("Basic {token}")
    };
    let auth = fixtures_dir().join("auth");
    let d = Deploys::new();
    let users = d.path("users.htpasswd");
    fs::copy(auth.join("bcrypt.htpasswd"), &users).unwrap();
    let srv = Binary::serving(&d.current())
        .args(["--basic-auth", &format!("/*={}", users.display())])
        .spawn();
    let get = |who: &str| {
        let auth = basic(who);
        srv.request(&request_with("GET", "/", &[("Authorization", &auth)]))
    };
    assert_eq!(get("alice:alice-pw").status, 200);
    assert_eq!(get("carol:carol-pw").status, 401);
    // As `htpasswd` writes it: a new file renamed over the old one.
    let tmp = d.path("users.tmp");
    fs::copy(auth.join("sha.htpasswd"), &tmp).unwrap();
    fs::rename(&tmp, &users).unwrap();
    assert!(
        wait_for_log(&srv, CHANGED, 1, SWAP_SEEN_WITHIN),
        "stderr: {}",
        srv.stderr()
    );
    assert_eq!(get("carol:carol-pw").status, 200);
    let gone = get("alice:alice-pw");
    assert_eq!(
        gone.status, 401,
        "a remembered success is forgotten: {gone}"
    );
    // A file that no longer passes keeps the running users, with one line.
    fs::write(&users, "carol:plain\n").unwrap();
    assert!(
        wait_for_log(&srv, "reload failed", 1, SWAP_SEEN_WITHIN),
        "stderr: {}",
        srv.stderr()
    );
    assert!(
        srv.stderr().contains("users.htpasswd:1: user \"carol\""),
        "{}",
        srv.stderr()
    );
    assert_eq!(get("carol:carol-pw").status, 200);
}
