//! Error pages: the site's `NNN.html` in place of the built-in page for any error the server
//! answers (400–599), the nearest `404.html` up the tree for a missing path, `no-store` on all
//! of them, and which status a failed open is. It reads only files beneath the root, and never
//! decides that a request is an error: the pipeline and the connection do.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rustix::io::Errno;

use super::file::FileMeta;
use super::mime;
use super::resolve::Found;
use super::{Body, NOT_FOUND_PAGE, OpenFile, Reply, Site};
use crate::http::response::Status;

impl Site {
    /// An error answered before a request could be read (400, 413, 414, 431, 501, 505), or
    /// before it reaches the site (421, which the connection decides), with the site's page for
    /// it, as every error the pipeline answers.
    pub fn refusal(&self, status: Status) -> Reply<'_> {
        let mut reply = Reply::page(status);
        self.site_page(&mut reply);
        reply
    }

    /// An error reply (400–599, the caller checks) that carries the built-in page gets the
    /// site's `NNN.html` in its place when the root has one; error pages, built-in or not, are
    /// never stored by a cache as the resource. 404s find their page themselves (`not_found`),
    /// up the tree.
    #[cold]
    pub(super) fn site_page(&self, reply: &mut Reply<'_>) {
        let status = reply.status;
        if reply.cache_control.is_none() {
            reply.cache_control = Some("no-store");
        }
        // A 406's list of codings is built per resource, but is the built-in page all the same.
        let builtin = matches!(reply.body, Body::Static(b) if std::ptr::eq(b, status.page()))
            || status == Status::NotAcceptable;
        if !builtin || status == Status::NotFound {
            return;
        }
        let mut name = [0u8; 8];
        let left = {
            let mut cursor = &mut name[..];
            let _ = write!(cursor, "{}.html", status.code());
            cursor.len()
        };
        let name = &name[..name.len() - left];
        if let Ok(Found::File(fd, st)) = self.root.find(name) {
            reply.content_type = Some(mime::HTML);
            reply.body = Body::File {
                fd: OpenFile::Own(fd.into()),
                start: 0,
                len: FileMeta::from_stat(&st).len,
            };
        }
    }

    pub(super) fn open_failed(&self, e: Errno, rel: &[u8]) -> Reply<'_> {
        match e {
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::NAMETOOLONG | Errno::INVAL => {
                self.not_found(rel)
            }
            Errno::ACCESS | Errno::PERM | Errno::XDEV => Reply::page(Status::Forbidden),
            // Out of descriptors (the process's or the system's) or kernel memory: the server
            // is overloaded, not broken, and a moment later a descriptor is likely free
            // (RFC 9110 §15.6.4, 503 with Retry-After). Logged at most once a minute, as the
            // condition comes with a flood of such answers.
            Errno::MFILE | Errno::NFILE | Errno::NOMEM => {
                exhaustion_logged(e);
                Reply::busy()
            }
            e => {
                crate::log::error(format_args!("opening a file under the root failed: {e}"));
                Reply::page(Status::InternalServerError)
            }
        }
    }

    /// 404 for `rel`, with the nearest [`NOT_FOUND_PAGE`] up the tree from its directory
    /// (`docs/x` → `docs/404.html`, then `404.html`), as Cloudflare Pages answers.
    pub(super) fn not_found(&self, rel: &[u8]) -> Reply<'_> {
        // Each candidate's path is written on the stack for the depths sites have (the heap
        // only past that), so a 404 allocates nothing.
        let mut stack = [0u8; 512];
        let mut heap = Vec::new();
        let mut dir = rel;
        loop {
            dir = match dir.iter().rposition(|&b| b == b'/') {
                Some(i) => &dir[..i],
                None => &dir[..0],
            };
            let sep = usize::from(!dir.is_empty());
            let len = dir.len() + sep + NOT_FOUND_PAGE.len();
            let page: &mut [u8] = if len <= stack.len() {
                &mut stack[..len]
            } else {
                heap.resize(len, 0);
                &mut heap[..len]
            };
            let (head, name) = page.split_at_mut(dir.len() + sep);
            head[..dir.len()].copy_from_slice(dir);
            if sep == 1 {
                head[dir.len()] = b'/';
            }
            name.copy_from_slice(NOT_FOUND_PAGE);
            if let Ok(Found::File(fd, st)) = self.root.find(page) {
                return Reply::custom_page(Status::NotFound, fd, FileMeta::from_stat(&st).len);
            }
            if dir.is_empty() {
                return Reply::page(Status::NotFound);
            }
        }
    }
}

/// Logs `e`, an exhaustion of descriptors or memory, unless one was logged in the last minute.
fn exhaustion_logged(e: Errno) {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST.load(Ordering::Relaxed);
    if now.saturating_sub(last) >= 60
        && LAST
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        crate::log::error(format_args!(
            "opening a file under the root failed: {e}; answering 503 until descriptors free up"
        ));
    }
}
