//! The fixture site (`tests/fixtures/`), fresh temporary copies of it, and
//! generated file contents and timestamps.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::codec::sha256_hex;

/// The unique marker stored in `tests/fixtures/outside/secret`.
pub const OUTSIDE_MARKER: &str = "OUTSIDE-SECRET-MARKER-7f3c9a1e";

/// The unique marker stored in `tests/fixtures/site/.hidden`.
pub const HIDDEN_MARKER: &str = "HIDDEN-FILE-MARKER-9b2e";

/// The unique marker stored in `tests/fixtures/site/dir/.secret`.
pub const DIR_SECRET_MARKER: &str = "DIR-SECRET-MARKER-d41c";

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

/// Bytes of a file of the fixture site (`tests/fixtures/site/<rel>`).
pub fn fixture(rel: &str) -> Vec<u8> {
    let path = fixtures_dir().join("site").join(rel);
    fs::read(&path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

fn copy_dir(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let ty = entry.file_type().unwrap();
        let to = dst.join(entry.file_name());
        if ty.is_dir() {
            copy_dir(&entry.path(), &to);
        } else if ty.is_file() {
            fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// A fresh temporary copy of the fixtures:
/// `<tmp>/site` (the document root) and `<tmp>/outside` (a sibling directory
/// holding a secret that must never be served). `<tmp>/site/empty-dir` is
/// created here because git does not keep empty directories.
pub struct TempSite {
    dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

impl TempSite {
    pub fn new() -> TempSite {
        let dir = tempfile::Builder::new()
            .prefix("muxserve-test-")
            .tempdir()
            .unwrap();
        let root = dir.path().join("site");
        let outside = dir.path().join("outside");
        copy_dir(&fixtures_dir().join("site"), &root);
        copy_dir(&fixtures_dir().join("outside"), &outside);
        fs::create_dir_all(root.join("empty-dir")).unwrap();
        let secret = fs::read_to_string(outside.join("secret")).unwrap();
        assert!(
            secret.contains(OUTSIDE_MARKER),
            "fixture secret lacks marker"
        );
        TempSite { dir, root, outside }
    }

    /// The document root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A directory next to the root (`<root>/../outside`).
    pub fn outside(&self) -> &Path {
        &self.outside
    }

    /// The temporary directory holding both `site` and `outside`.
    pub fn base(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for TempSite {
    fn default() -> Self {
        TempSite::new()
    }
}

/// Deterministic pseudo-random bytes (xorshift64).
pub fn xorshift_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Writes `len` pseudo-random bytes to `path` and returns their sha256 (hex).
pub fn write_random_file(path: &Path, len: usize, seed: u64) -> String {
    let data = xorshift_bytes(len, seed);
    fs::write(path, &data).unwrap();
    sha256_hex(&data)
}

/// `UNIX_EPOCH + secs`.
pub fn unix_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// Sets the modification time of `path` (a regular file).
pub fn set_mtime(path: &Path, t: SystemTime) {
    let f = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap_or_else(|e| panic!("opening {} to set its mtime: {e}", path.display()));
    f.set_modified(t)
        .unwrap_or_else(|e| panic!("setting the mtime of {}: {e}", path.display()));
}
