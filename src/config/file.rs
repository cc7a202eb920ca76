//! The `--config` file: TOML whose top-level keys are the serving options under their long flags'
//! names (`header-timeout = "15s"`, `header = ["X-Frame-Options: DENY"]`), plus Netlify's
//! `[[redirects]]` and `[[headers]]` tables. It owns reading the file, checking each option's type
//! and then its value with the flag's own clap parser (so the file accepts exactly what the
//! command line does), and the shape of the rule tables; every problem is one line naming
//! `FILE:LINE` and the key. It must never decide precedence (`config.rs` does, from clap's value
//! sources) nor compile or judge a rule's pattern or target (`site/rules/` does).

use std::any::TypeId;
use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use clap::{Arg, ArgAction, Command};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{HeaderSpec, RedirectSpec};

/// What a config file says: options as the command-line arguments that say the same, and the
/// rule tables as written.
#[derive(Debug, Default)]
pub struct FileConfig {
    settings: Vec<Setting>,
    /// `[[redirects]]`, in file order.
    pub redirects: Vec<RedirectSpec>,
    /// `[[headers]]`, in file order.
    pub header_rules: Vec<HeaderSpec>,
}

/// One option set in the file.
#[derive(Debug)]
struct Setting {
    /// The clap id of its argument, for `ArgMatches::value_source`.
    id: String,
    /// `--long=value` once per value; empty for a flag set to `false`.
    args: Vec<OsString>,
}

impl FileConfig {
    /// The arguments of the options for which `fill(id)` holds, to append to the command line.
    pub fn args_where(&self, mut fill: impl FnMut(&str) -> bool) -> Vec<OsString> {
        self.settings
            .iter()
            .filter(|s| fill(&s.id))
            .flat_map(|s| s.args.iter().cloned())
            .collect()
    }
}

/// One thing wrong with a config file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `FILE:LINE`, or `FILE` when the file could not be read.
    pub at: String,
    /// The key, dotted below the top level (`redirects.status`), if one is to blame.
    pub key: Option<String>,
    /// What is wrong, and what would be right.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "{}: key {key:?}: {}", self.at, self.reason),
            None => write!(f, "{}: {}", self.at, self.reason),
        }
    }
}

/// Every problem of one file, in file order. Shown as one line (the first problem) where a
/// startup error must be one line; `muxserve check` lists them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => write!(f, "no problem"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(
                f,
                "{first} (and {} more; muxserve check lists them)",
                rest.len()
            ),
        }
    }
}

impl std::error::Error for Problems {}

/// Reads and checks `path` against the options of `cmd` (the command that serves, or `check`).
pub fn load(path: &Path, cmd: &Command) -> Result<FileConfig, Problems> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            at: name.clone(),
            key: None,
            reason: format!("cannot read the config file: {e}"),
        }])
    })?;
    parse(&name, &text, cmd)
}

/// Checks `text`, the contents of the file called `name`.
pub fn parse(name: &str, text: &str, cmd: &Command) -> Result<FileConfig, Problems> {
    let doc = DeTable::parse(text).map_err(|e| {
        Problems(vec![Problem {
            at: at(name, text, e.span().map_or(0, |s| s.start)),
            key: None,
            reason: e.message().to_string(),
        }])
    })?;
    let mut reader = Reader {
        name,
        text,
        // Values are tried alone: no variable may fill in for a missing one.
        cmd: cmd.clone().mut_args(|a| a.env(None)),
        problems: Vec::new(),
    };
    let mut out = FileConfig::default();
    for (key, value) in in_file_order(doc.get_ref()) {
        let key_name: &str = key.get_ref();
        match key_name {
            "redirects" => {
                for table in reader.tables(key, value, "redirects") {
                    out.redirects.extend(reader.redirect(table));
                }
            }
            "headers" => {
                for table in reader.tables(key, value, "headers") {
                    out.header_rules.extend(reader.header_rule(table));
                }
            }
            _ => out.settings.extend(reader.setting(key, value)),
        }
    }
    if reader.problems.is_empty() {
        Ok(out)
    } else {
        Err(Problems(reader.problems))
    }
}

/// A table's entries in the order they were written (the map keeps them sorted by name).
fn in_file_order<'a, 'i>(
    table: &'a DeTable<'i>,
) -> Vec<(
    &'a Spanned<toml::de::DeString<'i>>,
    &'a Spanned<DeValue<'i>>,
)> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// `FILE:LINE` of a byte offset.
fn at(name: &str, text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    format!("{name}:{}", before.matches('\n').count() + 1)
}

/// The closest of `candidates` to a misspelt `key`, if any is close.
fn closest<'c>(key: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    // clap's own threshold for its "a similar argument exists" hints.
    candidates
        .map(|c| (strsim::jaro(key, c), c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn unknown(key: &str, candidates: impl Iterator<Item = &'static str>, known: &str) -> String {
    match closest(key, candidates) {
        Some(c) => format!("unknown {known} (did you mean {c:?}?)"),
        None => format!("unknown {known}"),
    }
}

/// The TOML a flag's value is written as, from the flag's clap action and value type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A flag without a value (`--dir-listing`): `true` or `false`.
    Switch,
    /// A `BOOL` value (`--nosniff false`): `true` or `false`.
    Bool,
    Integer,
    /// A duration string, or a bare number of seconds as the flag takes.
    Duration,
    Text,
}

impl Kind {
    fn of(arg: &Arg) -> Kind {
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            return Kind::Switch;
        }
        let t = arg.get_value_parser().type_id();
        if t == TypeId::of::<bool>() {
            Kind::Bool
        } else if [
            TypeId::of::<u16>(),
            TypeId::of::<u32>(),
            TypeId::of::<u64>(),
            TypeId::of::<usize>(),
            TypeId::of::<i64>(),
        ]
        .iter()
        .any(|id| t == *id)
        {
            Kind::Integer
        } else if t == TypeId::of::<Duration>() {
            Kind::Duration
        } else {
            Kind::Text
        }
    }

    fn expected(self) -> &'static str {
        match self {
            Kind::Switch | Kind::Bool => "a boolean (true or false)",
            Kind::Integer => "an integer",
            Kind::Duration => "a duration such as \"15s\" or \"500ms\", or a number of seconds",
            Kind::Text => "a string",
        }
    }

    /// The command-line value `value` stands for, if it has this kind's type.
    fn text(self, value: &DeValue<'_>) -> Option<String> {
        match (self, value) {
            (Kind::Switch | Kind::Bool, DeValue::Boolean(b)) => Some(b.to_string()),
            (Kind::Integer | Kind::Duration, DeValue::Integer(i)) => {
                // Beyond i64, TOML's own range; the flag's range then judges the number.
                i64::from_str_radix(i.as_str(), i.radix())
                    .ok()
                    .map(|n| n.to_string())
            }
            (Kind::Duration | Kind::Text, DeValue::String(s)) => Some(s.to_string()),
            _ => None,
        }
    }
}

/// Keys that name options but are not settable from the file, and why.
const NOT_IN_FILE: [(&str, &str); 1] =
    [("config", "names the file itself; it cannot name another")];

/// Walks a parsed file, collecting problems.
struct Reader<'a> {
    name: &'a str,
    text: &'a str,
    cmd: Command,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn problem(&mut self, offset: usize, key: &str, reason: impl Into<String>) {
        self.problems.push(Problem {
            at: at(self.name, self.text, offset),
            key: Some(key.to_string()),
            reason: reason.into(),
        });
    }

    /// The arguments a top-level key sets, if it names an option and its value is right.
    fn setting(
        &mut self,
        key: &Spanned<toml::de::DeString<'_>>,
        value: &Spanned<DeValue<'_>>,
    ) -> Option<Setting> {
        let name: &str = key.get_ref();
        let line = key.span().start;
        if let Some((_, why)) = NOT_IN_FILE.iter().find(|(n, _)| *n == name) {
            self.problem(
                line,
                name,
                format!("not settable in the config file: it {why}"),
            );
            return None;
        }
        let Some(arg) = self.option(name) else {
            let longs: Vec<String> = self.options().map(str::to_string).collect();
            let candidates = longs
                .iter()
                .map(String::as_str)
                .chain(["redirects", "headers"]);
            let reason = match closest(name, candidates) {
                Some(c) => format!("unknown option (did you mean {c:?}?)"),
                None => "unknown option".to_string(),
            };
            self.problem(line, name, reason);
            return None;
        };
        let (id, long) = (arg.get_id().to_string(), format!("--{name}"));
        let (kind, many) = (Kind::of(arg), matches!(arg.get_action(), ArgAction::Append));
        // A repeatable flag takes one value or an array of them, as the flag is given once or more.
        let values: Vec<&Spanned<DeValue<'_>>> = match value.get_ref() {
            DeValue::Array(items) if many => items.iter().collect(),
            _ => vec![value],
        };
        let mut args = Vec::new();
        for v in values {
            let Some(text) = kind.text(v.get_ref()) else {
                let expected = kind.expected();
                let reason = if many {
                    format!("expected {expected}, or an array of them")
                } else {
                    format!("expected {expected}")
                };
                let reason = format!("{reason}, not {}", describe(v.get_ref()));
                self.problem(v.span().start, name, reason);
                return None;
            };
            let arg = match kind {
                Kind::Switch if text == "true" => long.clone(),
                Kind::Switch => continue,
                _ => format!("{long}={text}"),
            };
            // The flag's own parser judges the value, exactly as on the command line.
            if let Err(e) = self
                .cmd
                .try_get_matches_from_mut(["muxserve", arg.as_str()])
            {
                let reason = format!("invalid value {text:?}: {}", clap_reason(&e));
                self.problem(v.span().start, name, reason);
                return None;
            }
            args.push(OsString::from(arg));
        }
        Some(Setting { id, args })
    }

    /// The long names of the options the file may set.
    fn options(&self) -> impl Iterator<Item = &str> {
        self.cmd
            .get_arguments()
            .filter(|a| settable(a))
            .filter_map(Arg::get_long)
            .filter(|l| !NOT_IN_FILE.iter().any(|(n, _)| n == l))
    }

    fn option(&self, long: &str) -> Option<&Arg> {
        self.cmd
            .get_arguments()
            .find(|a| settable(a) && a.get_long() == Some(long))
    }

    /// The tables of `[[name]]`, or a problem if `name` is not an array of tables.
    fn tables<'v, 'i>(
        &mut self,
        key: &Spanned<toml::de::DeString<'_>>,
        value: &'v Spanned<DeValue<'i>>,
        name: &str,
    ) -> Vec<&'v Spanned<DeValue<'i>>> {
        let tables = match value.get_ref() {
            DeValue::Array(items) if items.iter().all(|i| i.get_ref().is_table()) => {
                items.iter().collect()
            }
            _ => Vec::new(),
        };
        if tables.is_empty() {
            let hint = if name == "headers" {
                " (for headers on every response, use header = [\"Name: value\"])"
            } else {
                ""
            };
            let reason = format!(
                "expected [[{name}]] tables, not {}{hint}",
                describe(value.get_ref())
            );
            self.problem(key.span().start, name, reason);
        }
        tables
    }

    /// One `[[redirects]]` table: `from`, `to`, `status` (301), `force` (false), `query`.
    fn redirect(&mut self, table: &Spanned<DeValue<'_>>) -> Option<RedirectSpec> {
        const KEYS: [&str; 5] = ["from", "to", "status", "force", "query"];
        let origin = at(self.name, self.text, table.span().start);
        let entries = self.entries(table, "redirects", &KEYS)?;
        let (mut from, mut to, mut status, mut force, mut query) = (None, None, 301, false, vec![]);
        let before = self.problems.len();
        for (key, value) in entries {
            let dotted = format!("redirects.{key}");
            match key {
                "from" => from = self.string(value, &dotted),
                "to" => to = self.string(value, &dotted),
                "status" => match value
                    .get_ref()
                    .as_integer()
                    .map(|i| u16::from_str_radix(i.as_str(), i.radix()))
                {
                    Some(Ok(code)) => status = code,
                    _ => {
                        let reason = format!(
                            "expected an HTTP status code such as 301, not {}",
                            describe(value.get_ref())
                        );
                        self.problem(value.span().start, &dotted, reason);
                    }
                },
                "force" => match value.get_ref().as_bool() {
                    Some(b) => force = b,
                    None => self.wrong(value, &dotted, "a boolean (true or false)"),
                },
                _ => query = self.string_table(value, &dotted)?,
            }
        }
        for (required, got) in [("from", from.is_some()), ("to", to.is_some())] {
            if !got && self.problems.len() == before {
                let reason = "missing: every [[redirects]] needs from and to";
                self.problem(table.span().start, &format!("redirects.{required}"), reason);
            }
        }
        Some(RedirectSpec {
            from: from?,
            query,
            to: to?,
            status,
            force,
            origin,
        })
    }

    /// One `[[headers]]` table: `for`, `values` (a name → a string or an array of strings) and
    /// our `remove` (names).
    fn header_rule(&mut self, table: &Spanned<DeValue<'_>>) -> Option<HeaderSpec> {
        const KEYS: [&str; 3] = ["for", "values", "remove"];
        let origin = at(self.name, self.text, table.span().start);
        let entries = self.entries(table, "headers", &KEYS)?;
        let (mut pattern, mut set, mut remove) = (None, Vec::new(), Vec::new());
        let before = self.problems.len();
        for (key, value) in entries {
            let dotted = format!("headers.{key}");
            match key {
                "for" => pattern = self.string(value, &dotted),
                "values" => set = self.header_values(value, &dotted)?,
                _ => remove = self.strings(value, &dotted)?,
            }
        }
        if self.problems.len() > before {
            return None;
        }
        let Some(pattern) = pattern else {
            let reason = "missing: every [[headers]] needs for";
            self.problem(table.span().start, "headers.for", reason);
            return None;
        };
        if set.is_empty() && remove.is_empty() {
            let reason = "sets and removes nothing: give [headers.values] or remove = [...]";
            self.problem(table.span().start, "headers", reason);
            return None;
        }
        Some(HeaderSpec {
            pattern,
            set,
            remove,
            origin,
        })
    }

    /// A rule table's entries in file order, each key one of `keys` (problems for the others).
    fn entries<'v, 'i>(
        &mut self,
        table: &'v Spanned<DeValue<'i>>,
        name: &str,
        keys: &[&'static str],
    ) -> Option<Vec<(&'static str, &'v Spanned<DeValue<'i>>)>> {
        let table = table.get_ref().as_table()?;
        let mut known = Vec::new();
        let mut ok = true;
        for (key, value) in in_file_order(table) {
            let key_name: &str = key.get_ref();
            match keys.iter().find(|k| **k == key_name) {
                Some(k) => known.push((*k, value)),
                None => {
                    let reason = unknown(
                        key_name,
                        keys.iter().copied(),
                        &format!("key in [[{name}]]"),
                    );
                    self.problem(key.span().start, &format!("{name}.{key_name}"), reason);
                    ok = false;
                }
            }
        }
        ok.then_some(known)
    }

    fn wrong(&mut self, value: &Spanned<DeValue<'_>>, key: &str, expected: &str) {
        let reason = format!("expected {expected}, not {}", describe(value.get_ref()));
        self.problem(value.span().start, key, reason);
    }

    fn string(&mut self, value: &Spanned<DeValue<'_>>, key: &str) -> Option<String> {
        let s = value.get_ref().as_str().map(str::to_string);
        if s.is_none() {
            self.wrong(value, key, "a string");
        }
        s
    }

    /// A string or an array of strings.
    fn strings(&mut self, value: &Spanned<DeValue<'_>>, key: &str) -> Option<Vec<String>> {
        match value.get_ref() {
            DeValue::String(s) => Some(vec![s.to_string()]),
            DeValue::Array(items) => items.iter().map(|i| self.string(i, key)).collect(),
            _ => {
                self.wrong(value, key, "a string or an array of strings");
                None
            }
        }
    }

    /// A table of name → string (`query`), in file order.
    fn string_table(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
    ) -> Option<Vec<(String, String)>> {
        let Some(table) = value.get_ref().as_table() else {
            self.wrong(value, key, "a table of name = \"value or :placeholder\"");
            return None;
        };
        in_file_order(table)
            .into_iter()
            .map(|(k, v)| {
                let name: &str = k.get_ref();
                Some((name.to_string(), self.string(v, &format!("{key}.{name}"))?))
            })
            .collect()
    }

    /// `[headers.values]`: each name once, with a string or an array of strings (several values).
    fn header_values(
        &mut self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
    ) -> Option<Vec<(String, String)>> {
        let Some(table) = value.get_ref().as_table() else {
            self.wrong(value, key, "a table of Header-Name = \"value\"");
            return None;
        };
        let mut set = Vec::new();
        for (k, v) in in_file_order(table) {
            let name: &str = k.get_ref();
            let values = self.strings(v, &format!("{key}.{name}"))?;
            set.extend(values.into_iter().map(|v| (name.to_string(), one_line(&v))));
        }
        Some(set)
    }
}

/// A value written over several lines (`\'\'\'` strings in netlify.toml) as one: each line
/// trimmed, the empty ones dropped, the rest joined by a space, as Netlify reads it.
fn one_line(value: &str) -> String {
    if !value.contains('\n') {
        return value.to_string();
    }
    let lines: Vec<&str> = value
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.join(" ")
}

/// Options a file may name: everything that takes or is a value, not `--help` or `--version`.
fn settable(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Set | ArgAction::Append | ArgAction::SetTrue
    )
}

/// A value's type, for "expected X, not Y".
fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => format!("the string {s:?}"),
        DeValue::Integer(i) => format!("the integer {}", i.as_str()),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Array(_) => "an array".to_string(),
        other => format!("a {}", other.type_str()),
    }
}

/// Why clap refused a value, without its usage text: the parser's own message where it has one.
fn clap_reason(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    if let Some(source) = std::error::Error::source(e) {
        return source.to_string();
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue) {
        return format!("expected one of {}", valid.join(", "));
    }
    let rendered = e.render().to_string();
    let line = rendered.lines().next().unwrap_or("refused");
    line.trim_start_matches("error: ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cli;
    use clap::CommandFactory;

    fn read(toml: &str) -> Result<FileConfig, Problems> {
        parse("site.toml", toml, &Cli::command())
    }

    fn problems(toml: &str) -> Vec<String> {
        match read(toml) {
            Ok(c) => panic!("{toml:?} was accepted: {c:?}"),
            Err(Problems(all)) => all.iter().map(ToString::to_string).collect(),
        }
    }

    const NETLIFY: &str = r#"# a netlify.toml's rules
[[redirects]]
from = "/old/*"
to = "/new/:splat"

[[redirects]]
  from = "/search"
  query = { q = ":q", lang = "en" }
  to = "https://example.com/?q=:q"
  status = 302
  force = true

[[headers]]
  for = "/*"
  remove = ["X-Powered-By"]
  [headers.values]
    X-Frame-Options = "DENY"
    Link = ["</a.css>; rel=preload", "</b.js>; rel=preload"]

[[headers]]
for = "/private/*"
remove = "Cache-Control"
"#;

    #[test]
    fn netlify_tables_become_specs_with_their_origins() {
        let c = read(NETLIFY).unwrap();
        assert!(c.args_where(|_| true).is_empty());
        assert_eq!(
            c.redirects,
            [
                RedirectSpec {
                    from: "/old/*".into(),
                    query: vec![],
                    to: "/new/:splat".into(),
                    status: 301,
                    force: false,
                    origin: "site.toml:2".into(),
                },
                RedirectSpec {
                    from: "/search".into(),
                    query: vec![("q".into(), ":q".into()), ("lang".into(), "en".into())],
                    to: "https://example.com/?q=:q".into(),
                    status: 302,
                    force: true,
                    origin: "site.toml:6".into(),
                },
            ]
        );
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            c.header_rules,
            [
                HeaderSpec {
                    pattern: "/*".into(),
                    set: pairs(&[
                        ("X-Frame-Options", "DENY"),
                        ("Link", "</a.css>; rel=preload"),
                        ("Link", "</b.js>; rel=preload"),
                    ]),
                    remove: vec!["X-Powered-By".into()],
                    origin: "site.toml:13".into(),
                },
                HeaderSpec {
                    pattern: "/private/*".into(),
                    set: vec![],
                    remove: vec!["Cache-Control".into()],
                    origin: "site.toml:20".into(),
                },
            ]
        );
    }

    #[test]
    fn multi_line_header_values_become_one_line() {
        assert_eq!(
            one_line("\n  max-age=0,\n  no-cache,\n\n  must-revalidate\n"),
            "max-age=0, no-cache, must-revalidate"
        );
        assert_eq!(one_line("public"), "public");
    }

    #[test]
    fn options_become_the_flags_they_stand_for() {
        let c = read(
            "dir-listing = true\nhidden-files = false\nnosniff = false\nworkers = 0x10\n\
             index = \"a.html\"\nheader = [\"X-A: 1\", \"X-B: 2\"]\nkeep-alive-timeout = 5\n",
        )
        .unwrap();
        let all: Vec<String> = c
            .args_where(|_| true)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            all,
            [
                "--dir-listing",
                "--nosniff=false",
                "--workers=16",
                "--index=a.html",
                "--header=X-A: 1",
                "--header=X-B: 2",
                "--keep-alive-timeout=5",
            ]
        );
        // Chosen by clap id, as config.rs asks from the value sources.
        let workers: Vec<_> = c.args_where(|id| id == "workers");
        assert_eq!(workers, ["--workers=16"]);
    }

    #[test]
    fn every_problem_is_one_line_with_file_line_and_key() {
        for (toml, want) in [
            (
                "header-timout = \"1s\"",
                r#"site.toml:1: key "header-timout": unknown option (did you mean "header-timeout"?)"#,
            ),
            ("zzz = 1", r#"site.toml:1: key "zzz": unknown option"#),
            (
                "dir-listing = \"yes\"",
                r#"site.toml:1: key "dir-listing": expected a boolean (true or false), not the string "yes""#,
            ),
            (
                "index = [\"a.html\",\n 5]",
                r#"site.toml:2: key "index": expected a string, or an array of them, not the integer 5"#,
            ),
            (
                "max-headers = 1000",
                r#"site.toml:1: key "max-headers": invalid value "1000": 1000 is not in 8..=128"#,
            ),
            (
                "access-log = \"loud\"",
                r#"site.toml:1: key "access-log": invalid value "loud": expected one of off, common, combined, json"#,
            ),
            (
                "config = \"other.toml\"",
                r#"site.toml:1: key "config": not settable in the config file: it names the file itself; it cannot name another"#,
            ),
            ("help = true", r#"site.toml:1: key "help": unknown option"#),
            (
                "headers = [\"X: y\"]",
                r#"site.toml:1: key "headers": expected [[headers]] tables, not an array (for headers on every response, use header = ["Name: value"])"#,
            ),
            (
                "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstauts = 302",
                r#"site.toml:4: key "redirects.stauts": unknown key in [[redirects]] (did you mean "status"?)"#,
            ),
            (
                "[[redirects]]\nfrom = \"/a\"",
                r#"site.toml:1: key "redirects.to": missing: every [[redirects]] needs from and to"#,
            ),
            (
                "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nstatus = \"301\"",
                r#"site.toml:4: key "redirects.status": expected an HTTP status code such as 301, not the string "301""#,
            ),
            (
                "[[redirects]]\nfrom = \"/a\"\nto = \"/b\"\nquery = { q = 1 }",
                r#"site.toml:4: key "redirects.query.q": expected a string, not the integer 1"#,
            ),
            (
                "[[headers]]\nfor = \"/*\"\n[headers.values]\nX-A = true",
                r#"site.toml:4: key "headers.values.X-A": expected a string or an array of strings, not true"#,
            ),
            (
                "[[headers]]\nvalues = { X-A = \"1\" }",
                r#"site.toml:1: key "headers.for": missing: every [[headers]] needs for"#,
            ),
            (
                "[[headers]]\nfor = \"/*\"",
                r#"site.toml:1: key "headers": sets and removes nothing: give [headers.values] or remove = [...]"#,
            ),
            ("workers = 2\nworkers = 3", "site.toml:2: duplicate key"),
        ] {
            let got = problems(toml);
            assert_eq!(got.len(), 1, "{toml:?}: {got:?}");
            assert!(
                got[0].starts_with(want),
                "{toml:?}:\n got {}\nwant {want}",
                got[0]
            );
        }
    }

    #[test]
    fn problems_come_in_file_order_and_show_as_the_first() {
        let toml = "zzz = 1\nworkers = \"x\"\n[[redirects]]\nto = \"/b\"\nfrom = 1\n";
        let e = read(toml).unwrap_err();
        let lines: Vec<&str> = e.0.iter().map(|p| p.at.as_str()).collect();
        assert_eq!(
            lines,
            ["site.toml:1", "site.toml:2", "site.toml:5"],
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            format!("{} (and 2 more; muxserve check lists them)", e.0[0])
        );
    }

    #[test]
    fn unreadable_file_names_the_file() {
        let e = load(Path::new("/nonexistent/site.toml"), &Cli::command()).unwrap_err();
        assert_eq!(e.0.len(), 1);
        assert!(
            e.to_string()
                .starts_with("/nonexistent/site.toml: cannot read the config file: "),
            "{e}"
        );
    }
}
