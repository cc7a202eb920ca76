//! What to answer for a parsed request, as a [`Reply`] plan the connection then writes. `site`
//! is pure with respect to sockets: it opens and stats files but never touches the network, so
//! each step can be tested without one. [`Site::respond`] follows these steps, top-down:
//!
//! 1. Method: OPTIONS → 204 with `Allow`; methods other than GET and HEAD → 405 with `Allow`.
//! 2. Resolve: decode and normalise the path (`resolve::normalize`); refusals map to 400, 403,
//!    404 without touching the disk.
//! 3. Open beneath the root and fstat (`resolve::Root::find`).
//! 4. Directory: without a trailing slash → 301 to the slashed URL (query kept); with it → its
//!    `index.html`, or 403 where there is none. A regular file asked for with a trailing
//!    slash → 404.
//! 5. Reply 200 with the file as the body and its type from the extension.
//!
//! Not found → 404 with the site's `404.html` when it exists, else a built-in page.

pub mod mime;
pub mod pages;
pub mod resolve;

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::io::Errno;

use crate::http::request::{Method, RequestHead};
use crate::http::response::Status;
use mime::ContentType;
use resolve::{Found, Refusal, Root};

/// The methods every resource here supports (RFC 9110 §10.2.1).
pub const ALLOW: &[u8] = b"GET, HEAD, OPTIONS";

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// No content.
    Empty,
    /// Bytes built into the binary.
    Static(&'static [u8]),
    /// `len` bytes of an open file, from its start.
    File {
        /// The open file.
        fd: OwnedFd,
        /// Its length when it was opened.
        len: u64,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response plan: status, the headers that vary, and the body.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: Status,
    /// The body's content type, if there is a body.
    pub content_type: Option<ContentType>,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Whether to send `Allow` (405 and OPTIONS).
    pub allow: bool,
    /// The body.
    pub body: Body,
}

impl Reply {
    /// A reply with a built-in HTML page for `status`.
    pub fn page(status: Status) -> Reply {
        let page = pages::for_status(status);
        Reply {
            status,
            content_type: (!page.is_empty()).then_some(mime::HTML),
            location: None,
            allow: false,
            body: if page.is_empty() {
                Body::Empty
            } else {
                Body::Static(page)
            },
        }
    }
}

/// The site being served: the root directory and how to answer requests for it.
#[derive(Debug)]
pub struct Site {
    root: Root,
}

impl Site {
    /// Opens the root directory.
    pub fn open(root: &Path) -> std::io::Result<Site> {
        Ok(Site {
            root: Root::open(root)?,
        })
    }

    /// Plans the response to `req`; `scratch` is a reused buffer for the decoded path.
    pub fn respond(&self, req: &RequestHead<'_>, scratch: &mut Vec<u8>) -> Reply {
        // 1. Method.
        match req.method {
            Method::Get | Method::Head => {}
            Method::Options => {
                let mut reply = Reply::page(Status::NoContent);
                reply.allow = true;
                return reply;
            }
            Method::NotAllowed => {
                let mut reply = Reply::page(Status::MethodNotAllowed);
                reply.allow = true;
                return reply;
            }
        }
        // 2. Resolve.
        let normalized = match resolve::normalize(req.path, scratch) {
            Ok(n) => n,
            Err(Refusal::BadRequest) => return Reply::page(Status::BadRequest),
            Err(Refusal::Forbidden) => return Reply::page(Status::Forbidden),
            Err(Refusal::NotFound) => return self.not_found(),
        };
        // 3. Open and stat.
        let found = match self.root.find(scratch) {
            Ok(found) => found,
            Err(e) => return self.open_failed(e),
        };
        // 4. Directories.
        let (fd, stat) = match found {
            Found::File(_, _) if normalized.trailing_slash => return self.not_found(),
            Found::File(fd, stat) => (fd, stat),
            Found::Dir if !normalized.trailing_slash && !scratch.is_empty() => {
                let mut reply = Reply::page(Status::MovedPermanently);
                reply.location = Some(resolve::directory_url(scratch, req.query));
                return reply;
            }
            Found::Dir => {
                if !scratch.is_empty() {
                    scratch.push(b'/');
                }
                scratch.extend_from_slice(b"index.html");
                match self.root.find(scratch) {
                    Ok(Found::File(fd, stat)) => (fd, stat),
                    Ok(Found::Dir) | Err(Errno::NOENT) => return Reply::page(Status::Forbidden),
                    Err(e) => return self.open_failed(e),
                }
            }
        };
        // 5. The file.
        Reply {
            status: Status::Ok,
            content_type: Some(mime::for_extension(extension(scratch))),
            location: None,
            allow: false,
            body: Body::File {
                fd,
                len: u64::try_from(stat.st_size).unwrap_or(0),
            },
        }
    }

    fn open_failed(&self, e: Errno) -> Reply {
        match e {
            Errno::NOENT | Errno::NOTDIR | Errno::LOOP | Errno::NAMETOOLONG | Errno::INVAL => {
                self.not_found()
            }
            Errno::ACCESS | Errno::PERM | Errno::XDEV => Reply::page(Status::Forbidden),
            e => {
                crate::log::error(format_args!("opening a file under the root failed: {e}"));
                Reply::page(Status::InternalServerError)
            }
        }
    }

    /// 404 with the site's own `404.html` when it has one.
    fn not_found(&self) -> Reply {
        if let Ok(Found::File(fd, stat)) = self.root.find(b"404.html") {
            return Reply {
                status: Status::NotFound,
                content_type: Some(mime::HTML),
                location: None,
                allow: false,
                body: Body::File {
                    fd,
                    len: u64::try_from(stat.st_size).unwrap_or(0),
                },
            };
        }
        Reply::page(Status::NotFound)
    }
}

/// The extension of the last segment of `rel`, without the dot.
fn extension(rel: &[u8]) -> &[u8] {
    let name = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
    match name.iter().rposition(|&b| b == b'.') {
        Some(0) | None => b"",
        Some(i) => &name[i + 1..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(extension(b"a/b.min.js"), b"js");
        assert_eq!(extension(b"a.b/c"), b"");
        assert_eq!(extension(b"README"), b"");
        assert_eq!(extension(b""), b"");
    }
}
