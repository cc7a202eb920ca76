//! Every option of the server: the command line (clap, each flag also read from a `MUXSERVE_*`
//! variable) and the validated [`Config`] the rest of the crate reads. It owns parsing and
//! validation with messages a user can act on; it must never touch a socket or a file beyond
//! checking that the root exists.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::http::request::Limits;
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
    pub max_connections: usize,
    /// Access-log format.
    pub access_log: AccessLog,
    /// Sizes a request may have: larger heads get 431, targets 414, declared bodies 413.
    pub limits: Limits,
    /// How long a client may take at each stage, and the drain after a shutdown signal.
    pub timeouts: Timeouts,
    /// What is served and how.
    pub site: SiteOptions,
}

/// What the site serves and how: the options [`crate::site::Site::open`] reads.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// File names tried, in order, for a directory.
    pub index: Vec<String>,
    /// Root-relative file answered (200) for unknown extension-less paths: single-page apps.
    pub fallback: Option<String>,
    /// HTML listings for directories without an index file.
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
            // Paths are matched relative to the root, so a leading `/` anchors nothing.
            let glob = globset::GlobBuilder::new(pattern.trim_start_matches('/'))
                .literal_separator(false)
                .build()
                .map_err(|e| format!("cache rule {s:?}: {e}"))?;
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
    // Framing and connection management are the server's; a configured value would corrupt them.
    const RESERVED: [&str; 6] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "content-range",
        "content-encoding",
        "date",
    ];
    if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(format!(
            "header {name} is set by the server and cannot be configured"
        ));
    }
    check_header_value(value)?;
    Ok((name.to_string(), value.to_string()))
}

/// RFC 9110 §5.5: field values are visible characters, spaces and tabs — never CR, LF or NUL.
fn check_header_value(v: &str) -> Result<(), String> {
    if v.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("value {v:?} contains control characters"));
    }
    Ok(())
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: PathBuf::from("./public"),
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            workers: default_workers(),
            max_connections: 10_000,
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
            site: SiteOptions::default(),
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
        }
    }
}

fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The command line as the user types it; [`Cli::into_config`] validates it.
#[derive(Parser, Debug)]
#[command(
    name = "muxserve",
    version,
    about = "A static-site HTTP/1.1 server: one multiplexing thread, a pool of workers.",
    after_help = "Durations accept 500ms, 15s, 2m or a bare number of seconds.\n\
                  PORT=N (as PaaS hosts set it) means --listen 0.0.0.0:N unless --listen or MUXSERVE_LISTEN is given."
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Folder to serve
    #[arg(
        long,
        env = "MUXSERVE_ROOT",
        default_value = "./public",
        value_name = "DIR"
    )]
    root: PathBuf,

    /// Address to listen on: host:port, [::]:port or a bare port [default: 0.0.0.0:8080, or 0.0.0.0:$PORT]
    #[arg(long, env = "MUXSERVE_LISTEN", value_name = "ADDR")]
    listen: Option<String>,

    /// Worker threads [default: number of CPUs]
    #[arg(long, env = "MUXSERVE_WORKERS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    workers: Option<u16>,

    /// Open connections at most; beyond it new ones wait in the kernel backlog
    #[arg(long, env = "MUXSERVE_MAX_CONNECTIONS", default_value_t = 10_000, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,

    /// Time for a client to send a whole request head
    #[arg(long, env = "MUXSERVE_HEADER_TIMEOUT", default_value = "15s", value_name = "DUR", value_parser = parse_duration)]
    header_timeout: Duration,

    /// Idle time before a keep-alive connection is closed (keep it above your load balancer's)
    #[arg(long, env = "MUXSERVE_KEEP_ALIVE_TIMEOUT", default_value = "75s", value_name = "DUR", value_parser = parse_duration)]
    keep_alive_timeout: Duration,

    /// A response write that makes no progress for this long is abandoned
    #[arg(long, env = "MUXSERVE_SEND_TIMEOUT", default_value = "30s", value_name = "DUR", value_parser = parse_duration)]
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
        value_delimiter = ','
    )]
    index: Vec<String>,

    /// File (relative to the root) served with 200 for unknown paths without an extension: single-page apps
    #[arg(long, env = "MUXSERVE_FALLBACK", value_name = "FILE")]
    fallback: Option<String>,

    /// HTML listings for directories that have no index file
    #[arg(long, env = "MUXSERVE_DIR_LISTING")]
    dir_listing: bool,

    /// Serve dotfiles (/.well-known/ is always served)
    #[arg(long, env = "MUXSERVE_HIDDEN_FILES")]
    hidden_files: bool,

    /// Follow symlinks that lead outside the root (by default only those that stay inside)
    #[arg(long, env = "MUXSERVE_FOLLOW_SYMLINKS")]
    follow_symlinks: bool,

    /// Serve file.br / file.gz beside file to clients that accept them
    #[arg(long, env = "MUXSERVE_PRECOMPRESSED", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    precompressed: bool,

    /// Answer /about with about.html when no about file or directory exists
    #[arg(long, env = "MUXSERVE_CLEAN_URLS", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    clean_urls: bool,

    /// Redirect (308) /about.html to /about and /about/index.html to /about/, query kept (needs --clean-urls)
    #[arg(long, env = "MUXSERVE_CANONICAL_URLS")]
    canonical_urls: bool,

    /// Compress text files on the fly with gzip or brotli (compressed once, kept in memory)
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
        value_name = "VALUE"
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
    #[arg(long, env = "MUXSERVE_HEALTH_PATH", value_name = "PATH")]
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
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Check that a running server answers: exit 0 on 2xx/3xx, 1 otherwise (for HEALTHCHECK)
    Health(HealthArgs),
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

/// The listen address from `--listen`, else `PORT` (as PaaS hosts set it), else the default.
fn listen_address(listen: Option<&str>, port_env: Option<&str>) -> anyhow::Result<SocketAddr> {
    Ok(match (listen, port_env) {
        (Some(l), _) => parse_listen(l)?,
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

impl Cli {
    /// The checks no value parser can make alone; each error names the flag.
    fn check(&self) -> anyhow::Result<()> {
        for (name, d) in [
            ("--header-timeout", self.header_timeout),
            ("--keep-alive-timeout", self.keep_alive_timeout),
            ("--send-timeout", self.send_timeout),
        ] {
            if d.is_zero() {
                bail!("{name} must be greater than zero");
            }
        }
        if let Some(p) = &self.health_path
            && (!p.starts_with('/') || p.bytes().any(|b| b <= b' ' || b == 0x7f))
        {
            bail!("--health-path {p:?} must be a path starting with /");
        }
        if self.canonical_urls && !self.clean_urls {
            // /about.html would redirect to /about, which only clean URLs answer.
            bail!("--canonical-urls needs --clean-urls true");
        }
        for name in &self.index {
            if name.is_empty() || name.contains('/') || name.starts_with('.') {
                bail!("--index name {name:?} must be a plain file name");
            }
        }
        let meta = std::fs::metadata(&self.root)
            .with_context(|| format!("cannot serve root {}", self.root.display()))?;
        if !meta.is_dir() {
            bail!("root {} is not a directory", self.root.display());
        }
        Ok(())
    }

    /// Validates the command line into a [`Config`]; `port_env` is the value of `PORT`, if set.
    pub fn into_config(self, port_env: Option<String>) -> anyhow::Result<Config> {
        let listen = listen_address(self.listen.as_deref(), port_env.as_deref())?;
        self.check()?;
        let cache_control = match self.cache_control.trim() {
            "" | "off" => None,
            v => {
                check_header_value(v).map_err(|e| anyhow::anyhow!("--cache-control: {e}"))?;
                Some(v.to_string())
            }
        };
        let cache_rules = if self.cache_rules.is_empty() {
            SiteOptions::default().cache_rules
        } else {
            self.cache_rules
        };
        Ok(Config {
            root: self.root,
            listen,
            workers: self.workers.map_or_else(default_workers, usize::from),
            max_connections: self.max_connections as usize,
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
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    /// The command line's defaults are `Config::default`'s: the in-process tests run with one and
    /// users with the other. The environment is ignored here, whatever the test process has.
    #[test]
    fn command_line_defaults_are_config_defaults() {
        use clap::{CommandFactory, FromArgMatches};
        let root = std::env::temp_dir();
        let matches = Cli::command()
            .mut_args(|a| a.env(None::<&str>))
            .try_get_matches_from([
                OsStr::new("muxserve"),
                OsStr::new("--root"),
                root.as_os_str(),
            ])
            .unwrap();
        let config = Cli::from_arg_matches(&matches)
            .unwrap()
            .into_config(None)
            .unwrap();
        let expected = Config {
            root,
            ..Config::default()
        };
        assert_eq!(format!("{config:#?}"), format!("{expected:#?}"));
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
        ] {
            assert!(parse_header(bad).is_err(), "{bad}");
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
