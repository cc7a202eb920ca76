//! What to answer for a parsed request, as a [`Reply`] plan the connection then writes. `site`
//! never touches the network: it opens and stats files and decides, so each step can be tested
//! without a socket. [`Site::respond`] follows these steps, top-down:
//!
//! 0. The `--health-path`, if set: 200 `ok` (503 while draining), never touching the disk.
//! 1. Method: OPTIONS → 204 with `Allow`; methods other than GET and HEAD → 405 with `Allow`.
//! 2. Normalise the path (`resolve`); refusals map to 400, 403, 404 without touching the disk.
//! 3. Find: open beneath the root and fstat. A directory without a trailing slash → 301 to the
//!    slashed URL (query kept); with it → the first `--index` file, else a listing
//!    (`--dir-listing`) or 403. Not found → the `--fallback` file for extension-less GET/HEAD
//!    paths, else 404 with the site's `404.html`.
//! 4. Representation (RFC 9110 §12.5.3): a `.br` / `.gz` sidecar or an on-the-fly compressed
//!    body when Accept-Encoding prefers it; 406 when nothing acceptable exists. `Vary:
//!    Accept-Encoding` on every response of a resource that has or could have encodings.
//! 5. Validators of the representation chosen: strong ETag, Last-Modified (`file`).
//! 6. Preconditions (`conditional`, RFC 9110 §13.2.2): 412 or 304 — before ranges.
//! 7. Range, GET only (`range`, RFC 9110 §14): If-Range decides whether it applies; one range →
//!    206, several → 206 multipart/byteranges, none satisfiable → 416.
//! 8. Reply 200 with the whole representation.

pub mod cache_control;
pub mod compress;
pub mod conditional;
pub mod encoding;
pub mod file;
pub mod listing;
pub mod memory;
pub mod mime;
pub mod pages;
pub mod range;
pub mod resolve;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use anyhow::Context as _;
use rustix::io::Errno;

use crate::config::Config;
use crate::http::request::{Method, RequestHead};
use crate::http::response::Status;
use cache_control::CacheControl;
use compress::CompressCache;
use conditional::{Outcome, Preconditions, Validators};
use encoding::{AcceptEncoding, Available, Coding};
use file::{Etag, FileMeta};
use memory::FileCache;
use mime::ContentType;
use range::{ByteRange, RangeSpec};
use resolve::{Found, Hidden, Refusal, Root, Symlinks};

/// The methods every resource here supports (RFC 9110 §10.2.1).
pub const ALLOW: &[u8] = b"GET, HEAD, OPTIONS";

/// One part of a `multipart/byteranges` body: its header lines, then a range of the file.
#[derive(Debug)]
pub struct Part {
    /// Delimiter and part header fields.
    pub head: Vec<u8>,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// No content.
    Empty,
    /// Bytes built into the binary.
    Static(&'static [u8]),
    /// Bytes made at run time (a listing, a compressed file), from `start` to `end`.
    Shared {
        /// The bytes.
        bytes: Arc<[u8]>,
        /// First byte sent.
        start: usize,
        /// One past the last byte sent.
        end: usize,
    },
    /// `len` bytes of an open file from `start`.
    File {
        /// The open file.
        fd: OwnedFd,
        /// First byte sent.
        start: u64,
        /// Bytes sent.
        len: u64,
    },
    /// A `multipart/byteranges` body over an open file.
    Parts {
        /// The open file.
        fd: OwnedFd,
        /// The parts, in order.
        parts: Vec<Part>,
        /// The closing delimiter.
        tail: Vec<u8>,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::Shared { start, end, .. } => (end - start) as u64,
            Body::File { len, .. } => *len,
            Body::Parts { parts, tail, .. } => parts
                .iter()
                .map(|p| p.head.len() as u64 + (p.end - p.start))
                .sum::<u64>()
                .saturating_add(tail.len() as u64),
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `Content-Range` of a 206 or 416 (RFC 9110 §14.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/len`
    Bytes(ByteRange, u64),
    /// `bytes */len`
    Unsatisfied(u64),
}

/// A response plan: status, the headers that vary, and the body.
#[derive(Debug)]
pub struct Reply<'s> {
    /// The status.
    pub status: Status,
    /// The representation's content type.
    pub content_type: Option<ContentType>,
    /// The multipart boundary, when the body is `multipart/byteranges`.
    pub boundary: Option<String>,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Whether to send `Allow` (405 and OPTIONS).
    pub allow: bool,
    /// `ETag` and `Last-Modified` (unix seconds) of the representation.
    pub validators: Option<(Etag, u64)>,
    /// `Cache-Control`.
    pub cache_control: Option<&'s str>,
    /// Whether to send `Vary: Accept-Encoding`.
    pub vary: bool,
    /// `Content-Encoding`, when not identity.
    pub encoding: Option<Coding>,
    /// Whether to send `Accept-Ranges: bytes`.
    pub accept_ranges: bool,
    /// `Content-Range`.
    pub content_range: Option<ContentRange>,
    /// The body.
    pub body: Body,
}

impl Reply<'_> {
    /// A reply with a built-in HTML page for `status`.
    pub fn page(status: Status) -> Self {
        let page = pages::for_status(status);
        Reply {
            status,
            content_type: (!page.is_empty()).then_some(mime::HTML),
            boundary: None,
            location: None,
            allow: false,
            validators: None,
            cache_control: None,
            vary: false,
            encoding: None,
            accept_ranges: false,
            content_range: None,
            body: if page.is_empty() {
                Body::Empty
            } else {
                Body::Static(page)
            },
        }
    }
}

/// The representation chosen in step 4: a file (the original, or a sidecar in some coding),
/// bytes compressed on the fly from the original, or the original from the memory cache.
enum Repr {
    File(OwnedFd, FileMeta, Option<Coding>),
    Bytes(Arc<[u8]>, FileMeta, Coding),
    Memory(Arc<[u8]>, FileMeta),
}

/// A worker's reusable buffers for [`Site::respond`].
#[derive(Debug, Default)]
pub struct Scratch {
    /// The decoded root-relative path.
    pub rel: Vec<u8>,
    /// The memory-cache key: the normalised request path and whether it ended in `/`.
    pub key: Vec<u8>,
}

/// The site being served: the root, its options, and the compressed-body cache.
#[derive(Debug)]
pub struct Site {
    root: Root,
    index: Vec<Vec<u8>>,
    fallback: Option<Vec<u8>>,
    dir_listing: bool,
    hidden: Hidden,
    precompressed: bool,
    compress: Option<CompressCache>,
    compress_min_size: u64,
    cache_control: CacheControl,
    extra_headers: Vec<u8>,
    health_path: Option<String>,
    files: Option<FileCache>,
}

impl Site {
    /// Opens the root and compiles the options.
    pub fn open(config: &Config) -> anyhow::Result<Site> {
        let symlinks = if config.follow_symlinks {
            Symlinks::Follow
        } else {
            Symlinks::Contained
        };
        let hidden = if config.hidden_files {
            Hidden::Serve
        } else {
            Hidden::Refuse
        };
        let root = Root::open(&config.root, symlinks)
            .with_context(|| format!("cannot serve root {}", config.root.display()))?;
        let fallback = match &config.fallback {
            None => None,
            Some(f) => {
                let mut rel = Vec::new();
                let raw = format!("/{}", f.trim_start_matches('/'));
                resolve::normalize_with(&raw, &mut rel, hidden)
                    .ok()
                    .filter(|_| !rel.is_empty())
                    .with_context(|| {
                        format!("--fallback {f:?} is not a file path under the root")
                    })?;
                Some(rel)
            }
        };
        let cache_control = CacheControl::new(&config.cache_rules, config.cache_control.clone());
        let mut extra_headers = Vec::new();
        if config.nosniff {
            extra_headers.extend_from_slice(b"X-Content-Type-Options: nosniff\r\n");
        }
        for (name, value) in &config.headers {
            let _ = write!(extra_headers, "{name}: {value}\r\n");
        }
        Ok(Site {
            root,
            index: config.index.iter().map(|i| i.as_bytes().to_vec()).collect(),
            fallback,
            dir_listing: config.dir_listing,
            hidden,
            precompressed: config.precompressed,
            compress: config.compress.then(|| {
                CompressCache::new(
                    usize::try_from(config.compress_cache_size).unwrap_or(usize::MAX),
                )
            }),
            compress_min_size: config.compress_min_size,
            cache_control,
            extra_headers,
            health_path: config.health_path.clone(),
            files: (config.file_cache_size > 0).then(|| {
                FileCache::new(usize::try_from(config.file_cache_size).unwrap_or(usize::MAX))
            }),
        })
    }

    /// Header lines added to every response (`nosniff`, `--header`), each ending in CRLF.
    pub fn extra_headers(&self) -> &[u8] {
        &self.extra_headers
    }

    /// Plans the response to `req`; `scratch` is a reused buffer for the decoded path;
    /// `draining` says whether the server is shutting down.
    pub fn respond(&self, req: &RequestHead<'_>, s: &mut Scratch, draining: bool) -> Reply<'_> {
        let Scratch { rel: scratch, key } = s;
        // 0. The probe path: no disk, and 503 while draining so a load balancer stops sending.
        if self.health_path.as_deref() == Some(req.path)
            && req.query.is_none()
            && matches!(req.method, Method::Get | Method::Head)
        {
            let (status, body): (Status, &'static [u8]) = if draining {
                (Status::ServiceUnavailable, b"draining\n")
            } else {
                (Status::Ok, b"ok\n")
            };
            let mut reply = Reply::page(status);
            reply.content_type = Some(mime::for_extension(b"txt"));
            reply.cache_control = Some("no-store");
            reply.body = Body::Static(body);
            return reply;
        }
        // 1. Method.
        match req.method {
            Method::Get | Method::Head => {}
            Method::Options => {
                let mut reply = Reply::page(Status::NoContent);
                reply.allow = true;
                return reply;
            }
            Method::NotAllowed => {
                let mut reply = Reply::page(Status::MethodNotAllowed);
                reply.allow = true;
                return reply;
            }
        }
        // 2. Normalise.
        let slash = match resolve::normalize_with(req.path, scratch, self.hidden) {
            Ok(n) => n.trailing_slash,
            Err(Refusal::BadRequest) => return Reply::page(Status::BadRequest),
            Err(Refusal::Forbidden) => return Reply::page(Status::Forbidden),
            Err(Refusal::NotFound) => return self.not_found(),
        };
        // 3. Find: in memory first, then on disk.
        key.clear();
        key.extend_from_slice(scratch);
        if slash {
            key.push(b'/');
        }
        if let Some(reply) = self.cached_reply(req, key) {
            return reply;
        }
        let key = Some(&key[..]);
        match self.root.find(scratch) {
            Ok(Found::File(_, _)) if slash => self.not_found(),
            Ok(Found::File(fd, st)) => self.serve(req, scratch, key, fd, FileMeta::from_stat(&st)),
            Ok(Found::Dir) if !slash && !scratch.is_empty() => {
                let mut reply = Reply::page(Status::MovedPermanently);
                reply.location = Some(resolve::directory_url(scratch, req.query));
                reply
            }
            Ok(Found::Dir) => self.directory(req, scratch, key),
            Err(Errno::NOENT | Errno::NOTDIR) if self.fallback_applies(scratch) => {
                let Some(fallback) = &self.fallback else {
                    return self.not_found();
                };
                scratch.clear();
                scratch.extend_from_slice(fallback);
                // Not cached: every unknown route would hold its own copy of the same file.
                match self.root.find(scratch) {
                    Ok(Found::File(fd, st)) => {
                        self.serve(req, scratch, None, fd, FileMeta::from_stat(&st))
                    }
                    _ => self.not_found(),
                }
            }
            Err(e) => self.open_failed(e),
        }
    }

    /// Whether an unknown path goes to the single-page-app fallback: only paths whose last
    /// segment has no extension, so a missing asset stays a 404 a developer can see.
    fn fallback_applies(&self, rel: &[u8]) -> bool {
        self.fallback.is_some() && extension(rel).is_empty()
    }

    /// A directory asked for with its trailing slash: index file, listing, or 403.
    fn directory(
        &self,
        req: &RequestHead<'_>,
        scratch: &mut Vec<u8>,
        key: Option<&[u8]>,
    ) -> Reply<'_> {
        let dir_len = scratch.len();
        for name in &self.index {
            scratch.truncate(dir_len);
            if dir_len > 0 {
                scratch.push(b'/');
            }
            scratch.extend_from_slice(name);
            match self.root.find(scratch) {
                Ok(Found::File(fd, st)) => {
                    return self.serve(req, scratch, key, fd, FileMeta::from_stat(&st));
                }
                Ok(Found::Dir) | Err(Errno::NOENT) => {}
                Err(e) => return self.open_failed(e),
            }
        }
        scratch.truncate(dir_len);
        if !self.dir_listing {
            return Reply::page(Status::Forbidden);
        }
        let mut url = Vec::with_capacity(dir_len + 2);
        url.push(b'/');
        url.extend_from_slice(scratch);
        if dir_len > 0 {
            url.push(b'/');
        }
        let dir = self.root.path().join(std::ffi::OsStr::from_bytes(scratch));
        match listing::render(&url, &dir, self.hidden) {
            Ok(html) => {
                let len = html.len();
                let mut reply = Reply::page(Status::Ok);
                reply.content_type = Some(mime::HTML);
                reply.body = Body::Shared {
                    bytes: html.into(),
                    start: 0,
                    end: len,
                };
                reply.cache_control = Some("no-cache");
                reply
            }
            Err(e) => self.open_failed(Errno::from_io_error(&e).unwrap_or(Errno::IO)),
        }
    }

    /// A reply from the memory cache, when it holds the file as it is on disk now (one fstatat
    /// compares mtime, size and inode) and the client takes the original: a client that would
    /// get a sidecar or an on-the-fly compressed body, or a 406, goes the long way. A path whose
    /// symlinks changed since resolves to another inode and misses.
    fn cached_reply(&self, req: &RequestHead<'_>, key: &[u8]) -> Option<Reply<'_>> {
        let entry = self.files.as_ref()?.get(key)?;
        if self
            .root
            .stat(&entry.rel)
            .ok()
            .map(|st| FileMeta::from_stat(&st))
            != Some(entry.meta)
        {
            return None;
        }
        let content_type = mime::for_extension(extension(&entry.rel));
        let compressible = content_type.compressible;
        let accept = AcceptEncoding::parse(req.fields.accept_encoding.lines());
        if accept.choose(Available::default()) != Some(Coding::Identity) {
            return None;
        }
        if accept.weight(Coding::Br) > 0 || accept.weight(Coding::Gzip) > 0 {
            let on_the_fly =
                self.compress.is_some() && compressible && entry.meta.len >= self.compress_min_size;
            if entry.sidecars || on_the_fly {
                return None;
            }
        }
        let cache_control = self.cache_control.for_path(&entry.rel);
        let vary = compressible || entry.sidecars;
        let repr = Repr::Memory(entry.bytes.clone(), entry.meta);
        Some(self.finish(req, repr, content_type, cache_control, vary))
    }

    /// The original file as the representation: from memory when it is small enough to keep.
    fn identity(&self, rel: &mut Vec<u8>, key: Option<&[u8]>, fd: OwnedFd, meta: FileMeta) -> Repr {
        let (Some(files), Some(key)) = (&self.files, key) else {
            return Repr::File(fd, meta, None);
        };
        if meta.len > memory::MAX_FILE {
            return Repr::File(fd, meta, None);
        }
        if let Some(entry) = files.get(key)
            && entry.meta == meta
            && *entry.rel == **rel
        {
            return Repr::Memory(entry.bytes.clone(), meta);
        }
        let file = std::fs::File::from(fd);
        let mut bytes = vec![0; usize::try_from(meta.len).unwrap_or(0)];
        if file.read_exact_at(&mut bytes, 0).is_err() {
            return Repr::File(file.into(), meta, None);
        }
        let sidecars = self.precompressed
            && [Coding::Br, Coding::Gzip].iter().any(|c| {
                let len = rel.len();
                rel.extend_from_slice(c.suffix().as_bytes());
                let found = matches!(self.root.find(rel), Ok(Found::File(..)));
                rel.truncate(len);
                found
            });
        let bytes: Arc<[u8]> = bytes.into();
        files.insert(key, rel, bytes.clone(), meta, sidecars);
        Repr::Memory(bytes, meta)
    }

    /// Steps 4 to 8 for the file at `rel`, opened as `fd`; `key` names it in the memory cache.
    fn serve(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        key: Option<&[u8]>,
        fd: OwnedFd,
        meta: FileMeta,
    ) -> Reply<'_> {
        let content_type = mime::for_extension(extension(rel));
        let cache_control = self.cache_control.for_path(rel);

        // 4. Representation.
        let accept = AcceptEncoding::parse(req.fields.accept_encoding.lines());
        let (br, gz) = if self.precompressed {
            (
                self.sidecar(rel, Coding::Br, &accept),
                self.sidecar(rel, Coding::Gzip, &accept),
            )
        } else {
            (None, None)
        };
        let compressible = content_type.compressible;
        let on_the_fly = self.compress.is_some()
            && compressible
            && meta.len >= self.compress_min_size
            && meta.len <= compress::MAX_INPUT;
        let vary = compressible || br.is_some() || gz.is_some();
        let Some(coding) = accept.choose(Available {
            br: br.is_some() || on_the_fly,
            gzip: gz.is_some() || on_the_fly,
        }) else {
            let mut reply = Reply::page(Status::NotAcceptable);
            reply.vary = vary;
            return reply;
        };
        let repr = match (coding, br, gz) {
            (Coding::Br, Some(side), _) | (Coding::Gzip, _, Some(side)) => {
                Repr::File(side.0, side.1, Some(coding))
            }
            (Coding::Identity, _, _) => self.identity(rel, key, fd, meta),
            (coding, _, _) => self.compressed(rel, fd, meta, coding),
        };
        self.finish(req, repr, content_type, cache_control, vary)
    }

    /// Steps 5 to 8: validators, preconditions, range, for the representation chosen.
    fn finish<'s>(
        &'s self,
        req: &RequestHead<'_>,
        repr: Repr,
        content_type: ContentType,
        cache_control: Option<&'s str>,
        vary: bool,
    ) -> Reply<'s> {
        // 5. Validators of the representation sent.
        let (etag, last_modified, encoding, len) = match &repr {
            Repr::File(_, m, c) => (m.etag(), m.last_modified(), *c, m.len),
            Repr::Bytes(b, m, c) => (
                m.etag().with_suffix(c.token()),
                m.last_modified(),
                Some(*c),
                b.len() as u64,
            ),
            Repr::Memory(b, m) => (m.etag(), m.last_modified(), None, b.len() as u64),
        };
        let mut reply = Reply {
            status: Status::Ok,
            content_type: Some(content_type),
            boundary: None,
            location: None,
            allow: false,
            validators: Some((etag, last_modified)),
            cache_control,
            vary,
            encoding,
            accept_ranges: true,
            content_range: None,
            body: Body::Empty,
        };

        // 6. Preconditions, before any range (RFC 9110 §13.2.2).
        let pre = Preconditions {
            if_match: req.fields.if_match.lines(),
            if_none_match: req.fields.if_none_match.lines(),
            if_modified_since: req.fields.if_modified_since,
            if_unmodified_since: req.fields.if_unmodified_since,
        };
        let validators = Validators {
            etag: etag.as_bytes(),
            last_modified,
        };
        let any_precondition = !pre.if_match.is_empty()
            || !pre.if_none_match.is_empty()
            || pre.if_modified_since.is_some()
            || pre.if_unmodified_since.is_some();
        let outcome = if any_precondition {
            conditional::evaluate(&pre, &validators, req.method)
        } else {
            Outcome::Proceed
        };
        match outcome {
            Outcome::Proceed => {}
            Outcome::NotModified => {
                // RFC 9110 §15.4.5: ETag, Cache-Control and Vary as a 200 would have them;
                // no content metadata.
                reply.status = Status::NotModified;
                reply.content_type = None;
                reply.encoding = None;
                reply.accept_ranges = false;
                return reply;
            }
            Outcome::PreconditionFailed => return Reply::page(Status::PreconditionFailed),
        }

        // 7. Range: defined for GET only (RFC 9110 §14.2).
        let spec = match (req.method, req.fields.range) {
            (Method::Get, Some(value))
                if req
                    .fields
                    .if_range
                    .is_none_or(|ir| if_range_allows(ir, &etag, last_modified)) =>
            {
                range::parse(value, len)
            }
            _ => RangeSpec::Full,
        };
        match (spec, repr) {
            (RangeSpec::Unsatisfiable, _) => {
                let mut reply = Reply::page(Status::RangeNotSatisfiable);
                reply.content_range = Some(ContentRange::Unsatisfied(len));
                reply
            }
            (RangeSpec::Single(r), repr) => {
                reply.status = Status::PartialContent;
                reply.content_range = Some(ContentRange::Bytes(r, len));
                reply.body = body_of(repr, r.start, r.len());
                reply
            }
            (RangeSpec::Multi(ranges), repr) => {
                let boundary = boundary_for(&etag);
                reply.status = Status::PartialContent;
                reply.body = multipart(repr, &ranges, &boundary, content_type, len);
                reply.boundary = Some(boundary);
                reply
            }
            // 8. The whole representation.
            (RangeSpec::Full, repr) => {
                reply.body = body_of(repr, 0, len);
                reply
            }
        }
    }

    /// The `.br` / `.gz` file beside `rel`, if the client accepts that coding and it exists.
    fn sidecar(
        &self,
        rel: &mut Vec<u8>,
        coding: Coding,
        accept: &AcceptEncoding,
    ) -> Option<(OwnedFd, FileMeta)> {
        if accept.weight(coding) == 0 {
            return None;
        }
        let len = rel.len();
        rel.extend_from_slice(coding.suffix().as_bytes());
        let found = self.root.find(rel);
        rel.truncate(len);
        match found {
            Ok(Found::File(fd, st)) => Some((fd, FileMeta::from_stat(&st))),
            _ => None,
        }
    }

    /// The file compressed on the fly (cached), or the file itself if that does not pay.
    fn compressed(&self, rel: &mut Vec<u8>, fd: OwnedFd, meta: FileMeta, coding: Coding) -> Repr {
        let Some(cache) = &self.compress else {
            return Repr::File(fd, meta, None);
        };
        let file = std::fs::File::from(fd);
        // The key names one version of one file: path and strong ETag.
        let len = rel.len();
        rel.push(0);
        rel.extend_from_slice(meta.etag().as_bytes());
        let got = cache.get(rel, coding, &file, meta.len);
        rel.truncate(len);
        match got {
            Ok(Some(bytes)) => Repr::Bytes(bytes, meta, coding),
            Ok(None) => Repr::File(file.into(), meta, None),
            Err(e) => {
                crate::log::error(format_args!("compressing a file failed: {e}"));
                Repr::File(file.into(), meta, None)
            }
        }
    }

    fn open_failed(&self, e: Errno) -> Reply<'_> {
        match e {
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::NAMETOOLONG | Errno::INVAL => {
                self.not_found()
            }
            Errno::ACCESS | Errno::PERM | Errno::XDEV => Reply::page(Status::Forbidden),
            e => {
                crate::log::error(format_args!("opening a file under the root failed: {e}"));
                Reply::page(Status::InternalServerError)
            }
        }
    }

    /// 404 with the site's own `404.html` when it has one.
    fn not_found(&self) -> Reply<'_> {
        let mut reply = Reply::page(Status::NotFound);
        if let Ok(Found::File(fd, st)) = self.root.find(b"404.html") {
            let len = FileMeta::from_stat(&st).len;
            reply.body = Body::File { fd, start: 0, len };
        }
        reply
    }
}

/// Whether If-Range lets a Range apply. A date counts only when Last-Modified is a strong
/// validator, at least a second older than the response (RFC 9110 §13.1.5, §8.8.2.2): a file
/// written within the current second may change again without changing that date.
fn if_range_allows(if_range: &[u8], etag: &Etag, last_modified: u64) -> bool {
    let value = if_range.trim_ascii_start();
    let is_tag = value.starts_with(b"\"") || value.starts_with(b"W/");
    if !is_tag {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if last_modified.saturating_add(1) >= now {
            return false;
        }
    }
    range::if_range_holds(if_range, etag.as_bytes(), last_modified)
}

/// The body for `len` bytes of a representation from `start`.
fn body_of(repr: Repr, start: u64, len: u64) -> Body {
    match repr {
        Repr::File(fd, _, _) => Body::File { fd, start, len },
        Repr::Bytes(bytes, _, _) | Repr::Memory(bytes, _) => {
            let start = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| start.checked_add(l))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Body::Shared { bytes, start, end }
        }
    }
}

/// A boundary that cannot collide with the delimiters of another version of the file; a
/// collision with the content itself would need these 16 hex digits to occur in it.
fn boundary_for(etag: &Etag) -> String {
    // FNV-1a over the tag: a fixed, well-spread 64-bit value without a hashing dependency.
    let hash = etag
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("muxserve-{hash:016x}")
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) over `ranges` of the representation: part
/// heads between `sendfile` ranges for a file, one buffer for bytes already in memory.
fn multipart(repr: Repr, ranges: &[ByteRange], boundary: &str, ct: ContentType, len: u64) -> Body {
    let charset = if ct.utf8 { "; charset=utf-8" } else { "" };
    let parts: Vec<Part> = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut head = Vec::with_capacity(128);
            let lead = if i == 0 { "" } else { "\r\n" };
            let _ = write!(
                head,
                "{lead}--{boundary}\r\nContent-Type: {}{charset}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                ct.essence, r.start, r.end
            );
            Part {
                head,
                start: r.start,
                end: r.end.saturating_add(1),
            }
        })
        .collect();
    let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
    match repr {
        Repr::File(fd, _, _) => Body::Parts { fd, parts, tail },
        Repr::Bytes(bytes, _, _) | Repr::Memory(bytes, _) => {
            let mut body = Vec::new();
            for p in &parts {
                body.extend_from_slice(&p.head);
                let range = usize::try_from(p.start).unwrap_or(usize::MAX)
                    ..usize::try_from(p.end).unwrap_or(usize::MAX);
                body.extend_from_slice(bytes.get(range).unwrap_or_default());
            }
            body.extend_from_slice(&tail);
            let end = body.len();
            Body::Shared {
                bytes: body.into(),
                start: 0,
                end,
            }
        }
    }
}

/// The extension of the last segment of `rel`, without the dot.
fn extension(rel: &[u8]) -> &[u8] {
    let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
    match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => b"",
        Some(i) => &name[i + 1..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(extension(b"a/b.min.js"), b"js");
        assert_eq!(extension(b"a.b/c"), b"");
        assert_eq!(extension(b"README"), b"");
        assert_eq!(extension(b""), b"");
    }

    #[test]
    fn if_range_dates_need_a_strong_last_modified() {
        let old = FileMeta {
            len: 1,
            mtime: 784_111_777,
            mtime_nsec: 0,
            inode: 4,
        };
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        assert!(if_range_allows(date, &old.etag(), old.last_modified()));
        assert!(if_range_allows(
            old.etag().as_bytes(),
            &old.etag(),
            old.last_modified()
        ));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut fresh_date = Vec::new();
        crate::http::date::write_imf(now, &mut fresh_date);
        assert!(!if_range_allows(&fresh_date, &old.etag(), now));
    }

    #[test]
    fn boundaries_differ_per_version() {
        let a = FileMeta {
            len: 1,
            mtime: 2,
            mtime_nsec: 3,
            inode: 4,
        };
        let b = FileMeta {
            len: 1,
            mtime: 2,
            mtime_nsec: 3,
            inode: 5,
        };
        assert_ne!(boundary_for(&a.etag()), boundary_for(&b.etag()));
        assert_eq!(boundary_for(&a.etag()).len(), "muxserve-".len() + 16);
    }
}
