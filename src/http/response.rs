//! Response heads, written into a reused `Vec<u8>` from static slices and `itoa`, never with
//! `format!`, so the hot path allocates nothing, and the statuses with their built-in pages. It
//! knows status lines and header syntax; it must never decide what to serve.

use super::date;

/// Every status this server sends, stated once: the variant, the code, the reason phrase
/// (RFC 9110 §15), whether it has a built-in page, and what that page says beyond its title
/// when the RFC asks for more. Adding a status is one line here.
macro_rules! statuses {
    ($($name:ident $code:literal $reason:literal $page:ident $($why:literal)?,)*) => {
        /// The statuses this server sends.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Status {
            $(#[doc = concat!(stringify!($code), " ", $reason)] $name,)*
        }

        impl Status {
            /// The numeric code.
            pub fn code(self) -> u16 {
                match self {
                    $(Status::$name => $code,)*
                }
            }

            /// The code and reason phrase, as in `404 Not Found`.
            pub fn text(self) -> &'static str {
                match self {
                    $(Status::$name => concat!(stringify!($code), " ", $reason),)*
                }
            }

            /// The built-in HTML body for a status that has no file behind it; empty for those
            /// that carry none. Static bytes: nothing a client sends is reflected into a page.
            pub fn page(self) -> &'static [u8] {
                match self {
                    $(Status::$name => statuses!(@page $page $code $reason $($why)?),)*
                }
            }
        }
    };
    (@page none $code:literal $reason:literal) => {
        b""
    };
    (@page html $code:literal $reason:literal) => {
        statuses!(@page html $code $reason "")
    };
    (@page html $code:literal $reason:literal $why:literal) => {
        concat!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>",
            stringify!($code), " ", $reason,
            "</title></head>\n<body><h1>",
            stringify!($code), " ", $reason,
            "</h1>", $why, "<hr><p>muxserve</p></body></html>\n"
        )
        .as_bytes()
    };
}

statuses! {
    Ok 200 "OK" none,
    NoContent 204 "No Content" none,
    PartialContent 206 "Partial Content" none,
    MovedPermanently 301 "Moved Permanently" html,
    Found 302 "Found" html,
    SeeOther 303 "See Other" html,
    NotModified 304 "Not Modified" none,
    TemporaryRedirect 307 "Temporary Redirect" html,
    PermanentRedirect 308 "Permanent Redirect" html,
    BadRequest 400 "Bad Request" html,
    Unauthorized 401 "Unauthorized" html,
    Forbidden 403 "Forbidden" html,
    NotFound 404 "Not Found" html,
    MethodNotAllowed 405 "Method Not Allowed" html,
    NotAcceptable 406 "Not Acceptable" html,
    PreconditionFailed 412 "Precondition Failed" html,
    ContentTooLarge 413 "Content Too Large" html,
    UriTooLong 414 "URI Too Long" html,
    RangeNotSatisfiable 416 "Range Not Satisfiable" html,
    ExpectationFailed 417 "Expectation Failed" html,
    MisdirectedRequest 421 "Misdirected Request" html,
    HeaderFieldsTooLarge 431 "Request Header Fields Too Large" html,
    InternalServerError 500 "Internal Server Error" html,
    NotImplemented 501 "Not Implemented" html,
    ServiceUnavailable 503 "Service Unavailable" html,
    // RFC 9110 §15.6.6 (SHOULD): say why, and which protocols are supported.
    VersionNotSupported 505 "HTTP Version Not Supported" html
        "<p>The request's major HTTP version is not one this server speaks: it supports \
        HTTP/1.1 and HTTP/1.0 only.</p>",
}

impl Status {
    /// Whether a response with this status carries content and its length (RFC 9110 §6.4.1:
    /// never 204 or 304).
    pub fn allows_body(self) -> bool {
        !matches!(self, Status::NoContent | Status::NotModified)
    }
}

/// Whether a header is the server's alone to write: the ones that frame the message or manage
/// the connection (RFC 9112 §6, §9.6), and the validators the preconditions are evaluated
/// against (RFC 9110 §13.2.2); a configured value would corrupt them.
pub fn server_owned(name: &str) -> bool {
    const OWNED: [&str; 13] = [
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "trailer",
        "te",
        "content-range",
        "content-encoding",
        "date",
        "server",
        "etag",
        "last-modified",
    ];
    OWNED.iter().any(|o| name.eq_ignore_ascii_case(o))
}

/// Whether a header is one the server sends itself on some answers, where a configured line
/// beside it would contradict it: a singleton (RFC 9110 §5.3: Content-Type §8.3, Location
/// §10.2.2, Retry-After §10.2.3), a list that states what the server does (Allow §10.2.1,
/// Accept-Ranges §14.3), or Age, which says a cache answered (RFC 9111 §5.1). A `_headers`
/// block may set them: it replaces the server's line for the paths it matches. `--header`
/// adds a line to every response beside the server's, so it may not.
pub fn server_sent(name: &str) -> bool {
    const SENT: [&str; 6] = [
        "content-type",
        "location",
        "retry-after",
        "allow",
        "accept-ranges",
        "age",
    ];
    SENT.iter().any(|o| name.eq_ignore_ascii_case(o))
}

/// Whether a response field is defined as a singleton (RFC 9110 §5.5, RFC 9111 §5), of which a
/// sender MUST NOT generate two lines (RFC 9110 §5.3): those [`server_owned`] and
/// [`server_sent`] do not already cover, which a configuration may send once.
pub fn singleton(name: &str) -> bool {
    const ONCE: [&str; 2] = ["expires", "content-location"];
    ONCE.iter().any(|o| name.eq_ignore_ascii_case(o)) || server_sent(name) || server_owned(name)
}

/// Appends a response head to `out`, one header at a time; [`HeadWriter::finish`] ends it.
pub struct HeadWriter<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> HeadWriter<'a> {
    /// Starts a head: status line, `Date` and `Server`.
    pub fn new(out: &'a mut Vec<u8>, status: Status) -> Self {
        out.extend_from_slice(b"HTTP/1.1 ");
        out.extend_from_slice(status.text().as_bytes());
        out.extend_from_slice(b"\r\nServer: muxserve\r\nDate: ");
        date::with_now(|d| out.extend_from_slice(d));
        out.extend_from_slice(b"\r\n");
        HeadWriter { out }
    }

    /// Adds one header line; the caller guarantees neither part holds CR or LF.
    pub fn header(&mut self, name: &[u8], value: &[u8]) -> &mut Self {
        debug_assert!(!value.iter().any(|&b| b == b'\r' || b == b'\n'));
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        self.out.extend_from_slice(value);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// The head written so far, for a writer that appends a value's bytes itself; it
    /// guarantees they hold no CR or LF.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// Appends ready-made header lines, each ending in CRLF.
    pub fn raw(&mut self, lines: &[u8]) -> &mut Self {
        self.out.extend_from_slice(lines);
        self
    }

    /// Adds `Content-Type`, with `; charset=utf-8` when `utf8`.
    pub fn content_type(&mut self, essence: &str, utf8: bool) -> &mut Self {
        self.out.extend_from_slice(b"Content-Type: ");
        self.out.extend_from_slice(essence.as_bytes());
        if utf8 {
            self.out.extend_from_slice(b"; charset=utf-8");
        }
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Adds one header line whose value is `parts` one after another; the caller guarantees no
    /// part holds CR or LF.
    pub fn header_parts(&mut self, name: &[u8], parts: &[&[u8]]) -> &mut Self {
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        for part in parts {
            debug_assert!(!part.iter().any(|&b| b == b'\r' || b == b'\n'));
            self.out.extend_from_slice(part);
        }
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Adds `Content-Range: bytes first-last/len`, or `bytes */len` for `None`.
    pub fn content_range(&mut self, range: Option<(u64, u64)>, len: u64) -> &mut Self {
        self.out.extend_from_slice(b"Content-Range: bytes ");
        let mut num = itoa::Buffer::new();
        match range {
            Some((first, last)) => {
                self.out.extend_from_slice(num.format(first).as_bytes());
                self.out.push(b'-');
                self.out.extend_from_slice(num.format(last).as_bytes());
            }
            None => self.out.push(b'*'),
        }
        self.out.push(b'/');
        self.out.extend_from_slice(num.format(len).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Adds a header whose value is an IMF-fixdate of unix seconds `secs`.
    pub fn http_date(&mut self, name: &[u8], secs: u64) -> &mut Self {
        self.out.extend_from_slice(name);
        self.out.extend_from_slice(b": ");
        date::write_imf(secs, self.out);
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Adds `Content-Length`.
    pub fn content_length(&mut self, len: u64) -> &mut Self {
        self.out.extend_from_slice(b"Content-Length: ");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
        self.out.extend_from_slice(b"\r\n");
        self
    }

    /// Ends the head with the empty line.
    pub fn finish(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_name_their_status() {
        for s in [
            Status::NotFound,
            Status::BadRequest,
            Status::VersionNotSupported,
        ] {
            let body = std::str::from_utf8(s.page()).unwrap();
            assert!(
                body.contains(&format!("<title>{}</title>", s.text())),
                "{body}"
            );
        }
        assert_eq!(Status::NotModified.page(), b"");
        let why = std::str::from_utf8(Status::VersionNotSupported.page()).unwrap();
        assert!(why.contains("HTTP/1.1 and HTTP/1.0"), "{why}");
        assert_eq!(Status::NotFound.text(), "404 Not Found");
        assert_eq!(Status::HeaderFieldsTooLarge.code(), 431);
    }

    #[test]
    fn writes_a_head() {
        let mut out = Vec::new();
        let mut w = HeadWriter::new(&mut out, Status::NotFound);
        w.header(b"Content-Type", b"text/html").content_length(12);
        w.finish();
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("HTTP/1.1 404 Not Found\r\nServer: muxserve\r\nDate: "));
        assert!(s.ends_with(" GMT\r\nContent-Type: text/html\r\nContent-Length: 12\r\n\r\n"));
    }
}
