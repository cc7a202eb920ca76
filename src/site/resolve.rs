//! URL path → an open file or directory under the root, or the reason there is none. The path
//! is decoded once, segment by segment; encoded `/` or `\`, NUL, malformed escapes and dotfiles
//! (unless [`Hidden::Serve`]) are refused; `..` is applied but refused where it would climb above
//! the root (never silently dropped). The file is then opened relative to the root's descriptor
//! with `openat2` and `RESOLVE_BENEATH`, so no symlink can lead outside the root either; where the
//! kernel lacks `openat2` the canonical path is checked against the root instead. [`Root`] owns
//! that policy; only [`Symlinks::Follow`] lets symlinks lead elsewhere. It must never open
//! anything for writing, and never return a descriptor for a path outside the root that the
//! policy does not allow.

// Parses bytes a client chose: no indexing or arithmetic that input could make panic.
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)
)]

use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode, percent_encode};
use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;

/// Why a path does not map to a servable file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed percent-encoding: 400.
    BadRequest,
    /// The path tries to leave the root: 403.
    Forbidden,
    /// Not there, hidden, or not a name a file can have: 404.
    NotFound,
}

/// Whether dotfiles are served (`--hidden-files`); `/.well-known/` at the top always is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hidden {
    /// Names starting with `.` are not found (and not listed).
    Refuse,
    /// They are served and listed like any other.
    Serve,
}

/// A request path, decoded and normalised to a root-relative path without `.` or `..`.
#[derive(Debug, PartialEq, Eq)]
pub struct Normalized {
    /// Whether the request path ended in `/`.
    pub trailing_slash: bool,
}

/// Characters escaped when bytes go into a URL's path (RFC 3986 §3.3): what a `pchar` may not
/// be, so a decoded `?` or `#` cannot start a query or fragment; `/` may stay.
pub(crate) const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Characters escaped when a path segment is put back into a URL: `/` too.
pub(crate) const SEGMENT: &AsciiSet = &PATH.add(b'/');

/// Decodes and normalises `raw` (percent-encoded, starting with `/`) into `out` as
/// `seg/seg/seg` relative to the root (empty for the root itself), refusing dotfiles.
pub fn normalize(raw: &str, out: &mut Vec<u8>) -> Result<Normalized, Refusal> {
    normalize_with(raw, out, Hidden::Refuse)
}

/// [`normalize`], with dotfiles as `hidden` says.
pub fn normalize_with(raw: &str, out: &mut Vec<u8>, hidden: Hidden) -> Result<Normalized, Refusal> {
    out.clear();
    let raw = raw.as_bytes();
    let Some(rest) = raw.strip_prefix(b"/") else {
        return Err(Refusal::BadRequest);
    };
    for seg in rest.split(|&b| b == b'/') {
        let start = out.len();
        if start > 0 {
            out.push(b'/');
        }
        let name_start = out.len();
        // A separator or NUL cannot be part of any file name on this side, decoded or not.
        if !seg.contains(&b'%') {
            // Most segments escape nothing: copied whole, not decoded byte by byte (callgrind:
            // ~20 instructions a byte).
            if seg.iter().any(|&b| b == b'\\' || b == 0) {
                return Err(Refusal::NotFound);
            }
            out.extend_from_slice(seg);
        } else {
            if !valid_escapes(seg) {
                return Err(Refusal::BadRequest);
            }
            for chunk in percent_decode(seg) {
                if matches!(chunk, b'/' | b'\\' | 0) {
                    return Err(Refusal::NotFound);
                }
                out.push(chunk);
            }
        }
        match out.get(name_start..).unwrap_or_default() {
            b"" | b"." => out.truncate(start),
            b".." => {
                out.truncate(start);
                if out.is_empty() {
                    return Err(Refusal::Forbidden);
                }
                let parent = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(parent);
            }
            // Dotfiles (.git, .env, .htpasswd) are never served; RFC 8615's /.well-known/ at
            // the top is.
            name if name.first() == Some(&b'.')
                && hidden == Hidden::Refuse
                && !(start == 0 && name == b".well-known") =>
            {
                return Err(Refusal::NotFound);
            }
            _ => {}
        }
    }
    Ok(Normalized {
        trailing_slash: raw.len() > 1 && raw.ends_with(b"/"),
    })
}

fn valid_escapes(seg: &[u8]) -> bool {
    let mut bytes = seg.iter();
    while let Some(&b) = bytes.next() {
        if b == b'%' {
            match (bytes.next(), bytes.next()) {
                (Some(a), Some(b)) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => {}
                _ => return false,
            }
        }
    }
    true
}

/// The URL of directory `rel` with a trailing slash, re-encoded, with the query kept.
pub fn directory_url(rel: &[u8], query: Option<&str>) -> String {
    path_url(rel, true, query)
}

/// The URL of `rel` on this server, re-encoded, with a trailing slash if `slash` and the query
/// kept. Always a path: it starts with one `/`, never `//`, which a client would read as a host.
pub fn path_url(rel: &[u8], slash: bool, query: Option<&str>) -> String {
    let mut url = String::with_capacity(
        rel.len()
            .saturating_add(query.map_or(2, |q| q.len().saturating_add(3))),
    );
    if !rel.is_empty() {
        for seg in rel.split(|&b| b == b'/') {
            url.push('/');
            url.extend(percent_encode(seg, SEGMENT));
        }
    }
    if slash || url.is_empty() {
        url.push('/');
    }
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// O_NONBLOCK: opening a FIFO planted in the root must not block a worker.
const OPEN_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY)
    .union(OFlags::NONBLOCK);

/// What an open under the root found.
#[derive(Debug)]
pub enum Found {
    /// A regular file and its metadata.
    File(OwnedFd, rustix::fs::Stat),
    /// A directory, open for reading its entries.
    Dir(OwnedFd),
}

/// Where symlinks under the root may lead (`--follow-symlinks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symlinks {
    /// Only to something beneath the root: the kernel checks every step of the resolution.
    Contained,
    /// Anywhere. The path itself still cannot climb out: [`normalize`] leaves no `..` in it.
    Follow,
}

/// Opens root-relative paths without ever leaving the root, unless its symlinks may.
#[derive(Debug)]
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    symlinks: Symlinks,
    /// Whether `openat2` works here; cleared the first time the kernel or a seccomp filter
    /// refuses it.
    beneath: AtomicBool,
}

impl Root {
    /// Opens the root directory, whose symlinks are then resolved as `symlinks` says.
    pub fn open(path: &Path, symlinks: Symlinks) -> std::io::Result<Root> {
        let path = std::fs::canonicalize(path)?;
        // Only a base to resolve beneath: with O_PATH, a root the server may enter but not
        // read (mode 711, as a web root often is) serves its files as nginx would; its own
        // listing is opened afresh, with read, when asked for.
        #[cfg(target_os = "linux")]
        let access = OFlags::PATH;
        #[cfg(not(target_os = "linux"))]
        let access = OFlags::RDONLY;
        let fd = rustix::fs::open(
            &path,
            access | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root {
            fd,
            path,
            symlinks,
            beneath: AtomicBool::new(cfg!(target_os = "linux")),
        })
    }

    /// The root directory's (device, inode), from its descriptor: which tree this is, wherever
    /// its path leads now.
    pub fn identity(&self) -> std::io::Result<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::File::from(self.fd.try_clone()?).metadata()?;
        Ok((meta.dev(), meta.ino()))
    }

    /// Stats `rel` without opening it, to check a cached copy; only a regular file counts.
    pub fn stat(&self, rel: &[u8]) -> Result<rustix::fs::Stat, Errno> {
        let st = rustix::fs::statat(&self.fd, rel, rustix::fs::AtFlags::empty())?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => Ok(st),
            _ => Err(Errno::NOENT),
        }
    }

    /// Opens `rel` (as made by [`normalize`]) and classifies it.
    pub fn find(&self, rel: &[u8]) -> Result<Found, Errno> {
        let (fd, readable) = match self.open_rel(rel, OPEN_FLAGS) {
            Ok(fd) => (fd, true),
            // A directory the server may enter but not read (mode 711): its files are served
            // as nginx serves them, and only its own listing is refused (`listing::render`
            // reads such a descriptor as EACCES).
            #[cfg(target_os = "linux")]
            Err(Errno::ACCESS) => (self.open_rel(rel, OFlags::PATH | OFlags::CLOEXEC)?, false),
            Err(e) => return Err(e),
        };
        let stat = rustix::fs::fstat(&fd)?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::Directory => Ok(Found::Dir(fd)),
            _ if !readable => Err(Errno::ACCESS),
            FileType::RegularFile => Ok(Found::File(fd, stat)),
            // FIFOs, sockets and devices are not content.
            _ => Err(Errno::NOENT),
        }
    }

    /// Opens `rel` beneath the root with `flags`, as `--follow-symlinks` says; the empty path
    /// is the root itself.
    fn open_rel(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        let rel: &[u8] = if rel.is_empty() { b"." } else { rel };
        match self.symlinks {
            Symlinks::Contained => self.open_beneath(rel, flags),
            Symlinks::Follow => rustix::fs::openat(&self.fd, rel, flags, Mode::empty()),
        }
    }

    /// Opens non-empty `rel` without leaving the root.
    fn open_beneath(&self, rel: &[u8], flags: OFlags) -> Result<OwnedFd, Errno> {
        #[cfg(target_os = "linux")]
        if self.beneath.load(std::sync::atomic::Ordering::Relaxed) {
            use rustix::fs::ResolveFlags;
            let how = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
            match rustix::fs::openat2(&self.fd, rel, flags, Mode::empty(), how) {
                Ok(fd) => return Ok(fd),
                // EXDEV: resolution left the root, or met an absolute symlink, which
                // RESOLVE_BENEATH refuses even when it points inside: the check below decides.
                Err(Errno::XDEV) => {}
                // Kernels before 5.6, or a seccomp profile that forbids openat2.
                Err(Errno::NOSYS | Errno::PERM) => self
                    .beneath
                    .store(false, std::sync::atomic::Ordering::Relaxed),
                Err(e) => return Err(e),
            }
        }
        let _ = &self.beneath;
        let canonical = std::fs::canonicalize(self.path.join(std::ffi::OsStr::from_bytes(rel)))
            .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::NOENT))?;
        if !canonical.starts_with(&self.path) {
            return Err(Errno::XDEV);
        }
        rustix::fs::open(&canonical, flags, Mode::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(raw: &str) -> Result<(String, bool), Refusal> {
        let mut out = Vec::new();
        let n = normalize(raw, &mut out)?;
        Ok((String::from_utf8(out).unwrap(), n.trailing_slash))
    }

    #[test]
    fn normalises() {
        for (raw, rel, slash) in [
            ("/", "", false),
            ("/a", "a", false),
            ("/a/", "a", true),
            ("//a//b/", "a/b", true),
            ("/a/./b", "a/b", false),
            ("/a/../b", "b", false),
            ("/a/%2e%2e/b", "b", false),
            ("/a%20space.txt", "a space.txt", false),
            ("/caf%C3%A9.txt", "café.txt", false),
            ("/.well-known/x", ".well-known/x", false),
            ("/a/..", "", false),
        ] {
            assert_eq!(norm(raw), Ok((rel.to_string(), slash)), "{raw}");
        }
    }

    #[test]
    fn refuses() {
        for (raw, why) in [
            ("/..", Refusal::Forbidden),
            ("/../x", Refusal::Forbidden),
            ("/%2e%2e/x", Refusal::Forbidden),
            ("/%2E%2E/x", Refusal::Forbidden),
            ("/a/../../x", Refusal::Forbidden),
            ("/.%2e/x", Refusal::Forbidden),
            ("/..%2fx", Refusal::NotFound),
            ("/..%2Fx", Refusal::NotFound),
            ("/..%5cx", Refusal::NotFound),
            ("/a\\..\\x", Refusal::NotFound),
            ("/a%00b", Refusal::NotFound),
            ("/.hidden", Refusal::NotFound),
            ("/a/.git/config", Refusal::NotFound),
            ("/..;/x", Refusal::NotFound),
            ("/a/.well-known/x", Refusal::NotFound),
            ("/%zz", Refusal::BadRequest),
            ("/%4", Refusal::BadRequest),
            ("a", Refusal::BadRequest),
        ] {
            assert_eq!(norm(raw), Err(why), "{raw}");
        }
    }

    #[test]
    fn directory_urls() {
        assert_eq!(directory_url(b"a b/c", Some("x=1")), "/a%20b/c/?x=1");
        assert_eq!(directory_url("café".as_bytes(), None), "/caf%C3%A9/");
        assert_eq!(path_url(b"a b/c", false, Some("x=1")), "/a%20b/c?x=1");
        // The root is "/", never "//", which a client would take for a host.
        assert_eq!(path_url(b"", true, None), "/");
        assert_eq!(path_url(b"", false, Some("q")), "/?q");
    }
}
