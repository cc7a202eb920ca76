//! The HTML index of a directory that has no `index.html`: its entries (directories first, then
//! files, each by name), with sizes and UTC modification times. It owns the page's markup and the
//! escaping of names into it. It reads the directory from the descriptor the caller opened beneath
//! the root and stats each entry relative to it, so it must never resolve a path (nothing can be
//! swapped in between), follow anything but a symlink's own target to tell whether it is a
//! directory, or put a name into the page unescaped.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

use percent_encoding::{AsciiSet, CONTROLS, percent_encode};
use rustix::fs::{AtFlags, Dir, FileType};
use rustix::io::Errno;

use super::resolve::Hidden;

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

const HEAD: &str = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Index of ";

const STYLE: &str = "</title>\n<style>\n\
body{font-family:system-ui,sans-serif;margin:2em;color:#222;background:#fff}\n\
table{border-collapse:collapse}\n\
th,td{padding:.25em 1.5em .25em 0;text-align:left;white-space:nowrap}\n\
th{border-bottom:1px solid #ccc}\n\
td.size{text-align:right;font-variant-numeric:tabular-nums}\n\
a{text-decoration:none}\n\
a:hover{text-decoration:underline}\n\
</style>\n</head>\n<body>\n<h1>Index of ";

const TABLE: &str = "</h1>\n<table>\n\
<thead><tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr></thead>\n<tbody>\n";

const PARENT: &str =
    "<tr><td><a href=\"../\">../</a></td><td class=\"size\">-</td><td>-</td></tr>\n";

const TAIL: &str = "</tbody>\n</table>\n</body>\n</html>\n";

/// One row of the listing.
struct Row {
    name: Box<[u8]>,
    is_dir: bool,
    size: u64,
    /// Seconds since the Unix epoch.
    mtime: i64,
}

/// The HTML listing of the directory open as `dir` for the decoded URL path `url_path`.
///
/// `url_path` starts and ends with `/`. Names starting with `.` are left out unless `hidden`
/// serves them. Fails only when `dir` itself cannot be read.
pub fn render(url_path: &[u8], dir: OwnedFd, hidden: Hidden) -> Result<Vec<u8>, Errno> {
    let mut rows = rows(dir, hidden)?;
    // Directories first, then files; by name in byte order within each group.
    rows.sort_unstable_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok(page(url_path, &rows))
}

/// The rows for the entries of `dir`, in directory order.
fn rows(dir: OwnedFd, hidden: Hidden) -> Result<Vec<Row>, Errno> {
    // Reading moves the stream; stats go through a duplicate of the same open directory.
    let entries = Dir::new(rustix::io::fcntl_dupfd_cloexec(&dir, 0)?)?;
    let mut rows = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        match name.to_bytes() {
            // getdents reports the directory itself and its parent; `../` is a row of its own.
            b"." | b".." => continue,
            [b'.', ..] if hidden == Hidden::Refuse => continue,
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

/// The page for `url_path` with `rows`.
fn page(url_path: &[u8], rows: &[Row]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1024 + rows.len() * 160);
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
    for row in rows {
        let slash = if row.is_dir { "/" } else { "" };
        out.extend_from_slice(b"<tr><td><a href=\"");
        // The percent-encoded form is ASCII, but `&` and `'` survive encoding and still need
        // escaping inside an attribute.
        for chunk in percent_encode(&row.name, SEGMENT) {
            escape_html(&mut out, chunk);
        }
        out.extend_from_slice(slash.as_bytes());
        out.extend_from_slice(b"\">");
        escape_html(&mut out, &OsStr::from_bytes(&row.name).to_string_lossy());
        out.extend_from_slice(slash.as_bytes());
        out.extend_from_slice(b"</a></td><td class=\"size\">");
        if row.is_dir {
            out.push(b'-');
        } else {
            out.extend_from_slice(num.format(row.size).as_bytes());
        }
        out.extend_from_slice(b"</td><td>");
        write_time(&mut out, row.mtime);
        out.extend_from_slice(b"</td></tr>\n");
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

/// Appends `secs` since the epoch as `YYYY-MM-DD HH:MM` in UTC.
fn write_time(out: &mut Vec<u8>, secs: i64) {
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        of_day / 3600,
        of_day % 3600 / 60
    );
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
        let bytes = render(url.as_bytes(), open(dir), hidden).expect("render");
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
            "<a href=\"a&amp;b%3Cc%3E.txt\">a&amp;b&lt;c&gt;.txt</a></td><td class=\"size\">5</td>",
            "<a href=\"space%20name.txt\">space name.txt</a></td><td class=\"size\">0</td>",
            "<a href=\"caf%C3%A9.txt\">café.txt</a>",
            "<a href=\"it&#39;s%20%22q%22.txt\">it&#39;s &quot;q&quot;.txt</a>",
            "<a href=\"x%3Ay.txt\">x:y.txt</a>",
            "<a href=\"asub/\">asub/</a></td><td class=\"size\">-</td>",
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
        let html = render(b"/caf\xe9/", open(dir.path()), Hidden::Refuse).expect("render");
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
            let mut out = Vec::new();
            write_time(&mut out, secs);
            assert_eq!(String::from_utf8_lossy(&out), expected, "{secs}");
        }
    }

    #[test]
    fn row_shows_mtime() {
        let dir = tempfile::TempDir::new().expect("tempdir");
        let f = File::create(dir.path().join("t.txt")).expect("create");
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_709_251_199))
            .expect("set mtime");
        let html = page("/", dir.path(), Hidden::Refuse);
        assert!(html.contains("<td>2024-02-29 23:59</td>"), "{html}");
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
        let err = render(b"/f/", file, Hidden::Refuse).expect_err("not a directory");
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
        let html = String::from_utf8(render(b"/dir/", fd, Hidden::Refuse).expect("render"))
            .expect("utf-8 page");
        assert!(
            html.contains("href=\"kept\">kept</a></td><td class=\"size\">5<"),
            "{html}"
        );
        assert!(html.contains("href=\"sub/\">sub/<"), "{html}");
        assert!(!html.contains("secret"), "{html}");
    }
}
