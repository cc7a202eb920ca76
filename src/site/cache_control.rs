//! Which `Cache-Control` a file gets: the configured rules in order (a glob over the decoded URL
//! path, or `hashed` for content-hashed asset names), else the default. It only matches names;
//! it must never look at the file or the request beyond its path.

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
