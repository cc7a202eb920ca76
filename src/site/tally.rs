//! What one request did with the site's caches and its password check, for `--metrics-path`:
//! [`Site::respond`](super::Site::respond) writes it into the worker's scratch, and the worker's
//! counters read it once the response is queued. It only records; it must never decide
//! anything about the answer, nor hold anything of the request (no path, no user). It also
//! names the sizes of those caches a scrape reads.

/// One request's use of a cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// Answered from the cache.
    Hit,
    /// Looked up and not answered from it: the disk (or the compressor) was used.
    Miss,
}

/// Why a request was refused by `--basic-auth`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization`, or not usable Basic credentials: 401.
    Missing,
    /// Basic credentials that the file refused: 401.
    Rejected,
    /// Verifying them would have exceeded the hashing bound: 503.
    Busy,
}

/// The request's tally, reset as each request begins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The memory cache of small files (`--file-cache-size`), when it was consulted.
    pub memory: Option<CacheUse>,
    /// The descriptors of larger files kept open (`--file-cache-size`), when consulted.
    pub open: Option<CacheUse>,
    /// The on-the-fly compression cache (`--compress`), when a body was compressed or taken
    /// from it.
    pub compressed: Option<CacheUse>,
    /// A refusal by `--basic-auth`.
    pub auth: Option<AuthFailure>,
}

/// Bytes the site's caches hold, read at a scrape.
#[derive(Clone, Copy, Debug)]
pub struct CacheSizes {
    /// The memory cache, keys and bookkeeping included.
    pub memory: usize,
    /// Descriptors of larger files held open.
    pub open: usize,
    /// The compression cache, keys and bookkeeping included.
    pub compressed: usize,
}
