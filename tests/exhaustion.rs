//! Resource exhaustion against the real binary: running out of descriptors
//! must not make the accept loop spin or kill the process, and the
//! connection limit must hold new clients in the backlog, not drop them.
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
    let mut server = Binary::serving(site.root())
        .args(["--max-connections", "10000", "--workers", "2"])
        .limit_nofile(SERVER_NOFILE)
        .spawn();
    let pid = server.pid();
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
            == 2,
        "the child's limit is not 256/256: {open_files:?}"
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
