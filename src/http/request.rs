//! Request heads: httparse turns the bytes into a [`RequestHead`] that borrows from the read
//! buffer (no allocation per header), and the RFC 9112 checks that decide framing and validity
//! happen here: Host, Content-Length against Transfer-Encoding, duplicate lengths, version.
//! It must never allocate per request or look at the filesystem.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::mem::MaybeUninit;
use std::net::Ipv6Addr;

use httparse::Header;

use super::field;
use super::response::Status;

/// The most header fields `--max-headers` may allow.
pub const MAX_HEADERS: usize = 128;

/// Request methods known to this server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET
    Get,
    /// HEAD
    Head,
    /// OPTIONS
    Options,
    /// A method registered with IANA that a static server does not allow (POST, PUT, …): 405.
    NotAllowed,
}

impl Method {
    fn parse(token: &str) -> Option<Method> {
        // Methods are case-sensitive (RFC 9110 §9.1).
        Some(match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "POST" | "PUT" | "DELETE" | "PATCH" | "TRACE" | "CONNECT" => Method::NotAllowed,
            _ => return None,
        })
    }
}

/// The protocol version of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1 (and later 1.x minors, which RFC 9112 §2.3 says to treat as 1.1)
    Http11,
}

impl Version {
    /// The version as it appears in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// How the request's body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Lines of one header field that may be repeated (RFC 9110 §5.3), kept without allocating.
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldLines<'a> {
    lines: [&'a [u8]; MAX_FIELD_LINES],
    len: usize,
}

/// Lines of one list-valued field kept per request; more is answered with 431.
pub const MAX_FIELD_LINES: usize = 8;

impl<'a> FieldLines<'a> {
    fn push(&mut self, value: &'a [u8]) -> Result<(), RequestError> {
        let slot = self
            .lines
            .get_mut(self.len)
            .ok_or(RequestError::HeadTooLarge)?;
        *slot = value;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    /// The values of every line, in order; empty when the field is absent.
    pub fn lines(&self) -> &[&'a [u8]] {
        self.lines.get(..self.len).unwrap_or_default()
    }
}

/// Header fields the site and the log consult.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fields<'a> {
    /// `If-Match` lines.
    pub if_match: FieldLines<'a>,
    /// `If-None-Match` lines.
    pub if_none_match: FieldLines<'a>,
    /// `If-Modified-Since`; empty when sent on more than one line (a list: no date).
    pub if_modified_since: Option<&'a [u8]>,
    /// `If-Unmodified-Since`; empty when sent on more than one line (a list: no date).
    pub if_unmodified_since: Option<&'a [u8]>,
    /// `Range`.
    pub range: Option<&'a [u8]>,
    /// `If-Range`.
    pub if_range: Option<&'a [u8]>,
    /// `Accept-Encoding` lines.
    pub accept_encoding: FieldLines<'a>,
    /// `Accept` lines, for the listing's format.
    pub accept: FieldLines<'a>,
    /// `User-Agent`, for the access log.
    pub user_agent: Option<&'a [u8]>,
    /// `Referer`, for the access log.
    pub referer: Option<&'a [u8]>,
    /// `Origin`, for CORS; empty when sent twice (no origin matches it).
    pub origin: Option<&'a [u8]>,
    /// Whether `Access-Control-Request-Method` was sent, which makes an OPTIONS a CORS
    /// preflight; its value is the browser's to compare with the methods allowed.
    pub access_control_request_method: bool,
    /// `Forwarded` lines (RFC 7239), for the client behind trusted proxies.
    pub forwarded: FieldLines<'a>,
    /// `X-Forwarded-For` lines, read when there is no `Forwarded`.
    pub x_forwarded_for: FieldLines<'a>,
    /// `Authorization`, for `--basic-auth`.
    pub authorization: Option<&'a [u8]>,
}

/// A parsed request head, borrowing from the connection's read buffer.
#[derive(Debug)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: Method,
    /// The method token as sent, for the access log.
    pub method_str: &'a str,
    /// The request-target as sent, for the access log.
    pub target: &'a str,
    /// The version.
    pub version: Version,
    /// The path part of the target, still percent-encoded, starting with `/`; `*` for OPTIONS *
    /// and for CONNECT's `host:port`.
    pub path: &'a str,
    /// The query, without the `?`.
    pub query: Option<&'a str>,
    /// The host the request is for: the absolute-form target's authority, else `Host`.
    pub host: Option<&'a [u8]>,
    /// Whether the target is in absolute form with the `https` scheme, which the connection
    /// must have been secured for (RFC 9110 §7.4): the caller knows whether it was.
    pub https_target: bool,
    /// Whether the client wants the connection kept open after this exchange.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending a body.
    pub expect_continue: bool,
    /// How the body is delimited.
    pub body: BodyFraming,
    /// Fields for the site and the log.
    pub fields: Fields<'a>,
}

/// Why a request head was refused; each maps to one status and the connection then closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Malformed syntax, bad Host, conflicting framing: 400.
    BadRequest,
    /// The head exceeds the size or header-count limit: 431.
    HeadTooLarge,
    /// The request-target exceeds its limit: 414.
    UriTooLong,
    /// The declared body exceeds the body limit: 413.
    BodyTooLarge,
    /// Unknown method, or a transfer coding other than chunked: 501.
    NotImplemented,
    /// A major version other than 1: 505.
    VersionNotSupported,
    /// An `Expect` other than `100-continue`: 417.
    ExpectationFailed,
}

impl RequestError {
    /// The status that answers this error.
    pub fn status(self) -> Status {
        match self {
            RequestError::BadRequest => Status::BadRequest,
            RequestError::HeadTooLarge => Status::HeaderFieldsTooLarge,
            RequestError::UriTooLong => Status::UriTooLong,
            RequestError::BodyTooLarge => Status::ContentTooLarge,
            RequestError::NotImplemented => Status::NotImplemented,
            RequestError::VersionNotSupported => Status::VersionNotSupported,
            RequestError::ExpectationFailed => Status::ExpectationFailed,
        }
    }
}

/// Size limits applied while parsing.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Request line plus headers.
    pub max_head: usize,
    /// Request-target.
    pub max_uri: usize,
    /// Declared body length.
    pub max_body: u64,
    /// Header fields (at most [`MAX_HEADERS`]).
    pub max_headers: usize,
}

/// The outcome of parsing the start of a buffer.
#[derive(Debug)]
// Complete is the common case; boxing it would allocate per request.
#[allow(clippy::large_enum_variant)]
pub enum Parsed<'a> {
    /// A complete head of `len` bytes.
    Complete {
        /// The head.
        head: RequestHead<'a>,
        /// Bytes it occupied.
        len: usize,
    },
    /// More bytes are needed.
    Partial,
}

/// Rewrites an `HTTP/1.x` request line with x > 1 to `HTTP/1.1`, in place, as RFC 9112 §2.3 asks
/// a 1.1 server to treat it; httparse accepts only 1.0 and 1.1. Returns whether it changed a byte.
pub fn normalize_minor_version(buf: &mut [u8]) -> bool {
    match line_version(buf) {
        Some((b'1', minor, at)) if minor > b'1' => match buf.get_mut(at) {
            Some(digit) => {
                *digit = b'1';
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The version digits at the end of the request line, with the minor digit's offset.
fn line_version(buf: &[u8]) -> Option<(u8, u8, usize)> {
    let rest = from_request_line(buf);
    let start = buf.len().checked_sub(rest.len())?;
    let line = rest.get(..rest.iter().position(|&b| b == b'\n')?)?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let (major, minor) = trailing_version(line)?;
    Some((major, minor, start.checked_add(line.len())?.checked_sub(1)?))
}

/// The major and minor digits of a line that ends in ` HTTP/d.d`.
fn trailing_version(line: &[u8]) -> Option<(u8, u8)> {
    match line {
        [.., b' ', b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some((*major, *minor))
        }
        _ => None,
    }
}

/// Parses one request head at the start of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, RequestError> {
    // Uninitialised slots: httparse writes each before it hands it out, and nothing has to clear
    // the whole array for every request.
    let mut headers = [const { MaybeUninit::<Header<'a>>::uninit() }; MAX_HEADERS];
    let slots = headers
        .get_mut(..limits.max_headers.min(MAX_HEADERS))
        .unwrap_or_default();
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::HeadTooLarge),
        // The version is judged on the whole line: `HTTP/1.2` whose CR LF has not arrived yet
        // must wait for it, as the same bytes in one read would be served (found by fuzzing,
        // twice: the second time behind empty lines, which hold an LF of their own); and
        // `HTTP/2` must wait for the rest of its version, which decides 505 against 400.
        Err(httparse::Error::Version)
            if !from_request_line(buf).contains(&b'\n')
                && ends_like_version(from_request_line(buf)) =>
        {
            return partial(buf, limits);
        }
        Err(httparse::Error::Version) => {
            return Err(match line_version(buf) {
                Some((major, _, _)) if major >= b'2' => RequestError::VersionNotSupported,
                _ => RequestError::BadRequest,
            });
        }
        Err(_) => return Err(RequestError::BadRequest),
    };
    if len > limits.max_head {
        return Err(RequestError::HeadTooLarge);
    }
    let (Some(method_str), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(RequestError::BadRequest);
    };
    if target.len() > limits.max_uri {
        return Err(RequestError::UriTooLong);
    }
    let method = Method::parse(method_str).ok_or(RequestError::NotImplemented)?;
    let version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let head = build(method, method_str, target, version, req.headers, limits)?;
    Ok(Parsed::Complete { head, len })
}

/// `buf` from its request line on: a server skips empty lines before it (RFC 9112 §2.2), as
/// httparse does.
fn from_request_line(buf: &[u8]) -> &[u8] {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    buf.get(start..).unwrap_or_default()
}

/// Whether an unfinished request line ends in `HTTP/d.d`, perhaps followed by its CR, or in a
/// start of one that a digit already began (`HTTP/2`, `HTTP/2.`).
fn ends_like_version(buf: &[u8]) -> bool {
    let line = buf.strip_suffix(b"\r").unwrap_or(buf);
    trailing_version(line).is_some()
        || matches!(line, [.., b' ', b'H', b'T', b'T', b'P', b'/', major] | [.., b' ', b'H', b'T', b'T', b'P', b'/', major, b'.']
            if major.is_ascii_digit())
}

/// Decides whether an incomplete head may still become valid within the limits.
fn partial<'a>(buf: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, RequestError> {
    let line = from_request_line(buf);
    // The request line is method, SP, target, SP, version: allow the longest method we know
    // and the version on top of the target limit before calling the target too long. Only the
    // line counts: empty lines before it are skipped (RFC 9112 §2.2), and counting them refused
    // in pieces a head that one read accepts (found by the framing fuzz target).
    if !line.contains(&b'\n') && line.len() > limits.max_uri.saturating_add(32) {
        return Err(RequestError::UriTooLong);
    }
    if buf.len() >= limits.max_head {
        return Err(RequestError::HeadTooLarge);
    }
    Ok(Parsed::Partial)
}

fn build<'a>(
    method: Method,
    method_str: &'a str,
    target: &'a str,
    version: Version,
    headers: &[Header<'a>],
    limits: &Limits,
) -> Result<RequestHead<'a>, RequestError> {
    let connect = method_str == "CONNECT";
    let (authority, path, query, https_target) = split_target(method, connect, target)?;
    let mut scan = FramingScan::default();
    let mut fields = Fields::default();
    for h in headers {
        if !scan.push(h.name, h.value)? {
            fields.record(h.name, h.value)?;
        }
    }
    let (body, keep_alive) = scan.finish(version, limits)?;
    Ok(RequestHead {
        // RFC 9112 §3.2.2: an absolute-form target's authority replaces Host.
        host: authority.map(str::as_bytes).or(scan.host),
        https_target,
        method,
        method_str,
        target,
        version,
        path,
        query,
        keep_alive,
        expect_continue: scan.expect_continue,
        body,
        fields,
    })
}

/// The fields that decide a request's framing and validity (RFC 9112), checked as they come.
#[derive(Clone, Copy, Debug, Default)]
struct FramingScan<'a> {
    hosts: u32,
    host: Option<&'a [u8]>,
    content_length: Option<u64>,
    transfer_encoding: bool,
    chunked_last: bool,
    /// How many times `chunked` was listed; more than once no sender may (RFC 9112 §6.1).
    chunked: u8,
    /// Whether a coding other than a bare `chunked` was listed: we decode nothing else.
    other_coding: bool,
    conn_close: bool,
    conn_keep_alive: bool,
    expect_continue: bool,
}

impl<'a> FramingScan<'a> {
    /// Takes one field line if it is a framing field; false if it is some other field.
    fn push(&mut self, name: &str, value: &'a [u8]) -> Result<bool, RequestError> {
        if name.eq_ignore_ascii_case("host") {
            self.hosts = self.hosts.saturating_add(1);
            self.host = Some(value);
            // RFC 9112 §3.2: 400 for "a Host header field with an invalid field value", that
            // is one that is not `uri-host [ ":" port ]`.
            if split_host_port(value).is_none() {
                return Err(RequestError::BadRequest);
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9112 §6.3 (5): a list of identical values may be taken as one; anything
            // else is unrecoverable framing.
            for item in field::elements(value) {
                let n = parse_length(item).ok_or(RequestError::BadRequest)?;
                if self.content_length.is_some_and(|c| c != n) {
                    return Err(RequestError::BadRequest);
                }
                self.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            self.transfer_encoding = true;
            for coding in field::elements(value) {
                if coding.is_empty() {
                    continue;
                }
                // transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112 §7):
                // its name decides which coding is last, for framing.
                let name = coding.split(|&b| b == b';').next().unwrap_or_default();
                self.chunked_last = field::trim_ows(name).eq_ignore_ascii_case(b"chunked");
                self.chunked = self.chunked.saturating_add(u8::from(self.chunked_last));
                // Parameters on chunked SHOULD be an error (§7.1): only a bare one is ours.
                self.other_coding |= !coding.eq_ignore_ascii_case(b"chunked");
            }
        } else if name.eq_ignore_ascii_case("connection") {
            for token in field::elements(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.conn_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.conn_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            // RFC 9110 §10.1.1: 100-continue is the only expectation defined.
            if field::trim_ows(value).eq_ignore_ascii_case(b"100-continue") {
                self.expect_continue = true;
            } else {
                return Err(RequestError::ExpectationFailed);
            }
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// After every field line: how the body is delimited, and whether the connection stays open.
    fn finish(
        &self,
        version: Version,
        limits: &Limits,
    ) -> Result<(BodyFraming, bool), RequestError> {
        // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
        // HTTP/1.1 request message that lacks a Host header field", an absolute-form target
        // included (its authority replaces Host's value, §3.2.2, but does not excuse its
        // absence; nginx 1.22 answers 400 too), "and to any request message that contains more
        // than one Host header field line". HTTP/1.0 had no Host and is served without one.
        if self.hosts > 1 || (self.hosts == 0 && version == Version::Http11) {
            return Err(RequestError::BadRequest);
        }
        let body = if self.transfer_encoding {
            // RFC 9112 §6.1: Transfer-Encoding with Content-Length is a smuggling vector; we
            // refuse rather than guess. §6.3 (4): a request whose final coding is not chunked
            // cannot be delimited, and the server MUST answer 400; so `gzip` alone is 400, not
            // 501. HTTP/1.0 has no transfer codings. These come first: each is a MUST about
            // framing, where 501 below is a SHOULD about a body that could be delimited.
            // "A sender MUST NOT apply the chunked transfer coding more than once" (§6.1):
            // where the body ends would then depend on which layer a reader decodes, the very
            // disagreement request smuggling uses, so `chunked, chunked` is 400 too.
            if self.content_length.is_some()
                || !self.chunked_last
                || self.chunked > 1
                || version == Version::Http10
            {
                return Err(RequestError::BadRequest);
            }
            // RFC 9112 §6.1: "A server that receives a request message with a transfer coding
            // it does not understand SHOULD respond with 501 (Not Implemented)". Only chunked
            // is decoded, so any other coding in the list (`gzip, chunked`) is one.
            if self.other_coding {
                return Err(RequestError::NotImplemented);
            }
            BodyFraming::Chunked
        } else {
            match self.content_length {
                Some(n) if n > limits.max_body => return Err(RequestError::BodyTooLarge),
                Some(0) | None => BodyFraming::None,
                Some(n) => BodyFraming::Length(n),
            }
        };
        // RFC 9112 §9.3: 1.1 persists unless it says close; 1.0 only if it asks to.
        let keep_alive = match version {
            Version::Http11 => !self.conn_close,
            Version::Http10 => self.conn_keep_alive && !self.conn_close,
        };
        Ok((body, keep_alive))
    }
}

impl<'a> Fields<'a> {
    /// Keeps a field line the site or the log reads; others are ignored.
    fn record(&mut self, name: &str, value: &'a [u8]) -> Result<(), RequestError> {
        if name.eq_ignore_ascii_case("if-none-match") {
            self.if_none_match.push(value)?;
        } else if name.eq_ignore_ascii_case("if-match") {
            self.if_match.push(value)?;
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            // Two lines are one list value (RFC 9110 §5.2), and a recipient MUST ignore an
            // If-Modified-Since whose value "has more than one member" (§13.1.3) or an
            // If-Unmodified-Since that "appears to be a list of dates" (§13.1.4): an empty
            // value is no HTTP-date, so the site ignores it.
            if self.if_modified_since.replace(value).is_some() {
                self.if_modified_since = Some(b"");
            }
        } else if name.eq_ignore_ascii_case("if-unmodified-since") {
            // As If-Modified-Since just above (RFC 9110 §13.1.4, §5.2).
            if self.if_unmodified_since.replace(value).is_some() {
                self.if_unmodified_since = Some(b"");
            }
        } else if name.eq_ignore_ascii_case("range") {
            // RFC 9110 §14.2: Range is a singleton; two lines are ambiguous, so serve in full.
            if self.range.replace(value).is_some() {
                self.range = Some(b"");
            }
        } else if name.eq_ignore_ascii_case("if-range") {
            self.if_range.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            self.accept_encoding.push(value)?;
        } else if name.eq_ignore_ascii_case("accept") {
            self.accept.push(value)?;
        } else if name.eq_ignore_ascii_case("user-agent") {
            self.user_agent.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("referer") {
            self.referer.get_or_insert(value);
        } else if name.eq_ignore_ascii_case("origin") {
            // A singleton (RFC 6454 §7): two lines name no one origin, so none is allowed.
            if self.origin.replace(value).is_some() {
                self.origin = Some(b"");
            }
        } else if name.eq_ignore_ascii_case("access-control-request-method") {
            self.access_control_request_method = true;
        } else if name.eq_ignore_ascii_case("forwarded") {
            self.forwarded.push(value)?;
        } else if name.eq_ignore_ascii_case("x-forwarded-for") {
            self.x_forwarded_for.push(value)?;
        } else if name.eq_ignore_ascii_case("authorization") {
            // RFC 9110 §11.6.2: one set of credentials; two lines are ambiguous, so neither
            // is used.
            if self.authorization.replace(value).is_some() {
                self.authorization = Some(b"");
            }
        }
        Ok(())
    }
}

/// Splits a request-target into authority (absolute-form only), path and query (RFC 9112 §3.2),
/// and says whether its scheme was `https`. `connect` is whether the method is CONNECT, whose
/// authority-form names no resource here: it goes on as the path `*`, to be refused with 405
/// as the other methods a static server does not allow.
#[allow(clippy::type_complexity)]
fn split_target(
    method: Method,
    connect: bool,
    target: &str,
) -> Result<(Option<&str>, &str, Option<&str>, bool), RequestError> {
    if target == "*" {
        // Asterisk-form is only for OPTIONS (RFC 9112 §3.2.4).
        return if method == Method::Options {
            Ok((None, "*", None, false))
        } else {
            Err(RequestError::BadRequest)
        };
    }
    if connect && !target.starts_with('/') {
        // Authority-form, `uri-host ":" port`, is only for CONNECT (RFC 9112 §3.2.3), and
        // RFC 9110 §9.3.6 wants both parts: no empty host, no empty port.
        return match split_host_port(target.as_bytes()) {
            Some((host, Some(port))) if !host.is_empty() && !port.is_empty() => {
                Ok((None, "*", None, false))
            }
            _ => Err(RequestError::BadRequest),
        };
    }
    let mut https = false;
    let (authority, rest) = if target.starts_with('/') {
        (None, target)
    } else {
        // Absolute-form (RFC 9112 §3.2.2): a server MUST accept it. The scheme is
        // case-insensitive (RFC 3986 §3.1).
        let scheme = |s: &str| {
            target
                .get(..s.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(s))
                .then(|| target.get(s.len()..).unwrap_or_default())
        };
        let after = match (scheme("http://"), scheme("https://")) {
            (Some(after), _) => after,
            (None, Some(after)) => {
                https = true;
                after
            }
            (None, None) => return Err(RequestError::BadRequest),
        };
        let end = after
            .bytes()
            .position(|b| b == b'/' || b == b'?')
            .unwrap_or(after.len());
        let authority = &after[..end];
        // `uri-host [ ":" port ]`: userinfo's `@` is not in that grammar, so it is refused as
        // RFC 9110 §4.2.4 advises, and an empty host is rejected as §4.2.1 requires.
        if split_host_port(authority.as_bytes()).is_none_or(|(host, _)| host.is_empty()) {
            return Err(RequestError::BadRequest);
        }
        (Some(authority), &after[end..])
    };
    // A fragment is never sent by a conforming client; drop it rather than look it up.
    let rest = match rest.bytes().position(|b| b == b'#') {
        Some(i) => rest.get(..i).unwrap_or_default(),
        None => rest,
    };
    let (path, query) = match rest.bytes().position(|b| b == b'?') {
        Some(i) => (
            rest.get(..i).unwrap_or_default(),
            Some(rest.get(i.saturating_add(1)..).unwrap_or_default()),
        ),
        None => (rest, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((authority, path, query, https))
}

/// Splits `v` as `uri-host [ ":" port ]`, the grammar of Host (RFC 9112 §3.2, RFC 9110 §7.2)
/// and of a target's authority without userinfo, into its host and port; `None` when it is not
/// that. RFC 3986 §3.2.2-3.2.3: uri-host = IP-literal / IPv4address / reg-name, where every
/// IPv4address is also a reg-name, so two branches suffice; port = *DIGIT. Either part may be
/// empty (an empty Host is valid, an empty reg-name being allowed); the callers that need them
/// say so. One pass over the bytes: this runs on every request.
fn split_host_port(v: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let rest = match v.strip_prefix(b"[") {
        // IP-literal = "[" ( IPv6address / IPvFuture ) "]"
        Some(inner) => {
            let close = inner.iter().position(|&b| b == b']')?;
            let (literal, closing) = inner.split_at_checked(close)?;
            if !ip_literal(literal) {
                return None;
            }
            closing.get(1..)?
        }
        None => after_reg_name(v)?,
    };
    let host = v.get(..v.len().checked_sub(rest.len())?)?;
    match rest {
        [] => Some((host, None)),
        [b':', port @ ..] if port.iter().all(u8::is_ascii_digit) => Some((host, Some(port))),
        _ => None,
    }
}

/// What follows the reg-name at the start of `s` (RFC 3986 §3.2.2: `*( unreserved /
/// pct-encoded / sub-delims )`), or `None` for a `%` without two hex digits after it (§2.1).
/// One table lookup a byte in the common case: the chain of comparisons it replaced cost ~10
/// instructions a byte of every request's Host (callgrind).
fn after_reg_name(mut s: &[u8]) -> Option<&[u8]> {
    loop {
        // A run of plain bytes as one scan: matching a byte at a time cost ~7 instructions a
        // byte, this ~3 (callgrind).
        let run = s.iter().position(|&b| !reg_name_byte(b)).unwrap_or(s.len());
        s = s.get(run..)?;
        match s {
            [b'%', hi, lo, rest @ ..] if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                s = rest;
            }
            [b'%', ..] => return None,
            _ => return Some(s),
        }
    }
}

/// The inside of an IP-literal's brackets: IPv6address / IPvFuture (RFC 3986 §3.2.2). Rare
/// enough that parsing it with the standard library costs nothing that matters; its IPv6 text
/// grammar is RFC 4291 §2.2's, which RFC 3986's IPv6address spells out (no zone identifier).
fn ip_literal(s: &[u8]) -> bool {
    match s {
        // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ); ABNF strings are
        // case-insensitive (RFC 5234 §2.3).
        [b'v' | b'V', rest @ ..] => {
            let Some((version, tail)) = rest
                .iter()
                .position(|&b| b == b'.')
                .and_then(|dot| rest.split_at_checked(dot))
            else {
                return false;
            };
            let tail = tail.get(1..).unwrap_or_default();
            !version.is_empty()
                && version.iter().all(u8::is_ascii_hexdigit)
                && !tail.is_empty()
                && tail.iter().all(|&b| b == b':' || reg_name_byte(b))
        }
        _ => std::str::from_utf8(s).is_ok_and(|t| t.parse::<Ipv6Addr>().is_ok()),
    }
}

/// Whether a reg-name takes `b` unescaped.
fn reg_name_byte(b: u8) -> bool {
    // A u8 always indexes a table of 256: the bound is known and the check compiled out.
    REG_NAME_BYTES.get(usize::from(b)).copied().unwrap_or(false)
}

/// Which bytes a reg-name takes unescaped: unreserved and sub-delims (RFC 3986 §2.2, §2.3).
// Indexing in a const block is checked when the crate is built: it cannot fail at run time.
#[allow(clippy::indexing_slicing)]
const REG_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~');
        b += 1;
    }
    let others = b"!$&'()*+,;=";
    let mut i = 0;
    while i < others.len() {
        table[others[i] as usize] = true;
        i += 1;
    }
    table
};

fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?
            .checked_add(u64::from(d.saturating_sub(b'0')))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_bytes_are_rfc_3986s_and_nothing_else() {
        // RFC 3986 §3.2.2: a one-byte reg-name is unreserved or a sub-delim; ":" alone is an
        // empty host with an empty port. `%` needs two hex digits, brackets a literal.
        let reg_name = b"-._~!$&'()*+,;=";
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || reg_name.contains(&b) || b == b':';
            assert_eq!(split_host_port(&[b]).is_some(), want, "byte {b:#04x}");
        }
    }

    #[test]
    fn host_grammar() {
        // RFC 9112 §3.2 with RFC 3986 §3.2.2-3.2.3: uri-host [ ":" port ].
        for (good, host, port) in [
            ("", "", None),
            ("a", "a", None),
            ("example.com", "example.com", None),
            ("example.com:8080", "example.com", Some("8080")),
            ("a:", "a", Some("")),
            (":80", "", Some("80")),
            ("127.0.0.1:80", "127.0.0.1", Some("80")),
            ("a%20b%7E", "a%20b%7E", None),
            ("!$&'()*+,;=-._~", "!$&'()*+,;=-._~", None),
            ("[::1]", "[::1]", None),
            ("[::1]:8080", "[::1]", Some("8080")),
            ("[::]:", "[::]", Some("")),
            ("[2001:db8::7]", "[2001:db8::7]", None),
            ("[::ffff:192.0.2.1]:443", "[::ffff:192.0.2.1]", Some("443")),
            ("[1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7:8]", None),
            ("[v1.fe:80]", "[v1.fe:80]", None),
            ("[VaF.x~!]:1", "[VaF.x~!]", Some("1")),
        ] {
            let want = Some((host.as_bytes(), port.map(str::as_bytes)));
            assert_eq!(split_host_port(good.as_bytes()), want, "{good:?}");
        }
        for bad in [
            "a:xyz",
            "a:80:80",
            "a:-1",
            "::1",
            "a%zz",
            "a%2",
            "a%",
            "%",
            "a b",
            "a/b",
            "a@b",
            "a[b]",
            "a\tb",
            "caf\u{e9}",
            "[",
            "]",
            "[]",
            "[::1",
            "[::1]x",
            "[::1]]",
            "[::1]:x",
            "[::1]:80:80",
            "[[::1]]",
            "[::g]",
            "[12345::]",
            "[1:2:3:4:5:6:7:8:9]",
            "[1.2.3.4]",
            "[::1%25eth0]",
            "[v.x]",
            "[v1.]",
            "[v1]",
            "[vx.y]",
            "[v1.a/b]",
        ] {
            assert_eq!(split_host_port(bad.as_bytes()), None, "{bad:?}");
        }
    }

    const LIMITS: Limits = Limits {
        max_head: 4096,
        max_uri: 256,
        max_body: 1000,
        max_headers: 100,
    };

    fn ok(raw: &str) -> RequestHead<'_> {
        match parse(raw.as_bytes(), &LIMITS) {
            Ok(Parsed::Complete { head, len }) => {
                assert_eq!(len, raw.len());
                head
            }
            other => panic!("{raw:?} → {other:?}"),
        }
    }

    /// Method and path of a head parsed from a string made for the test.
    fn ok_owned(raw: String) -> (Method, String) {
        let h = ok(&raw);
        (h.method, h.path.to_string())
    }

    fn err(raw: &str) -> RequestError {
        match parse(raw.as_bytes(), &LIMITS) {
            Err(e) => e,
            other => panic!("{raw:?} → {other:?}"),
        }
    }

    #[test]
    fn origin_form() {
        let h = ok("GET /a/b.css?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(
            (h.method, h.path, h.query),
            (Method::Get, "/a/b.css", Some("x=1"))
        );
        assert!(h.keep_alive);
        assert_eq!(h.body, BodyFraming::None);
    }

    #[test]
    fn absolute_form_and_asterisk() {
        let h = ok("GET http://example.com:8080/x?q HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((h.path, h.query), ("/x", Some("q")));
        let h = ok("GET HTTP://example.com HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(h.path, "/");
        assert_eq!(ok("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path, "*");
        assert_eq!(
            err("GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET ftp://x/ HTTP/1.1\r\nHost: h\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET http://u@x/ HTTP/1.1\r\nHost: h\r\n\r\n"),
            RequestError::BadRequest
        );
        // RFC 9110 §4.2.1: an empty host is rejected, with a port after it too; the authority
        // is held to the Host grammar.
        for bad in ["http://:80/", "http://x:y/", "http://[::1/", "http://a%zz/"] {
            let raw = format!("GET {bad} HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(err(&raw), RequestError::BadRequest, "{bad}");
        }
        assert_eq!(
            ok("GET http://[::1]:80/a HTTP/1.1\r\nHost: h\r\n\r\n").path,
            "/a"
        );
        assert!(!ok("GET http://x/ HTTP/1.1\r\nHost: h\r\n\r\n").https_target);
        assert!(!ok("GET /x HTTP/1.1\r\nHost: h\r\n\r\n").https_target);
        let h = ok("GET HTTPS://x/a HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((h.https_target, h.path), (true, "/a"));
    }

    #[test]
    fn connect_authority_form() {
        for good in ["x:443", "[::1]:8443", "127.0.0.1:80"] {
            let h = ok_owned(format!("CONNECT {good} HTTP/1.1\r\nHost: {good}\r\n\r\n"));
            assert_eq!((h.0, h.1), (Method::NotAllowed, "*".to_string()), "{good}");
        }
        for bad in [
            "x",
            "x:",
            ":443",
            "x:44a",
            "u@x:443",
            "x y:443",
            "a:b:443",
            "[::1]:80:443",
        ] {
            let raw = format!("CONNECT {bad} HTTP/1.1\r\nHost: x\r\n\r\n");
            assert_eq!(err(&raw), RequestError::BadRequest, "{bad}");
        }
        // Authority-form is CONNECT's alone; CONNECT's origin form is refused as before.
        assert_eq!(
            err("POST x:443 HTTP/1.1\r\nHost: x\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(ok("CONNECT / HTTP/1.1\r\nHost: x\r\n\r\n").path, "/");
    }

    #[test]
    fn conditional_fields() {
        let h = ok(
            "GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\nif-none-match: \"b\"\r\n\
                    Range: bytes=0-1\r\nAccept-Encoding: gzip\r\nAccept: text/html\r\n\
                    accept: */*\r\n\r\n",
        );
        assert_eq!(h.fields.if_none_match.lines(), [&b"\"a\""[..], b"\"b\""]);
        assert_eq!(h.fields.range, Some(&b"bytes=0-1"[..]));
        assert_eq!(h.fields.accept_encoding.lines(), [&b"gzip"[..]]);
        assert_eq!(h.fields.accept.lines(), [&b"text/html"[..], b"*/*"]);
        assert!(h.fields.if_match.lines().is_empty());
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
        assert_eq!(h.fields.range, Some(&b""[..]));
        // RFC 9110 §5.2, §13.1.3, §13.1.4: two date lines are a list, which names no date.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        let raw = format!(
            "GET / HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: {date}\r\n\
             If-Unmodified-Since: {date}\r\n\r\n"
        );
        let h = ok(&raw);
        assert_eq!(h.fields.if_modified_since, Some(date.as_bytes()));
        assert_eq!(h.fields.if_unmodified_since, Some(date.as_bytes()));
        for name in ["If-Modified-Since", "If-Unmodified-Since"] {
            let raw =
                format!("GET / HTTP/1.1\r\nHost: h\r\n{name}: {date}\r\n{name}: {date}\r\n\r\n");
            let h = ok(&raw);
            let f = &h.fields;
            let (twice, once) = match name {
                "If-Modified-Since" => (f.if_modified_since, f.if_unmodified_since),
                _ => (f.if_unmodified_since, f.if_modified_since),
            };
            assert_eq!((twice, once), (Some(&b""[..]), None), "{name}");
        }
    }

    #[test]
    fn cors_fields() {
        let h = ok(
            "OPTIONS / HTTP/1.1\r\nHost: h\r\norigin: https://a.example\r\n\
                    Access-Control-Request-Method: GET\r\n\r\n",
        );
        assert_eq!(h.fields.origin, Some(&b"https://a.example"[..]));
        assert!(h.fields.access_control_request_method);
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nOrigin: https://a.example\r\n\
                    Origin: https://a.example\r\n\r\n");
        assert_eq!(h.fields.origin, Some(&b""[..]));
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(h.fields.origin, None);
        assert!(!h.fields.access_control_request_method);
    }

    #[test]
    fn forwarding_fields_keep_every_line_in_order() {
        let h = ok(
            "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4, 5.6.7.8\r\n\
             forwarded: for=1.2.3.4\r\nx-forwarded-for: 9.9.9.9\r\nForwarded: for=5.6.7.8\r\n\r\n",
        );
        assert_eq!(
            h.fields.x_forwarded_for.lines(),
            [&b"1.2.3.4, 5.6.7.8"[..], b"9.9.9.9"]
        );
        assert_eq!(
            h.fields.forwarded.lines(),
            [&b"for=1.2.3.4"[..], b"for=5.6.7.8"]
        );
        let many = "X-Forwarded-For: 1.1.1.1\r\n".repeat(MAX_FIELD_LINES + 1);
        assert_eq!(
            err(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")),
            RequestError::HeadTooLarge
        );
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !ok("GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, close\r\n\r\n").keep_alive
        );
    }

    #[test]
    fn host_rules() {
        assert_eq!(err("GET / HTTP/1.1\r\n\r\n"), RequestError::BadRequest);
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
            RequestError::BadRequest
        );
        // RFC 9112 §3.2: a Host value that is not `uri-host [ ":" port ]` is invalid.
        for bad in ["a:xyz", "[::1", "[::1]x", "a:80:80", "a%zz"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
            assert_eq!(err(&raw), RequestError::BadRequest, "Host: {bad}");
        }
        ok("GET / HTTP/1.1\r\nHost: \r\n\r\n");
        ok("GET / HTTP/1.0\r\n\r\n");
        ok("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n");
        // RFC 9112 §3.2: an absolute-form target does not excuse a missing Host in 1.1; its
        // authority still wins over Host's value (§3.2.2).
        assert_eq!(
            err("GET http://x/robots.txt HTTP/1.1\r\nConnection: close\r\n\r\n"),
            RequestError::BadRequest
        );
        ok("GET http://x/robots.txt HTTP/1.0\r\n\r\n");
        let h = ok("GET http://abs.example/ HTTP/1.1\r\nHost: hosthdr.example\r\n\r\n");
        assert_eq!(h.host, Some(&b"abs.example"[..]));
    }

    #[test]
    fn framing() {
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n");
        assert_eq!(h.body, BodyFraming::Length(5));
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n");
        assert_eq!(h.body, BodyFraming::Length(5));
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.body, BodyFraming::Chunked);
        let h = ok("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ,CHUNKED , \r\n\r\n");
        assert_eq!(h.body, BodyFraming::Chunked);
        for bad in [
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            // RFC 9112 §6.3 (4), a MUST, before §6.1's SHOULD of 501: the final coding is not
            // chunked, so the body cannot be delimited, whatever the codings are.
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: foo\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
            "GET / HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip, chunked\r\n\r\n",
        ] {
            assert_eq!(err(bad), RequestError::BadRequest, "{bad:?}");
        }
        // RFC 9112 §6.1: a coding we do not decode, under a final chunked, is 501; so are
        // parameters on chunked (§7.1) and on a compression coding (§7.2).
        for unknown in [
            "foo, chunked",
            "gzip, chunked",
            "x-gzip, chunked",
            "deflate, chunked",
            "compress, chunked",
            "identity, chunked",
            "chunked;foo=bar",
            "gzip;q=1, chunked",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {unknown}\r\n\r\n");
            assert_eq!(err(&raw), RequestError::NotImplemented, "{unknown}");
        }
        // Two lines are one list (RFC 9110 §5.2): gzip, then chunked.
        assert_eq!(
            err(
                "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            ),
            RequestError::NotImplemented
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1001\r\n\r\n"),
            RequestError::BodyTooLarge
        );
    }

    #[test]
    fn methods_and_versions() {
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: h\r\n\r\n").method,
            Method::NotAllowed
        );
        assert_eq!(
            err("BREW / HTTP/1.1\r\nHost: h\r\n\r\n"),
            RequestError::NotImplemented
        );
        assert_eq!(
            err("get / HTTP/1.1\r\nHost: h\r\n\r\n"),
            RequestError::NotImplemented
        );
        assert_eq!(
            err("GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
            RequestError::VersionNotSupported
        );
        assert_eq!(
            err("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
            RequestError::VersionNotSupported
        );
        assert_eq!(err("GET /\r\n\r\n"), RequestError::BadRequest);
        assert_eq!(err("GET / HTTX/1.1\r\n\r\n"), RequestError::BadRequest);
        let mut raw = b"GET / HTTP/1.2\r\nHost: h\r\n\r\n".to_vec();
        assert!(normalize_minor_version(&mut raw));
        assert!(!normalize_minor_version(&mut raw));
        assert_eq!(
            ok(std::str::from_utf8(&raw).unwrap()).version,
            Version::Http11
        );
    }

    #[test]
    fn limits_and_partials() {
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\nHo", &LIMITS),
            Ok(Parsed::Partial)
        ));
        let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(300));
        assert_eq!(err(&long), RequestError::UriTooLong);
        let long_partial = format!("GET /{}", "a".repeat(400));
        assert_eq!(err(&long_partial), RequestError::UriTooLong);
        let big = format!("GET / HTTP/1.1\r\nHost: h\r\nX: {}\r\n", "a".repeat(5000));
        assert_eq!(err(&big), RequestError::HeadTooLarge);
        let many: String = (0..LIMITS.max_headers + 1)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect();
        assert_eq!(
            err(&format!("GET / HTTP/1.1\r\nHost: h\r\n{many}\r\n")),
            RequestError::HeadTooLarge
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
            RequestError::BadRequest
        );
        assert_eq!(
            err("GET / HTTP/1.1\r\nHost: h\r\nExpect: tea\r\n\r\n"),
            RequestError::ExpectationFailed
        );
    }
}
