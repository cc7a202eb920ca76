//! Header rules: the `_headers` file's syntax (a path pattern, then indented `Name: value` and
//! `! Name` lines, as Netlify and Cloudflare Pages read it), which blocks match a request, and
//! writing their headers into a response head. Every matching block applies, in file order; a
//! name set by several is sent once with the values joined by `, ` (RFC 9110 §5.3), except
//! `Set-Cookie`; `! Name` removes what the server or an earlier block set; a name a block sets
//! replaces the server's own header of that name. It must never decide which responses get them
//! (the pipeline: 200, 206 and 304) or set a header that frames the message.

use std::collections::HashMap;

use super::pattern::{Captures, Pattern};
use crate::config::HeaderSpec;
use crate::http::response::{HeadWriter, server_owned};

/// One compiled block.
#[derive(Debug)]
struct Block {
    pattern: Pattern,
    /// `(lowercase name, name as written, value)`, in order.
    set: Vec<(Box<str>, Box<str>, Box<str>)>,
    /// Lowercase names removed.
    remove: Vec<Box<str>>,
}

/// The blocks, in order, with an index by first literal segment.
#[derive(Debug, Default)]
pub struct HeaderRules {
    blocks: Vec<Block>,
    by_first: HashMap<Box<[u8]>, Vec<u16>>,
    rest: Vec<u16>,
}

/// The blocks that matched one request: what the response head needs.
#[derive(Clone, Copy, Debug)]
pub struct Matched<'a> {
    rules: &'a HeaderRules,
    blocks: &'a [u16],
}

/// Most blocks: their numbers are `u16`s in a worker's reused list.
const MAX_BLOCKS: usize = u16::MAX as usize;

/// Parses the text of a `_headers` file named `file`: the blocks, and every problem, one line
/// each, as `FILE:LINE: what`.
pub fn parse_file(text: &str, file: &str) -> (Vec<HeaderSpec>, Vec<String>) {
    let mut specs: Vec<HeaderSpec> = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let origin = format!("{file}:{}", i + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indented = line.starts_with([' ', '\t']);
        if !indented {
            specs.push(HeaderSpec {
                pattern: trimmed.to_string(),
                set: Vec::new(),
                remove: Vec::new(),
                origin,
            });
            continue;
        }
        let Some(block) = specs.last_mut() else {
            problems.push(format!(
                "{origin}: header line {trimmed:?} comes before any path"
            ));
            continue;
        };
        // Checked here too, so that a problem names its own line, not its block's.
        if let Some(name) = trimmed.strip_prefix('!') {
            match check_name(name.trim()) {
                Ok(_) => block.remove.push(name.trim().to_string()),
                Err(e) => problems.push(format!("{origin}: {e}")),
            }
        } else if let Some((name, value)) = trimmed.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            match check_name(name).and_then(|_| check_value(name, value)) {
                Ok(()) => block.set.push((name.to_string(), value.to_string())),
                Err(e) => problems.push(format!("{origin}: {e}")),
            }
        } else {
            problems.push(format!(
                "{origin}: {trimmed:?} is neither 'Name: value' nor '! Name'"
            ));
        }
    }
    (specs, problems)
}

/// A name a block may set or remove, lowercased.
fn check_name(name: &str) -> Result<Box<str>, String> {
    if name.is_empty() || !name.bytes().all(crate::http::field::is_tchar) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    if server_owned(name) {
        return Err(format!(
            "{name} is set by the server and cannot be configured"
        ));
    }
    if name.eq_ignore_ascii_case("basic-auth") {
        // Netlify's form holds plain-text passwords in a file the site ships.
        return Err("Basic-Auth is not honoured (it holds plain passwords)".to_string());
    }
    Ok(name.to_ascii_lowercase().into())
}

/// RFC 9110 §5.5: no CR, LF, NUL or other controls in a value.
fn check_value(name: &str, value: &str) -> Result<(), String> {
    crate::config::check_header_value(value).map_err(|e| format!("{name}: {e}"))
}

impl Block {
    fn compile(spec: &HeaderSpec) -> Result<Block, String> {
        let pattern = Pattern::parse(&spec.pattern)?;
        let mut set = Vec::new();
        for (name, value) in &spec.set {
            let lower = check_name(name)?;
            check_value(name, value)?;
            set.push((lower, name.as_str().into(), value.as_str().into()));
        }
        let remove = spec
            .remove
            .iter()
            .map(|n| check_name(n))
            .collect::<Result<_, _>>()?;
        Ok(Block {
            pattern,
            set,
            remove,
        })
    }
}

impl HeaderRules {
    /// Compiles `specs` in order; every problem is one line, `ORIGIN: what`.
    pub fn compile(specs: &[HeaderSpec]) -> (HeaderRules, Vec<String>) {
        let mut r = HeaderRules::default();
        let mut problems = Vec::new();
        for spec in specs {
            if r.blocks.len() == MAX_BLOCKS {
                problems.push(format!("{}: more than {MAX_BLOCKS} blocks", spec.origin));
                break;
            }
            match Block::compile(spec) {
                Ok(block) => {
                    let n = u16::try_from(r.blocks.len()).unwrap_or(u16::MAX);
                    match block.pattern.first_literal() {
                        Some(first) => r.by_first.entry(first.into()).or_default().push(n),
                        None => r.rest.push(n),
                    }
                    r.blocks.push(block);
                }
                Err(e) => problems.push(format!("{}: {e}", spec.origin)),
            }
        }
        (r, problems)
    }

    /// How many blocks there are.
    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// The numbers of the blocks matching `rel` on `host` into `out`, in file order.
    pub fn matching(&self, host: Option<&[u8]>, rel: &[u8], out: &mut Vec<u16>) {
        out.clear();
        let first = rel.split(|&b| b == b'/').next().unwrap_or(rel);
        let indexed = self.by_first.get(first).map_or(&[][..], Vec::as_slice);
        let mut caps = Captures::default();
        for &n in indexed.iter().chain(&self.rest) {
            if self
                .blocks
                .get(usize::from(n))
                .is_some_and(|b| b.pattern.matches(host, rel, &mut caps))
            {
                out.push(n);
            }
        }
        // The two lists are each in file order; blocks apply in file order.
        if !indexed.is_empty() && !self.rest.is_empty() {
            out.sort_unstable();
        }
    }

    /// `blocks` (from [`HeaderRules::matching`]) ready for a response head.
    pub fn matched<'a>(&'a self, blocks: &'a [u16]) -> Matched<'a> {
        Matched {
            rules: self,
            blocks,
        }
    }
}

impl Matched<'_> {
    fn blocks(&self) -> impl Iterator<Item = (usize, &Block)> {
        self.blocks
            .iter()
            .enumerate()
            .filter_map(|(i, &n)| Some((i, self.rules.blocks.get(usize::from(n))?)))
    }

    /// Whether a block sets or removes header `name` (any case): the server's own header of
    /// that name is then not sent.
    pub fn overrides(&self, name: &[u8]) -> bool {
        let same = |n: &str| n.as_bytes().eq_ignore_ascii_case(name);
        self.blocks()
            .any(|(_, b)| b.set.iter().any(|(n, _, _)| same(n)) || b.remove.iter().any(|n| same(n)))
    }

    /// Whether block `i` of the matched ones, or one after it, removes `lower`.
    fn removed_after(&self, i: usize, lower: &str) -> bool {
        self.blocks()
            .skip(i + 1)
            .any(|(_, b)| b.remove.iter().any(|n| **n == *lower))
    }

    /// Writes the headers the blocks set and do not remove later; for a 304 (`not_modified`)
    /// without the content metadata it must not repeat (RFC 9110 §15.4.5).
    pub fn write(&self, w: &mut HeadWriter<'_>, not_modified: bool) {
        for (i, block) in self.blocks() {
            for (j, (lower, name, value)) in block.set.iter().enumerate() {
                if self.removed_after(i, lower)
                    || not_modified && matches!(&**lower, "content-type" | "content-language")
                {
                    continue;
                }
                let cookie = &**lower == "set-cookie";
                // Joined values go out with the first line of their name that survives.
                let earlier = self.blocks().take(i + 1).any(|(k, b)| {
                    let lines = if k == i { &b.set[..j] } else { &b.set[..] };
                    !self.removed_after(k, lower) && lines.iter().any(|(n, _, _)| n == lower)
                });
                if earlier && !cookie {
                    continue;
                }
                w.raw(name.as_bytes()).raw(b": ").raw(value.as_bytes());
                if !cookie {
                    let later = self.blocks().skip(i).flat_map(|(k, b)| {
                        let from = if k == i { j + 1 } else { 0 };
                        b.set[from..].iter().map(move |line| (k, line))
                    });
                    for (k, (n, _, v)) in later {
                        if n == lower && !self.removed_after(k, lower) {
                            w.raw(b", ").raw(v.as_bytes());
                        }
                    }
                }
                w.raw(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::response::Status;

    fn rules(text: &str) -> HeaderRules {
        let (specs, problems) = parse_file(text, "_headers");
        assert_eq!(problems, Vec::<String>::new());
        let (r, problems) = HeaderRules::compile(&specs);
        assert_eq!(problems, Vec::<String>::new());
        r
    }

    /// The lines the rules add for `rel`, and which of `names` they override.
    fn lines(r: &HeaderRules, rel: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        r.matching(Some(b"example.com"), rel.as_bytes(), &mut blocks);
        let mut out = Vec::new();
        let mut w = HeadWriter::new(&mut out, Status::Ok);
        r.matched(&blocks).write(&mut w, false);
        let text = String::from_utf8(out).unwrap();
        text.split("\r\n")
            .skip(3)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn cloudflare_example() {
        // The example from Cloudflare Pages' documentation, with its table of results.
        let r = rules(
            "# This is a comment\n\
             /secure/page\n  X-Frame-Options: DENY\n  X-Content-Type-Options: nosniff\n  Referrer-Policy: no-referrer\n\n\
             /static/*\n  Access-Control-Allow-Origin: *\n  X-Robots-Tag: nosnippet\n\n\
             https://example.com/*\n  X-Robots-Tag: noindex\n",
        );
        assert_eq!(
            lines(&r, "secure/page"),
            [
                "X-Frame-Options: DENY",
                "X-Content-Type-Options: nosniff",
                "Referrer-Policy: no-referrer",
                "X-Robots-Tag: noindex"
            ]
        );
        assert_eq!(
            lines(&r, "static/styles.css"),
            [
                "Access-Control-Allow-Origin: *",
                "X-Robots-Tag: nosnippet, noindex"
            ]
        );
        assert_eq!(lines(&r, "home"), ["X-Robots-Tag: noindex"]);
    }

    #[test]
    fn removal_applies_to_what_came_before() {
        let r = rules(
            "/*\n  X-A: 1\n  X-B: 1\n  Set-Cookie: a=1\n\
             /private/*\n  ! X-A\n  ! Cache-Control\n  Set-Cookie: b=2\n\
             /private/again\n  X-A: 3\n",
        );
        assert_eq!(lines(&r, "x"), ["X-A: 1", "X-B: 1", "Set-Cookie: a=1"]);
        assert_eq!(
            lines(&r, "private/x"),
            ["X-B: 1", "Set-Cookie: a=1", "Set-Cookie: b=2"]
        );
        assert_eq!(
            lines(&r, "private/again"),
            ["X-B: 1", "Set-Cookie: a=1", "Set-Cookie: b=2", "X-A: 3"]
        );
        let mut blocks = Vec::new();
        r.matching(None, b"private/x", &mut blocks);
        let m = r.matched(&blocks);
        assert!(m.overrides(b"Cache-Control") && m.overrides(b"x-a"));
        assert!(!m.overrides(b"content-type"));
    }

    #[test]
    fn bad_lines_name_their_line() {
        let (specs, problems) = parse_file(
            "  X-Early: 1\n/a\n  no colon here\n  X-Ok: fine\n",
            "site/_headers",
        );
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("site/_headers:1: "), "{problems:?}");
        assert!(problems[1].starts_with("site/_headers:3: "), "{problems:?}");
        assert_eq!(specs.len(), 1);
        let (specs, problems) = parse_file(
            "/a\n  Content-Length: 5\n/b\n  Bad Name: x\n/c\n  Basic-Auth: u:p\n/d\n  ! Transfer-Encoding\n  X-Nul: a\u{0}b\nnope\n  X: y\n",
            "h",
        );
        assert_eq!(problems.len(), 5, "{problems:#?}");
        for (p, line) in problems.iter().zip([2, 4, 6, 8, 9]) {
            assert!(p.starts_with(&format!("h:{line}: ")), "{p}");
        }
        let (r, problems) = HeaderRules::compile(&specs);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("h:10: "), "{problems:?}");
        assert_eq!(r.len(), 4);
    }
}
