//! `multipart/byteranges` bodies (RFC 9110 §14.6) and `Content-Range` values,
//! parsed strictly.

use super::response::find_header;

/// One part of a `multipart/byteranges` body.
#[derive(Debug, Clone)]
pub struct Part {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The `boundary` parameter of a `multipart/byteranges` Content-Type.
pub fn multipart_boundary(content_type: &str) -> String {
    let (essence, params) = content_type
        .split_once(';')
        .unwrap_or_else(|| panic!("no parameters in Content-Type {content_type:?}"));
    assert!(
        essence.trim().eq_ignore_ascii_case("multipart/byteranges"),
        "Content-Type {content_type:?} is not multipart/byteranges"
    );
    for p in params.split(';') {
        if let Some((k, v)) = p.split_once('=') {
            if k.trim().eq_ignore_ascii_case("boundary") {
                let v = v.trim().trim_matches('"');
                assert!(!v.is_empty(), "empty boundary in {content_type:?}");
                return v.to_string();
            }
        }
    }
    panic!("no boundary parameter in Content-Type {content_type:?}")
}

/// Parses a `multipart/byteranges` body strictly (RFC 2046 §5.1.1, RFC 9110
/// §14.6): optional preamble, `--boundary CRLF`, part headers, `CRLF`, data
/// of exactly the length its `Content-Range` names, `CRLF--boundary`, …,
/// the close delimiter `--boundary--`, then at most a CRLF.
pub fn parse_multipart(body: &[u8], boundary: &str) -> Vec<Part> {
    let show = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(600)
            .collect::<String>()
    };
    let dash = format!("--{boundary}");
    let dash = dash.as_bytes();
    // The first delimiter: at the start or after a preamble ending in CRLF.
    let mut pos = if body.starts_with(dash) {
        dash.len()
    } else {
        let mut needle = b"\r\n".to_vec();
        needle.extend_from_slice(dash);
        let p = body
            .windows(needle.len())
            .position(|w| w == needle.as_slice())
            .unwrap_or_else(|| panic!("no first boundary in multipart body: {:?}", show()));
        p + needle.len()
    };
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            let epilogue = &rest[2..];
            assert!(
                epilogue.is_empty() || epilogue == b"\r\n",
                "unexpected bytes after the close delimiter: {:?}",
                String::from_utf8_lossy(epilogue)
            );
            return parts;
        }
        assert!(
            rest.starts_with(b"\r\n"),
            "boundary not followed by CRLF or --: {:?}",
            show()
        );
        pos += 2;
        let head_end = body[pos..]
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| pos + p)
            .unwrap_or_else(|| panic!("part headers never end: {:?}", show()));
        let head = std::str::from_utf8(&body[pos..head_end]).expect("UTF-8 part headers");
        let mut headers = Vec::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            let (k, v) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad part header line {line:?}"));
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let part_head = Part {
            headers,
            body: Vec::new(),
        };
        let cr = part_head
            .header("Content-Range")
            .unwrap_or_else(|| panic!("part without Content-Range: {part_head:?}"))
            .to_string();
        let (first, last, _) = parse_content_range(&cr);
        let len = (last - first + 1) as usize;
        let data_start = head_end + 4;
        assert!(
            data_start + len <= body.len(),
            "part {cr:?} runs past the end of the body"
        );
        let data = body[data_start..data_start + len].to_vec();
        pos = data_start + len;
        let mut delim = b"\r\n".to_vec();
        delim.extend_from_slice(dash);
        assert!(
            body[pos..].starts_with(&delim),
            "part {cr:?} data not followed by CRLF--boundary: {:?}",
            String::from_utf8_lossy(&body[pos..(pos + 80).min(body.len())])
        );
        pos += delim.len();
        parts.push(Part {
            headers: part_head.headers,
            body: data,
        });
        assert!(parts.len() <= 1000, "runaway multipart body");
    }
}

/// Parses `bytes FIRST-LAST/COMPLETE` into its numbers.
pub fn parse_content_range(v: &str) -> (u64, u64, u64) {
    fn bad(v: &str) -> ! {
        panic!("bad Content-Range {v:?}")
    }
    let rest = v.strip_prefix("bytes ").unwrap_or_else(|| bad(v));
    let (range, complete) = rest.split_once('/').unwrap_or_else(|| bad(v));
    let (first, last) = range.split_once('-').unwrap_or_else(|| bad(v));
    let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| bad(v));
    let (first, last, complete) = (n(first), n(last), n(complete));
    assert!(
        first <= last && last < complete,
        "inconsistent Content-Range {v:?}"
    );
    (first, last, complete)
}
