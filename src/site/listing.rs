//! The index of a directory that has no `index.html`, as a page for people or, when Accept
//! prefers it, JSON for programs: its entries (directories first, then files, each by name), with
//! sizes and UTC modification times. It owns the choice of format by Accept, the page's markup, and
//! the escaping of names into HTML (by hand, five characters), JSON (serde_json) and links
//! (percent-encoding). It reads the directory from the descriptor the caller opened beneath the
//! root and stats each entry relative to it, so it must never resolve a path (nothing can be
//! swapped in between), follow anything but a symlink's own target to tell whether it is a
//! directory, or put a name into either form unescaped.

use std::ffi::OsStr;
use std::fmt;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
use rustix::fs::{AtFlags, Dir, FileType};
use rustix::io::Errno;
use serde::{Serialize, Serializer};

use super::encoding::parse_qvalue;
use super::mime::{self, ContentType};
use super::resolve::Hidden;
use crate::http::field::{is_tchar, trim_ows};

/// What to percent-encode in a name to make it one path segment of a relative reference: the
/// WHATWG path-percent-encode set plus `\` (browsers treat it as `/`), `|`, `^`, and `:` (which
/// would otherwise make `a:b` parse as a URL with scheme `a`, RFC 3986 §4.2). Non-ASCII bytes are
/// always encoded. `/` cannot occur in a name.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'\\')
    .add(b'`')
    .add(b'^')
    .add(b'{')
    .add(b'|')
    .add(b'}')
    .add(b':');

/// `application/json` with no charset: JSON is UTF-8 and RFC 8259 §11 defines no such parameter.
pub const JSON: ContentType = ContentType {
    essence: "application/json",
    utf8: false,
    compressible: true,
};

/// The form a listing is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The page, for browsers and anything that does not ask otherwise.
    Html,
    /// An array of entries, for a client that prefers `application/json` to `text/html`.
    Json,
}

impl Format {
    /// The format the Accept field lines `accept` choose (RFC 9110 §12.5.1): JSON only when
    /// `application/json` gets a higher weight than `text/html`. A missing field, `*/*`, a tie, or
    /// neither being acceptable give HTML: the RFC lets a server send an unacceptable form rather
    /// than 406, and a page is what a person who typed the URL can read.
    pub fn from_accept(accept: &[&[u8]]) -> Format {
        if weight(accept, &JSON_OFFER) > weight(accept, &HTML_OFFER) {
            Format::Json
        } else {
            Format::Html
        }
    }

    /// The `Content-Type` of a listing in this format.
    pub fn content_type(self) -> ContentType {
        match self {
            Format::Html => mime::HTML,
            Format::Json => JSON,
        }
    }
}

/// A media type the listing can be sent as, for matching against media ranges.
struct Offer {
    kind: &'static [u8],
    subtype: &'static [u8],
    /// Its parameters (name, value), which a range's parameters must all be among.
    params: &'static [(&'static [u8], &'static [u8])],
}

const HTML_OFFER: Offer = Offer {
    kind: b"text",
    subtype: b"html",
    params: &[(b"charset", b"utf-8")],
};

const JSON_OFFER: Offer = Offer {
    kind: b"application",
    subtype: b"json",
    params: &[],
};

/// The weight in thousandths that `accept` gives `offer`: that of the most specific media range
/// matching it (`type/subtype` with parameters over `type/subtype` over `type/*` over `*/*`;
/// the first of equals), 0 when none does (RFC 9110 §12.5.1). Malformed elements are skipped.
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
fn weight(accept: &[&[u8]], offer: &Offer) -> u16 {
    let mut best: Option<(usize, u16)> = None;
    for line in accept {
        // A field sent on several lines is one comma-separated list (RFC 9110 §5.3).
        for element in split_unquoted(line, b',') {
            if let Some((rank, q)) = match_range(element, offer)
                && best.is_none_or(|(r, _)| rank > r)
            {
                best = Some((rank, q));
            }
        }
    }
    best.map_or(0, |(_, q)| q)
}

/// How specifically the media range `element` matches `offer`, and its weight; None when it is
/// malformed or does not match. `media-range = ( "*/*" / type "/*" / type "/" subtype )
/// parameters`, where a `q` parameter ends the media type's own parameters and starts the
/// accept-ext ones, which are ignored (RFC 9110 §12.5.1).
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
fn match_range(element: &[u8], offer: &Offer) -> Option<(usize, u16)> {
    let mut parts = split_unquoted(element, b';');
    let range = trim_ows(parts.next()?);
    let slash = range.iter().position(|&b| b == b'/')?;
    let (kind, subtype) = range.split_at_checked(slash)?;
    let subtype = subtype.get(1..)?;
    let token = |t: &[u8]| !t.is_empty() && t.iter().all(|&b| is_tchar(b));
    if !token(kind) || !token(subtype) || (kind == b"*" && subtype != b"*") {
        return None;
    }
    // Every part is parsed before deciding, so a malformed range matches nothing.
    let mut matches = (kind == b"*" || kind.eq_ignore_ascii_case(offer.kind))
        && (subtype == b"*" || subtype.eq_ignore_ascii_case(offer.subtype));
    let mut rank: usize = match (kind, subtype) {
        (b"*", _) => 0,
        (_, b"*") => 1,
        _ => 2,
    };
    let mut q = None;
    for param in parts {
        let param = trim_ows(param);
        if param.is_empty() {
            // `parameters = *( OWS ";" OWS [ parameter ] )`: empty ones are allowed.
            continue;
        }
        let eq = param.iter().position(|&b| b == b'=')?;
        let (name, value) = param.split_at_checked(eq)?;
        let value = ParamValue::parse(value.get(1..)?)?;
        if !token(name) {
            return None;
        }
        if q.is_some() {
            continue;
        }
        if name.eq_ignore_ascii_case(b"q") {
            let ParamValue::Token(value) = value else {
                return None;
            };
            q = Some(parse_qvalue(value)?);
            continue;
        }
        // Parameter names are case-insensitive; the only value offered, a charset, is too
        // (RFC 9110 §5.6.6, §8.3.2).
        matches &= offer
            .params
            .iter()
            .any(|(n, v)| name.eq_ignore_ascii_case(n) && value.eq_ignore_case(v));
        rank = rank.saturating_add(1);
    }
    matches.then_some((rank, q.unwrap_or(1000)))
}

/// A parameter's value: `token / quoted-string` (RFC 9110 §5.6.6).
#[derive(Clone, Copy)]
enum ParamValue<'a> {
    Token(&'a [u8]),
    /// Between the quotes, quoted-pairs still escaped.
    Quoted(&'a [u8]),
}

#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
impl<'a> ParamValue<'a> {
    /// `raw` as a token or a well-formed quoted-string (RFC 9110 §5.6.4), else None.
    fn parse(raw: &'a [u8]) -> Option<Self> {
        let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) else {
            return (!raw.is_empty() && raw.iter().all(|&b| is_tchar(b)))
                .then_some(Self::Token(raw));
        };
        let mut escaped = false;
        for &b in inner {
            let text = b == b'\t' || b == b' ' || (0x21..=0x7e).contains(&b) || b >= 0x80;
            match (escaped, b) {
                (_, _) if !text => return None,
                (false, b'\\') => escaped = true,
                (false, b'"') => return None,
                _ => escaped = false,
            }
        }
        (!escaped).then_some(Self::Quoted(inner))
    }

    /// Whether the value, unescaped, is `want` ignoring ASCII case.
    fn eq_ignore_case(self, want: &[u8]) -> bool {
        match self {
            Self::Token(t) => t.eq_ignore_ascii_case(want),
            Self::Quoted(q) => {
                let unescaped = q.iter().scan(false, |escaped, &b| {
                    let skip = !*escaped && b == b'\\';
                    *escaped = skip;
                    Some((!skip).then_some(b))
                });
                unescaped
                    .flatten()
                    .map(|b| b.to_ascii_lowercase())
                    .eq(want.iter().map(u8::to_ascii_lowercase))
            }
        }
    }
}

/// The pieces of `s` between the `sep` bytes that are not inside a quoted-string, so that
/// `a;x="1,2", b` splits at the second comma only.
#[cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]
fn split_unquoted(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let (mut quoted, mut escaped) = (false, false);
    s.split(move |&b| {
        match (quoted, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, _, b'"') => quoted = !quoted,
            _ => {}
        }
        !quoted && b == sep
    })
}

/// One entry of the listing.
struct Row {
    name: Box<[u8]>,
    is_dir: bool,
    size: u64,
    /// Seconds since the Unix epoch.
    mtime: i64,
}

/// The listing of the directory open as `dir` for the decoded URL path `url_path`, in `format`.
///
/// `url_path` starts and ends with `/`. Names starting with `.` are left out unless `hidden`
/// serves them, and so are the names `withheld` says so of (the rules files, which are never
/// served; what a password guards from a client without it).
/// Fails only when `dir` itself cannot be read.
pub fn render(
    url_path: &[u8],
    dir: OwnedFd,
    hidden: Hidden,
    withheld: &mut dyn FnMut(&[u8]) -> bool,
    format: Format,
) -> Result<Vec<u8>, Errno> {
    let mut rows = rows(dir, hidden, withheld)?;
    // Directories first, then files; by name in byte order within each group.
    rows.sort_unstable_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    match format {
        Format::Html => Ok(page(url_path, &rows)),
        Format::Json => json(&rows),
    }
}

/// The rows for the entries of `dir`, in directory order.
fn rows(
    dir: OwnedFd,
    hidden: Hidden,
    withheld: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<Vec<Row>, Errno> {
    // A directory that may be entered but not read was opened O_PATH (`Root::find`), and
    // reads as EBADF: it is unreadable, and says so as EACCES (403).
    let unreadable = |e: Errno| if e == Errno::BADF { Errno::ACCESS } else { e };
    // Reading moves the stream; stats go through a duplicate of the same open directory.
    let entries = Dir::new(rustix::io::fcntl_dupfd_cloexec(&dir, 0)?).map_err(unreadable)?;
    let mut rows = Vec::new();
    for entry in entries {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        match name.to_bytes() {
            // getdents reports the directory itself and its parent; `../` is a row of its own.
            b"." | b".." => continue,
            [b'.', ..] if hidden == Hidden::Refuse => continue,
            name if withheld(name) => continue,
            _ => {}
        }
        // The entry itself, not a symlink's target. One that vanished or cannot be stat'ed since
        // `getdents` is left out rather than failing the whole page.
        let Ok(meta) = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW) else {
            continue;
        };
        let is_dir = match FileType::from_raw_mode(meta.st_mode) {
            // A link is listed as what following it gives (a dangling one as a file); its size and
            // time stay the link's own, so nothing about a target outside the root is revealed.
            FileType::Symlink => rustix::fs::statat(&dir, name, AtFlags::empty())
                .is_ok_and(|t| FileType::from_raw_mode(t.st_mode) == FileType::Directory),
            FileType::Directory => true,
            FileType::RegularFile => false,
            // FIFOs, sockets, devices: the server answers 404 for them, so don't offer them.
            _ => continue,
        };
        rows.push(Row {
            name: name.to_bytes().into(),
            is_dir,
            size: u64::try_from(meta.st_size).unwrap_or(0),
            mtime: meta.st_mtime,
        });
    }
    Ok(rows)
}

/// One entry of the JSON form, the shape of nginx's `autoindex_format json` and Caddy's browse
/// JSON, with the link the page would have.
#[derive(Serialize)]
struct JsonEntry<'a> {
    /// The name, with bytes that are not UTF-8 replaced (`url` keeps them exactly).
    name: std::borrow::Cow<'a, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    /// Files only: a directory's own size says nothing about its contents.
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(serialize_with = "as_str")]
    mtime: Rfc3339,
    #[serde(serialize_with = "as_str")]
    url: Link<'a>,
}

/// Serializes a value by its `Display`, without building a `String` first.
fn as_str<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// The JSON array of `rows`.
fn json(rows: &[Row]) -> Result<Vec<u8>, Errno> {
    let entries: Vec<JsonEntry<'_>> = rows
        .iter()
        .map(|row| JsonEntry {
            name: OsStr::from_bytes(&row.name).to_string_lossy(),
            kind: if row.is_dir { "directory" } else { "file" },
            size: (!row.is_dir).then_some(row.size),
            mtime: Rfc3339(row.mtime),
            url: Link(row),
        })
        .collect();
    let mut out = Vec::with_capacity(64 + rows.len() * 128);
    // Only the writer or a `Serialize` could fail, and a `Vec`, strings, numbers and these
    // `Display`s never do; should one, a 500 rather than a cut-off array.
    serde_json::to_writer(&mut out, &entries).map_err(|_| Errno::IO)?;
    out.push(b'\n');
    Ok(out)
}

/// A row's link relative to its directory: the name percent-encoded as one segment, and a `/`
/// after a directory's, so following it needs no redirect.
struct Link<'a>(&'a Row);

impl fmt::Display for Link<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", percent_encode(&self.0.name, SEGMENT))?;
        if self.0.is_dir {
            f.write_str("/")?;
        }
        Ok(())
    }
}

/// The page's head up to the title; the style is inline so a listing looks the same in any
/// root, and follows `public/style.css`'s colours, light and dark.
const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ";

const STYLE: &str = "</title>\n<style>\n\
:root{color-scheme:light dark;--bg:#fbfbfa;--fg:#1d1f21;--muted:#5c6166;--accent:#0b6bcb;\
--row:#f1f3f4;--border:#d9dde1}\n\
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e4e6e8;--muted:#9aa1a8;\
--accent:#6cb4ff;--row:#1d2024;--border:#33383e}}\n\
*,*::before,*::after{box-sizing:border-box}\n\
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n\
body{margin:0;background:var(--bg);color:var(--fg);\
font:1rem/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,sans-serif}\n\
main{max-width:60rem;margin:0 auto;padding:2.5rem 1.25rem 3rem}\n\
h1{font-size:1.6rem;line-height:1.25;margin:0 0 1.25rem;overflow-wrap:anywhere}\n\
a{color:var(--accent);text-decoration:none}\n\
a:hover{text-decoration:underline;text-underline-offset:.15em}\n\
table{width:100%;border-collapse:collapse}\n\
th{font-size:.85rem;font-weight:600;color:var(--muted);text-align:left;\
border-bottom:1px solid var(--border)}\n\
th,td{padding:.4rem .75rem;vertical-align:baseline}\n\
th:first-child,td:first-child{padding-left:.25rem}\n\
tbody tr:hover{background:var(--row)}\n\
td{border-bottom:1px solid var(--border)}\n\
.name{overflow-wrap:anywhere}\n\
.dir .name a{font-weight:600}\n\
.size,.bytes,.time{white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}\n\
.bytes,.time{color:var(--muted)}\n\
.summary{color:var(--muted);font-size:.9rem;margin:1rem 0 0 .25rem}\n\
@media (max-width:40rem){\
main{padding:1.25rem .9rem 2rem}\
h1{font-size:1.3rem}\
thead,.bytes{display:none}\
table,tbody,tr,td{display:block}\
tr{display:grid;grid-template-columns:auto 1fr;column-gap:1rem;padding:.55rem .25rem;\
border-bottom:1px solid var(--border)}\
td,td:first-child{border:0;padding:0}\
td.name{grid-column:1/-1;font-size:1.05rem}\
.dir td.size{visibility:hidden}\
.size,.time{font-size:.85rem;color:var(--muted);text-align:left}\
.time{text-align:right}\
.up td.size,.up td.time{display:none}}\n\
</style>\n</head>\n<body>\n<main>\n<h1>Index of ";

const TABLE: &str = "</h1>\n<table>\n<thead><tr><th class=\"name\">Name</th>\
<th class=\"size\">Size</th><th class=\"bytes\">Bytes</th><th class=\"time\">Modified (UTC)</th>\
</tr></thead>\n<tbody>\n";

const PARENT: &str = "<tr class=\"dir up\"><td class=\"name\"><a href=\"../\">../</a></td>\
<td class=\"size\"></td><td class=\"bytes\"></td><td class=\"time\"></td></tr>\n";

const TAIL: &str = "</p>\n</main>\n</body>\n</html>\n";

/// The page for `url_path` with `rows`.
fn page(url_path: &[u8], rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096 + rows.len() * 320);
    let title = String::from_utf8_lossy(url_path);
    out.extend_from_slice(HEAD.as_bytes());
    escape_html(&mut out, &title);
    out.extend_from_slice(STYLE.as_bytes());
    escape_html(&mut out, &title);
    out.extend_from_slice(TABLE.as_bytes());
    if url_path != b"/" {
        out.extend_from_slice(PARENT.as_bytes());
    }
    let mut num = itoa::Buffer::new();
    let (mut dirs, mut files, mut bytes) = (0u64, 0u64, 0u64);
    for row in rows {
        let slash = if row.is_dir { "/" } else { "" };
        out.extend_from_slice(if row.is_dir {
            b"<tr class=\"dir\"><td class=\"name\"><a href=\""
        } else {
            b"<tr><td class=\"name\"><a href=\""
        });
        // The percent-encoded form is ASCII, but `&` and `'` survive encoding and still need
        // escaping inside an attribute.
        for chunk in percent_encode(&row.name, SEGMENT) {
            escape_html(&mut out, chunk);
        }
        out.extend_from_slice(slash.as_bytes());
        out.extend_from_slice(b"\">");
        escape_html(&mut out, &OsStr::from_bytes(&row.name).to_string_lossy());
        out.extend_from_slice(slash.as_bytes());
        out.extend_from_slice(b"</a></td>");
        if row.is_dir {
            dirs = dirs.saturating_add(1);
            out.extend_from_slice(b"<td class=\"size\">-</td><td class=\"bytes\"></td>");
        } else {
            files = files.saturating_add(1);
            bytes = bytes.saturating_add(row.size);
            let exact = num.format(row.size);
            // Writing into a Vec cannot fail.
            let _ = write!(
                out,
                "<td class=\"size\" title=\"{exact} bytes\">{}</td><td class=\"bytes\">{exact}</td>",
                HumanSize(row.size)
            );
        }
        let _ = writeln!(
            out,
            "<td class=\"time\"><time datetime=\"{}\">{}</time></td></tr>",
            Rfc3339(row.mtime),
            Minutes(row.mtime)
        );
    }
    out.extend_from_slice(b"</tbody>\n</table>\n<p class=\"summary\">");
    if rows.is_empty() {
        out.extend_from_slice(b"Empty directory");
    } else {
        let _ = write!(
            out,
            "{dirs} director{}, {files} file{}, {}",
            if dirs == 1 { "y" } else { "ies" },
            if files == 1 { "" } else { "s" },
            HumanSize(bytes)
        );
    }
    out.extend_from_slice(TAIL.as_bytes());
    out
}

/// Appends `s` with the five HTML-significant characters replaced by references, so it is safe
/// both as text and inside a quoted attribute.
fn escape_html(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'&' => out.extend_from_slice(b"&amp;"),
            b'<' => out.extend_from_slice(b"&lt;"),
            b'>' => out.extend_from_slice(b"&gt;"),
            b'"' => out.extend_from_slice(b"&quot;"),
            b'\'' => out.extend_from_slice(b"&#39;"),
            _ => out.push(b),
        }
    }
}

/// A byte count for people, in binary units: `812 B`, `1.2 KiB`, `34 MiB` (one decimal below 10,
/// so at most three significant digits), rounded to nearest.
struct HumanSize(u64);

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        let n = u128::from(self.0);
        if n < 1024 {
            return write!(f, "{n} B");
        }
        let mut unit = 0;
        let mut scale = 1024u128;
        while unit + 1 < UNITS.len() && n >= scale * 1024 {
            unit += 1;
            scale *= 1024;
        }
        // Tenths of the unit, rounded half up; rounding may carry into the next unit.
        let mut tenths = (n * 10 + scale / 2) / scale;
        if tenths >= 10_240 && unit + 1 < UNITS.len() {
            unit += 1;
            scale *= 1024;
            tenths = (n * 10 + scale / 2) / scale;
        }
        if tenths < 100 {
            write!(f, "{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
        } else {
            write!(f, "{} {}", (n + scale / 2) / scale, UNITS[unit])
        }
    }
}

/// A UTC time of day and date, from seconds since the epoch, clamped to years 0000–9999 so every
/// form below has four-digit years.
struct Utc {
    year: i64,
    month: u32,
    day: u32,
    hour: i64,
    minute: i64,
    second: i64,
}

impl Utc {
    fn from_unix(secs: i64) -> Utc {
        // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
        let secs = secs.clamp(-62_167_219_200, 253_402_300_799);
        let of_day = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        Utc {
            year,
            month,
            day,
            hour: of_day / 3600,
            minute: of_day % 3600 / 60,
            second: of_day % 60,
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339 §5.6, UTC), for JSON and `<time datetime>`.
struct Rfc3339(i64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = Utc::from_unix(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year, t.month, t.day, t.hour, t.minute, t.second
        )
    }
}

/// `YYYY-MM-DD HH:MM` in UTC, for people.
struct Minutes(i64);

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = Utc::from_unix(self.0);
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year, t.month, t.day, t.hour, t.minute
        )
    }
}

/// The proleptic Gregorian (year, month, day) of a day count from 1970-01-01, after Howard
/// Hinnant's `civil_from_days` (eras of 400 years, March-based years so leap days come last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, [0, 365]
    let mp = (5 * doy + 2) / 153; // March = 0, [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    // Both are within u32 by the ranges above.
    (y, m as u32, d as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::fs::{Mode, OFlags};
    use std::fs::{self, File};
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    fn open(dir: &Path) -> OwnedFd {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::open(dir, flags, Mode::empty()).expect("open the directory")
    }

    fn page(url: &str, dir: &Path, hidden: Hidden) -> String {
        let bytes = render(
            url.as_bytes(),
            open(dir),
            hidden,
            &mut |_| false,
            Format::Html,
        )
        .expect("render");
        String::from_utf8(bytes).expect("utf-8 page")
    }

    fn fixture() -> tempfile::TempDir {
        let dir = tempfile::TempDir::new().expect("tempdir");
        for (name, body) in [
            ("a&b<c>.txt", &b"12345"[..]),
            ("space name.txt", b""),
            ("café.txt", b"caf"),
            (".hidden", b"secret"),
            ("b.txt", b"b"),
            ("it's \"q\".txt", b"q"),
            ("x:y.txt", b"xy"),
        ] {
            fs::write(dir.path().join(name), body).expect("write");
        }
        fs::create_dir(dir.path().join("zsub")).expect("mkdir");
        fs::create_dir(dir.path().join("asub")).expect("mkdir");
        fs::create_dir(dir.path().join(".git")).expect("mkdir");
        dir
    }

    #[test]
    fn rows_are_escaped_and_encoded() {
        let dir = fixture();
        let html = page("/docs/", dir.path(), Hidden::Refuse);
        for expected in [
            "<meta charset=\"utf-8\">",
            "<title>Index of /docs/</title>",
            "<h1>Index of /docs/</h1>",
            "<a href=\"../\">../</a>",
            "<a href=\"a&amp;b%3Cc%3E.txt\">a&amp;b&lt;c&gt;.txt</a></td>\
             <td class=\"size\" title=\"5 bytes\">5 B</td><td class=\"bytes\">5</td>",
            "<a href=\"space%20name.txt\">space name.txt</a></td>\
             <td class=\"size\" title=\"0 bytes\">0 B</td>",
            "<a href=\"caf%C3%A9.txt\">café.txt</a>",
            "<a href=\"it&#39;s%20%22q%22.txt\">it&#39;s &quot;q&quot;.txt</a>",
            "<a href=\"x%3Ay.txt\">x:y.txt</a>",
            "<tr class=\"dir\"><td class=\"name\"><a href=\"asub/\">asub/</a></td>\
             <td class=\"size\">-</td>",
            "<p class=\"summary\">2 directories, 6 files, 12 B</p>",
        ] {
            assert!(html.contains(expected), "missing {expected:?} in\n{html}");
        }
        for absent in [".hidden", ".git", "secret", "<c>"] {
            assert!(!html.contains(absent), "{absent:?} leaked into\n{html}");
        }
        assert!(html.starts_with("<!DOCTYPE html>\n"));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn order() {
        let dir = fixture();
        let html = page("/docs/", dir.path(), Hidden::Serve);
        let order = [
            "href=\"../\"",
            "href=\".git/\"",
            "href=\"asub/\"",
            "href=\"zsub/\"",
            "href=\".hidden\"",
            "href=\"a&amp;b",
            "href=\"b.txt\"",
            "href=\"caf%C3%A9.txt\"",
            "href=\"it&#39;s",
            "href=\"space%20name.txt\"",
            "href=\"x%3Ay.txt\"",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|s| html.find(s).unwrap_or_else(|| panic!("missing {s:?}")))
            .collect();
        assert!(positions.is_sorted(), "{positions:?}\n{html}");
    }

    #[test]
    fn parent_link_and_title() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let html = page("/", dir.path(), Hidden::Refuse);
        assert!(
            html.contains("<p class=\"summary\">Empty directory</p>"),
            "{html}"
        );
        for (url, parent, title) in [
            ("/", false, "Index of /<"),
            ("/a/", true, "Index of /a/<"),
            ("/<x> & y/", true, "Index of /&lt;x&gt; &amp; y/<"),
        ] {
            let html = page(url, dir.path(), Hidden::Refuse);
            assert_eq!(html.contains("href=\"../\""), parent, "{url}");
            assert_eq!(html.matches(title).count(), 2, "{url}\n{html}");
        }
        // Non-UTF-8 URL bytes are shown replaced.
        let html = render(
            b"/caf\xe9/",
            open(dir.path()),
            Hidden::Refuse,
            &mut |_| false,
            Format::Html,
        )
        .expect("render");
        let html = String::from_utf8(html).expect("utf-8");
        assert!(html.contains("Index of /caf\u{FFFD}/<"));
    }

    #[test]
    fn times() {
        for (secs, expected) in [
            (0, "1970-01-01 00:00"),
            (59, "1970-01-01 00:00"),
            (-1, "1969-12-31 23:59"),
            (951_782_400, "2000-02-29 00:00"),
            (1_709_251_199, "2024-02-29 23:59"),
            (1_735_689_600, "2025-01-01 00:00"),
            (4_107_542_400, "2100-03-01 00:00"),
            (253_402_300_799, "9999-12-31 23:59"),
        ] {
            assert_eq!(Minutes(secs).to_string(), expected, "{secs}");
        }
    }

    #[test]
    fn row_shows_mtime() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let f = File::create(dir.path().join("t.txt")).expect("create");
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_199))
            .expect("set mtime");
        let html = page("/", dir.path(), Hidden::Refuse);
        assert!(
            html.contains("<time datetime=\"2024-02-29T23:59:59Z\">2024-02-29 23:59</time>"),
            "{html}"
        );
    }

    #[test]
    fn symlinks_and_raw_names() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        fs::create_dir(dir.path().join("real")).expect("mkdir");
        std::os::unix::fs::symlink("real", dir.path().join("link")).expect("symlink");
        std::os::unix::fs::symlink("nowhere", dir.path().join("dangling")).expect("symlink");
        // Some filesystems refuse names that are not UTF-8; the rest of the test still runs.
        let raw = OsStr::from_bytes(b"f\xff.txt");
        let raw_ok = fs::write(dir.path().join(raw), b"x").is_ok();
        let html = page("/", dir.path(), Hidden::Refuse);
        for expected in ["href=\"link/\">link/<", "href=\"dangling\">dangling<"] {
            assert!(html.contains(expected), "missing {expected:?} in\n{html}");
        }
        if raw_ok {
            assert!(html.contains("href=\"f%FF.txt\">f\u{FFFD}.txt<"), "{html}");
        }
    }

    #[test]
    fn unreadable_directory_is_an_error() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        fs::write(dir.path().join("f"), b"x").expect("write");
        let file = rustix::fs::open(dir.path().join("f"), OFlags::RDONLY, Mode::empty())
            .expect("open the file");
        let err = render(b"/f/", file, Hidden::Refuse, &mut |_| false, Format::Json)
            .expect_err("not a directory");
        assert_eq!(err, Errno::NOTDIR);
    }

    #[test]
    fn entries_come_from_the_descriptor_not_the_path() {
        // The directory found beneath the root is renamed away and its path taken over by a
        // symlink to a directory outside: the listing still shows what was opened, and stats
        // entries there (a path-based stat of `kept` would now fail).
        let base = tempfile::TempDir::new().expect("tempdir");
        let (dir, outside) = (base.path().join("dir"), base.path().join("outside"));
        fs::create_dir(&dir).expect("mkdir");
        fs::create_dir(dir.join("sub")).expect("mkdir");
        fs::write(dir.join("kept"), b"12345").expect("write");
        fs::create_dir(&outside).expect("mkdir");
        fs::write(outside.join("secret"), b"x").expect("write");
        let fd = open(&dir);
        fs::rename(&dir, base.path().join("moved")).expect("rename");
        std::os::unix::fs::symlink(&outside, &dir).expect("symlink");
        let html =
            render(b"/dir/", fd, Hidden::Refuse, &mut |_| false, Format::Html).expect("render");
        let html = String::from_utf8(html).expect("utf-8 page");
        assert!(html.contains("href=\"kept\">kept</a></td><td class=\"size\" title=\"5 bytes\">"));
        assert!(html.contains("href=\"sub/\">sub/<"), "{html}");
        assert!(!html.contains("secret"), "{html}");
    }

    #[test]
    fn accept_chooses_the_format() {
        use Format::{Html, Json};
        for (accept, expected) in [
            (&[][..], Html),
            (&[""][..], Html),
            (&["*/*"], Html),
            (&["application/json"], Json),
            (&["APPLICATION/JSON"], Json),
            (&["application/*"], Json),
            (&["text/html"], Html),
            // A tie goes to the page.
            (&["text/html, application/json"], Html),
            (&["application/json, text/html"], Html),
            (&["application/json;q=0.5, text/html;q=0.5"], Html),
            (&["application/json, text/html;q=0.9"], Json),
            (&["application/json, */*;q=0.8"], Json),
            (&["text/html;q=0.4, application/json;q=0.5"], Json),
            // Browsers' defaults.
            (
                &["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
                Html,
            ),
            (&["application/json, text/plain, */*"], Html),
            // The most specific range decides, wherever it is in the list.
            (&["*/*;q=0.1, application/json"], Json),
            (&["application/*;q=0.2, */*;q=0.9"], Html),
            (&["text/*;q=0.1, */*;q=0.5"], Json),
            (
                &["text/html;charset=utf-8;q=0.1, text/html;q=0.9, */*;q=0.5"],
                Json,
            ),
            // q=0: not acceptable. Neither acceptable: the page anyway.
            (&["application/json;q=0, */*"], Html),
            (&["text/html;q=0, */*"], Json),
            (&["text/html;q=0, application/json;q=0"], Html),
            (&["image/png"], Html),
            (&["application/json;q=0.001"], Json),
            // Parameters of a range must be the representation's own.
            (&["application/json;charset=utf-8"], Html),
            (
                &["text/html;charset=\"UTF-8\", application/json;q=0.9"],
                Html,
            ),
            (&["text/html;level=1, application/json;q=0.5"], Json),
            // Parameters after q are accept-ext: ignored.
            (&["application/json;q=0.9;x=y, text/html;q=0.8"], Json),
            // Spread over several lines, one list.
            (&["text/html;q=0.5", "application/json"], Json),
            // OWS and empty elements and parameters.
            (&[" , application/json ; q=1 ;, "], Json),
            // Malformed ranges count for nothing.
            (&["application/json;q=2"], Html),
            (&["application/json;q=0.5000"], Html),
            (&["application/json;q"], Html),
            (&["application/json;q=\"1\""], Html),
            (&["application/json;charset=\"utf-8"], Html),
            (&["*/json"], Html),
            (&["application/"], Html),
            (&["application json"], Html),
            (&["application/json x"], Html),
            // A comma inside a quoted parameter does not end the element.
            (
                &["text/html;x=\"a,application/json\";q=0.1, application/json;q=0.2"],
                Json,
            ),
        ] {
            let lines: Vec<&[u8]> = accept.iter().map(|l| l.as_bytes()).collect();
            assert_eq!(Format::from_accept(&lines), expected, "{accept:?}");
        }
    }

    #[test]
    fn quoted_parameter_values() {
        for (raw, want, expected) in [
            ("utf-8", "utf-8", true),
            ("UTF-8", "utf-8", true),
            ("\"utf-8\"", "utf-8", true),
            ("\"ut\\f-8\"", "utf-8", true),
            ("\"utf-8 \"", "utf-8", false),
            ("\"utf\"", "utf-8", false),
            ("\"\"", "", true),
        ] {
            let value = ParamValue::parse(raw.as_bytes()).expect(raw);
            assert_eq!(value.eq_ignore_case(want.as_bytes()), expected, "{raw}");
        }
        for bad in ["", "\"", "\"a\"b\"", "\"a\\\"", "a b", "\"a\x01\""] {
            assert!(ParamValue::parse(bad.as_bytes()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_for_people() {
        for (bytes, expected) in [
            (0, "0 B"),
            (1, "1 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (1126, "1.1 KiB"),
            (1229, "1.2 KiB"),
            (1536, "1.5 KiB"),
            (10 * 1024 - 52, "9.9 KiB"),
            (10 * 1024 - 51, "10 KiB"),
            (10 * 1024, "10 KiB"),
            (999 * 1024, "999 KiB"),
            (1024 * 1024 - 1, "1.0 MiB"),
            (1024 * 1024, "1.0 MiB"),
            (3_565_158, "3.4 MiB"),
            (5 << 30, "5.0 GiB"),
            (1 << 40, "1.0 TiB"),
            (1 << 50, "1.0 PiB"),
            (1 << 60, "1.0 EiB"),
            (u64::MAX, "16 EiB"),
        ] {
            assert_eq!(HumanSize(bytes).to_string(), expected, "{bytes}");
        }
    }

    #[test]
    fn rfc3339_times() {
        for (secs, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (1_709_251_199, "2024-02-29T23:59:59Z"),
            (1_796_119_200, "2026-12-01T10:00:00Z"),
            // Clamped to four-digit years.
            (i64::MIN, "0000-01-01T00:00:00Z"),
            (i64::MAX, "9999-12-31T23:59:59Z"),
        ] {
            assert_eq!(Rfc3339(secs).to_string(), expected, "{secs}");
        }
    }

    fn json_of(dir: &Path, hidden: Hidden) -> serde_json::Value {
        let bytes =
            render(b"/x/", open(dir), hidden, &mut |_| false, Format::Json).expect("render");
        serde_json::from_slice(&bytes).expect("valid JSON")
    }

    #[test]
    fn json_escapes_odd_names() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let names = [
            "\"quote\".txt",
            "<tag>",
            "back\\slash",
            "tab\there",
            "new\nline",
            "caf\u{e9} \u{1f600}.txt",
            "a&b'c",
        ];
        for (i, name) in names.iter().enumerate() {
            fs::write(dir.path().join(name), vec![b'x'; i]).expect("write");
        }
        fs::create_dir(dir.path().join("sub dir")).expect("mkdir");
        let f = File::create(dir.path().join("t")).expect("create");
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_119_200))
            .expect("set mtime");
        let raw = String::from_utf8(
            render(
                b"/x/",
                open(dir.path()),
                Hidden::Refuse,
                &mut |_| false,
                Format::Json,
            )
            .expect("render"),
        )
        .expect("utf-8");
        // The quote and the control characters are escaped, so the text is one line of JSON.
        assert!(raw.contains(r#""\"quote\".txt""#), "{raw}");
        assert!(
            raw.contains(r#""tab\there""#) && raw.contains(r#""new\nline""#),
            "{raw}"
        );
        assert_eq!(raw.lines().count(), 1, "{raw}");
        let value = json_of(dir.path(), Hidden::Refuse);
        let entries = value.as_array().expect("an array");
        assert_eq!(entries.len(), names.len() + 2, "{value}");
        assert_eq!(
            entries[0],
            serde_json::json!({
                "name": "sub dir",
                "type": "directory",
                "mtime": entries[0]["mtime"],
                "url": "sub%20dir/",
            })
        );
        for (i, name) in names.iter().enumerate() {
            let entry = entries
                .iter()
                .find(|e| e["name"] == *name)
                .unwrap_or_else(|| panic!("{name:?} missing from {value}"));
            assert_eq!(entry["type"], "file", "{entry}");
            assert_eq!(entry["size"], i, "{entry}");
            let url = entry["url"].as_str().expect("url");
            let decoded = percent_encoding::percent_decode_str(url).decode_utf8_lossy();
            assert_eq!(decoded, *name, "{entry}");
            assert!(!url.contains(['<', '"', ' ', '\\', '\n']), "{entry}");
        }
        let t = entries.iter().find(|e| e["name"] == "t").expect("t");
        assert_eq!(
            *t,
            serde_json::json!({
                "name": "t",
                "type": "file",
                "size": 0,
                "mtime": "2026-12-01T10:00:00Z",
                "url": "t",
            })
        );
    }

    #[test]
    fn json_keeps_the_listing_rules() {
        let dir = fixture();
        let names = |hidden| -> Vec<String> {
            json_of(dir.path(), hidden)
                .as_array()
                .expect("an array")
                .iter()
                .map(|e| e["name"].as_str().expect("name").to_owned())
                .collect()
        };
        // Directories first, then files, by name; dotfiles only when served.
        assert_eq!(
            names(Hidden::Refuse),
            [
                "asub",
                "zsub",
                "a&b<c>.txt",
                "b.txt",
                "café.txt",
                "it's \"q\".txt",
                "space name.txt",
                "x:y.txt"
            ]
        );
        let all = names(Hidden::Serve);
        assert_eq!(all[..3], [".git", "asub", "zsub"]);
        assert_eq!(all[3], ".hidden");
        // An empty directory is an empty array.
        let empty = tempfile::TempDir::new().expect("tempdir");
        assert_eq!(json_of(empty.path(), Hidden::Refuse), serde_json::json!([]));
    }
}
