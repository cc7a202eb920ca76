//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once a second per
//! thread. Each worker keeps its own copy, so no mutable state is shared across threads.

use std::cell::RefCell;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const IMF_LEN: usize = 29;

struct Cache {
    secs: u64,
    imf: [u8; IMF_LEN],
}

thread_local! {
    static CACHE: RefCell<Cache> = const { RefCell::new(Cache { secs: u64::MAX, imf: [0; IMF_LEN] }) };
}

/// Calls `f` with the current time as an IMF-fixdate.
pub fn with_now<R>(f: impl FnOnce(&[u8; IMF_LEN]) -> R) -> R {
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.secs != secs {
            c.secs = secs;
            let mut cursor = &mut c.imf[..];
            // An IMF-fixdate always has exactly IMF_LEN bytes, so this cannot run out of room.
            let _ = write!(cursor, "{}", httpdate::HttpDate::from(now));
        }
        f(&c.imf)
    })
}

thread_local! {
    static LAST: RefCell<Cache> = const { RefCell::new(Cache { secs: u64::MAX, imf: [0; IMF_LEN] }) };
}

/// Appends unix seconds `secs` as an IMF-fixdate. The last value formatted is kept per thread:
/// Last-Modified repeats the same few dates, and formatting one costs far more than a copy.
pub fn write_imf(secs: u64, out: &mut Vec<u8>) {
    LAST.with(|c| {
        let mut c = c.borrow_mut();
        if c.secs != secs {
            c.secs = secs;
            let t = UNIX_EPOCH + std::time::Duration::from_secs(secs);
            let mut cursor = &mut c.imf[..];
            let _ = write!(cursor, "{}", httpdate::HttpDate::from(t));
        }
        out.extend_from_slice(&c.imf);
    });
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
}
