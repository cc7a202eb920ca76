//! What to answer for a parsed request, as a [`Reply`] plan the connection then writes. `site`
//! never touches the network: it opens, stats and reads files and decides, so the steps are tested
//! below without a socket. [`Site::respond`] follows these steps, top-down, one function each:
//!
//! 0. The `--health-path`, if set: 200 `ok` (503 while draining), never touching the disk; its
//!    preconditions are evaluated as step 6 does, without validators (RFC 9110 §13.2.1).
//! 1. Method: OPTIONS → 204 with `Allow` (a CORS preflight from an allowed origin gets the
//!    allow headers too, below); methods other than GET and HEAD → 405 with `Allow`.
//! 2. Normalise the path (`resolve`); refusals map to 400, 403, 404 without touching the disk.
//!    The `_headers` blocks matching this path are noted (`rules`), and a forced `_redirects`
//!    rule (`!`) applies here (`rewrites`): a redirect answers, a rewrite goes to step 4 with
//!    its target.
//! 3. Find: open beneath the root and fstat (never the rules files). A directory without a
//!    trailing slash → 301 to the slashed URL (query kept); with it → the first `--index` file,
//!    else a listing (`--dir-listing`; HTML, or JSON when Accept prefers it, `Vary: Accept`;
//!    preconditions evaluated first, without validators: [`without_validators`]) or 403. A file
//!    with a canonical URL (`--canonical-urls`) → 308 there. Not found → `NAME.html` for `NAME`
//!    (clean URLs, `--clean-urls`; `NAME/` → 301 to `NAME` when that answers so), else the first unforced `_redirects` rule (Netlify's
//!    shadowing: only where no file answers; a directory without an index file counts as none),
//!    else the `--fallback` file for extension-less paths, else 404 with the nearest `404.html`.
//! 4. Representation (RFC 9110 §12.5.3): a `.br` / `.zst` / `.gz` sidecar or an on-the-fly
//!    compressed body when Accept-Encoding prefers it (br, zstd, gzip on equal weight); 406,
//!    listing the codings there are, when nothing acceptable exists. `Vary: Accept-Encoding`
//!    when the type is compressible or the client accepts a sidecar it has.
//! 5. Validators of the representation chosen: strong ETag (`file`; from a content digest with
//!    `--etag content`, `content_tag`), Last-Modified (never later than now, §8.8.2.1). A rule's
//!    404 page is answered here, whole and without validators.
//! 6. Preconditions (`conditional`, RFC 9110 §13.2.2): 412 or 304 — before ranges.
//! 7. Range, GET only (`range`, RFC 9110 §14): If-Range decides whether it applies; one range →
//!    206, several → 206 multipart/byteranges, none satisfiable → 416.
//! 8. Reply 200 with the whole representation.
//!
//! Every error reply (400–599) then gets the root's `NNN.html` in place of the built-in page when
//! the root has one, and `Cache-Control: no-store`. The `_headers` blocks noted in step 2 go on
//! 200, 206 and 304 replies only (the connection writes them, [`Site::rule_headers`]). With
//! `--cors-origins`, every reply then gets what [`cors`] answers for its request's `Origin`
//! (and for OPTIONS, `Access-Control-Request-Method`): a 304 and a 206 the 200's, an error
//! too, so a page can read the status.
//!
//! The file cache (`file_cache`) is a layer over steps 3 and 4: a file it holds as the disk has
//! it now (a small one's bytes, a larger one's open descriptor) goes from step 2 straight to
//! step 5 when negotiation picks the original, or for a kept descriptor a body compressed on the
//! fly from it; step 4 fills it. Rewritten targets never enter it under the request's path.

pub mod auth;
pub mod cache_control;
pub mod compress;
pub mod conditional;
pub mod content_tag;
pub mod cors;
pub mod encoding;
mod error_pages;
pub mod file;
pub mod file_cache;
mod htpasswd;
pub mod listing;
pub mod mime;
pub mod range;
mod reply;
pub mod resolve;
mod rewrites;
pub mod rules;
pub mod tally;
mod urls;

pub use reply::{AuthHeader, Body, ContentRange, OpenFile, Part, Reply, Vary};

use std::fs::File;
use std::io::Write;
use std::ops::ControlFlow::{self, Break, Continue};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rustix::io::Errno;

use crate::config::SiteOptions;
use crate::http::request::{Method, RequestHead};
use crate::http::response::Status;
use auth::{Auth, Credentials};
use cache_control::CacheControl;
use compress::CompressCache;
use conditional::{Outcome, Preconditions, Validators};
use content_tag::Tagger;
use cors::CorsPolicy;
use encoding::{AcceptEncoding, Available, Coding};
use file::{Etag, FileMeta};
use file_cache::{Entry, FileCache};
use mime::ContentType;
use range::RangeSpec;
use reply::{Content, Described};
use resolve::{Found, Hidden, Refusal, Root, Symlinks};
use rules::Rules;
use rules::headers::Matched;
use rules::redirects::Which;
use tally::{AuthFailure, CacheSizes, CacheUse, Tally};

/// The methods every resource here supports (RFC 9110 §10.2.1).
pub const ALLOW: &[u8] = b"GET, HEAD, OPTIONS";

/// The site's own page for 404, at the top of the root; without it the built-in page is sent.
const NOT_FOUND_PAGE: &[u8] = b"404.html";

/// A worker's reusable buffers for [`Site::respond`].
#[derive(Debug, Default)]
pub struct Scratch {
    /// The decoded root-relative path.
    pub rel: Vec<u8>,
    /// The memory-cache key: the normalised request path and whether it ended in `/`.
    pub key: Vec<u8>,
    /// The `_headers` blocks that matched the request, for its response head.
    pub matched: Vec<u16>,
    /// The request's normalised path when blocks matched, which their values' placeholders
    /// are filled from (`rel` goes on to name the file served).
    pub asked: Vec<u8>,
    /// The request's Basic credentials, and whether they passed (the access log's user).
    pub creds: Credentials,
    /// What the request did with the caches and the password check (`--metrics-path`).
    pub tally: Tally,
}

/// The file step 3 found to represent; the scratch path names it.
struct Target {
    fd: OwnedFd,
    meta: FileMeta,
    /// Whether the memory cache may keep it under the request's key. Not the fallback: every
    /// unknown route would hold its own copy of the same file.
    cacheable: bool,
    /// 200, or 404 for a rule that serves a page with it.
    status: Status,
}

/// The bytes of the representation step 4 chose: a file (the original, or a sidecar in some
/// coding), bytes compressed on the fly from the original (with the original's tag), the
/// original from memory (with its tag), or the original from a descriptor the file cache keeps
/// open (with its tag).
enum Repr {
    File(OpenFile, FileMeta, Option<Coding>),
    Bytes(Arc<[u8]>, FileMeta, Etag, Coding),
    Memory(Arc<[u8]>, FileMeta, Etag),
    Open(Arc<File>, FileMeta, Etag),
}

/// Whose path step 3 looks up: the request's, where unforced rules apply when no file
/// answers, or a rewrite's target, which the rules are not tried on again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lookup {
    Request,
    Rewrite,
}

/// Step 4's result: the representation, and the header values its path and alternatives decide.
struct Chosen<'s> {
    status: Status,
    repr: Repr,
    content_type: ContentType,
    cache_control: Option<&'s str>,
    vary: bool,
}

/// Step 5's result, all that steps 6 to 8 need.
struct Validated<'s> {
    status: Status,
    described: Described<'s>,
    len: u64,
    content: Content,
}

/// What negotiation decided: the coding (`None`: nothing acceptable, 406) and whether the answer
/// varies with Accept-Encoding.
struct Negotiated {
    coding: Option<Coding>,
    vary: bool,
}

/// The site being served: the root, its options, and the caches.
#[derive(Debug)]
pub struct Site {
    root: Root,
    index: Vec<Vec<u8>>,
    fallback: Option<Vec<u8>>,
    dir_listing: bool,
    hidden: Hidden,
    precompressed: bool,
    clean_urls: bool,
    canonical_urls: bool,
    compress: Option<CompressCache>,
    compress_min_size: u64,
    cache_control: CacheControl,
    extra_headers: Vec<u8>,
    health_path: Option<String>,
    files: Option<FileCache<Arc<[u8]>>>,
    open_files: Option<FileCache<Arc<File>>>,
    rules: Rules,
    tags: Tagger,
    cors: Option<CorsPolicy>,
    auth: Auth,
}

impl Site {
    /// Opens the root and compiles the options and rules; the first problem is the error
    /// (`muxserve check` lists them all).
    pub fn open(root: &Path, config: &SiteOptions) -> anyhow::Result<Site> {
        let (site, problems) = Site::build(root, config)?;
        match problems.as_slice() {
            [] => Ok(site),
            [one] => anyhow::bail!("{one}"),
            [first, rest @ ..] => anyhow::bail!(
                "{first} (and {} more problems: muxserve check lists them)",
                rest.len()
            ),
        }
    }

    /// The site, and every problem of its rules, one line each.
    fn build(root: &Path, config: &SiteOptions) -> anyhow::Result<(Site, Vec<String>)> {
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
        let root_name = root.display().to_string();
        let root =
            Root::open(root, symlinks).with_context(|| format!("cannot serve root {root_name}"))?;
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
        let nosniff = config
            .nosniff
            .then_some(("X-Content-Type-Options", "nosniff"));
        let extras: Vec<(&str, &str)> = nosniff
            .into_iter()
            .chain(config.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .collect();
        let mut extra_headers = Vec::new();
        for (name, value) in &extras {
            let _ = write!(extra_headers, "{name}: {value}\r\n");
        }
        let names: Vec<&str> = extras.iter().map(|(n, _)| *n).collect();
        let (rules, mut problems) = Rules::load(&root, &root_name, config, &names);
        let (auth, mut auth_problems) = Auth::load(&config.auth);
        problems.append(&mut auth_problems);
        let cors = match &config.cors {
            Some(options) => {
                Some(CorsPolicy::new(options, names.iter().copied()).map_err(anyhow::Error::msg)?)
            }
            None => None,
        };
        let site = Site {
            root,
            index: config.index.iter().map(|i| i.as_bytes().to_vec()).collect(),
            fallback,
            dir_listing: config.dir_listing,
            hidden,
            precompressed: config.precompressed,
            clean_urls: config.clean_urls,
            canonical_urls: config.canonical_urls,
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
            open_files: (config.file_cache_size > 0)
                .then(|| FileCache::new(crate::descriptors::cached_files())),
            rules,
            tags: Tagger::new(config.etag),
            cors,
            auth,
        };
        Ok((site, problems))
    }

    /// For `muxserve check`: how many redirect rules and header blocks `root` would be served
    /// with under `config` (the rules files' and the config file's), or every problem that keeps
    /// it from being served, one line each.
    pub fn check(root: &Path, config: &SiteOptions) -> Result<(usize, usize), Vec<String>> {
        match Site::build(root, config) {
            Ok((site, problems)) if problems.is_empty() => {
                Ok((site.rules.redirects.len(), site.rules.headers.len()))
            }
            Ok((_, problems)) => Err(problems),
            Err(e) => Err(vec![format!("{e:#}")]),
        }
    }

    /// The `_headers` blocks that matched the request [`Site::respond`] last answered with
    /// `s`, for its response head; `None` when there are none.
    pub fn rule_headers<'a>(&'a self, s: &'a Scratch) -> Option<Matched<'a>> {
        (!s.matched.is_empty()).then(|| {
            let matched = self.rules.headers.matched(&s.matched, &s.asked);
            if s.creds.granted() {
                matched.private()
            } else {
                matched
            }
        })
    }

    /// How long the answer `respond` just planned into `s` is held back before it is sent:
    /// a refusal of credentials the request did present (wrong, or not verified for want of a
    /// hashing slot) waits `--auth-failure-delay`, so guessing costs the guesser time and the
    /// workers nothing. A request without credentials is answered at once: that 401 is how a
    /// browser learns to ask for them.
    pub fn hold(&self, s: &Scratch) -> Option<Duration> {
        let delay = self.auth.failure_delay();
        (matches!(
            s.tally.auth,
            Some(AuthFailure::Rejected | AuthFailure::Busy)
        ) && !delay.is_zero())
        .then_some(delay)
    }

    /// Whether the answer `respond` just planned into `s` is not final: its credentials are
    /// being verified for another request right now, and asking again once that is over
    /// answers it from the memory of successes. The planned answer is a 503.
    pub fn pending(&self, s: &Scratch) -> bool {
        s.creds.pending()
    }

    /// What the file and compression caches hold now (0 for one that is off).
    pub fn cache_sizes(&self) -> CacheSizes {
        CacheSizes {
            memory: self.files.as_ref().map_or(0, FileCache::used),
            open: self.open_files.as_ref().map_or(0, FileCache::used),
            compressed: self.compress.as_ref().map_or(0, CompressCache::size),
        }
    }

    /// Lets the file cache drop what no request used since the last call (`reload`'s watcher
    /// calls it now and then), so a file deleted from the disk is not held open for long.
    pub fn sweep_caches(&self) {
        if let Some(files) = &self.files {
            files.sweep();
        }
        if let Some(open) = &self.open_files {
            open.sweep();
        }
    }

    /// `WWW-Authenticate`'s value for a 401 (`--auth-realm`).
    pub fn challenge(&self) -> &str {
        self.auth.challenge()
    }

    /// The htpasswd files `--basic-auth` read, which a reload watches.
    pub fn auth_files(&self) -> &[std::path::PathBuf] {
        self.auth.files()
    }

    /// The (device, inode) of the directory served, which a reload compares with what the root
    /// path leads to now.
    pub fn root_identity(&self) -> std::io::Result<(u64, u64)> {
        self.root.identity()
    }

    /// Header lines added to every response (`nosniff`, `--header`), each ending in CRLF.
    pub fn extra_headers(&self) -> &[u8] {
        &self.extra_headers
    }

    /// Plans the response to `req`, with `s` for the decoded path and the memory-cache key;
    /// `draining` says whether the server is shutting down.
    pub fn respond(&self, req: &RequestHead<'_>, s: &mut Scratch, draining: bool) -> Reply<'_> {
        s.matched.clear();
        s.creds.reset();
        s.tally = Tally::default();
        let (Break(mut reply) | Continue(mut reply)) = self.steps(req, s, draining);
        // Checked here, and the reply changed in place: moving every reply through a function
        // cost ~47 instructions per request (callgrind).
        if reply.status.code() >= 400 {
            s.tally.auth = match reply.auth {
                AuthHeader::None => None,
                AuthHeader::Challenge if s.creds.presented() => Some(AuthFailure::Rejected),
                AuthHeader::Challenge => Some(AuthFailure::Missing),
                AuthHeader::RetryAfter => Some(AuthFailure::Busy),
            };
            self.site_page(&mut reply);
        } else if s.creds.granted() {
            // An answer for one user: a shared cache must never store it (RFC 9111 §5.2.2.7),
            // whatever a rule or `_headers` says; what they say to the browser's cache stands.
            reply.private = true;
        }
        if let Some(cors) = &self.cors {
            let f = &req.fields;
            let answer = cors.answer(req.method, f.origin, f.access_control_request_method);
            reply.cors = answer.lines;
            reply.vary.origin = answer.vary_origin;
            reply.vary.request_method = answer.vary_request_method;
        }
        // `_headers` go on the content and on what stands for it (RFC 9110 §15.4.5: a 304
        // carries what a 200 would), not on redirects or errors.
        if !s.matched.is_empty()
            && !matches!(
                reply.status,
                Status::Ok | Status::PartialContent | Status::NotModified
            )
        {
            s.matched.clear();
        }
        reply
    }

    /// The steps of the module's doc; a step that `Break`s has decided the answer.
    fn steps<'s>(
        &'s self,
        req: &RequestHead<'_>,
        s: &mut Scratch,
        draining: bool,
    ) -> ControlFlow<Reply<'s>, Reply<'s>> {
        let Scratch {
            rel,
            key,
            matched,
            asked,
            creds,
            tally,
        } = s;
        self.health(req, draining)?; // 0.
        if let Break(reply) = method(req.method) {
            // 1. OPTIONS on a protected path is answered to those who may see it only, but
            // for a CORS preflight from an allowed origin: a browser never sends credentials
            // with one (Fetch §3.2.3) and fails the request unless it gets a 2xx (§4.8), and
            // the answer says nothing of the path (the 204 and the policy's lines are the same
            // for every path). The request that follows it is checked as any other.
            if req.method == Method::Options
                && req.path != "*"
                && !self.auth.is_empty()
                && !self.is_allowed_preflight(req)
            {
                self.normalize(req.path, rel)?;
                self.guard(req, rel, creds)?;
            }
            return Break(reply);
        }
        let slash = self.normalize(req.path, rel)?; // 2.
        // Before anything of the path is looked at: no rule, cache or file tells a client
        // without credentials whether it exists.
        self.guard(req, rel, creds)?;
        if !self.rules.headers.is_empty() {
            // The URL asked for decides, before rewrites, clean URLs and index files.
            self.rules.headers.matching(req.host, rel, matched);
            if !matched.is_empty() {
                asked.clear();
                asked.extend_from_slice(rel);
            }
        }
        let chosen = match self.ruled(req, rel, slash, creds)? {
            Some(target) => {
                let target = self.guard_target(req, rel, creds, target)?;
                self.represent(req, rel, key, target, tally)? // 4.
            }
            None => {
                memory_key(key, rel, slash);
                // Only files no rule protects are kept in memory (`guard_target`), so a hit
                // needs no second check.
                match self.remembered(req, rel, key, tally) {
                    Some(chosen) => chosen,
                    None => {
                        let target = self.find(req, rel, slash, creds)?; // 3.
                        let target = self.guard_target(req, rel, creds, target)?;
                        self.represent(req, rel, key, target, tally)? // 4.
                    }
                }
            }
        };
        let v = chosen.validate(&self.tags); // 5.
        if v.status != Status::Ok {
            // A rule's page served as a 404: the page is not the resource, so neither its
            // validators nor ranges apply.
            let mut reply = Reply::whole(&v.described, v.content, v.len);
            reply.status = v.status;
            reply.validators = None;
            reply.accept_ranges = false;
            reply.cache_control = None;
            return Break(reply);
        }
        preconditions(req, &v.described)?; // 6.
        let v = ranges(req, v)?; // 7.
        Continue(Reply::whole(&v.described, v.content, v.len)) // 8.
    }

    /// Whether `req` is a CORS preflight (OPTIONS with `Origin` and
    /// `Access-Control-Request-Method`) from an origin `--cors-origins` allows.
    fn is_allowed_preflight(&self, req: &RequestHead<'_>) -> bool {
        let f = &req.fields;
        self.cors.as_ref().is_some_and(|cors| {
            cors.answer(req.method, f.origin, f.access_control_request_method)
                .lines
                .is_some_and(|lines| !lines.preflight.is_empty())
        })
    }

    /// Step 0, the probe path: no disk, and 503 while draining so a load balancer stops sending.
    fn health(&self, req: &RequestHead<'_>, draining: bool) -> ControlFlow<Reply<'_>> {
        if self.health_path.as_deref() != Some(req.path)
            || req.query.is_some()
            || !matches!(req.method, Method::Get | Method::Head)
        {
            return Continue(());
        }
        if draining {
            // Not a 2xx: preconditions do not apply (RFC 9110 §13.2.1).
            return Break(Reply::no_store_text(
                Status::ServiceUnavailable,
                b"draining\n",
            ));
        }
        without_validators(req, Some("no-store"), Vary::default())?;
        Break(Reply::no_store_text(Status::Ok, b"ok\n"))
    }

    /// `--basic-auth`: whether the request's credentials may see `rel`; 401 with the challenge
    /// when not, 503 when verifying them would exceed the hashing bound.
    fn guard(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>> {
        if self.auth.is_empty() {
            return Continue(());
        }
        match self.auth.check(rel, req.fields.authorization, creds) {
            Ok(()) => Continue(()),
            Err(auth::Refusal::Unauthorized) => Break(Reply::unauthorized()),
            // Pending: the connection asks again shortly (`Site::pending`); the 503 is what it
            // sends when it cannot.
            Err(auth::Refusal::Busy | auth::Refusal::Pending) => Break(Reply::busy()),
        }
    }

    /// The file finally served (a rewrite's, an index file, a clean URL, the fallback) checked
    /// as its own path, before step 4 reads it; what a password guards never enters the memory
    /// cache, which answers by the request's path alone.
    fn guard_target(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        creds: &mut Credentials,
        mut target: Target,
    ) -> ControlFlow<Reply<'_>, Target> {
        self.guard(req, rel, creds)?;
        if creds.granted() {
            target.cacheable = false;
        }
        Continue(target)
    }

    /// Step 2, normalise: decodes `path` into `rel`; goes on with whether it ended in `/`.
    fn normalize(&self, path: &str, rel: &mut Vec<u8>) -> ControlFlow<Reply<'_>, bool> {
        match resolve::normalize_with(path, rel, self.hidden) {
            Ok(n) => Continue(n.trailing_slash),
            Err(Refusal::BadRequest) => Break(Reply::page(Status::BadRequest)),
            Err(Refusal::Forbidden) => Break(Reply::page(Status::Forbidden)),
            Err(Refusal::NotFound) => Break(self.not_found(b"")),
        }
    }

    /// Steps 3 and 4 from the file cache: when it holds the file `key` names as the disk has it
    /// now, and negotiation picks the original (or, for a descriptor kept open, a body
    /// compressed on the fly from it). A sidecar, a 406 and anything else go the long way.
    /// `rel` names the file served when this answers, and is left as it was when not.
    fn remembered(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        key: &[u8],
        tally: &mut Tally,
    ) -> Option<Chosen<'_>> {
        let files = self.files.as_ref()?;
        tally.memory = Some(CacheUse::Miss);
        let accept = AcceptEncoding::parse(req.fields.accept_encoding.lines());
        if let Some(hit) = files.lookup(&self.root, key) {
            let content_type = mime::for_extension(extension(&hit.rel));
            let n = self.negotiate(&accept, content_type, hit.meta.len, hit.sidecars);
            if n.coding != Some(Coding::Identity) {
                return None;
            }
            tally.memory = Some(CacheUse::Hit);
            return Some(Chosen {
                status: Status::Ok,
                repr: Repr::Memory(hit.held.clone(), hit.meta, hit.etag),
                content_type,
                cache_control: self.cache_control.for_path(&hit.rel),
                vary: n.vary,
            });
        }
        let open = self.open_files.as_ref()?;
        tally.open = Some(CacheUse::Miss);
        let hit = open.lookup(&self.root, key)?;
        let content_type = mime::for_extension(extension(&hit.rel));
        let n = self.negotiate(&accept, content_type, hit.meta.len, hit.sidecars);
        let repr = match n.coding? {
            Coding::Identity => Repr::Open(hit.held.clone(), hit.meta, hit.etag),
            // The disk path serves a sidecar in the coding chosen whenever there is one.
            c if hit.sidecars.has(c) => return None,
            c => {
                rel.clear();
                rel.extend_from_slice(&hit.rel);
                self.compressed(rel, OpenFile::Shared(hit.held.clone()), hit.meta, c, tally)
            }
        };
        tally.open = Some(CacheUse::Hit);
        Some(Chosen {
            status: Status::Ok,
            repr,
            content_type,
            cache_control: self.cache_control.for_path(&hit.rel),
            vary: n.vary,
        })
    }

    /// Step 3, find the file to represent: `rel` itself, a directory's index file or the
    /// fallback, `rel` then naming it. Redirects, listings and errors are answers.
    fn find(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        slash: bool,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Target> {
        let found = if self.is_rules_file(rel) {
            Err(Errno::NOENT)
        } else {
            self.root.find(rel)
        };
        match found {
            Ok(Found::File(..)) if slash => Break(self.not_found(rel)),
            Ok(Found::File(fd, st)) => match self.canonical(rel, req.query) {
                Some(url) => Break(Reply::permanent_redirect(url)),
                None => Continue(Target {
                    fd,
                    meta: FileMeta::from_stat(&st),
                    cacheable: true,
                    status: Status::Ok,
                }),
            },
            Ok(Found::Dir(_)) if !slash && !rel.is_empty() => {
                // A directory without an index file is no file at FROM: rules apply there.
                if self.rules.redirects.any(Which::Unforced) && !self.has_index(rel) {
                    if let Some(target) = self.rule(Which::Unforced, req, rel, creds)? {
                        return Continue(target);
                    }
                }
                Break(Reply::redirect(resolve::directory_url(rel, req.query)))
            }
            Ok(Found::Dir(dir)) => self.directory(req, rel, dir, Lookup::Request, creds),
            Err(e @ (Errno::NOENT | Errno::NOTDIR)) => {
                if let Some(target) = self.clean_url(rel, slash) {
                    if let Some(url) = self.index_url(rel, req.query) {
                        return Break(Reply::permanent_redirect(url));
                    }
                    return Continue(target);
                }
                if slash && let Some(url) = self.unslashed_clean_url(rel, req.query) {
                    return Break(Reply::redirect(url));
                }
                // Netlify's shadowing: a rule that is not forced applies only where no file
                // answers, and before the single-page-app fallback.
                if let Some(target) = self.rule(Which::Unforced, req, rel, creds)? {
                    return Continue(target);
                }
                match &self.fallback {
                    // Only paths whose last segment has no extension: a missing asset stays a
                    // 404 a developer can see.
                    Some(fallback) if extension(rel).is_empty() => self.fallback(rel, fallback),
                    _ => Break(self.open_failed(e, rel)),
                }
            }
            Err(e) => Break(self.open_failed(e, rel)),
        }
    }

    /// Directory `rel`, open as `dir`, asked for with its trailing slash: its first index file,
    /// else (for the request's own path, not a rewrite's target) the first unforced rule, else a
    /// listing or 403.
    fn directory(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        dir: OwnedFd,
        lookup: Lookup,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Target> {
        let dir_len = rel.len();
        for name in &self.index {
            rel.truncate(dir_len);
            if dir_len > 0 {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            match self.root.find(rel) {
                Ok(Found::File(fd, st)) => {
                    return Continue(Target {
                        fd,
                        meta: FileMeta::from_stat(&st),
                        cacheable: true,
                        status: Status::Ok,
                    });
                }
                Ok(Found::Dir(_)) | Err(Errno::NOENT) => {}
                Err(e) => return Break(self.open_failed(e, rel)),
            }
        }
        rel.truncate(dir_len);
        if lookup == Lookup::Request
            && let Some(target) = self.rule(Which::Unforced, req, rel, creds)?
        {
            return Continue(target);
        }
        Break(self.listing(req, rel, dir, creds))
    }

    /// The listing of directory `rel` when listings are on, else 403, in the format `req`'s
    /// Accept prefers. The entries are read from `dir`, the descriptor step 3 opened beneath the
    /// root: the path is not resolved again, so a directory swapped in since cannot be listed
    /// instead. An entry a password guards is named only when this request passed its rule.
    fn listing(
        &self,
        req: &RequestHead<'_>,
        rel: &[u8],
        dir: OwnedFd,
        creds: &Credentials,
    ) -> Reply<'_> {
        if !self.dir_listing {
            return Reply::page(Status::Forbidden);
        }
        if let Break(reply) =
            without_validators(req, Some(reply::LISTING_CACHE_CONTROL), reply::LISTING_VARY)
        {
            return reply;
        }
        let mut url = Vec::with_capacity(rel.len() + 2);
        url.push(b'/');
        url.extend_from_slice(rel);
        if !rel.is_empty() {
            url.push(b'/');
        }
        let format = listing::Format::from_accept(req.fields.accept.lines());
        // An entry a password guards is named only to those who may see it: its name, size
        // and time are the protected resource's too.
        let mut entry = rel.to_vec();
        let mut withheld = |name: &[u8]| {
            if rel.is_empty() && rules::FILES.contains(&name) {
                return true;
            }
            if self.auth.is_empty() {
                return false;
            }
            entry.truncate(rel.len());
            if !rel.is_empty() {
                entry.push(b'/');
            }
            entry.extend_from_slice(name);
            !self.auth.may_list(&mut entry, creds)
        };
        match listing::render(&url, dir, self.hidden, &mut withheld, format) {
            Ok(body) => Reply::listing(format.content_type(), body),
            Err(e) => self.open_failed(e, rel),
        }
    }

    /// The single-page-app fallback in place of a missing `rel`.
    fn fallback(&self, rel: &mut Vec<u8>, fallback: &[u8]) -> ControlFlow<Reply<'_>, Target> {
        rel.clear();
        rel.extend_from_slice(fallback);
        match self.root.find(rel) {
            Ok(Found::File(fd, st)) => Continue(Target {
                fd,
                meta: FileMeta::from_stat(&st),
                cacheable: false,
                status: Status::Ok,
            }),
            Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOMEM)) => {
                Break(self.open_failed(e, rel))
            }
            _ => Break(self.not_found(b"")),
        }
    }

    /// Step 4, the representation of `target` (at `rel`) the client prefers; 406 if none is
    /// acceptable. The original itself fills the memory cache under `key`.
    fn represent(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        key: &[u8],
        target: Target,
        tally: &mut Tally,
    ) -> ControlFlow<Reply<'_>, Chosen<'_>> {
        let content_type = mime::for_extension(extension(rel));
        let accept = AcceptEncoding::parse(req.fields.accept_encoding.lines());
        // Sidecars are looked for in the order the client ranks their codings, and only in
        // codings it accepts: the first found outranks the rest, which are not looked up (one
        // openat2 each). Negotiation then chooses as if it knew them all.
        let mut found = None;
        for coding in accept.ranked() {
            if let Some(file) = self.sidecar(rel, coding) {
                found = Some((coding, file));
                break;
            }
        }
        let sidecars = found
            .as_ref()
            .map_or(Available::default(), |(c, _)| Available::default().with(*c));
        let n = self.negotiate(&accept, content_type, target.meta.len, sidecars);
        let status = target.status;
        let Some(coding) = n.coding else {
            return Break(self.not_acceptable(rel, content_type, target.meta.len, n.vary));
        };
        let key = target.cacheable.then_some(key);
        let repr = match found {
            Some((c, (fd, meta))) if c == coding => {
                Repr::File(OpenFile::Own(fd.into()), meta, Some(coding))
            }
            _ if coding == Coding::Identity => self.identity(rel, key, target),
            _ => {
                let meta = target.meta;
                let file = self.opened(rel, key, target.fd, meta);
                self.compressed(rel, file, meta, coding, tally)
            }
        };
        Continue(Chosen {
            status,
            repr,
            content_type,
            cache_control: self.cache_control.for_path(rel),
            vary: n.vary,
        })
    }

    /// 406 for the `ct` file of `len` bytes at `rel`, listing what it is available in: every
    /// sidecar is looked up for it, those in codings the client refused too (cold: a client
    /// that refuses identity is rare).
    #[cold]
    fn not_acceptable(
        &self,
        rel: &mut Vec<u8>,
        ct: ContentType,
        len: u64,
        vary: bool,
    ) -> Reply<'_> {
        let sidecars = self.sidecars(rel).unwrap_or_default();
        Reply::not_acceptable(vary, sidecars, self.on_the_fly(ct, len))
    }

    /// Whether a `ct` file of `len` bytes is compressed on the fly when a client asks.
    fn on_the_fly(&self, ct: ContentType, len: u64) -> bool {
        self.compress.is_some()
            && ct.compressible
            && len >= self.compress_min_size
            && len <= compress::MAX_INPUT
    }

    /// The coding of a `ct` file of `len` bytes that `accept` prefers, given the `sidecars`
    /// beside it: the one rule of step 4, for the disk and the memory path alike.
    fn negotiate(
        &self,
        accept: &AcceptEncoding,
        ct: ContentType,
        len: u64,
        sidecars: Available,
    ) -> Negotiated {
        let on_the_fly = self.on_the_fly(ct, len);
        // Only sidecars in codings the client accepts count, as the disk path looks up no others.
        let br = sidecars.br && accept.weight(Coding::Br) > 0;
        let zstd = sidecars.zstd && accept.weight(Coding::Zstd) > 0;
        let gzip = sidecars.gzip && accept.weight(Coding::Gzip) > 0;
        Negotiated {
            coding: accept.choose(Available {
                br: br || on_the_fly,
                zstd: zstd || on_the_fly,
                gzip: gzip || on_the_fly,
            }),
            vary: ct.compressible || br || zstd || gzip,
        }
    }

    /// Which of the `.br`, `.zst` and `.gz` files beside `rel` exist (none when sidecars are
    /// not served): a lookup each. `None` when one could not be looked up for another reason
    /// than its absence (out of descriptors, say): the file cache must not remember a wrong
    /// answer until the file changes.
    fn sidecars(&self, rel: &mut Vec<u8>) -> Option<Available> {
        let mut found = Available::default();
        if !self.precompressed {
            return Some(found);
        }
        for coding in [Coding::Br, Coding::Zstd, Coding::Gzip] {
            match self.beside(rel, coding) {
                Ok(Found::File(..)) => found = found.with(coding),
                Ok(Found::Dir(_)) | Err(Errno::NOENT | Errno::NOTDIR) => {}
                Err(_) => return None,
            }
        }
        Some(found)
    }

    /// The `.br` / `.zst` / `.gz` file beside `rel`, when sidecars are served and it exists.
    fn sidecar(&self, rel: &mut Vec<u8>, coding: Coding) -> Option<(OwnedFd, FileMeta)> {
        if !self.precompressed {
            return None;
        }
        match self.beside(rel, coding) {
            Ok(Found::File(fd, st)) => Some((fd, FileMeta::from_stat(&st))),
            _ => None,
        }
    }

    /// Looks up `rel` with `coding`'s suffix, leaving `rel` as it was.
    fn beside(&self, rel: &mut Vec<u8>, coding: Coding) -> Result<Found, Errno> {
        let len = rel.len();
        rel.extend_from_slice(coding.suffix().as_bytes());
        let found = self.root.find(rel);
        rel.truncate(len);
        found
    }

    /// The original file as the representation. One with a `key` is kept by the file cache: a
    /// small one's bytes, with the sidecars beside it so the memory path negotiates as this one
    /// does, or a larger one's open descriptor.
    fn identity(&self, rel: &mut Vec<u8>, key: Option<&[u8]>, target: Target) -> Repr {
        let Target { fd, meta, .. } = target;
        let (Some(files), Some(key)) = (&self.files, key) else {
            return Repr::File(OpenFile::Own(fd.into()), meta, None);
        };
        if meta.len > file_cache::MAX_FILE {
            return Repr::File(self.opened(rel, Some(key), fd, meta), meta, None);
        }
        let file = File::from(fd);
        let mut bytes = vec![0; usize::try_from(meta.len).unwrap_or(0)];
        if file.read_exact_at(&mut bytes, 0).is_err() {
            return Repr::File(OpenFile::Own(file), meta, None);
        }
        let bytes: Arc<[u8]> = bytes.into();
        let etag = self.tags.of_bytes(&bytes, &meta);
        if let Some(sidecars) = self.sidecars(rel) {
            files.fill(key, Entry::new(rel, bytes.clone(), meta, etag, sidecars));
        }
        Repr::Memory(bytes, meta, etag)
    }

    /// `fd`, the file at `rel`, as a response's file: kept open by the file cache under `key`
    /// when it is larger than memory keeps and the cache is on, else this response's own.
    fn opened(
        &self,
        rel: &mut Vec<u8>,
        key: Option<&[u8]>,
        fd: OwnedFd,
        meta: FileMeta,
    ) -> OpenFile {
        let file = File::from(fd);
        match (&self.open_files, key) {
            (Some(open), Some(key)) if meta.len > file_cache::MAX_FILE => {
                let Some(sidecars) = self.sidecars(rel) else {
                    return OpenFile::Own(file);
                };
                let etag = self.tags.of_file(&file, &meta);
                let entry = open.fill(key, Entry::new(rel, Arc::new(file), meta, etag, sidecars));
                OpenFile::Shared(entry.held.clone())
            }
            _ => OpenFile::Own(file),
        }
    }

    /// `file` (version `meta`) compressed on the fly (cached), or the file itself if that does
    /// not pay.
    fn compressed(
        &self,
        rel: &mut Vec<u8>,
        file: OpenFile,
        meta: FileMeta,
        coding: Coding,
        tally: &mut Tally,
    ) -> Repr {
        let Some(cache) = &self.compress else {
            return Repr::File(file, meta, None);
        };
        // The key names one version of one file: path and strong ETag.
        let etag = self.tags.of_file(&file, &meta);
        let len = rel.len();
        rel.push(0);
        rel.extend_from_slice(etag.as_bytes());
        let got = cache.get(rel, coding, file.file(), meta.len);
        rel.truncate(len);
        match got {
            Ok(got) => {
                tally.compressed = Some(got.from);
                match got.data {
                    Some(bytes) => Repr::Bytes(bytes, meta, etag, coding),
                    None => Repr::File(file, meta, None),
                }
            }
            Err(e) => {
                crate::log::error(format_args!("compressing a file failed: {e}"));
                Repr::File(file, meta, None)
            }
        }
    }
}

impl<'s> Chosen<'s> {
    /// Step 5, the validators of the representation sent: a file's own (a sidecar has its own
    /// fstat), or for a body compressed here the original's, its ETag marked with the coding: a
    /// different representation needs a different strong tag (RFC 9110 §8.8.3). `tags` makes a
    /// file's tag (`--etag`); the others were made with it in step 4.
    fn validate(self, tags: &Tagger) -> Validated<'s> {
        let (content, meta, etag, encoding, len) = match self.repr {
            Repr::File(fd, m, c) => {
                let etag = tags.of_file(&fd, &m);
                (Content::File(fd), m, etag, c, m.len)
            }
            Repr::Bytes(b, m, etag, c) => {
                let len = b.len() as u64;
                (
                    Content::Bytes(b),
                    m,
                    etag.with_suffix(c.token()),
                    Some(c),
                    len,
                )
            }
            Repr::Memory(b, m, etag) => {
                let len = b.len() as u64;
                (Content::Bytes(b), m, etag, None, len)
            }
            Repr::Open(f, m, etag) => (Content::File(OpenFile::Shared(f)), m, etag, None, m.len),
        };
        Validated {
            status: self.status,
            described: Described {
                content_type: self.content_type,
                etag,
                // What is sent is what the preconditions and If-Range compare against.
                last_modified: crate::http::date::not_after_now(meta.last_modified()),
                cache_control: self.cache_control,
                vary: self.vary,
                encoding,
            },
            len,
            content,
        }
    }
}

/// Step 1, method: only GET and HEAD go on; OPTIONS and the rest are answered with `Allow`.
fn method<'s>(method: Method) -> ControlFlow<Reply<'s>> {
    match method {
        Method::Get | Method::Head => Continue(()),
        Method::Options => Break(Reply::allow(Status::NoContent)),
        Method::NotAllowed => Break(Reply::allow(Status::MethodNotAllowed)),
    }
}

/// The memory cache's key for `rel`: a path asked for with and without `/` is answered
/// differently.
fn memory_key(key: &mut Vec<u8>, rel: &[u8], slash: bool) {
    key.clear();
    key.extend_from_slice(rel);
    if slash {
        key.push(b'/');
    }
}

/// The request's precondition fields; `None` when it has none, as most requests.
fn preconditions_of<'a>(req: &'a RequestHead<'_>) -> Option<Preconditions<'a>> {
    let f = &req.fields;
    let pre = Preconditions {
        if_match: f.if_match.lines(),
        if_none_match: f.if_none_match.lines(),
        if_modified_since: f.if_modified_since,
        if_unmodified_since: f.if_unmodified_since,
    };
    (!pre.if_match.is_empty()
        || !pre.if_none_match.is_empty()
        || pre.if_modified_since.is_some()
        || pre.if_unmodified_since.is_some())
    .then_some(pre)
}

/// Step 6, preconditions, before any range (RFC 9110 §13.2.2): 304 or 412 answer.
fn preconditions<'s>(req: &RequestHead<'_>, d: &Described<'s>) -> ControlFlow<Reply<'s>> {
    // Most requests carry none: don't parse our own tag for nothing.
    let Some(pre) = preconditions_of(req) else {
        return Continue(());
    };
    let validators = Validators {
        etag: Some(d.etag.as_bytes()),
        last_modified: Some(d.last_modified),
    };
    match conditional::evaluate(&pre, &validators, req.method) {
        Outcome::Proceed => Continue(()),
        Outcome::NotModified => Break(Reply::not_modified(d)),
        Outcome::PreconditionFailed => Break(Reply::page(Status::PreconditionFailed)),
    }
}

/// Step 6 for a 200 without validators: a directory listing, the probe's `ok`, a scrape.
/// RFC 9110 §13.2.1 asks the same evaluation of every 2xx to GET and HEAD; with nothing to
/// compare, `*` matches (there is a current representation), a tag does not, and the dates are
/// ignored (§13.1.1–§13.1.4). A 304 carries the `cache_control` and `vary` of the 200 it
/// stands for (§15.4.5); the 200 itself is built only after this says go on.
pub(crate) fn without_validators<'s>(
    req: &RequestHead<'_>,
    cache_control: Option<&'s str>,
    vary: Vary,
) -> ControlFlow<Reply<'s>> {
    let Some(pre) = preconditions_of(req) else {
        return Continue(());
    };
    match conditional::evaluate(&pre, &Validators::NONE, req.method) {
        Outcome::Proceed => Continue(()),
        Outcome::NotModified => Break(Reply::bare_not_modified(cache_control, vary)),
        // `no-store` as every error: the scrape's answer does not pass the site's error pages,
        // which mark the others so.
        Outcome::PreconditionFailed => Break(Reply {
            cache_control: Some("no-store"),
            ..Reply::page(Status::PreconditionFailed)
        }),
    }
}

/// Step 7, range, defined for GET only (RFC 9110 §14.2), where If-Range lets it apply: 206 or 416
/// answer; no range, or one to ignore, goes on to the whole representation.
fn ranges<'s>(req: &RequestHead<'_>, v: Validated<'s>) -> ControlFlow<Reply<'s>, Validated<'s>> {
    let (Method::Get, Some(value)) = (req.method, req.fields.range) else {
        return Continue(v);
    };
    let d = &v.described;
    if req
        .fields
        .if_range
        .is_some_and(|ir| !if_range_allows(ir, &d.etag, d.last_modified))
    {
        return Continue(v);
    }
    match range::parse(value, v.len) {
        RangeSpec::Full => Continue(v),
        RangeSpec::Unsatisfiable => Break(Reply::unsatisfiable(v.len)),
        RangeSpec::Single(r) => Break(Reply::partial(d, v.content, r, v.len)),
        RangeSpec::Multi(rs) => Break(Reply::byteranges(d, v.content, &rs, v.len)),
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
            ..FileMeta::default()
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

    /// A site over a temp root: `a.txt`, `img.png` with a `.gz` sidecar, `style.css`, `sub/` with
    /// no index, and the site's own `404.html`.
    fn site(configure: impl FnOnce(&mut SiteOptions)) -> (tempfile::TempDir, Site) {
        let dir = tempfile::TempDir::new().expect("tempdir");
        for (name, body) in [
            ("a.txt", &b"hello\n"[..]),
            ("img.png", b"not really a png"),
            ("img.png.gz", b"not really gzip"),
            ("style.css", b"body { color: red }\n"),
            ("404.html", b"<h1>gone</h1>\n"),
            ("sub/b.txt", b"b\n"),
        ] {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, body).expect("write");
        }
        let mut config = SiteOptions {
            dir_listing: true,
            ..SiteOptions::default()
        };
        configure(&mut config);
        let site = Site::open(dir.path(), &config).expect("open the site");
        (dir, site)
    }

    /// `f` of the request head `raw`.
    fn with_head<T>(raw: &str, f: impl FnOnce(&RequestHead<'_>) -> T) -> T {
        let limits = crate::http::request::Limits {
            max_head: 16 * 1024,
            max_uri: 8 * 1024,
            max_body: 0,
            max_headers: 100,
        };
        let parsed = crate::http::request::parse(raw.as_bytes(), &limits).expect("a valid head");
        let crate::http::request::Parsed::Complete { head, .. } = parsed else {
            panic!("incomplete head {raw:?}");
        };
        f(&head)
    }

    /// `site`'s reply to the request head `raw`.
    fn ask<'s>(site: &'s Site, raw: &str) -> Reply<'s> {
        with_head(raw, |head| {
            site.respond(head, &mut Scratch::default(), false)
        })
    }

    fn shared(body: &Body) -> &[u8] {
        match body {
            Body::Shared { bytes, start, end } => &bytes[*start..*end],
            other => panic!("not shared bytes: {other:?}"),
        }
    }

    #[test]
    fn each_step_answers_without_a_socket() {
        let (_dir, site) = site(|_| {});
        let host = "Host: x\r\n\r\n";
        let reply = ask(&site, &format!("OPTIONS / HTTP/1.1\r\n{host}"));
        assert_eq!((reply.status, reply.allow), (Status::NoContent, true));
        let reply = ask(&site, &format!("POST /a.txt HTTP/1.1\r\n{host}"));
        assert_eq!(
            (reply.status, reply.allow),
            (Status::MethodNotAllowed, true)
        );
        let reply = ask(&site, &format!("GET /%zz HTTP/1.1\r\n{host}"));
        assert_eq!(reply.status, Status::BadRequest);
        let reply = ask(&site, &format!("GET /sub?q=1 HTTP/1.1\r\n{host}"));
        assert_eq!(reply.status, Status::MovedPermanently);
        assert_eq!(reply.location.as_deref(), Some("/sub/?q=1"));
        let reply = ask(&site, &format!("GET /sub/ HTTP/1.1\r\n{host}"));
        assert_eq!(reply.status, Status::Ok);
        let page = String::from_utf8_lossy(shared(&reply.body)).into_owned();
        assert!(page.contains("href=\"b.txt\""), "{page}");
        let reply = ask(&site, &format!("GET /nope.txt HTTP/1.1\r\n{host}"));
        assert_eq!(reply.status, Status::NotFound);
        assert!(
            matches!(reply.body, Body::File { len: 14, .. }),
            "{reply:?}"
        );
        let reply = ask(
            &site,
            &format!("GET /a.txt HTTP/1.1\r\nRange: bytes=1-2\r\n{host}"),
        );
        assert_eq!(reply.status, Status::PartialContent);
        let range = range::ByteRange { start: 1, end: 2 };
        assert_eq!(reply.content_range, Some(ContentRange::Bytes(range, 6)));
    }

    #[test]
    fn memory_and_disk_negotiate_alike() {
        let (_dir, site) = site(|_| {});
        let host = "Host: x\r\n";
        for (path, accept) in [
            // The png's sidecar is in a coding the client does not take: no Vary either way.
            ("/img.png", ""),
            ("/img.png", "Accept-Encoding: br\r\n"),
            ("/img.png", "Accept-Encoding: gzip;q=0.5, identity\r\n"),
            ("/img.png", "Accept-Encoding: zstd\r\n"),
            // The disk path looks for `.zst` first, then finds the `.gz`.
            (
                "/img.png",
                "Accept-Encoding: zstd, gzip;q=0.5, identity\r\n",
            ),
            ("/style.css", ""),
            ("/style.css", "Accept-Encoding: gzip;q=0.5, identity\r\n"),
        ] {
            let raw = format!("GET {path} HTTP/1.1\r\n{host}{accept}\r\n");
            // The first request reads the file and fills the cache; then the cache answers.
            let from_disk = ask(&site, &raw);
            let key = &path.as_bytes()[1..];
            let mut tally = Tally::default();
            let from_memory = with_head(&raw, |head| {
                site.remembered(head, &mut Vec::new(), key, &mut tally)
                    .map(|c| c.vary)
            });
            assert_eq!(tally.memory, Some(CacheUse::Hit), "{raw:?}");
            assert_eq!(from_disk.encoding, None, "{raw:?}: {from_disk:?}");
            let vary = from_disk.vary.accept_encoding;
            assert_eq!(from_memory, Some(vary), "{raw:?}: {from_disk:?}");
        }
    }

    /// What a client can see of a reply: all but where its bytes come from.
    fn seen(reply: &Reply<'_>) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {}",
            reply.status,
            reply.validators,
            reply.encoding,
            reply.vary,
            reply.cache_control,
            reply.content_range,
            reply.body.len()
        )
    }

    #[test]
    fn kept_descriptors_answer_as_the_disk() {
        let big = vec![b'x'; 40 * 1024];
        let (dir, site) = site(|c| c.compress = true);
        for name in ["big.js", "big.bin", "side.js", "side.js.br"] {
            std::fs::write(dir.path().join(name), &big).expect("write");
        }
        let config = SiteOptions {
            dir_listing: true,
            compress: true,
            file_cache_size: 0,
            ..SiteOptions::default()
        };
        let disk = Site::open(dir.path(), &config).expect("open the site");
        let host = "Host: x\r\n";
        let mut filled = std::collections::HashSet::new();
        for (path, accept, kept) in [
            ("/big.bin", "", true),
            ("/big.js", "", true),
            ("/big.js", "Accept-Encoding: gzip\r\n", true),
            (
                "/big.js",
                "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n",
                true,
            ),
            ("/big.bin", "Range: bytes=0-9,20-29\r\n", true),
            // A sidecar in the coding chosen is the disk path's to serve.
            ("/side.js", "Accept-Encoding: br\r\n", false),
            ("/side.js", "Accept-Encoding: zstd\r\n", true),
        ] {
            let raw = format!("GET {path} HTTP/1.1\r\n{host}{accept}\r\n");
            let want = seen(&ask(&disk, &raw));
            for round in 0..2 {
                let mut s = Scratch::default();
                let got = with_head(&raw, |head| seen(&site.respond(head, &mut s, false)));
                assert_eq!(got, want, "{raw:?}, round {round}");
                let open = if filled.contains(path) {
                    CacheUse::Hit
                } else {
                    CacheUse::Miss
                };
                assert_eq!(s.tally.open, Some(open), "{raw:?}, round {round}");
                if kept {
                    filled.insert(path);
                }
            }
        }
        assert!(site.cache_sizes().open >= 3, "{:?}", site.cache_sizes());
        // Changed on disk: the next request sees it, and the entry is refilled.
        std::fs::write(dir.path().join("big.bin"), b"short now").expect("write");
        let reply = ask(&site, &format!("GET /big.bin HTTP/1.1\r\n{host}\r\n"));
        assert_eq!(reply.body.len(), 9);
        let before = site.cache_sizes().open;
        site.sweep_caches();
        site.sweep_caches();
        assert!(site.cache_sizes().open < before, "unused entries swept");
    }
}
