//! HTTP/1 request framing without a socket: bytes in, steps out. A [`Framer`] is where one
//! connection's request stream stands (waiting for a head, discarding a body, or done), and
//! [`Framer::advance`] looks at the bytes buffered so far and decides the next step: a request
//! head to answer, body bytes to drop, a refusal, or "read more". It owns the rules that decide
//! request boundaries (RFC 9112 §6.3), the HTTP/1.x minor-version retry (§2.3), whether the
//! connection stays open (§9.3, and §10.1.1 of RFC 9110 for `Expect`), and what follows an
//! error (§9.6: nothing; the connection ends).
//!
//! The connection (`src/conn/`), the fuzz targets and the regression tests all drive this
//! same code. It must never read or write a socket, look at the clock except through the
//! closure it is given, or allocate.

// Frames bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::time::Instant;

use super::body::{BodyError, Discard};
use super::request::{self, BodyFraming, Limits, Parsed, RequestError, RequestHead};

/// Where a connection's request stream stands; replaced whole at every transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framer {
    /// Waiting for a request head. `since` is when its first byte arrived (or the connection
    /// was accepted); `None` means idle between requests with nothing buffered.
    Head {
        /// When the head began.
        since: Option<Instant>,
    },
    /// Discarding the body of the request just answered. The whole body shares one header
    /// timeout from `since`, so a client trickling a byte at a time cannot hold the connection.
    Body {
        /// How much of the body is left.
        discard: Discard,
        /// When the body began.
        since: Instant,
    },
    /// No more requests are read: the last one did not keep the connection alive, or the stream
    /// broke. `linger`: bytes may still be unread or on their way, so closing at once could
    /// reset the connection and destroy the response the client has not read yet.
    Done {
        /// Whether to half-close and drain before closing.
        linger: bool,
    },
}

/// What the buffered bytes amount to; see [`Framer::advance`].
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// The first `len` bytes were a request head, answered by the caller's closure with
    /// `answer`. `keep_alive` says whether requests after it are read.
    Request {
        /// Bytes the head occupied.
        len: usize,
        /// Whether the connection stays open after this exchange.
        keep_alive: bool,
        /// What the closure returned.
        answer: T,
    },
    /// The first `len` bytes were body bytes, dropped.
    Body {
        /// Bytes of body consumed.
        len: usize,
    },
    /// The bytes end inside a head or a body, or there are none: read more.
    NeedMore,
    /// The head is refused: answer with the error's status. The framing of whatever follows is
    /// unknown, so every buffered byte is dropped and the connection ends (RFC 9112 §9.6).
    Refused(RequestError),
    /// The body being discarded is malformed or too large: the connection ends without
    /// reading further, and every buffered byte is dropped.
    BadBody(BodyError),
    /// No more requests are read on this connection.
    Done,
}

/// The framing decisions that depend on the server rather than the bytes.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// Size limits.
    pub limits: &'a Limits,
    /// Shutdown has begun: every response closes its connection.
    pub draining: bool,
}

impl Framer {
    /// A freshly accepted connection: its head timeout runs from `accepted`.
    pub fn accepted(accepted: Instant) -> Framer {
        Framer::Head {
            since: Some(accepted),
        }
    }

    /// Notes that bytes arrived: an idle connection's next head begins now.
    pub fn bytes_arrived(&mut self, now: impl FnOnce() -> Instant) {
        if let Framer::Head { since: None } = self {
            *self = Framer::Head { since: Some(now()) };
        }
    }

    /// Whether no more requests are read.
    pub fn is_done(&self) -> bool {
        matches!(self, Framer::Done { .. })
    }

    /// Decides what the start of `buf` is. A complete head is handed to `answer` (with whether
    /// the connection stays open) while it still borrows `buf`; its result comes back in
    /// [`Step::Request`]. The caller then drops the bytes the step accounts for: `len` for
    /// `Request` and `Body`, all of `buf` for `Refused` and `BadBody`, none otherwise.
    ///
    /// `buf` is mutable only for the minor-version retry: an `HTTP/1.x` request line with x > 1
    /// is rewritten to `HTTP/1.1` in place, as RFC 9112 §2.3 asks a 1.1 server to treat it.
    /// `now` is called at most once, when a body or a pipelined head begins.
    pub fn advance<T>(
        &mut self,
        buf: &mut [u8],
        rules: Rules<'_>,
        now: impl FnOnce() -> Instant,
        answer: impl FnOnce(&RequestHead<'_>, bool) -> T,
    ) -> Step<T> {
        match self {
            Framer::Done { .. } => Step::Done,
            Framer::Body { discard, .. } => match discard.consume(buf, rules.limits.max_body) {
                Ok(0) => Step::NeedMore,
                Ok(len) => {
                    if discard.is_done() {
                        *self = if len < buf.len() {
                            // The next pipelined head began with the bytes already here.
                            Framer::Head { since: Some(now()) }
                        } else {
                            Framer::Head { since: None }
                        };
                    }
                    Step::Body { len }
                }
                Err(e) => {
                    // What follows a broken body cannot be framed; unread bytes may follow.
                    *self = Framer::Done { linger: true };
                    Step::BadBody(e)
                }
            },
            Framer::Head { .. } if buf.is_empty() => Step::NeedMore,
            Framer::Head { .. } => self.head(buf, rules, now, answer),
        }
    }

    fn head<T>(
        &mut self,
        buf: &mut [u8],
        rules: Rules<'_>,
        now: impl FnOnce() -> Instant,
        answer: impl FnOnce(&RequestHead<'_>, bool) -> T,
    ) -> Step<T> {
        let limits = rules.limits;
        let parsed = match request::parse(buf, limits) {
            // httparse takes only 1.0 and 1.1: retry once with the minor version read as 1.
            Err(e) => {
                if request::normalize_minor_version(buf) {
                    request::parse(buf, limits)
                } else {
                    Err(e)
                }
            }
            other => other,
        };
        match parsed {
            Ok(Parsed::Partial) => Step::NeedMore,
            Ok(Parsed::Complete { head, len }) => {
                let has_body = head.body != BodyFraming::None;
                // A client waiting for 100 Continue may or may not send its body after our
                // final answer (RFC 9110 §10.1.1): closing is the only framing-safe choice.
                let keep_alive =
                    head.keep_alive && !rules.draining && !(head.expect_continue && has_body);
                let more = len < buf.len();
                *self = if !keep_alive {
                    // A body, or bytes after the head, are unread at the close; so may be a
                    // body a client sends after 100-continue it never got.
                    Framer::Done {
                        linger: head.expect_continue || has_body || more,
                    }
                } else if has_body {
                    Framer::Body {
                        discard: Discard::new(head.body),
                        since: now(),
                    }
                } else if more {
                    Framer::Head { since: Some(now()) }
                } else {
                    Framer::Head { since: None }
                };
                let answer = answer(&head, keep_alive);
                Step::Request {
                    len,
                    keep_alive,
                    answer,
                }
            }
            Err(e) => {
                // RFC 9112 §9.6: after an error the framing of what follows is unknown, so the
                // connection ends; what the client still sends is read and dropped.
                *self = Framer::Done { linger: true };
                Step::Refused(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const LIMITS: Limits = Limits {
        max_head: 16384,
        max_uri: 8192,
        max_body: 100_000,
        max_headers: 100,
    };

    fn rules(draining: bool) -> Rules<'static> {
        Rules {
            limits: &LIMITS,
            draining,
        }
    }

    /// What a step looks like without the head: the head's target stands in for it.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Request(usize, bool, String),
        Body(usize),
        NeedMore,
        Refused(RequestError),
        BadBody(BodyError),
        Done,
    }

    /// Runs the framer over `input` in one buffer, as the connection does, until it needs more
    /// or is done; returns the steps and the framer's final state.
    fn run(input: &[u8], draining: bool) -> (Vec<Seen>, Framer) {
        let t0 = Instant::now();
        let mut f = Framer::accepted(t0);
        let mut buf = input.to_vec();
        let mut at = 0;
        let mut seen = Vec::new();
        loop {
            let step = f.advance(
                &mut buf[at..],
                rules(draining),
                || t0 + Duration::from_secs(1),
                |h, _| h.target.to_string(),
            );
            let s = match step {
                Step::Request {
                    len,
                    keep_alive,
                    answer,
                } => {
                    at += len;
                    Seen::Request(len, keep_alive, answer)
                }
                Step::Body { len } => {
                    at += len;
                    Seen::Body(len)
                }
                Step::NeedMore => Seen::NeedMore,
                Step::Refused(e) => {
                    at = buf.len();
                    Seen::Refused(e)
                }
                Step::BadBody(e) => {
                    at = buf.len();
                    Seen::BadBody(e)
                }
                Step::Done => Seen::Done,
            };
            let stop = matches!(s, Seen::NeedMore | Seen::Done);
            seen.push(s);
            if stop {
                return (seen, f);
            }
        }
    }

    #[test]
    fn steps_for_request_streams() {
        use Seen::*;
        struct Case {
            input: &'static [u8],
            draining: bool,
            steps: Vec<Seen>,
            end: fn(&Framer) -> bool,
        }
        let idle = |f: &Framer| *f == Framer::Head { since: None };
        let waiting = |f: &Framer| matches!(f, Framer::Head { since: Some(_) });
        let lingering = |f: &Framer| *f == Framer::Done { linger: true };
        let closing = |f: &Framer| *f == Framer::Done { linger: false };
        let in_body = |f: &Framer| matches!(f, Framer::Body { .. });
        let cases = [
            Case {
                input: b"",
                draining: false,
                steps: vec![NeedMore],
                end: waiting,
            },
            Case {
                input: b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![Request(28, true, "/a".into()), NeedMore],
                end: idle,
            },
            // Pipelined: both answered from one buffer.
            Case {
                input: b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![
                    Request(28, true, "/a".into()),
                    Request(28, true, "/b".into()),
                    NeedMore,
                ],
                end: idle,
            },
            // A partial second head is waited for, its timeout running.
            Case {
                input: b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HT",
                draining: false,
                steps: vec![Request(28, true, "/a".into()), NeedMore],
                end: waiting,
            },
            // RFC 9112 §9.3: HTTP/1.0 closes unless it asks to keep alive.
            Case {
                input: b"GET /a HTTP/1.0\r\n\r\n",
                draining: false,
                steps: vec![Request(19, false, "/a".into()), Done],
                end: closing,
            },
            Case {
                input: b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                draining: false,
                steps: vec![Request(43, true, "/a".into()), NeedMore],
                end: idle,
            },
            // Connection: close with a request behind it: that one is never read, so linger.
            Case {
                input: b"GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n",
                draining: false,
                steps: vec![Request(47, false, "/a".into()), Done],
                end: lingering,
            },
            // Draining: every answer closes.
            Case {
                input: b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
                draining: true,
                steps: vec![Request(28, false, "/a".into()), Done],
                end: closing,
            },
            // A body is discarded, then the next head is read.
            Case {
                input: b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![
                    Request(48, true, "/a".into()),
                    Body(3),
                    Request(28, true, "/b".into()),
                    NeedMore,
                ],
                end: idle,
            },
            // A body that has not all arrived: wait for it.
            Case {
                input: b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nab",
                draining: false,
                steps: vec![Request(48, true, "/a".into()), Body(2), NeedMore],
                end: in_body,
            },
            Case {
                input: b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                draining: false,
                steps: vec![Request(57, true, "/a".into()), Body(13), NeedMore],
                end: idle,
            },
            Case {
                input: b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                draining: false,
                steps: vec![
                    Request(57, true, "/a".into()),
                    BadBody(BodyError::Malformed),
                    Done,
                ],
                end: lingering,
            },
            // RFC 9110 §10.1.1: Expect: 100-continue with a body closes after the answer.
            Case {
                input: b"PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                draining: false,
                steps: vec![Request(69, false, "/a".into()), Done],
                end: lingering,
            },
            // RFC 9112 §2.3: HTTP/1.2 is served as 1.1, in one read.
            Case {
                input: b"GET /a HTTP/1.2\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![Request(28, true, "/a".into()), NeedMore],
                end: idle,
            },
            // RFC 9112 §9.6: after an error nothing more is read.
            Case {
                input: b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![Refused(RequestError::BadRequest), Done],
                end: lingering,
            },
            Case {
                input: b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
                draining: false,
                steps: vec![Refused(RequestError::VersionNotSupported), Done],
                end: lingering,
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            let (steps, end) = run(c.input, c.draining);
            assert_eq!(steps, c.steps, "case {i}");
            assert!((c.end)(&end), "case {i}: ends as {end:?}");
        }
    }

    #[test]
    fn bodies_and_pipelined_heads_start_their_timeouts() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_secs(5);
        let mut f = Framer::Head { since: None };
        f.bytes_arrived(|| t0);
        assert_eq!(f, Framer::Head { since: Some(t0) });
        // Already waiting: the head's start does not move.
        f.bytes_arrived(|| t1);
        assert_eq!(f, Framer::Head { since: Some(t0) });
        let mut buf = *b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\n";
        let step = f.advance(&mut buf, rules(false), || t1, |_, _| ());
        assert!(matches!(step, Step::Request { len: 47, .. }), "{step:?}");
        assert!(
            matches!(f, Framer::Body { since, .. } if since == t1),
            "{f:?}"
        );
    }

    #[test]
    fn nothing_is_read_once_done() {
        let mut f = Framer::Done { linger: false };
        let mut buf = *b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        let step = f.advance(&mut buf, rules(false), Instant::now, |_, _| ());
        assert_eq!(step, Step::Done);
    }
}
