//! CORS, as the Fetch standard's CORS protocol (§3.2) has a server answer it: the policy
//! compiled once from [`CorsOptions`], and for each request the header lines and the `Vary`
//! names its answer carries. It owns which origin is allowed and what a preflight is told; it
//! must never write a head, read a socket, reflect a byte the configuration did not hold, or
//! offer credentials (`Access-Control-Allow-Credentials` is never sent: CORS here opens
//! reading to other pages, it restricts nothing, and a static file is the same for everyone).
//!
//! The decisions, each from the standard:
//! - An origin matches a configured one byte for byte. The browser's CORS check compares
//!   `Access-Control-Allow-Origin` with the serialization of the request's origin exactly
//!   (§4.10), and `Origin` is that serialization (§3.1), so a case-insensitive match would only
//!   ever echo what no browser accepts. The line echoed is the configured one, rendered here.
//! - `null` is never in a list (the configuration refuses it): every opaque origin sends it.
//! - `*` is `Access-Control-Allow-Origin: *` on every response, whatever the request says, and
//!   then the answer to GET and HEAD depends on no field; with a list it depends on `Origin`,
//!   so every response says `Vary: Origin`, also those to requests without an allowed origin
//!   (§3.2.5: otherwise a cache hands a response without the header to the CORS request).
//! - A preflight is OPTIONS with `Origin` and `Access-Control-Request-Method` (§3.2.2); from
//!   an allowed origin it gets, beside the 204 and `Allow`, `Access-Control-Allow-Methods`,
//!   the configured `Access-Control-Allow-Headers` as written (no credentials are ever
//!   allowed, so `*` is the wildcard it says: any name but `Authorization`, §3.2.3; nothing
//!   echoes `Access-Control-Request-Headers`, so the answer does not vary with it), and
//!   `Access-Control-Max-Age`. The requested method is not judged: the browser compares it
//!   with the methods listed. Any OPTIONS answer depends on `Origin` and
//!   `Access-Control-Request-Method` being there, so it names both in `Vary`.

use crate::config::{CorsOptions, CorsOrigins};
use crate::http::request::Method;
use crate::site::ALLOW;

/// The response header names the policy sends, which `--header` may then not set too.
pub const HEADER_NAMES: [&str; 4] = [
    "access-control-allow-origin",
    "access-control-allow-methods",
    "access-control-allow-headers",
    "access-control-max-age",
];

/// The compiled policy: which origins, and the lines of each answer, rendered once.
#[derive(Debug)]
pub struct CorsPolicy {
    origins: Origins,
}

#[derive(Debug)]
enum Origins {
    /// `*`: one pair of answers for everyone.
    Any(Answers),
    /// Sorted by origin, for a binary search.
    List(Vec<Allowed>),
}

/// A configured origin and its answers.
#[derive(Debug)]
struct Allowed {
    origin: Box<[u8]>,
    answers: Answers,
}

/// The lines for a GET or HEAD, and for a preflight.
#[derive(Debug)]
struct Answers {
    actual: CorsLines,
    preflight: CorsLines,
}

/// The CORS header lines of one response, each ending in CRLF. A reply points at one the
/// policy holds, so a reply without CORS carries one empty pointer and nothing else.
#[derive(Debug, PartialEq, Eq)]
pub struct CorsLines {
    /// `Access-Control-Allow-Origin`, which a `_headers` rule setting that name replaces.
    pub allow_origin: Box<[u8]>,
    /// A preflight's other lines; empty for other requests.
    pub preflight: Box<[u8]>,
}

/// What the policy says of one request: its lines, and the request fields it depended on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorsAnswer<'p> {
    /// The header lines; `None` when the origin is not allowed or it is not a CORS request.
    pub lines: Option<&'p CorsLines>,
    /// `Vary: Origin`.
    pub vary_origin: bool,
    /// `Vary: Access-Control-Request-Method`.
    pub vary_request_method: bool,
}

impl CorsPolicy {
    /// Compiles `options`; `extra` are the `--header` names, none of which may be one the
    /// policy sends (which of the two would a browser believe?).
    pub fn new<'a>(
        options: &CorsOptions,
        mut extra: impl Iterator<Item = &'a str>,
    ) -> Result<CorsPolicy, String> {
        if let Some(name) = extra.find(|n| HEADER_NAMES.iter().any(|h| n.eq_ignore_ascii_case(h))) {
            return Err(format!(
                "--header {name} conflicts with --cors-origins, which sends it"
            ));
        }
        let mut preflight = b"Access-Control-Allow-Methods: ".to_vec();
        preflight.extend_from_slice(ALLOW);
        preflight.extend_from_slice(b"\r\n");
        if !options.headers.is_empty() {
            preflight.extend_from_slice(b"Access-Control-Allow-Headers: ");
            preflight.extend_from_slice(options.headers.join(", ").as_bytes());
            preflight.extend_from_slice(b"\r\n");
        }
        preflight.extend_from_slice(b"Access-Control-Max-Age: ");
        preflight.extend_from_slice(itoa::Buffer::new().format(options.max_age).as_bytes());
        preflight.extend_from_slice(b"\r\n");
        let answers = |origin: &str| {
            let line: Box<[u8]> = format!("Access-Control-Allow-Origin: {origin}\r\n")
                .into_bytes()
                .into();
            Answers {
                actual: CorsLines {
                    allow_origin: line.clone(),
                    preflight: Box::default(),
                },
                preflight: CorsLines {
                    allow_origin: line,
                    preflight: preflight.clone().into(),
                },
            }
        };
        let origins = match &options.origins {
            CorsOrigins::Any => Origins::Any(answers("*")),
            CorsOrigins::List(list) => {
                let mut allowed: Vec<Allowed> = list
                    .iter()
                    .map(|o| Allowed {
                        origin: o.as_bytes().into(),
                        answers: answers(o),
                    })
                    .collect();
                allowed.sort_by(|a, b| a.origin.cmp(&b.origin));
                allowed.dedup_by(|a, b| a.origin == b.origin);
                Origins::List(allowed)
            }
        };
        Ok(CorsPolicy { origins })
    }

    /// The answer to a request with this `method` and `Origin`, and whether it sent
    /// `Access-Control-Request-Method`.
    pub fn answer(
        &self,
        method: Method,
        origin: Option<&[u8]>,
        request_method: bool,
    ) -> CorsAnswer<'_> {
        let options = method == Method::Options;
        let (answers, list) = match &self.origins {
            Origins::Any(answers) => (Some(answers), false),
            Origins::List(list) => {
                let allowed = origin
                    .and_then(|o| list.binary_search_by(|a| (*a.origin).cmp(o)).ok())
                    .and_then(|i| list.get(i));
                (allowed.map(|a| &a.answers), true)
            }
        };
        let lines = match (options, origin.is_some() && request_method) {
            (false, _) => answers.map(|a| &a.actual),
            (true, true) => answers.map(|a| &a.preflight),
            // A plain OPTIONS is about the server, not a cross-origin read.
            (true, false) => None,
        };
        CorsAnswer {
            lines,
            vary_origin: list || options,
            vary_request_method: options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: CorsOrigins, headers: &[&str]) -> CorsPolicy {
        let options = CorsOptions {
            origins,
            headers: headers.iter().map(|h| h.to_string()).collect(),
            max_age: 600,
        };
        CorsPolicy::new(&options, std::iter::empty()).unwrap()
    }

    /// Policy, method, Origin, Access-Control-Request-Method → the allow-origin line, the
    /// preflight lines, Vary: Origin, Vary: Access-Control-Request-Method.
    type Case<'a> = (
        &'a CorsPolicy,
        Method,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        &'a str,
        bool,
        bool,
    );

    const PREFLIGHT: &str = "Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\n\
                             Access-Control-Allow-Headers: X-A, *\r\n\
                             Access-Control-Max-Age: 600\r\n";

    #[test]
    fn answers_follow_the_fetch_standard() {
        let list = policy(
            CorsOrigins::List(vec![
                "https://b.example".into(),
                "http://localhost:3000".into(),
            ]),
            &["X-A", "*"],
        );
        let any = policy(CorsOrigins::Any, &["X-A", "*"]);
        let b = "Access-Control-Allow-Origin: https://b.example\r\n";
        let local = "Access-Control-Allow-Origin: http://localhost:3000\r\n";
        let star = "Access-Control-Allow-Origin: *\r\n";
        use Method::{Get, Head, NotAllowed, Options};
        #[rustfmt::skip]
        let cases: &[Case<'_>] = &[
            (&list, Get, Some("https://b.example"), None, b, "", true, false),
            (&list, Head, Some("http://localhost:3000"), None, local, "", true, false),
            (&list, Get, Some("https://c.example"), None, "", "", true, false),
            // Exact bytes: another case, a trailing slash, a default port, `null` are others.
            (&list, Get, Some("https://B.example"), None, "", "", true, false),
            (&list, Get, Some("https://b.example/"), None, "", "", true, false),
            (&list, Get, Some("https://b.example:443"), None, "", "", true, false),
            (&list, Get, Some("null"), None, "", "", true, false),
            (&list, Get, Some(""), None, "", "", true, false),
            // Vary: Origin even without one (Fetch §3.2.5).
            (&list, Get, None, None, "", "", true, false),
            (&list, NotAllowed, Some("https://b.example"), None, b, "", true, false),
            (&list, Options, Some("https://b.example"), Some("GET"), b, PREFLIGHT, true, true),
            // The requested method is the browser's to judge against the list.
            (&list, Options, Some("https://b.example"), Some("PUT"), b, PREFLIGHT, true, true),
            (&list, Options, Some("https://c.example"), Some("GET"), "", "", true, true),
            (&list, Options, Some("null"), Some("GET"), "", "", true, true),
            // Not a preflight: a plain OPTIONS.
            (&list, Options, Some("https://b.example"), None, "", "", true, true),
            (&list, Options, None, Some("GET"), "", "", true, true),
            (&list, Options, None, None, "", "", true, true),
            // `*`: the same line for everyone, no Vary outside OPTIONS.
            (&any, Get, Some("https://c.example"), None, star, "", false, false),
            (&any, Get, Some("null"), None, star, "", false, false),
            (&any, Get, None, None, star, "", false, false),
            (&any, Options, Some("https://c.example"), Some("GET"), star, PREFLIGHT, true, true),
            (&any, Options, None, Some("GET"), "", "", true, true),
            (&any, Options, Some("https://c.example"), None, "", "", true, true),
        ];
        for (i, (p, method, origin, acrm, ao, pre, vo, vm)) in cases.iter().enumerate() {
            let a = p.answer(*method, origin.map(str::as_bytes), acrm.is_some());
            let text = |f: fn(&CorsLines) -> &[u8]| {
                a.lines
                    .map(|l| String::from_utf8_lossy(f(l)).into_owned())
                    .unwrap_or_default()
            };
            let got = (
                text(|l| &l.allow_origin),
                text(|l| &l.preflight),
                a.vary_origin,
                a.vary_request_method,
            );
            let want = (ao.to_string(), pre.to_string(), *vo, *vm);
            assert_eq!(got, want, "case {i}: {method:?} {origin:?} {acrm:?}");
        }
    }

    #[test]
    fn preflight_lines_without_headers_and_conflicts() {
        let p = policy(CorsOrigins::Any, &[]);
        let a = p.answer(Method::Options, Some(b"https://a.example"), true);
        assert_eq!(
            &*a.lines.unwrap().preflight,
            b"Access-Control-Allow-Methods: GET, HEAD, OPTIONS\r\nAccess-Control-Max-Age: 600\r\n"
        );
        let options = CorsOptions {
            origins: CorsOrigins::Any,
            headers: vec![],
            max_age: 1,
        };
        let e = CorsPolicy::new(
            &options,
            ["X-Frame-Options", "access-control-allow-origin"].into_iter(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "--header access-control-allow-origin conflicts with --cors-origins, which sends it"
        );
        assert!(CorsPolicy::new(&options, ["Access-Control-Expose-Headers"].into_iter()).is_ok());
    }
}
