//! Content-coding negotiation: parses `Accept-Encoding` (RFC 9110 §12.5.3) into a weight per
//! coding this server can send (`br`, `gzip`, identity) and picks the best one that is available.
//! It owns only the header's grammar and the choice; it must never touch the filesystem, decide
//! whether a type is worth compressing, or allocate.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use crate::http::field::{is_tchar, trim_ows};

/// A content coding this server can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Coding {
    /// Brotli (RFC 7932).
    Br,
    /// gzip (RFC 1952).
    Gzip,
    /// No content coding.
    Identity,
}

impl Coding {
    /// The content-coding token (`br`, `gzip`), or "" for identity.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Gzip => "gzip",
            Coding::Identity => "",
        }
    }

    /// The sidecar file suffix (`.br`, `.gz`), or "" for identity.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }
}

/// The codings a representation can be sent in besides identity, which always can.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Available {
    /// Brotli.
    pub br: bool,
    /// gzip.
    pub gzip: bool,
}

/// The weight of q=1.
const FULL: u16 = 1000;

/// The weight given to identity when the header lists codings but neither identity nor `*`:
/// identity stays acceptable (RFC 9110 §12.5.3) but is the last resort, so any listed coding with
/// q > 0 is preferred over it.
const IMPLICIT_IDENTITY: u16 = 1;

/// A parsed Accept-Encoding: the weight (0..=1000, q × 1000) of each coding we can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcceptEncoding {
    br: u16,
    gzip: u16,
    identity: u16,
}

impl AcceptEncoding {
    /// Parses all Accept-Encoding header lines (empty slice = header absent).
    pub fn parse(lines: &[&[u8]]) -> Self {
        // Absent: only identity. RFC 9110 §12.5.3 would allow any coding here, but old clients
        // and tools that send no Accept-Encoding are exactly the ones that cannot decode.
        let mut br = None;
        let mut gzip = None;
        let mut identity = None;
        let mut star = None;
        let mut listed_any = false;
        for line in lines {
            // A field sent on several lines is one comma-separated list (RFC 9110 §5.3).
            for element in line.split(|&b| b == b',') {
                let Some((name, q)) = parse_element(element) else {
                    continue;
                };
                let slot = if name.eq_ignore_ascii_case(b"br") {
                    &mut br
                } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip")
                {
                    // `x-gzip` is an alias of gzip (RFC 9110 §8.4.1.3).
                    &mut gzip
                } else if name.eq_ignore_ascii_case(b"identity") {
                    &mut identity
                } else if name == b"*" {
                    &mut star
                } else {
                    // A coding we cannot send (deflate, zstd, …): valid, but irrelevant.
                    listed_any = true;
                    continue;
                };
                listed_any = true;
                // The first listing of a coding wins; the RFC does not say, and nginx does so.
                slot.get_or_insert(q);
            }
        }
        // `*` matches every coding not listed explicitly (RFC 9110 §12.5.3), identity included.
        let fallback = star.unwrap_or(0);
        let identity = match (identity, star) {
            (Some(q), _) => q,
            (None, Some(q)) => q,
            // Absent header, an empty value, or nothing valid in it: identity only.
            (None, None) if !listed_any => FULL,
            (None, None) => IMPLICIT_IDENTITY,
        };
        AcceptEncoding {
            br: br.unwrap_or(fallback),
            gzip: gzip.unwrap_or(fallback),
            identity,
        }
    }

    /// The weight of `coding` (0 = not acceptable).
    pub fn weight(&self, coding: Coding) -> u16 {
        match coding {
            Coding::Br => self.br,
            Coding::Gzip => self.gzip,
            Coding::Identity => self.identity,
        }
    }

    /// The best acceptable coding among those `available` and identity; None → 406.
    pub fn choose(&self, available: Available) -> Option<Coding> {
        // In order of preference on equal weight: br compresses best, identity costs nothing to
        // the server but the most on the wire.
        let candidates = [
            (Coding::Br, available.br),
            (Coding::Gzip, available.gzip),
            (Coding::Identity, true),
        ];
        let mut best: Option<(Coding, u16)> = None;
        for (coding, available) in candidates {
            let w = self.weight(coding);
            if available && w > 0 && best.is_none_or(|(_, bw)| w > bw) {
                best = Some((coding, w));
            }
        }
        best.map(|(coding, _)| coding)
    }
}

/// One list element, `coding *( OWS ";" OWS param )`: its coding token and weight, or None when
/// it is empty or malformed (RFC 9110 §5.6.1: empty elements are ignored; we also ignore broken
/// ones rather than fail the whole header).
fn parse_element(element: &[u8]) -> Option<(&[u8], u16)> {
    let mut parts = element.split(|&b| b == b';');
    let name = trim_ows(parts.next()?);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let mut q = None;
    for param in parts {
        let (key, value) = match param.iter().position(|&b| b == b'=') {
            Some(i) => match param.split_at_checked(i) {
                Some((key, value)) => (trim_ows(key), trim_ows(value.get(1..).unwrap_or_default())),
                None => (trim_ows(param), &b""[..]),
            },
            None => (trim_ows(param), &b""[..]),
        };
        // The weight's name is case-insensitive (RFC 9110 §12.4.2); other parameters are not in
        // the grammar, and are skipped rather than invalidating the element.
        if key.eq_ignore_ascii_case(b"q") && q.is_none() {
            q = Some(parse_qvalue(value)?);
        }
    }
    Some((name, q.unwrap_or(FULL)))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )` (RFC 9110 §12.4.2), as
/// thousandths.
pub(super) fn parse_qvalue(v: &[u8]) -> Option<u16> {
    let (&int, rest) = v.split_first()?;
    let frac = match rest {
        [] => &[][..],
        [b'.', frac @ ..] if frac.len() <= 3 => frac,
        _ => return None,
    };
    let mut thousandths = 0u16;
    let mut scale = 100u16;
    for &d in frac {
        if !d.is_ascii_digit() {
            return None;
        }
        // At most three digits of at most 9 × 100: no overflow, but say so to the compiler.
        thousandths =
            thousandths.saturating_add(u16::from(d.saturating_sub(b'0')).saturating_mul(scale));
        scale = scale.checked_div(10).unwrap_or(0);
    }
    match int {
        b'0' => Some(thousandths),
        b'1' if thousandths == 0 => Some(FULL),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(header: Option<&str>) -> AcceptEncoding {
        match header {
            None => AcceptEncoding::parse(&[]),
            Some(h) => AcceptEncoding::parse(&[h.as_bytes()]),
        }
    }

    #[test]
    fn weights() {
        // header, (br, gzip, identity)
        for (header, expected) in [
            (None, (0, 0, 1000)),
            (Some(""), (0, 0, 1000)),
            (Some("  ,, "), (0, 0, 1000)),
            (Some("gzip"), (0, 1000, 1)),
            (Some("br;q=0.5, gzip;q=0.8"), (500, 800, 1)),
            (Some("gzip;q=0"), (0, 0, 1)),
            (Some("*"), (1000, 1000, 1000)),
            (Some("*;q=0"), (0, 0, 0)),
            (Some("*;q=0, identity"), (0, 0, 1000)),
            (Some("*;q=0.3, gzip"), (300, 1000, 300)),
            (Some("identity;q=0"), (0, 0, 0)),
            (Some("br, gzip"), (1000, 1000, 1)),
            (Some("x-gzip"), (0, 1000, 1)),
            (Some("X-GZIP;Q=0.25"), (0, 250, 1)),
            (Some("GZIP, BR;q=0.9, IDENTITY;q=0.1"), (900, 1000, 100)),
            (Some("gzip ; q = 0.123 , br ;q=1.000"), (1000, 123, 1)),
            (Some("gzip;q=0., br;q=1."), (1000, 0, 1)),
            (Some("deflate, zstd"), (0, 0, 1)),
            // Invalid q values drop the element; nothing valid left → identity only.
            (Some("gzip;q=1.5"), (0, 0, 1000)),
            (Some("gzip;q=0.1234"), (0, 0, 1000)),
            (Some("gzip;q=2"), (0, 0, 1000)),
            (Some("gzip;q="), (0, 0, 1000)),
            (Some("gzip;q=abc, br"), (1000, 0, 1)),
            (Some("gzip;q=-0"), (0, 0, 1000)),
            (Some("gzip;level=9;q=0.5"), (0, 500, 1)),
            (Some("gzip;q=0, gzip"), (0, 0, 1)),
            (Some("@@@, g zip, \"br\""), (0, 0, 1000)),
            (Some("\tbr\t"), (1000, 0, 1)),
        ] {
            let ae = parse(header);
            let got = (
                ae.weight(Coding::Br),
                ae.weight(Coding::Gzip),
                ae.weight(Coding::Identity),
            );
            assert_eq!(got, expected, "{header:?}");
        }
    }

    #[test]
    fn several_lines_are_one_list() {
        let ae = AcceptEncoding::parse(&[b"gzip;q=0.5", b"", b"br;q=0.7"]);
        assert_eq!(ae.weight(Coding::Gzip), 500);
        assert_eq!(ae.weight(Coding::Br), 700);
        assert_eq!(
            ae.choose(Available {
                br: true,
                gzip: true
            }),
            Some(Coding::Br)
        );
    }

    #[test]
    fn choice() {
        use Coding::*;
        // header, available (br, gzip), chosen
        for (header, br, gzip, expected) in [
            (None, true, true, Some(Identity)),
            (Some(""), true, true, Some(Identity)),
            (Some("gzip"), true, true, Some(Gzip)),
            (Some("gzip"), true, false, Some(Identity)),
            (Some("br;q=0.5, gzip;q=0.8"), true, true, Some(Gzip)),
            (Some("br;q=0.5, gzip;q=0.8"), true, false, Some(Br)),
            (Some("br;q=0.5, gzip;q=0.8"), false, false, Some(Identity)),
            (Some("gzip;q=0"), true, true, Some(Identity)),
            (Some("*"), true, true, Some(Br)),
            (Some("*"), false, true, Some(Gzip)),
            (Some("*"), false, false, Some(Identity)),
            (Some("*;q=0"), true, true, None),
            (Some("*;q=0"), false, false, None),
            (Some("identity;q=0"), false, false, None),
            (Some("identity;q=0"), true, true, None),
            (Some("identity;q=0, gzip"), true, true, Some(Gzip)),
            (Some("identity;q=0, gzip"), true, false, None),
            (Some("br, gzip"), true, true, Some(Br)),
            (Some("gzip, br"), true, true, Some(Br)),
            (Some("x-gzip"), true, true, Some(Gzip)),
            (Some("garbage;;;q=x"), true, true, Some(Identity)),
            (Some("BR, GZIP"), true, true, Some(Br)),
            (Some("identity, gzip"), true, true, Some(Gzip)),
            (Some("identity;q=1, gzip;q=0.9"), true, true, Some(Identity)),
        ] {
            assert_eq!(
                parse(header).choose(Available { br, gzip }),
                expected,
                "{header:?} br={br} gzip={gzip}"
            );
        }
    }

    #[test]
    fn qvalues() {
        for (v, expected) in [
            ("0", Some(0)),
            ("1", Some(1000)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.123", Some(123)),
            ("0.", Some(0)),
            ("1.", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("0.1234", None),
            ("", None),
            (".5", None),
            ("0,5", None),
            ("01", None),
            ("2", None),
        ] {
            assert_eq!(parse_qvalue(v.as_bytes()), expected, "{v:?}");
        }
    }

    #[test]
    fn tokens_and_suffixes() {
        for (coding, token, suffix) in [
            (Coding::Br, "br", ".br"),
            (Coding::Gzip, "gzip", ".gz"),
            (Coding::Identity, "", ""),
        ] {
            assert_eq!((coding.token(), coding.suffix()), (token, suffix));
        }
    }
}
