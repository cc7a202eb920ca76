//! Built-in HTML bodies for statuses that have no file behind them. They are static bytes with
//! no request data in them, so nothing a client sends can be reflected into a page.

use crate::http::response::Status;

macro_rules! page {
    ($text:literal) => {
        concat!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>",
            $text,
            "</title></head>\n<body><h1>",
            $text,
            "</h1><hr><p>muxserve</p></body></html>\n"
        )
        .as_bytes()
    };
}

/// The built-in body for `status`; empty for statuses that carry none.
pub fn for_status(status: Status) -> &'static [u8] {
    match status {
        Status::Ok | Status::NoContent | Status::PartialContent | Status::NotModified => b"",
        Status::MovedPermanently => page!("301 Moved Permanently"),
        Status::BadRequest => page!("400 Bad Request"),
        Status::Forbidden => page!("403 Forbidden"),
        Status::NotFound => page!("404 Not Found"),
        Status::MethodNotAllowed => page!("405 Method Not Allowed"),
        Status::NotAcceptable => page!("406 Not Acceptable"),
        Status::PreconditionFailed => page!("412 Precondition Failed"),
        Status::ContentTooLarge => page!("413 Content Too Large"),
        Status::UriTooLong => page!("414 URI Too Long"),
        Status::RangeNotSatisfiable => page!("416 Range Not Satisfiable"),
        Status::ExpectationFailed => page!("417 Expectation Failed"),
        Status::HeaderFieldsTooLarge => page!("431 Request Header Fields Too Large"),
        Status::InternalServerError => page!("500 Internal Server Error"),
        Status::NotImplemented => page!("501 Not Implemented"),
        Status::ServiceUnavailable => page!("503 Service Unavailable"),
        Status::VersionNotSupported => page!("505 HTTP Version Not Supported"),
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
            let body = std::str::from_utf8(for_status(s)).unwrap();
            assert!(body.contains(s.text()), "{body}");
        }
    }
}
