//! Accepting: the listener and its state (armed in the poller or not, paused after running out
//! of descriptors, whether that was logged). [`Acceptor::accept_batch`] takes connections from
//! the backlog while there is room, at most [`ACCEPT_BATCH`] per readiness, so a connect flood
//! cannot starve the connections already open; the listener is re-armed only when there is room
//! again. It never reads or writes a connection: each accepted socket goes to the caller.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use polling::{Event, Poller};
use rustix::io::Errno;
use rustix::net::SocketFlags;

use crate::log;

/// Poller key of the listener (polling reserves `usize::MAX` for its own notifications).
pub(super) const LISTENER: usize = usize::MAX - 1;
/// Connections accepted per readiness event.
const ACCEPT_BATCH: usize = 256;
/// How long accepting pauses when the process is out of descriptors.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(100);

/// The listener, until shutdown closes it.
#[derive(Debug)]
pub(super) struct Acceptor {
    listener: Option<TcpListener>,
    /// Whether the listener's oneshot interest is set in the poller.
    armed: bool,
    paused_until: Option<Instant>,
    /// Whether running out of descriptors was logged in this episode (one line, not ten a
    /// second).
    exhaustion_logged: bool,
}

impl Acceptor {
    /// Registers the listener in the poller, armed.
    pub(super) fn new(listener: TcpListener, poller: &Poller) -> io::Result<Acceptor> {
        listener.set_nonblocking(true)?;
        // SAFETY: polling requires a source to be deleted before it is dropped; the listener is
        // owned here and `close` (at the drain, or in `Reactor`'s Drop at the latest) deletes it
        // first.
        unsafe { poller.add(&listener, Event::readable(LISTENER))? };
        Ok(Acceptor {
            listener: Some(listener),
            armed: true,
            paused_until: None,
            exhaustion_logged: false,
        })
    }

    /// Accepts up to `room` connections (and at most a batch), handing each to `take`.
    /// Out of room, the listener stays disarmed: new connections wait in the backlog until
    /// [`Acceptor::rearm`] finds room.
    pub(super) fn accept_batch(
        &mut self,
        poller: &Poller,
        now: Instant,
        mut room: usize,
        mut take: impl FnMut(TcpStream, SocketAddr),
    ) {
        self.armed = false;
        let Some(listener) = &self.listener else {
            return;
        };
        for _ in 0..ACCEPT_BATCH {
            if room == 0 {
                return;
            }
            // accept4 with SOCK_NONBLOCK: no fcntl round trips per connection.
            match rustix::net::acceptfrom_with(
                listener,
                SocketFlags::NONBLOCK | SocketFlags::CLOEXEC,
            ) {
                Ok((fd, peer)) => {
                    self.exhaustion_logged = false;
                    let peer = peer
                        .and_then(|p| SocketAddr::try_from(p).ok())
                        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                    take(TcpStream::from(fd), peer);
                    room -= 1;
                }
                Err(Errno::AGAIN) => break,
                Err(e @ (Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)) => {
                    // Accepting again at once would spin: the error persists until some
                    // connection closes. Back off and go on serving those we have.
                    if !self.exhaustion_logged {
                        let e = io::Error::from(e);
                        log::error(format_args!("accept: {e}; pausing new connections"));
                        self.exhaustion_logged = true;
                    }
                    self.paused_until = Some(now + EXHAUSTED_PAUSE);
                    return;
                }
                // ECONNABORTED and the like concern one connection, not the listener.
                Err(_) => {}
            }
        }
        self.rearm(poller, room > 0);
    }

    /// Sets the listener's interest again if it is open, not paused, and `room` says a
    /// connection could be taken.
    pub(super) fn rearm(&mut self, poller: &Poller, room: bool) {
        if let Some(listener) = &self.listener
            && !self.armed
            && self.paused_until.is_none()
            && room
        {
            match poller.modify(listener, Event::readable(LISTENER)) {
                Ok(()) => self.armed = true,
                Err(e) => log::error(format_args!("re-arming the listener: {e}")),
            }
        }
    }

    /// When a pause ends, if accepting is paused.
    pub(super) fn wakes_at(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Ends a pause that is over at `now`, re-arming if there is room.
    pub(super) fn resume(&mut self, poller: &Poller, now: Instant, room: bool) {
        if self.paused_until.is_some_and(|t| t <= now) {
            self.paused_until = None;
            self.rearm(poller, room);
        }
    }

    /// Ends an accept pause now: at shutdown the backlog is taken whatever the pause, since
    /// connections that completed their handshake before the signal are the clients' too.
    pub(super) fn unpause(&mut self) {
        self.paused_until = None;
    }

    /// Closes the listener if it is still open, deleting it from the poller first: new
    /// connects are refused from now on.
    pub(super) fn close(&mut self, poller: &Poller) {
        if let Some(listener) = self.listener.take() {
            let _ = poller.delete(&listener);
        }
        self.armed = false;
    }
}
