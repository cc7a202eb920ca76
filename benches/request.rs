//! Request-side hot paths: parsing a request head and discarding a chunked body.
//!
//! `cargo bench --bench request`; see bench/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use muxserve::http::body::Discard;
use muxserve::http::request::{BodyFraming, Limits, Parsed, parse};

/// The server's defaults (`--max-head-size`, `--max-uri-length`, `--max-body-size`,
/// `--max-headers`).
const LIMITS: Limits = Limits {
    max_head: 16 * 1024,
    max_uri: 8 * 1024,
    max_body: 1024 * 1024,
    max_headers: 100,
};

/// What wrk sends for `wrk http://127.0.0.1:8080/small.txt` (no script, no -H).
const WRK_GET: &[u8] = b"GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

/// A Chrome navigation to a page: about 600 bytes of head.
const BROWSER_GET: &[u8] = b"GET /assets/app.3f9a1c.js?v=2 HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: */*\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: no-cors\r\n\
Sec-Fetch-Dest: script\r\n\
Referer: https://www.example.com/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n\
If-None-Match: \"65f1c2a0-1a2b-3c4d\"\r\n\
If-Modified-Since: Wed, 13 Mar 2024 09:41:20 GMT\r\n\
\r\n";

/// A chunked body of 16 chunks of 1 KiB, with one chunk extension and a trailer field.
fn chunked_body() -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..16 {
        if i == 3 {
            body.extend_from_slice(b"400;name=value\r\n");
        } else {
            body.extend_from_slice(b"400\r\n");
        }
        body.extend(std::iter::repeat_n(b'x', 1024));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\nX-Checksum: 1234\r\n\r\n");
    body
}

fn head_len(buf: &[u8]) -> usize {
    match parse(buf, &LIMITS) {
        Ok(Parsed::Complete { len, .. }) => len,
        other => panic!("benchmark input does not parse: {other:?}"),
    }
}

fn bench_parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("request::parse");
    for (name, buf) in [("wrk_get", WRK_GET), ("browser_get", BROWSER_GET)] {
        assert_eq!(head_len(buf), buf.len(), "{name} must be one whole head");
        g.throughput(Throughput::Bytes(buf.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| match parse(black_box(buf), &LIMITS) {
                Ok(Parsed::Complete { head, len }) => {
                    black_box(&head);
                    len
                }
                _ => 0,
            })
        });
    }
    g.finish();
}

fn bench_discard(c: &mut Criterion) {
    let body = chunked_body();
    // Sanity: the whole body is consumed and the state ends Done.
    let mut d = Discard::new(BodyFraming::Chunked);
    assert_eq!(d.consume(&body, LIMITS.max_body), Ok(body.len()));
    assert!(d.is_done());

    let mut g = c.benchmark_group("body::Discard");
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("chunked_16x1KiB_one_call", |b| {
        b.iter(|| {
            let mut d = Discard::new(BodyFraming::Chunked);
            d.consume(black_box(&body), LIMITS.max_body)
        })
    });
    // The same body as it would arrive in 1460-byte segments (one read per segment).
    g.bench_function("chunked_16x1KiB_mss_pieces", |b| {
        b.iter(|| {
            let mut d = Discard::new(BodyFraming::Chunked);
            let mut total = 0;
            for piece in black_box(&body).chunks(1460) {
                match d.consume(piece, LIMITS.max_body) {
                    Ok(n) => total += n,
                    Err(_) => return 0,
                }
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench_parse, bench_discard);
criterion_main!(benches);
