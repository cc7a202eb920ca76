//! The client behind trusted proxies: `--trusted-proxies` as [`TrustedProxies`] (CIDR blocks),
//! and [`client`], which reads `Forwarded` (RFC 7239) or else `X-Forwarded-For` right to left,
//! past every hop inside those blocks, to the first address that is not. Only an immediate peer
//! that is trusted is believed at all; anyone else's headers are ignored, and the leftmost entry
//! (what any client can write) counts only when every hop after it is trusted. Bytes in, an
//! address out: nothing here allocates per request, reads a socket, or panics on any input.
//!
//! Decided here, and documented for operators in docs/SECURITY.md:
//! - The immediate peer is the TCP peer, or with `--proxy-protocol` the source that header
//!   names: that is who connected to the proxy whose framing we take, so it is the hop the next
//!   header entry vouches for.
//! - An entry that names no address (RFC 7239 §6.2 `unknown`, §6.3 obfuscated `_hidden`, an
//!   element without `for=`, or anything unparsable) ends the walk at the last trusted hop: the
//!   proxy that wrote it knew no better, and no address to its left can be checked.
//! - `Forwarded` wins when both are present; several lines of one field are one list, in order
//!   (RFC 9110 §5.3).

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::field;

/// One CIDR block: an address and how many leading bits of it a member shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    /// Whether `ip` lies inside the block; an IPv4-mapped IPv6 address counts as its IPv4 one.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                32,
                self.bits,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(net.to_bits(), ip.to_bits(), 128, self.bits)
            }
            _ => false,
        }
    }
}

/// Whether the top `bits` of `width`-bit numbers `a` and `b` agree.
fn prefix_eq(a: u128, b: u128, width: u32, bits: u8) -> bool {
    let shift = width.saturating_sub(u32::from(bits));
    a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (one host).
    fn from_str(s: &str) -> Result<Cidr, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| {
            format!("{s:?} is not an IP address or CIDR block (10.0.0.0/8, fd00::/8)")
        })?;
        if let IpAddr::V6(v6) = addr
            && v6.to_ipv4_mapped().is_some()
        {
            // Peers are compared as IPv4 when they are mapped, so the block must be too.
            return Err(format!(
                "{s:?}: write an IPv4-mapped block as IPv4 (10.0.0.0/8)"
            ));
        }
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => width,
            Some(b) => Some(b)
                .filter(|b| !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|b| b.parse::<u8>().ok())
                .filter(|&b| b <= width)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {width}"))?,
        };
        let block = Cidr { addr, bits };
        // `10.1.2.3/8` is almost surely a typo for a host or for `10.0.0.0/8`: say so.
        if !block.host_bits_zero() {
            return Err(format!("{s:?} has bits set past its /{bits} prefix"));
        }
        Ok(block)
    }
}

impl Cidr {
    /// Whether the bits past the prefix are all zero.
    fn host_bits_zero(&self) -> bool {
        let (bits, width) = match self.addr {
            IpAddr::V4(a) => (u128::from(a.to_bits()), 32u32),
            IpAddr::V6(a) => (a.to_bits(), 128),
        };
        let host = width.saturating_sub(u32::from(self.bits));
        // Shifting the prefix out leaves the host bits; a shift of 128 (no host bits) is None.
        bits.checked_shl(128u32.saturating_sub(host)).unwrap_or(0) == 0
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.bits)
    }
}

/// The proxies whose forwarding headers are believed (`--trusted-proxies`); empty by default,
/// which believes none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// The blocks given.
    pub fn new(blocks: Vec<Cidr>) -> TrustedProxies {
        TrustedProxies(blocks)
    }

    /// Whether `ip` is inside one of the blocks.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|b| b.contains(ip))
    }

    /// Whether no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One entry of a forwarding list, as the walk sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hop {
    /// An address.
    Addr(IpAddr),
    /// `unknown`, obfuscated, absent or malformed: no address to check.
    Opaque,
}

/// Where the walk stands after the entries read so far. The walk goes right to left, but the
/// lists are read left to right (a quoted string cannot be split from its end), so this is the
/// answer the walk would give if the list ended here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Walk {
    /// No entry yet: the peer.
    Empty,
    /// The walk stops at this address (untrusted, or the leftmost of trusted ones).
    At(IpAddr),
    /// The walk stops at an opaque entry, so at the trusted hop to its right (or the peer).
    BeforeOpaque,
}

impl Walk {
    fn push(self, hop: Hop, trusted: &TrustedProxies) -> Walk {
        match (hop, self) {
            (Hop::Opaque, _) => Walk::BeforeOpaque,
            // A trusted hop vouches for the entries to its left: the answer so far stands.
            (Hop::Addr(ip), Walk::At(left)) if trusted.contains(ip) => Walk::At(left),
            (Hop::Addr(ip), _) => Walk::At(ip),
        }
    }
}

/// The client's address: `peer` itself unless it is trusted, else the walk over `Forwarded`'s
/// lines (or, without any, `X-Forwarded-For`'s).
pub fn client(
    peer: IpAddr,
    forwarded: &[&[u8]],
    x_forwarded_for: &[&[u8]],
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return peer;
    }
    let mut walk = Walk::Empty;
    if forwarded.is_empty() {
        for line in x_forwarded_for {
            for item in field::elements(line).filter(|i| !i.is_empty()) {
                walk = walk.push(node(item), trusted);
            }
        }
    } else {
        for line in forwarded {
            walk = forwarded_line(line, walk, trusted);
        }
    }
    match walk {
        Walk::At(ip) => ip,
        Walk::Empty | Walk::BeforeOpaque => peer,
    }
}

/// Walks one `Forwarded` line: elements separated by `,`, pairs within one by `;`, each pair
/// `token=value` with the value a token or a quoted-string (RFC 7239 §4). A syntax error makes
/// the rest of the line one opaque hop.
fn forwarded_line(line: &[u8], mut walk: Walk, trusted: &TrustedProxies) -> Walk {
    let mut rest = line;
    let mut hop = Hop::Opaque;
    loop {
        rest = field::trim_ows(rest);
        let Some((name, value, after)) = pair(rest) else {
            return walk.push(Hop::Opaque, trusted);
        };
        if name.eq_ignore_ascii_case(b"for") {
            hop = node(value);
        }
        let after = field::trim_ows(after);
        match after.split_first() {
            Some((b';', more)) => rest = more,
            Some((b',', more)) => {
                walk = walk.push(hop, trusted);
                hop = Hop::Opaque;
                rest = more;
            }
            None => return walk.push(hop, trusted),
            Some(_) => return walk.push(Hop::Opaque, trusted),
        }
    }
}

/// `token=value` at the start of `s`: the name, the value (unquoted), and what follows.
fn pair(s: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let name_len = s.iter().position(|&b| !field::is_tchar(b))?;
    let (name, rest) = s.split_at_checked(name_len)?;
    let rest = rest.strip_prefix(b"=")?;
    if name.is_empty() {
        return None;
    }
    if let Some(quoted) = rest.strip_prefix(b"\"") {
        // Node values hold no quotes or backslashes (§6), so a backslash is refused rather than
        // unescaped: this keeps the value a borrowed slice.
        let end = quoted.iter().position(|&b| b == b'"' || b == b'\\')?;
        if quoted.get(end) != Some(&b'"') {
            return None;
        }
        let value = quoted.get(..end)?;
        let after = quoted.get(end.checked_add(1)?..)?;
        return Some((name, value, after));
    }
    let value_len = rest
        .iter()
        .position(|&b| !field::is_tchar(b))
        .unwrap_or(rest.len());
    let (value, after) = rest.split_at_checked(value_len)?;
    if value.is_empty() {
        return None;
    }
    Some((name, value, after))
}

/// A node (RFC 7239 §6): `192.0.2.43`, `192.0.2.43:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`;
/// X-Forwarded-For's bare `2001:db8::1` too. Anything else is opaque.
fn node(value: &[u8]) -> Hop {
    let Ok(s) = std::str::from_utf8(value) else {
        return Hop::Opaque;
    };
    let ip = if let Some(bracketed) = s.strip_prefix('[') {
        bracketed.split_once(']').and_then(|(ip, port)| {
            (port.is_empty() || valid_port(port.strip_prefix(':')?))
                .then(|| ip.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
                .flatten()
        })
    } else if let Ok(ip) = s.parse::<IpAddr>() {
        Some(ip)
    } else {
        s.split_once(':').and_then(|(ip, port)| {
            valid_port(port)
                .then(|| ip.parse::<Ipv4Addr>().ok().map(IpAddr::V4))
                .flatten()
        })
    };
    ip.map_or(Hop::Opaque, |ip| Hop::Addr(ip.to_canonical()))
}

/// A port as §6 has it: digits (an obfuscated `_port` names no address anyway).
fn valid_port(port: &str) -> bool {
    (port.starts_with('_') && port.len() > 1)
        || (!port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(blocks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(blocks.iter().map(|b| b.parse().unwrap()).collect())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_blocks_parse_and_match() {
        let cases: &[(&str, &str, bool)] = &[
            ("10.0.0.0/8", "10.255.1.2", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("10.0.0.0/8", "::ffff:10.1.2.3", true),
            ("192.0.2.7", "192.0.2.7", true),
            ("192.0.2.7", "192.0.2.8", false),
            ("192.0.2.7/32", "192.0.2.7", true),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("0.0.0.0/0", "2001:db8::1", false),
            ("2001:db8::/32", "2001:db8:ffff::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("::/0", "2001:db8::1", true),
            ("::1", "::1", true),
        ];
        for &(block, addr, inside) in cases {
            let b: Cidr = block.parse().unwrap_or_else(|e| panic!("{block}: {e}"));
            assert_eq!(b.contains(ip(addr)), inside, "{block} ∋ {addr}");
        }
        for bad in [
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0/8",
            "localhost",
            "",
            "10.1.2.3/8",
            "2001:db8::1/32",
            "::ffff:10.0.0.0/104",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            "10.0.0.0/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
    }

    #[test]
    fn the_walk_finds_the_client() {
        let t = trusted(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let proxy = ip("10.0.0.1");
        // (peer, Forwarded lines, X-Forwarded-For lines, client)
        let cases: &[(&str, &[&str], &[&str], &str)] = &[
            // An untrusted peer's headers are ignored.
            ("203.0.113.5", &[], &["198.51.100.1"], "203.0.113.5"),
            ("203.0.113.5", &["for=198.51.100.1"], &[], "203.0.113.5"),
            // No header from a trusted peer: the peer.
            ("10.0.0.1", &[], &[], "10.0.0.1"),
            // The leftmost entry is forged; the rightmost untrusted one is the client.
            ("10.0.0.1", &[], &["6.6.6.6, 198.51.100.1"], "198.51.100.1"),
            (
                "10.0.0.1",
                &[],
                &["6.6.6.6, 198.51.100.1, 10.0.0.2"],
                "198.51.100.1",
            ),
            (
                "10.0.0.1",
                &[],
                &["6.6.6.6", "198.51.100.1", "10.0.0.2"],
                "198.51.100.1",
            ),
            // Every hop trusted: the leftmost.
            ("10.0.0.1", &[], &["10.0.0.3, 10.0.0.2"], "10.0.0.3"),
            // Ports and brackets as some proxies write them; empty elements skipped.
            ("10.0.0.1", &[], &["198.51.100.1:443, , "], "198.51.100.1"),
            ("10.0.0.1", &[], &["[2001:db8::1]:443"], "2001:db8::1"),
            ("10.0.0.1", &[], &["2001:db8::1"], "2001:db8::1"),
            // Garbage stops the walk at the trusted hop to its right.
            (
                "10.0.0.1",
                &[],
                &["198.51.100.1, nonsense, 10.0.0.2"],
                "10.0.0.2",
            ),
            ("10.0.0.1", &[], &["198.51.100.1, nonsense"], "10.0.0.1"),
            // Forwarded: RFC 7239's examples.
            ("10.0.0.1", &["for=\"_gazonk\""], &[], "10.0.0.1"),
            (
                "10.0.0.1",
                &["For=\"[2001:db8:cafe::17]:4711\""],
                &[],
                "2001:db8:cafe::17",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.60;proto=http;by=203.0.113.43"],
                &[],
                "192.0.2.60",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.43, for=198.51.100.17"],
                &[],
                "198.51.100.17",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.43, for=10.0.0.9"],
                &[],
                "192.0.2.43",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.43", "for=10.0.0.9;proto=https"],
                &[],
                "192.0.2.43",
            ),
            ("10.0.0.1", &["for=\"192.0.2.43:4711\""], &[], "192.0.2.43"),
            (
                "10.0.0.1",
                &["for=\"[2001:db8:ffff::2]\", for=10.0.0.4"],
                &[],
                "2001:db8:ffff::2",
            ),
            // unknown, obfuscated, no for=: the last trusted hop.
            (
                "10.0.0.1",
                &["for=192.0.2.43, for=unknown, for=10.0.0.9"],
                &[],
                "10.0.0.9",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.43, for=_hidden"],
                &[],
                "10.0.0.1",
            ),
            (
                "10.0.0.1",
                &["for=192.0.2.43, proto=https"],
                &[],
                "10.0.0.1",
            ),
            ("10.0.0.1", &["for=\"_x:_y\""], &[], "10.0.0.1"),
            // Syntax errors: the rest of the line is opaque.
            (
                "10.0.0.1",
                &["for=192.0.2.43, for=\"1.2.3.4"],
                &[],
                "10.0.0.1",
            ),
            ("10.0.0.1", &["for=192.0.2.43 x"], &[], "10.0.0.1"),
            ("10.0.0.1", &["for=[2001:db8::1]"], &[], "10.0.0.1"),
            ("10.0.0.1", &["for=\"a\\\"b\""], &[], "10.0.0.1"),
            ("10.0.0.1", &["=x"], &[], "10.0.0.1"),
            ("10.0.0.1", &["for="], &[], "10.0.0.1"),
            // ... but a later line from a trusted proxy still counts.
            (
                "10.0.0.1",
                &["garbage\"", "for=198.51.100.3"],
                &[],
                "198.51.100.3",
            ),
            // Forwarded wins over X-Forwarded-For.
            (
                "10.0.0.1",
                &["for=192.0.2.1"],
                &["198.51.100.1"],
                "192.0.2.1",
            ),
            // An IPv4-mapped peer is its IPv4 address.
            ("::ffff:10.0.0.1", &[], &["198.51.100.1"], "198.51.100.1"),
            ("::ffff:203.0.113.5", &[], &["198.51.100.1"], "203.0.113.5"),
        ];
        for &(peer, fwd, xff, want) in cases {
            let fwd: Vec<&[u8]> = fwd.iter().map(|l| l.as_bytes()).collect();
            let xff: Vec<&[u8]> = xff.iter().map(|l| l.as_bytes()).collect();
            let got = client(ip(peer), &fwd, &xff, &t);
            assert_eq!(got, ip(want), "peer {peer}, Forwarded {fwd:?}, XFF {xff:?}");
        }
        // Nothing trusted: always the peer.
        let none = TrustedProxies::default();
        assert_eq!(client(proxy, &[], &[b"198.51.100.1"], &none), proxy);
    }
}
