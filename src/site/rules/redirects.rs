//! Redirect and rewrite rules: the `_redirects` file's syntax (Netlify's, which Cloudflare Pages
//! also reads: `FROM [name=value…] TO [STATUS][!]`), compiling a rule, finding the first that
//! applies to a request, and writing its target. It owns what a rule means; it must never open
//! a file or decide whether one exists at FROM (the pipeline knows, and asks for forced or
//! unforced rules accordingly).

use percent_encoding::{AsciiSet, CONTROLS, percent_encode, utf8_percent_encode};

use super::index::Index;
use super::pattern::{Captures, Hosts, MAX_PARAMS, Pattern, Span, param_name};
use super::template::{Into, QUERY, Template};
use crate::config::RedirectSpec;
use crate::http::response::Status;

/// What a rule does once it applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Answer with this redirect status and the target as `Location`.
    Redirect(Status),
    /// Serve the target's content under the request's URL (200).
    Rewrite,
    /// Serve the target's content with 404.
    NotFound,
}

/// A query parameter a rule requires.
#[derive(Clone, Debug, PartialEq, Eq)]
struct QueryMatch {
    name: Box<str>,
    /// Bound to this placeholder number, or `None`: the value must equal `value`.
    param: Option<usize>,
    value: Box<str>,
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Redirect {
    from: Pattern,
    query: Vec<QueryMatch>,
    to: Template,
    /// Whether the target is on another site (`https://…`).
    external: bool,
    /// What it does.
    pub action: Action,
    /// Whether it applies even where a file exists.
    pub force: bool,
}

/// The rules, in order, with an index by first literal segment.
#[derive(Debug, Default)]
pub struct Redirects {
    rules: Vec<Redirect>,
    /// Forced and unforced rules apart: each lookup wants one kind, and most requests need
    /// only the (usually short) forced list.
    forced: Index<u32>,
    unforced: Index<u32>,
}

/// Which rules a lookup considers. The first rule that applies wins, in file order; an
/// unforced one applies only where no file answers (Netlify's shadowing), which the pipeline
/// knows: it asks for the first forced rule, and for an unforced one before it only then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Forced,
    Unforced,
}

/// What of a request the rules match: its host, normalised path, and URL as sent.
#[derive(Clone, Copy, Debug)]
pub struct Asked<'a> {
    /// `Host` (or the absolute-form authority).
    pub host: Option<&'a [u8]>,
    /// The decoded, normalised root-relative path.
    pub rel: &'a [u8],
    /// The path as sent, to recognise a redirect to the URL asked for.
    pub path: &'a str,
    /// The raw query.
    pub query: Option<&'a str>,
}

/// A rule that applies, with what its placeholders matched.
#[derive(Debug)]
pub struct Applied<'r> {
    /// The rule.
    pub rule: &'r Redirect,
    /// Its place in the file (config-file rules after the file's).
    pub number: u32,
    caps: Captures,
    /// The target when the lookup already wrote it (a redirect on this site, to compare with
    /// the URL asked for): a lookup that only needs to know which rule applies, and finds a
    /// rewrite, allocates nothing.
    target: Option<String>,
}

/// Statuses a rule may have (`_redirects`' STATUS, a config table's `status`).
const STATUSES: &str = "200, 301, 302, 303, 307, 308 or 404";

/// What a target as written may hold that a URI may not: spaces and non-ASCII bytes (controls
/// are refused).
const NON_URI: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>');

/// Parses the text of a `_redirects` file named `file`: the rules, and every problem, one line
/// each, as `FILE:LINE: what`.
pub fn parse_file(text: &str, file: &str) -> (Vec<RedirectSpec>, Vec<String>) {
    let mut specs = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let origin = format!("{file}:{}", i + 1);
        match parse_line(line, &origin) {
            Ok(Some(spec)) => specs.push(spec),
            Ok(None) => {}
            Err(e) => problems.push(format!("{origin}: {e}")),
        }
    }
    (specs, problems)
}

/// One line: a rule, nothing (blank or comment), or why it is not one.
fn parse_line(line: &str, origin: &str) -> Result<Option<RedirectSpec>, String> {
    // A comment runs from a `#` that starts a word to the end of the line.
    let mut words = line
        .split_ascii_whitespace()
        .take_while(|w| !w.starts_with('#'));
    let Some(from) = words.next() else {
        return Ok(None);
    };
    let mut query = Vec::new();
    let to = loop {
        let Some(word) = words.next() else {
            return Err(format!("rule for {from} has no target"));
        };
        if is_target(word) {
            break word;
        }
        let Some((name, value)) = word.split_once('=') else {
            return Err(format!(
                "{word:?} is neither a target (/path or https://…) nor a query parameter name=value"
            ));
        };
        query.push((name.to_string(), value.to_string()));
    };
    let (status, force) = match words.next() {
        None => (301, false),
        Some(word) => {
            let (code, force) = match word.strip_suffix('!') {
                Some(code) => (code, true),
                None => (word, false),
            };
            let status = code
                .parse::<u16>()
                .map_err(|_| format!("{word:?} is not a status ({STATUSES}, with ! to force)"))?;
            (status, force)
        }
    };
    if let Some(extra) = words.next() {
        return Err(if extra.contains('=') {
            format!(
                "conditions such as {extra:?} (country, language, role, cookie) are not supported"
            )
        } else {
            format!("unexpected {extra:?} after the status")
        });
    }
    Ok(Some(RedirectSpec {
        from: from.to_string(),
        query,
        to: to.to_string(),
        status,
        force,
        origin: origin.to_string(),
    }))
}

fn is_target(word: &str) -> bool {
    word.starts_with('/') || word.starts_with("https://") || word.starts_with("http://")
}

impl Redirect {
    /// Compiles a rule; the error says what is wrong, without the origin.
    pub fn compile(spec: &RedirectSpec) -> Result<Redirect, String> {
        let from = Pattern::parse(&spec.from, Hosts::Plain)?;
        let mut names: Vec<Box<str>> = from.names().to_vec();
        let mut query = Vec::new();
        for (name, value) in &spec.query {
            if name.is_empty() {
                return Err(format!("query parameter {name}={value} has no name"));
            }
            let param = match param_name(value) {
                Some(p) => {
                    if names.iter().any(|n| **n == *p) {
                        return Err(format!("placeholder :{p} is bound twice"));
                    }
                    if names.len() == MAX_PARAMS {
                        return Err(format!("more than {MAX_PARAMS} placeholders"));
                    }
                    names.push(p.into());
                    Some(names.len() - 1)
                }
                None => None,
            };
            query.push(QueryMatch {
                name: name.as_str().into(),
                param,
                value: value.as_str().into(),
            });
        }
        let action = match spec.status {
            200 => Action::Rewrite,
            404 => Action::NotFound,
            301 => Action::Redirect(Status::MovedPermanently),
            302 => Action::Redirect(Status::Found),
            303 => Action::Redirect(Status::SeeOther),
            307 => Action::Redirect(Status::TemporaryRedirect),
            308 => Action::Redirect(Status::PermanentRedirect),
            other => return Err(format!("status {other} is not one of {STATUSES}")),
        };
        let external = spec.to.starts_with("https://") || spec.to.starts_with("http://");
        if !external && !spec.to.starts_with('/') {
            return Err(format!(
                "target {:?} must be a path (/…) or a URL (https://…)",
                spec.to
            ));
        }
        if external && !matches!(action, Action::Redirect(_)) {
            return Err(format!(
                "target {:?} is on another site: proxying (status {}) is not supported, only redirects (3xx)",
                spec.to, spec.status
            ));
        }
        if spec.to.bytes().any(|b| b.is_ascii_control()) {
            return Err(format!("target {:?} has control characters", spec.to));
        }
        // A Location is ASCII (RFC 9110 §10.2.2, a URI-reference): `/über-uns` goes out as
        // `/%C3%BCber-uns`, as a browser would send it.
        let to: String = utf8_percent_encode(&spec.to, NON_URI).to_string();
        let to = Template::parse(&to, &names, from.has_splat());
        let scheme = spec.to.find("://").map_or(0, |i| i + 3);
        if external && to.fills_host(scheme) {
            return Err(format!(
                "target {:?}: a placeholder in the host would let a request choose the site",
                spec.to
            ));
        }
        Ok(Redirect {
            to,
            from,
            query,
            external,
            action,
            force: spec.force,
        })
    }

    /// Whether the rule applies to `rel` on `host` with `query`; its captures if so.
    fn applies(&self, host: Option<&[u8]>, rel: &[u8], query: Option<&str>) -> Option<Captures> {
        let mut caps = Captures::default();
        if !self.from.matches(host, rel, &mut caps) {
            return None;
        }
        for want in &self.query {
            let q = query?;
            let (start, value) = query_value(q, &want.name)?;
            match want.param {
                Some(n) => {
                    if value.is_empty() {
                        return None;
                    }
                    caps.params[n] = Span {
                        start,
                        end: start + value.len(),
                        query: true,
                    };
                }
                None if value != &*want.value => return None,
                None => {}
            }
        }
        Some(caps)
    }
}

/// The raw value of the first `name=…` in `query`, with its offset.
fn query_value<'q>(query: &'q str, name: &str) -> Option<(usize, &'q str)> {
    let mut at = 0;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            return Some((at + k.len() + usize::from(pair.len() > k.len()), v));
        }
        at += pair.len() + 1;
    }
    None
}

impl Redirects {
    /// Compiles `specs` in order; every problem is one line, `ORIGIN: what`.
    pub fn compile(specs: &[RedirectSpec]) -> (Redirects, Vec<String>) {
        let mut r = Redirects::default();
        let mut problems = Vec::new();
        for spec in specs {
            match Redirect::compile(spec) {
                Ok(rule) => {
                    let n = u32::try_from(r.rules.len()).unwrap_or(u32::MAX);
                    let index = if rule.force {
                        &mut r.forced
                    } else {
                        &mut r.unforced
                    };
                    index.insert(rule.from.first_literal(), n);
                    r.rules.push(rule);
                }
                Err(e) => problems.push(format!("{}: {e}", spec.origin)),
            }
        }
        (r, problems)
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether any rule is of kind `which`: most sites have no forced rules, and then the
    /// lookup before the file is skipped.
    pub fn any(&self, which: Which) -> bool {
        match which {
            Which::Forced => !self.forced.is_empty(),
            Which::Unforced => !self.unforced.is_empty(),
        }
    }

    /// The first rule of kind `which`, in file order, that applies to `asked`. A redirect to
    /// the very URL asked for does not apply (`/a/ /a/ 301`, which trailing-slash-blind
    /// matching would otherwise answer forever); the next rule is tried.
    pub fn first(&self, which: Which, asked: &Asked<'_>) -> Option<Applied<'_>> {
        self.first_before(which, asked, u32::MAX)
    }

    /// [`Redirects::first`] among the rules written before rule number `before`.
    pub fn first_before(
        &self,
        which: Which,
        asked: &Asked<'_>,
        before: u32,
    ) -> Option<Applied<'_>> {
        if !self.any(which) {
            return None;
        }
        let index = match which {
            Which::Forced => &self.forced,
            Which::Unforced => &self.unforced,
        };
        let mut candidates = index.in_order(asked.rel).take_while(|&n| n < before);
        candidates.find_map(|n| {
            let rule = self.rules.get(n as usize)?;
            let caps = rule.applies(asked.host, asked.rel, asked.query)?;
            if !matches!(rule.action, Action::Redirect(_)) || rule.external {
                return Some(Applied {
                    rule,
                    number: n,
                    caps,
                    target: None,
                });
            }
            let target = rule.target(&caps, asked.rel, asked.query);
            let to_itself = target
                .strip_prefix(asked.path)
                .is_some_and(|rest| match asked.query {
                    None => rest.is_empty(),
                    Some(q) => rest.strip_prefix('?') == Some(q) || rest.is_empty() && q.is_empty(),
                });
            (!to_itself).then_some(Applied {
                rule,
                number: n,
                caps,
                target: Some(target),
            })
        })
    }
}

impl Applied<'_> {
    /// The target: a `Location` for a redirect, the path to serve for a rewrite; `asked` is
    /// what the rule was found for.
    pub fn target(self, asked: &Asked<'_>) -> String {
        match self.target {
            Some(target) => target,
            None => self.rule.target(&self.caps, asked.rel, asked.query),
        }
    }
}

impl Redirect {
    /// The target with the placeholders filled in from `caps` (over `rel` and `query`). A
    /// redirect whose rule has no query parameters passes the request's query on, as Netlify
    /// does.
    fn target(&self, caps: &Captures, rel: &[u8], query: Option<&str>) -> String {
        let mut bytes = Vec::new();
        self.to.write(&mut bytes, caps, rel, query, Into::Url);
        // ASCII: the template was percent-encoded when compiled, and so are the values.
        let mut out = String::from_utf8_lossy(&bytes).into_owned();
        if !self.external {
            // A path on this server: `//host` or `/\host` would be read as another host.
            let keep = out.trim_start_matches(['/', '\\']).len();
            out.replace_range(..out.len() - keep, "/");
        }
        if let (Action::Redirect(_), true, Some(q)) = (self.action, self.query.is_empty(), query)
            && !q.is_empty()
        {
            let fragment = out.find('#').unwrap_or(out.len());
            let sep = if out[..fragment].contains('?') {
                '&'
            } else {
                '?'
            };
            let q = percent_encode(q.as_bytes(), QUERY);
            out.insert_str(fragment, &format!("{sep}{q}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Redirects {
        let (specs, problems) = parse_file(text, "_redirects");
        assert_eq!(problems, Vec::<String>::new());
        let (r, problems) = Redirects::compile(&specs);
        assert_eq!(problems, Vec::<String>::new());
        r
    }

    /// The target and status of the first rule for `url` (path and query), among `which`.
    fn answer(r: &Redirects, which: Which, url: &str) -> Option<(String, Action)> {
        let (path, query) = match url.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (url, None),
        };
        let mut rel = Vec::new();
        crate::site::resolve::normalize(path, &mut rel).unwrap();
        let asked = Asked {
            host: Some(b"example.com"),
            rel: &rel,
            path,
            query,
        };
        let applied = r.first(which, &asked)?;
        let action = applied.rule.action;
        Some((applied.target(&asked), action))
    }

    #[test]
    fn netlify_examples() {
        use Action::*;
        let r = rules(
            "# comments and blank lines\n\n\
             /home              /                  \n\
             /blog/my-post.php  /blog/my-post      302\n\
             /google            https://www.google.com\n\
             /news/:year/:month/:date/:slug  /blog/:year/:month/:date/:slug\n\
             /news/*            /blog/:splat\n\
             /store id=:id      /blog/:id          301\n\
             /pass-through      /index.html        200\n\
             /ecommerce         /store-closed      404\n\
             /old/*             /new/:splat        308!   # forced\n\
             /see               /other             303\n\
             /temp              /t?from=temp       307\n\
             /ueber             /über-uns\n",
        );
        let u = Which::Unforced;
        let moved = Redirect(Status::MovedPermanently);
        for (url, want) in [
            ("/home", Some(("/", moved))),
            ("/home/", Some(("/", moved))),
            ("/home?a=1", Some(("/?a=1", moved))),
            (
                "/blog/my-post.php",
                Some(("/blog/my-post", Redirect(Status::Found))),
            ),
            ("/google", Some(("https://www.google.com", moved))),
            ("/google?q=x", Some(("https://www.google.com?q=x", moved))),
            (
                "/news/2004/02/12/my-story",
                Some(("/blog/2004/02/12/my-story", moved)),
            ),
            ("/news/a/b", Some(("/blog/a/b", moved))),
            ("/news", Some(("/blog/", moved))),
            (
                "/store?id=my-blog-post",
                Some(("/blog/my-blog-post", moved)),
            ),
            ("/store?x=1&id=a%20b", Some(("/blog/a%20b", moved))),
            ("/store", None),
            ("/store?id=", None),
            ("/pass-through", Some(("/index.html", Rewrite))),
            ("/ecommerce", Some(("/store-closed", NotFound))),
            ("/see", Some(("/other", Redirect(Status::SeeOther)))),
            (
                "/temp?x=1",
                Some(("/t?from=temp&x=1", Redirect(Status::TemporaryRedirect))),
            ),
            ("/ueber", Some(("/%C3%BCber-uns", moved))),
            ("/old/x", None),
            ("/nothing", None),
        ] {
            let got = answer(&r, u, url);
            let want = want.map(|(t, a)| (t.to_string(), a));
            assert_eq!(got, want, "{url}");
        }
        let forced = answer(&r, Which::Forced, "/old/a/b?q").unwrap();
        assert_eq!(
            forced,
            ("/new/a/b?q".into(), Redirect(Status::PermanentRedirect))
        );
        assert_eq!(answer(&r, Which::Forced, "/home"), None);
    }

    #[test]
    fn first_match_wins_across_the_index() {
        let r = rules("/* /all 302\n/a /a-only 302\n/a/* /a-star 302\n");
        assert_eq!(answer(&r, Which::Unforced, "/a").unwrap().0, "/all");
        let r = rules("/a /a-only 302\n/* /all 302\n/b/* /b 302\n");
        assert_eq!(answer(&r, Which::Unforced, "/a").unwrap().0, "/a-only");
        assert_eq!(answer(&r, Which::Unforced, "/b/c").unwrap().0, "/all");
    }

    #[test]
    fn captured_values_cannot_change_the_target_shape() {
        let r = rules("/p/:x /q/:x 302\n/s/* /t/:splat 302\n/h/* //:splat 302\n");
        let u = Which::Unforced;
        // A decoded `?`, `#` or `/` in a placeholder stays inside its segment.
        assert_eq!(answer(&r, u, "/p/a%3Fb%23c").unwrap().0, "/q/a%3Fb%23c");
        assert_eq!(answer(&r, u, "/p/%25").unwrap().0, "/q/%25");
        assert_eq!(answer(&r, u, "/s/a/b%20c").unwrap().0, "/t/a/b%20c");
        // Never a scheme-relative `//host` Location, whatever the rule wrote.
        assert_eq!(answer(&r, u, "/h/evil.example").unwrap().0, "/evil.example");
        // A `:name` the pattern does not bind is text, as Cloudflare leaves it.
        let r = rules("/s /wiki/Special:Search 301\n/t /a/:splat 301\n");
        assert_eq!(answer(&r, u, "/s").unwrap().0, "/wiki/Special:Search");
        assert_eq!(answer(&r, u, "/t").unwrap().0, "/a/:splat");
        // Query values go out escaped as a query may hold them.
        let r = rules("/q p=:p /dest?v=:p 302\n/z /to 302\n");
        assert_eq!(
            answer(&r, u, "/q?p=%C3%A9\"<b>").unwrap().0,
            "/dest?v=%C3%A9%22%3Cb%3E"
        );
        assert_eq!(answer(&r, u, "/z?a={b}").unwrap().0, "/to?a=%7Bb%7D");
        let r = rules("/x/* /:splat 302\n");
        assert_eq!(answer(&r, u, "/x/evil.example").unwrap().0, "/evil.example");
    }

    #[test]
    fn bad_lines_name_their_line() {
        let (specs, problems) = parse_file(
            "/ok /fine\n\
             /no-target\n\
             /a /b 299\n\
             /a /b 301 Country=us\n\
             /a word /b\n\
             /a /b 200x\n",
            "site/_redirects",
        );
        assert_eq!(specs.len(), 2);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(
            problems[0].starts_with("site/_redirects:2: "),
            "{problems:?}"
        );
        assert!(problems[1].contains("Country"), "{problems:?}");
        assert!(
            problems[2].starts_with("site/_redirects:5: "),
            "{problems:?}"
        );
        assert!(
            problems[3].starts_with("site/_redirects:6: "),
            "{problems:?}"
        );
        let (_, problems) = Redirects::compile(&specs);
        assert_eq!(problems.len(), 1);
        assert!(
            problems[0].starts_with("site/_redirects:3: status 299"),
            "{problems:?}"
        );
    }

    #[test]
    fn bad_rules_are_refused() {
        for (from, to, status) in [
            ("/a", "https://api.example.com/x", 200),
            ("/a", "https://api.example.com/x", 404),
            ("/s/*", "https://:splat", 302),
            ("/go/*", "https://a.:splat.example/", 302),
            ("a", "/b", 301),
            ("/a", "b", 301),
            ("/a", "/b\u{7f}", 301),
            ("/a", "/b\nLocation: x", 301),
        ] {
            let spec = RedirectSpec {
                from: from.into(),
                query: Vec::new(),
                to: to.into(),
                status,
                force: false,
                origin: "t:1".into(),
            };
            assert!(Redirect::compile(&spec).is_err(), "{from} {to} {status}");
        }
    }
}
