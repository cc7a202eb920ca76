//! HTTP Basic authentication (RFC 7617) for the paths `--basic-auth` names: which rule protects
//! a normalised path, the `Authorization: Basic` credentials of a request, and whether they
//! pass that rule's htpasswd file. A verification costs what the hash makes it cost (tens of
//! milliseconds for bcrypt or argon2), so successes are remembered, keyed by a keyed BLAKE3 hash
//! of the rule and the credentials under a random per-site key (never the password itself; the
//! hash compares in constant time); an unknown user is verified against a hash of the file's
//! own cost, so a wrong name takes as long as a wrong password; and at most
//! `AuthOptions::hashing` verifications run at once, each on a thread of its own at the lowest
//! CPU priority, so a flood of wrong passwords keeps the other workers, and the cores, for
//! everybody else. It decides from names and header bytes only: it must never
//! look at the disk, or keep a password past the request.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use globset::GlobMatcher;

use super::encoding::Coding;
use super::htpasswd::{Hash, Htpasswd};
use crate::config::AuthOptions;

/// The codings whose sidecars a file may have, by the suffix each adds to its name.
const SIDECARS: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

/// Failed verifications kept, and for how long: as long as a request may wait on one (`conn`
/// asks again for up to 3 s). A changed htpasswd file makes a new `Auth` (a reload), so a
/// password added to it is never refused on an older result.
const FAILED_KEPT: usize = 64;
const FAILED_FOR: Duration = Duration::from_secs(3);

/// Successful verifications remembered, in two generations of half this many each.
const REMEMBERED: usize = 4096;

/// Why a request does not pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials, malformed ones, or ones the file does not hold: 401.
    Unauthorized,
    /// Verifying them would exceed the hashing bound: 503, to be tried again.
    Busy,
    /// These very credentials are being verified for another request now: this one is to be
    /// asked again once that verification is over (`Credentials::pending`), not refused, so
    /// the parallel requests of one page after a login or a restart do not get 503s.
    Pending,
}

/// One request's credentials, in a worker's reused buffer: decoded on the first rule that asks
/// for them, the password wiped when the next request begins.
#[derive(Debug, Default)]
pub struct Credentials {
    /// `user:password` as decoded from base64.
    decoded: Vec<u8>,
    /// Whether the request's `Authorization` was decoded into `decoded` (and was `Basic`).
    state: Decoded,
    /// The rule whose file these credentials passed, for this request.
    granted: Option<usize>,
    /// Whether the check found these credentials being verified for another request.
    pending: bool,
}

/// What became of a request's `Authorization` so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Decoded {
    /// Not looked at yet.
    #[default]
    Pending,
    /// Basic credentials, the user name ending at this colon.
    Basic { colon: usize },
    /// Absent or malformed.
    Unusable,
}

impl Credentials {
    /// Forgets the last request's credentials, overwriting its password.
    pub fn reset(&mut self) {
        if !self.decoded.is_empty() {
            self.decoded.fill(0);
            self.decoded.clear();
        }
        self.state = Decoded::Pending;
        self.granted = None;
        self.pending = false;
    }

    /// Whether the request waits on another's verification of the same credentials: its
    /// answer is not final, and the connection asks again shortly.
    pub fn pending(&self) -> bool {
        self.pending
    }

    /// The user name, when the credentials passed a rule of this request (the access log's).
    pub fn user(&self) -> Option<&[u8]> {
        match (self.granted, self.state) {
            (Some(_), Decoded::Basic { colon }) => self.decoded.get(..colon),
            _ => None,
        }
    }

    /// Whether the request brought Basic credentials (decoded when a rule asked for them).
    pub fn presented(&self) -> bool {
        matches!(self.state, Decoded::Basic { .. })
    }

    /// Whether the request passed a rule: its response is for that user alone.
    pub fn granted(&self) -> bool {
        self.granted.is_some()
    }

    /// Decodes `authorization` once per request: `Basic` (any case, RFC 9110 §11.1), then
    /// base64 of `user:password` in UTF-8 (RFC 7617 §2.1, as the challenge's charset says).
    fn decode(&mut self, authorization: Option<&[u8]>) -> Decoded {
        if self.state != Decoded::Pending {
            return self.state;
        }
        self.state = Decoded::Unusable;
        let Some(value) = authorization else {
            return self.state;
        };
        let value = value.trim_ascii();
        let Some((scheme, token)) = value.split_at_checked(5) else {
            return self.state;
        };
        let token = token.trim_ascii_start();
        if !scheme.eq_ignore_ascii_case(b"basic") || token.len() == value.len() - 5 {
            return self.state;
        }
        let engine = &base64::engine::general_purpose::STANDARD;
        if engine.decode_vec(token, &mut self.decoded).is_err()
            || std::str::from_utf8(&self.decoded).is_err()
        {
            return self.state;
        }
        if let Some(colon) = self.decoded.iter().position(|&b| b == b':') {
            self.state = Decoded::Basic { colon };
        }
        self.state
    }
}

/// One `--basic-auth` rule, compiled.
#[derive(Debug)]
struct Rule {
    paths: Paths,
    users: Arc<Htpasswd>,
}

/// Which paths a rule's glob matches, with the cheap test first: every request is checked
/// against every rule (twice when the file served is another path), and a glob's regex cost
/// hundreds of instructions a request (bench/callgrind.sh) where a prefix compare costs a few.
#[derive(Debug)]
enum Paths {
    /// `PREFIX*` with no other wildcard: `*` matches any rest, `/` included, so the prefix
    /// decides alone.
    Prefix(Box<[u8]>),
    /// Any other glob: only a path that starts with its literal prefix is given to the regex.
    Glob {
        prefix: Box<[u8]>,
        matcher: GlobMatcher,
    },
}

impl Paths {
    fn new(glob: &globset::Glob) -> Paths {
        let text = glob.glob().as_bytes();
        let literal = text
            .iter()
            .position(|b| matches!(b, b'*' | b'?' | b'[' | b'{' | b'\\'))
            .unwrap_or(text.len());
        let prefix: Box<[u8]> = text[..literal].into();
        if &text[literal..] == b"*" {
            Paths::Prefix(prefix)
        } else {
            Paths::Glob {
                prefix,
                matcher: glob.compile_matcher(),
            }
        }
    }

    fn matches(&self, rel: &[u8]) -> bool {
        match self {
            Paths::Prefix(prefix) => rel.starts_with(prefix),
            Paths::Glob { prefix, matcher } => {
                rel.starts_with(prefix) && matcher.is_match(as_path(rel))
            }
        }
    }
}

/// The compiled rules, the memory of verified credentials, and the hashing bound.
#[derive(Debug)]
pub struct Auth {
    rules: Vec<Rule>,
    /// The htpasswd files read, once each, for the reload watcher.
    files: Vec<PathBuf>,
    /// `WWW-Authenticate`'s value.
    challenge: String,
    key: [u8; blake3::KEY_LEN],
    remembered: Mutex<Remembered>,
    /// The credentials being verified now, by their tags: at most one entry a worker.
    in_flight: Mutex<Vec<blake3::Hash>>,
    /// Credentials that failed a verification lately, by tag, oldest first.
    failed: Mutex<VecDeque<(blake3::Hash, Instant)>>,
    hashing: AtomicUsize,
    limit: usize,
    /// When the last failed verification's rest ends, in nanoseconds since `epoch`.
    rest_until: AtomicU64,
    epoch: Instant,
    /// Whether a request found every slot taken since the last failed verification ended.
    contended: AtomicBool,
    /// How long a refusal of presented credentials is held back (`--auth-failure-delay`).
    failure_delay: Duration,
}

/// After a failed verification that took `d` while others waited for a slot, none starts for
/// `REST × d`: a flood of wrong passwords keeps the hashing slots busy a quarter of the time at
/// most, not all of it, so the cores stay with the requests that need no hash
/// (`bench/auth_flood.sh`). One person mistyping contends with nobody and never rests;
/// successes never do.
const REST: u32 = 3;

/// Verified credentials: lookups see both generations; when the current one is full it
/// becomes the previous one, so the memory stays bounded and recent successes stay.
#[derive(Debug, Default)]
struct Remembered {
    current: HashSet<blake3::Hash>,
    previous: HashSet<blake3::Hash>,
}

/// A verification under way, by the tag of its credentials: listed while it runs, so a
/// request with the same credentials waits for it instead of taking a slot of its own (or
/// getting 503 for want of one); unlisted when dropped, a panicking hash crate included.
struct Flight<'a> {
    list: &'a Mutex<Vec<blake3::Hash>>,
    tag: blake3::Hash,
}

impl<'a> Flight<'a> {
    /// Lists `tag`, or `None` when it is listed already.
    fn begin(list: &'a Mutex<Vec<blake3::Hash>>, tag: blake3::Hash) -> Option<Flight<'a>> {
        let mut listed = list.lock().unwrap_or_else(|p| p.into_inner());
        if listed.contains(&tag) {
            return None;
        }
        listed.push(tag);
        Some(Flight { list, tag })
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut listed = self.list.lock().unwrap_or_else(|p| p.into_inner());
        listed.retain(|t| *t != self.tag);
    }
}

/// A slot of the hashing bound, given back when dropped (a panicking hash crate included).
struct Slot<'a>(&'a AtomicUsize);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Auth {
    /// Compiles `options`, reading each htpasswd file once; every problem is one line.
    pub fn load(options: &AuthOptions) -> (Auth, Vec<String>) {
        let mut problems = Vec::new();
        let mut key = [0; blake3::KEY_LEN];
        if !options.rules.is_empty()
            && let Err(e) = getrandom::fill(&mut key)
        {
            problems.push(format!(
                "--basic-auth: no random key for the credential cache: {e}"
            ));
        }
        let mut files: Vec<PathBuf> = Vec::new();
        let mut loaded: Vec<Arc<Htpasswd>> = Vec::new();
        let mut rules = Vec::new();
        for rule in &options.rules {
            let users = match files.iter().position(|f| *f == rule.file) {
                Some(i) => loaded[i].clone(),
                None => match Htpasswd::load(&rule.file) {
                    Ok(users) => {
                        files.push(rule.file.clone());
                        loaded.push(Arc::new(users));
                        loaded[loaded.len() - 1].clone()
                    }
                    Err(mut p) => {
                        problems.append(&mut p);
                        continue;
                    }
                },
            };
            rules.push(Rule {
                paths: Paths::new(&rule.pattern),
                users,
            });
        }
        let auth = Auth {
            rules,
            files,
            challenge: format!("Basic realm=\"{}\", charset=\"UTF-8\"", options.realm),
            key,
            remembered: Mutex::default(),
            in_flight: Mutex::default(),
            failed: Mutex::default(),
            hashing: AtomicUsize::new(0),
            limit: options.hashing.max(1),
            failure_delay: options.failure_delay,
            rest_until: AtomicU64::new(0),
            epoch: Instant::now(),
            contended: AtomicBool::new(false),
        };
        (auth, problems)
    }

    /// Whether no path needs a password.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The htpasswd files the rules read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// `WWW-Authenticate`'s value for a 401 (RFC 7617 §2).
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// How long a refusal of presented credentials is held back before it is sent.
    pub fn failure_delay(&self) -> Duration {
        self.failure_delay
    }

    /// The first rule protecting normalised path `rel`: its glob matches `rel`, or `rel/`,
    /// the directory itself, so `/private/*` covers `/private` and `/private/` too; or, for a
    /// name ending in a sidecar's suffix (`.br`, `.zst`, `.gz`), the name without it. A
    /// precompressed sidecar is the file it sits beside, so `/report.html.gz` is guarded by
    /// whatever guards `/report.html`, or anyone could fetch it by its own name.
    fn rule_for(&self, rel: &mut Vec<u8>) -> Option<usize> {
        let mut end = rel.len();
        loop {
            let found = self
                .first_rule(rel.get(..end)?)
                .or_else(|| self.first_rule_as_dir(rel, end));
            if found.is_some() {
                return found;
            }
            // The name without a sidecar's suffix, one suffix at a time.
            end = SIDECARS.iter().find_map(|c| {
                let name = rel.get(..end)?;
                name.strip_suffix(c.suffix().as_bytes()).map(<[u8]>::len)
            })?;
        }
    }

    fn first_rule(&self, path: &[u8]) -> Option<usize> {
        self.rules.iter().position(|r| r.paths.matches(path))
    }

    /// The first rule matching `rel[..end]` as a directory, `rel[..end]/`: the byte at `end`
    /// (a sidecar suffix's `.`, or none at the end of `rel`) is a `/` for the look, then put
    /// back, so no buffer is needed.
    fn first_rule_as_dir(&self, rel: &mut Vec<u8>, end: usize) -> Option<usize> {
        let kept = rel.get(end).copied();
        match rel.get_mut(end) {
            Some(b) => *b = b'/',
            None => rel.push(b'/'),
        }
        let found = self.first_rule(rel.get(..=end).unwrap_or_default());
        match (kept, rel.get_mut(end)) {
            (Some(k), Some(b)) => *b = k,
            _ => {
                rel.pop();
            }
        }
        found
    }

    /// The keyed hash a success of `decoded` on `rule` is remembered by.
    fn tag(&self, rule: usize, decoded: &[u8]) -> blake3::Hash {
        let mut keyed = blake3::Hasher::new_keyed(&self.key);
        keyed.update(&(rule as u64).to_le_bytes());
        keyed.update(decoded);
        keyed.finalize()
    }

    /// Whether a directory listing may name `rel` to this request: no rule protects it, or the
    /// rule that does is the one this request's credentials passed to reach the listing. Nothing
    /// else counts: a listing that told remembered credentials from others would answer "is
    /// this the password?" at full speed, with no verification and no failure delay.
    pub fn may_list(&self, rel: &mut Vec<u8>, creds: &Credentials) -> bool {
        self.rule_for(rel)
            .is_none_or(|rule| creds.granted == Some(rule))
    }

    /// Whether the request whose `Authorization` is `authorization` may see `rel`, noting in
    /// `creds` what it decoded and passed.
    pub fn check(
        &self,
        rel: &mut Vec<u8>,
        authorization: Option<&[u8]>,
        creds: &mut Credentials,
    ) -> Result<(), Refusal> {
        let Some(rule) = self.rule_for(rel) else {
            return Ok(());
        };
        if creds.granted == Some(rule) {
            return Ok(());
        }
        let Decoded::Basic { colon } = creds.decode(authorization) else {
            return Err(Refusal::Unauthorized);
        };
        let tag = self.tag(rule, &creds.decoded);
        if self.remembers(&tag) {
            creds.granted = Some(rule);
            return Ok(());
        }
        let (user, password) = (&creds.decoded[..colon], &creds.decoded[colon + 1..]);
        let (hash, known) = self.rules[rule].users.hash_of(user);
        let started = Instant::now();
        if self.failed_lately(&tag, started) {
            return Err(Refusal::Unauthorized);
        }
        let Some(flight) = Flight::begin(&self.in_flight, tag) else {
            creds.pending = true;
            return Err(Refusal::Pending);
        };
        let verified = {
            let _slot = self.slot(started)?;
            verify_at_low_priority(hash, password)
        };
        // The outcome is recorded before the flight ends, so a request that waited on it finds
        // it when it asks again.
        if !(verified && known) {
            self.note_failure(tag, Instant::now());
            drop(flight);
            if !self.contended.swap(false, Ordering::AcqRel) {
                return Err(Refusal::Unauthorized);
            }
            let rest = started.elapsed() * (REST + 1);
            let until = (started + rest).saturating_duration_since(self.epoch);
            let until = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX);
            self.rest_until.fetch_max(until, Ordering::AcqRel);
            return Err(Refusal::Unauthorized);
        }
        self.remember(tag);
        drop(flight);
        creds.granted = Some(rule);
        Ok(())
    }

    /// Whether `tag`'s credentials failed a verification less than [`FAILED_FOR`] before
    /// `now`: the same bytes fail again, so they are refused on that result. Requests that
    /// waited on the verification, or one password sent on many connections at once, then cost
    /// one verification, not one each.
    fn failed_lately(&self, tag: &blake3::Hash, now: Instant) -> bool {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed
            .iter()
            .any(|(t, at)| t == tag && now.saturating_duration_since(*at) < FAILED_FOR)
    }

    fn note_failure(&self, tag: blake3::Hash, now: Instant) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        while failed.len() >= FAILED_KEPT
            || failed
                .front()
                .is_some_and(|(_, at)| now.saturating_duration_since(*at) >= FAILED_FOR)
        {
            failed.pop_front();
        }
        failed.push_back((tag, now));
    }

    /// A hashing slot at `now`, or `Busy` when all are taken or a failure's rest is not over.
    /// Refusing instead of waiting keeps every worker free to serve: a worker never waits on
    /// another, and the client is told to come back in a second (`Retry-After`), when a slot is
    /// likely free.
    fn slot(&self, now: Instant) -> Result<Slot<'_>, Refusal> {
        let since = u64::try_from(now.saturating_duration_since(self.epoch).as_nanos());
        if since.unwrap_or(u64::MAX) < self.rest_until.load(Ordering::Acquire) {
            return Err(Refusal::Busy);
        }
        let slot = Slot(&self.hashing);
        if self.hashing.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.contended.store(true, Ordering::Release);
            return Err(Refusal::Busy);
        }
        Ok(slot)
    }

    fn remembers(&self, tag: &blake3::Hash) -> bool {
        let r = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        r.current.contains(tag) || r.previous.contains(tag)
    }

    fn remember(&self, tag: blake3::Hash) {
        let mut r = self.remembered.lock().unwrap_or_else(|p| p.into_inner());
        if r.current.len() >= REMEMBERED / 2 {
            r.previous = std::mem::take(&mut r.current);
        }
        r.current.insert(tag);
    }
}

fn as_path(rel: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(rel))
}

/// Verifies `password` against `hash` on a thread of its own at nice 19, while this worker
/// waits: the hash is the one costly step a client can make us take as often as it likes, and
/// at the lowest priority it only gets the CPU that requests needing no hash leave over (on a
/// two-core machine it otherwise kept the public files' p99 at twice their quiet figure,
/// `bench/auth_flood.sh`). Linux keeps a nice value per thread, so nothing else is lowered; the
/// thread costs tens of microseconds beside a hash of tens of milliseconds. If no thread can be
/// started, the worker verifies itself.
fn verify_at_low_priority(hash: &Hash, password: &[u8]) -> bool {
    std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("password-hash".into())
            .spawn_scoped(scope, || {
                lower_this_threads_priority();
                hash.verify(password)
            });
        match spawned {
            // A hash crate that panicked verified nothing.
            Ok(thread) => thread.join().unwrap_or(false),
            Err(_) => hash.verify(password),
        }
    })
}

/// The highest nice value: the least CPU when others want it.
#[cfg(target_os = "linux")]
const LOWEST_PRIORITY: i32 = 19;

/// Raises the calling thread's nice value to the lowest priority. Raising one's own nice value
/// needs no privilege; if it fails the hash runs at normal priority, which is what it did
/// before.
#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOWEST_PRIORITY);
}

/// Elsewhere the nice value is the process's, so lowering it would slow the workers too: the
/// hash runs at normal priority (not measured; Linux is the supported platform).
#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AuthRule;

    fn auth(rules: &[&str], hashing: usize) -> Auth {
        let root = env!("CARGO_MANIFEST_DIR");
        let options = AuthOptions {
            rules: rules
                .iter()
                .map(|r| AuthRule::parse(&r.replace("FIX", &format!("{root}/tests/fixtures/auth"))))
                .collect::<Result<_, _>>()
                .unwrap(),
            realm: "r".into(),
            hashing,
            failure_delay: Duration::ZERO,
        };
        let (auth, problems) = Auth::load(&options);
        assert_eq!(problems, Vec::<String>::new());
        auth
    }

    fn basic(user_pass: &[u8]) -> Vec<u8> {
        let mut v = b"Basic ".to_vec();
        v.extend(
            base64::engine::general_purpose::STANDARD
                .encode(user_pass)
                .bytes(),
        );
        v
    }

    /// `check` for `rel` with `authorization`, on fresh credentials.
    fn ask(a: &Auth, rel: &str, authorization: Option<&[u8]>) -> Result<Option<String>, Refusal> {
        let mut creds = Credentials::default();
        let mut rel = rel.as_bytes().to_vec();
        a.check(&mut rel, authorization, &mut creds)?;
        Ok(creds
            .user()
            .map(|u| String::from_utf8_lossy(u).into_owned()))
    }

    #[test]
    fn the_same_credentials_are_in_flight_once() {
        let list = Mutex::default();
        let (a, b) = (blake3::hash(b"a"), blake3::hash(b"b"));
        let first = Flight::begin(&list, a).expect("nothing in flight");
        assert!(Flight::begin(&list, a).is_none(), "a is being verified");
        let other = Flight::begin(&list, b).expect("b is not");
        drop(first);
        let again = Flight::begin(&list, a).expect("a is over");
        drop((again, other));
        assert!(list.lock().unwrap().is_empty());
    }

    #[test]
    fn rules_match_normalised_paths_and_their_directories() {
        let a = auth(
            &[
                "/private/*=FIX/bcrypt.htpasswd",
                "*.secret=FIX/sha.htpasswd",
            ],
            1,
        );
        for (rel, rule) in [
            ("private/x.html", Some(0)),
            ("private/a/b", Some(0)),
            ("private", Some(0)),
            ("privatex", None),
            ("public/private/x", None),
            ("a/b.secret", Some(1)),
            ("private/b.secret", Some(0)),
            ("", None),
            // Sidecars, however many suffixes deep, are guarded as what they compress.
            ("a/b.secret.gz", Some(1)),
            ("a/b.secret.br", Some(1)),
            ("a/b.secret.zst", Some(1)),
            ("a/b.secret.gz.br", Some(1)),
            ("a/b.secret.tar", None),
            ("private.gz", Some(0)),
            ("private.br.gz", Some(0)),
            ("privatex.gz", None),
            ("a/b.gz", None),
            (".gz", None),
        ] {
            assert_eq!(a.rule_for(&mut rel.as_bytes().to_vec()), rule, "{rel:?}");
        }
        let everything = auth(&["/*=FIX/bcrypt.htpasswd"], 1);
        assert_eq!(
            everything.rule_for(&mut Vec::new()),
            Some(0),
            "the root itself"
        );
    }

    #[test]
    fn the_prefix_shortcut_matches_what_the_glob_matches() {
        let patterns = [
            "/private/*",
            "/*",
            "/private",
            "/a/*/b",
            "*.secret",
            "/docs/**",
            "/x?z/*",
            "/[ab]/*",
            "/{one,two}/*",
            "/lit\\*/*",
        ];
        let paths = [
            "",
            "private",
            "private/",
            "private/x",
            "private/a/b",
            "privatex",
            "a/q/b",
            "a/b",
            "k.secret",
            "docs",
            "docs/",
            "docs/a/b",
            "xyz/1",
            "a/1",
            "b/",
            "one/x",
            "lit*/q",
            "lit/q",
        ];
        for pattern in patterns {
            let glob = AuthRule::parse(&format!("{pattern}=f")).unwrap().pattern;
            let (fast, slow) = (Paths::new(&glob), glob.compile_matcher());
            for path in paths {
                assert_eq!(
                    fast.matches(path.as_bytes()),
                    slow.is_match(path),
                    "{pattern} on {path:?}"
                );
            }
        }
        let prefix = AuthRule::parse("/private/*=f").unwrap().pattern;
        assert!(matches!(Paths::new(&prefix), Paths::Prefix(_)));
    }

    #[test]
    fn credentials_table() {
        let a = auth(&["/p/*=FIX/bcrypt.htpasswd"], 1);
        let ok = Ok(Some("alice".to_string()));
        let no = Err(Refusal::Unauthorized);
        for (authorization, expected) in [
            (Some(basic(b"alice:alice-pw")), ok.clone()),
            (
                Some(basic(b"bob:bob pw:with colon")),
                Ok(Some("bob".into())),
            ),
            (
                Some([b"bAsIc   ", &basic(b"alice:alice-pw")[6..]].concat()),
                ok.clone(),
            ),
            (Some(basic(b"alice:wrong")), no.clone()),
            (Some(basic(b"nobody:alice-pw")), no.clone()),
            (Some(basic(b"alice")), no.clone()),
            (Some(basic(b"alice:alice-pw\xff")), no.clone()),
            (Some(b"Basic !!!notbase64".to_vec()), no.clone()),
            (Some(b"Bearer abc".to_vec()), no.clone()),
            (Some(b"Basic".to_vec()), no.clone()),
            (Some(b"Basicx YWxpY2U6YWxpY2UtcHc=".to_vec()), no.clone()),
            (None, no.clone()),
        ] {
            let shown = authorization.as_deref().map(String::from_utf8_lossy);
            assert_eq!(
                ask(&a, "p/x", authorization.as_deref()),
                expected,
                "{shown:?}"
            );
        }
        assert_eq!(
            ask(&a, "open", None),
            Ok(None),
            "an open path needs nothing"
        );
    }

    #[test]
    fn a_success_is_remembered_and_the_password_wiped() {
        let a = auth(&["/p/*=FIX/bcrypt.htpasswd"], 1);
        let good = basic(b"alice:alice-pw");
        assert!(ask(&a, "p/x", Some(&good)).is_ok());
        // With every slot taken, only a remembered success passes: it needs no hashing.
        a.hashing.store(1, Ordering::SeqCst);
        assert!(ask(&a, "p/y", Some(&good)).is_ok());
        assert_eq!(
            ask(&a, "p/y", Some(&basic(b"alice:wrong"))),
            Err(Refusal::Busy)
        );
        assert_eq!(
            a.hashing.load(Ordering::SeqCst),
            1,
            "the refused slot is given back"
        );
        a.hashing.store(0, Ordering::SeqCst);

        let mut creds = Credentials::default();
        a.check(&mut b"p/x".to_vec(), Some(&good), &mut creds)
            .unwrap();
        assert_eq!(creds.user(), Some(&b"alice"[..]));
        creds.reset();
        assert_eq!(creds.user(), None);
        assert!(creds.decoded.is_empty());
        assert!(!creds.granted());
    }

    #[test]
    fn a_failure_under_contention_rests_the_slots_and_one_alone_does_not() {
        let a = auth(&["/p/*=FIX/bcrypt.htpasswd"], 1);
        // A new wrong password each time: the same one again is refused on its last result.
        let wrong = |i: u8| basic(format!("alice:wrong-{i}").as_bytes());
        let no = Err(Refusal::Unauthorized);
        assert_eq!(ask(&a, "p/x", Some(&wrong(1))), no);
        assert_eq!(
            ask(&a, "p/x", Some(&wrong(2))),
            no,
            "nobody waited: no rest"
        );
        // Someone found the slot taken during the next failure: the slots rest after it.
        a.contended.store(true, Ordering::SeqCst);
        assert_eq!(ask(&a, "p/x", Some(&wrong(3))), no);
        assert_eq!(
            ask(&a, "p/x", Some(&wrong(4))),
            Err(Refusal::Busy),
            "resting"
        );
        let good = basic(b"alice:alice-pw");
        assert_eq!(
            ask(&a, "p/x", Some(&good)),
            Err(Refusal::Busy),
            "new logins wait too"
        );
        a.rest_until.store(0, Ordering::SeqCst);
        assert!(ask(&a, "p/x", Some(&good)).is_ok(), "after the rest");
    }

    #[test]
    fn the_same_wrong_credentials_are_verified_once_and_then_refused_on_that() {
        let a = auth(&["/p/*=FIX/bcrypt.htpasswd"], 1);
        let wrong = basic(b"alice:wrong");
        assert_eq!(ask(&a, "p/x", Some(&wrong)), Err(Refusal::Unauthorized));
        // Were it verified again, that failure would find `contended` and rest the slots.
        a.contended.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            assert_eq!(ask(&a, "p/x", Some(&wrong)), Err(Refusal::Unauthorized));
        }
        assert!(a.contended.load(Ordering::SeqCst), "no verification ran");
        assert_eq!(a.rest_until.load(Ordering::SeqCst), 0, "and none rested");
        // Other credentials are verified as ever; the failures kept stay bounded.
        assert!(ask(&a, "p/x", Some(&basic(b"alice:alice-pw"))).is_ok());
        for i in 0..(FAILED_KEPT as u64 * 2) {
            a.note_failure(blake3::hash(&i.to_le_bytes()), Instant::now());
        }
        assert!(a.failed.lock().unwrap().len() <= FAILED_KEPT);
    }

    #[test]
    fn remembered_credentials_stay_bounded() {
        let a = auth(&["/p/*=FIX/bcrypt.htpasswd"], 1);
        for i in 0..(REMEMBERED as u64 * 2) {
            a.remember(blake3::hash(&i.to_le_bytes()));
        }
        let r = a.remembered.lock().unwrap();
        assert!(r.current.len() + r.previous.len() <= REMEMBERED);
    }

    #[test]
    fn verification_on_its_own_thread_leaves_the_workers_priority_alone() {
        let users = Htpasswd::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/auth/bcrypt.htpasswd"
        )))
        .unwrap();
        let (hash, known) = users.hash_of(b"alice");
        assert!(known);
        let me = Some(rustix::thread::gettid());
        let before = rustix::process::getpriority_process(me).unwrap();
        assert!(verify_at_low_priority(hash, b"alice-pw"));
        assert!(!verify_at_low_priority(hash, b"wrong"));
        assert_eq!(rustix::process::getpriority_process(me).unwrap(), before);
    }
}
