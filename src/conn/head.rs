//! Turning a [`Reply`] into the bytes of its response head. Pure: it appends to a buffer and
//! decides nothing about the body but whether its length is announced, so the RFC 9110 rules it
//! encodes are pinned by the table below. It must never write to a socket or look at a file.

use crate::http::request::{Method, Version};
use crate::http::response::{HeadWriter, Status};
use crate::site::cache_control;
use crate::site::rules::headers::{Matched, Server};
use crate::site::{ALLOW, AuthHeader, ContentRange, Reply};

/// What the response head needs to know of the request and the connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Exchange<'a> {
    /// The request's method (an error before the method is known answers as GET).
    pub(crate) method: Method,
    /// The request's version, which decides how keep-alive is spelled.
    pub(crate) version: Version,
    /// Whether the connection stays open after this response.
    pub(crate) keep_alive: bool,
    /// The site's `--header` lines, each ending in CRLF.
    pub(crate) extra_headers: &'a [u8],
    /// The `_headers` blocks for this response: they replace the server's own header of any
    /// name they set or remove.
    pub(crate) rule_headers: Option<Matched<'a>>,
    /// `WWW-Authenticate`'s value, for a 401 of `--basic-auth`.
    pub(crate) challenge: &'a str,
}

impl Exchange<'_> {
    /// Whether the body follows the head: never for HEAD (RFC 9110 §9.3.2), 204 or 304 (§6.4.1).
    pub(crate) fn sends_body(&self, status: Status) -> bool {
        self.method != Method::Head && status.allows_body()
    }
}

/// Appends the head of `reply` to `out`.
pub(crate) fn write_head(out: &mut Vec<u8>, reply: &Reply<'_>, exchange: &Exchange<'_>) {
    let status = reply.status;
    let rules = exchange.rule_headers;
    let ours = |bit: u64| rules.is_none_or(|r| !r.replaces(bit));
    let mut w = HeadWriter::new(out, status);
    match (&reply.boundary, reply.content_type) {
        // The multipart boundary is framing: a rule cannot replace that Content-Type.
        (Some(boundary), _) => {
            w.header_parts(
                b"Content-Type",
                &[b"multipart/byteranges; boundary=", boundary.as_bytes()],
            );
        }
        (None, Some(ct)) if ours(Server::CONTENT_TYPE) => {
            w.content_type(ct.essence, ct.utf8);
        }
        (None, _) => {}
    }
    // RFC 9110 §8.6: no Content-Length in 204 or 304. HEAD carries GET's length (§9.3.2).
    if status.allows_body() {
        w.content_length(reply.body.len());
    }
    if let Some(coding) = reply.encoding {
        w.header(b"Content-Encoding", coding.token().as_bytes());
    }
    match reply.content_range {
        Some(ContentRange::Bytes(r, len)) => w.content_range(Some((r.start, r.end)), len),
        Some(ContentRange::Unsatisfied(len)) => w.content_range(None, len),
        None => &mut w,
    };
    if reply.accept_ranges && ours(Server::ACCEPT_RANGES) {
        w.header(b"Accept-Ranges", b"bytes");
    }
    if let Some((etag, last_modified)) = &reply.validators {
        w.header(b"ETag", etag.as_bytes());
        // RFC 9110 §15.4.5: a 304 has the ETag, so Last-Modified adds nothing.
        if status != Status::NotModified {
            w.http_date(b"Last-Modified", *last_modified);
        }
    }
    if reply.private {
        if ours(Server::CACHE_CONTROL) {
            w.raw(b"Cache-Control: ");
            let start = w.buffer().len();
            w.raw(reply.cache_control.unwrap_or_default().as_bytes());
            cache_control::privatize(w.buffer(), start);
            w.raw(b"\r\n");
        }
    } else if let Some(cc) = reply.cache_control
        && ours(Server::CACHE_CONTROL)
    {
        w.header(b"Cache-Control", cc.as_bytes());
    }
    // One line naming every field, as a cache reads them all together (RFC 9110 §12.5.5).
    if let Some(vary) = reply.vary.field_value()
        && ours(Server::VARY)
    {
        w.header(b"Vary", vary);
    }
    if let Some(location) = &reply.location {
        w.header(b"Location", location.as_bytes());
    }
    if reply.allow {
        w.header(b"Allow", ALLOW);
    }
    // Rendered from the configuration, never from request bytes (site::cors).
    if let Some(cors) = reply.cors {
        if ours(Server::ACCESS_CONTROL_ALLOW_ORIGIN) {
            w.raw(&cors.allow_origin);
        }
        w.raw(&cors.preflight);
    }
    match reply.auth {
        AuthHeader::None => {}
        AuthHeader::Challenge => {
            w.header(b"WWW-Authenticate", exchange.challenge.as_bytes());
        }
        AuthHeader::RetryAfter => {
            w.header(b"Retry-After", b"1");
        }
    }
    match rules {
        None => {
            w.raw(exchange.extra_headers);
        }
        Some(rules) => {
            let lines = exchange.extra_headers.split_inclusive(|&b| b == b'\n');
            for (i, line) in lines.enumerate() {
                let name = line.split(|&b| b == b':').next().unwrap_or_default();
                if !rules.replaces_extra(i, name) {
                    w.raw(line);
                }
            }
            rules.write(&mut w, status == Status::NotModified);
        }
    }
    // RFC 9112 §9.3: 1.1 is persistent unless it says close; 1.0 only if it says keep-alive.
    if !exchange.keep_alive {
        w.header(b"Connection", b"close");
    } else if exchange.version == Version::Http10 {
        w.header(b"Connection", b"keep-alive");
    }
    w.finish();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::cors::CorsLines;
    use crate::site::{Body, Vary};

    /// The head's lines after the status line, without `Server` and `Date`.
    fn fields(reply: &Reply<'_>, exchange: &Exchange<'_>) -> (String, Vec<String>) {
        let mut out = Vec::new();
        write_head(&mut out, reply, exchange);
        let text = String::from_utf8(out).unwrap();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap();
        assert_eq!(rest, "", "the head ends with one empty line");
        let mut lines = head.split("\r\n").map(str::to_string);
        let status = lines.next().unwrap();
        let fields = lines
            .filter(|l| !l.starts_with("Server: ") && !l.starts_with("Date: "))
            .collect();
        (status, fields)
    }

    const GET11: Exchange<'static> = Exchange {
        method: Method::Get,
        version: Version::Http11,
        keep_alive: true,
        extra_headers: b"",
        rule_headers: None,
        challenge: "",
    };

    fn reply(status: Status) -> Reply<'static> {
        let mut r = Reply::page(status);
        r.content_type = None;
        r.body = Body::Static(b"hello");
        r
    }

    #[test]
    fn heads_follow_rfc_9110() {
        struct Case {
            reply: Reply<'static>,
            exchange: Exchange<'static>,
            status: &'static str,
            fields: Vec<&'static str>,
        }
        let etag = crate::site::file::FileMeta {
            len: 5,
            mtime: 784_111_777,
            mtime_nsec: 0,
            inode: 1,
            ..Default::default()
        }
        .etag();
        let validated = |status| {
            let mut r = reply(status);
            r.validators = Some((etag, 784_111_777));
            r
        };
        let etag_line = format!("ETag: {}", String::from_utf8_lossy(etag.as_bytes()));
        let etag_line: &'static str = Box::leak(etag_line.into_boxed_str());
        let cases = vec![
            Case {
                reply: reply(Status::Ok),
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5"],
            },
            // §8.6: no Content-Length in 204 or 304.
            Case {
                reply: reply(Status::NoContent),
                exchange: GET11,
                status: "HTTP/1.1 204 No Content",
                fields: vec![],
            },
            // §15.4.5: a 304 keeps the ETag and drops Last-Modified.
            Case {
                reply: validated(Status::NotModified),
                exchange: GET11,
                status: "HTTP/1.1 304 Not Modified",
                fields: vec![etag_line],
            },
            Case {
                reply: validated(Status::Ok),
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec![
                    "Content-Length: 5",
                    etag_line,
                    "Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT",
                ],
            },
            // §9.3.2: HEAD announces the length GET would send.
            Case {
                reply: reply(Status::Ok),
                exchange: Exchange {
                    method: Method::Head,
                    ..GET11
                },
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5"],
            },
            // RFC 9112 §9.3: how the connection's fate is spelled per version.
            Case {
                reply: reply(Status::Ok),
                exchange: Exchange {
                    keep_alive: false,
                    ..GET11
                },
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Connection: close"],
            },
            Case {
                reply: reply(Status::Ok),
                exchange: Exchange {
                    version: Version::Http10,
                    ..GET11
                },
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Connection: keep-alive"],
            },
            Case {
                reply: reply(Status::Ok),
                exchange: Exchange {
                    version: Version::Http10,
                    keep_alive: false,
                    ..GET11
                },
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Connection: close"],
            },
            // The site's own header lines go after ours, before Connection.
            Case {
                reply: reply(Status::Ok),
                exchange: Exchange {
                    keep_alive: false,
                    extra_headers: b"X-Frame-Options: DENY\r\n",
                    ..GET11
                },
                status: "HTTP/1.1 200 OK",
                fields: vec![
                    "Content-Length: 5",
                    "X-Frame-Options: DENY",
                    "Connection: close",
                ],
            },
            // §10.2.1 and §14.4: Allow on 405, Content-Range on 416.
            Case {
                reply: {
                    let mut r = reply(Status::MethodNotAllowed);
                    r.allow = true;
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 405 Method Not Allowed",
                fields: vec!["Content-Length: 5", "Allow: GET, HEAD, OPTIONS"],
            },
            Case {
                reply: {
                    let mut r = reply(Status::RangeNotSatisfiable);
                    r.content_range = Some(ContentRange::Unsatisfied(100));
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 416 Range Not Satisfiable",
                fields: vec!["Content-Length: 5", "Content-Range: bytes */100"],
            },
            // §12.5.5: every field the answer was chosen by, on one Vary line.
            Case {
                reply: {
                    let mut r = reply(Status::Ok);
                    r.vary = Vary {
                        accept_encoding: true,
                        ..Vary::default()
                    };
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Vary: Accept-Encoding"],
            },
            Case {
                reply: {
                    let mut r = reply(Status::Ok);
                    r.vary = Vary {
                        accept: true,
                        ..Vary::default()
                    };
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Vary: Accept"],
            },
            Case {
                reply: {
                    let mut r = reply(Status::Ok);
                    r.vary = Vary {
                        accept_encoding: true,
                        accept: true,
                        ..Vary::default()
                    };
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec!["Content-Length: 5", "Vary: Accept, Accept-Encoding"],
            },
            Case {
                reply: {
                    let mut r = reply(Status::Ok);
                    r.vary = Vary {
                        accept_encoding: true,
                        origin: true,
                        ..Vary::default()
                    };
                    r.cors = Some(Box::leak(Box::new(CorsLines {
                        allow_origin: b"Access-Control-Allow-Origin: https://a.example\r\n"[..]
                            .into(),
                        preflight: Box::default(),
                    })));
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 200 OK",
                fields: vec![
                    "Content-Length: 5",
                    "Vary: Accept-Encoding, Origin",
                    "Access-Control-Allow-Origin: https://a.example",
                ],
            },
            // A preflight's answer (Fetch §3.2.3), before the site's own lines.
            Case {
                reply: {
                    let mut r = Reply::page(Status::NoContent);
                    r.allow = true;
                    r.vary = Vary {
                        origin: true,
                        request_method: true,
                        ..Vary::default()
                    };
                    r.cors = Some(Box::leak(Box::new(CorsLines {
                        allow_origin: b"Access-Control-Allow-Origin: *\r\n"[..].into(),
                        preflight: b"Access-Control-Max-Age: 5\r\n"[..].into(),
                    })));
                    r
                },
                exchange: Exchange {
                    extra_headers: b"X-Frame-Options: DENY\r\n",
                    ..GET11
                },
                status: "HTTP/1.1 204 No Content",
                fields: vec![
                    "Vary: Origin, Access-Control-Request-Method",
                    "Allow: GET, HEAD, OPTIONS",
                    "Access-Control-Allow-Origin: *",
                    "Access-Control-Max-Age: 5",
                    "X-Frame-Options: DENY",
                ],
            },
            Case {
                reply: {
                    let mut r = reply(Status::PartialContent);
                    r.boundary = Some("b0undary".into());
                    r.content_type = Some(crate::site::mime::HTML);
                    r
                },
                exchange: GET11,
                status: "HTTP/1.1 206 Partial Content",
                fields: vec![
                    "Content-Type: multipart/byteranges; boundary=b0undary",
                    "Content-Length: 5",
                ],
            },
        ];
        for (i, c) in cases.iter().enumerate() {
            let (status, fields) = fields(&c.reply, &c.exchange);
            assert_eq!(status, c.status, "case {i}");
            assert_eq!(fields, c.fields, "case {i}");
        }
    }

    #[test]
    fn bodies_follow_only_where_allowed() {
        let head = Exchange {
            method: Method::Head,
            ..GET11
        };
        assert!(GET11.sends_body(Status::Ok));
        assert!(GET11.sends_body(Status::NotFound));
        assert!(!GET11.sends_body(Status::NoContent));
        assert!(!GET11.sends_body(Status::NotModified));
        assert!(!head.sends_body(Status::Ok));
    }
}
