//! The site's own rules, as static hosts read them: `_redirects` and `_headers` from the top of
//! the root (Netlify's format, which Cloudflare Pages also reads), then the config file's
//! `[[redirects]]` and `[[headers]]` tables. It owns loading them once per [`Site`](super::Site)
//! and collecting every problem with its file and line; it must never serve the rules files or
//! decide what a rule does to a request (the pipeline in `site/mod.rs` does).

pub mod headers;
mod index;
pub mod pattern;
pub mod redirects;
mod template;

use rustix::io::Errno;

use super::resolve::{Found, Root};
use crate::config::SiteOptions;
use headers::HeaderRules;
use redirects::Redirects;

/// The rules files' names at the top of the root; they are never served.
pub const FILES: [&[u8]; 2] = [REDIRECTS, HEADERS];
const REDIRECTS: &[u8] = b"_redirects";
const HEADERS: &[u8] = b"_headers";

/// Largest rules file read: far beyond any real site's, small enough that a stray file cannot
/// take the memory of every reload.
const MAX_FILE: u64 = 4 * 1024 * 1024;

/// The compiled rules of one site.
#[derive(Debug, Default)]
pub struct Rules {
    /// Redirects and rewrites, in order: `_redirects`, then the config file's.
    pub redirects: Redirects,
    /// Header blocks, in order: `_headers`, then the config file's.
    pub headers: HeaderRules,
}

impl Rules {
    /// Reads and compiles the rules for `root` (`root_name` names it in messages); the rules
    /// files only with `site_rules`. Every problem is one line naming its file and line.
    /// `extras` names the server's extra header lines, in order, which header rules may replace.
    pub fn load(
        root: &Root,
        root_name: &str,
        options: &SiteOptions,
        extras: &[&str],
    ) -> (Rules, Vec<String>) {
        // Redirects' problems, then the headers': each file's in line order, though its lines
        // are judged in two passes (each line's syntax, then the rules compiled together).
        let (mut problems, mut header_problems) = (Vec::new(), Vec::new());
        let mut redirect_specs = Vec::new();
        let mut header_specs = Vec::new();
        if options.site_rules {
            let file = |name: &[u8]| format!("{root_name}/{}", String::from_utf8_lossy(name));
            let name = file(REDIRECTS);
            match read(root, REDIRECTS) {
                Ok(Some(text)) => {
                    let (specs, p) = redirects::parse_file(&text, &name);
                    redirect_specs = specs;
                    problems.extend(p);
                }
                Ok(None) => {}
                Err(e) => problems.push(format!("{name}: {e}")),
            }
            let name = file(HEADERS);
            match read(root, HEADERS) {
                Ok(Some(text)) => {
                    let (specs, p) = headers::parse_file(&text, &name);
                    header_specs = specs;
                    header_problems.extend(p);
                }
                Ok(None) => {}
                Err(e) => header_problems.push(format!("{name}: {e}")),
            }
        }
        redirect_specs.extend(options.redirects.iter().cloned());
        header_specs.extend(options.header_rules.iter().cloned());
        let (redirects, p) = Redirects::compile(&redirect_specs);
        problems.extend(p);
        let (headers, p) = HeaderRules::compile(&header_specs, extras);
        header_problems.extend(p);
        in_line_order(&mut problems);
        in_line_order(&mut header_problems);
        problems.append(&mut header_problems);
        (Rules { redirects, headers }, problems)
    }
}

/// Sorts problems of the form `FILE:LINE: what` by file, then line, as a person reads the
/// file; the sort is stable, so one line's problems keep their order, and a problem without a
/// line number comes first in its file.
fn in_line_order(problems: &mut [String]) {
    fn place(problem: &str) -> (&str, u64) {
        let origin = problem.split_once(": ").map_or(problem, |(o, _)| o);
        match origin.rsplit_once(':') {
            Some((file, line)) if line.bytes().all(|b| b.is_ascii_digit()) => {
                (file, line.parse().unwrap_or(0))
            }
            _ => (origin, 0),
        }
    }
    problems.sort_by(|a, b| place(a).cmp(&place(b)));
}

/// The text of rules file `name` at the top of the root, `None` when there is none.
fn read(root: &Root, name: &[u8]) -> Result<Option<String>, String> {
    let (fd, st) = match root.find(name) {
        Ok(Found::File(fd, st)) => (fd, st),
        Ok(Found::Dir(_)) => return Err("is a directory, not a rules file".to_string()),
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(format!("cannot open: {e}")),
    };
    let len = u64::try_from(st.st_size).unwrap_or(0);
    if len > MAX_FILE {
        return Err(format!(
            "is {len} bytes; rules files may have at most {MAX_FILE}"
        ));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text)
        .map_err(|e| format!("cannot read as UTF-8 text: {e}"))?;
    // Editors on Windows start UTF-8 files with a byte-order mark; it is no part of the rules.
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        text = rest.to_string();
    }
    Ok(Some(text))
}
