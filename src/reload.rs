//! Reloading while serving. One thread of its own, the watcher, wakes on SIGHUP (or a
//! [`ReloadHandle`]) and once a second. On SIGHUP it asks the [`ConfigSource`] for the
//! configuration again; each second it compares what the root path leads to now (a deploy that
//! swapped a symlink) and the identity of the root's `_redirects` and `_headers` with what the
//! served site was built from. Either way it opens a new [`Site`] and stores it in the workers'
//! `Context`, so the next drive answers from it, whole. Every 30 s it also lets the served site's
//! file cache drop what went unused. A reload that fails keeps the running
//! site and says why in one line. This module never touches a connection, the listener or the
//! poller, and never makes a worker wait: a drive loads the site once and keeps what it loaded.

use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::config::{AuthRule, Config};
use crate::log;
use crate::site::Site;
use crate::worker::Context;

/// How often the root and the rules files are looked at.
const TICK: Duration = Duration::from_secs(1);
/// Ticks between sweeps of the site's file cache: a file no request used for 30 to 60 s is
/// dropped from it, and a deleted one's descriptor closed.
const SWEEP_TICKS: u32 = 30;

/// The rules files a site reads from the top of its root (when `site_rules` is on).
const RULES_FILES: [&str; 2] = ["_redirects", "_headers"];

/// Where a reload on SIGHUP gets its configuration: the binary parses its arguments (and any
/// config file they name) again; an embedder returns what it likes.
pub type ConfigSource = Box<dyn Fn() -> anyhow::Result<Config> + Send>;

/// Asks a running server to reload, as SIGHUP does; cheap to clone and safe from any thread.
#[derive(Clone, Debug)]
pub struct ReloadHandle {
    tx: Arc<UnixStream>,
}

impl ReloadHandle {
    /// Requests a reload; the watcher carries it out within moments, asynchronously. Requests
    /// that arrive together are one reload.
    pub fn reload(&self) {
        // A full pipe already holds a request the watcher has not read.
        let _ = (&*self.tx).write(&[1]);
    }

    /// Routes SIGHUP into this handle's pipe. Process-wide: only `main` calls it.
    pub fn install_signal_handler(&self) -> io::Result<()> {
        signal_hook::low_level::pipe::register(signal_hook::consts::SIGHUP, self.tx.try_clone()?)?;
        Ok(())
    }
}

/// One file's identity as the watcher compares it: a rewrite in place changes size or times, a
/// rename over it the inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    fn of(meta: &std::fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// What a site was built from, or what the disk shows now: the root directory's (device,
/// inode), and the rules files' and `--basic-auth` htpasswd files' identities (`None`: absent,
/// unreadable, or not watched).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    root: Option<(u64, u64)>,
    rules: [Option<FileId>; 2],
    htpasswd: Vec<Option<FileId>>,
}

/// What `root` (followed, as a deploy's symlink), its rules files and the htpasswd files of
/// `auth` are now.
fn observe(root: &Path, site_rules: bool, auth: &[AuthRule]) -> Identity {
    let root_id = std::fs::metadata(root).ok().map(|m| (m.dev(), m.ino()));
    let rules = RULES_FILES.map(|name| {
        site_rules
            .then(|| std::fs::metadata(root.join(name)).ok())
            .flatten()
            .map(|m| FileId::of(&m))
    });
    let htpasswd = auth
        .iter()
        .map(|r| std::fs::metadata(&r.file).ok().map(|m| FileId::of(&m)))
        .collect();
    Identity {
        root: root_id,
        rules,
        htpasswd,
    }
}

/// What the site `config` describes is built from, now.
fn observe_config(config: &Config) -> Identity {
    observe(
        &config.root,
        config.site.site_rules,
        &config.site.auth.rules,
    )
}

/// Opens the site `config` describes, with the identity it was built from. The rules files are
/// looked at before the site reads them and the root's identity comes from the descriptor it
/// opened, so a change in between shows as a difference at the next tick, never as none.
pub(crate) fn open_site(config: &Config) -> anyhow::Result<(Site, Identity)> {
    let before = observe_config(config);
    let site = Site::open(&config.root, &config.site)?;
    let root = site
        .root_identity()
        .with_context(|| format!("cannot stat root {}", config.root.display()))?;
    Ok((
        site,
        Identity {
            root: Some(root),
            ..before
        },
    ))
}

/// The settings a reload cannot apply, by their flag names, where `new` differs from `running`:
/// the listener, the pool, the reactor's limits and timeouts, and the access log are set up once.
fn fixed_differences(running: &Config, new: &Config) -> Vec<&'static str> {
    let (a, b) = (running, new);
    [
        ("listen", a.listen == b.listen),
        ("workers", a.workers == b.workers),
        ("max-connections", a.max_connections == b.max_connections),
        ("access-log", a.access_log == b.access_log),
        ("max-head-size", a.limits.max_head == b.limits.max_head),
        ("max-uri-length", a.limits.max_uri == b.limits.max_uri),
        ("max-body-size", a.limits.max_body == b.limits.max_body),
        ("max-headers", a.limits.max_headers == b.limits.max_headers),
        ("header-timeout", a.timeouts.header == b.timeouts.header),
        (
            "keep-alive-timeout",
            a.timeouts.keep_alive == b.timeouts.keep_alive,
        ),
        ("send-timeout", a.timeouts.send == b.timeouts.send),
        // The counters live in the workers' context, made once at start.
        ("metrics-path", a.metrics.path == b.metrics.path),
        ("metrics-from", a.metrics.from == b.metrics.from),
        (
            "shutdown-timeout",
            a.timeouts.shutdown == b.timeouts.shutdown,
        ),
    ]
    .into_iter()
    .filter_map(|(name, same)| (!same).then_some(name))
    .collect()
}

/// The watcher before its thread starts: made by `Server::bind`, started by `Server::run`.
pub(crate) struct Pending {
    handle: ReloadHandle,
    rx: UnixStream,
    source: ConfigSource,
    running: Config,
    serving: Identity,
}

impl fmt::Debug for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("running", &self.running.root)
            .field("serving", &self.serving)
            .finish_non_exhaustive()
    }
}

impl Pending {
    /// The pipe, and a source that gives `running` back: a reload then re-reads the root, its
    /// rules files and its error pages with the same options.
    pub(crate) fn new(running: Config, serving: Identity) -> io::Result<Pending> {
        let (rx, tx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        let same = running.clone();
        Ok(Pending {
            handle: ReloadHandle { tx: Arc::new(tx) },
            rx,
            source: Box::new(move || Ok(same.clone())),
            running,
            serving,
        })
    }

    pub(crate) fn handle(&self) -> ReloadHandle {
        self.handle.clone()
    }

    pub(crate) fn set_source(&mut self, source: ConfigSource) {
        self.source = source;
    }

    /// Starts the watcher thread, which swaps sites into `ctx`.
    pub(crate) fn start(self, ctx: Arc<Context>) -> io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let handle = self.handle.clone();
        let watch = Watch {
            ctx,
            source: self.source,
            current: self.running.clone(),
            running: self.running,
            serving: self.serving,
            failed: None,
            stop: stop.clone(),
            unswept: 0,
        };
        let rx = self.rx;
        let thread = std::thread::Builder::new()
            .name("reload".into())
            .spawn(move || watch.run(&rx))?;
        Ok(Watcher {
            handle,
            stop,
            thread,
        })
    }
}

/// The running watcher thread.
#[derive(Debug)]
pub(crate) struct Watcher {
    handle: ReloadHandle,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Watcher {
    /// Stops the thread and waits for it (at most one site being opened).
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.reload();
        let _ = self.thread.join();
    }
}

/// Why a reload happened, for its log line.
#[derive(Clone, Copy, Debug)]
enum Cause {
    Requested,
    Changed,
}

/// The watcher thread's state.
struct Watch {
    ctx: Arc<Context>,
    source: ConfigSource,
    /// The settings the server was started with: what a reload cannot change is compared to it.
    running: Config,
    /// The configuration the served site was built from.
    current: Config,
    /// What the served site was built from.
    serving: Identity,
    /// What the disk showed when a rebuild last failed: not tried again until it changes.
    failed: Option<Identity>,
    stop: Arc<AtomicBool>,
    /// Ticks since the file cache was last swept.
    unswept: u32,
}

impl Watch {
    fn run(mut self, rx: &UnixStream) {
        let mut next_tick = Instant::now() + TICK;
        let mut buf = [0u8; 64];
        while !self.stop.load(Ordering::SeqCst) {
            let wait = next_tick.saturating_duration_since(Instant::now());
            let woke = rx
                .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
                .and_then(|()| (&*rx).read(&mut buf));
            match woke {
                // The watcher's own `handle` keeps a writer open, so 0 (no writer left) is
                // never seen; bytes are requests, several read at once are one reload.
                Ok(_) if self.stop.load(Ordering::SeqCst) => return,
                Ok(_) => self.reload(Cause::Requested),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    // Not expected of a socket pair; the tick still runs, at its pace.
                    log::error(format_args!("the reload pipe failed: {e}"));
                    std::thread::sleep(wait);
                }
            }
            if Instant::now() >= next_tick {
                self.tick();
                next_tick = Instant::now() + TICK;
            }
        }
    }

    /// Rebuilds when the root or a rules file is no longer what the served site was built from,
    /// unless the last rebuild failed on exactly what the disk shows now.
    fn tick(&mut self) {
        self.unswept += 1;
        if self.unswept >= SWEEP_TICKS {
            self.unswept = 0;
            self.ctx.site.load().sweep_caches();
        }
        let seen = observe_config(&self.current);
        if seen != self.serving && self.failed.as_ref() != Some(&seen) {
            self.reload(Cause::Changed);
        }
    }

    fn reload(&mut self, cause: Cause) {
        let outcome = match cause {
            Cause::Requested => (self.source)(),
            Cause::Changed => Ok(self.current.clone()),
        }
        .and_then(|config| open_site(&config).map(|opened| (config, opened)));
        match outcome {
            Ok((config, (site, serving))) => {
                self.ctx.site.store(Arc::new(site));
                if let Some(m) = &self.ctx.metrics {
                    m.reloaded(true);
                }
                let fixed = fixed_differences(&self.running, &config);
                let why = match cause {
                    Cause::Requested => "requested",
                    Cause::Changed => "the root or its rules files changed",
                };
                let restart = if fixed.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} differ from the running server's; restart to apply them",
                        fixed.join(", ")
                    )
                };
                log::info(format_args!(
                    "reloaded ({why}): serving {}{restart}",
                    config.root.display()
                ));
                self.current = config;
                self.serving = serving;
                self.failed = None;
            }
            Err(e) => {
                if let Some(m) = &self.ctx.metrics {
                    m.reloaded(false);
                }
                log::error(format_args!(
                    "reload failed, keeping the running settings: {e:#}"
                ));
                // Tried again when the disk changes again (or on the next SIGHUP), not every
                // second: one line per failure, not one per tick.
                self.failed = Some(observe_config(&self.current));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    type Change = fn(&mut Config);

    #[test]
    fn fixed_settings_that_differ_are_named() {
        let running = Config::default();
        let cases: [(Change, &[&str]); 5] = [
            (|_| {}, &[]),
            (|c| c.site.dir_listing = !c.site.dir_listing, &[]),
            (|c| c.root = "/elsewhere".into(), &[]),
            (
                |c| {
                    c.listen.set_port(1);
                    c.workers += 1;
                },
                &["listen", "workers"],
            ),
            (
                |c| {
                    c.timeouts.keep_alive += Duration::from_secs(1);
                    c.limits.max_body += 1;
                    c.access_log = crate::AccessLog::Json;
                },
                &["access-log", "max-body-size", "keep-alive-timeout"],
            ),
        ];
        for (change, expected) in cases {
            let mut new = running.clone();
            change(&mut new);
            assert_eq!(fixed_differences(&running, &new), expected, "{new:?}");
        }
    }

    #[test]
    fn identity_follows_the_link_and_the_rules_files() {
        let dir = tempfile::tempdir().unwrap();
        let (v1, v2, link) = (
            dir.path().join("v1"),
            dir.path().join("v2"),
            dir.path().join("current"),
        );
        std::fs::create_dir(&v1).unwrap();
        std::fs::create_dir(&v2).unwrap();
        std::os::unix::fs::symlink("v1", &link).unwrap();
        let first = observe(&link, true, &[]);
        assert_eq!(first.rules, [None, None]);
        assert_eq!(observe(&link, true, &[]), first);

        std::fs::write(v1.join("_headers"), "/*\n  X-A: 1\n").unwrap();
        let with_headers = observe(&link, true, &[]);
        assert_eq!(with_headers.root, first.root);
        assert!(with_headers.rules[1].is_some(), "{with_headers:?}");
        assert_eq!(
            observe(&link, false, &[]).rules,
            [None, None],
            "not watched"
        );

        std::fs::write(v1.join("_headers"), "/*\n  X-A: 22\n").unwrap();
        assert_ne!(
            observe(&link, true, &[]),
            with_headers,
            "a rewrite in place"
        );

        std::os::unix::fs::symlink("v2", dir.path().join("next")).unwrap();
        std::fs::rename(dir.path().join("next"), &link).unwrap();
        let swapped = observe(&link, true, &[]);
        assert_ne!(swapped.root, first.root);
        assert_eq!(swapped.rules, [None, None]);

        std::fs::remove_dir(&v2).unwrap();
        assert_eq!(observe(&link, true, &[]).root, None, "a dangling link");
    }
}
