//! Shutdown as an event of the reactor's loop: SIGTERM and SIGINT are written by signal-hook's
//! handler into one end of a socket pair whose other end the poller watches, and
//! [`ShutdownHandle::shutdown`] writes to the same end, so a signal and a test's request to stop
//! take one path. Each byte is one request to stop: the first drains, a second stops at once.
//! The reactor announces that draining began through a [`Draining`] flag the workers read. This
//! module never exits the process; `main` does, after the reactor returns.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once, by the reactor, when shutdown begins: from then on every response closes its
/// connection and the health path answers 503.
#[derive(Clone, Debug, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Marks the drain begun.
    pub fn begin(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the drain has begun. Relaxed: a response that misses the flag by a moment
    /// only keeps its connection open, which the drain then closes.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Asks a running server to stop; cheap to clone and safe to use from any thread.
#[derive(Clone, Debug)]
pub struct ShutdownHandle {
    tx: Arc<UnixStream>,
}

impl ShutdownHandle {
    /// Requests a graceful stop, as SIGTERM does; a second request stops at once.
    pub fn shutdown(&self) {
        // The pipe only fills if the reactor is gone, and then there is nothing to stop.
        let _ = (&*self.tx).write(&[1]);
    }

    /// Routes SIGTERM and SIGINT into this handle's pipe. Process-wide: only `main` calls it.
    pub fn install_signal_handlers(&self) -> io::Result<()> {
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::low_level::pipe::register(signal, self.tx.try_clone()?)?;
        }
        Ok(())
    }
}

/// Creates the pipe: the handle that writes, and the non-blocking end the reactor reads.
pub fn channel() -> io::Result<(ShutdownHandle, UnixStream)> {
    let (rx, tx) = UnixStream::pair()?;
    rx.set_nonblocking(true)?;
    tx.set_nonblocking(true)?;
    Ok((ShutdownHandle { tx: Arc::new(tx) }, rx))
}

/// Reads every pending request to stop from the reactor's end; returns how many there were.
pub fn take_requests(mut rx: &UnixStream) -> usize {
    let mut buf = [0u8; 16];
    let mut n = 0;
    loop {
        match rx.read(&mut buf) {
            Ok(0) => return n,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests() {
        let (handle, rx) = channel().unwrap();
        assert_eq!(take_requests(&rx), 0);
        handle.shutdown();
        handle.clone().shutdown();
        assert_eq!(take_requests(&rx), 2);
        assert_eq!(take_requests(&rx), 0);
    }
}
