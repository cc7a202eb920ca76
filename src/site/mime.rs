//! Content types by file extension: mime_guess's table, with the few types browsers are strict
//! about pinned here, and `charset=utf-8` on text. It must never look inside a file.

/// A `Content-Type` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType {
    /// The media type, e.g. `text/css`.
    pub essence: &'static str,
    /// Whether `; charset=utf-8` follows.
    pub utf8: bool,
}

/// `text/html; charset=utf-8`, for index and error pages.
pub const HTML: ContentType = ContentType {
    essence: "text/html",
    utf8: true,
};

/// The type for a file whose name ends in `.{ext}` (no dot; any case).
pub fn for_extension(ext: &[u8]) -> ContentType {
    // The common types first: mime_guess's case-insensitive search costs hundreds of
    // instructions, and this runs for every response.
    if let Some(ct) = common(ext) {
        return ct;
    }
    let Ok(ext) = std::str::from_utf8(ext) else {
        return octet_stream();
    };
    let essence = pinned(ext)
        .or_else(|| mime_guess::from_ext(ext).first_raw())
        .unwrap_or("application/octet-stream");
    ContentType {
        essence,
        utf8: is_text(essence),
    }
}

/// The types of most files on most sites, for lower-case extensions.
fn common(ext: &[u8]) -> Option<ContentType> {
    let (essence, utf8) = match ext {
        b"html" => ("text/html", true),
        b"css" => ("text/css", true),
        b"js" => ("text/javascript", true),
        b"json" => ("application/json", true),
        b"txt" => ("text/plain", true),
        b"svg" => ("image/svg+xml", true),
        b"png" => ("image/png", false),
        b"jpg" | b"jpeg" => ("image/jpeg", false),
        b"webp" => ("image/webp", false),
        b"woff2" => ("font/woff2", false),
        b"ico" => ("image/x-icon", false),
        _ => return None,
    };
    Some(ContentType { essence, utf8 })
}

fn octet_stream() -> ContentType {
    ContentType {
        essence: "application/octet-stream",
        utf8: false,
    }
}

/// Types where a wrong answer breaks pages: module scripts and wasm are refused by browsers under
/// a wrong type, and fonts and manifests are checked by some.
fn pinned(ext: &str) -> Option<&'static str> {
    const TABLE: [(&str, &str); 10] = [
        ("html", "text/html"),
        ("js", "text/javascript"),
        ("mjs", "text/javascript"),
        ("css", "text/css"),
        ("wasm", "application/wasm"),
        ("webmanifest", "application/manifest+json"),
        ("avif", "image/avif"),
        ("woff2", "font/woff2"),
        ("woff", "font/woff"),
        ("json", "application/json"),
    ];
    TABLE
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, t)| *t)
}

fn is_text(essence: &str) -> bool {
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript"
                | "application/json"
                | "application/manifest+json"
                | "application/ld+json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_agrees_with_the_full_lookup() {
        for ext in [
            "html", "css", "js", "json", "txt", "svg", "png", "jpg", "jpeg", "webp", "woff2", "ico",
        ] {
            let fast = common(ext.as_bytes()).unwrap();
            let essence = pinned(ext)
                .or_else(|| mime_guess::from_ext(ext).first_raw())
                .unwrap();
            assert_eq!(
                fast,
                ContentType {
                    essence,
                    utf8: is_text(essence)
                },
                "{ext}"
            );
        }
    }

    #[test]
    fn table() {
        for (ext, essence, utf8) in [
            ("html", "text/html", true),
            ("HTML", "text/html", true),
            ("css", "text/css", true),
            ("js", "text/javascript", true),
            ("mjs", "text/javascript", true),
            ("json", "application/json", true),
            ("svg", "image/svg+xml", true),
            ("txt", "text/plain", true),
            ("png", "image/png", false),
            ("wasm", "application/wasm", false),
            ("webmanifest", "application/manifest+json", true),
            ("avif", "image/avif", false),
            ("woff2", "font/woff2", false),
            ("unknownext", "application/octet-stream", false),
            ("", "application/octet-stream", false),
        ] {
            assert_eq!(
                for_extension(ext.as_bytes()),
                ContentType { essence, utf8 },
                "{ext}"
            );
        }
    }
}
