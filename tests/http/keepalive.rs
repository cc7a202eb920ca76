//! Persistent connections, pipelining, and HTTP/1.0 connection semantics.

use crate::support::*;

/// (request path, fixture file whose bytes the response must carry)
const FILES: &[(&str, &str)] = &[
    ("/", "index.html"),
    ("/style.css", "style.css"),
    ("/image.png", "image.png"),
    ("/dir/", "dir/index.html"),
    ("/noindex/a.txt", "noindex/a.txt"),
    ("/empty.txt", "empty.txt"),
    ("/file.unknownext", "file.unknownext"),
    ("/a%20space.txt", "a space.txt"),
    ("/caf%C3%A9.txt", "café.txt"),
];

#[test]
fn hundred_sequential_requests_on_one_connection() {
    let s = TestServer::start();
    let mut r = s.reader();
    for i in 0..100 {
        let (path, file) = FILES[i % FILES.len()];
        r.send(get_request(path));
        let resp = r.read_response();
        assert_eq!(resp.status, 200, "request #{i} {path}: {resp}");
        assert_eq!(resp.body, fixture(file), "request #{i} {path}");
        assert!(
            !resp.has_token("Connection", "close"),
            "request #{i}: server wants to close: {resp}"
        );
    }
}

#[test]
fn twenty_pipelined_requests_in_one_write() {
    let s = TestServer::start();
    let mut r = s.reader();
    let mut batch = String::new();
    let mut expected = Vec::new();
    for i in 0..20 {
        let (path, file) = FILES[(i * 5) % FILES.len()];
        batch.push_str(&get_request(path));
        expected.push((path, file));
    }
    r.send(batch);
    for (i, (path, file)) in expected.into_iter().enumerate() {
        let resp = r.read_response();
        assert_eq!(resp.status, 200, "pipelined #{i} {path}: {resp}");
        assert_eq!(
            resp.body,
            fixture(file),
            "pipelined #{i} {path} out of order?"
        );
    }
    // nothing extra
    r.set_read_timeout(std::time::Duration::from_millis(300));
    match r.poll() {
        ReadOutcome::TimedOut => {}
        other => panic!("after 20 responses expected silence, got {other:?}"),
    }
}

/// Requests pipelined in one write, sized so that every full read of the server's 16 KiB buffer
/// ends exactly between two of them: after answering a buffer's worth, nothing is left over to
/// say more is coming, yet the socket still holds the rest, and no new event will announce it.
#[test]
fn pipelined_requests_that_fill_the_read_buffer_exactly_are_all_answered() {
    use std::io::Write;
    const SIZE: usize = 64;
    const COUNT: usize = 2048;
    let base = "GET /empty.txt HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n";
    let request = base.replace(
        "X-Pad: ",
        &format!("X-Pad: {}", "p".repeat(SIZE - base.len())),
    );
    assert_eq!(request.len(), SIZE);
    assert_eq!(16 * 1024 % SIZE, 0);
    let s = TestServer::start();
    let stream = s.connect();
    let mut writer = stream.try_clone().unwrap();
    let all = request.repeat(COUNT);
    let sender = std::thread::spawn(move || writer.write_all(all.as_bytes()));
    let mut r = ResponseReader::new(stream);
    r.set_read_timeout(std::time::Duration::from_secs(5));
    for i in 0..COUNT {
        let resp = r.read_response();
        assert_eq!(resp.status, 200, "pipelined #{i}: {resp}");
        assert!(resp.body.is_empty(), "pipelined #{i}");
    }
    sender.join().unwrap().unwrap();
}

#[test]
fn pipelined_mix_of_get_head_404_and_options() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(concat!(
        "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n",
        "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /image.png HTTP/1.1\r\nHost: x\r\n\r\n",
    ));
    let a = r.read_response();
    assert_eq!(
        (a.status, a.body.as_slice()),
        (200, &fixture("style.css")[..])
    );
    let b = r.read_head_response();
    assert_eq!(b.status, 200);
    assert_eq!(b.content_length(), Some(fixture("index.html").len() as u64));
    let c = r.read_response();
    assert_eq!(c.status, 404, "{c}");
    assert_eq!(c.body, fixture("404.html"));
    let d = r.read_response();
    assert_eq!(d.status, 204, "{d}");
    let e = r.read_response();
    assert_eq!(
        (e.status, e.body.as_slice()),
        (200, &fixture("image.png")[..])
    );
}

#[test]
fn http11_connection_close_closes() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send("GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let resp = r.read_response();
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
    assert!(resp.has_token("Connection", "close"), "{resp}");
    r.expect_eof();
}

#[test]
fn http11_connection_close_in_pipeline_stops_there() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send(concat!(
        "GET /style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "GET /image.png HTTP/1.1\r\nHost: x\r\n\r\n",
    ));
    let resp = r.read_response();
    assert_eq!(resp.body, fixture("style.css"));
    r.expect_eof();
}

#[test]
fn http10_without_keep_alive_closes() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send("GET /style.css HTTP/1.0\r\nHost: x\r\n\r\n");
    let resp = r.read_response();
    assert_eq!(resp.status, 200, "{resp}");
    assert_eq!(resp.body, fixture("style.css"));
    assert!(
        !resp.has_token("Connection", "keep-alive"),
        "HTTP/1.0 without keep-alive must not be kept alive: {resp}"
    );
    r.expect_eof();
}

#[test]
fn http10_with_keep_alive_stays_open() {
    let s = TestServer::start();
    let mut r = s.reader();
    r.send("GET /style.css HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    let first = r.read_response();
    assert_eq!(first.status, 200, "{first}");
    assert!(first.has_token("Connection", "keep-alive"), "{first}");
    assert_eq!(first.body, fixture("style.css"));
    r.send("GET /image.png HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    let second = r.read_response();
    assert_eq!(second.status, 200, "{second}");
    assert_eq!(second.body, fixture("image.png"));
    // a third without keep-alive ends it
    r.send("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
    let third = r.read_response();
    assert_eq!(third.body, fixture("index.html"));
    r.expect_eof();
}

#[test]
fn http11_is_persistent_by_default() {
    use std::io::Write;
    let s = TestServer::start();
    // The free `read_response` never reads past the response it returns.
    let mut stream = s.connect();
    stream
        .write_all(format!("{}{}", get_request("/"), get_request("/style.css")).as_bytes())
        .unwrap();
    let first = read_response(&mut stream);
    assert_eq!(first.status, 200);
    assert_eq!(first.body, fixture("index.html"));
    assert!(!first.has_token("Connection", "close"), "{first}");
    let second = read_response(&mut stream);
    assert_eq!(second.body, fixture("style.css"));
    stream
        .write_all(get_request("/image.png").as_bytes())
        .unwrap();
    let third = read_response(&mut stream);
    assert_eq!(third.body, fixture("image.png"));
}

#[test]
fn many_clients_interleaved() {
    let s = TestServer::start();
    let mut readers: Vec<_> = (0..16).map(|_| s.reader()).collect();
    for round in 0..5 {
        for (i, r) in readers.iter_mut().enumerate() {
            let (path, _) = FILES[(i + round) % FILES.len()];
            r.send(get_request(path));
        }
        for (i, r) in readers.iter_mut().enumerate() {
            let (path, file) = FILES[(i + round) % FILES.len()];
            let resp = r.read_response();
            assert_eq!(resp.status, 200, "client {i} round {round} {path}");
            assert_eq!(resp.body, fixture(file), "client {i} round {round} {path}");
        }
    }
}

#[test]
fn a_queue_longer_than_the_pool_loses_no_request() {
    // One worker and 48 busy clients keep jobs queued, so the reactor keeps waiting for the
    // worker to catch up before it polls (src/pace.rs). Every request must still be answered,
    // and a client that connects in the middle of it too.
    let s = TestServer::build().config(|c| c.workers = 1).start();
    let addr = s.addr();
    let clients: Vec<_> = (0..48)
        .map(|i| {
            std::thread::spawn(move || {
                let mut r = ResponseReader::new(connect_to(addr));
                for n in 0..150 {
                    let (path, file) = FILES[(i + n) % FILES.len()];
                    r.send(get_request(path));
                    let resp = r.read_response();
                    assert_eq!(resp.status, 200, "client {i} request {n} {path}");
                    assert_eq!(resp.body, fixture(file), "client {i} request {n} {path}");
                }
            })
        })
        .collect();
    let late = s.get("/style.css");
    assert_eq!(late.body, fixture("style.css"));
    for c in clients {
        c.join().expect("a client failed");
    }
}

/// One worker, and a client that never stops pipelining: bytes keep arriving while the worker
/// holds its connection, so one drive could go on for ever, and a worker drives a connection
/// again at once after an edge; both only while nobody else waits. Another client's requests
/// are answered at once all the same.
#[test]
fn a_client_that_never_stops_pipelining_does_not_hold_the_only_worker() {
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let s = TestServer::build().config(|c| c.workers = 1).start();
    let greedy = s.connect();
    let control = greedy.try_clone().unwrap();
    let mut writer = greedy.try_clone().unwrap();
    let mut reader = greedy;
    let stop = Arc::new(AtomicBool::new(false));
    let stop_writing = stop.clone();
    let batch = get_request("/image.png").repeat(64);
    let feeder = std::thread::spawn(move || {
        while !stop_writing.load(Ordering::SeqCst) {
            if writer.write_all(batch.as_bytes()).is_err() {
                break;
            }
        }
    });
    let stop_reading = stop.clone();
    let drainer = std::thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        reader
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        while !stop_reading.load(Ordering::SeqCst) {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => total += n as u64,
                Err(_) => {}
            }
        }
        total
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut r = s.reader();
    r.set_read_timeout(Duration::from_secs(5));
    let started = Instant::now();
    for i in 0..20 {
        r.send(get_request("/style.css"));
        let resp = r.read_response();
        assert_eq!(resp.body, fixture("style.css"), "request #{i}");
    }
    // About a millisecond each when the pipelining drive yields after each batch; about 200 ms
    // each when one drive went on while the client kept sending.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "20 requests took {:?} behind the pipelining client",
        started.elapsed()
    );
    stop.store(true, Ordering::SeqCst);
    // A writer blocked on a full socket would never see the flag.
    let _ = control.shutdown(std::net::Shutdown::Both);
    let received = drainer.join().unwrap();
    feeder.join().unwrap();
    assert!(received > 0, "the pipelining client was never answered");
}
