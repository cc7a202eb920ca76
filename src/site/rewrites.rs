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
use super::rules::redirects::{Action, Which};
use super::{Lookup, Reply, Site, Target};
use crate::http::request::RequestHead;
use crate::http::response::Status;

impl Site {
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
        let Some(applied) = self.rules.redirects.first(which, req.host, rel, req.query) else {
            return Continue(None);
        };
        let target = applied.target(rel, req.query);
        let status = match applied.rule.action {
            Action::Redirect(status) => return Break(Reply::redirect_with(status, target)),
            Action::Rewrite => Status::Ok,
            Action::NotFound => Status::NotFound,
        };
        self.rewritten(req, &target, rel, status, creds)
            .map_continue(Some)
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
    /// client's.
    pub(super) fn is_rules_file(&self, rel: &[u8]) -> bool {
        self.site_rules && super::rules::FILES.contains(&rel)
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
