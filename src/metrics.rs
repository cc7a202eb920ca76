//! `--metrics-path`: the counters workers keep and the Prometheus text exposition (format 0.0.4)
//! a scrape is answered with. Each worker writes only its own [`Counters`], one cache-line
//! aligned block of relaxed atomics, so counting a request touches no line another thread
//! writes; a scrape sums them all. The reactor stores the open-connection count once per turn
//! and the connections cut at the drain's deadline. This module decides who may scrape
//! (`--metrics-from`, by the TCP peer); it must never take a lock or allocate while counting,
//! nor believe a forwarding header about who scrapes.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::ops::ControlFlow::Break;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::http::forwarded::Cidr;
use crate::http::request::{Method, RequestHead};
use crate::http::response::Status;
use crate::site::mime::ContentType;
use crate::site::tally::{AuthFailure, CacheUse, Tally};
use crate::site::{self, Body, Reply, Site, Vary};

/// The metrics endpoint's options: both or neither matter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetricsOptions {
    /// The exact path scrapes are answered at; `None` turns metrics off.
    pub path: Option<String>,
    /// Peers that may scrape; empty: any. Others get what the site has at that path.
    pub from: Vec<Cidr>,
}

/// Upper bounds of the duration histogram's buckets, in microseconds (`+Inf` follows).
const BOUNDS_US: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 2_500_000,
    10_000_000,
];
const METHODS: [&str; 4] = ["GET", "HEAD", "OPTIONS", "other"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
const USES: [&str; 2] = ["hit", "miss"];
const FAILURES: [&str; 3] = ["missing", "rejected", "busy"];

/// `text/plain; version=0.0.4; charset=utf-8`, what Prometheus expects of the text format.
const EXPOSITION: ContentType = ContentType {
    essence: "text/plain; version=0.0.4",
    utf8: true,
    compressible: false,
};

/// One worker's counts. Aligned so two workers' blocks never share a cache line.
#[repr(align(64))]
#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    bytes: AtomicU64,
    /// Per bucket, not cumulative; the last is above every bound.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    micros: AtomicU64,
    /// Memory-cache lookups, by [`USES`].
    memory: [AtomicU64; USES.len()],
    /// Lookups among the descriptors kept open, by [`USES`].
    open: [AtomicU64; USES.len()],
    /// Compression-cache lookups, by [`USES`].
    compressed: [AtomicU64; USES.len()],
    /// `--basic-auth` refusals, by [`FAILURES`].
    auth: [AtomicU64; FAILURES.len()],
}

/// Adds to a counter only its worker writes: a plain load and store, no locked instruction.
#[inline]
fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Counters {
    /// Counts one response: `method` is `None` for a request refused before its method was known.
    #[inline]
    pub(crate) fn record(&self, method: Option<Method>, status: u16, bytes: u64, took: Duration) {
        let m = match method {
            Some(Method::Get) => 0,
            Some(Method::Head) => 1,
            Some(Method::Options) => 2,
            Some(Method::NotAllowed) | None => 3,
        };
        let class = usize::from(status / 100).clamp(1, CLASSES.len()) - 1;
        bump(&self.requests[m][class], 1);
        bump(&self.bytes, bytes);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = BOUNDS_US.partition_point(|&b| b < micros);
        bump(&self.buckets[bucket], 1);
        bump(&self.micros, micros);
    }

    /// Counts what the site's answer did with its caches and password check.
    #[inline]
    pub(crate) fn record_site(&self, tally: &Tally) {
        let used = |u: CacheUse| match u {
            CacheUse::Hit => 0,
            CacheUse::Miss => 1,
        };
        if let Some(u) = tally.memory {
            bump(&self.memory[used(u)], 1);
        }
        if let Some(u) = tally.open {
            bump(&self.open[used(u)], 1);
        }
        if let Some(u) = tally.compressed {
            bump(&self.compressed[used(u)], 1);
        }
        if let Some(f) = tally.auth {
            let i = match f {
                AuthFailure::Missing => 0,
                AuthFailure::Rejected => 1,
                AuthFailure::Busy => 2,
            };
            bump(&self.auth[i], 1);
        }
    }
}

/// Everything a scrape reports, shared by the workers, the reactor and the reload watcher.
#[derive(Debug)]
pub struct Metrics {
    options: MetricsOptions,
    workers: Vec<Counters>,
    open: AtomicU64,
    active: AtomicU64,
    cut: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
}

impl Metrics {
    /// Counters for `workers` workers, or `None` when `--metrics-path` is not set.
    pub(crate) fn new(options: &MetricsOptions, workers: usize) -> Option<Arc<Metrics>> {
        options.path.as_ref()?;
        Some(Arc::new(Metrics {
            options: options.clone(),
            workers: (0..workers).map(|_| Counters::default()).collect(),
            open: AtomicU64::new(0),
            active: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_failed: AtomicU64::new(0),
        }))
    }

    /// Worker `i`'s counters (a worker outside the pool shares the last one's).
    pub(crate) fn worker(&self, i: usize) -> Option<&Counters> {
        self.workers.get(i).or(self.workers.last())
    }

    /// The reactor's count of open connections and of those on a worker, stored once per loop
    /// turn and before connections accepted in it are handed to a worker.
    pub(crate) fn set_connections(&self, open: usize, active: usize) {
        let n = |c: usize| u64::try_from(c).unwrap_or(u64::MAX);
        self.open.store(n(open), Relaxed);
        self.active.store(n(active), Relaxed);
    }

    /// Connections closed unfinished at the drain's deadline.
    pub(crate) fn add_cut(&self, cut: usize) {
        self.cut
            .fetch_add(u64::try_from(cut).unwrap_or(u64::MAX), Relaxed);
    }

    /// A reload's outcome.
    pub(crate) fn reloaded(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        };
        counter.fetch_add(1, Relaxed);
    }

    /// Whether `req` is a scrape `peer` may make: GET or HEAD of the exact path without a
    /// query. Otherwise the site answers, so a refused peer learns nothing.
    // Not inlined: inlined, it grew the per-request closure in `conn` enough to cost every
    // request ~100 instructions, metrics on or off (bench/callgrind.sh).
    #[inline(never)]
    pub(crate) fn is_scrape(&self, req: &RequestHead<'_>, peer: IpAddr) -> bool {
        self.options.path.as_deref() == Some(req.path)
            && req.query.is_none()
            && matches!(req.method, Method::Get | Method::Head)
            && (self.options.from.is_empty() || self.options.from.iter().any(|c| c.contains(peer)))
    }

    /// The scrape's answer to `req`: the page, or the 304 or 412 its preconditions decide
    /// (RFC 9110 §13.2.1; the page has no validators).
    #[cold]
    #[inline(never)]
    pub(crate) fn page(
        &self,
        req: &RequestHead<'_>,
        draining: bool,
        site: &Site,
    ) -> Reply<'static> {
        if let Break(reply) = site::without_validators(req, Some("no-store"), Vary::default()) {
            return reply;
        }
        let page = self.render(draining, site);
        let end = page.len();
        Reply {
            content_type: Some(EXPOSITION),
            cache_control: Some("no-store"),
            body: Body::Shared {
                bytes: page.into_bytes().into(),
                start: 0,
                end,
            },
            ..Reply::page(Status::Ok)
        }
    }

    /// The text exposition: every family with HELP and TYPE, the workers' counts summed.
    fn render(&self, draining: bool, site: &Site) -> String {
        let sum = |f: &dyn Fn(&Counters) -> &AtomicU64| -> u64 {
            self.workers.iter().map(|c| f(c).load(Relaxed)).sum()
        };
        let mut out = String::with_capacity(4096);
        family(
            &mut out,
            "muxserve_requests_total",
            "counter",
            "Responses by request method and status class.",
        );
        for (m, method) in METHODS.iter().enumerate() {
            for (k, class) in CLASSES.iter().enumerate() {
                let n = sum(&|c| &c.requests[m][k]);
                let _ = writeln!(
                    out,
                    "muxserve_requests_total{{method=\"{method}\",code=\"{class}\"}} {n}"
                );
            }
        }
        family(
            &mut out,
            "muxserve_response_bytes_total",
            "counter",
            "Response bytes queued, heads and bodies.",
        );
        let _ = writeln!(out, "muxserve_response_bytes_total {}", sum(&|c| &c.bytes));
        family(
            &mut out,
            "muxserve_request_duration_seconds",
            "histogram",
            "From a request's first byte (or its connection's accept) to its response being queued.",
        );
        let mut cumulative = 0;
        for (i, bound) in BOUNDS_US.iter().enumerate() {
            cumulative += sum(&|c| &c.buckets[i]);
            let le = *bound as f64 / 1e6;
            let _ = writeln!(
                out,
                "muxserve_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        cumulative += sum(&|c| &c.buckets[BOUNDS_US.len()]);
        let _ = writeln!(
            out,
            "muxserve_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let seconds = sum(&|c| &c.micros) as f64 / 1e6;
        let _ = writeln!(out, "muxserve_request_duration_seconds_sum {seconds}");
        let _ = writeln!(out, "muxserve_request_duration_seconds_count {cumulative}");
        family(
            &mut out,
            "muxserve_open_connections",
            "gauge",
            "Connections open, as the reactor last counted them.",
        );
        let _ = writeln!(out, "muxserve_open_connections {}", self.open.load(Relaxed));
        family(
            &mut out,
            "muxserve_active_connections",
            "gauge",
            "Connections on a worker (being read, answered or written), as the reactor last \
             counted them; the others wait idle.",
        );
        let _ = writeln!(
            out,
            "muxserve_active_connections {}",
            self.active.load(Relaxed)
        );
        family(
            &mut out,
            "muxserve_connections_cut_total",
            "counter",
            "Connections closed unfinished at the shutdown deadline.",
        );
        let _ = writeln!(
            out,
            "muxserve_connections_cut_total {}",
            self.cut.load(Relaxed)
        );
        family(
            &mut out,
            "muxserve_reloads_total",
            "counter",
            "Site reloads by outcome.",
        );
        let _ = writeln!(
            out,
            "muxserve_reloads_total{{outcome=\"ok\"}} {}",
            self.reloads_ok.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "muxserve_reloads_total{{outcome=\"failed\"}} {}",
            self.reloads_failed.load(Relaxed)
        );
        let sizes = site.cache_sizes();
        for (name, counts, held, unit, help) in [
            (
                "memory_cache",
                (|c: &Counters| &c.memory) as fn(&Counters) -> &[AtomicU64; 2],
                sizes.memory,
                "bytes",
                "small files kept in memory (--file-cache-size)",
            ),
            (
                "open_file_cache",
                |c: &Counters| &c.open,
                sizes.open,
                "descriptors",
                "larger files kept open (--file-cache-size)",
            ),
            (
                "compression_cache",
                |c: &Counters| &c.compressed,
                sizes.compressed,
                "bytes",
                "bodies compressed on the fly (--compress)",
            ),
        ] {
            let total = format!("muxserve_{name}_lookups_total");
            family(
                &mut out,
                &total,
                "counter",
                &format!("Lookups in the cache of {help}, by outcome."),
            );
            for (i, outcome) in USES.iter().enumerate() {
                let n = sum(&|c| &counts(c)[i]);
                let _ = writeln!(out, "{total}{{outcome=\"{outcome}\"}} {n}");
            }
            let gauge = format!("muxserve_{name}_{unit}");
            let what = match unit {
                "bytes" => "Bytes the cache of {help} holds, with its bookkeeping.",
                _ => "Descriptors the cache of {help} holds open.",
            };
            family(&mut out, &gauge, "gauge", &what.replace("{help}", help));
            let _ = writeln!(out, "{gauge} {held}");
        }
        family(
            &mut out,
            "muxserve_auth_failures_total",
            "counter",
            "Requests --basic-auth refused: without usable credentials (401), with credentials \
             the file rejects (401), or while the hashing bound was reached (503).",
        );
        for (i, reason) in FAILURES.iter().enumerate() {
            let n = sum(&|c| &c.auth[i]);
            let _ = writeln!(
                out,
                "muxserve_auth_failures_total{{reason=\"{reason}\"}} {n}"
            );
        }
        family(
            &mut out,
            "muxserve_draining",
            "gauge",
            "1 while the server drains after a shutdown signal.",
        );
        let _ = writeln!(out, "muxserve_draining {}", u8::from(draining));
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fall_in_the_first_bucket_whose_bound_they_do_not_exceed() {
        let cases: &[(u64, usize)] = &[
            (0, 0),
            (500, 0),
            (501, 1),
            (1_000, 1),
            (9_999_999, 11),
            (10_000_000, 11),
            (10_000_001, 12),
        ];
        for &(micros, bucket) in cases {
            let c = Counters::default();
            c.record(Some(Method::Get), 200, 0, Duration::from_micros(micros));
            let hit: Vec<u64> = c.buckets.iter().map(|b| b.load(Relaxed)).collect();
            assert_eq!(hit[bucket], 1, "{micros} µs: {hit:?}");
            assert_eq!(hit.iter().sum::<u64>(), 1, "{micros} µs: {hit:?}");
        }
    }

    #[test]
    fn statuses_count_by_class_and_methods_by_name() {
        let c = Counters::default();
        let cases: &[(Option<Method>, u16, usize, usize)] = &[
            (Some(Method::Get), 200, 0, 1),
            (Some(Method::Head), 304, 1, 2),
            (Some(Method::Options), 204, 2, 1),
            (Some(Method::NotAllowed), 405, 3, 3),
            (None, 400, 3, 3),
            (Some(Method::Get), 503, 0, 4),
            (Some(Method::Get), 101, 0, 0),
        ];
        for &(method, status, m, k) in cases {
            let before = c.requests[m][k].load(Relaxed);
            c.record(method, status, 10, Duration::ZERO);
            assert_eq!(
                c.requests[m][k].load(Relaxed),
                before + 1,
                "{method:?} {status}"
            );
        }
        assert_eq!(c.bytes.load(Relaxed), 10 * cases.len() as u64);
    }

    #[test]
    fn a_tally_counts_each_cache_use_and_refusal_once() {
        let c = Counters::default();
        let load = |a: &[AtomicU64]| a.iter().map(|x| x.load(Relaxed)).collect::<Vec<_>>();
        c.record_site(&Tally::default());
        for (tally, memory, compressed, auth) in [
            (
                Tally {
                    memory: Some(CacheUse::Hit),
                    ..Tally::default()
                },
                [1, 0],
                [0, 0],
                [0, 0, 0],
            ),
            (
                Tally {
                    memory: Some(CacheUse::Miss),
                    open: Some(CacheUse::Hit),
                    compressed: Some(CacheUse::Miss),
                    ..Tally::default()
                },
                [1, 1],
                [0, 1],
                [0, 0, 0],
            ),
            (
                Tally {
                    auth: Some(AuthFailure::Missing),
                    ..Tally::default()
                },
                [1, 1],
                [0, 1],
                [1, 0, 0],
            ),
            (
                Tally {
                    compressed: Some(CacheUse::Hit),
                    auth: Some(AuthFailure::Busy),
                    ..Tally::default()
                },
                [1, 1],
                [1, 1],
                [1, 0, 1],
            ),
        ] {
            c.record_site(&tally);
            assert_eq!(load(&c.memory), memory, "{tally:?}");
            assert_eq!(load(&c.compressed), compressed, "{tally:?}");
            assert_eq!(load(&c.auth), auth, "{tally:?}");
        }
        assert_eq!(load(&c.open), [1, 0]);
    }

    #[test]
    fn each_workers_counters_have_their_own_cache_line() {
        assert_eq!(std::mem::align_of::<Counters>(), 64);
    }
}
