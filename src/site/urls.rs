//! URL forms of static hosts: clean URLs (`/about` answered with `about.html`, `/about/`
//! redirected to `/about`) and canonical URLs (`/about.html` and `/about/index.html` redirected
//! to the clean form). Both open files
//! only beneath the root, after the path was normalised; a redirect's `Location` is always a
//! path on this server.

use rustix::io::Errno;

use super::file::FileMeta;
use super::resolve::{self, Found};
use super::{Site, Target};

impl Site {
    /// Clean URLs, as Netlify and Cloudflare Pages serve them: `/about`, which names no file or
    /// directory, is answered with `about.html`, `rel` then naming it. Only a regular file
    /// counts, found beneath the root like any other; anything else leaves `rel` as it was.
    /// Not kept in the memory cache: a file named `about` created later must win at once.
    pub(super) fn clean_url(&self, rel: &mut Vec<u8>, slash: bool) -> Option<Target> {
        const HTML: &[u8] = b".html";
        if !self.clean_urls || slash || rel.is_empty() || rel.ends_with(HTML) {
            return None;
        }
        let len = rel.len();
        rel.extend_from_slice(HTML);
        match self.root.find(rel) {
            Ok(Found::File(fd, st)) => Some(Target {
                fd,
                meta: FileMeta::from_stat(&st),
                cacheable: false,
                status: crate::http::response::Status::Ok,
            }),
            _ => {
                rel.truncate(len);
                None
            }
        }
    }

    /// With `--canonical-urls`, the directory URL of `rel` when it is an HTML index file:
    /// `/about/index.html`, or `/about/index` that clean URLs answered with it, → `/about/`.
    pub(super) fn index_url(&self, rel: &[u8], query: Option<&str>) -> Option<String> {
        if !self.canonical_urls {
            return None;
        }
        let (dir, name) = match rel.iter().rposition(|&b| b == b'/') {
            Some(i) => (rel.get(..i)?, rel.get(i + 1..)?),
            None => (&rel[..0], rel),
        };
        (name.ends_with(b".html") && self.index.iter().any(|i| i.as_slice() == name))
            .then(|| resolve::path_url(dir, true, query))
    }

    /// With clean URLs, where `/about/` names no file or directory but `/about` would answer
    /// with `about.html`: the URL to redirect to, `/about` with the query kept, as Cloudflare
    /// Pages does. The mirror of a directory's slash redirect: the page answers at one URL, and
    /// a link written with a slash reaches it instead of a 404.
    pub(super) fn unslashed_clean_url(&self, rel: &[u8], query: Option<&str>) -> Option<String> {
        if !self.clean_urls || rel.is_empty() || rel.ends_with(b".html") {
            return None;
        }
        let mut html = Vec::with_capacity(rel.len().saturating_add(5));
        html.extend_from_slice(rel);
        html.extend_from_slice(b".html");
        match self.root.find(&html) {
            Ok(Found::File(..)) => Some(resolve::path_url(rel, false, query)),
            _ => None,
        }
    }

    /// With `--canonical-urls`, the URL a found file `rel` should be asked for instead: an index
    /// file's directory (`/about/index.html` → `/about/`), or `NAME.html` without its `.html`
    /// when clean URLs would answer that with the same file (no `NAME` exists).
    pub(super) fn canonical(&self, rel: &[u8], query: Option<&str>) -> Option<String> {
        if !self.canonical_urls {
            return None;
        }
        if let Some(url) = self.index_url(rel, query) {
            return Some(url);
        }
        let stem = rel.strip_suffix(b".html")?;
        if stem.is_empty() || stem.ends_with(b"/") {
            return None;
        }
        match self.root.find(stem) {
            Err(Errno::NOENT | Errno::NOTDIR) => Some(resolve::path_url(stem, false, query)),
            _ => None,
        }
    }
}
