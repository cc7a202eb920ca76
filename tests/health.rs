//! Health checking: the `muxserve health` subcommand (a one-request HTTP
//! client whose exit status is the verdict) and the server's `--health-path`
//! (200 `ok` without touching the disk). Its 503 `draining` during shutdown
//! is tested in shutdown.rs.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::*;

/// Upper bound for one `muxserve health` run (it is killed after this).
const CLI_LIMIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Runs `muxserve health ARGS` with a clean environment as far as the
/// variables it reads are concerned: every `MUXSERVE_*` and `PORT` of the
/// test's environment is removed, then `env` is set.
fn health_cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Binary::new().arg("health").args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MUXSERVE_") {
            cmd = cmd.env_remove(&name);
        }
    }
    cmd = cmd.env_remove("PORT");
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd.run(CLI_LIMIT)
}

fn assert_healthy(out: &Output, url: &str, status: u16) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "expected exit 0; stdout: {:?}; stderr: {:?}",
        out.stdout,
        out.stderr
    );
    let line = format!("healthy: {url} answered {status}");
    assert!(
        out.stdout.lines().any(|l| l.trim() == line),
        "stdout lacks {line:?}: {:?} (stderr: {:?})",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stderr.contains("unhealthy"),
        "healthy run printed an unhealthy line: {:?}",
        out.stderr
    );
}

fn assert_unhealthy(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected exit 1; stdout: {:?}; stderr: {:?}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.lines().any(|l| l.starts_with("unhealthy:")),
        "stderr has no line starting with `unhealthy:`: {:?}",
        out.stderr
    );
    assert!(
        !out.stdout.contains("healthy"),
        "an unhealthy run printed a verdict on stdout: {:?}",
        out.stdout
    );
}

/// A port on 127.0.0.1 that nothing listens on (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    port
}

/// A fake one-connection server on 127.0.0.1: accepts one connection (within
/// 15 s), reads the request head (5 s read timeout), then writes `reply` and
/// closes, or with `None` keeps the connection open and silent until the
/// test is done (at most 15 s). The thread returns the request bytes.
struct FakeServer {
    addr: SocketAddr,
    release: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<Vec<u8>>>,
}

impl FakeServer {
    fn start(reply: Option<&'static [u8]>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut stream = loop {
                match listener.accept() {
                    Ok((s, _)) => break s,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline
                            || !matches!(release_rx.try_recv(), Err(mpsc::TryRecvError::Empty))
                        {
                            return Vec::new();
                        }
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(e) => panic!("fake server accept: {e}"),
                }
            };
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream
                .set_write_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let request = read_request_head(&mut stream);
            match reply {
                Some(bytes) => {
                    let _ = stream.write_all(bytes);
                    let _ = stream.flush();
                    // Let the client see the reply before the close; then go.
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                    let _ = release_rx.recv_timeout(Duration::from_secs(15));
                }
                None => {
                    // Never answer; hold the connection until released.
                    let _ = release_rx.recv_timeout(Duration::from_secs(15));
                }
            }
            drop(stream);
            request
        });
        FakeServer {
            addr,
            release: Some(release_tx),
            thread: Some(thread),
        }
    }

    /// Releases the connection and returns the request the client sent.
    fn finish(mut self) -> Vec<u8> {
        self.stop()
    }

    fn stop(&mut self) -> Vec<u8> {
        if let Some(tx) = self.release.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().expect("fake server thread panicked"),
            None => Vec::new(),
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads until the end of a request head, EOF, error or 64 KiB.
fn read_request_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !contains(&got, b"\r\n\r\n") && got.len() < 64 * 1024 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

fn spawn_site_server(site: &TempSite, extra: &[&str]) -> BinaryServer {
    Binary::serving(site.root()).args(extra).spawn()
}

// ---------------------------------------------------------------------------
// `muxserve health` against a live server
// ---------------------------------------------------------------------------

#[test]
fn cli_healthy_with_explicit_url() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let url = format!("http://{}/", server.addr);
    let out = health_cli(&["--url", &url], &[]);
    assert_healthy(&out, &url, 200);
}

#[test]
fn cli_default_url_comes_from_muxserve_listen() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let addr = server.addr.to_string();
    let out = health_cli(&[], &[("MUXSERVE_LISTEN", &addr)]);
    assert_healthy(&out, &format!("http://{addr}/"), 200);
}

#[test]
fn cli_default_url_maps_unspecified_listen_address_to_loopback() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let port = server.addr.port();
    let listen = format!("0.0.0.0:{port}");
    let out = health_cli(&[], &[("MUXSERVE_LISTEN", &listen)]);
    assert_healthy(&out, &format!("http://127.0.0.1:{port}/"), 200);
}

#[test]
fn cli_default_url_falls_back_to_port_env() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let port = server.addr.port().to_string();
    let out = health_cli(&[], &[("PORT", &port)]);
    assert_healthy(&out, &format!("http://127.0.0.1:{port}/"), 200);
}

#[test]
fn cli_muxserve_listen_takes_precedence_over_port() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let addr = server.addr.to_string();
    let dead = free_port().to_string();
    let out = health_cli(&[], &[("MUXSERVE_LISTEN", &addr), ("PORT", &dead)]);
    assert_healthy(&out, &format!("http://{addr}/"), 200);
}

#[test]
fn cli_default_url_uses_muxserve_health_path() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &["--health-path", HEALTH]);
    // With the root gone only the health path can still answer 200, so a
    // healthy verdict proves the check asked for /healthz.
    fs::remove_dir_all(site.root()).unwrap();
    let addr = server.addr.to_string();
    let out = health_cli(
        &[],
        &[("MUXSERVE_LISTEN", &addr), ("MUXSERVE_HEALTH_PATH", HEALTH)],
    );
    assert_healthy(&out, &format!("http://{addr}{HEALTH}"), 200);

    let root_check = health_cli(&["--url", &format!("http://{addr}/")], &[]);
    assert_unhealthy(&root_check);
}

#[test]
fn cli_health_path_env_against_a_server_without_it_is_unhealthy() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let addr = server.addr.to_string();
    let out = health_cli(
        &[],
        &[("MUXSERVE_LISTEN", &addr), ("MUXSERVE_HEALTH_PATH", HEALTH)],
    );
    assert_unhealthy(&out);
    assert!(
        out.stderr
            .contains(&format!("http://{addr}{HEALTH} answered 404")),
        "{:?}",
        out.stderr
    );
}

#[test]
fn cli_redirect_counts_as_healthy() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    // A directory without its trailing slash redirects.
    let url = format!("http://{}/dir", server.addr);
    let out = health_cli(&["--url", &url], &[]);
    assert_healthy(&out, &url, 301);
}

#[test]
fn cli_not_found_is_unhealthy() {
    let site = TempSite::new();
    let server = spawn_site_server(&site, &[]);
    let url = format!("http://{}/missing", server.addr);
    let out = health_cli(&["--url", &url], &[]);
    assert_unhealthy(&out);
    assert!(
        out.stderr
            .contains(&format!("unhealthy: {url} answered 404")),
        "{:?}",
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// `muxserve health` against no server, a failing one, a silent one
// ---------------------------------------------------------------------------

#[test]
fn cli_stopped_server_is_unhealthy() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/");
    let out = health_cli(&["--url", &url, "--timeout", "2s"], &[]);
    assert_unhealthy(&out);
    assert!(out.stderr.contains(&url), "{:?}", out.stderr);

    // The same through the default URL.
    let listen = format!("127.0.0.1:{port}");
    let out = health_cli(&["--timeout", "2s"], &[("MUXSERVE_LISTEN", &listen)]);
    assert_unhealthy(&out);
}

#[test]
fn cli_server_error_is_unhealthy() {
    let fake = FakeServer::start(Some(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    ));
    let url = format!("http://{}/probe", fake.addr);
    let out = health_cli(&["--url", &url], &[]);
    let request = fake.finish();
    assert_unhealthy(&out);
    assert!(
        out.stderr
            .contains(&format!("unhealthy: {url} answered 500")),
        "{:?}",
        out.stderr
    );
    let request = String::from_utf8_lossy(&request);
    assert!(
        request.starts_with("GET /probe HTTP/1.1\r\n"),
        "the check must send one GET for the URL's path: {request:?}"
    );
}

#[test]
fn cli_service_unavailable_is_unhealthy() {
    let fake = FakeServer::start(Some(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\nConnection: close\r\n\r\ndraining\n",
    ));
    let url = format!("http://{}/", fake.addr);
    let out = health_cli(&["--url", &url], &[]);
    drop(fake);
    assert_unhealthy(&out);
    assert!(out.stderr.contains("answered 503"), "{:?}", out.stderr);
}

#[test]
fn cli_not_http_is_unhealthy() {
    let fake = FakeServer::start(Some(b"SSH-2.0-OpenSSH_9.6\r\n"));
    let url = format!("http://{}/", fake.addr);
    let out = health_cli(&["--url", &url], &[]);
    drop(fake);
    assert_unhealthy(&out);
}

#[test]
fn cli_silent_server_times_out_as_unhealthy() {
    let fake = FakeServer::start(None);
    let url = format!("http://{}/", fake.addr);
    let out = health_cli(&["--url", &url, "--timeout", "500ms"], &[]);
    let request = fake.finish();
    assert_unhealthy(&out);
    assert!(
        !request.is_empty(),
        "the check never sent its request to the silent server"
    );
    // The default timeout is 3 s: finishing before it shows --timeout is used.
    assert!(
        out.took < Duration::from_secs(3),
        "with --timeout 500ms the check took {:?}; stderr: {:?}",
        out.took,
        out.stderr
    );
}

// ---------------------------------------------------------------------------
// --health-path on the server
// ---------------------------------------------------------------------------

fn health_server() -> TestServer {
    TestServer::build()
        .config(|c| c.site.health_path = Some(HEALTH.into()))
        .start()
}

#[test]
fn health_path_get_answers_ok() {
    let s = health_server();
    let mut r = s.reader();
    for i in 0..3 {
        r.send(get_request(HEALTH));
        let resp = r.read_response();
        assert_ok_probe(&resp, true);
        assert!(
            !resp.has_token("Connection", "close"),
            "probe #{i} closed a keep-alive connection: {resp}"
        );
    }
}

#[test]
fn health_path_head_answers_ok_without_body() {
    let s = health_server();
    let (head, get) = pipelined_pair(s.addr(), &request_with("HEAD", HEALTH, &[]), HEALTH);
    assert_ok_probe(&head, false);
    assert_ok_probe(&get, true);
}

#[test]
fn only_the_exact_health_path_is_the_probe() {
    let s = health_server();
    for path in [
        "/healthz/",
        "/HEALTHZ",
        "/healthz.txt",
        "/health",
        "/healthzz",
    ] {
        let resp = s.get(path);
        assert_ne!(resp.body, b"ok\n", "{path} answered like the probe: {resp}");
        assert_eq!(resp.status, 404, "{path}: {resp}");
    }
}

#[test]
fn health_path_with_a_query_is_not_the_probe() {
    let s = health_server();
    for path in ["/healthz?x", "/healthz?x=1"] {
        let resp = s.get(path);
        assert_ne!(resp.body, b"ok\n", "{path} answered like the probe: {resp}");
        assert_eq!(resp.status, 404, "{path}: {resp}");
    }
}

#[test]
fn health_path_other_methods_are_not_the_probe() {
    let s = health_server();
    let resp = s.request(&request_with("POST", HEALTH, &[("Content-Length", "0")]));
    assert_eq!(resp.status, 405, "{resp}");
    assert_ne!(resp.body, b"ok\n", "{resp}");
}

#[test]
fn health_path_works_after_the_root_is_removed() {
    let s = health_server();
    assert_eq!(s.get("/index.html").status, 200);
    fs::remove_dir_all(s.root()).unwrap();
    assert!(!s.root().exists());
    assert_ok_probe(&s.get(HEALTH), true);
    assert_ok_probe(&s.request(&request_with("HEAD", HEALTH, &[])), false);
    // Files really are gone: only the probe still answers 200.
    assert_ne!(s.get("/index.html").status, 200);
}

#[test]
fn the_check_speaks_the_proxy_protocol_to_a_server_that_expects_it() {
    let s = TestServer::build()
        .config(|c| {
            c.site.health_path = Some(HEALTH.into());
            c.proxies.protocol = true;
        })
        .start();
    let url = format!("http://{}{HEALTH}", s.addr());
    // Without the header the server closes the connection unanswered.
    assert_unhealthy(&health_cli(&["--url", &url], &[]));
    assert_healthy(
        &health_cli(&["--url", &url, "--proxy-protocol"], &[]),
        &url,
        200,
    );
    // The server's own variable turns it on, as in an image configured by environment.
    let port = s.addr().port().to_string();
    let env = [
        ("MUXSERVE_PROXY_PROTOCOL", "true"),
        ("MUXSERVE_HEALTH_PATH", HEALTH),
        ("PORT", port.as_str()),
    ];
    let out = health_cli(&[], &env);
    assert_healthy(&out, &format!("http://127.0.0.1:{port}{HEALTH}"), 200);
}
