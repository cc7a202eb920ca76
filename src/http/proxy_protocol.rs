//! The HAProxy PROXY protocol header (haproxy's `doc/proxy-protocol.txt`, versions 1 and 2) that
//! a load balancer writes before the first byte of the client's stream, carrying the address of
//! the client it accepted: bytes in, one [`Parsed`] out. It is connection framing that precedes
//! HTTP, so the connection runs it before the request framer and drops the bytes it consumed.
//! Version 1 is one text line of at most [`V1_MAX`] bytes; version 2 a 16-byte binary header
//! that starts with [`V2_SIGNATURE`], then its address block and TLVs (skipped). A buffer that
//! can no longer become either is [`Parsed::Invalid`] at once, so `GET /` is refused at its
//! first byte rather than after a timeout. It must never read a socket, allocate, or panic on
//! any input.

// Parses bytes a client (or anyone who can reach the port) chose: no indexing or arithmetic
// that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// The longest version 1 line, CR LF included (proxy-protocol.txt §2.1).
pub const V1_MAX: usize = 107;
/// What every version 1 line starts with.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The first twelve bytes of every version 2 header (§2.2): it cannot begin an HTTP request.
pub const V2_SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The fixed part of a version 2 header: signature, version and command, family, length.
const V2_FIXED: usize = 16;

/// What the start of a connection's bytes amount to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Every byte so far agrees with a header that has not ended yet.
    NeedMore,
    /// A whole header of `consumed` bytes. `client` is the address the proxy accepted, or
    /// `None` where the header names none (v1 `UNKNOWN`, v2 `LOCAL`, a family without an IP
    /// address): then the TCP peer stands, as §2.1 and §2.2 ask.
    Done {
        /// The client's address and port, as the proxy saw them.
        client: Option<SocketAddr>,
        /// Bytes the header occupied; what follows is the client's stream.
        consumed: usize,
    },
    /// Not a PROXY header, or a malformed one: the connection must be closed unanswered.
    Invalid,
}

/// Decides what the start of `buf` is.
pub fn parse(buf: &[u8]) -> Parsed {
    if agrees(buf, V1_PREFIX) {
        v1(buf)
    } else if agrees(buf, &V2_SIGNATURE) {
        v2(buf)
    } else {
        Parsed::Invalid
    }
}

/// Whether `buf` and `prefix` are equal over the shorter one's length.
fn agrees(buf: &[u8], prefix: &[u8]) -> bool {
    let n = buf.len().min(prefix.len());
    buf.get(..n) == prefix.get(..n)
}

/// `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n`, `PROXY TCP6 …`, or `PROXY UNKNOWN…\r\n`.
fn v1(buf: &[u8]) -> Parsed {
    let window = buf.get(..buf.len().min(V1_MAX)).unwrap_or_default();
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Parsed::Invalid
        } else {
            Parsed::NeedMore
        };
    };
    let line = window.get(..lf).unwrap_or_default();
    let Some(fields) = line
        .strip_suffix(b"\r")
        .and_then(|l| l.strip_prefix(V1_PREFIX))
    else {
        return Parsed::Invalid;
    };
    let consumed = lf.saturating_add(1);
    let Ok(fields) = std::str::from_utf8(fields) else {
        return Parsed::Invalid;
    };
    let mut words = fields.split(' ');
    let client = match words.next() {
        // §2.1: with UNKNOWN the rest of the line is ignored and the real peer stands.
        Some("UNKNOWN") => {
            return Parsed::Done {
                client: None,
                consumed,
            };
        }
        Some("TCP4") => v1_source::<Ipv4Addr>(words),
        Some("TCP6") => v1_source::<Ipv6Addr>(words),
        _ => None,
    };
    match client {
        Some(client) => Parsed::Done {
            client: Some(client),
            consumed,
        },
        None => Parsed::Invalid,
    }
}

/// `SRC DST SPORT DPORT`, each single-space separated, addresses of the family named.
fn v1_source<'a, A: FromStr + Into<IpAddr>>(
    mut words: impl Iterator<Item = &'a str>,
) -> Option<SocketAddr> {
    let src: A = words.next()?.parse().ok()?;
    let _dst: A = words.next()?.parse().ok()?;
    let sport = v1_port(words.next()?)?;
    v1_port(words.next()?)?;
    if words.next().is_some() {
        return None;
    }
    Some(SocketAddr::new(src.into(), sport))
}

/// A decimal port, digits only (`u16::from_str` would also take a `+`).
fn v1_port(word: &str) -> Option<u16> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

/// Signature, then version 2 and a command in one byte, family and transport in one, the
/// length of the rest (big-endian), the addresses, and TLVs to the end of that length.
fn v2(buf: &[u8]) -> Parsed {
    // Judged as soon as they arrive, so a wrong version does not wait for the rest.
    let version_command = buf.get(12).copied();
    let family = buf.get(13).copied();
    if version_command.is_some_and(|b| b >> 4 != 2 || b & 0x0f > 1) {
        return Parsed::Invalid;
    }
    if family.is_some_and(|b| b >> 4 > 3 || b & 0x0f > 2) {
        return Parsed::Invalid;
    }
    let (Some(version_command), Some(family), Some(&[hi, lo])) =
        (version_command, family, buf.get(14..V2_FIXED))
    else {
        return Parsed::NeedMore;
    };
    let consumed = V2_FIXED.saturating_add(usize::from(u16::from_be_bytes([hi, lo])));
    let Some(block) = buf.get(V2_FIXED..consumed) else {
        return Parsed::NeedMore;
    };
    // §2.2: LOCAL is the proxy's own connection (a health check): its addresses are ignored.
    if version_command & 0x0f == 0 {
        return Parsed::Done {
            client: None,
            consumed,
        };
    }
    let client = match family {
        // TCP over IPv4: source, destination (4 bytes each), source port, destination port.
        0x11 => match block.get(..12) {
            Some(&[a, b, c, d, _, _, _, _, p1, p2, _, _]) => Some(SocketAddr::new(
                IpAddr::from([a, b, c, d]),
                u16::from_be_bytes([p1, p2]),
            )),
            _ => return Parsed::Invalid,
        },
        // TCP over IPv6: 16 bytes each, then the ports.
        0x21 => match block
            .get(..36)
            .and_then(|b| Some((b.get(..16)?, b.get(32..34)?)))
        {
            Some((src, &[p1, p2])) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(src);
                Some(SocketAddr::new(
                    IpAddr::from(octets),
                    u16::from_be_bytes([p1, p2]),
                ))
            }
            _ => return Parsed::Invalid,
        },
        // UNSPEC, datagrams and Unix sockets carry no TCP client address: the peer stands.
        _ => None,
    };
    Parsed::Done { client, consumed }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_header(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        h.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
        h.extend_from_slice(block);
        h
    }

    fn v4_block(tlvs: &[u8]) -> Vec<u8> {
        let mut b = vec![192, 0, 2, 1, 198, 51, 100, 1];
        b.extend_from_slice(&56324u16.to_be_bytes());
        b.extend_from_slice(&443u16.to_be_bytes());
        b.extend_from_slice(tlvs);
        b
    }

    fn v6_block() -> Vec<u8> {
        let mut b = "2001:db8::1".parse::<Ipv6Addr>().unwrap().octets().to_vec();
        b.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        b.extend_from_slice(&4711u16.to_be_bytes());
        b.extend_from_slice(&443u16.to_be_bytes());
        b
    }

    fn addr(s: &str) -> Option<SocketAddr> {
        Some(s.parse().unwrap())
    }

    /// Valid headers and what they give; each is also checked at every split point.
    fn valid() -> Vec<(Vec<u8>, Option<SocketAddr>)> {
        let long_unknown = format!("PROXY UNKNOWN {}\r\n", "f".repeat(V1_MAX - 16));
        assert_eq!(long_unknown.len(), V1_MAX);
        vec![
            (
                b"PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n".to_vec(),
                addr("192.0.2.1:56324"),
            ),
            (
                b"PROXY TCP6 2001:db8::1 2001:db8::2 4711 443\r\n".to_vec(),
                addr("[2001:db8::1]:4711"),
            ),
            (b"PROXY UNKNOWN\r\n".to_vec(), None),
            (
                b"PROXY UNKNOWN 192.0.2.1 198.51.100.1 1 2\r\n".to_vec(),
                None,
            ),
            (long_unknown.into_bytes(), None),
            (v2_header(1, 0x11, &v4_block(&[])), addr("192.0.2.1:56324")),
            // A TLV (AWS's VPC endpoint id, type 0xEA) after the addresses is skipped.
            (
                v2_header(1, 0x11, &v4_block(&[0xEA, 0, 4, b'v', b'p', b'c', b'e'])),
                addr("192.0.2.1:56324"),
            ),
            (v2_header(1, 0x21, &v6_block()), addr("[2001:db8::1]:4711")),
            (v2_header(0, 0x00, &[]), None),
            // LOCAL ignores whatever addresses it carries.
            (v2_header(0, 0x11, &v4_block(&[])), None),
            (v2_header(1, 0x00, &[]), None),
            (v2_header(1, 0x31, &[0; 216]), None),
        ]
    }

    #[test]
    fn valid_headers_at_every_split_point() {
        for (header, client) in valid() {
            let shown = String::from_utf8_lossy(&header).into_owned();
            for cut in 0..header.len() {
                assert_eq!(
                    parse(&header[..cut]),
                    Parsed::NeedMore,
                    "{shown:?} cut at {cut}"
                );
            }
            let mut with_request = header.clone();
            with_request.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            let done = Parsed::Done {
                client,
                consumed: header.len(),
            };
            assert_eq!(parse(&header), done, "{shown:?}");
            assert_eq!(parse(&with_request), done, "{shown:?} and a request");
        }
    }

    #[test]
    fn malformed_headers_are_invalid() {
        let too_long = format!("PROXY UNKNOWN {}\r\n", "f".repeat(V1_MAX - 15));
        let mut bad_version = v2_header(1, 0x11, &v4_block(&[]));
        bad_version[12] = 0x11;
        let mut bad_command = v2_header(1, 0x11, &v4_block(&[]));
        bad_command[12] = 0x22;
        let mut bad_family = v2_header(1, 0x11, &v4_block(&[]));
        bad_family[13] = 0x41;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("an HTTP request", b"GET / HTTP/1.1\r\n".to_vec()),
            ("lower case", b"proxy TCP4 1.2.3.4 1.2.3.5 1 2\r\n".to_vec()),
            ("no CR", b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2\n".to_vec()),
            (
                "two spaces",
                b"PROXY TCP4  1.2.3.4 1.2.3.5 1 2\r\n".to_vec(),
            ),
            ("TCP5", b"PROXY TCP5 1.2.3.4 1.2.3.5 1 2\r\n".to_vec()),
            ("v6 under TCP4", b"PROXY TCP4 ::1 ::1 1 2\r\n".to_vec()),
            (
                "v4 under TCP6",
                b"PROXY TCP6 1.2.3.4 1.2.3.5 1 2\r\n".to_vec(),
            ),
            (
                "port too big",
                b"PROXY TCP4 1.2.3.4 1.2.3.5 65536 2\r\n".to_vec(),
            ),
            (
                "signed port",
                b"PROXY TCP4 1.2.3.4 1.2.3.5 +1 2\r\n".to_vec(),
            ),
            ("missing port", b"PROXY TCP4 1.2.3.4 1.2.3.5 1\r\n".to_vec()),
            (
                "extra word",
                b"PROXY TCP4 1.2.3.4 1.2.3.5 1 2 3\r\n".to_vec(),
            ),
            (
                "leading zero",
                b"PROXY TCP4 01.2.3.4 1.2.3.5 1 2\r\n".to_vec(),
            ),
            ("not UTF-8", b"PROXY TCP4 \xff 1.2.3.5 1 2\r\n".to_vec()),
            ("line too long", too_long.into_bytes()),
            (
                "no line end in 107",
                [b"PROXY ".as_slice(), &[b'x'; 200]].concat(),
            ),
            (
                "bad IPv6",
                b"PROXY TCP6 ffff:ffff 2001:db8::2 1 2\r\n".to_vec(),
            ),
            ("v2 version 1", bad_version),
            ("v2 command 2", bad_command),
            ("v2 family 4", bad_family),
            ("v2 IPv4 block short", v2_header(1, 0x11, &[0; 11])),
            ("v2 IPv6 block short", v2_header(1, 0x21, &[0; 35])),
            ("v2 signature broken", b"\r\n\r\n\0\r\nQUIT\r".to_vec()),
        ];
        for (what, bytes) in cases {
            assert_eq!(parse(&bytes), Parsed::Invalid, "{what}");
        }
    }

    /// A wrong first byte, or a wrong version, is refused before the rest arrives.
    #[test]
    fn refused_as_soon_as_a_byte_disagrees() {
        assert_eq!(parse(b"G"), Parsed::Invalid);
        assert_eq!(parse(b"PROXZ"), Parsed::Invalid);
        assert_eq!(parse(b"\r\n\r\n\0\r\nQUIT\n\x10"), Parsed::Invalid);
        assert_eq!(parse(b"\r\n\r\n\0\r\nQUIT\n\x21\x51"), Parsed::Invalid);
        assert_eq!(parse(b""), Parsed::NeedMore);
        assert_eq!(parse(b"\r\n"), Parsed::NeedMore);
    }
}
