//! The field-value grammar that request parsing, the site's field parsers and the configuration
//! share (RFC 9110 §5.6): optional whitespace, tokens, and comma-separated lists. Bytes in,
//! bytes out; nothing here allocates or knows what a field means.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

/// Whether `b` is optional whitespace: SP or HTAB (RFC 9110 §5.6.3).
pub fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `s` without leading and trailing optional whitespace.
pub fn trim_ows(s: &[u8]) -> &[u8] {
    let Some(start) = s.iter().position(|&b| !is_ows(b)) else {
        return &[];
    };
    let end = s.iter().rposition(|&b| !is_ows(b)).unwrap_or(start);
    s.get(start..=end).unwrap_or_default()
}

/// Whether `b` may appear in a `token` (RFC 9110 §5.6.2).
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The elements of a comma-separated list, each trimmed; empty elements are kept, for the caller
/// to skip or refuse (RFC 9110 §5.6.1 lets a recipient ignore them).
pub fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_tokens_and_lists() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"x"), b"x");
        assert!(b"gzip".iter().all(|&b| is_tchar(b)));
        assert!(!is_tchar(b' ') && !is_tchar(b',') && !is_tchar(b'"') && !is_tchar(0x80));
        let items: Vec<&[u8]> = elements(b"gzip, ,br ;q=1,").collect();
        assert_eq!(items, [&b"gzip"[..], b"", b"br ;q=1", b""]);
    }
}
