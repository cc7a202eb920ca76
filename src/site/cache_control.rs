//! Which `Cache-Control` a file gets: the configured rules in order (a glob over the decoded URL
//! path, or `hashed` for content-hashed asset names), else the default; and the form a value
//! takes on an answer meant for one user. It only matches names and rewrites values; it must
//! never look at the file or the request beyond its path.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use globset::GlobMatcher;

use crate::config::{CachePattern, CacheRule};

#[derive(Debug)]
enum Matcher {
    Hashed,
    Glob(GlobMatcher),
}

/// The compiled cache rules.
#[derive(Debug)]
pub struct CacheControl {
    rules: Vec<(Matcher, String)>,
    default: Option<String>,
}

impl CacheControl {
    /// Compiles the rules, parsed and checked when the configuration was read.
    pub fn new(rules: &[CacheRule], default: Option<String>) -> Self {
        let rules = rules
            .iter()
            .map(|r| {
                let matcher = match &r.pattern {
                    CachePattern::Hashed => Matcher::Hashed,
                    CachePattern::Glob(glob) => Matcher::Glob(glob.compile_matcher()),
                };
                (matcher, r.value.clone())
            })
            .collect();
        CacheControl { rules, default }
    }

    /// The value for the file at decoded root-relative path `path` (`assets/app.js`).
    pub fn for_path(&self, path: &[u8]) -> Option<&str> {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        self.rules
            .iter()
            .find(|(m, _)| match m {
                Matcher::Hashed => is_hashed(name),
                Matcher::Glob(g) => g.is_match(Path::new(OsStr::from_bytes(path))),
            })
            .map(|(_, v)| v.as_str())
            .or(self.default.as_deref())
    }
}

/// Rewrites the `Cache-Control` value at `buf[start..]` into its form for an answer meant for
/// one user, which a shared cache must never store (RFC 9111 §5.2.2.7): `private` first, then
/// the value's directives but those that speak to shared caches alone or contradict `private`
/// (`public`, `private`, `s-maxage`, `proxy-revalidate`; names compare in any case, §5.2).
/// `no-store`, `no-cache`, `max-age` and the rest keep their meaning for the browser's cache,
/// so an operator's `no-store` is never weakened. No allocation past `buf`'s growth.
pub fn privatize(buf: &mut Vec<u8>, start: usize) {
    let end = buf.len();
    buf.extend_from_slice(b"private");
    let mut at = start;
    while at < end {
        // A directive runs to the next comma outside a quoted string (RFC 9110 §5.6.4).
        let mut next = at;
        let (mut quoted, mut escaped) = (false, false);
        while next < end {
            match (buf[next], quoted, escaped) {
                (_, true, true) => escaped = false,
                (b'\\', true, false) => escaped = true,
                (b'"', _, false) => quoted = !quoted,
                (b',', false, _) => break,
                _ => {}
            }
            next += 1;
        }
        let directive = trimmed(buf, at, next);
        let name_end = buf[directive.clone()]
            .iter()
            .position(|&b| b == b'=')
            .map_or(directive.end, |i| directive.start + i);
        let name = trimmed(buf, directive.start, name_end);
        let shared_only = [&b"public"[..], b"private", b"s-maxage", b"proxy-revalidate"]
            .iter()
            .any(|d| buf[name.clone()].eq_ignore_ascii_case(d));
        if !directive.is_empty() && !shared_only {
            buf.extend_from_slice(b", ");
            buf.extend_from_within(directive);
        }
        at = next + 1;
    }
    buf.copy_within(end.., start);
    let len = buf.len() - end;
    buf.truncate(start + len);
}

/// `buf[from..to]` without the spaces and tabs around it, as a range.
fn trimmed(buf: &[u8], from: usize, to: usize) -> std::ops::Range<usize> {
    let s = buf[from..to].trim_ascii();
    let lead = buf[from..to].len() - buf[from..to].trim_ascii_start().len();
    from + lead..from + lead + s.len()
}

/// Whether a file name carries a content hash as bundlers write them: `name.HASH.ext` or
/// `name-HASH.ext`, HASH being 6+ hex digits, or 8+ word characters with a digit in them.
pub fn is_hashed(name: &[u8]) -> bool {
    let Some(dot) = name.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let stem = &name[..dot];
    let Some(sep) = stem.iter().rposition(|&b| b == b'.' || b == b'-') else {
        return false;
    };
    let hash = &stem[sep + 1..];
    if sep == 0 {
        return false;
    }
    let hex = hash.len() >= 6 && hash.iter().all(u8::is_ascii_hexdigit);
    let word = hash.len() >= 8
        && hash.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        && hash.iter().any(u8::is_ascii_digit);
    hex || word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names() {
        for yes in [
            "app.3f9a1c.js",
            "main-BcD3f9xZ.css",
            "chunk.8d2e1f0a.mjs",
            "a.deadbeef.woff2",
        ] {
            assert!(is_hashed(yes.as_bytes()), "{yes}");
        }
        for no in [
            "app.js",
            "jquery-3.7.1.js",
            "style.min.css",
            "deadbeef.js",
            "my-component.js",
            "index",
        ] {
            assert!(!is_hashed(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn answers_for_one_user_are_private_and_keep_what_the_browser_obeys() {
        for (value, private) in [
            ("", "private"),
            ("no-store", "private, no-store"),
            ("no-cache", "private, no-cache"),
            ("public, max-age=60", "private, max-age=60"),
            ("PUBLIC , s-maxage=600,max-age=60", "private, max-age=60"),
            ("private", "private"),
            ("private=\"Set-Cookie\", no-cache", "private, no-cache"),
            (
                "max-age=0, proxy-revalidate, must-revalidate",
                "private, max-age=0, must-revalidate",
            ),
            (
                "no-cache=\"a, public\", immutable",
                "private, no-cache=\"a, public\", immutable",
            ),
            ("x=\"\\\", y\", public", "private, x=\"\\\", y\""),
            (" , ,no-store,, ", "private, no-store"),
            ("s-maxage", "private"),
        ] {
            let mut buf = b"Cache-Control: ".to_vec();
            let start = buf.len();
            buf.extend_from_slice(value.as_bytes());
            privatize(&mut buf, start);
            assert_eq!(String::from_utf8_lossy(&buf[start..]), private, "{value:?}");
            assert!(buf.starts_with(b"Cache-Control: "));
        }
    }

    #[test]
    fn first_match_wins() {
        let rules = [
            CacheRule::parse("/assets/*.html=a").unwrap(),
            CacheRule::parse("*.html=b").unwrap(),
            CacheRule::parse("hashed=c").unwrap(),
        ];
        let p = CacheControl::new(&rules, Some("d".into()));
        assert_eq!(p.for_path(b"assets/x/y.html"), Some("a"));
        assert_eq!(p.for_path(b"index.html"), Some("b"));
        assert_eq!(p.for_path(b"sub/index.html"), Some("b"));
        assert_eq!(p.for_path(b"app.3f9a1c.js"), Some("c"));
        assert_eq!(p.for_path(b"style.css"), Some("d"));
        assert_eq!(CacheControl::new(&[], None).for_path(b"x"), None);
    }
}
