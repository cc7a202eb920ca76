//! The in-process server: `TestServer`, a `muxserve::Server` on 127.0.0.1:0
//! in this test's process, built with `TestServer::build()`.
//!
//! ```ignore
//! let s = TestServer::start(); // the defaults over a copy of the fixture site
//! let s = TestServer::build()
//!     .site(|site| fs::write(site.root().join("x.txt"), "x").unwrap())
//!     .config(|c| c.timeouts.header = Duration::from_secs(1))
//!     .start();
//! let s = TestServer::build().root(my_dir).start(); // serve a directory the test owns
//! ```
//!
//! Every config change goes through `.config(|c| c.field = value)` (or a
//! block of such assignments), so renaming a `Config` field is one
//! search-and-replace over `tests/`.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use muxserve::{AccessLog, Config, Running, Server};

use super::client::IO_TIMEOUT;
use super::client::{connect_to, get_request, raw_to, request_to, request_with};
use super::fixtures::TempSite;
use super::response::{Response, ResponseReader};

/// An in-process muxserve. Dropping it shuts the server down (graceful,
/// then immediate after 5 s) and joins it.
pub struct TestServer {
    running: Option<Running>,
    addr: SocketAddr,
    root: PathBuf,
    /// The temporary copy of the fixtures, unless `.root(path)` was given.
    site: Option<TempSite>,
}

type Prepare<'a> = Box<dyn FnOnce(&TempSite) + 'a>;
type Configure<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// What `TestServer::build()` returns; `start()` starts the server.
#[must_use = "call .start() to start the server"]
pub struct TestServerBuilder<'a> {
    prepare: Vec<Prepare<'a>>,
    configure: Vec<Configure<'a>>,
    root: Option<PathBuf>,
}

impl TestServer {
    /// The defaults (2 workers, access log off, everything else
    /// `Config::default()`) over a fresh copy of the fixture site.
    pub fn start() -> TestServer {
        TestServer::build().start()
    }

    /// A server to configure: `.site(…)`, `.config(…)`, `.root(…)`, then
    /// `.start()`.
    pub fn build<'a>() -> TestServerBuilder<'a> {
        TestServerBuilder {
            prepare: Vec::new(),
            configure: Vec::new(),
            root: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The document root being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/../outside` of the temporary site (never served).
    pub fn outside(&self) -> &Path {
        self.site().outside()
    }

    /// The temporary site; panics for a server started with `.root(path)`.
    pub fn site(&self) -> &TempSite {
        self.site
            .as_ref()
            .expect("this server serves a root the test owns, not a TempSite")
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("server already taken")
    }

    /// Takes the `Running` out; the caller is then responsible for shutdown.
    pub fn take_running(&mut self) -> Running {
        self.running.take().expect("server already taken")
    }

    pub fn connect(&self) -> TcpStream {
        connect_to(self.addr)
    }

    /// A fresh connection wrapped in a `ResponseReader`.
    pub fn reader(&self) -> ResponseReader<TcpStream> {
        ResponseReader::new(self.connect())
    }

    /// One raw request on a fresh connection; reads one response.
    pub fn request(&self, raw: &str) -> Response {
        request_to(self.addr, raw)
    }

    /// `GET path HTTP/1.1` with a Host header on a fresh connection.
    pub fn get(&self, path: &str) -> Response {
        self.request(&get_request(path))
    }

    /// `GET path` with extra request headers on a fresh connection.
    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with("GET", path, headers))
    }

    /// `HEAD path` with extra request headers on a fresh connection.
    pub fn head_with(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with("HEAD", path, headers))
    }

    /// `method path` with extra request headers on a fresh connection.
    pub fn method_with(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request(&request_with(method, path, headers))
    }

    /// Writes bytes on a fresh connection, reads until EOF (or 10 s).
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        raw_to(self.addr, bytes, IO_TIMEOUT)
    }
}

impl<'a> TestServerBuilder<'a> {
    /// Changes the temporary copy of the fixture site before the server
    /// starts (add or remove files, create symlinks). May be called more than
    /// once; runs in order.
    pub fn site(mut self, prepare: impl FnOnce(&TempSite) + 'a) -> Self {
        self.prepare.push(Box::new(prepare));
        self
    }

    /// Adjusts the `Config`, always in the shape `|c| c.field = value` (or a
    /// block of them). May be called more than once; runs in order.
    pub fn config(mut self, configure: impl FnOnce(&mut Config) + 'a) -> Self {
        self.configure.push(Box::new(configure));
        self
    }

    /// Serves `root`, a directory the test owns (e.g. to restart a server on
    /// the same files), instead of a fresh copy of the fixtures.
    pub fn root(mut self, root: &Path) -> Self {
        self.root = Some(root.to_path_buf());
        self
    }

    /// Starts the server on 127.0.0.1 with an ephemeral port.
    pub fn start(self) -> TestServer {
        let (root, site) = match self.root {
            Some(root) => {
                assert!(
                    self.prepare.is_empty(),
                    ".site(…) prepares the temporary copy; it cannot go with .root(…)"
                );
                (root, None)
            }
            None => {
                let site = TempSite::new();
                for prepare in self.prepare {
                    prepare(&site);
                }
                (site.root().to_path_buf(), Some(site))
            }
        };
        let mut config = Config {
            root: root.clone(),
            listen: "127.0.0.1:0".parse().unwrap(),
            workers: 2,
            access_log: AccessLog::Off,
            ..Config::default()
        };
        for configure in self.configure {
            configure(&mut config);
        }
        let running = Server::start(config).expect("Server::start");
        let addr = running.local_addr();
        assert!(addr.ip().is_loopback(), "server bound to {addr}");
        assert_ne!(addr.port(), 0, "local_addr() reports port 0");
        TestServer {
            running: Some(running),
            addr,
            root,
            site,
        }
    }
}

/// Shuts `running` down gracefully and joins it; if the join has not
/// finished after `grace`, a second shutdown (immediate stop) is issued.
pub fn shutdown_and_join(running: Running, grace: Duration) -> anyhow::Result<()> {
    let handle = running.shutdown_handle();
    handle.shutdown();
    let (tx, rx) = mpsc::channel::<()>();
    let watchdog = thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(grace) {
            handle.shutdown();
        }
    });
    let result = running.join().map(|_| ());
    let _ = tx.send(());
    let _ = watchdog.join();
    result
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            if let Err(e) = shutdown_and_join(running, Duration::from_secs(5)) {
                eprintln!("muxserve join after test returned an error: {e:#}");
            }
        }
    }
}
