//! Site-side pure functions on the request path: path normalisation, Range and Accept-Encoding.
//!
//! `cargo bench --bench resolve`; see bench/BENCHMARKS.md.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use muxserve::site::encoding::{AcceptEncoding, Available};
use muxserve::site::range;
use muxserve::site::resolve::normalize;

const PATHS: [(&str, &str); 3] = [
    ("root", "/"),
    ("hashed_asset", "/assets/app.3f9a1c.js"),
    (
        "deep_escaped",
        "/docs/guide/caf%C3%A9%20menu/2024/r%C3%A9sum%C3%A9s/./section%201/../section%202/index%2Ehtml",
    ),
];

fn bench_normalize(c: &mut Criterion) {
    let mut g = c.benchmark_group("resolve::normalize");
    // The worker reuses one output buffer; so does the benchmark.
    let mut out = Vec::with_capacity(256);
    for (name, path) in PATHS {
        assert!(
            normalize(path, &mut out).is_ok(),
            "{name} must normalise: {path}"
        );
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = normalize(black_box(path), &mut out);
                black_box(&out);
                r
            })
        });
    }
    g.finish();
}

fn bench_range(c: &mut Criterion) {
    let mut g = c.benchmark_group("range::parse");
    const LEN: u64 = 10 * 1024 * 1024;
    for (name, value) in [
        ("single", &b"bytes=0-1023"[..]),
        ("suffix", &b"bytes=-500"[..]),
        ("multi_3", &b"bytes=0-99, 200-299, 1000-"[..]),
    ] {
        g.bench_function(name, |b| b.iter(|| range::parse(black_box(value), LEN)));
    }
    g.finish();
}

fn bench_accept_encoding(c: &mut Criterion) {
    let mut g = c.benchmark_group("encoding::AcceptEncoding::parse");
    for (name, value) in [
        ("chrome", &b"gzip, deflate, br, zstd"[..]),
        ("qvalues", &b"br;q=1.0, gzip;q=0.8, *;q=0.1"[..]),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let lines: [&[u8]; 1] = [black_box(value)];
                let ae = AcceptEncoding::parse(&lines);
                ae.choose(Available {
                    br: true,
                    zstd: true,
                    gzip: true,
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_normalize, bench_range, bench_accept_encoding);
criterion_main!(benches);
