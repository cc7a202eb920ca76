//! The plan [`Site::respond`](super::Site::respond) returns: a status, the header values that vary
//! per response, and a body of static bytes, shared bytes, a range of an open file, or
//! `multipart/byteranges` parts over one. It owns one constructor per kind of answer and the
//! multipart framing (RFC 9110 §14.6); it must never decide which answer a request gets, open a
//! file, or write to a connection.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use super::cors::CorsLines;
use super::encoding::{Available, Coding};
use super::file::Etag;
use super::mime::{self, ContentType};
use super::range::ByteRange;
use crate::http::response::Status;

/// One part of a `multipart/byteranges` body: its header lines, then a range of the file.
#[derive(Debug)]
pub struct Part {
    /// Delimiter and part header fields.
    pub head: Vec<u8>,
    /// First byte of the range.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The open file a body is sent from: opened for this response alone, or kept open by the file
/// cache and shared by the responses sending from it. `sendfile` and reads name their offset,
/// so sharing moves no cursor.
#[derive(Debug)]
pub enum OpenFile {
    /// Closed when the response is done.
    Own(File),
    /// Closed when the cache has dropped it and the last response sending from it is done.
    Shared(Arc<File>),
}

impl OpenFile {
    /// The file.
    pub fn file(&self) -> &File {
        match self {
            OpenFile::Own(f) => f,
            OpenFile::Shared(f) => f,
        }
    }
}

impl AsFd for OpenFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file().as_fd()
    }
}

/// A response body.
#[derive(Debug)]
pub enum Body {
    /// No content.
    Empty,
    /// Bytes built into the binary.
    Static(&'static [u8]),
    /// Bytes made at run time (a listing, a compressed file), from `start` to `end`.
    Shared {
        /// The bytes.
        bytes: Arc<[u8]>,
        /// First byte sent.
        start: usize,
        /// One past the last byte sent.
        end: usize,
    },
    /// `len` bytes of an open file from `start`.
    File {
        /// The open file.
        fd: OpenFile,
        /// First byte sent.
        start: u64,
        /// Bytes sent.
        len: u64,
    },
    /// A `multipart/byteranges` body over an open file.
    Parts {
        /// The open file.
        fd: OpenFile,
        /// The parts, in order.
        parts: Vec<Part>,
        /// The closing delimiter.
        tail: Vec<u8>,
    },
}

impl Body {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::Shared { start, end, .. } => (end - start) as u64,
            Body::File { len, .. } => *len,
            Body::Parts { parts, tail, .. } => parts
                .iter()
                .map(|p| p.head.len() as u64 + (p.end - p.start))
                .sum::<u64>()
                .saturating_add(tail.len() as u64),
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// All of `bytes`.
    fn shared(bytes: Vec<u8>) -> Body {
        let end = bytes.len();
        Body::Shared {
            bytes: bytes.into(),
            start: 0,
            end,
        }
    }
}

/// `Content-Range` of a 206 or 416 (RFC 9110 §14.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentRange {
    /// `bytes first-last/len`
    Bytes(ByteRange, u64),
    /// `bytes */len`
    Unsatisfied(u64),
}

/// Which request fields an answer was chosen by, for `Vary` (RFC 9110 §12.5.5): the coding by
/// Accept-Encoding, a listing's format by Accept, CORS headers by Origin and, for OPTIONS, by
/// Access-Control-Request-Method (Fetch §3.2.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Vary {
    /// The content coding was negotiated.
    pub accept_encoding: bool,
    /// The media type was negotiated.
    pub accept: bool,
    /// CORS headers depend on `Origin`.
    pub origin: bool,
    /// Whether an OPTIONS is a preflight depends on `Access-Control-Request-Method`.
    pub request_method: bool,
}

impl Vary {
    /// The `Vary` field value, or None when the answer depends on no field: one load from a
    /// table of every combination, as a head is written for every request.
    pub fn field_value(self) -> Option<&'static [u8]> {
        let i = usize::from(self.accept)
            | usize::from(self.accept_encoding) << 1
            | usize::from(self.origin) << 2
            | usize::from(self.request_method) << 3;
        VARY_VALUES.get(i).copied().flatten()
    }
}

/// [`Vary::field_value`] by bits: Accept 1, Accept-Encoding 2, Origin 4,
/// Access-Control-Request-Method 8.
const VARY_VALUES: [Option<&[u8]>; 16] = [
    None,
    Some(b"Accept"),
    Some(b"Accept-Encoding"),
    Some(b"Accept, Accept-Encoding"),
    Some(b"Origin"),
    Some(b"Accept, Origin"),
    Some(b"Accept-Encoding, Origin"),
    Some(b"Accept, Accept-Encoding, Origin"),
    Some(b"Access-Control-Request-Method"),
    Some(b"Accept, Access-Control-Request-Method"),
    Some(b"Accept-Encoding, Access-Control-Request-Method"),
    Some(b"Accept, Accept-Encoding, Access-Control-Request-Method"),
    Some(b"Origin, Access-Control-Request-Method"),
    Some(b"Accept, Origin, Access-Control-Request-Method"),
    Some(b"Accept-Encoding, Origin, Access-Control-Request-Method"),
    Some(b"Accept, Accept-Encoding, Origin, Access-Control-Request-Method"),
];

/// What `--basic-auth` adds to a refusal. The challenge's text is the site's
/// ([`Site::challenge`](super::Site::challenge)), so a reply stays one byte larger, not 16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthHeader {
    /// Nothing.
    None,
    /// `WWW-Authenticate` with the site's challenge, on a 401 (RFC 9110 §11.6.1).
    Challenge,
    /// `Retry-After: 1`, on a 503 that a second's wait is likely to cure.
    RetryAfter,
}

/// A response plan: status, the headers that vary, and the body.
#[derive(Debug)]
pub struct Reply<'s> {
    /// The status.
    pub status: Status,
    /// The representation's content type.
    pub content_type: Option<ContentType>,
    /// The multipart boundary, when the body is `multipart/byteranges`.
    pub boundary: Option<String>,
    /// `Location`, for redirects.
    pub location: Option<String>,
    /// Whether to send `Allow` (405 and OPTIONS).
    pub allow: bool,
    /// `ETag` and `Last-Modified` (unix seconds) of the representation.
    pub validators: Option<(Etag, u64)>,
    /// `Cache-Control`.
    pub cache_control: Option<&'s str>,
    /// Whether the answer is for one user (it passed `--basic-auth`): `Cache-Control` is then
    /// written `private` first (`cache_control::privatize`), whatever the rules said.
    pub private: bool,
    /// The request fields the answer depends on, sent as `Vary`.
    pub vary: Vary,
    /// `Content-Encoding`, when not identity.
    pub encoding: Option<Coding>,
    /// Whether to send `Accept-Ranges: bytes`.
    pub accept_ranges: bool,
    /// The CORS header lines (`--cors-origins`).
    pub cors: Option<&'s CorsLines>,
    /// `Content-Range`.
    pub content_range: Option<ContentRange>,
    /// The challenge a 401 carries, or the `Retry-After` of a 503.
    pub auth: AuthHeader,
    /// The body.
    pub body: Body,
}

/// What a representation's body is cut from: an open file, or bytes already in memory.
pub(super) enum Content {
    File(OpenFile),
    Bytes(Arc<[u8]>),
}

/// A listing's `Cache-Control` and `Vary`, on its 200 and its 304: `no-cache`, as it changes
/// whenever the directory does, and `Accept`, which chose its format.
pub(super) const LISTING_CACHE_CONTROL: &str = "no-cache";
pub(super) const LISTING_VARY: Vary = Vary {
    accept_encoding: false,
    accept: true,
    origin: false,
    request_method: false,
};

/// The header values a representation's 200, 206 and 304 share.
#[derive(Clone, Copy, Debug)]
pub(super) struct Described<'s> {
    pub(super) content_type: ContentType,
    pub(super) etag: Etag,
    /// Unix seconds.
    pub(super) last_modified: u64,
    pub(super) cache_control: Option<&'s str>,
    pub(super) vary: bool,
    pub(super) encoding: Option<Coding>,
}

impl<'s> Reply<'s> {
    /// A reply with a built-in HTML page for `status`.
    pub fn page(status: Status) -> Self {
        let page = status.page();
        Reply {
            status,
            content_type: (!page.is_empty()).then_some(mime::HTML),
            boundary: None,
            location: None,
            allow: false,
            validators: None,
            cache_control: None,
            private: false,
            vary: Vary::default(),
            encoding: None,
            accept_ranges: false,
            cors: None,
            content_range: None,
            auth: AuthHeader::None,
            body: if page.is_empty() {
                Body::Empty
            } else {
                Body::Static(page)
            },
        }
    }

    /// 204 to OPTIONS or 405, with `Allow` (RFC 9110 §10.2.1).
    pub(super) fn allow(status: Status) -> Self {
        Reply {
            allow: true,
            ..Reply::page(status)
        }
    }

    /// Built-in `text/plain` bytes that no cache may store: an answer about the server's state
    /// right now (the health probe's).
    pub(super) fn no_store_text(status: Status, body: &'static [u8]) -> Self {
        Reply {
            content_type: Some(mime::for_extension(b"txt")),
            cache_control: Some("no-store"),
            body: Body::Static(body),
            ..Reply::page(status)
        }
    }

    /// 401 with the challenge a client answers with credentials (RFC 7617 §2).
    pub(super) fn unauthorized() -> Self {
        Reply {
            auth: AuthHeader::Challenge,
            ..Reply::page(Status::Unauthorized)
        }
    }

    /// 503 with `Retry-After: 1` while something the server holds is exhausted (the password
    /// hashing bound, descriptors): a second later some is likely free.
    pub(super) fn busy() -> Self {
        Reply {
            auth: AuthHeader::RetryAfter,
            ..Reply::page(Status::ServiceUnavailable)
        }
    }

    /// A rule's redirect, `status` (3xx) to `location`.
    pub(super) fn redirect_with(status: Status, location: String) -> Self {
        Reply {
            location: Some(location),
            ..Reply::page(status)
        }
    }

    /// 301 to `location`.
    pub(super) fn redirect(location: String) -> Self {
        Reply {
            location: Some(location),
            ..Reply::page(Status::MovedPermanently)
        }
    }

    /// 308 to `location`, for a URL with a canonical form: unlike 301, the method is kept
    /// (RFC 9110 §15.4.9).
    pub(super) fn permanent_redirect(location: String) -> Self {
        Reply {
            location: Some(location),
            ..Reply::page(Status::PermanentRedirect)
        }
    }

    /// 406; `vary` still tells caches the answer depends on Accept-Encoding. The page lists the
    /// codings the resource is available in (RFC 9110 §15.5.7, SHOULD): identity, the
    /// `sidecars` found, and with `on_the_fly` every coding the server compresses into. They
    /// are all at the request's own URL, chosen by Accept-Encoding. Built per request, but
    /// only for this rare answer; a site's own `406.html` still replaces it.
    pub(super) fn not_acceptable(vary: bool, sidecars: Available, on_the_fly: bool) -> Self {
        let mut page = Vec::with_capacity(512);
        let title = Status::NotAcceptable.text();
        let _ = write!(
            page,
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
             <body><h1>{title}</h1><p>The request's Accept-Encoding accepts none of the content \
             codings this resource is available in:</p>\n<ul><li>identity (as stored)</li>"
        );
        for (coding, stored) in [
            (Coding::Br, sidecars.br),
            (Coding::Zstd, sidecars.zstd),
            (Coding::Gzip, sidecars.gzip),
        ] {
            let how = match (stored, on_the_fly) {
                (true, _) => "precompressed",
                (false, true) => "compressed when asked for",
                (false, false) => continue,
            };
            let _ = write!(page, "<li>{} ({how})</li>", coding.token());
        }
        page.extend_from_slice(b"</ul>\n<hr><p>muxserve</p></body></html>\n");
        Reply {
            vary: Vary {
                accept_encoding: vary,
                ..Vary::default()
            },
            body: Body::shared(page),
            ..Reply::page(Status::NotAcceptable)
        }
    }

    /// The built-in page for `status` replaced by the site's own: `len` bytes of HTML in `fd`.
    pub(super) fn custom_page(status: Status, fd: OwnedFd, len: u64) -> Self {
        Reply {
            content_type: Some(mime::HTML),
            body: Body::File {
                fd: OpenFile::Own(fd.into()),
                start: 0,
                len,
            },
            ..Reply::page(status)
        }
    }

    /// 200 with a directory listing in the format Accept chose.
    pub(super) fn listing(content_type: ContentType, body: Vec<u8>) -> Self {
        Reply {
            content_type: Some(content_type),
            cache_control: Some(LISTING_CACHE_CONTROL),
            vary: LISTING_VARY,
            body: Body::shared(body),
            ..Reply::page(Status::Ok)
        }
    }

    /// 416 for a representation of `len` bytes.
    pub(super) fn unsatisfiable(len: u64) -> Self {
        Reply {
            content_range: Some(ContentRange::Unsatisfied(len)),
            ..Reply::page(Status::RangeNotSatisfiable)
        }
    }

    /// 304: ETag, Cache-Control and Vary as the 200 would have them, no content metadata
    /// (RFC 9110 §15.4.5).
    pub(super) fn not_modified(d: &Described<'s>) -> Self {
        Reply {
            content_type: None,
            encoding: None,
            accept_ranges: false,
            ..Reply::described(Status::NotModified, d, Body::Empty)
        }
    }

    /// 304 for an answer without validators: Cache-Control and Vary as its 200 has them, and
    /// nothing else (RFC 9110 §15.4.5).
    pub(super) fn bare_not_modified(cache_control: Option<&'s str>, vary: Vary) -> Self {
        Reply {
            cache_control,
            vary,
            ..Reply::page(Status::NotModified)
        }
    }

    /// 200 with all `len` bytes of the representation.
    pub(super) fn whole(d: &Described<'s>, content: Content, len: u64) -> Self {
        Reply::described(Status::Ok, d, body_of(content, 0, len))
    }

    /// 206 with range `r` of a representation of `len` bytes.
    pub(super) fn partial(d: &Described<'s>, content: Content, r: ByteRange, len: u64) -> Self {
        Reply {
            content_range: Some(ContentRange::Bytes(r, len)),
            ..Reply::described(
                Status::PartialContent,
                d,
                body_of(content, r.start, r.len()),
            )
        }
    }

    /// 206 `multipart/byteranges` with `ranges` of a representation of `len` bytes.
    pub(super) fn byteranges(
        d: &Described<'s>,
        content: Content,
        ranges: &[ByteRange],
        len: u64,
    ) -> Self {
        let boundary = boundary_for(&d.etag);
        let body = multipart(content, ranges, &boundary, d.content_type, len);
        Reply {
            boundary: Some(boundary),
            ..Reply::described(Status::PartialContent, d, body)
        }
    }

    fn described(status: Status, d: &Described<'s>, body: Body) -> Self {
        Reply {
            status,
            content_type: Some(d.content_type),
            boundary: None,
            location: None,
            allow: false,
            validators: Some((d.etag, d.last_modified)),
            cache_control: d.cache_control,
            private: false,
            vary: Vary {
                accept_encoding: d.vary,
                ..Vary::default()
            },
            encoding: d.encoding,
            accept_ranges: true,
            cors: None,
            content_range: None,
            auth: AuthHeader::None,
            body,
        }
    }
}

/// The body for `len` bytes of `content` from `start`.
fn body_of(content: Content, start: u64, len: u64) -> Body {
    match content {
        Content::File(fd) => Body::File { fd, start, len },
        Content::Bytes(bytes) => {
            let start = usize::try_from(start)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(len)
                .ok()
                .and_then(|l| start.checked_add(l))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Body::Shared { bytes, start, end }
        }
    }
}

/// A boundary that cannot collide with the delimiters of another version of the file; a
/// collision with the content itself would need these 16 hex digits to occur in it.
fn boundary_for(etag: &Etag) -> String {
    // FNV-1a over the tag: a fixed, well-spread 64-bit value without a hashing dependency.
    let hash = etag
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("muxserve-{hash:016x}")
}

/// A `multipart/byteranges` body (RFC 9110 §14.6) over `ranges` of the representation: part
/// heads between `sendfile` ranges for a file, one buffer for bytes already in memory.
fn multipart(
    content: Content,
    ranges: &[ByteRange],
    boundary: &str,
    ct: ContentType,
    len: u64,
) -> Body {
    let charset = if ct.utf8 { "; charset=utf-8" } else { "" };
    let parts: Vec<Part> = ranges
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut head = Vec::with_capacity(128);
            let lead = if i == 0 { "" } else { "\r\n" };
            let _ = write!(
                head,
                "{lead}--{boundary}\r\nContent-Type: {}{charset}\r\nContent-Range: bytes {}-{}/{len}\r\n\r\n",
                ct.essence, r.start, r.end
            );
            Part {
                head,
                start: r.start,
                end: r.end.saturating_add(1),
            }
        })
        .collect();
    let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
    match content {
        Content::File(fd) => Body::Parts { fd, parts, tail },
        Content::Bytes(bytes) => {
            let mut body = Vec::new();
            for p in &parts {
                body.extend_from_slice(&p.head);
                let range = usize::try_from(p.start).unwrap_or(usize::MAX)
                    ..usize::try_from(p.end).unwrap_or(usize::MAX);
                body.extend_from_slice(bytes.get(range).unwrap_or_default());
            }
            body.extend_from_slice(&tail);
            Body::shared(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::file::FileMeta;

    #[test]
    fn vary_names_each_field_once_in_order() {
        for bits in 0..16u8 {
            let vary = Vary {
                accept: bits & 1 != 0,
                accept_encoding: bits & 2 != 0,
                origin: bits & 4 != 0,
                request_method: bits & 8 != 0,
            };
            let names = [
                "Accept",
                "Accept-Encoding",
                "Origin",
                "Access-Control-Request-Method",
            ];
            let expected: Vec<&str> = (0..4)
                .filter(|i| bits & (1 << i) != 0)
                .map(|i| names[i])
                .collect();
            let got = vary.field_value().map(|v| std::str::from_utf8(v).unwrap());
            let expected = (!expected.is_empty()).then(|| expected.join(", "));
            assert_eq!(got, expected.as_deref(), "{vary:?}");
        }
    }

    #[test]
    fn not_acceptable_lists_the_codings_available() {
        let page = |sidecars, on_the_fly| {
            let reply = Reply::not_acceptable(true, sidecars, on_the_fly);
            assert_eq!(reply.status, Status::NotAcceptable);
            match reply.body {
                Body::Shared { bytes, start, end } => {
                    String::from_utf8(bytes[start..end].to_vec()).unwrap()
                }
                other => panic!("{other:?}"),
            }
        };
        let items = |html: &str| -> Vec<String> {
            html.split("<li>")
                .skip(1)
                .map(|li| li.split("</li>").next().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            items(&page(Available::default(), false)),
            ["identity (as stored)"]
        );
        let gz = Available::default().with(Coding::Gzip);
        assert_eq!(
            items(&page(gz, false)),
            ["identity (as stored)", "gzip (precompressed)"]
        );
        assert_eq!(
            items(&page(gz, true)),
            [
                "identity (as stored)",
                "br (compressed when asked for)",
                "zstd (compressed when asked for)",
                "gzip (precompressed)"
            ]
        );
        assert!(page(gz, false).contains("<title>406 Not Acceptable</title>"));
    }

    #[test]
    fn boundaries_differ_per_version() {
        let a = FileMeta {
            len: 1,
            mtime: 2,
            mtime_nsec: 3,
            inode: 4,
            ..FileMeta::default()
        };
        // Another version: written a nanosecond later (the inode is not part of a version).
        let b = FileMeta {
            len: 1,
            mtime: 2,
            mtime_nsec: 4,
            inode: 4,
            ..FileMeta::default()
        };
        assert_ne!(boundary_for(&a.etag()), boundary_for(&b.etag()));
        assert_eq!(boundary_for(&a.etag()).len(), "muxserve-".len() + 16);
    }
}
