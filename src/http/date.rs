//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once a second per
//! thread, the log's forms made from it (CLF, RFC 3339 with milliseconds), and what is judged
//! against it: the current year, and a modification time held to it (§8.8.2.1). Each worker
//! keeps its own copy, so no mutable state is shared across threads.

use std::cell::RefCell;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_LEN: usize = 29;

/// One formatted date and the second it stands for.
struct Cache {
    secs: u64,
    imf: [u8; IMF_LEN],
}

impl Cache {
    const EMPTY: Cache = Cache {
        secs: u64::MAX,
        imf: [0; IMF_LEN],
    };

    /// The date of unix second `secs`, formatted only when it differs from the last one.
    fn get(&mut self, secs: u64) -> &[u8; IMF_LEN] {
        if self.secs != secs {
            self.secs = secs;
            let t = UNIX_EPOCH + Duration::from_secs(secs);
            let mut cursor = &mut self.imf[..];
            // An IMF-fixdate always has exactly IMF_LEN bytes, so this cannot run out of room.
            let _ = write!(cursor, "{}", httpdate::HttpDate::from(t));
        }
        &self.imf
    }
}

thread_local! {
    /// The current second, for `Date`.
    static NOW: RefCell<Cache> = const { RefCell::new(Cache::EMPTY) };
    /// The last date written for a header such as Last-Modified: they repeat the same few dates,
    /// and formatting one costs far more than a copy.
    static LAST: RefCell<Cache> = const { RefCell::new(Cache::EMPTY) };
}

/// Calls `f` with the current time as an IMF-fixdate.
pub fn with_now<R>(f: impl FnOnce(&[u8; IMF_LEN]) -> R) -> R {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    NOW.with(|c| f(c.borrow_mut().get(secs)))
}

/// The current year (UTC), read from the `Date` this thread formats anyway: RFC 850's
/// two-digit years are read against it (RFC 9110 §5.6.7).
pub fn current_year() -> u16 {
    with_now(|d| {
        d[12..16]
            .iter()
            .fold(0u16, |y, &b| y * 10 + u16::from(b - b'0'))
    })
}

/// `secs`, or the current second if `secs` is later: an origin MUST NOT send a Last-Modified
/// later than the message's origination, and replaces a future modification time by it
/// (RFC 9110 §8.8.2.1). The common case, a time before the second the last `Date` was
/// formatted for, costs a compare; only a later one reads the clock, and that read then serves
/// the `Date` of the same response.
pub fn not_after_now(secs: u64) -> u64 {
    let cached = NOW.with(|c| c.borrow().secs);
    if cached != u64::MAX && secs <= cached {
        return secs;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    NOW.with(|c| {
        c.borrow_mut().get(now);
    });
    secs.min(now)
}

/// Appends the current time as RFC 3339 in UTC with milliseconds, `1994-11-06T08:49:37.123Z`:
/// the form log pipelines (Loki, Elasticsearch, Datadog) parse without a pattern.
pub fn write_rfc3339_now(out: &mut Vec<u8>) {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    NOW.with(|c| rfc3339_from_imf(c.borrow_mut().get(since_epoch.as_secs()), out));
    let mut millis = [b'.', b'0', b'0', b'0', b'Z'];
    let ms = since_epoch.subsec_millis();
    // Three digits of a number below 1000.
    for (slot, div) in millis[1..4].iter_mut().zip([100, 10, 1]) {
        *slot = b'0' + (ms / div % 10) as u8;
    }
    out.extend_from_slice(&millis);
}

/// Rewrites an IMF-fixdate into RFC 3339's `1994-11-06T08:49:37` (the seconds' fraction and
/// offset are the caller's).
fn rfc3339_from_imf(imf: &[u8; IMF_LEN], out: &mut Vec<u8>) {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| m[..] == imf[8..11]).unwrap_or(0) + 1;
    out.extend_from_slice(&imf[12..16]);
    out.extend_from_slice(&[
        b'-',
        b'0' + (month / 10) as u8,
        b'0' + (month % 10) as u8,
        b'-',
    ]);
    out.extend_from_slice(&imf[5..7]);
    out.push(b'T');
    out.extend_from_slice(&imf[17..25]);
}

/// Appends unix seconds `secs` as an IMF-fixdate.
pub fn write_imf(secs: u64, out: &mut Vec<u8>) {
    LAST.with(|c| out.extend_from_slice(c.borrow_mut().get(secs)));
}

/// Rewrites an IMF-fixdate into the Common Log Format's `06/Nov/1994:08:49:37 +0000`.
pub fn clf_from_imf(imf: &[u8; IMF_LEN], out: &mut Vec<u8>) {
    out.extend_from_slice(&imf[5..7]);
    out.push(b'/');
    out.extend_from_slice(&imf[8..11]);
    out.push(b'/');
    out.extend_from_slice(&imf[12..16]);
    out.push(b':');
    out.extend_from_slice(&imf[17..25]);
    out.extend_from_slice(b" +0000");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imf_and_clf() {
        let imf = with_now(|d| *d);
        let s = std::str::from_utf8(&imf).unwrap();
        assert!(s.ends_with(" GMT"), "{s}");
        assert!(httpdate::parse_http_date(s).is_ok(), "{s}");
        let fixed: [u8; IMF_LEN] = *b"Sun, 06 Nov 1994 08:49:37 GMT";
        let mut out = Vec::new();
        clf_from_imf(&fixed, &mut out);
        assert_eq!(out, b"06/Nov/1994:08:49:37 +0000");
        let mut out = Vec::new();
        write_imf(784_111_777, &mut out);
        assert_eq!(out, fixed);
    }

    #[test]
    fn rfc3339_for_every_month() {
        for (imf, want) in [
            ("Sun, 06 Nov 1994 08:49:37 GMT", "1994-11-06T08:49:37"),
            ("Wed, 01 Jan 2025 00:00:00 GMT", "2025-01-01T00:00:00"),
            ("Sat, 29 Feb 2020 23:59:59 GMT", "2020-02-29T23:59:59"),
            ("Tue, 31 Dec 2024 12:00:00 GMT", "2024-12-31T12:00:00"),
        ] {
            let mut out = Vec::new();
            rfc3339_from_imf(imf.as_bytes().try_into().unwrap(), &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), want);
        }
        let names = "JanFebMarAprMayJunJulAugSepOctNovDec";
        for month in 1..=12 {
            let name = &names[(month - 1) * 3..month * 3];
            let imf = format!("Mon, 01 {name} 2021 00:00:00 GMT");
            let mut out = Vec::new();
            rfc3339_from_imf(imf.as_bytes().try_into().unwrap(), &mut out);
            assert_eq!(
                out,
                format!("2021-{month:02}-01T00:00:00").as_bytes(),
                "{imf}"
            );
        }
        let mut out = Vec::new();
        write_rfc3339_now(&mut out);
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with('Z') && s.as_bytes()[19] == b'.', "{s}");
        // The date part is today's, as the IMF cache has it.
        let imf = with_now(|d| *d);
        let mut day = Vec::new();
        rfc3339_from_imf(&imf, &mut day);
        assert_eq!(s[..10], String::from_utf8(day).unwrap()[..10], "{s}");
    }
}
