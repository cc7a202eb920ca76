//! The compiled binary: `Binary`, a `Command`-style builder, with `spawn()`
//! for a server to talk to (`BinaryServer`, killed by PID and reaped on drop)
//! and `run(limit)` for a run to completion (`Output`).
//!
//! ```ignore
//! let srv = Binary::serving(site.root()).args(["--workers", "2"]).spawn();
//! let out = Binary::new().arg("--help").run(Duration::from_secs(10));
//! let out = Binary::new().arg("health").env("PORT", "8080").run(limit);
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::client::{connect_to, request_to};
use super::proc::{limit_nofile, send_signal};
use super::response::Response;

/// How long `spawn()` waits for the `listening on http://…` line.
const STARTUP_LIMIT: Duration = Duration::from_secs(10);

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_muxserve")
}

/// A command line for the muxserve binary, built up, then `spawn()`ed or
/// `run(limit)`.
#[must_use = "call .spawn() or .run(limit)"]
pub struct Binary {
    cmd: Command,
    /// `--root`, `--listen`, `--access-log` values, given first (`serving`).
    serving: Option<[OsString; 3]>,
    args: Vec<OsString>,
}

impl Binary {
    /// `muxserve` with no arguments yet.
    pub fn new() -> Binary {
        Binary {
            cmd: Command::new(binary()),
            serving: None,
            args: Vec::new(),
        }
    }

    /// `muxserve --root ROOT --listen 127.0.0.1:0 --access-log off`, then
    /// whatever `.arg`/`.args` add.
    pub fn serving(root: &Path) -> Binary {
        let mut b = Binary::new();
        b.serving = Some([root.into(), "127.0.0.1:0".into(), "off".into()]);
        b
    }

    /// Runs the process as `uid`:`gid` (the caller must be root), without supplementary
    /// groups.
    pub fn run_as(mut self, uid: u32, gid: u32) -> Self {
        use std::os::unix::process::CommandExt;
        self.cmd.uid(uid).gid(gid);
        self
    }

    /// Replaces `--listen`'s value (of `serving`).
    pub fn listen(mut self, addr: impl Into<OsString>) -> Self {
        self.serving_mut()[1] = addr.into();
        self
    }

    /// Replaces `--access-log`'s value (of `serving`).
    pub fn access_log(mut self, format: impl Into<OsString>) -> Self {
        self.serving_mut()[2] = format.into();
        self
    }

    fn serving_mut(&mut self) -> &mut [OsString; 3] {
        self.serving
            .as_mut()
            .expect("listen/access_log go with Binary::serving")
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// The child starts with RLIMIT_NOFILE soft = hard = `n` (see
    /// `proc::limit_nofile`).
    pub fn limit_nofile(mut self, n: u64) -> Self {
        limit_nofile(&mut self.cmd, n);
        self
    }

    /// Starts the process with piped stdout and stderr, each collected by a
    /// thread; stderr's thread also reports the `listening on` address.
    fn launch(mut self) -> Launched {
        if let Some([root, listen, log]) = &self.serving {
            self.cmd
                .arg("--root")
                .arg(root)
                .arg("--listen")
                .arg(listen)
                .arg("--access-log")
                .arg(log);
        }
        self.cmd
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = self.cmd.spawn().expect("spawning muxserve");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, listening) = mpsc::channel();
        let threads = vec![
            collect(child.stdout.take().unwrap(), stdout.clone(), None),
            collect(child.stderr.take().unwrap(), stderr.clone(), Some(tx)),
        ];
        Launched {
            child,
            started,
            stdout,
            stderr,
            threads,
            listening,
        }
    }

    /// Starts the binary and waits (up to 10 s) for its `listening on
    /// http://IP:PORT/` line on stderr. Dropping the result kills the process
    /// by PID and reaps it.
    pub fn spawn(self) -> BinaryServer {
        self.launch().until_listening()
    }

    /// Runs the binary to completion. Kills it (by PID) after `limit` and
    /// fails the test; always reaps it. `Output::took` is how long it ran.
    pub fn run(self, limit: Duration) -> Output {
        self.launch().until_exit(limit)
    }
}

impl Default for Binary {
    fn default() -> Self {
        Binary::new()
    }
}

/// A started child and the threads collecting its output.
struct Launched {
    child: Child,
    started: Instant,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
    listening: mpsc::Receiver<SocketAddr>,
}

impl Launched {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn until_listening(mut self) -> BinaryServer {
        let deadline = self.started + STARTUP_LIMIT;
        let addr = loop {
            match self.listening.recv_timeout(Duration::from_millis(50)) {
                Ok(addr) => break addr,
                Err(_) => {
                    let exited = self.child.try_wait().ok().flatten();
                    if exited.is_some() || Instant::now() > deadline {
                        let _ = self.child.kill();
                        let status = self.child.wait();
                        thread::sleep(Duration::from_millis(100));
                        panic!(
                            "muxserve never reported `listening on http://...` (exit: {status:?}); stderr: {}",
                            self.stderr()
                        );
                    }
                }
            }
        };
        BinaryServer {
            child: self.child,
            addr,
            stdout: self.stdout,
            stderr: self.stderr,
            threads: self.threads,
        }
    }

    fn until_exit(mut self, limit: Duration) -> Output {
        let deadline = self.started + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() >= deadline {
                send_signal(self.child.id() as i32, libc::SIGKILL);
                let _ = self.child.wait();
                for t in self.threads.drain(..) {
                    let _ = t.join();
                }
                panic!(
                    "muxserve did not exit within {limit:?}; stderr: {}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        let took = self.started.elapsed();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        let stdout = String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned();
        Output {
            status,
            stdout,
            stderr: self.stderr(),
            took,
        }
    }
}

/// Copies `pipe` into `sink` line by line; with `listening`, sends the
/// address of the first `listening on http://IP:PORT/` line.
fn collect(
    pipe: impl Read + Send + 'static,
    sink: Arc<Mutex<Vec<u8>>>,
    listening: Option<mpsc::Sender<SocketAddr>>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            sink.lock().unwrap().extend_from_slice(&line);
            if let Some(tx) = &listening {
                let text = String::from_utf8_lossy(&line);
                if let Some(pos) = text.find("listening on http://") {
                    let rest = &text[pos + "listening on http://".len()..];
                    let hostport = rest.split('/').next().unwrap_or("").trim();
                    if let Ok(addr) = hostport.parse::<SocketAddr>() {
                        let _ = tx.send(addr);
                    }
                }
            }
        }
    })
}

/// A running muxserve process. Dropping it kills it (by PID) and reaps it.
pub struct BinaryServer {
    pub child: Child,
    pub addr: SocketAddr,
    stdout: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
}

impl BinaryServer {
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` (e.g. `libc::SIGTERM`) to this process only.
    pub fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    pub fn connect(&self) -> TcpStream {
        connect_to(self.addr)
    }

    pub fn request(&self, raw: &str) -> Response {
        request_to(self.addr, raw)
    }

    /// Polls `try_wait` until the process exits or `limit` passes.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// After the process has exited: waits for the pipe readers to drain.
    pub fn drain_pipes(&mut self) {
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.drain_pipes();
    }
}

/// What a run to completion (`Binary::run`) left.
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    /// From spawn to exit.
    pub took: Duration,
}
