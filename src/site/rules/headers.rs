//! Header rules: the `_headers` file's syntax (a path pattern, then indented `Name: value` and
//! `! Name` lines, as Netlify and Cloudflare Pages read it), which blocks match a request, and
//! writing their headers into a response head. Every matching block applies, in file order; a
//! name set by several is sent once with the values joined by `, ` (RFC 9110 §5.3), except
//! `Set-Cookie`; `! Name` removes what the server or an earlier block set; a name a block sets
//! replaces the server's own header of that name. It must never decide which responses get them
//! (the pipeline: 200, 206 and 304) or set a header that frames the message.

use super::index::Index;
use super::pattern::{Captures, Hosts, Pattern};
use super::template::{Into, Template};
use crate::config::HeaderSpec;
use crate::http::response::{HeadWriter, server_owned};
use crate::site::cache_control;

/// One compiled block.
#[derive(Debug)]
struct Block {
    pattern: Pattern,
    /// The lines it sets, in order.
    set: Vec<Line>,
    /// The names it removes, as numbers in [`HeaderRules::names`].
    remove: Vec<u16>,
    /// The server's own headers it sets or removes, as [`Server`] bits.
    replaces: u64,
    /// When no name is set twice in it and it removes nothing, its lines ready for a head
    /// (all of them, and those a 304 repeats): alone, a block goes out as one copy.
    plain: Option<Rendered>,
}

/// A plain block's lines, each ending in CRLF.
#[derive(Debug)]
struct Rendered {
    all: Box<[u8]>,
    not_modified: Box<[u8]>,
}

/// One `Name: value` line of a block.
#[derive(Debug)]
struct Line {
    /// The name's number in [`HeaderRules::names`]: names compare as numbers per request.
    id: u16,
    /// The name as written.
    name: Box<str>,
    /// The value, with the pattern's placeholders (`:name`, `:splat`) to fill in.
    value: Template,
    /// Values of this name from several lines join into one (all but `Set-Cookie`, RFC 9110
    /// §5.3).
    joins: bool,
    /// Content metadata, which a 304 does not repeat (RFC 9110 §15.4.5).
    metadata: bool,
}

/// The server's own headers a block can replace, as bits: the fixed ones, then the lines of
/// `--header` (and nosniff) by position, so the response head tests a bit per header instead of
/// comparing names.
pub struct Server;

impl Server {
    /// `Content-Type`.
    pub const CONTENT_TYPE: u64 = 1;
    /// `Cache-Control`.
    pub const CACHE_CONTROL: u64 = 1 << 1;
    /// `Vary`.
    pub const VARY: u64 = 1 << 2;
    /// `Accept-Ranges`.
    pub const ACCEPT_RANGES: u64 = 1 << 3;
    /// `Access-Control-Allow-Origin` (`--cors-origins`).
    pub const ACCESS_CONTROL_ALLOW_ORIGIN: u64 = 1 << 4;
    const FIXED: [&str; 5] = [
        "content-type",
        "cache-control",
        "vary",
        "accept-ranges",
        "access-control-allow-origin",
    ];
    /// Extra lines past this many are compared by name: the fixed bits and these fill a u64.
    const EXTRA_BITS: usize = 64 - Server::FIXED.len();

    /// The bit of extra header line `i`, if it has one.
    fn extra(i: usize) -> Option<u64> {
        (i < Server::EXTRA_BITS).then(|| 1 << (Server::FIXED.len() + i))
    }
}

/// The blocks, in order, with an index by first literal segment.
#[derive(Debug, Default)]
pub struct HeaderRules {
    blocks: Vec<Block>,
    index: Index<u16>,
    /// Every name the blocks set or remove, lowercase, numbered by position.
    names: Vec<Box<str>>,
}

/// The blocks that matched one request: what the response head needs.
#[derive(Clone, Copy, Debug)]
pub struct Matched<'a> {
    rules: &'a HeaderRules,
    blocks: &'a [u16],
    /// The union of the blocks' [`Server`] bits.
    replaces: u64,
    /// The request's normalised path, which placeholders in values are filled from.
    asked: &'a [u8],
    /// For an authenticated request: the blocks' `Cache-Control` is written privatized
    /// (`cache_control::privatize`), and a block's removal leaves `private` alone.
    private: bool,
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
        return Err(
            "Basic-Auth is not honoured (it holds plain passwords): use --basic-auth with an \
             htpasswd file"
                .to_string(),
        );
    }
    Ok(name.to_ascii_lowercase().into())
}

/// RFC 9110 §5.5: no CR, LF, NUL or other controls in a value.
fn check_value(name: &str, value: &str) -> Result<(), String> {
    crate::config::check_header_value(value).map_err(|e| format!("{name}: {e}"))
}

impl Block {
    /// Compiles `spec`, numbering names in `names`; `extras` are the lowercase names of the
    /// server's extra header lines.
    fn compile(
        spec: &HeaderSpec,
        extras: &[String],
        names: &mut Vec<Box<str>>,
    ) -> Result<Block, String> {
        let pattern = Pattern::parse(&spec.pattern, Hosts::Placeholders)?;
        let mut id = |lower: Box<str>| -> Result<u16, String> {
            let n = match names.iter().position(|n| *n == lower) {
                Some(n) => n,
                None => {
                    names.push(lower);
                    names.len() - 1
                }
            };
            u16::try_from(n).map_err(|_| format!("more than {} header names", u16::MAX))
        };
        let mut set = Vec::new();
        for (name, value) in &spec.set {
            let lower = check_name(name)?;
            check_value(name, value)?;
            let (joins, metadata) = (
                &*lower != "set-cookie",
                matches!(&*lower, "content-type" | "content-language"),
            );
            set.push(Line {
                id: id(lower)?,
                name: name.as_str().into(),
                value: Template::parse(value, pattern.names(), pattern.has_splat()),
                joins,
                metadata,
            });
        }
        let mut remove = Vec::new();
        for name in &spec.remove {
            remove.push(id(check_name(name)?)?);
        }
        let touches = |server: &str| {
            let id = names.iter().position(|n| **n == *server);
            // A `Vary` a block sets is sent beside the server's, never instead: the server's
            // names what its own selection depends on (RFC 9110 §12.5.5), which a cache needs.
            let sets = server != "vary";
            id.is_some_and(|id| {
                sets && set.iter().any(|l| usize::from(l.id) == id)
                    || remove.iter().any(|&r| usize::from(r) == id)
            })
        };
        let fixed = Server::FIXED.iter().enumerate();
        let extra = extras.iter().enumerate().filter_map(|(i, name)| {
            let bit = Server::extra(i)?;
            Some((bit, name.as_str()))
        });
        let replaces = fixed
            .map(|(i, name)| (1 << i, *name))
            .chain(extra)
            .filter(|(_, name)| touches(name))
            .fold(0, |bits, (bit, _)| bits | bit);
        let unique = set
            .iter()
            .enumerate()
            .all(|(j, l)| !set[..j].iter().any(|e| e.id == l.id));
        let render = |keep: &dyn Fn(&Line) -> bool| -> Box<[u8]> {
            let mut out = Vec::new();
            for l in set.iter().filter(|l| keep(l)) {
                out.extend_from_slice(l.name.as_bytes());
                out.extend_from_slice(b": ");
                l.value
                    .write(&mut out, &Captures::default(), b"", None, Into::Header);
                out.extend_from_slice(b"\r\n");
            }
            out.into()
        };
        let fixed = set.iter().all(|l| l.value.is_fixed());
        let plain = (remove.is_empty() && unique && fixed).then(|| Rendered {
            all: render(&|_| true),
            not_modified: render(&|l| !l.metadata),
        });
        Ok(Block {
            pattern,
            set,
            remove,
            replaces,
            plain,
        })
    }
}

impl HeaderRules {
    /// Compiles `specs` in order; `extras` names the server's extra header lines (`--header`,
    /// nosniff) in the order it writes them. Every problem is one line, `ORIGIN: what`.
    pub fn compile(specs: &[HeaderSpec], extras: &[&str]) -> (HeaderRules, Vec<String>) {
        let extras: Vec<String> = extras.iter().map(|n| n.to_ascii_lowercase()).collect();
        let mut r = HeaderRules::default();
        let mut problems = Vec::new();
        for spec in specs {
            if r.blocks.len() == MAX_BLOCKS {
                problems.push(format!("{}: more than {MAX_BLOCKS} blocks", spec.origin));
                break;
            }
            match Block::compile(spec, &extras, &mut r.names) {
                Ok(block) => {
                    let n = u16::try_from(r.blocks.len()).unwrap_or(u16::MAX);
                    r.index.insert(block.pattern.first_literal(), n);
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
        let mut caps = Captures::default();
        out.extend(self.index.in_order(rel).filter(|&n| {
            self.blocks
                .get(usize::from(n))
                .is_some_and(|b| b.pattern.matches(host, rel, &mut caps))
        }));
    }

    /// `blocks` (from [`HeaderRules::matching`]) ready for a response head.
    /// `asked` is the request's normalised path they matched.
    pub fn matched<'a>(&'a self, blocks: &'a [u16], asked: &'a [u8]) -> Matched<'a> {
        let replaces = blocks
            .iter()
            .filter_map(|&n| self.blocks.get(usize::from(n)))
            .fold(0, |bits, b| bits | b.replaces);
        Matched {
            rules: self,
            blocks,
            replaces,
            asked,
            private: false,
        }
    }
}

impl Matched<'_> {
    /// The blocks for the response to an authenticated request, which a shared cache must
    /// never store: a `Cache-Control` they set gets `private` first, and one they remove is
    /// replaced by `private` alone.
    pub fn private(self) -> Self {
        Matched {
            private: true,
            ..self
        }
    }

    fn is_cache_control(&self, line: &Line) -> bool {
        self.rules
            .names
            .get(usize::from(line.id))
            .is_some_and(|n| &**n == "cache-control")
    }

    fn blocks(&self) -> impl Iterator<Item = (usize, &Block)> {
        self.blocks
            .iter()
            .enumerate()
            .filter_map(|(i, &n)| Some((i, self.rules.blocks.get(usize::from(n))?)))
    }

    /// Whether a block sets or removes the server's header `bit` (a [`Server`] constant): the
    /// server's own is then not sent.
    pub fn replaces(&self, bit: u64) -> bool {
        self.replaces & bit != 0
    }

    /// Whether a block sets or removes the server's extra header line `i`, named `name`.
    pub fn replaces_extra(&self, i: usize, name: &[u8]) -> bool {
        match Server::extra(i) {
            Some(bit) => self.replaces(bit),
            None => self.overrides(name),
        }
    }

    /// Whether a block sets or removes header `name` (any case).
    fn overrides(&self, name: &[u8]) -> bool {
        let Some(id) = self
            .rules
            .names
            .iter()
            .position(|n| n.as_bytes().eq_ignore_ascii_case(name))
        else {
            return false;
        };
        self.blocks().any(|(_, b)| {
            b.set.iter().any(|l| usize::from(l.id) == id)
                || b.remove.iter().any(|&r| usize::from(r) == id)
        })
    }

    /// Whether a matched block after the `i`th removes name `id`.
    fn removed_after(&self, i: usize, id: u16) -> bool {
        self.blocks()
            .skip(i + 1)
            .any(|(_, b)| b.remove.contains(&id))
    }

    /// Whether line `id` of matched block `i` is sent: not removed by a later block, and no
    /// content metadata on a 304.
    fn sent(&self, i: usize, line: &Line, not_modified: bool) -> bool {
        !(self.removed_after(i, line.id) || not_modified && line.metadata)
    }

    /// Writes `line`'s value, its placeholders filled from what `block`'s pattern matched.
    fn value(&self, w: &mut HeadWriter<'_>, block: &Block, line: &Line) {
        let mut caps = Captures::default();
        if !line.value.is_fixed() {
            block.pattern.matches_path(self.asked, &mut caps);
        }
        line.value
            .write(w.buffer(), &caps, self.asked, None, Into::Header);
    }

    /// Writes the headers the blocks set and do not remove later; for a 304 (`not_modified`)
    /// without the content metadata it must not repeat (RFC 9110 §15.4.5).
    pub fn write(&self, w: &mut HeadWriter<'_>, not_modified: bool) {
        if let [n] = self.blocks
            && let Some(Block {
                plain: Some(plain),
                replaces,
                ..
            }) = self.rules.blocks.get(usize::from(*n))
            && !(self.private && replaces & Server::CACHE_CONTROL != 0)
        {
            // One block, no name twice: its lines as they are (the common case).
            w.raw(if not_modified {
                &plain.not_modified
            } else {
                &plain.all
            });
            return;
        }
        let mut private_pending = self.private && self.replaces(Server::CACHE_CONTROL);
        for (i, block) in self.blocks() {
            for (j, line) in block.set.iter().enumerate() {
                if !self.sent(i, line, not_modified) {
                    continue;
                }
                // Joined values go out with the first line of their name that is sent.
                let earlier = line.joins
                    && self.blocks().take(i + 1).any(|(k, b)| {
                        let lines = if k == i { &b.set[..j] } else { &b.set[..] };
                        lines
                            .iter()
                            .any(|l| l.id == line.id && self.sent(k, l, not_modified))
                    });
                if earlier {
                    continue;
                }
                w.raw(line.name.as_bytes()).raw(b": ");
                let start = w.buffer().len();
                self.value(w, block, line);
                if line.joins {
                    let later = self.blocks().skip(i).flat_map(|(k, b)| {
                        let from = if k == i { j + 1 } else { 0 };
                        b.set[from..].iter().map(move |l| (k, b, l))
                    });
                    for (k, b, l) in later {
                        if l.id == line.id && self.sent(k, l, not_modified) {
                            w.raw(b", ");
                            self.value(w, b, l);
                        }
                    }
                }
                if self.private && self.is_cache_control(line) {
                    cache_control::privatize(w.buffer(), start);
                    private_pending = false;
                }
                w.raw(b"\r\n");
            }
        }
        if private_pending {
            w.raw(b"Cache-Control: private\r\n");
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
        let (r, problems) = HeaderRules::compile(&specs, &["X-Content-Type-Options", "X-B"]);
        assert_eq!(problems, Vec::<String>::new());
        r
    }

    /// The lines the rules add for `rel`, and which of `names` they override.
    fn lines(r: &HeaderRules, rel: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        r.matching(Some(b"example.com"), rel.as_bytes(), &mut blocks);
        let mut out = Vec::new();
        let mut w = HeadWriter::new(&mut out, Status::Ok);
        r.matched(&blocks, rel.as_bytes()).write(&mut w, false);
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
    fn values_take_the_patterns_placeholders() {
        // Cloudflare's example, a splat, and a value with a colon that is no placeholder.
        let r = rules(
            "/movies/:title\n  X-Movie: You are watching \":title\"\n\
             /static/*\n  X-Path: :splat\n  X-Time: 10:30\n",
        );
        assert_eq!(
            lines(&r, "movies/star"),
            ["X-Movie: You are watching \"star\""]
        );
        assert_eq!(
            lines(&r, "static/a/b\r\nX-Evil: 1"),
            ["X-Path: a/b%0D%0AX-Evil: 1", "X-Time: 10:30"]
        );
    }

    #[test]
    fn a_304_repeats_no_content_metadata() {
        // One plain block (the pre-rendered path), then the same lines over two blocks.
        for text in [
            "/a\n  Content-Type: text/x\n  X-A: 1\n  Content-Language: en\n",
            "/a\n  Content-Type: text/x\n/*\n  X-A: 1\n  Content-Language: en\n",
        ] {
            let r = rules(text);
            let mut blocks = Vec::new();
            r.matching(None, b"a", &mut blocks);
            for (not_modified, want) in [
                (
                    false,
                    "Content-Type: text/x\r\nX-A: 1\r\nContent-Language: en\r\n",
                ),
                (true, "X-A: 1\r\n"),
            ] {
                let mut out = Vec::new();
                r.matched(&blocks, b"a")
                    .write(&mut HeadWriter::new(&mut out, Status::Ok), not_modified);
                let text = String::from_utf8(out).unwrap();
                assert!(text.ends_with(&format!("GMT\r\n{want}")), "{text:?}");
            }
        }
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
        let m = r.matched(&blocks, b"private/x");
        assert!(m.replaces(Server::CACHE_CONTROL) && m.overrides(b"X-a"));
        assert!(!m.replaces(Server::CONTENT_TYPE) && !m.replaces(Server::VARY));
        let r = rules("/a\n  Vary: Origin\n/b\n  ! Vary\n");
        for (rel, replaced) in [("a", false), ("b", true)] {
            let mut blocks = Vec::new();
            r.matching(None, rel.as_bytes(), &mut blocks);
            let m = r.matched(&blocks, rel.as_bytes());
            assert_eq!(m.replaces(Server::VARY), replaced, "{rel}");
        }
        assert!(!m.replaces_extra(0, b"x-content-type-options"));
        assert!(m.replaces_extra(1, b"x-b"), "the first block sets X-B");
        assert!(m.replaces_extra(70, b"x-a") && !m.replaces_extra(70, b"x-c"));
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
        let (r, problems) = HeaderRules::compile(&specs, &[]);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].starts_with("h:10: "), "{problems:?}");
        assert_eq!(r.len(), 4);
    }
}
