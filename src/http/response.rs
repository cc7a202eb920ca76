//! Response heads, written into a reused `Vec<u8>` from static slices and `itoa`, never with
//! `format!`, so the hot path allocates nothing. It knows status lines and header syntax; it must
//! never decide what to serve.

use super::date;

/// The statuses this server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// 200
    Ok,
    /// 204
    NoContent,
    /// 206
    PartialContent,
    /// 301
    MovedPermanently,
    /// 304
    NotModified,
    /// 400
    BadRequest,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 406
    NotAcceptable,
    /// 412
    PreconditionFailed,
    /// 413
    ContentTooLarge,
    /// 414
    UriTooLong,
    /// 416
    RangeNotSatisfiable,
    /// 417
    ExpectationFailed,
    /// 431
    HeaderFieldsTooLarge,
    /// 500
    InternalServerError,
    /// 501
    NotImplemented,
    /// 503
    ServiceUnavailable,
    /// 505
    VersionNotSupported,
}

impl Status {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::NoContent => 204,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::NotAcceptable => 406,
            Status::PreconditionFailed => 412,
            Status::ContentTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::ExpectationFailed => 417,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::ServiceUnavailable => 503,
            Status::VersionNotSupported => 505,
        }
    }

    /// The code and reason phrase, as in `404 Not Found`.
    pub fn text(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::NoContent => "204 No Content",
            Status::PartialContent => "206 Partial Content",
            Status::MovedPermanently => "301 Moved Permanently",
            Status::NotModified => "304 Not Modified",
            Status::BadRequest => "400 Bad Request",
            Status::Forbidden => "403 Forbidden",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::NotAcceptable => "406 Not Acceptable",
            Status::PreconditionFailed => "412 Precondition Failed",
            Status::ContentTooLarge => "413 Content Too Large",
            Status::UriTooLong => "414 URI Too Long",
            Status::RangeNotSatisfiable => "416 Range Not Satisfiable",
            Status::ExpectationFailed => "417 Expectation Failed",
            Status::HeaderFieldsTooLarge => "431 Request Header Fields Too Large",
            Status::InternalServerError => "500 Internal Server Error",
            Status::NotImplemented => "501 Not Implemented",
            Status::ServiceUnavailable => "503 Service Unavailable",
            Status::VersionNotSupported => "505 HTTP Version Not Supported",
        }
    }

    /// Whether a response with this status carries content and its length (RFC 9110 §6.4.1:
    /// never 204 or 304).
    pub fn allows_body(self) -> bool {
        !matches!(self, Status::NoContent | Status::NotModified)
    }
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

    /// Appends to the value of the header just added (which ended with CRLF).
    pub fn continue_value(&mut self, more: &[u8]) -> &mut Self {
        self.out.truncate(self.out.len().saturating_sub(2));
        self.out.extend_from_slice(more);
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
