//! Resource exhaustion against the real binary: the connection limit fits
//! the descriptor limit, running out of descriptors anyway must not make the
//! accept loop spin or kill the process, a file that cannot be opened for
//! want of one is a 503, the connection limit holds new clients in the
//! backlog, not drop them, and a reader that stalls makes the kernel queue
//! little for it.
//!
//! Every test here spawns its own muxserve process (so its /proc entries and
//! its RLIMIT_NOFILE are its own) and finishes well under 30 s.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use support::*;

/// Opens `n` idle client connections to `addr` (TCP handshake only: the
/// kernel completes it while the connection waits in the accept backlog).
fn open_idle(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("idle connection #{i} of {n}: {e}"));
            c.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            c.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
            c
        })
        .collect()
}

/// A 64 MiB sparse `big.bin` in `site`: larger than the memory cache takes and than a stalled
/// socket buffers, so every connection answered holds the file open as well as its socket.
fn big_file(site: &TempSite) {
    std::fs::File::create(site.root().join("big.bin"))
        .and_then(|f| f.set_len(64 << 20))
        .unwrap();
}

/// `n` clients that each ask `addr` for `/big.bin` and read nothing.
fn stalled_downloads(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("client #{i}: {e}"));
            c.write_all(get_request("/big.bin").as_bytes()).unwrap();
            c
        })
        .collect()
}

/// GET / on a fresh connection, retried until `limit`: Ok(time to the
/// response) or Err(the last failure).
fn get_within(addr: std::net::SocketAddr, limit: Duration) -> Result<(Duration, Response), String> {
    let start = Instant::now();
    let mut last = String::from("never tried");
    while start.elapsed() < limit {
        let left = limit
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(50));
        match TcpStream::connect_timeout(&addr, left) {
            Ok(s) => {
                s.set_read_timeout(Some(left)).unwrap();
                s.set_write_timeout(Some(left)).unwrap();
                let mut r = ResponseReader::new(s);
                r.send(get_request("/index.html"));
                match r.try_read_response() {
                    Ok(resp) => return Ok((start.elapsed(), resp)),
                    Err(e) => last = format!("reading the response: {e}"),
                }
            }
            Err(e) => last = format!("connect: {e}"),
        }
        thread::sleep(Duration::from_millis(50));
    }
    Err(last)
}

#[test]
fn descriptor_exhaustion_neither_spins_nor_dies_and_service_resumes() {
    const SERVER_NOFILE: u64 = 256;
    const CLIENTS: usize = 1000;
    let own = raise_fd_limit();
    assert!(
        own >= (CLIENTS + 100) as libc::rlim_t,
        "the test's own RLIMIT_NOFILE ({own}) is too low for {CLIENTS} client sockets"
    );
    let site = TempSite::new();
    // The server sizes its connection limit to the descriptors it starts with (the next test);
    // here the limit drops beneath it once it runs, so accepting itself meets EMFILE.
    let mut server = Binary::serving(site.root())
        .args(["--max-connections", "1000", "--workers", "2"])
        .limit_nofile(4096)
        .spawn();
    let pid = server.pid();
    set_soft_nofile_of(pid, SERVER_NOFILE);
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("?")
        .to_string();
    assert!(
        open_files
            .split_whitespace()
            .filter(|w| *w == "256")
            .count()
            == 1,
        "the child's soft limit is not 256: {open_files:?}"
    );
    let resp = server.request(&get_request("/index.html"));
    assert_eq!(resp.status, 200, "before the flood: {resp}");
    let baseline_fds = proc_fd_count(pid);

    let started = Instant::now();
    let idle = open_idle(server.addr, CLIENTS);
    let opened_in = started.elapsed();

    // Let the server take what it can: it fills its table up to the limit.
    let settle = Instant::now();
    let mut fds = proc_fd_count(pid);
    while fds < SERVER_NOFILE as usize - 2 && settle.elapsed() < Duration::from_secs(3) {
        thread::sleep(Duration::from_millis(50));
        fds = proc_fd_count(pid);
    }
    thread::sleep(Duration::from_millis(300));

    // (a) alive
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "muxserve exited under descriptor exhaustion; stderr: {}",
        server.stderr()
    );
    let fds_at_limit = proc_fd_count(pid);
    assert!(
        fds_at_limit >= SERVER_NOFILE as usize - 16,
        "expected the server near its descriptor limit, it holds {fds_at_limit} of {SERVER_NOFILE}"
    );

    // (b) no spinning while out of descriptors and holding idle connections.
    let log_before = server.stderr().lines().count();
    let cpu0 = proc_cpu_seconds(pid);
    let t0 = Instant::now();
    thread::sleep(Duration::from_secs(2));
    let cpu1 = proc_cpu_seconds(pid);
    let window = t0.elapsed();
    let used = cpu1 - cpu0;
    let log_lines = server.stderr().lines().count() - log_before;
    eprintln!(
        "exhaustion: {CLIENTS} connects in {opened_in:?}; server fds {baseline_fds} -> \
         {fds_at_limit} (limit {SERVER_NOFILE}); CPU {used:.2} s over {window:.2?}; \
         {log_lines} stderr lines in the window; limits: {open_files}"
    );
    assert!(
        used < 0.5,
        "muxserve used {used:.2} s of CPU in a {window:?} window while out of descriptors \
         with {CLIENTS} idle clients (a busy accept loop uses ~the whole window)"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "muxserve exited during the window; stderr: {}",
        server.stderr()
    );

    // (c) close everything; a normal request is served within 5 s.
    drop(idle);
    let (took, resp) = get_within(server.addr, Duration::from_secs(5)).unwrap_or_else(|e| {
        panic!(
            "no response within 5 s after the {CLIENTS} clients closed: {e}; server fds: {}; stderr: {}",
            proc_fd_count(pid),
            server.stderr()
        )
    });
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("index.html"));
    eprintln!("exhaustion: service resumed {took:?} after the clients closed");
    // And the descriptors come back.
    let back = wait_fd_count_at_most(pid, baseline_fds, Duration::from_secs(5));
    assert!(
        back.is_ok(),
        "server holds {:?} descriptors 5 s after all clients closed (baseline {baseline_fds})",
        back
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "muxserve exited"
    );
}

#[test]
fn accepted_connections_alone_never_run_the_server_out_of_descriptors() {
    const SERVER_NOFILE: u64 = 256;
    // (256 - 32 reserved - 2 workers × 2 - 2 × 16 the file cache may keep open) / 2
    // descriptors a connection.
    const ALLOWED: usize = 94;
    const CLIENTS: usize = 300;
    let own = raise_fd_limit();
    assert!(
        own >= (CLIENTS + 100) as libc::rlim_t,
        "the test's own RLIMIT_NOFILE ({own})"
    );
    let site = TempSite::new();
    big_file(&site);
    // Without the file cache each download holds a descriptor of its own, the budget's worst
    // case; with it, downloads of one file share one.
    let server = Binary::serving(site.root())
        .args(["--max-connections", "10000", "--workers", "2"])
        .args(["--file-cache-size", "0"])
        .limit_nofile(SERVER_NOFILE)
        .spawn();
    let pid = server.pid();
    let warning = format!(
        "warning: --max-connections 10000 lowered to {ALLOWED}: the open-file limit is {SERVER_NOFILE}"
    );
    assert!(
        server.stderr().contains(&warning),
        "no '{warning}' in: {}",
        server.stderr()
    );
    let baseline_fds = proc_fd_count(pid);

    let downloads = stalled_downloads(server.addr, CLIENTS);
    // The server takes what its budget allows; wait until its table stops growing.
    let settle = Instant::now();
    let mut fds = proc_fd_count(pid);
    loop {
        thread::sleep(Duration::from_millis(300));
        let now = proc_fd_count(pid);
        if now == fds || settle.elapsed() > Duration::from_secs(5) {
            break;
        }
        fds = now;
    }
    let peak = proc_fd_count(pid);
    eprintln!(
        "budget: {CLIENTS} stalled downloads; server fds {baseline_fds} -> {peak} (limit {SERVER_NOFILE})"
    );
    assert!(
        peak >= baseline_fds + 2 * (ALLOWED - 10),
        "the server should hold about {ALLOWED} downloads, two descriptors each; it holds {peak} (baseline {baseline_fds})"
    );
    assert!(
        peak < SERVER_NOFILE as usize,
        "the server reached its descriptor limit: {peak} of {SERVER_NOFILE}"
    );
    let stderr = server.stderr();
    assert!(
        !stderr.contains("pausing new connections") && !stderr.contains("failed"),
        "the server met EMFILE: {stderr}"
    );

    // The downloads go; the next client is answered.
    drop(downloads);
    let (took, resp) = get_within(server.addr, Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("no response after the downloads closed: {e}"));
    assert_eq!(resp.status, 200, "{resp}");
    eprintln!("budget: service resumed {took:?} after the downloads closed");
}

/// A file served while its sidecars could not be looked up (no descriptor left for them) is
/// served, but not cached with "no sidecars": once descriptors are free, a client that takes
/// gzip gets the `.gz` beside it.
#[test]
fn a_file_whose_sidecars_could_not_be_looked_up_is_not_cached_without_them() {
    let site = TempSite::new();
    let large = "body { color: red }\n".repeat(4000);
    for (name, body) in [("small.css", "a { }\n".to_string()), ("large.css", large)] {
        std::fs::write(site.root().join(name), &body).unwrap();
        std::fs::write(
            site.root().join(format!("{name}.gz")),
            gzip(body.as_bytes()),
        )
        .unwrap();
    }
    let server = Binary::serving(site.root())
        .args(["--workers", "1"])
        .spawn();
    let pid = server.pid();
    let mut r = ResponseReader::new(server.connect());
    // Accepted only once it sends (TCP_DEFER_ACCEPT): its socket must not take the last slot.
    r.send(get_request("/missing"));
    assert_eq!(r.read_response().status, 404);
    for name in ["small.css", "large.css"] {
        let path = format!("/{name}");
        // One descriptor left: the file opens, its sidecars' lookups meet EMFILE.
        let before = set_soft_nofile_of(pid, lowest_free_fd(pid) + 1);
        r.send(get_request(&path));
        let resp = r.read_response();
        set_soft_nofile_of(pid, before);
        assert_eq!(resp.status, 200, "{path} with one descriptor left: {resp}");
        assert_eq!(resp.header("content-encoding"), None, "{resp}");
        r.send(format!(
            "GET {path} HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n"
        ));
        let resp = r.read_response();
        assert_eq!(
            (resp.status, resp.header("content-encoding")),
            (200, Some("gzip")),
            "{path} once descriptors are free: {resp}"
        );
    }
}

#[test]
fn a_file_that_cannot_be_opened_for_want_of_descriptors_gets_503_with_retry_after() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .args(["--workers", "1"])
        .spawn();
    let pid = server.pid();
    let mut r = ResponseReader::new(server.connect());
    r.send(get_request("/index.html"));
    let resp = r.read_response();
    assert_eq!(resp.status, 200, "{resp}");

    // The next descriptor the process would open is beyond its limit: opening any file fails
    // with EMFILE, while the open connection goes on.
    let before = set_soft_nofile_of(pid, lowest_free_fd(pid));
    for path in ["/style.css", "/no-such-page"] {
        r.send(get_request(path));
        let resp = r.read_response();
        assert_eq!(resp.status, 503, "{path} out of descriptors: {resp}");
        assert_eq!(resp.header("retry-after"), Some("1"), "{resp}");
        assert!(!resp.has_token("connection", "close"), "{resp}");
    }
    // A file the memory cache holds needs no descriptor: it is still served.
    r.send(get_request("/index.html"));
    let resp = r.read_response();
    assert_eq!(
        resp.status, 200,
        "the cached /index.html out of descriptors: {resp}"
    );
    set_soft_nofile_of(pid, before);
    r.send(get_request("/style.css"));
    let resp = r.read_response();
    assert_eq!(resp.status, 200, "once descriptors are free again: {resp}");
    assert_eq!(resp.body, fixture("style.css"));
    let logged = server
        .stderr()
        .matches("answering 503 until descriptors free up")
        .count();
    assert_eq!(
        logged,
        1,
        "one log line for the episode: {}",
        server.stderr()
    );
}

#[test]
fn connection_limit_holds_the_next_client_in_the_backlog_until_a_slot_frees() {
    const LIMIT: usize = 50;
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .args(["--max-connections", "50", "--workers", "2"])
        .spawn();
    // 50 connections, each proven accepted by a response, then left idle.
    let mut held: Vec<ResponseReader<TcpStream>> = Vec::with_capacity(LIMIT);
    for i in 0..LIMIT {
        let mut r = ResponseReader::new(server.connect());
        r.send(get_request("/style.css"));
        let resp = r
            .try_read_response()
            .unwrap_or_else(|e| panic!("connection #{i} of {LIMIT}: {e}"));
        assert_eq!(resp.status, 200, "connection #{i}: {resp}");
        held.push(r);
    }

    // The 51st: the handshake completes in the kernel, the request is not read.
    let mut extra = ResponseReader::new(server.connect());
    extra.send(get_request("/index.html"));
    extra.set_read_timeout(Duration::from_secs(1));
    match extra.poll() {
        ReadOutcome::TimedOut => {}
        other => panic!(
            "connection #{} over --max-connections {LIMIT} got {other:?} within 1 s; expected to wait in the backlog",
            LIMIT + 1
        ),
    }

    // Free 10 slots: the waiting client is accepted and answered.
    let freed_at = Instant::now();
    for r in held.drain(..10) {
        drop(r);
    }
    extra.set_read_timeout(Duration::from_secs(5));
    let resp = extra
        .try_read_response()
        .unwrap_or_else(|e| panic!("the waiting client after 10 slots were freed: {e}"));
    let took = freed_at.elapsed();
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("index.html"));
    eprintln!("connection limit: the 51st client was answered {took:?} after 10 slots freed");

    // The 40 still held are still served.
    for (i, r) in held.iter_mut().enumerate().step_by(7) {
        r.get_mut()
            .write_all(get_request("/style.css").as_bytes())
            .unwrap();
        let resp = r
            .try_read_response()
            .unwrap_or_else(|e| panic!("held connection #{i}: {e}"));
        assert_eq!(resp.status, 200, "held connection #{i}: {resp}");
    }
}

/// A client that asks for a large file and reads nothing: without a bound, send-buffer
/// autotuning let the kernel queue megabytes for it (3.5 to 3.8 MiB each, measured; 1000 slow
/// readers reached the host's TCP memory limit). `TCP_NOTSENT_LOWAT` on the listener bounds
/// what is queued beyond the client's window to 512 KiB.
#[test]
fn a_stalled_reader_makes_the_kernel_queue_little_for_it() {
    const READERS: usize = 8;
    const BOUND: u64 = 1024 * 1024;
    let site = TempSite::new();
    big_file(&site);
    let server = Binary::serving(site.root()).spawn();
    let readers = stalled_downloads(server.addr, READERS);
    // The queues fill within milliseconds; autotuning needs a moment more to grow them.
    let start = Instant::now();
    let mut queues;
    loop {
        thread::sleep(Duration::from_millis(200));
        queues = send_queues_of_port(server.addr.port());
        let filled = queues.len() == READERS && queues.iter().all(|&q| q > 0);
        if (filled && start.elapsed() > Duration::from_secs(2))
            || start.elapsed() > Duration::from_secs(10)
        {
            break;
        }
    }
    eprintln!("stalled readers: the kernel holds {queues:?} bytes for each");
    assert_eq!(queues.len(), READERS, "{queues:?}");
    assert!(
        queues.iter().all(|&q| q > 0 && q <= BOUND),
        "a stalled reader's send queue should be above 0 and at most {BOUND} bytes: {queues:?}"
    );
    drop(readers);
    assert_eq!(server.request(&get_request("/index.html")).status, 200);
}

/// The default connection limit fits the open-file limit too, but nobody asked for it, so it is
/// said as information, not as a warning (a container runtime's default limit would otherwise
/// warn at every start); a number someone set gets the warning.
#[test]
fn the_default_limit_is_lowered_without_a_warning_and_a_given_one_with() {
    let site = TempSite::new();
    let server = Binary::serving(site.root())
        .args(["--workers", "2"])
        .limit_nofile(256)
        .spawn();
    let stderr = server.stderr();
    assert!(
        stderr.contains("muxserve: at most 94 connections (not 10000): the open-file limit is 256"),
        "{stderr}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_eq!(server.request(&get_request("/index.html")).status, 200);
    let given = Binary::serving(site.root())
        .args(["--workers", "2"])
        .env("MUXSERVE_MAX_CONNECTIONS", "500")
        .limit_nofile(256)
        .spawn();
    let stderr = given.stderr();
    assert!(
        stderr.contains("muxserve: warning: --max-connections 500 lowered to 94"),
        "{stderr}"
    );
}
