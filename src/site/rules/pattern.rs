//! The path patterns of `_redirects` and `_headers`, as Netlify and Cloudflare Pages write them:
//! literal segments, `:name` placeholders that match one whole segment, and at most one `*`
//! splat that matches anything (slashes too), optionally with a literal before or after it in its
//! segment (`/*.js`). A pattern may start with `https://host` to match one host only (in
//! `_headers`, as Cloudflare Pages allows, a label of it may be a `:name` matching any one label:
//! `https://:project.pages.dev/*`). Patterns
//! are compiled once; matching is linear in the path and allocates nothing. Matching is on the
//! decoded, normalised root-relative path the file lookup uses, and ignores a trailing slash, as
//! Netlify does. It must never decide what a match does, or touch a file.

// Matches paths a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use percent_encoding::percent_decode_str;

/// Most placeholders one pattern may bind (path and query together).
pub const MAX_PARAMS: usize = 8;

/// One segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    /// Exactly these (decoded) bytes.
    Literal(Box<[u8]>),
    /// `before:nameafter`: a segment starting with `before` and ending with `after`, what lies
    /// between (at least one byte) bound to placeholder `n`. Both are empty for a whole-segment
    /// `:name`.
    Param {
        n: usize,
        before: Box<[u8]>,
        after: Box<[u8]>,
    },
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    /// A host the request's must equal (ASCII case-insensitively, port ignored), label by
    /// label where it has `:name` labels.
    host: Option<Box<str>>,
    /// Segments before the splat (all of them, without a splat).
    prefix: Vec<Segment>,
    /// The splat's segment.
    splat: Option<Splat>,
    /// Segments after the splat's.
    suffix: Vec<Segment>,
    /// Placeholder names, in the order they appear.
    names: Vec<Box<str>>,
}

/// The segment holding the `*`: the literal bytes before and after it there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Splat {
    before: Box<[u8]>,
    after: Box<[u8]>,
}

/// Where each placeholder's value and the splat's lie in the matched path (or query).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Captures {
    /// Byte ranges, by placeholder number; query placeholders come after the path's.
    pub params: [Span; MAX_PARAMS],
    /// The splat's byte range in the path.
    pub splat: Span,
}

/// A byte range in the path, or in the raw query string when `query`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
    /// Whether the range is in the query string (raw, still percent-encoded).
    pub query: bool,
}

/// What a pattern's host may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hosts {
    /// Only a plain name (`_redirects`, whose targets could otherwise name a host a request
    /// chose).
    Plain,
    /// Also whole-label placeholders, which match any one label and bind nothing
    /// (`_headers`, as Cloudflare Pages documents them).
    Placeholders,
}

impl Pattern {
    /// Compiles `text`: `/path/:name/*`, or `https://host/path…` with a host as `hosts` allows.
    pub fn parse(text: &str, hosts: Hosts) -> Result<Pattern, String> {
        let (host, path) = split_host(text, hosts)?;
        if !path.starts_with('/') {
            return Err(format!("pattern {text:?} must start with / or https://"));
        }
        if path.contains('?') || path.contains('#') {
            return Err(format!(
                "pattern {text:?} has a query or fragment; match query parameters with name=value"
            ));
        }
        let mut p = Pattern {
            host,
            prefix: Vec::new(),
            splat: None,
            suffix: Vec::new(),
            names: Vec::new(),
        };
        // Empty segments (`//`, a trailing `/`) mean nothing: the path they match is normalised.
        for seg in path.split('/').filter(|s| !s.is_empty()) {
            if let Some((before, after)) = seg.split_once('*') {
                if p.splat.is_some() || after.contains('*') {
                    return Err(format!("pattern {text:?} has more than one *"));
                }
                if find_param(seg).is_some() {
                    return Err(format!(
                        "pattern {text:?}: a placeholder cannot share the * segment"
                    ));
                }
                p.splat = Some(Splat {
                    before: decode(before, text)?,
                    after: decode(after, text)?,
                });
                continue;
            }
            let segment = match find_param(seg) {
                Some((start, name)) => {
                    let end = start.saturating_add(1).saturating_add(name.len());
                    let (before, after) = (
                        seg.get(..start).unwrap_or_default(),
                        seg.get(end..).unwrap_or_default(),
                    );
                    if find_param(after).is_some() {
                        // Two in one segment would need backtracking to split it.
                        return Err(format!(
                            "pattern {text:?}: segment {seg:?} has more than one placeholder"
                        ));
                    }
                    if p.names.iter().any(|n| **n == *name) {
                        return Err(format!("pattern {text:?} uses :{name} twice"));
                    }
                    if p.names.len() == MAX_PARAMS {
                        return Err(format!(
                            "pattern {text:?} has more than {MAX_PARAMS} placeholders"
                        ));
                    }
                    let n = p.names.len();
                    p.names.push(name.into());
                    Segment::Param {
                        n,
                        before: decode(before, text)?,
                        after: decode(after, text)?,
                    }
                }
                None => Segment::Literal(decode(seg, text)?),
            };
            if p.splat.is_some() {
                p.suffix.push(segment);
            } else {
                p.prefix.push(segment);
            }
        }
        Ok(p)
    }

    /// The placeholder names, in the order of their numbers.
    pub fn names(&self) -> &[Box<str>] {
        &self.names
    }

    /// Whether the pattern has a `*`.
    pub fn has_splat(&self) -> bool {
        self.splat.is_some()
    }

    /// The first segment when it is literal: the index key that lets a lookup skip patterns
    /// that cannot match.
    pub fn first_literal(&self) -> Option<&[u8]> {
        match self.prefix.first() {
            Some(Segment::Literal(l)) => Some(l),
            _ => None,
        }
    }

    /// Whether the pattern matches `rel` (root-relative, no leading or trailing `/`) on `host`
    /// (the request's Host, port included or not); the placeholders' and splat's ranges go
    /// into `caps`.
    pub fn matches(&self, host: Option<&[u8]>, rel: &[u8], caps: &mut Captures) -> bool {
        if let Some(want) = &self.host {
            let Some(host) = host else { return false };
            if !host_equals(host, want.as_bytes()) {
                return false;
            }
        }
        self.matches_path(rel, caps)
    }

    /// Whether the path part matches `rel`, whatever the host; the captures go into `caps`.
    pub fn matches_path(&self, rel: &[u8], caps: &mut Captures) -> bool {
        // What the prefix has not consumed yet; `None` once it consumed the last segment.
        let mut rest = Some(rel);
        let mut at = 0usize;
        for seg in &self.prefix {
            let Some(r) = rest else { return false };
            let (got, next) = match r.iter().position(|&b| b == b'/') {
                Some(i) => (r.get(..i).unwrap_or_default(), r.get(i.saturating_add(1)..)),
                None => (r, None),
            };
            if !segment_matches(seg, got, at, caps) {
                return false;
            }
            at = at.saturating_add(got.len()).saturating_add(1);
            rest = next;
        }
        let Some(Splat { before, after }) = &self.splat else {
            // Every segment consumed, and nothing after the last.
            return rest.is_none() || (self.prefix.is_empty() && rel.is_empty());
        };
        let Some(mut middle) = rest else {
            // `/blog/*` asked for `/blog`: only a bare `*` matches there, and matches nothing.
            caps.splat = span(rel.len(), rel.len());
            return before.is_empty() && after.is_empty() && self.suffix.is_empty();
        };
        let start = rel.len().saturating_sub(middle.len());
        for seg in self.suffix.iter().rev() {
            let Some(cut) = middle.iter().rposition(|&b| b == b'/') else {
                return false;
            };
            let got = middle.get(cut.saturating_add(1)..).unwrap_or_default();
            let seg_start = start.saturating_add(cut).saturating_add(1);
            if !segment_matches(seg, got, seg_start, caps) {
                return false;
            }
            middle = middle.get(..cut).unwrap_or_default();
        }
        let Some(inner) = middle
            .strip_prefix(&**before)
            .and_then(|m| m.strip_suffix(&**after))
        else {
            return false;
        };
        let inner_start = start.saturating_add(before.len());
        caps.splat = span(inner_start, inner_start.saturating_add(inner.len()));
        true
    }
}

/// A range in the path.
fn span(start: usize, end: usize) -> Span {
    Span {
        start,
        end,
        query: false,
    }
}

/// `(host, path)` of `https://host/path` or `http://host/path`; `(None, text)` otherwise.
fn split_host(text: &str, hosts: Hosts) -> Result<(Option<Box<str>>, &str), String> {
    let rest = match text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    {
        Some(rest) => rest,
        None => return Ok((None, text)),
    };
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // A port is ignored when matching, as Cloudflare Pages does; so is the scheme.
    let plain = |label: &str| {
        !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let placeholder = |label: &str| {
        hosts == Hosts::Placeholders
            && find_param(label).is_some_and(|(at, name)| at == 0 && label.get(1..) == Some(name))
    };
    // A port is ignored when matching, as Cloudflare Pages does; so is the scheme. A port
    // follows the last label, so a `:name` label is told from it by where it stands.
    let host = match host.rsplit_once(':') {
        Some((name, port))
            if !name.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            name
        }
        _ => host,
    };
    if !host.split('.').all(|l| plain(l) || placeholder(l)) {
        return Err(match hosts {
            Hosts::Plain => format!(
                "pattern {text:?}: the host must be a plain name (no placeholders or splats)"
            ),
            Hosts::Placeholders => format!(
                "pattern {text:?}: the host must be names and whole-label :placeholders \
                 (no splats)"
            ),
        });
    }
    Ok((Some(host.to_ascii_lowercase().into()), path))
}

/// The first placeholder in `text`: where its `:` is, and its name (a letter or `_`, then
/// letters, digits and `_`, as Cloudflare Pages reads them). `:8080` or a lone `:` is none.
pub fn find_param(text: &str) -> Option<(usize, &str)> {
    let mut from = 0;
    while let Some(i) = text.get(from..)?.find(':') {
        let at = from.saturating_add(i);
        let rest = text.get(at.saturating_add(1)..).unwrap_or_default();
        let len = rest
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(rest.len());
        let name = rest.get(..len).unwrap_or_default();
        if name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return Some((at, name));
        }
        from = at.saturating_add(1);
    }
    None
}

/// The name of a `:name` value (a query parameter's): a letter or `_`, then letters, digits and
/// `_`.
pub fn param_name(seg: &str) -> Option<&str> {
    let name = seg.strip_prefix(':')?;
    let mut bytes = name.bytes();
    let first = bytes.next()?;
    ((first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_'))
    .then_some(name)
}

/// The decoded bytes of a literal, refused when it could never match a normalised path.
fn decode(lit: &str, text: &str) -> Result<Box<[u8]>, String> {
    let bytes: Vec<u8> = percent_decode_str(lit).collect();
    if bytes.iter().any(|&b| b == 0 || b == b'/' || b == b'\\') || lit == "." || lit == ".." {
        return Err(format!(
            "pattern {text:?}: segment {lit:?} can never match a path"
        ));
    }
    Ok(bytes.into())
}

fn segment_matches(seg: &Segment, got: &[u8], at: usize, caps: &mut Captures) -> bool {
    match seg {
        Segment::Literal(l) => **l == *got,
        Segment::Param { n, before, after } => {
            let Some(value) = got
                .strip_prefix(&**before)
                .and_then(|g| g.strip_suffix(&**after))
                .filter(|v| !v.is_empty())
            else {
                return false;
            };
            let start = at.saturating_add(before.len());
            if let Some(slot) = caps.params.get_mut(*n) {
                *slot = span(start, start.saturating_add(value.len()));
            }
            true
        }
    }
}

/// Whether the request's Host `got` (maybe with a port) names `want` (lowercase).
fn host_equals(got: &[u8], want: &[u8]) -> bool {
    let name = match got.iter().rposition(|&b| b == b':') {
        // `[::1]:8080` keeps its brackets; a colon inside them is not a port.
        Some(i) if !got.get(i..).unwrap_or_default().contains(&b']') => {
            got.get(..i).unwrap_or_default()
        }
        _ => got,
    };
    if !want.contains(&b':') {
        return name.eq_ignore_ascii_case(want);
    }
    let mut got_labels = name.split(|&b| b == b'.');
    let mut want_labels = want.split(|&b| b == b'.');
    loop {
        match (got_labels.next(), want_labels.next()) {
            (None, None) => return true,
            (Some(g), Some(w)) if w.first() == Some(&b':') && !g.is_empty() => {}
            (Some(g), Some(w)) if g.eq_ignore_ascii_case(w) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, rel: &str) -> Option<(Vec<String>, String)> {
        let p = Pattern::parse(pattern, Hosts::Plain).unwrap();
        let mut caps = Captures::default();
        let rel = rel.as_bytes();
        p.matches(Some(b"example.com"), rel, &mut caps).then(|| {
            let text = |s: Span| String::from_utf8_lossy(&rel[s.start..s.end]).into_owned();
            let params = (0..p.names().len()).map(|i| text(caps.params[i])).collect();
            (params, text(caps.splat))
        })
    }

    #[test]
    fn patterns_match_as_netlify_documents() {
        let yes = |p: &str, rel: &str, params: &[&str], splat: &str| {
            let got = m(p, rel);
            let want = (params.iter().map(|s| s.to_string()).collect(), splat.into());
            assert_eq!(got, Some(want), "{p} against {rel:?}");
        };
        let no = |p: &str, rel: &str| assert_eq!(m(p, rel), None, "{p} against {rel:?}");
        yes("/", "", &[], "");
        no("/", "a");
        yes("/home", "home", &[], "");
        yes("/home/", "home", &[], "");
        no("/home", "home/x");
        no("/home", "Home");
        no("/home", "homes");
        yes("/*", "", &[], "");
        yes("/*", "a/b/c", &[], "a/b/c");
        yes("/blog/*", "blog", &[], "");
        yes("/blog/*", "blog/a", &[], "a");
        yes("/blog/*", "blog/a/b.html", &[], "a/b.html");
        no("/blog/*", "blogs/a");
        no("/blog/*", "other");
        yes(
            "/news/:year/:slug",
            "news/2004/story",
            &["2004", "story"],
            "",
        );
        no("/news/:year/:slug", "news/2004");
        no("/news/:year/:slug", "news/2004/a/b");
        yes("/:lang/*", "en/docs/x", &["en"], "docs/x");
        no("/:lang/*", "");
        yes("/*.js", "a/b/app.js", &[], "a/b/app");
        no("/*.js", "a/b/app.css");
        yes("/assets/*.css", "assets/x.css", &[], "x");
        no("/assets/*.css", "assets/.css-nope");
        yes("/*/index.html", "a/b/index.html", &[], "a/b");
        no("/*/index.html", "index.html");
        yes("/*/:file", "a/b/c", &["c"], "a/b");
        yes("/caf%C3%A9", "café", &[], "");
        yes("/posts/:slug.html", "posts/hello.html", &["hello"], "");
        no("/posts/:slug.html", "posts/.html");
        no("/posts/:slug.html", "posts/hello.htm");
        yes("/d/post-:id", "d/post-42", &["42"], "");
        yes("/wiki/a:1", "wiki/a:1", &[], "");
        yes("https://example.com/*", "x", &[], "x");
        no("https://other.example/*", "x");
    }

    #[test]
    fn hosts_ignore_case_and_port() {
        let p = Pattern::parse("https://Example.com/x", Hosts::Plain).unwrap();
        let mut caps = Captures::default();
        for host in [&b"example.com"[..], b"EXAMPLE.com:8080"] {
            assert!(p.matches(Some(host), b"x", &mut caps), "{host:?}");
        }
        for host in [None, Some(&b"example.org"[..]), Some(b"[::1]:80")] {
            assert!(!p.matches(host, b"x", &mut caps), "{host:?}");
        }
    }

    #[test]
    fn header_hosts_may_hold_whole_label_placeholders() {
        let p =
            Pattern::parse("https://staging.:project.pages.dev/*", Hosts::Placeholders).unwrap();
        let mut caps = Captures::default();
        for host in [&b"staging.site.pages.dev"[..], b"STAGING.x.pages.dev:443"] {
            assert!(p.matches(Some(host), b"a", &mut caps), "{host:?}");
        }
        for host in [
            &b"site.pages.dev"[..],
            b"staging..pages.dev",
            b"staging.a.b.pages.dev",
            b"staging.site.pages.dev.evil",
        ] {
            assert!(!p.matches(Some(host), b"a", &mut caps), "{host:?}");
        }
        assert!(Pattern::parse("https://:p.pages.dev:8080/", Hosts::Placeholders).is_ok());
        for (bad, hosts) in [
            ("https://:p.pages.dev/x", Hosts::Plain),
            ("https://a:p.pages.dev/", Hosts::Placeholders),
            ("https://*.pages.dev/", Hosts::Placeholders),
            ("https://x:y:1/", Hosts::Placeholders),
        ] {
            assert!(Pattern::parse(bad, hosts).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "blog",
            "/a/*/b/*",
            "/a**",
            "/:x/:x",
            "/a?b=1",
            "/a/../b",
            "/a%2Fb",
            "https:///x",
            "https://:sub.example.com/x",
            "/d/:year-:month",
            "/:lang-*",
        ] {
            assert!(Pattern::parse(bad, Hosts::Plain).is_err(), "{bad}");
        }
        let nine = "/:a/:b/:c/:d/:e/:f/:g/:h/:i";
        assert!(Pattern::parse(nine, Hosts::Plain).is_err());
    }
}
