//! A 50 MiB file through slow readers: the server must park on writability
//! and deliver every byte intact.

mod support;

use std::io::Read;
use std::thread;
use std::time::Duration;

use support::*;

const BIG: usize = 50 * 1024 * 1024;

fn big_server(workers: usize) -> (TestServer, String) {
    let mut sha = String::new();
    let s = TestServer::build()
        .site(|site| {
            sha = write_random_file(&site.root().join("big.bin"), BIG, 0x9e37_79b9_7f4a_7c15)
        })
        .config(|c| c.workers = workers)
        .start();
    (s, sha)
}

#[test]
fn fifty_mib_through_a_slow_reader_arrives_intact() {
    let (s, sha) = big_server(2);
    let dl = slow_download(s.connect(), "/big.bin", |_| {}).expect("download");
    assert_eq!(dl.response.status, 200);
    assert_eq!(dl.response.content_length(), Some(BIG as u64));
    assert_eq!(
        dl.response.header("Content-Type"),
        Some("application/octet-stream")
    );
    assert_eq!(dl.received, BIG as u64);
    assert_eq!(dl.sha256, sha, "50 MiB body corrupted");
}

#[test]
fn two_concurrent_slow_downloads_arrive_intact() {
    let (s, sha) = big_server(2);
    let addr = s.addr();
    let handles: Vec<_> = (0..2)
        .map(|_| thread::spawn(move || slow_download(connect_to(addr), "/big.bin", |_| {})))
        .collect();
    for h in handles {
        let dl = h.join().unwrap().expect("download");
        assert_eq!(dl.received, BIG as u64);
        assert_eq!(dl.sha256, sha);
    }
}

/// Three downloads at full speed on one worker: a file's turn ends whenever another connection
/// waits, and the one that yielded goes on after it (no event announces a socket that still has
/// room), so all of them finish, interleaved.
#[test]
fn fast_downloads_sharing_one_worker_take_turns_and_all_finish() {
    let (s, sha) = big_server(1);
    let addr = s.addr();
    let handles: Vec<_> = (0..3)
        .map(|_| {
            thread::spawn(move || {
                let mut r = ResponseReader::new(connect_to(addr));
                r.set_read_timeout(Duration::from_secs(10));
                r.send(get_request("/big.bin"));
                r.read_response()
            })
        })
        .collect();
    for h in handles {
        let resp = h.join().unwrap();
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body.len(), BIG);
        assert_eq!(sha256_hex(&resp.body), sha);
    }
}

#[test]
fn head_of_large_file_reports_length_without_body() {
    let (s, _) = big_server(2);
    let mut r = s.reader();
    r.send("HEAD /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = r.read_head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.content_length(), Some(BIG as u64));
    let next = r.read_response();
    assert_eq!(next.body, fixture("style.css"));
}

#[test]
fn stalled_download_does_not_block_other_clients() {
    // One worker only: if sending a file blocked a worker, the stalled
    // download would starve everyone else.
    let (s, sha) = big_server(1);
    let mut stalled = s.reader();
    stalled.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    let head = stalled.read_head().expect("head of the big file");
    assert_eq!(head.status, 200);
    // Stop reading now; the server's send buffer fills up.
    thread::sleep(Duration::from_millis(300));
    for i in 0..10 {
        let resp = s.get("/style.css");
        assert_eq!(resp.status, 200, "request #{i} during a stalled download");
        assert_eq!(resp.body, fixture("style.css"));
    }
    // The stalled download then completes intact.
    let mut body = stalled.take_buffered();
    let mut buf = vec![0u8; 256 * 1024];
    let stream = stalled.get_mut();
    while body.len() < BIG {
        let n = stream.read(&mut buf).expect("reading the rest");
        assert!(n > 0, "EOF after {} bytes", body.len());
        body.extend_from_slice(&buf[..n]);
    }
    assert_eq!(body.len(), BIG);
    assert_eq!(sha256_hex(&body), sha);
}

#[test]
fn big_then_small_response_on_one_connection() {
    // Big response followed by small ones on the same connection: framing
    // must stay exact after a sendfile-style transfer.
    let (s, sha) = big_server(2);
    let mut r = s.reader();
    r.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\n");
    let big = r.read_response();
    assert_eq!(big.status, 200);
    assert_eq!(sha256_hex(&big.body), sha);
    let small = r.read_response();
    assert_eq!(small.body, fixture("style.css"));
}
