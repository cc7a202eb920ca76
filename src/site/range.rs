//! Range requests (RFC 9110 §14.1–14.4) and If-Range (§13.1.5): which bytes of a representation
//! of known length a request asks for. This module owns reading the `Range` field into a
//! [`RangeSpec`] (clipped to the length, coalesced, in the order asked) and deciding whether an `If-Range`
//! lets it apply; the caller picks the status and writes the parts. It is pure: it must never do
//! I/O or panic on anything a client sends, and it allocates only for a multi-range answer.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use super::conditional::{EntityTag, http_date_secs};
use crate::http::field::{elements, trim_ows};

/// An inclusive byte range within a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub start: u64,
    /// Offset of the last byte (inclusive).
    pub end: u64,
}

impl ByteRange {
    /// The number of bytes, `end - start + 1` (0 for a malformed range with `end < start`).
    pub fn len(&self) -> u64 {
        match self.end.checked_sub(self.start) {
            // Saturates only for 0..=u64::MAX, which no representation length allows.
            Some(span) => span.saturating_add(1),
            None => 0,
        }
    }

    /// Whether the range holds no byte (only a malformed `end < start` does).
    pub fn is_empty(&self) -> bool {
        self.end < self.start
    }
}

/// What to serve for a `Range` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeSpec {
    /// Serve the whole representation (no Range, a syntactically invalid one, a unit other than bytes, too many ranges).
    Full,
    /// One satisfiable range, clipped to the length: 206.
    Single(ByteRange),
    /// Two or more satisfiable ranges, in the order asked, coalesced where they overlap or touch (a merged range where its first member was): 206 multipart/byteranges.
    Multi(Vec<ByteRange>),
    /// Valid syntax but no satisfiable range: 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Most ranges honoured in one request; more is served whole (RFC 9110 §14.2 allows ignoring).
pub const MAX_RANGES: usize = 32;

/// Reads a `Range` field value for a representation of `len` bytes.
pub fn parse(value: &[u8], len: u64) -> RangeSpec {
    // Every failure here means "ignore the field": an origin server MUST ignore a unit it does
    // not understand, and MAY ignore an invalid ranges-specifier or one with many ranges
    // (RFC 9110 §14.2).
    parse_specifier(value, len).unwrap_or(RangeSpec::Full)
}

/// `ranges-specifier = range-unit "=" range-set` (RFC 9110 §14.1.1); `None` when invalid.
fn parse_specifier(value: &[u8], len: u64) -> Option<RangeSpec> {
    let eq = value.iter().position(|&b| b == b'=')?;
    // Range units are compared case-insensitively (§14.1); no whitespace before the `=`.
    if !value.get(..eq)?.eq_ignore_ascii_case(b"bytes") {
        return None;
    }
    // The satisfiable ranges, on the stack: one request's worth costs no allocation.
    let mut found = [ByteRange { start: 0, end: 0 }; MAX_RANGES];
    let mut satisfiable = 0usize;
    let mut specs = 0usize;
    for element in elements(value.get(eq.checked_add(1)?..)?) {
        // Empty list elements are allowed and do not count (§5.6.1).
        if element.is_empty() {
            continue;
        }
        specs = specs.checked_add(1)?;
        if specs > MAX_RANGES {
            return None;
        }
        // One invalid range-spec makes the whole ranges-specifier invalid (§14.1.1).
        if let Some(range) = parse_range_spec(element, len)? {
            *found.get_mut(satisfiable)? = range;
            satisfiable = satisfiable.checked_add(1)?;
        }
    }
    // `range-set = 1#range-spec`: at least one is required.
    if specs == 0 {
        return None;
    }
    // Valid but without a satisfiable range-spec: unsatisfiable (§14.1.1), 416 (§15.5.17).
    Some(match coalesce(found.get_mut(..satisfiable)?) {
        [] => RangeSpec::Unsatisfiable,
        [one] => RangeSpec::Single(*one),
        many => RangeSpec::Multi(many.to_vec()),
    })
}

/// One `range-spec` (§14.1.2): `Some(None)` when valid but not satisfiable, `None` when invalid.
fn parse_range_spec(spec: &[u8], len: u64) -> Option<Option<ByteRange>> {
    let dash = spec.iter().position(|&b| b == b'-')?;
    let first = spec.get(..dash)?;
    let last = spec.get(dash.checked_add(1)?..)?;
    // The offset of the last byte; none for an empty representation, of which nothing is
    // satisfiable.
    let max = len.checked_sub(1);
    if first.is_empty() {
        // suffix-range: the last n bytes, all of them when n exceeds the length; satisfiable
        // iff n > 0 and the length is not 0.
        let n = number(last)?;
        return Some(match max {
            Some(max) if n > 0 => Some(ByteRange {
                start: len.saturating_sub(n),
                end: max,
            }),
            _ => None,
        });
    }
    let first = number(first)?;
    let last = if last.is_empty() {
        None
    } else {
        Some(number(last)?)
    };
    // "An int-range is invalid if the last-pos value is present and less than the first-pos."
    if last.is_some_and(|last| last < first) {
        return None;
    }
    // Satisfiable iff first-pos < length; a last-pos beyond the end is clipped to it.
    Some(match max {
        Some(max) if first <= max => Some(ByteRange {
            start: first,
            end: last.map_or(max, |last| last.min(max)),
        }),
        _ => None,
    })
}

/// `1*DIGIT` as a u64; `None` for anything else, including overflow.
fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        let digit = char::from(d).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Merges the ranges that overlap or touch, in place, keeping the order they were asked in
/// (RFC 9110 §15.3.7.2, SHOULD): a merged range stands where the first of its members did.
/// Returns the merged prefix. A server MAY coalesce ranges (§14.2); doing so means no byte is
/// sent twice and a client cannot make the response larger than the representation by
/// repeating ranges. Quadratic in the count, which [`MAX_RANGES`] bounds.
fn coalesce(ranges: &mut [ByteRange]) -> &[ByteRange] {
    let mut kept = 0usize;
    for i in 0..ranges.len() {
        let Some(&(mut next)) = ranges.get(i) else {
            break;
        };
        // The kept ranges never touch one another, so a range that touches the union of
        // `next` and a kept one touches one of the two: one pass finds every range to absorb.
        let mut first = None;
        let mut j = 0usize;
        while j < kept {
            let Some(&k) = ranges.get(j) else { break };
            // Touching counts: 0-1 and 2-3 are 0-3. `end` < u64::MAX for any real length.
            let touches =
                k.start <= next.end.saturating_add(1) && next.start <= k.end.saturating_add(1);
            if !touches {
                j = j.saturating_add(1);
                continue;
            }
            next = ByteRange {
                start: next.start.min(k.start),
                end: next.end.max(k.end),
            };
            if first.is_none() {
                first = Some(j);
                j = j.saturating_add(1);
            } else {
                // Absorbed into the earlier one: close the gap, keeping the others' order.
                if let Some(tail) = ranges.get_mut(j..kept) {
                    tail.rotate_left(1);
                }
                kept = kept.saturating_sub(1);
            }
        }
        let at = first.unwrap_or(kept);
        if let Some(slot) = ranges.get_mut(at) {
            *slot = next;
        }
        if first.is_none() {
            kept = kept.saturating_add(1);
        }
    }
    ranges.get(..kept).unwrap_or_default()
}

/// Whether an If-Range value lets the Range apply (RFC 9110 §13.1.5): an entity-tag must match `etag` by STRONG comparison (a weak tag `W/"…"` never matches); an HTTP-date must equal `last_modified` exactly (unix seconds). Anything unparsable → false.
pub fn if_range_holds(if_range: &[u8], etag: &[u8], last_modified: u64) -> bool {
    let value = trim_ows(if_range);
    // An entity-tag is told from an HTTP-date by a DQUOTE in its first three characters
    // (§13.1.5); a date never has one.
    if value.iter().take(3).any(|&b| b == b'"') {
        return match (EntityTag::parse_whole(value), EntityTag::parse_whole(etag)) {
            (Some(theirs), Some(ours)) => ours.strong_eq(theirs),
            _ => false,
        };
    }
    // The date must match Last-Modified exactly, not merely be later (§13.1.5).
    http_date_secs(value) == Some(last_modified)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn parses() {
        use RangeSpec::{Full, Multi, Single, Unsatisfiable};
        for (value, len, want) in [
            ("bytes=0-0", 10, Single(r(0, 0))),
            ("bytes=-0", 10, Unsatisfiable),
            ("bytes=5-", 10, Single(r(5, 9))),
            ("bytes=-3", 10, Single(r(7, 9))),
            ("bytes=-20", 10, Single(r(0, 9))),
            ("bytes=0-100", 10, Single(r(0, 9))),
            ("bytes=9-9", 10, Single(r(9, 9))),
            ("bytes=10-", 10, Unsatisfiable),
            ("bytes=10-20", 10, Unsatisfiable),
            ("bytes=0-1", 0, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=0-", 0, Unsatisfiable),
            ("bytes=-0", 0, Unsatisfiable),
            ("bytes=0-1,4-5", 10, Multi(vec![r(0, 1), r(4, 5)])),
            ("bytes=0-5,3-8", 10, Single(r(0, 8))),
            ("bytes=0-1,2-3", 10, Single(r(0, 3))),
            // The order asked for is kept (RFC 9110 §15.3.7.2).
            ("bytes=4-5,0-1", 10, Multi(vec![r(4, 5), r(0, 1)])),
            (
                "bytes=8-9,4-5,0-1",
                10,
                Multi(vec![r(8, 9), r(4, 5), r(0, 1)]),
            ),
            // A merged range stands where its first member was.
            (
                "bytes=8-9,0-1,5-6,2-2",
                10,
                Multi(vec![r(8, 9), r(0, 2), r(5, 6)]),
            ),
            // One range bridging two kept ones absorbs both, at the first one's place.
            ("bytes=6-7,0-1,3-4,2-5", 10, Single(r(0, 7))),
            ("bytes=8-9,0-1,4-5,2-3", 10, Multi(vec![r(8, 9), r(0, 5)])),
            ("bytes=-1,0-0", 10, Multi(vec![r(9, 9), r(0, 0)])),
            ("bytes=0-1,20-30", 10, Single(r(0, 1))),
            ("bytes=20-30,-0", 10, Unsatisfiable),
            ("bytes=0-0,-1", 10, Multi(vec![r(0, 0), r(9, 9)])),
            ("bytes=0-,-5", 10, Single(r(0, 9))),
            ("bytes=0-1,3-4,2-2", 10, Single(r(0, 4))),
            (
                "bytes=6-7,0-1,3-4",
                10,
                Multi(vec![r(6, 7), r(0, 1), r(3, 4)]),
            ),
            ("bytes=0-1,,2-3", 10, Single(r(0, 3))),
            ("bytes=,0-1,", 10, Single(r(0, 1))),
            ("bytes= 0-1 ,\t4-5 ", 10, Multi(vec![r(0, 1), r(4, 5)])),
            ("bytes=007-008", 10, Single(r(7, 8))),
            ("BYTES=0-1", 10, Single(r(0, 1))),
            ("Bytes=0-1", 10, Single(r(0, 1))),
            (
                "bytes=0-18446744073709551615",
                u64::MAX,
                Single(r(0, u64::MAX - 1)),
            ),
            ("bytes=-18446744073709551615", 10, Single(r(0, 9))),
            ("bytes=5-1", 10, Full),
            ("bytes=5-1", 0, Full),
            ("bytes=0-1,5-1", 10, Full),
            ("bytes=abc", 10, Full),
            ("bytes=abc-xyz", 10, Full),
            ("bytes=1", 10, Full),
            ("bytes=-", 10, Full),
            ("bytes=--1", 10, Full),
            ("bytes=1-2-3", 10, Full),
            ("bytes=+1-2", 10, Full),
            ("bytes=1 - 2", 10, Full),
            ("bytes=0-1,x", 10, Full),
            ("bytes=x", 0, Full),
            ("bytes=18446744073709551616-", 10, Full),
            ("bytes=0-18446744073709551616", 10, Full),
            ("bytes=-18446744073709551616", 10, Full),
            ("items=0-1", 10, Full),
            ("bytes", 10, Full),
            ("0-1", 10, Full),
            ("bytes=", 10, Full),
            ("bytes=,", 10, Full),
            ("bytes= , ", 10, Full),
            ("", 10, Full),
            ("=0-1", 10, Full),
            ("bytes==0-1", 10, Full),
            ("bytes =0-1", 10, Full),
            ("bytes=0-1=", 10, Full),
            ("bytes=٣-4", 10, Full),
        ] {
            assert_eq!(parse(value.as_bytes(), len), want, "{value:?} len {len}");
        }
    }

    #[test]
    fn range_count_limit() {
        let many = |n: usize| {
            let mut v = String::from("bytes=");
            for i in 0..n {
                v.push_str(&format!("{}-{},", i * 3, i * 3));
            }
            v
        };
        match parse(many(MAX_RANGES).as_bytes(), 1000) {
            RangeSpec::Multi(v) => assert_eq!(v.len(), MAX_RANGES),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse(many(MAX_RANGES + 1).as_bytes(), 1000),
            RangeSpec::Full
        );
        // Unsatisfiable specs count too: the limit is about the field, not the answer.
        let mut v = many(MAX_RANGES);
        v.push_str("2000-");
        assert_eq!(parse(v.as_bytes(), 1000), RangeSpec::Full);
        // Empty elements do not.
        let mut v = many(MAX_RANGES);
        v.push_str(",,,,");
        assert!(matches!(parse(v.as_bytes(), 1000), RangeSpec::Multi(_)));
    }

    #[test]
    fn lengths() {
        assert_eq!(r(0, 0).len(), 1);
        assert_eq!(r(5, 9).len(), 5);
        assert_eq!(r(5, 4).len(), 0);
        assert!(r(5, 4).is_empty());
        assert!(!r(0, 0).is_empty());
        assert_eq!(r(0, u64::MAX).len(), u64::MAX);
    }

    #[test]
    fn if_range() {
        const T: u64 = 784_111_777;
        let etag = b"\"abc\"";
        for (value, want) in [
            (&b"\"abc\""[..], true),
            (b" \"abc\" ", true),
            (b"W/\"abc\"", false),
            (b"\"abd\"", false),
            (b"\"abc", false),
            (b"\"abc\", \"abc\"", false),
            (b"Sun, 06 Nov 1994 08:49:37 GMT", true),
            (b"Sunday, 06-Nov-94 08:49:37 GMT", true),
            (b"Sun Nov  6 08:49:37 1994", true),
            (b"Sun, 06 Nov 1994 08:49:38 GMT", false),
            (b"Sun, 06 Nov 1994 08:49:36 GMT", false),
            (b"yesterday", false),
            (b"", false),
            (b"\xff", false),
        ] {
            assert_eq!(
                if_range_holds(value, etag, T),
                want,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
        // Our own tag must be strong for a strong comparison to hold.
        assert!(!if_range_holds(b"\"abc\"", b"W/\"abc\"", T));
        assert!(!if_range_holds(b"W/\"abc\"", b"W/\"abc\"", T));
        assert!(!if_range_holds(b"\"abc\"", b"abc", T));
    }
}
