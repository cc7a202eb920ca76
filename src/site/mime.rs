//! Content types by file extension: mime_guess's table, with the few types browsers are strict
//! about pinned here, `charset=utf-8` on text, and whether the type is worth compressing. It must
//! never look inside a file.

/// A `Content-Type` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContentType {
    /// The media type, e.g. `text/css`.
    pub essence: &'static str,
    /// Whether `; charset=utf-8` follows.
    pub utf8: bool,
    /// Whether bodies of this type are text-like enough to be worth compressing.
    pub compressible: bool,
}

/// `text/html; charset=utf-8`, for index and error pages.
pub const HTML: ContentType = ContentType {
    essence: "text/html",
    utf8: true,
    compressible: true,
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
        compressible: is_compressible(essence),
    }
}

/// The types of most files on most sites, for lower-case extensions: (essence, utf8,
/// compressible).
fn common(ext: &[u8]) -> Option<ContentType> {
    let (essence, utf8, compressible) = match ext {
        b"html" => ("text/html", true, true),
        b"css" => ("text/css", true, true),
        b"js" => ("text/javascript", true, true),
        b"json" => ("application/json", true, true),
        b"txt" => ("text/plain", true, true),
        b"svg" => ("image/svg+xml", true, true),
        b"png" => ("image/png", false, false),
        b"jpg" | b"jpeg" => ("image/jpeg", false, false),
        b"webp" => ("image/webp", false, false),
        b"woff2" => ("font/woff2", false, false),
        b"ico" => ("image/x-icon", false, false),
        _ => return None,
    };
    Some(ContentType {
        essence,
        utf8,
        compressible,
    })
}

fn octet_stream() -> ContentType {
    ContentType {
        essence: "application/octet-stream",
        utf8: false,
        compressible: false,
    }
}

/// Types where a wrong answer breaks pages: module scripts and wasm are refused by browsers under
/// a wrong type, and fonts and manifests are checked by some.
fn pinned(ext: &str) -> Option<&'static str> {
    const TABLE: [(&str, &str); 16] = [
        ("html", "text/html"),
        ("js", "text/javascript"),
        ("mjs", "text/javascript"),
        ("css", "text/css"),
        ("wasm", "application/wasm"),
        ("webmanifest", "application/manifest+json"),
        ("avif", "image/avif"),
        ("woff2", "font/woff2"),
        ("woff", "font/woff"),
        // RFC 8081's registered font types; mime_guess has `application/font-sfnt` for otf,
        // which no compression rule or font loader expects.
        ("otf", "font/otf"),
        ("ttf", "font/ttf"),
        ("json", "application/json"),
        // Source maps are JSON (the Source Map specification); served so, they are compressed.
        ("map", "application/json"),
        // RFC 9512 registered YAML's type; mime_guess still gives the unregistered `text/x-yaml`.
        ("yaml", "application/yaml"),
        ("yml", "application/yaml"),
        // A `.zst` sidecar asked for by name (RFC 8878 §7.1); mime_guess does not know it.
        ("zst", "application/zstd"),
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
                | "application/yaml"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/rss+xml"
                | "application/atom+xml"
                | "image/svg+xml"
        )
}

/// Whether a media type (essence, e.g. `text/css`) is text-like enough to be worth compressing.
///
/// Yes: `text/*`, JavaScript, JSON and XML (with `+json` / `+xml` suffixes), SVG, wasm, raw
/// fonts (ttf, otf, eot). No: other images, video, audio, archives, woff/woff2, unknown types.
fn is_compressible(essence: &str) -> bool {
    // Tolerate a full Content-Type value: only the essence matters.
    let essence = essence.split(';').next().unwrap_or("").trim();
    let Some((top, sub)) = essence.split_once('/') else {
        return false;
    };
    let is = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let ends = |s: &str, suffix: &str| {
        s.len() >= suffix.len()
            && s.is_char_boundary(s.len() - suffix.len())
            && is(&s[s.len() - suffix.len()..], suffix)
    };
    if is(top, "text") {
        return true;
    }
    if is(top, "image") {
        // SVG is XML text; every other image format is already entropy-coded.
        return is(sub, "svg+xml");
    }
    if is(top, "font") {
        // woff and woff2 are compressed containers; raw sfnt fonts are not.
        return ["ttf", "otf", "sfnt", "collection"]
            .iter()
            .any(|s| is(sub, s));
    }
    if is(top, "application") {
        // Structured-syntax suffixes (RFC 6839): manifest+json, ld+json, rss+xml, xhtml+xml, ….
        if ends(sub, "+json") || ends(sub, "+xml") {
            return true;
        }
        return [
            "javascript",
            "x-javascript",
            "ecmascript",
            "json",
            "xml",
            "yaml",
            "wasm",
            "vnd.ms-fontobject",
            "x-font-ttf",
            "x-font-otf",
        ]
        .iter()
        .any(|s| is(sub, s));
    }
    // video/*, audio/*, multipart/*, and anything unknown.
    false
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
                    utf8: is_text(essence),
                    compressible: is_compressible(essence),
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
            ("zst", "application/zstd", false),
            ("otf", "font/otf", false),
            ("ttf", "font/ttf", false),
            ("map", "application/json", true),
            ("yaml", "application/yaml", true),
            ("yml", "application/yaml", true),
            ("unknownext", "application/octet-stream", false),
            ("", "application/octet-stream", false),
        ] {
            let ct = for_extension(ext.as_bytes());
            assert_eq!((ct.essence, ct.utf8), (essence, utf8), "{ext}");
        }
    }

    #[test]
    fn media_types() {
        for (essence, expected) in [
            ("text/html", true),
            ("text/css", true),
            ("TEXT/Plain", true),
            ("text/html; charset=utf-8", true),
            ("text/javascript", true),
            ("application/javascript", true),
            ("application/json", true),
            ("application/manifest+json", true),
            ("application/ld+json", true),
            ("application/xml", true),
            ("application/yaml", true),
            ("application/rss+xml", true),
            ("application/wasm", true),
            ("application/vnd.ms-fontobject", true),
            ("image/svg+xml", true),
            ("font/ttf", true),
            ("font/otf", true),
            ("font/woff", false),
            ("font/woff2", false),
            ("image/png", false),
            ("image/jpeg", false),
            ("image/avif", false),
            ("video/mp4", false),
            ("audio/mpeg", false),
            ("application/zip", false),
            ("application/gzip", false),
            ("application/zstd", false),
            ("application/x-7z-compressed", false),
            ("application/pdf", false),
            ("application/octet-stream", false),
            ("", false),
            ("text", false),
        ] {
            assert_eq!(is_compressible(essence), expected, "{essence:?}");
        }
    }
}
