//! Writing a response head: a typical 200 for a static file, into a reused buffer.
//!
//! `cargo bench --bench head`; see bench/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use muxserve::http::response::{HeadWriter, Status};

/// The head `muxserve` sends for `GET /assets/app.3f9a1c.js` with the default options.
fn write_200(out: &mut Vec<u8>, len: u64, etag: &[u8], mtime: u64) {
    let mut w = HeadWriter::new(out, Status::Ok);
    w.content_type("text/javascript", true);
    w.content_length(len);
    w.header(b"Accept-Ranges", b"bytes");
    w.header(b"ETag", etag);
    w.http_date(b"Last-Modified", mtime);
    w.header(b"Cache-Control", b"public, max-age=31536000, immutable");
    w.header(b"Vary", b"Accept-Encoding");
    w.raw(b"X-Content-Type-Options: nosniff\r\n");
    w.finish();
}

fn bench_head(c: &mut Criterion) {
    let etag = b"\"65f1c2a0-1a2b-3c4d\"";
    let mtime = 1_710_322_880;
    let mut out = Vec::with_capacity(1024);
    write_200(&mut out, 48_213, etag, mtime);
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n") && out.ends_with(b"\r\n\r\n"));
    let size = out.len();

    let mut g = c.benchmark_group("response::HeadWriter");
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function("typical_200", |b| {
        b.iter(|| {
            out.clear();
            write_200(
                &mut out,
                black_box(48_213),
                black_box(etag),
                black_box(mtime),
            );
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_head);
criterion_main!(benches);
