//! Preconditions (RFC 9110 §13.1) evaluated in the order of §13.2.2: If-Match, then
//! If-Unmodified-Since, then If-None-Match, then If-Modified-Since. This module owns that order,
//! entity-tag parsing and comparison (§8.8.3), and reading an HTTP-date into unix seconds; the
//! fifth step of §13.2.2, If-Range, is `range::if_range_holds`, which the caller applies after
//! [`evaluate`] says [`Outcome::Proceed`]. It is pure: it must never do I/O, allocate, or panic
//! on anything a client sends; a field it cannot read is ignored or matches nothing, as the RFC
//! says for each.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::time::UNIX_EPOCH;

use crate::http::field::{is_ows, trim_ows};
use crate::http::request::Method;

/// The precondition header fields of a request; each list field is the values of all its header lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct Preconditions<'a> {
    /// `If-Match` values, one per header line (empty: absent).
    pub if_match: &'a [&'a [u8]],
    /// `If-None-Match` values, one per header line (empty: absent).
    pub if_none_match: &'a [&'a [u8]],
    /// `If-Modified-Since`, if present.
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-Unmodified-Since`, if present.
    pub if_unmodified_since: Option<&'a [u8]>,
}

/// The selected representation's validators.
#[derive(Clone, Copy, Debug)]
pub struct Validators<'a> {
    /// The strong entity-tag with its quotes, e.g. `"abc"`.
    pub etag: &'a [u8],
    /// Last modification time in unix seconds.
    pub last_modified: u64,
}

/// What the preconditions decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Go on and answer the request.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// What the preconditions of a `method` request decide (304 is for GET and HEAD only: for other
/// methods a matching If-None-Match is 412, and If-Modified-Since does not apply).
pub fn evaluate(p: &Preconditions<'_>, v: &Validators<'_>, method: Method) -> Outcome {
    let get_or_head = matches!(method, Method::Get | Method::Head);
    let own = EntityTag::parse_whole(v.etag);
    // §13.2.2 step 1: If-Match, strong comparison (§13.1.1). `*` matches because a selected
    // representation exists whenever there are validators to compare.
    if !p.if_match.is_empty() {
        let matched = any_in_list(p.if_match, |tag| own.is_some_and(|own| own.strong_eq(tag)));
        if !matched {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = p.if_unmodified_since.and_then(http_date_secs) {
        // Step 2: only without If-Match; an invalid date is ignored (§13.1.4, MUST).
        if v.last_modified > date {
            return Outcome::PreconditionFailed;
        }
    }
    // Step 3: If-None-Match, weak comparison (§13.1.2, MUST).
    if !p.if_none_match.is_empty() {
        let matched = any_in_list(p.if_none_match, |tag| {
            own.is_some_and(|own| own.weak_eq(tag))
        });
        if matched {
            return if get_or_head {
                Outcome::NotModified
            } else {
                Outcome::PreconditionFailed
            };
        }
    } else if get_or_head {
        // Step 4: If-Modified-Since only without If-None-Match and only for GET and HEAD; an
        // invalid date (including a list of dates) is ignored (§13.1.3, MUST).
        let ims = p.if_modified_since.and_then(http_date_secs);
        if ims.is_some_and(|date| v.last_modified <= date) {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// An entity-tag (RFC 9110 §8.8.3), borrowed from the field it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EntityTag<'a> {
    /// Whether it was marked `W/`.
    pub(crate) weak: bool,
    /// The opaque-tag, quotes included.
    pub(crate) opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Reads one entity-tag at the start of `s`; returns it and the rest of `s`.
    fn parse_prefix(s: &'a [u8]) -> Option<(EntityTag<'a>, &'a [u8])> {
        // `W/` is case-sensitive (%s"W/").
        let (weak, quoted) = match s.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let inner = quoted.strip_prefix(b"\"")?;
        // etagc = %x21 / %x23-7E / obs-text: anything visible but DQUOTE, commas included, so
        // a list must be split by reading quoted strings rather than at commas.
        let close = inner.iter().position(|&b| !is_etagc(b))?;
        if inner.get(close) != Some(&b'"') {
            return None;
        }
        let end = close.checked_add(2)?;
        let opaque = quoted.get(..end)?;
        let rest = quoted.get(end..)?;
        Some((EntityTag { weak, opaque }, rest))
    }

    /// Reads `s` as exactly one entity-tag, surrounding whitespace allowed.
    pub(crate) fn parse_whole(s: &'a [u8]) -> Option<EntityTag<'a>> {
        match EntityTag::parse_prefix(trim_ows(s))? {
            (tag, b"") => Some(tag),
            _ => None,
        }
    }

    /// Strong comparison (§8.8.3.2): neither is weak and the opaque-tags are identical.
    pub(crate) fn strong_eq(&self, other: EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// Weak comparison (§8.8.3.2): the opaque-tags are identical, whatever their weakness.
    pub(crate) fn weak_eq(&self, other: EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b) || b >= 0x80
}

/// Whether any header line's list (`"*" / #entity-tag`) holds `*` or a tag `matches` accepts.
/// Malformed members are skipped up to the next comma, so junk can neither match nor hide the
/// members after it.
fn any_in_list(lines: &[&[u8]], mut matches: impl FnMut(EntityTag<'_>) -> bool) -> bool {
    for &line in lines {
        let mut rest = line;
        loop {
            // Empty members and the whitespace around them are allowed (§5.6.1).
            rest = skip_while(rest, |b| b == b',' || is_ows(b));
            if rest.is_empty() {
                break;
            }
            // Where a malformed member's remains start: after whatever could be read, so a
            // tag glued to junk (`"x,"abc"`) cannot be re-read from inside its quotes.
            let junk = if let Some(after) = rest.strip_prefix(b"*") {
                if at_member_end(after) {
                    return true;
                }
                after
            } else if let Some((tag, after)) = EntityTag::parse_prefix(rest) {
                if at_member_end(after) {
                    if matches(tag) {
                        return true;
                    }
                    rest = after;
                    continue;
                }
                after
            } else {
                rest
            };
            // Drop the member up to the next comma. This always advances: `junk` is shorter
            // than `rest`, or is `rest`, which starts with neither a comma nor whitespace.
            rest = match junk.iter().position(|&b| b == b',') {
                Some(comma) => junk.get(comma..).unwrap_or_default(),
                None => b"",
            };
        }
    }
    false
}

/// Whether `s` continues with only whitespace before the next comma or the end.
fn at_member_end(s: &[u8]) -> bool {
    matches!(skip_while(s, is_ows).first(), None | Some(b','))
}

/// The value as unix seconds if it is a valid HTTP-date (IMF-fixdate, RFC 850 or asctime,
/// RFC 9110 §5.6.7); `None` otherwise, including dates before 1970.
pub(crate) fn http_date_secs(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(trim_ows(value)).ok()?;
    let time = httpdate::parse_http_date(text).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

fn skip_while(s: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let start = s.iter().position(|&b| !pred(b)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 1994-11-06T08:49:37Z, and the same instant in the three HTTP-date forms.
    const T: u64 = 784_111_777;
    const DATE: &[u8] = b"Sun, 06 Nov 1994 08:49:37 GMT";
    const DATE_850: &[u8] = b"Sunday, 06-Nov-94 08:49:37 GMT";
    const DATE_ASCTIME: &[u8] = b"Sun Nov  6 08:49:37 1994";
    const EARLIER: &[u8] = b"Sun, 06 Nov 1994 08:49:36 GMT";
    const LATER: &[u8] = b"Sun, 06 Nov 1994 08:49:38 GMT";

    const V: Validators<'static> = Validators {
        etag: b"\"abc\"",
        last_modified: T,
    };

    use Outcome::{NotModified as N304, PreconditionFailed as P412, Proceed as OK};

    const GET: Method = Method::Get;
    // POST, PUT and the rest parse as `NotAllowed`.
    const POST: Method = Method::NotAllowed;

    struct Case {
        name: &'static str,
        im: &'static [&'static [u8]],
        inm: &'static [&'static [u8]],
        ims: Option<&'static [u8]>,
        ius: Option<&'static [u8]>,
        get: Outcome,
        post: Outcome,
    }

    const NONE: Case = Case {
        name: "",
        im: &[],
        inm: &[],
        ims: None,
        ius: None,
        get: OK,
        post: OK,
    };

    #[test]
    fn evaluation_order_and_comparisons() {
        let cases = [
            Case {
                name: "no preconditions",
                ..NONE
            },
            // Step 1: If-Match, strong.
            Case {
                name: "if-match equal",
                im: &[b"\"abc\""],
                ..NONE
            },
            Case {
                name: "if-match other",
                im: &[b"\"xyz\""],
                get: P412,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match weak never matches",
                im: &[b"W/\"abc\""],
                get: P412,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match star",
                im: &[b"*"],
                ..NONE
            },
            Case {
                name: "if-match list",
                im: &[b"\"x\", \"abc\" ,\"y\""],
                ..NONE
            },
            Case {
                name: "if-match across lines",
                im: &[b"\"x\"", b"\"abc\""],
                ..NONE
            },
            Case {
                name: "if-match all junk",
                im: &[b"abc, \"ab c\""],
                get: P412,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match junk skipped",
                im: &[b"abc,,  \"abc\""],
                ..NONE
            },
            Case {
                name: "if-match quoted comma is one tag",
                im: &[b"\"a,\"abc\"\""],
                get: P412,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match wins over failing if-unmodified-since",
                im: &[b"\"abc\""],
                ius: Some(EARLIER),
                ..NONE
            },
            // Step 2: If-Unmodified-Since.
            Case {
                name: "ius equal",
                ius: Some(DATE),
                ..NONE
            },
            Case {
                name: "ius later",
                ius: Some(LATER),
                ..NONE
            },
            Case {
                name: "ius earlier",
                ius: Some(EARLIER),
                get: P412,
                post: P412,
                ..NONE
            },
            Case {
                name: "ius invalid ignored",
                ius: Some(b"yesterday"),
                ..NONE
            },
            Case {
                name: "ius list of dates ignored",
                ius: Some(b"Sun, 06 Nov 1994 08:49:36 GMT, Sun, 06 Nov 1994 08:49:36 GMT"),
                ..NONE
            },
            Case {
                name: "ius fails before if-none-match",
                ius: Some(EARLIER),
                inm: &[b"\"abc\""],
                get: P412,
                post: P412,
                ..NONE
            },
            // Step 3: If-None-Match, weak.
            Case {
                name: "inm equal",
                inm: &[b"\"abc\""],
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "inm weak matches",
                inm: &[b"W/\"abc\""],
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "inm other",
                inm: &[b"\"xyz\", W/\"q\""],
                ..NONE
            },
            Case {
                name: "inm star",
                inm: &[b"*"],
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "inm list",
                inm: &[b"\"x\",W/\"abc\""],
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "inm tag glued to junk is junk",
                inm: &[b"\"abc\"x"],
                ..NONE
            },
            Case {
                name: "inm lowercase w/ is junk",
                inm: &[b"w/\"abc\""],
                ..NONE
            },
            Case {
                name: "inm wins over ims that alone gives 304",
                inm: &[b"\"xyz\""],
                ims: Some(DATE),
                ..NONE
            },
            Case {
                name: "inm junk still disables ims",
                inm: &[b"junk"],
                ims: Some(LATER),
                ..NONE
            },
            Case {
                name: "inm match wins over ims that alone gives 200",
                inm: &[b"\"abc\""],
                ims: Some(EARLIER),
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match passes, inm matches",
                im: &[b"\"abc\""],
                inm: &[b"\"abc\""],
                get: N304,
                post: P412,
                ..NONE
            },
            Case {
                name: "if-match fails before inm",
                im: &[b"\"xyz\""],
                inm: &[b"\"abc\""],
                get: P412,
                post: P412,
                ..NONE
            },
            // Step 4: If-Modified-Since, GET and HEAD only.
            Case {
                name: "ims equal",
                ims: Some(DATE),
                get: N304,
                ..NONE
            },
            Case {
                name: "ims rfc850",
                ims: Some(DATE_850),
                get: N304,
                ..NONE
            },
            Case {
                name: "ims asctime",
                ims: Some(DATE_ASCTIME),
                get: N304,
                ..NONE
            },
            Case {
                name: "ims later",
                ims: Some(LATER),
                get: N304,
                ..NONE
            },
            Case {
                name: "ims earlier",
                ims: Some(EARLIER),
                ..NONE
            },
            Case {
                name: "ims invalid ignored",
                ims: Some(b"Sun, 06 Nov 1994 08:49:37 XYZ"),
                ..NONE
            },
            Case {
                name: "ims not utf-8 ignored",
                ims: Some(b"\xff\xfe"),
                ..NONE
            },
            Case {
                name: "ius passes then ims",
                ius: Some(DATE),
                ims: Some(DATE),
                get: N304,
                ..NONE
            },
        ];
        for c in cases {
            let p = Preconditions {
                if_match: c.im,
                if_none_match: c.inm,
                if_modified_since: c.ims,
                if_unmodified_since: c.ius,
            };
            assert_eq!(evaluate(&p, &V, GET), c.get, "{} (GET)", c.name);
            assert_eq!(evaluate(&p, &V, POST), c.post, "{} (POST)", c.name);
        }
    }

    #[test]
    fn own_weak_or_malformed_tag() {
        let p = Preconditions {
            if_match: &[b"W/\"abc\""],
            ..Preconditions::default()
        };
        let weak = Validators {
            etag: b"W/\"abc\"",
            last_modified: T,
        };
        assert_eq!(evaluate(&p, &weak, GET), P412);
        let star = Preconditions {
            if_match: &[b"*"],
            ..Preconditions::default()
        };
        let junk = Validators {
            etag: b"abc",
            last_modified: T,
        };
        assert_eq!(evaluate(&star, &junk, GET), OK);
        let inm = Preconditions {
            if_none_match: &[b"abc", b"\"abc\""],
            ..Preconditions::default()
        };
        assert_eq!(evaluate(&inm, &junk, GET), OK);
        let weak_inm = Preconditions {
            if_none_match: &[b"\"abc\""],
            ..Preconditions::default()
        };
        assert_eq!(evaluate(&weak_inm, &weak, GET), N304);
    }

    #[test]
    fn entity_tags() {
        for (s, want) in [
            (&b"\"abc\""[..], Some((false, &b"\"abc\""[..]))),
            (b" W/\"abc\" ", Some((true, b"\"abc\""))),
            (b"\"\"", Some((false, b"\"\""))),
            (b"\"a,b\"", Some((false, b"\"a,b\""))),
            (b"\"\x80\xff\"", Some((false, b"\"\x80\xff\""))),
            (b"\"a b\"", None),
            (b"\"abc", None),
            (b"abc", None),
            (b"W/abc", None),
            (b"\"a\"\"b\"", None),
            (b"", None),
            (b"\"", None),
            (b"W/", None),
        ] {
            let got = EntityTag::parse_whole(s).map(|t| (t.weak, t.opaque));
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(s));
        }
    }

    #[test]
    fn junk_lists_never_panic_and_skip() {
        for line in [
            &b""[..],
            b",",
            b" , ,",
            b"\"",
            b"W/",
            b"W/\"",
            b"*x",
            b"**",
            b"\"a\" \"abc\"",
            b"\"unterminated, \"abc",
            b"\x00\x01,\x7f",
        ] {
            assert!(!any_in_list(&[line], |_| true), "{line:?}");
        }
        for line in [&b"\"x,\"abc\""[..], b"*\"abc\"", b"\"x\"\"abc\""] {
            assert!(
                !any_in_list(&[line], |t| t.opaque == b"\"abc\""),
                "{line:?}"
            );
        }
        assert!(any_in_list(&[b"x, *"], |_| false));
        assert!(any_in_list(&[b"\"a b\", \"abc\""], |t| t.opaque == b"\"abc\""));
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date_secs(DATE), Some(T));
        assert_eq!(
            http_date_secs(b"  Sun, 06 Nov 1994 08:49:37 GMT\t"),
            Some(T)
        );
        assert_eq!(http_date_secs(DATE_850), Some(T));
        assert_eq!(http_date_secs(DATE_ASCTIME), Some(T));
        assert_eq!(http_date_secs(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date_secs(b""), None);
        assert_eq!(http_date_secs(b"784111777"), None);
    }
}
