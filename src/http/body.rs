//! Discarding request bodies. A static server never uses a body, but it must read it to find the
//! next pipelined request (RFC 9112 §6.3, §7.1). [`Discard`] consumes Content-Length or chunked
//! bytes from whatever the connection has buffered, counting them against the body limit. It
//! must never allocate or read from a socket itself.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use super::request::BodyFraming;

/// Longest chunk extension or trailer section we skip before calling the body malformed.
const MAX_META: u32 = 8 * 1024;

/// Why a body could not be discarded; the connection closes either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Chunked framing is malformed.
    Malformed,
    /// The body exceeds the limit.
    TooLarge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Hex digits of a chunk size; `digits` counts them.
    Size {
        digits: u8,
    },
    /// After the size: extensions up to CR LF.
    Ext,
    /// Expecting LF after a size line's CR.
    SizeLf,
    /// Chunk data still to skip.
    Data,
    /// Expecting CR LF after chunk data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final empty line).
    TrailerStart,
    /// Inside a trailer field line.
    TrailerLine,
    /// Expecting the final LF.
    EndLf,
}

/// The state of a body being discarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discard {
    /// Nothing (left) to discard.
    Done,
    /// Bytes of a Content-Length body left.
    Length(u64),
    /// A chunked body in progress.
    Chunked {
        /// Where in the chunked grammar we are.
        state: ChunkState,
    },
}

/// Progress through a chunked body, opaque to callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkState {
    at: Chunk,
    /// Current chunk size while reading the size, then bytes left in the chunk.
    size: u64,
    /// Data bytes seen so far, against the limit.
    total: u64,
    /// Extension or trailer bytes seen so far.
    meta: u32,
}

impl Discard {
    /// The discard state for a request's framing.
    pub fn new(framing: BodyFraming) -> Self {
        match framing {
            BodyFraming::None => Discard::Done,
            BodyFraming::Length(n) => Discard::Length(n),
            BodyFraming::Chunked => Discard::Chunked {
                state: ChunkState {
                    at: Chunk::Size { digits: 0 },
                    size: 0,
                    total: 0,
                    meta: 0,
                },
            },
        }
    }

    /// Whether the whole body has been consumed.
    pub fn is_done(&self) -> bool {
        *self == Discard::Done
    }

    /// Consumes body bytes from the front of `input`, returning how many belonged to the body.
    pub fn consume(&mut self, input: &[u8], limit: u64) -> Result<usize, BodyError> {
        match self {
            Discard::Done => Ok(0),
            Discard::Length(left) => {
                let n = usize::try_from(*left).map_or(input.len(), |l| l.min(input.len()));
                *left = left.saturating_sub(n as u64);
                if *left == 0 {
                    *self = Discard::Done;
                }
                Ok(n)
            }
            Discard::Chunked { state } => {
                let (n, done) = state.consume(input, limit)?;
                if done {
                    *self = Discard::Done;
                }
                Ok(n)
            }
        }
    }
}

impl ChunkState {
    /// Runs the chunked grammar (RFC 9112 §7.1) over `input`; returns bytes used and whether the
    /// body ended. Bare LF is accepted where CR LF is expected, as §2.2 allows.
    fn consume(&mut self, input: &[u8], limit: u64) -> Result<(usize, bool), BodyError> {
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            match self.at {
                Chunk::Size { digits } => match b {
                    b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                        // Safe: is_ascii_hexdigit was just checked by the pattern.
                        let d = (b as char).to_digit(16).unwrap_or(0) as u64;
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(BodyError::TooLarge)?;
                        if self.total.saturating_add(self.size) > limit {
                            return Err(BodyError::TooLarge);
                        }
                        self.at = Chunk::Size {
                            digits: digits.saturating_add(1),
                        };
                    }
                    _ if digits == 0 => return Err(BodyError::Malformed),
                    b';' | b' ' | b'\t' => self.at = Chunk::Ext,
                    b'\r' => self.at = Chunk::SizeLf,
                    b'\n' => self.end_size_line(),
                    _ => return Err(BodyError::Malformed),
                },
                Chunk::Ext => match b {
                    b'\r' => self.at = Chunk::SizeLf,
                    b'\n' => self.end_size_line(),
                    _ => self.count_meta()?,
                },
                Chunk::SizeLf => {
                    if b != b'\n' {
                        return Err(BodyError::Malformed);
                    }
                    self.end_size_line();
                }
                Chunk::Data => {
                    let avail = input.len().saturating_sub(i) as u64;
                    let take = avail.min(self.size);
                    self.size = self.size.saturating_sub(take);
                    self.total = self.total.saturating_add(take);
                    i = i.saturating_add(take as usize);
                    if self.size == 0 {
                        self.at = Chunk::DataCr;
                    }
                    continue;
                }
                Chunk::DataCr => match b {
                    b'\r' => self.at = Chunk::DataLf,
                    b'\n' => self.at = Chunk::Size { digits: 0 },
                    _ => return Err(BodyError::Malformed),
                },
                Chunk::DataLf => {
                    if b != b'\n' {
                        return Err(BodyError::Malformed);
                    }
                    self.at = Chunk::Size { digits: 0 };
                }
                Chunk::TrailerStart => match b {
                    b'\r' => self.at = Chunk::EndLf,
                    b'\n' => return Ok((i.saturating_add(1), true)),
                    _ => {
                        self.count_meta()?;
                        self.at = Chunk::TrailerLine;
                    }
                },
                Chunk::TrailerLine => {
                    self.count_meta()?;
                    if b == b'\n' {
                        self.at = Chunk::TrailerStart;
                    }
                }
                Chunk::EndLf => {
                    if b != b'\n' {
                        return Err(BodyError::Malformed);
                    }
                    return Ok((i.saturating_add(1), true));
                }
            }
            i = i.saturating_add(1);
        }
        Ok((i, false))
    }

    fn end_size_line(&mut self) {
        self.at = if self.size == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data
        };
    }

    fn count_meta(&mut self) -> Result<(), BodyError> {
        self.meta = self.meta.saturating_add(1);
        if self.meta > MAX_META {
            return Err(BodyError::Malformed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &[u8], split: usize) -> Result<(usize, bool), BodyError> {
        let mut d = Discard::new(BodyFraming::Chunked);
        let mut used = 0;
        for part in input.chunks(split.max(1)) {
            let mut off = 0;
            while off < part.len() && !d.is_done() {
                let n = d.consume(&part[off..], 100)?;
                off += n;
                used += n;
                if n == 0 {
                    break;
                }
            }
            if d.is_done() {
                return Ok((used, true));
            }
        }
        Ok((used, false))
    }

    #[test]
    fn chunked_at_every_split() {
        let body =
            b"5\r\nhello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: v\r\n\r\nGET";
        let end = body.len() - 3;
        for split in 1..body.len() {
            assert_eq!(run(body, split), Ok((end, true)), "split {split}");
        }
        assert_eq!(run(b"0\n\n", 1), Ok((3, true)));
        assert_eq!(run(b"5\r\nhel", 3), Ok((6, false)));
    }

    #[test]
    fn chunked_errors() {
        assert_eq!(run(b"\r\n", 4), Err(BodyError::Malformed));
        assert_eq!(run(b"zz\r\n", 4), Err(BodyError::Malformed));
        assert_eq!(run(b"5\r\nhelloXX", 64), Err(BodyError::Malformed));
        assert_eq!(run(b"65\r\n", 64), Err(BodyError::TooLarge));
        assert_eq!(
            run(b"ffffffffffffffffffff\r\n", 64),
            Err(BodyError::TooLarge)
        );
        assert_eq!(run(b"40\r\n", 64).map(|r| r.1), Ok(false));
    }

    #[test]
    fn length() {
        let mut d = Discard::new(BodyFraming::Length(5));
        assert_eq!(d.consume(b"abc", 10), Ok(3));
        assert_eq!(d.consume(b"defGET", 10), Ok(2));
        assert!(d.is_done());
        assert_eq!(d.consume(b"GET", 10), Ok(0));
    }
}
