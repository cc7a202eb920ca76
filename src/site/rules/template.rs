//! Text with placeholders that a match fills in: a `_redirects` target (`/blog/:year/:splat`)
//! and a `_headers` value (`X-Movie: ":title"`, as Cloudflare Pages allows). A `:name` that the
//! pattern does not bind is left as it was written, as Cloudflare does, so `/wiki/Special:Search`
//! stays a path. What a placeholder captured is escaped for where it goes, so a request can
//! change neither a URL's shape nor a header's: it must never write a byte the escape set lets
//! through unencoded, or decide what a rule does.

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, percent_encode};

use super::pattern::{Captures, Span, find_param};
use crate::site::resolve::{PATH, SEGMENT};

/// One part of a template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    /// Copied as written.
    Literal(Box<[u8]>),
    /// A placeholder's value.
    Param(usize),
    /// The splat's value.
    Splat,
}

/// A compiled template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Where a filled-in template goes, which decides how captured values are escaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Into {
    /// A URL (a `Location`). In its path, captured path bytes are percent-encoded as a path
    /// segment would be (`/` too, inside a placeholder); in its query (after the template's
    /// first `?`), as a query parameter's value, so a captured `&`, `=` or `+` cannot add a
    /// parameter or change one. Captured query bytes keep their own `%XX`.
    Url,
    /// A header value: controls and non-ASCII bytes percent-encoded (RFC 9110 §5.5).
    Header,
}

/// What a query value sent as is may still hold that a URI may not (RFC 3986 §3.4): a request's
/// raw query keeps its own `%XX` and `?`.
pub const QUERY: &AsciiSet = &PATH.remove(b'%').remove(b'?');

/// Header values keep printable ASCII; the rest is escaped.
const HEADER: &AsciiSet = CONTROLS;

/// What a decoded placeholder value keeps in a URL's query: only RFC 3986 §2.3's unreserved
/// characters, as a form encoder would, since `&`, `=`, `+` and `;` delimit or mean something
/// there to the application reading it.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A decoded splat in a URL's query keeps its slashes, as it does in a path.
const QUERY_SPLAT: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// A raw query value moved into a URL's path: its `%XX` stay, and neither `?` nor (for one
/// placeholder) `/` may change the path's shape.
const RAW_IN_SEGMENT: &AsciiSet = &SEGMENT.remove(b'%');

/// Which part of its output a template is writing, which decides the escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Header,
}

impl Template {
    /// Compiles `text`; `names` are the placeholders the pattern binds (by number), `splat`
    /// whether it has a `*`.
    pub fn parse(text: &str, names: &[Box<str>], splat: bool) -> Template {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut rest = text;
        while let Some((at, name)) = find_param(rest) {
            let end = at.saturating_add(1).saturating_add(name.len());
            let piece = if name == "splat" && splat {
                Some(Piece::Splat)
            } else {
                names.iter().position(|n| **n == *name).map(Piece::Param)
            };
            match piece {
                Some(piece) => {
                    literal.extend_from_slice(rest.get(..at).unwrap_or_default().as_bytes());
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal).into()));
                    }
                    pieces.push(piece);
                }
                None => literal.extend_from_slice(rest.get(..end).unwrap_or_default().as_bytes()),
            }
            rest = rest.get(end..).unwrap_or_default();
        }
        literal.extend_from_slice(rest.as_bytes());
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal.into()));
        }
        Template { pieces }
    }

    /// Whether a match changes it: otherwise it is the same bytes every time.
    pub fn is_fixed(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Literal(_)))
    }

    /// Whether the text between `from` and the first `/` after it (a URL's host) holds a
    /// placeholder: a request must not choose another site's host.
    pub fn fills_host(&self, from: usize) -> bool {
        let mut at = 0usize;
        for piece in &self.pieces {
            match piece {
                Piece::Literal(l) => {
                    let end = at.saturating_add(l.len());
                    if end > from {
                        let inside = l.get(from.saturating_sub(at)..).unwrap_or_default();
                        if inside.contains(&b'/') {
                            return false;
                        }
                    }
                    at = end;
                }
                Piece::Param(_) | Piece::Splat if at >= from => return true,
                Piece::Param(_) | Piece::Splat => {}
            }
        }
        false
    }

    /// Appends the template to `out`, filled in with what `caps` found in `rel` (decoded path)
    /// and `query` (raw), escaped for `into`.
    pub fn write(
        &self,
        out: &mut Vec<u8>,
        caps: &Captures,
        rel: &[u8],
        query: Option<&str>,
        into: Into,
    ) {
        let mut place = match into {
            Into::Url => Place::Path,
            Into::Header => Place::Header,
        };
        for piece in &self.pieces {
            let (span, one) = match piece {
                Piece::Literal(l) => {
                    out.extend_from_slice(l);
                    // RFC 3986 §3.4: the query starts at the first `?`; a fragment after it is
                    // escaped as strictly.
                    if place == Place::Path && l.iter().any(|&b| b == b'?' || b == b'#') {
                        place = Place::Query;
                    }
                    continue;
                }
                Piece::Param(n) => (caps.params.get(*n).copied().unwrap_or_default(), true),
                Piece::Splat => (caps.splat, false),
            };
            write_value(out, span, rel, query, one, place);
        }
    }
}

fn write_value(
    out: &mut Vec<u8>,
    span: Span,
    rel: &[u8],
    query: Option<&str>,
    one: bool,
    place: Place,
) {
    let (bytes, set) = if span.query {
        let value = query
            .and_then(|q| q.get(span.start..span.end))
            .unwrap_or_default();
        let set = match place {
            Place::Path => RAW_IN_SEGMENT,
            Place::Query => QUERY,
            Place::Header => HEADER,
        };
        (value.as_bytes(), set)
    } else {
        let value = rel.get(span.start..span.end).unwrap_or_default();
        let set = match (place, one) {
            (Place::Path, true) => SEGMENT,
            (Place::Path, false) => PATH,
            (Place::Query, true) => QUERY_VALUE,
            (Place::Query, false) => QUERY_SPLAT,
            (Place::Header, _) => HEADER,
        };
        (value, set)
    };
    for chunk in percent_encode(bytes, set) {
        out.extend_from_slice(chunk.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[&str]) -> Vec<Box<str>> {
        n.iter().map(|&s| s.into()).collect()
    }

    #[test]
    fn unbound_placeholders_stay_as_written() {
        let t = Template::parse("/wiki/Special:Search/:x/:splat", &names(&["x"]), false);
        let mut caps = Captures::default();
        caps.params[0] = Span {
            start: 0,
            end: 1,
            query: false,
        };
        let mut out = Vec::new();
        t.write(&mut out, &caps, b"a", None, Into::Url);
        assert_eq!(out, b"/wiki/Special:Search/a/:splat");
        assert!(!t.is_fixed());
        assert!(Template::parse("https://x:8080/a", &[], true).is_fixed());
    }

    #[test]
    fn captures_are_escaped_for_where_they_go() {
        let t = Template::parse(":x|:splat", &names(&["x"]), true);
        let rel = "a/b\r\né?#".as_bytes();
        let mut caps = Captures::default();
        caps.params[0] = Span {
            start: 0,
            end: rel.len(),
            query: false,
        };
        caps.splat = caps.params[0];
        let mut url = Vec::new();
        t.write(&mut url, &caps, rel, None, Into::Url);
        assert_eq!(url, b"a%2Fb%0D%0A%C3%A9%3F%23|a/b%0D%0A%C3%A9%3F%23");
        let mut header = Vec::new();
        t.write(&mut header, &caps, rel, None, Into::Header);
        assert_eq!(header, b"a/b%0D%0A%C3%A9?#|a/b%0D%0A%C3%A9?#");
        let q = Template::parse("?v=:q", &names(&["q"]), false);
        caps.params[0] = Span {
            start: 2,
            end: 8,
            query: true,
        };
        let mut url = Vec::new();
        q.write(&mut url, &caps, b"", Some("q=\u{e9}\"<b>"), Into::Url);
        assert_eq!(url, b"?v=%C3%A9%22%3Cb%3E");
    }

    #[test]
    fn path_captures_in_a_query_are_escaped_as_parameter_values() {
        let t = Template::parse("/p/:x?a=:x&s=:splat#:x", &names(&["x"]), true);
        let rel = b"a&b=c+d/e";
        let mut caps = Captures::default();
        caps.params[0] = Span {
            start: 0,
            end: rel.len(),
            query: false,
        };
        caps.splat = caps.params[0];
        let mut url = Vec::new();
        t.write(&mut url, &caps, rel, None, Into::Url);
        assert_eq!(
            url,
            &b"/p/a&b=c+d%2Fe?a=a%26b%3Dc%2Bd%2Fe&s=a%26b%3Dc%2Bd/e#a%26b%3Dc%2Bd%2Fe"[..]
        );
        // A query capture moved into the path keeps its escapes, and `/` and `?` are escaped.
        let t = Template::parse("/i/:q", &names(&["q"]), false);
        caps.params[0] = Span {
            start: 2,
            end: 9,
            query: true,
        };
        let mut url = Vec::new();
        t.write(&mut url, &caps, b"", Some("q=a/b?%41"), Into::Url);
        assert_eq!(url, b"/i/a%2Fb%3F%41");
    }

    #[test]
    fn hosts_filled_by_a_request_are_found() {
        let n = names(&["u"]);
        for (text, filled) in [
            ("https://:u/x", true),
            ("https://:splat", true),
            ("https://a.:u.example/x", true),
            ("https://example.com/:u", false),
            ("https://example.com::u", true),
            ("https://example.com/:splat", false),
        ] {
            let t = Template::parse(text, &n, true);
            assert_eq!(t.fills_host("https://".len()), filled, "{text}");
        }
    }
}
