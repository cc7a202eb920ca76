//! Every option of the server: the command line (clap, each flag also read from a `MUXSERVE_*`
//! variable), the `--config` file under both ([`mod@file`]), and the validated [`Config`] the rest
//! of the crate reads. It owns parsing, precedence and validation with messages a user can act
//! on; it must never touch a socket or a file beyond reading the config file and checking that
//! the root exists.

pub mod file;

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, Parser, Subcommand, ValueEnum};

pub use crate::http::forwarded::{Cidr, TrustedProxies};
pub use crate::http::request::Limits;
pub use crate::metrics::MetricsOptions;
pub use crate::reactor::Timeouts;

/// The access-log format: one line per response on stdout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AccessLog {
    /// No access log.
    Off,
    /// NCSA Common Log Format.
    Common,
    /// Common Log Format plus referer and user agent, as nginx's `combined`.
    Combined,
    /// One JSON object per line.
    Json,
}

/// The validated configuration of one server, in the groups its parts take: the listener and
/// the pool here, then [`Limits`] for the parser, [`Timeouts`] for the reactor and
/// [`SiteOptions`] for the site. The defaults are stated once, in [`Config::default`]; a test
/// proves the command line's are the same.
#[derive(Clone, Debug)]
pub struct Config {
    /// Folder whose files are served.
    pub root: PathBuf,
    /// Address the listener binds.
    pub listen: SocketAddr,
    /// Number of worker threads.
    pub workers: usize,
    /// Open connections at most; beyond it new ones wait in the kernel backlog.
    pub max_connections: MaxConnections,
    /// Access-log format.
    pub access_log: AccessLog,
    /// Sizes a request may have: larger heads get 431, targets 414, declared bodies 413.
    pub limits: Limits,
    /// How long a client may take at each stage, and the drain after a shutdown signal.
    pub timeouts: Timeouts,
    /// Who may name the client: trusted proxies' headers and the PROXY protocol.
    pub proxies: Proxies,
    /// What is served and how.
    pub site: SiteOptions,
    /// `--metrics-path` and who may scrape it.
    pub metrics: MetricsOptions,
}

/// How the client's address is learnt when the server sits behind proxies: the two options
/// decide together who the immediate peer is and whose headers are believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proxies {
    /// Peers whose `Forwarded` / `X-Forwarded-For` name the client (none by default).
    pub trusted: TrustedProxies,
    /// Every connection starts with a PROXY protocol header, whose source replaces the peer.
    pub protocol: bool,
}

/// What the site serves and how: the options [`crate::site::Site::open`] reads.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// File names tried, in order, for a directory.
    pub index: Vec<String>,
    /// Root-relative file answered (200) for unknown extension-less paths: single-page apps.
    pub fallback: Option<String>,
    /// Listings (HTML, or JSON by Accept) for directories without an index file.
    pub dir_listing: bool,
    /// Serve dotfiles (`/.well-known/` is always served).
    pub hidden_files: bool,
    /// Follow symlinks that lead outside the root.
    pub follow_symlinks: bool,
    /// Serve `file.br` / `file.gz` beside `file` to clients that accept them.
    pub precompressed: bool,
    /// Answer `/about` with `about.html` when no `about` file or directory exists.
    pub clean_urls: bool,
    /// Redirect (308) `/about.html` to `/about` and `/about/index.html` to `/about/`.
    pub canonical_urls: bool,
    /// Compress compressible files on the fly (cached in memory).
    pub compress: bool,
    /// Smallest file compressed on the fly, in bytes.
    pub compress_min_size: u64,
    /// Memory for compressed bodies, in bytes.
    pub compress_cache_size: u64,
    /// Memory for small files kept in memory, in bytes; 0 turns the cache off.
    pub file_cache_size: u64,
    /// `Cache-Control` for files no rule matches; `None` sends none.
    pub cache_control: Option<String>,
    /// `Cache-Control` by path pattern; the first match wins.
    pub cache_rules: Vec<CacheRule>,
    /// Headers added to every response.
    pub headers: Vec<(String, String)>,
    /// Send `X-Content-Type-Options: nosniff`.
    pub nosniff: bool,
    /// A path answered with 200 without touching the disk (503 while draining), for probes.
    pub health_path: Option<String>,
    /// Read `_redirects` and `_headers` from the root.
    pub site_rules: bool,
    /// How strong validators are made.
    pub etag: EtagMode,
    /// Redirect and rewrite rules from the config file, tried after `_redirects`'s.
    pub redirects: Vec<RedirectSpec>,
    /// Header rules from the config file, applied after `_headers`'s.
    pub header_rules: Vec<HeaderSpec>,
    /// CORS (`--cors-origins`); `None` sends no CORS headers.
    pub cors: Option<CorsOptions>,
    /// HTTP Basic authentication by path.
    pub auth: AuthOptions,
}

/// `--basic-auth` and what goes with it: which paths need a password, the realm the 401 names,
/// and how many password hashes may be computed at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthOptions {
    /// Path patterns and their htpasswd files; the first match wins.
    pub rules: Vec<AuthRule>,
    /// The `realm` of `WWW-Authenticate` (RFC 7617 §2).
    pub realm: String,
    /// Password hashes computed at once at most: one worker fewer than the pool (at least
    /// one), so a flood of wrong passwords always leaves a worker for everybody else.
    pub hashing: usize,
    /// How long the answer to refused credentials (a wrong password, or one not verified for
    /// want of a hashing slot) is held back, its connection idle meanwhile: a guesser gets
    /// one try per connection per delay, and a flood of them costs the workers nothing while
    /// it waits. Zero answers at once.
    pub failure_delay: Duration,
}

impl AuthOptions {
    /// The hashing bound for a pool of `workers`.
    pub fn hashing_for(workers: usize) -> usize {
        workers.saturating_sub(1).max(1)
    }
}

/// A `--basic-auth` rule: the paths a glob matches need a user of an htpasswd file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRule {
    /// A glob over the decoded root-relative path, as `--cache-rule`'s.
    pub pattern: globset::Glob,
    /// The Apache htpasswd file, read when the site is opened.
    pub file: PathBuf,
}

impl AuthRule {
    /// Parses `PATTERN=HTPASSWD_FILE`.
    pub fn parse(s: &str) -> Result<AuthRule, String> {
        let (pattern, file) = s
            .split_once('=')
            .ok_or_else(|| format!("basic-auth rule {s:?} is not PATTERN=HTPASSWD_FILE"))?;
        let (pattern, file) = (pattern.trim(), file.trim());
        if pattern.is_empty() || file.is_empty() {
            return Err(format!("basic-auth rule {s:?} needs a pattern and a file"));
        }
        // `/staff/` means the folder, as nginx's `location /staff/` does: a glob of it alone
        // would guard its index page and leave every file in it open.
        let folder;
        let pattern = if pattern.ends_with('/') {
            folder = format!("{pattern}*");
            folder.as_str()
        } else {
            pattern
        };
        Ok(AuthRule {
            pattern: path_glob(pattern).map_err(|e| format!("basic-auth rule {s:?}: {e}"))?,
            file: PathBuf::from(file),
        })
    }
}

/// A glob over decoded root-relative paths: `*` crosses `/`, and a leading `/` anchors nothing
/// (paths are matched relative to the root).
fn path_glob(pattern: &str) -> Result<globset::Glob, globset::Error> {
    globset::GlobBuilder::new(pattern.trim_start_matches('/'))
        .literal_separator(false)
        .build()
}

/// Parses `--auth-realm`: sent inside a quoted-string (RFC 9110 §5.6.4), so no `"`, `\` or
/// control characters, which would need escapes some clients get wrong.
fn parse_realm(s: &str) -> Result<String, String> {
    if s.is_empty()
        || s.bytes()
            .any(|b| b == b'"' || b == b'\\' || b < 0x20 || b == 0x7f)
    {
        return Err(format!(
            "realm {s:?} must be non-empty, without quotes, backslashes or control characters"
        ));
    }
    Ok(s.to_string())
}

/// What CORS allows, as the Fetch standard's response headers say it (§3.2.3); travels whole
/// into [`crate::site::cors::CorsPolicy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorsOptions {
    /// Which origins may read responses.
    pub origins: CorsOrigins,
    /// `Access-Control-Allow-Headers` of a preflight's answer; empty sends none.
    pub headers: Vec<String>,
    /// `Access-Control-Max-Age` of a preflight's answer, in seconds.
    pub max_age: u32,
}

impl CorsOptions {
    /// The `--cors-max-age` when none is given: a day, Firefox's cap (Chromium caps at 2 h);
    /// without the header a browser keeps a preflight's answer for 5 s (Fetch §3.2.3).
    pub const DEFAULT_MAX_AGE: u32 = 86_400;
}

/// The origins CORS allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `*`: any origin, without credentials; the same answer for every request.
    Any,
    /// These serialized origins, each echoed only to itself.
    List(Vec<String>),
}

/// How the strong ETag of a file is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EtagMode {
    /// From size and modification time (nanoseconds): equal across replicas of one image.
    #[default]
    Mtime,
    /// From a hash of the content, for builds that reset every mtime.
    Content,
}

/// A redirect or rewrite rule as written (a `_redirects` line or a config-file table), before
/// [`crate::site::Site::open`] compiles it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectSpec {
    /// The path pattern: literal segments, `:name` placeholders, a trailing `*`.
    pub from: String,
    /// Query parameters the request must carry, `name` → `:placeholder` or a literal value.
    pub query: Vec<(String, String)>,
    /// The target: a path on this site or an absolute `http(s)://` URL, with `:name`/`:splat`.
    pub to: String,
    /// 200 (rewrite), 301, 302, 303, 307, 308 or 404.
    pub status: u16,
    /// Applies even when a file exists at `from` (`!` in `_redirects`).
    pub force: bool,
    /// Where it was written, for messages: `FILE:LINE`.
    pub origin: String,
}

/// A header rule as written (a `_headers` block or a config-file table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderSpec {
    /// The path pattern, as for [`RedirectSpec::from`].
    pub pattern: String,
    /// Headers set, in order.
    pub set: Vec<(String, String)>,
    /// Names removed (`! Name`), from the server's headers and earlier rules'.
    pub remove: Vec<String>,
    /// Where it was written, for messages: `FILE:LINE`.
    pub origin: String,
}

/// A `Cache-Control` value for the files whose URL path matches a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheRule {
    /// Which files the rule is for.
    pub pattern: CachePattern,
    /// The `Cache-Control` value.
    pub value: String,
}

/// The files a [`CacheRule`] matches, parsed once from the rule's text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CachePattern {
    /// `hashed`: names carrying a content hash as bundlers write them.
    Hashed,
    /// A glob over the decoded root-relative path (`*` crosses `/`), a leading `/` dropped.
    Glob(globset::Glob),
}

impl CacheRule {
    /// Parses `PATTERN=VALUE`.
    pub fn parse(s: &str) -> Result<CacheRule, String> {
        let (pattern, value) = s
            .split_once('=')
            .ok_or_else(|| format!("cache rule {s:?} is not PATTERN=VALUE"))?;
        let (pattern, value) = (pattern.trim(), value.trim());
        if pattern.is_empty() {
            return Err(format!("cache rule {s:?} has an empty pattern"));
        }
        let pattern = if pattern == "hashed" {
            CachePattern::Hashed
        } else {
            let glob = path_glob(pattern).map_err(|e| format!("cache rule {s:?}: {e}"))?;
            CachePattern::Glob(glob)
        };
        check_header_value(value).map_err(|e| format!("cache rule {s:?}: {e}"))?;
        Ok(CacheRule {
            pattern,
            value: value.to_string(),
        })
    }
}

/// Parses `Name: value` for `--header`.
fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("header {s:?} is not 'Name: value'"))?;
    let (name, value) = (name.trim(), value.trim());
    if name.is_empty() || !name.bytes().all(crate::http::field::is_tchar) {
        return Err(format!("header name {name:?} is not a valid field name"));
    }
    if crate::http::response::server_owned(name) {
        return Err(format!(
            "header {name} is set by the server and cannot be configured"
        ));
    }
    if name.eq_ignore_ascii_case("cache-control") {
        // A second line beside the server's would contradict it, and could not be made
        // `private` for an authenticated answer as the server's own is.
        return Err(format!(
            "header {name} is sent by the server itself: set it with --cache-control or \
             --cache-rule (or a _headers rule)"
        ));
    }
    if crate::http::response::server_sent(name) {
        // RFC 9110 §5.3: a second line beside the server's own would repeat a singleton or
        // contradict it.
        return Err(format!(
            "header {name} is sent by the server itself, and a second {name} line would \
             contradict it (RFC 9110 §5.3); a _headers rule can replace it for the paths it \
             matches"
        ));
    }
    check_header_value(value)?;
    Ok((name.to_string(), value.to_string()))
}

/// A `--cors-origins` value: `*`, or an origin as a browser serializes it in `Origin` (scheme,
/// `://`, lowercase host, a port only when not the scheme's default), since the Fetch
/// standard's CORS check compares `Access-Control-Allow-Origin` with that serialization byte
/// for byte (§4.10), and so does the server with the request's `Origin`.
fn parse_cors_origin(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" {
        return Ok(s.to_string());
    }
    if s == "null" {
        // Every sandboxed document, data: URL and file: page sends `Origin: null`.
        return Err("origin \"null\" stands for every opaque origin and is never allowed".into());
    }
    let bad = |why: &str| format!("origin {s:?} {why} (an origin is scheme://host[:port])");
    let (scheme, rest) = s.split_once("://").ok_or_else(|| bad("has no scheme"))?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_lowercase())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(bad("has a scheme that is not lowercase letters"));
    }
    if rest.contains(['/', '?', '#']) {
        return Err(bad("has a path: browsers send none"));
    }
    if rest.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(bad(&format!(
            "has uppercase letters: browsers send {:?}",
            s.to_ascii_lowercase()
        )));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = !host.is_empty()
        && (host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b))
            || (host.starts_with('[')
                && host.ends_with(']')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b"[]:.".contains(&b))));
    if !host_ok {
        return Err(bad("has a host browsers never send (an IDN goes as xn--…)"));
    }
    if let Some(port) = port {
        let n: u16 = port
            .parse()
            .ok()
            .filter(|_| !port.starts_with('0'))
            .ok_or_else(|| bad("has a port that is not a number from 1 to 65535"))?;
        if (scheme, n) == ("http", 80) || (scheme, n) == ("https", 443) {
            return Err(bad(
                "names the scheme's default port, which browsers leave out",
            ));
        }
    }
    Ok(s.to_string())
}

/// A `--cors-headers` value: a field name, or `*` (any name but Authorization, Fetch §3.2.3).
fn parse_cors_header(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s == "*" || (!s.is_empty() && s.bytes().all(crate::http::field::is_tchar)) {
        Ok(s.to_string())
    } else {
        Err(format!("header name {s:?} is not a valid field name or *"))
    }
}

/// RFC 9110 §5.5: field values are visible characters, spaces and tabs — never CR, LF or NUL.
pub(crate) fn check_header_value(v: &str) -> Result<(), String> {
    if v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("value {v:?} contains control characters"));
    }
    Ok(())
}

/// `--max-connections`, and whether it was asked for: start-up lowers either to what the
/// open-file limit holds (`descriptors::connection_budget`), with a warning only for a number
/// someone set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaxConnections {
    /// Set by the flag, the environment or the config file.
    Given(usize),
    /// Not set: [`MaxConnections::DEFAULT`], or fewer where the open-file limit holds fewer.
    Default,
}

impl MaxConnections {
    /// The limit when none is set and the open-file limit allows it.
    pub const DEFAULT: usize = 10_000;

    /// The number asked for, before the open-file limit is considered.
    pub fn asked(self) -> usize {
        match self {
            MaxConnections::Given(n) => n,
            MaxConnections::Default => Self::DEFAULT,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: PathBuf::from("./public"),
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            workers: default_workers(),
            max_connections: MaxConnections::Default,
            access_log: AccessLog::Common,
            limits: Limits {
                max_head: 16 * 1024,
                max_uri: 8 * 1024,
                max_body: 1024 * 1024,
                max_headers: 100,
            },
            timeouts: Timeouts {
                header: Duration::from_secs(15),
                keep_alive: Duration::from_secs(75),
                send: Duration::from_secs(30),
                shutdown: Duration::from_secs(8),
            },
            proxies: Proxies::default(),
            site: SiteOptions::default(),
            metrics: MetricsOptions::default(),
        }
    }
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            index: vec!["index.html".to_string()],
            fallback: None,
            dir_listing: false,
            hidden_files: false,
            follow_symlinks: false,
            precompressed: true,
            clean_urls: true,
            canonical_urls: false,
            compress: false,
            compress_min_size: 1024,
            compress_cache_size: 64 * 1024 * 1024,
            file_cache_size: 32 * 1024 * 1024,
            cache_control: Some("no-cache".to_string()),
            // Content-hashed names never change content: a year and `immutable` is safe there.
            cache_rules: vec![CacheRule {
                pattern: CachePattern::Hashed,
                value: "public, max-age=31536000, immutable".to_string(),
            }],
            headers: Vec::new(),
            nosniff: true,
            health_path: None,
            site_rules: true,
            etag: EtagMode::Mtime,
            redirects: Vec::new(),
            header_rules: Vec::new(),
            cors: None,
            auth: AuthOptions {
                rules: Vec::new(),
                realm: "restricted".to_string(),
                hashing: AuthOptions::hashing_for(default_workers()),
                failure_delay: Duration::from_secs(1),
            },
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The command line as the user types it: serving options, or a subcommand. [`load`] merges
/// the config file under it and validates the whole into a [`Config`].
#[derive(Parser, Debug)]
#[command(
    name = "muxserve",
    version,
    about = "A static-site HTTP/1.1 server: one multiplexing thread, a pool of workers.",
    after_help = AFTER_HELP,
    // `muxserve --root x check` would leave it unclear which --root is checked.
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// How to serve.
    #[command(flatten)]
    pub serve: ServeArgs,
}

const AFTER_HELP: &str = "Durations accept 500ms, 15s, 2m or a bare number of seconds.\n\
    PORT=N (as PaaS hosts set it) means --listen 0.0.0.0:N unless --listen or MUXSERVE_LISTEN is given.\n\
    Precedence: command line, then environment, then --config file, then defaults.";

/// The serving options, shared by serving and `muxserve check` so that both build the same
/// [`Config`]. The config file sets each under its long flag's name (`config/file.rs`).
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// TOML file with any of these options (named as the flags) and [[redirects]]/[[headers]] rules
    #[arg(long, env = "MUXSERVE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Folder to serve
    #[arg(
        long,
        env = "MUXSERVE_ROOT",
        default_value = "./public",
        value_name = "DIR"
    )]
    root: PathBuf,

    /// Address to listen on: host:port, [::]:port or a bare port [default: 0.0.0.0:8080, or 0.0.0.0:$PORT]
    #[arg(long, env = "MUXSERVE_LISTEN", value_name = "ADDR", value_parser = parse_listen_value)]
    listen: Option<SocketAddr>,

    /// Worker threads [default: number of CPUs]
    #[arg(long, env = "MUXSERVE_WORKERS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,

    /// Open connections at most; beyond it new ones wait in the kernel backlog [default: 10000,
    /// or what the open-file limit holds]
    #[arg(long, env = "MUXSERVE_MAX_CONNECTIONS", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: Option<u32>,

    /// Time for a client to send a whole request head
    #[arg(long, env = "MUXSERVE_HEADER_TIMEOUT", default_value = "15s", value_name = "DUR", value_parser = parse_timeout)]
    header_timeout: Duration,

    /// Idle time before a keep-alive connection is closed (keep it above your load balancer's)
    #[arg(long, env = "MUXSERVE_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_name = "DUR", value_parser = parse_timeout)]
    keep_alive_timeout: Duration,

    /// A response write that makes no progress for this long is abandoned
    #[arg(long, env = "MUXSERVE_SEND_TIMEOUT", default_value = "30s", value_name = "DUR", value_parser = parse_timeout)]
    send_timeout: Duration,

    /// After SIGTERM/SIGINT, how long in-flight responses may take before they are cut
    #[arg(long, env = "MUXSERVE_SHUTDOWN_TIMEOUT", default_value = "8s", value_name = "DUR", value_parser = parse_duration)]
    shutdown_timeout: Duration,

    /// Access log on stdout, one line per response
    #[arg(
        long,
        env = "MUXSERVE_ACCESS_LOG",
        default_value = "common",
        value_name = "FORMAT"
    )]
    access_log: AccessLog,

    /// Largest request head (request line and headers) in bytes; larger → 431
    #[arg(long, env = "MUXSERVE_MAX_HEAD_SIZE", default_value_t = 16 * 1024, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(1024..=1024 * 1024))]
    max_head_size: u32,

    /// Longest request target in bytes; longer → 414
    #[arg(long, env = "MUXSERVE_MAX_URI_LENGTH", default_value_t = 8 * 1024, value_name = "BYTES",
          value_parser = clap::value_parser!(u32).range(16..=1024 * 1024))]
    max_uri_length: u32,

    /// Request bodies are read and discarded up to this size; larger → 413
    #[arg(long, env = "MUXSERVE_MAX_BODY_SIZE", default_value_t = 1024 * 1024, value_name = "BYTES")]
    max_body_size: u64,

    /// Most header fields in a request; more → 431
    #[arg(long, env = "MUXSERVE_MAX_HEADERS", default_value_t = 100, value_name = "N",
          value_parser = clap::value_parser!(u16).range(8..=128))]
    max_headers: u16,

    /// Index file names tried for a directory, comma-separated
    #[arg(
        long,
        env = "MUXSERVE_INDEX",
        default_value = "index.html",
        value_name = "NAMES",
        value_delimiter = ',',
        value_parser = parse_index_name
    )]
    index: Vec<String>,

    /// File (relative to the root) served with 200 for unknown paths without an extension: single-page apps
    #[arg(long, env = "MUXSERVE_FALLBACK", value_name = "FILE")]
    fallback: Option<String>,

    /// Listings for directories that have no index file: HTML, or JSON when Accept prefers it
    #[arg(long, env = "MUXSERVE_DIR_LISTING")]
    dir_listing: bool,

    /// Serve dotfiles (/.well-known/ is always served)
    #[arg(long, env = "MUXSERVE_HIDDEN_FILES")]
    hidden_files: bool,

    /// Follow symlinks that lead outside the root (by default only those that stay inside)
    #[arg(long, env = "MUXSERVE_FOLLOW_SYMLINKS")]
    follow_symlinks: bool,

    /// Serve file.br / file.zst / file.gz beside file to clients that accept them
    #[arg(long, env = "MUXSERVE_PRECOMPRESSED", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    precompressed: bool,

    /// Answer /about with about.html when no about file or directory exists
    #[arg(long, env = "MUXSERVE_CLEAN_URLS", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    clean_urls: bool,

    /// Redirect (308) /about.html to /about and /about/index.html to /about/, query kept (needs --clean-urls)
    #[arg(long, env = "MUXSERVE_CANONICAL_URLS")]
    canonical_urls: bool,

    /// Compress text files on the fly with brotli, zstd or gzip (compressed once, kept in memory)
    #[arg(long, env = "MUXSERVE_COMPRESS")]
    compress: bool,

    /// Smallest file compressed on the fly, in bytes
    #[arg(
        long,
        env = "MUXSERVE_COMPRESS_MIN_SIZE",
        default_value_t = 1024,
        value_name = "BYTES"
    )]
    compress_min_size: u64,

    /// Memory for compressed bodies, in bytes
    #[arg(long, env = "MUXSERVE_COMPRESS_CACHE_SIZE", default_value_t = 64 * 1024 * 1024, value_name = "BYTES")]
    compress_cache_size: u64,

    /// Memory for files up to 16 KiB kept in memory (each hit is checked against the disk); 0 turns it off
    #[arg(long, env = "MUXSERVE_FILE_CACHE_SIZE", default_value_t = 32 * 1024 * 1024, value_name = "BYTES")]
    file_cache_size: u64,

    /// Cache-Control for files no --cache-rule matches; "off" sends none
    #[arg(
        long,
        env = "MUXSERVE_CACHE_CONTROL",
        default_value = "no-cache",
        value_name = "VALUE",
        value_parser = parse_cache_control
    )]
    cache_control: String,

    /// Cache-Control by path: PATTERN=VALUE, a glob over the URL path or "hashed" for content-hashed
    /// names; repeatable, first match wins [default: hashed=public, max-age=31536000, immutable]
    #[arg(long = "cache-rule", env = "MUXSERVE_CACHE_RULES", value_name = "RULE", value_parser = CacheRule::parse, value_delimiter = ';')]
    cache_rules: Vec<CacheRule>,

    /// Header added to every response, as 'Name: value'; repeatable
    #[arg(long = "header", env = "MUXSERVE_HEADERS", value_name = "HEADER", value_parser = parse_header, value_delimiter = '\n')]
    headers: Vec<(String, String)>,

    /// Send X-Content-Type-Options: nosniff
    #[arg(long, env = "MUXSERVE_NOSNIFF", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    nosniff: bool,

    /// Path answered with 200 without touching the disk (503 while shutting down), for load-balancer probes
    #[arg(long, env = "MUXSERVE_HEALTH_PATH", value_name = "PATH", value_parser = parse_url_path)]
    health_path: Option<String>,

    /// Read _redirects and _headers from the root (Netlify / Cloudflare Pages rules)
    #[arg(long, env = "MUXSERVE_SITE_RULES", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    site_rules: bool,

    /// Strong ETags from size and mtime, or from a hash of the content (for builds that reset mtimes)
    #[arg(
        long,
        env = "MUXSERVE_ETAG",
        default_value = "mtime",
        value_name = "MODE"
    )]
    etag: EtagMode,

    /// Origins whose pages may read responses (CORS): origins as browsers send them
    /// (https://app.example.com), comma-separated or repeated, or * for any
    #[arg(long = "cors-origins", env = "MUXSERVE_CORS_ORIGINS", value_name = "ORIGIN", value_parser = parse_cors_origin, value_delimiter = ',')]
    cors_origins: Vec<String>,

    /// Request headers a CORS preflight allows, comma-separated; * allows any but Authorization
    #[arg(long = "cors-headers", env = "MUXSERVE_CORS_HEADERS", value_name = "NAME", value_parser = parse_cors_header, value_delimiter = ',')]
    cors_headers: Vec<String>,

    /// Seconds a browser may keep a CORS preflight's answer [default: 86400]
    #[arg(long, env = "MUXSERVE_CORS_MAX_AGE", value_name = "SECONDS")]
    cors_max_age: Option<u32>,
    /// Proxies whose Forwarded / X-Forwarded-For headers name the client: addresses or CIDR blocks, comma-separated [default: none]
    #[arg(long, env = "MUXSERVE_TRUSTED_PROXIES", value_name = "CIDRS", value_delimiter = ',', value_parser = str::parse::<Cidr>)]
    trusted_proxies: Vec<Cidr>,

    /// Path answered with the Prometheus text format (request, connection and reload counters) [default: none]
    #[arg(long, env = "MUXSERVE_METRICS_PATH", value_name = "PATH", value_parser = parse_url_path)]
    metrics_path: Option<String>,

    /// Peers that may read --metrics-path: addresses or CIDR blocks, comma-separated; others get what the site has there (a 404) [default: any]
    #[arg(long, env = "MUXSERVE_METRICS_FROM", value_name = "CIDRS", value_delimiter = ',', value_parser = str::parse::<Cidr>)]
    metrics_from: Vec<Cidr>,

    /// Every connection must start with a PROXY protocol v1/v2 header (HAProxy, AWS NLB); others are closed unanswered
    #[arg(long, env = "MUXSERVE_PROXY_PROTOCOL")]
    proxy_protocol: bool,

    /// HTTP Basic authentication: PATTERN=HTPASSWD_FILE, a glob over the URL path as for
    /// --cache-rule and an Apache htpasswd file (bcrypt, SHA-crypt or argon2id); repeatable,
    /// first match wins
    #[arg(long = "basic-auth", env = "MUXSERVE_BASIC_AUTH", value_name = "RULE", value_parser = AuthRule::parse, value_delimiter = ';')]
    basic_auth: Vec<AuthRule>,

    /// The realm a 401 names in WWW-Authenticate
    #[arg(long, env = "MUXSERVE_AUTH_REALM", default_value = "restricted", value_name = "REALM", value_parser = parse_realm)]
    auth_realm: String,

    /// How long the answer to a wrong password (or a 503 at the hashing bound) is held back,
    /// the connection idle meanwhile; 0 answers at once
    #[arg(long, env = "MUXSERVE_AUTH_FAILURE_DELAY", default_value = "1s", value_name = "DUR", value_parser = parse_duration)]
    auth_failure_delay: Duration,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that a running server answers: exit 0 on 2xx/3xx, 1 otherwise (for HEALTHCHECK)
    Health(HealthArgs),
    /// Check the configuration and the site as serving would, binding nothing: exit 0, or 1 with every problem
    #[command(after_help = AFTER_HELP)]
    Check(Box<ServeArgs>),
}

/// `muxserve health` options. The server's own variables say where it listens, so a
/// HEALTHCHECK in an image configured by environment needs no arguments.
#[derive(Args, Debug)]
pub struct HealthArgs {
    /// URL to request [default: http://127.0.0.1:PORT/ with the server's port, and its health path if set]
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Give up after this long
    #[arg(long, default_value = "3s", value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Duration,

    /// The server's listen address, for the default URL
    #[arg(long, env = "MUXSERVE_LISTEN", value_name = "ADDR", hide = true)]
    pub listen: Option<String>,

    /// The server's port when it takes it from PORT, for the default URL
    #[arg(long, env = "PORT", value_name = "PORT", hide = true)]
    pub port: Option<String>,

    /// The server's health path, for the default URL
    #[arg(long, env = "MUXSERVE_HEALTH_PATH", value_name = "PATH", hide = true)]
    pub health_path: Option<String>,

    /// Begin with a PROXY protocol header (`PROXY UNKNOWN`), as a server run with --proxy-protocol expects
    #[arg(long, env = "MUXSERVE_PROXY_PROTOCOL")]
    pub proxy_protocol: bool,
}

/// Parses `500ms`, `15s`, `2m`, `1h 30m` or a bare number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|e| e.to_string());
    }
    humantime::parse_duration(s).map_err(|e| format!("{e} (examples: 500ms, 15s, 2m)"))
}

/// [`parse_duration`], for the timeouts that cannot be zero.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    Ok(d)
}

/// An `--index` name: a file in the directory itself, never a path or a dotfile.
fn parse_index_name(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains('/') || s.starts_with('.') {
        return Err(format!("index name {s:?} must be a plain file name"));
    }
    Ok(s.to_string())
}

/// A `--health-path` or `--metrics-path`: compared byte for byte with request paths, so it
/// must be one (the error is shown after the flag's name).
fn parse_url_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(format!(
            "{s:?} is not a URL path: it must start with / and hold no spaces or control \
             characters"
        ));
    }
    Ok(s.to_string())
}

/// A `--cache-control` value, sent as it is (`off` is [`ServeArgs::into_config`]'s to map).
fn parse_cache_control(s: &str) -> Result<String, String> {
    check_header_value(s.trim())?;
    Ok(s.to_string())
}

/// Resolves a listen address: `host:port`, `[v6]:port`, or a bare port meaning all IPv4 interfaces.
pub fn parse_listen(s: &str) -> anyhow::Result<SocketAddr> {
    let s = s.trim();
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    s.to_socket_addrs()
        .with_context(|| {
            format!("invalid listen address {s:?} (expected host:port, [::]:port or a port)")
        })?
        .next()
        .with_context(|| format!("listen address {s:?} resolves to no address"))
}

/// [`parse_listen`] as `--listen`'s value parser, so a bad address in the config file is
/// refused with its line.
fn parse_listen_value(s: &str) -> Result<SocketAddr, String> {
    parse_listen(s).map_err(|e| format!("{e:#}"))
}

/// The listen address from `--listen`, else `PORT` (as PaaS hosts set it), else the default.
fn listen_address(
    listen: Option<SocketAddr>,
    port_env: Option<&str>,
) -> anyhow::Result<SocketAddr> {
    Ok(match (listen, port_env) {
        (Some(l), _) => l,
        (None, Some(p)) => {
            let port: u16 = p
                .trim()
                .parse()
                .with_context(|| format!("invalid PORT environment variable {p:?}"))?;
            SocketAddr::from(([0, 0, 0, 0], port))
        }
        (None, None) => Config::default().listen,
    })
}

/// A configuration to serve with (or to check), and the file it came from in part.
#[derive(Debug)]
pub struct Loaded {
    /// What serving would run with.
    pub config: Config,
    /// The `--config` file, if one was given.
    pub file: Option<PathBuf>,
}

/// The configuration of serving, or of `muxserve check` when `matches` holds that subcommand:
/// `matches` (what `cmd` parsed from `argv`; the environment is whatever `cmd` reads) with the
/// `--config` file's options filling in only where a default stood. So the command line beats
/// the environment (clap's own order), both beat the file, and the file beats the defaults.
/// `port_env` is the value of `PORT`, if set.
pub fn load(
    cmd: &mut clap::Command,
    argv: &[OsString],
    matches: &ArgMatches,
    port_env: Option<String>,
) -> anyhow::Result<Loaded> {
    let serving = serve_matches(matches);
    let Some(path) = serving.get_one::<PathBuf>("config").cloned() else {
        let config = ServeArgs::from_arg_matches(serving)?.into_config(port_env)?;
        return Ok(Loaded { config, file: None });
    };
    let file = {
        let serve_cmd = match matches.subcommand_name() {
            Some(name) => cmd.find_subcommand(name).unwrap_or(cmd),
            None => cmd,
        };
        file::load(&path, serve_cmd)?
    };
    let extra = file.args_where(|id| {
        let by_default = matches!(
            serving.value_source(id),
            None | Some(ValueSource::DefaultValue)
        );
        // PORT is the environment's say on the port, so it outranks the file as
        // MUXSERVE_LISTEN would.
        by_default && !(id == "listen" && port_env.is_some())
    });
    // The file's values are appended as flags, so the parsers and the derive that built the
    // command line's Config build this one too; appended last, they land in `check`'s
    // arguments when it is the subcommand.
    let merged = cmd
        .try_get_matches_from_mut(argv.iter().chain(&extra))
        .map_err(|e| {
            let rendered = e.render().to_string();
            let line = rendered.lines().next().unwrap_or("refused").to_string();
            anyhow::anyhow!("{}: {line}", path.display())
        })?;
    let mut config = ServeArgs::from_arg_matches(serve_matches(&merged))?.into_config(port_env)?;
    config.site.redirects = file.redirects;
    config.site.header_rules = file.header_rules;
    Ok(Loaded {
        config,
        file: Some(path),
    })
}

/// The matches that hold the serving options: `check`'s, or the top level's.
fn serve_matches(matches: &ArgMatches) -> &ArgMatches {
    matches.subcommand_matches("check").unwrap_or(matches)
}

impl ServeArgs {
    /// The checks no value parser can make alone, as they involve two options or the disk;
    /// each error names the flag. Single values are checked by their parsers, which the config
    /// file's values go through too.
    fn check(&self) -> anyhow::Result<()> {
        if self.canonical_urls && !self.clean_urls {
            // /about.html would redirect to /about, which only clean URLs answer.
            bail!("--canonical-urls needs --clean-urls true");
        }
        let meta = std::fs::metadata(&self.root)
            .with_context(|| format!("cannot serve root {}", self.root.display()))?;
        if !meta.is_dir() {
            bail!("root {} is not a directory", self.root.display());
        }
        if let (Some(health), Some(metrics)) = (&self.health_path, &self.metrics_path)
            && health == metrics
        {
            // The scrape is answered before the site, so the probe would get the metrics.
            bail!("--health-path and --metrics-path are both {health}: give them two paths");
        }
        Ok(())
    }

    /// Validates the options into a [`Config`]; `port_env` is the value of `PORT`, if set.
    fn into_config(self, port_env: Option<String>) -> anyhow::Result<Config> {
        let listen = listen_address(self.listen, port_env.as_deref())?;
        self.check()?;
        let cache_control = match self.cache_control.trim() {
            "" | "off" => None,
            v => Some(v.to_string()),
        };
        let cors = self.cors()?;
        for (i, (name, _)) in self.headers.iter().enumerate() {
            let again = self.headers[..i]
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name));
            if again && crate::http::response::singleton(name) {
                bail!(
                    "--header {name} is given twice, but {name} is a singleton field that a \
                     response carries once (RFC 9110 §5.3)"
                );
            }
        }
        let cache_rules = if self.cache_rules.is_empty() {
            SiteOptions::default().cache_rules
        } else {
            self.cache_rules
        };
        let workers = self.workers.map_or_else(default_workers, usize::from);
        Ok(Config {
            root: self.root,
            listen,
            workers,
            max_connections: self.max_connections.map_or(MaxConnections::Default, |n| {
                MaxConnections::Given(n as usize)
            }),
            access_log: self.access_log,
            limits: Limits {
                max_head: self.max_head_size as usize,
                max_uri: self.max_uri_length as usize,
                max_body: self.max_body_size,
                max_headers: usize::from(self.max_headers),
            },
            timeouts: Timeouts {
                header: self.header_timeout,
                keep_alive: self.keep_alive_timeout,
                send: self.send_timeout,
                shutdown: self.shutdown_timeout,
            },
            proxies: Proxies {
                trusted: TrustedProxies::new(self.trusted_proxies),
                protocol: self.proxy_protocol,
            },
            metrics: MetricsOptions {
                path: self.metrics_path,
                from: self.metrics_from,
            },
            site: SiteOptions {
                index: self.index,
                fallback: self.fallback,
                dir_listing: self.dir_listing,
                hidden_files: self.hidden_files,
                follow_symlinks: self.follow_symlinks,
                precompressed: self.precompressed,
                clean_urls: self.clean_urls,
                canonical_urls: self.canonical_urls,
                compress: self.compress,
                compress_min_size: self.compress_min_size,
                compress_cache_size: self.compress_cache_size,
                file_cache_size: self.file_cache_size,
                cache_control,
                cache_rules,
                headers: self.headers,
                nosniff: self.nosniff,
                health_path: self.health_path,
                site_rules: self.site_rules,
                etag: self.etag,
                redirects: Vec::new(),
                header_rules: Vec::new(),
                cors,
                auth: AuthOptions {
                    rules: self.basic_auth,
                    realm: self.auth_realm,
                    hashing: AuthOptions::hashing_for(workers),
                    failure_delay: self.auth_failure_delay,
                },
            },
        })
    }

    /// The CORS options, or `None` without `--cors-origins`.
    fn cors(&self) -> anyhow::Result<Option<CorsOptions>> {
        if self.cors_origins.is_empty() {
            if !self.cors_headers.is_empty() {
                bail!("--cors-headers needs --cors-origins");
            }
            if self.cors_max_age.is_some() {
                bail!("--cors-max-age needs --cors-origins");
            }
            return Ok(None);
        }
        let origins = if self.cors_origins.iter().any(|o| o == "*") {
            if self.cors_origins.len() > 1 {
                bail!("--cors-origins: * already allows every origin; give it alone");
            }
            CorsOrigins::Any
        } else {
            let mut list = self.cors_origins.clone();
            list.sort();
            list.dedup();
            CorsOrigins::List(list)
        };
        Ok(Some(CorsOptions {
            origins,
            headers: self.cors_headers.clone(),
            max_age: self.cors_max_age.unwrap_or(CorsOptions::DEFAULT_MAX_AGE),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::CommandFactory;

    /// The command as the binary has it, but reading no environment: tests neither depend on
    /// the test process's variables nor race on them.
    fn env_free() -> clap::Command {
        Cli::command().mut_args(|a| a.env(None::<&str>))
    }

    /// A root to serve and a `site.toml` beside it holding `toml` (none if `None`).
    struct Case {
        dir: tempfile::TempDir,
    }

    impl Case {
        fn new(toml: Option<&str>) -> Case {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("public")).unwrap();
            if let Some(toml) = toml {
                std::fs::write(dir.path().join("site.toml"), toml).unwrap();
            }
            Case { dir }
        }

        fn root(&self) -> PathBuf {
            self.dir.path().join("public")
        }

        fn file(&self) -> PathBuf {
            self.dir.path().join("site.toml")
        }

        /// `muxserve --root ROOT [--config FILE] ARGS` through `load`, as `main` runs it.
        fn load_with(
            &self,
            mut cmd: clap::Command,
            args: &[&str],
            port_env: Option<&str>,
        ) -> anyhow::Result<Config> {
            let mut argv: Vec<OsString> = vec!["muxserve".into()];
            if self.file().exists() {
                argv.extend(["--config".into(), self.file().into_os_string()]);
            }
            if !args.contains(&"--root") {
                argv.extend(["--root".into(), self.root().into_os_string()]);
            }
            argv.extend(args.iter().map(OsString::from));
            let matches = cmd.try_get_matches_from_mut(&argv)?;
            let loaded = load(&mut cmd, &argv, &matches, port_env.map(str::to_string))?;
            Ok(loaded.config)
        }

        fn load(&self, args: &[&str]) -> anyhow::Result<Config> {
            self.load_with(env_free(), args, None)
        }
    }

    /// The command line's defaults are `Config::default`'s: the in-process tests run with one and
    /// users with the other. The environment is ignored here, whatever the test process has.
    #[test]
    fn command_line_defaults_are_config_defaults() {
        let case = Case::new(None);
        let config = case.load(&[]).unwrap();
        let expected = Config {
            root: case.root(),
            ..Config::default()
        };
        assert_eq!(format!("{config:#?}"), format!("{expected:#?}"));
    }

    type Check = fn(&Config) -> bool;

    /// One file line per option, and what it must make of the `Config`: never the default.
    const FILE_KEYS: &[(&str, Check)] = &[
        ("root = \"ROOT\"", |c| c.root.is_absolute()),
        ("listen = \"127.0.0.1:9999\"", |c| c.listen.port() == 9999),
        ("workers = 3", |c| c.workers == 3),
        ("max-connections = 77", |c| {
            c.max_connections == MaxConnections::Given(77)
        }),
        ("header-timeout = \"1500ms\"", |c| {
            c.timeouts.header == Duration::from_millis(1500)
        }),
        ("keep-alive-timeout = 9", |c| {
            c.timeouts.keep_alive == Duration::from_secs(9)
        }),
        ("send-timeout = \"2m\"", |c| {
            c.timeouts.send == Duration::from_secs(120)
        }),
        ("shutdown-timeout = \"0s\"", |c| {
            c.timeouts.shutdown.is_zero()
        }),
        ("access-log = \"json\"", |c| c.access_log == AccessLog::Json),
        ("max-head-size = 2048", |c| c.limits.max_head == 2048),
        ("max-uri-length = 100", |c| c.limits.max_uri == 100),
        ("max-body-size = 5", |c| c.limits.max_body == 5),
        ("max-headers = 10", |c| c.limits.max_headers == 10),
        ("index = [\"index.htm\", \"index.html\"]", |c| {
            c.site.index == ["index.htm", "index.html"]
        }),
        ("fallback = \"app.html\"", |c| {
            c.site.fallback.as_deref() == Some("app.html")
        }),
        ("dir-listing = true", |c| c.site.dir_listing),
        ("hidden-files = true", |c| c.site.hidden_files),
        ("follow-symlinks = true", |c| c.site.follow_symlinks),
        ("precompressed = false", |c| !c.site.precompressed),
        ("clean-urls = false", |c| !c.site.clean_urls),
        ("canonical-urls = true", |c| c.site.canonical_urls),
        ("compress = true", |c| c.site.compress),
        ("compress-min-size = 10", |c| c.site.compress_min_size == 10),
        ("compress-cache-size = 11", |c| {
            c.site.compress_cache_size == 11
        }),
        ("file-cache-size = 0", |c| c.site.file_cache_size == 0),
        ("cache-control = \"off\"", |c| {
            c.site.cache_control.is_none()
        }),
        ("basic-auth = [\"/private/*=users.htpasswd\"]", |c| {
            c.site.auth.rules.len() == 1 && c.site.auth.rules[0].file.ends_with("users.htpasswd")
        }),
        ("auth-realm = \"staff\"", |c| c.site.auth.realm == "staff"),
        ("auth-failure-delay = \"250ms\"", |c| {
            c.site.auth.failure_delay == Duration::from_millis(250)
        }),
        ("cache-rule = [\"*.html=no-store\"]", |c| {
            c.site.cache_rules.len() == 1 && c.site.cache_rules[0].value == "no-store"
        }),
        ("header = [\"X-Frame-Options: DENY\", \"X-A: b\"]", |c| {
            c.site.headers
                == [
                    ("X-Frame-Options".to_string(), "DENY".to_string()),
                    ("X-A".to_string(), "b".to_string()),
                ]
        }),
        ("nosniff = false", |c| !c.site.nosniff),
        ("metrics-path = \"/metrics\"", |c| {
            c.metrics.path.as_deref() == Some("/metrics")
        }),
        ("metrics-from = [\"10.0.0.0/8\"]", |c| {
            c.metrics
                .from
                .iter()
                .any(|b| b.contains([10, 9, 8, 7].into()))
        }),
        ("health-path = \"/healthz\"", |c| {
            c.site.health_path.as_deref() == Some("/healthz")
        }),
        ("site-rules = false", |c| !c.site.site_rules),
        ("etag = \"content\"", |c| c.site.etag == EtagMode::Content),
        (
            "cors-origins = [\"https://b.example\", \"http://a.example:8080\"]",
            |c| {
                c.site.cors.as_ref().is_some_and(|cors| {
                    cors.origins
                        == CorsOrigins::List(vec![
                            "http://a.example:8080".into(),
                            "https://b.example".into(),
                        ])
                })
            },
        ),
        (
            "cors-headers = [\"X-A\", \"*\"]\ncors-origins = \"*\"",
            |c| {
                c.site.cors.as_ref().is_some_and(|cors| {
                    cors.origins == CorsOrigins::Any && cors.headers == ["X-A", "*"]
                })
            },
        ),
        ("cors-max-age = 60\ncors-origins = \"*\"", |c| {
            c.site.cors.as_ref().is_some_and(|cors| cors.max_age == 60)
        }),
        ("trusted-proxies = [\"10.0.0.0/8\", \"::1\"]", |c| {
            c.proxies.trusted.contains([10, 1, 2, 3].into())
                && c.proxies
                    .trusted
                    .contains(std::net::Ipv6Addr::LOCALHOST.into())
        }),
        ("proxy-protocol = true", |c| c.proxies.protocol),
    ];

    /// Each row alone in a file reaches its `Config` field.
    #[test]
    fn every_file_key_sets_its_config_field() {
        for (line, check) in FILE_KEYS {
            assert!(!check(&Config::default()), "{line}: the default passes");
            let case = Case::new(None);
            let root = case.root().display().to_string();
            std::fs::write(case.file(), line.replace("ROOT", &root)).unwrap();
            // Without --root on the command line, so that the file's root counts.
            let root_arg = ["--root", root.as_str()];
            let args: &[&str] = if line.starts_with("root") {
                &[]
            } else {
                &root_arg
            };
            let mut cmd = env_free();
            let mut argv: Vec<OsString> = vec!["muxserve".into(), "--config".into()];
            argv.push(case.file().into_os_string());
            argv.extend(args.iter().map(OsString::from));
            let matches = cmd.try_get_matches_from_mut(&argv).unwrap();
            let config = load(&mut cmd, &argv, &matches, None)
                .unwrap_or_else(|e| panic!("{line}: {e:#}"))
                .config;
            assert!(check(&config), "{line}: {config:#?}");
        }
    }

    /// A new command-line option must be settable from the file: it needs a row above.
    #[test]
    fn every_command_line_option_has_a_file_key() {
        let keys: Vec<&str> = FILE_KEYS
            .iter()
            .filter_map(|(line, _)| line.split(" = ").next())
            .collect();
        for arg in Cli::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if long != "config" {
                assert!(keys.contains(&long), "--{long} has no row in FILE_KEYS");
            }
        }
    }

    #[test]
    fn command_line_beats_the_file_and_the_file_beats_defaults() {
        let case = Case::new(Some(
            "workers = 3\nnosniff = false\nheader = [\"X-File: 1\"]\ndir-listing = true\n",
        ));
        let config = case.load(&[]).unwrap();
        assert_eq!(config.workers, 3);
        assert!(!config.site.nosniff && config.site.dir_listing);
        let config = case
            .load(&[
                "--workers",
                "5",
                "--nosniff",
                "true",
                "--header",
                "X-Cli: 2",
            ])
            .unwrap();
        assert_eq!(config.workers, 5);
        assert!(config.site.nosniff);
        // A list on the command line replaces the file's, as it replaces a default.
        assert_eq!(config.site.headers, [("X-Cli".into(), "2".into())]);
        assert!(config.site.dir_listing);
    }

    /// The environment beats the file and loses to the command line. The variable is one cargo
    /// sets for every test process, given to `--root` here, so no test sets any.
    #[test]
    fn environment_beats_the_file_and_loses_to_the_command_line() {
        let manifest = PathBuf::from(
            std::env::var_os("CARGO_MANIFEST_DIR")
                .expect("run under cargo test: it sets CARGO_MANIFEST_DIR"),
        );
        let with_env = || env_free().mut_arg("root", |a| a.env("CARGO_MANIFEST_DIR"));
        let case = Case::new(None);
        let root = case.root().display().to_string();
        std::fs::write(case.file(), format!("root = {root:?}\n")).unwrap();
        let cli_root = case.dir.path().display().to_string();
        let file_root = |cmd| {
            let mut cmd: clap::Command = cmd;
            let argv: Vec<OsString> =
                vec!["muxserve".into(), "--config".into(), case.file().into()];
            let matches = cmd.try_get_matches_from_mut(&argv).unwrap();
            load(&mut cmd, &argv, &matches, None).unwrap().config.root
        };
        assert_eq!(file_root(env_free()), case.root(), "file over the default");
        assert_eq!(file_root(with_env()), manifest, "environment over the file");
        let config = case
            .load_with(with_env(), &["--root", &cli_root], None)
            .unwrap();
        assert_eq!(config.root, case.dir.path(), "command line over both");
    }

    /// PORT is the environment's: it outranks the file's listen, as MUXSERVE_LISTEN would.
    #[test]
    fn port_variable_beats_the_files_listen() {
        let case = Case::new(Some("listen = \"127.0.0.1:9999\"\n"));
        let config = case.load_with(env_free(), &[], Some("9000")).unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        let config = case.load_with(env_free(), &[], None).unwrap();
        assert_eq!(config.listen, "127.0.0.1:9999".parse().unwrap());
        let config = case
            .load_with(env_free(), &["--listen", "127.0.0.1:1"], Some("9000"))
            .unwrap();
        assert_eq!(config.listen.port(), 1);
    }

    /// `check`'s options are the same and merge the same way.
    #[test]
    fn check_subcommand_builds_the_same_config() {
        let case = Case::new(Some(
            "workers = 3\n[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\n",
        ));
        let mut cmd = Cli::command()
            .mut_args(|a| a.env(None::<&str>))
            .mut_subcommand("check", |c| c.mut_args(|a| a.env(None::<&str>)));
        let argv: Vec<OsString> = vec![
            "muxserve".into(),
            "check".into(),
            "--config".into(),
            case.file().into(),
            "--root".into(),
            case.root().into(),
            "--dir-listing".into(),
        ];
        let matches = cmd.try_get_matches_from_mut(&argv).unwrap();
        let loaded = load(&mut cmd, &argv, &matches, None).unwrap();
        let c = loaded.config;
        assert_eq!((c.workers, c.site.dir_listing), (3, true));
        assert_eq!(c.site.redirects.len(), 1);
        assert_eq!(loaded.file, Some(case.file()));
    }

    /// A bad file is one line naming the file, the line and the key.
    #[test]
    fn file_errors_name_file_line_and_key() {
        for (toml, line, key) in [
            ("workers = 2\nheader-timout = \"1s\"\n", 2, "header-timout"),
            ("\n\nworkers = \"two\"\n", 3, "workers"),
            ("header-timeout = \"soon\"\n", 1, "header-timeout"),
            ("header-timeout = \"0s\"\n", 1, "header-timeout"),
            (
                "header = [\n  \"X-Ok: 1\",\n  \"Content-Length: 5\",\n]\n",
                3,
                "header",
            ),
            ("listen = \"nonsense:port\"\n", 1, "listen"),
        ] {
            let case = Case::new(Some(toml));
            let e = format!("{:#}", case.load(&[]).unwrap_err());
            let at = format!("{}:{line}: key {key:?}: ", case.file().display());
            assert!(e.starts_with(&at), "{toml:?}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
    }

    #[test]
    fn durations() {
        for (s, ms) in [
            ("15", 15_000),
            ("500ms", 500),
            ("2m", 120_000),
            ("1s", 1000),
        ] {
            assert_eq!(parse_duration(s), Ok(Duration::from_millis(ms)), "{s}");
        }
        for s in ["", "abc", "-1", "5 parsecs"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }

    #[test]
    fn rules_and_headers() {
        let r = CacheRule::parse("*.html = no-cache").unwrap();
        let CachePattern::Glob(glob) = &r.pattern else {
            panic!("{r:?}");
        };
        assert_eq!((glob.glob(), r.value.as_str()), ("*.html", "no-cache"));
        assert!(CacheRule::parse("no-equals").is_err());
        assert!(CacheRule::parse("[=x").is_err());
        assert!(CacheRule::parse("*=a\nb").is_err());
        assert_eq!(
            parse_header("X-Frame-Options: DENY"),
            Ok(("X-Frame-Options".into(), "DENY".into()))
        );
        for bad in [
            "NoColon",
            "Bad Name: x",
            "X: a\rb",
            "Content-Length: 5",
            ": x",
            "Content-Type: text/plain",
            "location: /x",
            "Retry-After: 5",
            "Allow: GET",
            "Accept-Ranges: none",
            "Age: 0",
        ] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
        assert!(parse_header("Expires: Thu, 01 Jan 2099 00:00:00 GMT").is_ok());
    }

    #[test]
    fn cors_origins_are_taken_as_browsers_serialize_them() {
        for good in [
            "*",
            "https://app.example.com",
            "http://localhost:3000",
            "http://127.0.0.1:8080",
            "http://[::1]:5173",
            "https://xn--bcher-kva.example",
            "chrome-extension://abcdefghijklmnop",
        ] {
            assert_eq!(parse_cors_origin(good).as_deref(), Ok(good), "{good}");
        }
        for (bad, why) in [
            ("null", "opaque"),
            ("app.example.com", "no scheme"),
            ("https://app.example.com/", "path"),
            ("https://app.example.com/x", "path"),
            ("https://App.example.com", "https://app.example.com"),
            ("HTTPS://app.example.com", "lowercase"),
            ("https://", "host"),
            ("https://bücher.example", "xn--"),
            ("https://a b", "host"),
            ("https://app.example.com:443", "default port"),
            ("http://app.example.com:80", "default port"),
            ("http://app.example.com:0", "port"),
            ("http://app.example.com:99999", "port"),
            ("http://app.example.com:08080", "port"),
        ] {
            let e = parse_cors_origin(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            parse_cors_header(" X-Requested-With "),
            Ok("X-Requested-With".into())
        );
        assert_eq!(parse_cors_header("*"), Ok("*".into()));
        assert!(parse_cors_header("Bad Name").is_err());
        assert!(parse_cors_header("").is_err());
    }

    #[test]
    fn a_singleton_header_is_configured_once() {
        let case = Case::new(None);
        let twice = ["--header", "Expires: 0", "--header", "expires: 1"];
        let e = case.load(&twice).expect_err("Expires twice");
        assert!(
            format!("{e:#}").starts_with("--header expires is given twice"),
            "{e:#}"
        );
        let lists = ["--header", "Link: </a>", "--header", "Link: </b>"];
        assert_eq!(case.load(&lists).unwrap().site.headers.len(), 2);
    }

    #[test]
    fn cors_options_travel_together() {
        let case = Case::new(None);
        let cors = |args: &[&str]| case.load(args).map(|c| c.site.cors);
        assert_eq!(cors(&[]).unwrap(), None);
        assert_eq!(
            cors(&[
                "--cors-origins",
                "https://b.example,https://a.example,https://b.example"
            ])
            .unwrap(),
            Some(CorsOptions {
                origins: CorsOrigins::List(vec![
                    "https://a.example".into(),
                    "https://b.example".into()
                ]),
                headers: vec![],
                max_age: CorsOptions::DEFAULT_MAX_AGE,
            })
        );
        for (args, message) in [
            (
                &["--cors-headers", "X-A"][..],
                "--cors-headers needs --cors-origins",
            ),
            (
                &["--cors-max-age", "5"],
                "--cors-max-age needs --cors-origins",
            ),
            (
                &["--cors-origins", "*,https://a.example"],
                "--cors-origins: * already allows every origin; give it alone",
            ),
        ] {
            let e = cors(args).expect_err(message);
            assert_eq!(format!("{e:#}"), message, "{args:?}");
        }
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("8081").unwrap(),
            "0.0.0.0:8081".parse().unwrap()
        );
        assert_eq!(
            parse_listen(":8081").unwrap(),
            "0.0.0.0:8081".parse().unwrap()
        );
        assert_eq!(parse_listen("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        assert!(parse_listen("nonsense:port").is_err());
    }
}
