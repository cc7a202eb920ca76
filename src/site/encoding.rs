//! Content-coding negotiation: parses `Accept-Encoding` (RFC 9110 §12.5.3) into a weight per
//! coding this server can send (`br`, `zstd`, `gzip`, identity) and picks the best one that is
//! available.
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
    /// Zstandard (RFC 8878; the `zstd` token, §7.2).
    Zstd,
    /// gzip (RFC 1952).
    Gzip,
    /// No content coding.
    Identity,
}

impl Coding {
    /// The content-coding token (`br`, `zstd`, `gzip`), or "" for identity.
    pub fn token(self) -> &'static str {
        match self {
            Coding::Br => "br",
            Coding::Zstd => "zstd",
            Coding::Gzip => "gzip",
            Coding::Identity => "",
        }
    }

    /// The sidecar file suffix (`.br`, `.zst`, `.gz`), or "" for identity.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Br => ".br",
            Coding::Zstd => ".zst",
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
    /// Zstandard.
    pub zstd: bool,
    /// gzip.
    pub gzip: bool,
}

impl Available {
    /// These and `coding`.
    pub fn with(self, coding: Coding) -> Available {
        match coding {
            Coding::Br => Available { br: true, ..self },
            Coding::Zstd => Available { zstd: true, ..self },
            Coding::Gzip => Available { gzip: true, ..self },
            Coding::Identity => self,
        }
    }

    /// Whether `coding` is among these (identity always is).
    pub fn has(self, coding: Coding) -> bool {
        match coding {
            Coding::Br => self.br,
            Coding::Zstd => self.zstd,
            Coding::Gzip => self.gzip,
            Coding::Identity => true,
        }
    }
}

/// The codings besides identity, in order of preference on equal weight, which RFC 9110 §12.5.3
/// leaves to the server: br compresses text best, zstd nearly as well and decodes fastest, gzip
/// is what every client has.
const PREFERENCE: [Coding; 3] = [Coding::Br, Coding::Zstd, Coding::Gzip];

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
    zstd: u16,
    gzip: u16,
    identity: u16,
}

impl AcceptEncoding {
    /// Parses all Accept-Encoding header lines (empty slice = header absent).
    pub fn parse(lines: &[&[u8]]) -> Self {
        // Absent: only identity. RFC 9110 §12.5.3 would allow any coding here, but old clients
        // and tools that send no Accept-Encoding are exactly the ones that cannot decode.
        let mut br = None;
        let mut zstd = None;
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
                } else if name.eq_ignore_ascii_case(b"zstd") {
                    &mut zstd
                } else if name.eq_ignore_ascii_case(b"gzip") || name.eq_ignore_ascii_case(b"x-gzip")
                {
                    // `x-gzip` is an alias of gzip (RFC 9110 §8.4.1.3).
                    &mut gzip
                } else if name.eq_ignore_ascii_case(b"identity") {
                    &mut identity
                } else if name == b"*" {
                    &mut star
                } else {
                    // A coding we cannot send (deflate, compress, …): valid, but irrelevant.
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
            zstd: zstd.unwrap_or(fallback),
            gzip: gzip.unwrap_or(fallback),
            identity,
        }
    }

    /// The weight of `coding` (0 = not acceptable).
    pub fn weight(&self, coding: Coding) -> u16 {
        match coding {
            Coding::Br => self.br,
            Coding::Zstd => self.zstd,
            Coding::Gzip => self.gzip,
            Coding::Identity => self.identity,
        }
    }

    /// The best acceptable coding among those `available` and identity; None → 406.
    pub fn choose(&self, available: Available) -> Option<Coding> {
        // Identity last on equal weight: it costs nothing to the server but the most on the wire.
        // PREFERENCE's order, then identity, spelled out: this runs on every request, and a
        // chained iterator here cost ~100 instructions a request where this costs a few compares
        // (`the_first_ranked_sidecar_is_the_best_any_sidecars_give` holds the two orders equal).
        let candidates = [
            (Coding::Br, available.br),
            (Coding::Zstd, available.zstd),
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

    /// The codings besides identity this client accepts, best first as [`Self::choose`] ranks
    /// them. The first of them a file has a sidecar in outranks every later one, whatever else
    /// is available, so the later ones need not be looked for.
    pub fn ranked(&self) -> impl Iterator<Item = Coding> {
        let mut codings = PREFERENCE;
        // Ties keep PREFERENCE's order: the key includes it. Unstable sorts never allocate.
        codings.sort_unstable_by_key(|&c| {
            let rank = PREFERENCE.iter().position(|&p| p == c);
            (std::cmp::Reverse(self.weight(c)), rank)
        });
        codings.into_iter().filter(move |&c| self.weight(c) > 0)
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
        // header, (br, zstd, gzip, identity)
        for (header, expected) in [
            (None, (0, 0, 0, 1000)),
            (Some(""), (0, 0, 0, 1000)),
            (Some("  ,, "), (0, 0, 0, 1000)),
            (Some("gzip"), (0, 0, 1000, 1)),
            (Some("br;q=0.5, gzip;q=0.8"), (500, 0, 800, 1)),
            (Some("gzip;q=0"), (0, 0, 0, 1)),
            (Some("*"), (1000, 1000, 1000, 1000)),
            (Some("*;q=0"), (0, 0, 0, 0)),
            (Some("*;q=0, identity"), (0, 0, 0, 1000)),
            (Some("*;q=0.3, gzip"), (300, 300, 1000, 300)),
            (Some("identity;q=0"), (0, 0, 0, 0)),
            (Some("br, gzip"), (1000, 0, 1000, 1)),
            (Some("x-gzip"), (0, 0, 1000, 1)),
            (Some("X-GZIP;Q=0.25"), (0, 0, 250, 1)),
            (Some("GZIP, BR;q=0.9, IDENTITY;q=0.1"), (900, 0, 1000, 100)),
            (Some("gzip ; q = 0.123 , br ;q=1.000"), (1000, 0, 123, 1)),
            (Some("gzip;q=0., br;q=1."), (1000, 0, 0, 1)),
            (Some("deflate, zstd"), (0, 1000, 0, 1)),
            (Some("zstd"), (0, 1000, 0, 1)),
            (Some("ZSTD;q=0.5, br"), (1000, 500, 0, 1)),
            (Some("zstd;q=0, *"), (1000, 0, 1000, 1000)),
            (Some("zstd;q=0"), (0, 0, 0, 1)),
            (Some("x-zstd"), (0, 0, 0, 1)),
            // Invalid q values drop the element; nothing valid left → identity only.
            (Some("gzip;q=1.5"), (0, 0, 0, 1000)),
            (Some("gzip;q=0.1234"), (0, 0, 0, 1000)),
            (Some("gzip;q=2"), (0, 0, 0, 1000)),
            (Some("gzip;q="), (0, 0, 0, 1000)),
            (Some("gzip;q=abc, br"), (1000, 0, 0, 1)),
            (Some("gzip;q=-0"), (0, 0, 0, 1000)),
            (Some("gzip;level=9;q=0.5"), (0, 0, 500, 1)),
            (Some("gzip;q=0, gzip"), (0, 0, 0, 1)),
            (Some("@@@, g zip, \"br\""), (0, 0, 0, 1000)),
            (Some("\tbr\t"), (1000, 0, 0, 1)),
        ] {
            let ae = parse(header);
            let got = (
                ae.weight(Coding::Br),
                ae.weight(Coding::Zstd),
                ae.weight(Coding::Gzip),
                ae.weight(Coding::Identity),
            );
            assert_eq!(got, expected, "{header:?}");
        }
    }

    /// The codings named by letters: `b` br, `z` zstd, `g` gzip.
    fn available(letters: &str) -> Available {
        Available {
            br: letters.contains('b'),
            zstd: letters.contains('z'),
            gzip: letters.contains('g'),
        }
    }

    #[test]
    fn several_lines_are_one_list() {
        let ae = AcceptEncoding::parse(&[b"gzip;q=0.5", b"", b"br;q=0.7", b"zstd;q=0.6"]);
        assert_eq!(ae.weight(Coding::Gzip), 500);
        assert_eq!(ae.weight(Coding::Br), 700);
        assert_eq!(ae.weight(Coding::Zstd), 600);
        assert_eq!(ae.choose(available("bzg")), Some(Coding::Br));
        assert_eq!(ae.choose(available("zg")), Some(Coding::Zstd));
    }

    #[test]
    fn choice() {
        use Coding::*;
        // header, available (letters as in `available`), chosen
        for (header, avail, expected) in [
            (None, "bzg", Some(Identity)),
            (Some(""), "bzg", Some(Identity)),
            (Some("gzip"), "bzg", Some(Gzip)),
            (Some("gzip"), "bz", Some(Identity)),
            (Some("br;q=0.5, gzip;q=0.8"), "bg", Some(Gzip)),
            (Some("br;q=0.5, gzip;q=0.8"), "b", Some(Br)),
            (Some("br;q=0.5, gzip;q=0.8"), "", Some(Identity)),
            (Some("gzip;q=0"), "bg", Some(Identity)),
            (Some("*"), "bzg", Some(Br)),
            (Some("*"), "zg", Some(Zstd)),
            (Some("*"), "g", Some(Gzip)),
            (Some("*"), "", Some(Identity)),
            (Some("*;q=0"), "bzg", None),
            (Some("*;q=0"), "", None),
            (Some("identity;q=0"), "", None),
            (Some("identity;q=0"), "bzg", None),
            (Some("identity;q=0, gzip"), "bzg", Some(Gzip)),
            (Some("identity;q=0, gzip"), "bz", None),
            (Some("br, gzip"), "bzg", Some(Br)),
            (Some("gzip, br"), "bg", Some(Br)),
            (Some("x-gzip"), "bzg", Some(Gzip)),
            (Some("garbage;;;q=x"), "bzg", Some(Identity)),
            (Some("BR, GZIP"), "bg", Some(Br)),
            (Some("identity, gzip"), "bg", Some(Gzip)),
            (Some("identity;q=1, gzip;q=0.9"), "bg", Some(Identity)),
            // zstd: br before it and gzip after it at equal weight, q-values first.
            (Some("zstd"), "bzg", Some(Zstd)),
            (Some("zstd"), "bg", Some(Identity)),
            (Some("br;q=0.5, zstd"), "bzg", Some(Zstd)),
            (Some("gzip, zstd"), "bzg", Some(Zstd)),
            (Some("gzip, zstd"), "bg", Some(Gzip)),
            (Some("br, zstd, gzip"), "bzg", Some(Br)),
            (Some("br, zstd, gzip"), "zg", Some(Zstd)),
            (Some("zstd, br;q=0.9"), "bzg", Some(Zstd)),
            (Some("zstd;q=0.5, gzip;q=0.6"), "bzg", Some(Gzip)),
            (Some("zstd;q=0, gzip"), "bzg", Some(Gzip)),
            (Some("zstd;q=0"), "bzg", Some(Identity)),
            (Some("zstd;q=0, *"), "zg", Some(Gzip)),
            (Some("ZStd"), "z", Some(Zstd)),
            (Some("identity;q=0, zstd"), "z", Some(Zstd)),
            (Some("identity;q=0, zstd;q=0"), "bzg", None),
            (Some("identity;q=0, gzip, br"), "z", None),
        ] {
            assert_eq!(
                parse(header).choose(available(avail)),
                expected,
                "{header:?} available {avail:?}"
            );
        }
    }

    #[test]
    fn ranking() {
        use Coding::*;
        for (header, expected) in [
            (None, &[][..]),
            (Some("gzip, deflate, br, zstd"), &[Br, Zstd, Gzip]),
            (Some("gzip, zstd"), &[Zstd, Gzip]),
            (Some("br;q=0.5, zstd"), &[Zstd, Br]),
            (Some("gzip;q=0.9, zstd;q=0.1, br;q=0"), &[Gzip, Zstd]),
            (Some("*;q=0.5, gzip"), &[Gzip, Br, Zstd]),
            (Some("identity"), &[]),
            (Some("*;q=0"), &[]),
        ] {
            let got: Vec<Coding> = parse(header).ranked().collect();
            assert_eq!(got, expected, "{header:?}");
        }
    }

    #[test]
    fn the_first_ranked_sidecar_is_the_best_any_sidecars_give() {
        // Whatever the header and the files beside: looking for sidecars in `ranked` order and
        // stopping at the first found chooses as knowing every sidecar would.
        let headers = [
            "gzip, deflate, br, zstd",
            "br;q=0.5, zstd",
            "gzip, zstd",
            "zstd;q=0.3, gzip;q=0.3, identity;q=0.3",
            "identity;q=1, gzip;q=0.5",
            "identity;q=0, br;q=0.2",
            "*;q=0.4, zstd",
            "gzip;q=0",
        ];
        for header in headers {
            let ae = parse(Some(header));
            for files in ["", "b", "z", "g", "bz", "bg", "zg", "bzg"] {
                let all = available(files);
                let first = ae
                    .ranked()
                    .find(|&c| all.with(c) == all) // a sidecar in c exists
                    .map_or(Available::default(), |c| Available::default().with(c));
                for extra in ["", "b", "z", "g", "bzg"] {
                    // What else might be sent (on the fly) is the same either way.
                    let fly = available(extra);
                    let union = |a: Available| Available {
                        br: a.br || fly.br,
                        zstd: a.zstd || fly.zstd,
                        gzip: a.gzip || fly.gzip,
                    };
                    assert_eq!(
                        ae.choose(union(first)),
                        ae.choose(union(all)),
                        "{header:?} sidecars {files:?} on the fly {extra:?}"
                    );
                }
            }
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
            (Coding::Zstd, "zstd", ".zst"),
            (Coding::Gzip, "gzip", ".gz"),
            (Coding::Identity, "", ""),
        ] {
            assert_eq!((coding.token(), coding.suffix()), (token, suffix));
        }
    }
}
