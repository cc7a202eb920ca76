//! What a `_redirects` rule does to a request in the pipeline: a redirect answers, a rewrite
//! (200) or a rule's 404 page finds its target as a request for it would, beneath the root and
//! through the same normalisation, so a rule can reach no file a request could not (no `..`
//! above the root, no dotfile, not the rules files). A target is not matched against the rules
//! again: a chain of rewrites is one step long, so rules cannot loop. It must never decide
//! whether a rule applies (`rules::redirects`) or serve a file itself.

use std::ops::ControlFlow::{self, Break, Continue};

use rustix::io::Errno;

use super::auth::Credentials;
use super::file::FileMeta;
use super::resolve::{self, Found, Refusal};
use super::rules::redirects::{Action, Asked, Which};
use super::{Lookup, Reply, Site, Target};
use crate::http::request::RequestHead;
use crate::http::response::Status;

impl Site {
    /// The rules at step 2, for `req` whose path is `rel`: the first rule in file order that
    /// applies wins, and an unforced one applies only where no file answers. So the first
    /// forced rule applies here, unless an unforced rule before it applies and no file answers:
    /// then step 3 finds no file and applies that one. Goes on with the forced rule's target
    /// (`rel` then naming it), or `None` for the normal path.
    pub(super) fn ruled(
        &self,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        slash: bool,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Option<Target>> {
        let redirects = &self.rules.redirects;
        if !redirects.any(Which::Forced) {
            return Continue(None);
        }
        let asked = asked(req, rel);
        let Some(forced) = redirects.first(Which::Forced, &asked) else {
            return Continue(None);
        };
        // An unforced rule before it wins where no file answers (step 3 applies it then).
        let earlier = redirects
            .first_before(Which::Unforced, &asked, forced.number)
            .is_some();
        let (action, target) = (forced.rule.action, forced.target(&asked));
        if earlier && !self.answers(rel, slash) {
            return Continue(None);
        }
        self.apply(action, target, req, rel, creds)
            .map_continue(Some)
    }

    /// The first rule of kind `which` for `req`, whose path is `rel`: a redirect answers; a
    /// rewrite or a rule's 404 page goes on with its target, `rel` then naming it; no rule goes
    /// on with `None`, `rel` unchanged.
    pub(super) fn rule(
        &self,
        which: Which,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Option<Target>> {
        let asked = asked(req, rel);
        let Some(applied) = self.rules.redirects.first(which, &asked) else {
            return Continue(None);
        };
        let action = applied.rule.action;
        let target = applied.target(&asked);
        self.apply(action, target, req, rel, creds)
            .map_continue(Some)
    }

    /// What a rule's `action` does with its `target`: a redirect answers, a rewrite or 404 page
    /// goes on with the file.
    fn apply(
        &self,
        action: Action,
        target: String,
        req: &RequestHead<'_>,
        rel: &mut Vec<u8>,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Target> {
        let status = match action {
            Action::Redirect(status) => return Break(Reply::redirect_with(status, target)),
            Action::Rewrite => Status::Ok,
            Action::NotFound => Status::NotFound,
        };
        self.rewritten(req, &target, rel, status, creds)
    }

    /// Whether a file answers `rel` (asked for with a trailing slash if `slash`), as step 3
    /// would find it: the file, a directory's index file, or `NAME.html` by clean URLs. `rel`
    /// is left as it was.
    fn answers(&self, rel: &mut Vec<u8>, slash: bool) -> bool {
        if self.is_rules_file(rel) {
            return false;
        }
        match self.root.find(rel) {
            Ok(Found::File(..)) => !slash,
            Ok(Found::Dir(_)) => self.has_index(rel),
            Err(_) => {
                let len = rel.len();
                let found = self.clean_url(rel, slash).is_some();
                rel.truncate(len);
                found
            }
        }
    }

    /// The file a rewrite to `url` serves with `status`, found as a request for `url` would be
    /// (index files and clean URLs too), and guarded as its path would be (`--basic-auth`)
    /// before anything of it is looked at; not kept in the memory cache under the request's path.
    fn rewritten(
        &self,
        req: &RequestHead<'_>,
        url: &str,
        rel: &mut Vec<u8>,
        status: Status,
        creds: &mut Credentials,
    ) -> ControlFlow<Reply<'_>, Target> {
        let path = url.split(['?', '#']).next().unwrap_or("/");
        let slash = match resolve::normalize_with(path, rel, self.hidden) {
            Ok(n) => n.trailing_slash,
            Err(Refusal::BadRequest) => return Break(Reply::page(Status::BadRequest)),
            Err(Refusal::Forbidden) => return Break(Reply::page(Status::Forbidden)),
            Err(Refusal::NotFound) => return Break(self.not_found(b"")),
        };
        self.guard(req, rel, creds)?;
        let found = if self.is_rules_file(rel) {
            Err(Errno::NOENT)
        } else {
            self.root.find(rel)
        };
        let mut target = match found {
            Ok(Found::File(fd, st)) if !slash => Target {
                fd,
                meta: FileMeta::from_stat(&st),
                cacheable: false,
                status,
            },
            // A rewrite to a directory serves what its URL with a slash would.
            Ok(Found::Dir(dir)) => self.directory(req, rel, dir, Lookup::Rewrite, creds)?,
            Ok(Found::File(..)) | Err(Errno::NOENT | Errno::NOTDIR) => {
                match self.clean_url(rel, slash) {
                    Some(target) => target,
                    None => return Break(self.not_found(rel)),
                }
            }
            Err(e) => return Break(self.open_failed(e, rel)),
        };
        target.cacheable = false;
        target.status = status;
        Continue(target)
    }

    /// Whether `rel` is one of the rules files, which are the server's to read, never a
    /// client's: not even with `--site-rules false`, where they are not read either, as a site
    /// built for Netlify or Cloudflare Pages never meant them to be served.
    pub(super) fn is_rules_file(&self, rel: &[u8]) -> bool {
        super::rules::FILES.contains(&rel)
    }

    /// Whether directory `rel` has an index file, which makes it a file at FROM for shadowing.
    pub(super) fn has_index(&self, rel: &mut Vec<u8>) -> bool {
        let len = rel.len();
        let found = self.index.iter().any(|name| {
            rel.truncate(len);
            if len > 0 {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            matches!(self.root.find(rel), Ok(Found::File(..)))
        });
        rel.truncate(len);
        found
    }
}

/// What the rules match of `req`, whose normalised path is `rel`.
fn asked<'a>(req: &RequestHead<'a>, rel: &'a [u8]) -> Asked<'a> {
    Asked {
        host: req.host,
        rel,
        path: req.path,
        query: req.query,
    }
}
