//! Preconditions (RFC 9110 §13.1) evaluated in the order of §13.2.2: If-Match, then
//! If-Unmodified-Since, then If-None-Match, then If-Modified-Since. This module owns that order,
//! entity-tag parsing and comparison (§8.8.3), and reading an HTTP-date into unix seconds (an
//! RFC 850 date's two-digit year by the 50-year rule of §5.6.7); the fifth step of §13.2.2,
//! If-Range, is `range::if_range_holds`, which the caller applies after [`evaluate`] says
//! [`Outcome::Proceed`]. An answer without validators (a listing, a probe) is evaluated too,
//! with [`Validators::NONE`] (§13.2.1). It is pure but for reading the current year when an
//! RFC 850 date comes (from the per-thread `Date`): it must never do I/O, allocate, or panic on
//! anything a client sends; a field it cannot read is ignored or matches nothing, as the RFC
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
    /// The strong entity-tag with its quotes, e.g. `"abc"`; `None` when it has none.
    pub etag: Option<&'a [u8]>,
    /// Last modification time in unix seconds (the `Last-Modified` sent); `None` when it has
    /// none.
    pub last_modified: Option<u64>,
}

impl Validators<'static> {
    /// A representation without validators: a directory listing, the probe's and the scrape's
    /// answers. A tag never matches it and dates do not apply; `*` still does.
    pub const NONE: Validators<'static> = Validators {
        etag: None,
        last_modified: None,
    };
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
    let own = v.etag.and_then(EntityTag::parse_whole);
    // §13.2.2 step 1: If-Match, strong comparison (§13.1.1). `*` matches because a selected
    // representation exists whenever we are asked: only for what would be a 2xx (§13.2.1).
    if !p.if_match.is_empty() {
        let matched = any_in_list(p.if_match, |tag| own.is_some_and(|own| own.strong_eq(tag)));
        if !matched {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(date), Some(last_modified)) = (
        p.if_unmodified_since.and_then(http_date_secs),
        v.last_modified,
    ) {
        // Step 2: only without If-Match; an invalid date, or a representation without a
        // modification date, is ignored (§13.1.4, MUST).
        if last_modified > date {
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
        // invalid date (including a list of dates), or a representation without a
        // modification date, is ignored (§13.1.3, MUST).
        let ims = p.if_modified_since.and_then(http_date_secs);
        if let (Some(date), Some(last_modified)) = (ims, v.last_modified)
            && last_modified <= date
        {
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
    let value = trim_ows(value);
    // Only the obsolete RFC 850 form has a two-digit year, and only it needs today's year.
    match rfc850_as_imf(value, crate::http::date::current_year) {
        Some(imf) => parse_date(&imf),
        None => parse_date(value),
    }
}

/// `httpdate`'s reading of one date (it checks the day name against the date, too).
fn parse_date(text: &[u8]) -> Option<u64> {
    let time = httpdate::parse_http_date(std::str::from_utf8(text).ok()?).ok()?;
    Some(time.duration_since(UNIX_EPOCH).ok()?.as_secs())
}

/// An RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`) rewritten as the IMF-fixdate it stands
/// for, its year read by RFC 9110 §5.6.7 (MUST): a two-digit year that would be more than 50
/// years after `this_year()` is the latest past year with those digits. `httpdate` pivots at a
/// fixed 70 instead. `None` when `value` is not in that form; the digits, month and day name
/// are left to `httpdate` to check.
fn rfc850_as_imf(value: &[u8], this_year: impl FnOnce() -> u16) -> Option<[u8; 29]> {
    const DAYS: [&[u8]; 7] = [
        b"Monday",
        b"Tuesday",
        b"Wednesday",
        b"Thursday",
        b"Friday",
        b"Saturday",
        b"Sunday",
    ];
    let comma = value.iter().position(|&b| b == b',')?;
    let day_name = value.get(..comma)?;
    if !DAYS.contains(&day_name) {
        return None;
    }
    let (&[d1, d2, b'-', m1, m2, m3, b'-', y1, y2, b' ', ref time @ ..], Some(short)) =
        (value.get(comma..)?.strip_prefix(b", ")?, day_name.get(..3))
    else {
        return None;
    };
    // `08:49:37 GMT`
    if time.len() != 12 || !y1.is_ascii_digit() || !y2.is_ascii_digit() {
        return None;
    }
    let yy = u16::from(y1.saturating_sub(b'0'))
        .saturating_mul(10)
        .saturating_add(u16::from(y2.saturating_sub(b'0')));
    let now = this_year();
    let mut year = now.saturating_sub(now % 100).saturating_add(yy);
    if year > now.saturating_add(50) {
        year = year.saturating_sub(100);
    }
    let mut num = itoa::Buffer::new();
    // `Sun, 06 Nov 1994 08:49:37 GMT`: the same fields, in the fixed form's places.
    let pieces: [&[u8]; 9] = [
        short,
        b", ",
        &[d1, d2],
        b" ",
        &[m1, m2, m3],
        b" ",
        num.format(year).as_bytes(),
        b" ",
        time,
    ];
    let mut imf = [b' '; 29];
    let mut at = 0usize;
    for piece in pieces {
        let end = at.checked_add(piece.len())?;
        imf.get_mut(at..end)?.copy_from_slice(piece);
        at = end;
    }
    Some(imf)
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
        etag: Some(b"\"abc\""),
        last_modified: Some(T),
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
    fn without_validators() {
        // A listing or a probe (RFC 9110 §13.2.1): `*` matches, a tag does not, dates are
        // ignored for want of a modification date (§13.1.3, §13.1.4).
        for (name, im, inm, ims, ius, get, post) in [
            ("none", &[][..], &[][..], None, None, OK, OK),
            (
                "if-match tag",
                &[&b"\"nope\""[..]][..],
                &[][..],
                None,
                None,
                P412,
                P412,
            ),
            ("if-match star", &[&b"*"[..]], &[], None, None, OK, OK),
            ("inm star", &[], &[&b"*"[..]], None, None, N304, P412),
            ("inm tag", &[], &[&b"\"x\""[..]], None, None, OK, OK),
            ("ims ignored", &[], &[], Some(LATER), None, OK, OK),
            ("ius ignored", &[], &[], None, Some(EARLIER), OK, OK),
            (
                "if-match star, inm star",
                &[&b"*"[..]],
                &[&b"*"[..]],
                None,
                None,
                N304,
                P412,
            ),
        ] {
            let p = Preconditions {
                if_match: im,
                if_none_match: inm,
                if_modified_since: ims,
                if_unmodified_since: ius,
            };
            assert_eq!(evaluate(&p, &Validators::NONE, GET), get, "{name} (GET)");
            assert_eq!(evaluate(&p, &Validators::NONE, POST), post, "{name} (POST)");
        }
    }

    #[test]
    fn rfc_850_years_within_fifty_of_today() {
        // 2070-01-01 and 1970-01-01 in unix seconds.
        const Y2070: u64 = 3_155_760_000;
        for (this_year, date, want) in [
            // Within 50 years ahead: this century.
            (2026, &b"Wednesday, 01-Jan-70 00:00:00 GMT"[..], Some(Y2070)),
            (
                2026,
                b"Wednesday, 01-Jan-76 00:00:00 GMT",
                Some(3_345_062_400),
            ),
            // More than 50 years ahead: the latest past year with those digits.
            (2026, b"Saturday, 01-Jan-77 00:00:00 GMT", Some(220_924_800)),
            (2026, b"Sunday, 06-Nov-94 08:49:37 GMT", Some(T)),
            (
                2026,
                b"Thursday, 01-Jan-26 00:00:00 GMT",
                Some(1_767_225_600),
            ),
            // Read as 1970 the day name would fit; as 2070 it does not: invalid.
            (2026, b"Thursday, 01-Jan-70 00:00:00 GMT", None),
            (1994, b"Thursday, 01-Jan-70 00:00:00 GMT", Some(0)),
            (1994, b"Sunday, 06-Nov-94 08:49:37 GMT", Some(T)),
            // Not the RFC 850 form, or a broken one: left to httpdate as before.
            (2026, b"Sun, 06 Nov 1994 08:49:37 GMT", Some(T)),
            (2026, b"Sun Nov  6 08:49:37 1994", Some(T)),
            (2026, b"Someday, 06-Nov-94 08:49:37 GMT", None),
            (2026, b"Sunday, 06-Nov-9x 08:49:37 GMT", None),
            (2026, b"Sunday, 06-Nov-94 08:49:37 GMT junk", None),
            (2026, b"Sunday, 6-Nov-94 08:49:37 GMT", None),
        ] {
            let got = match rfc850_as_imf(date, || this_year) {
                Some(imf) => parse_date(&imf),
                None => parse_date(date),
            };
            assert_eq!(
                got,
                want,
                "{} in {this_year}",
                String::from_utf8_lossy(date)
            );
        }
    }

    #[test]
    fn own_weak_or_malformed_tag() {
        let p = Preconditions {
            if_match: &[b"W/\"abc\""],
            ..Preconditions::default()
        };
        let weak = Validators {
            etag: Some(b"W/\"abc\""),
            last_modified: Some(T),
        };
        assert_eq!(evaluate(&p, &weak, GET), P412);
        let star = Preconditions {
            if_match: &[b"*"],
            ..Preconditions::default()
        };
        let junk = Validators {
            etag: Some(b"abc"),
            last_modified: Some(T),
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
