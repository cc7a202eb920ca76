//! The `Date` header value (RFC 9110 §5.6.7 IMF-fixdate), formatted at most once a second per
//! thread. Each worker keeps its own copy, so no mutable state is shared across threads.

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
}
