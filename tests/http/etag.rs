//! `--etag content`: strong ETags from a digest of the bytes, for builds that reset every mtime.
//! A rewrite that keeps size and mtime still changes the tag, copies of the same bytes agree
//! whatever their inodes and mtimes, sidecars and on-the-fly bodies have tags of their own, the
//! memory cache and the disk agree, and If-Range works with such a tag. The mtime mode's own
//! tests are in `conditional.rs`.

use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use muxserve::config::EtagMode;

use crate::support::*;

const MTIME: u64 = 1_614_834_367;

/// A size past the memory cache's 16 KiB, so it is sent from the disk.
const BIG: usize = 40 * 1024;

fn content_server(prepare: impl FnOnce(&TempSite)) -> TestServer {
    TestServer::build()
        .site(prepare)
        .config(|c| c.site.etag = EtagMode::Content)
        .start()
}

/// Overwrites `path` in place (same inode, same size) with `bytes` and puts its mtime back, as a
/// build that resets mtimes would leave it; asserts only the ctime tells the versions apart.
fn rewrite_in_place(path: &Path, bytes: &[u8]) {
    let before = fs::metadata(path).unwrap();
    assert_eq!(before.len(), bytes.len() as u64, "same size");
    let mut f = fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(bytes).unwrap();
    f.set_modified(unix_time(MTIME)).unwrap();
    // The kernel stamps ctime with a clock that ticks every few milliseconds: a rewrite within
    // the tick of the previous change would keep it. Touch the mtime again until it moves.
    for _ in 0..100 {
        let now = fs::metadata(path).unwrap();
        if (now.ctime(), now.ctime_nsec()) != (before.ctime(), before.ctime_nsec()) {
            break;
        }
        sleep(Duration::from_millis(10));
        f.set_modified(unix_time(MTIME)).unwrap();
    }
    let after = fs::metadata(path).unwrap();
    assert_eq!(
        (after.ino(), after.len(), after.mtime(), after.mtime_nsec()),
        (
            before.ino(),
            before.len(),
            before.mtime(),
            before.mtime_nsec()
        ),
        "inode, size and mtime kept"
    );
    assert_ne!(
        (after.ctime(), after.ctime_nsec()),
        (before.ctime(), before.ctime_nsec()),
        "ctime moved"
    );
}

/// Writes `bytes` to `root/name` with the pinned mtime.
fn write_pinned(root: &Path, name: &str, bytes: &[u8]) {
    let path = root.join(name);
    fs::write(&path, bytes).unwrap();
    set_mtime(&path, unix_time(MTIME));
}

#[test]
fn a_rewrite_that_keeps_size_and_mtime_changes_the_tag() {
    let s = content_server(|site| {
        write_pinned(site.root(), "small.txt", b"version one\n");
        write_pinned(site.root(), "big.bin", &xorshift_bytes(BIG, 1));
    });
    // small.txt is answered from memory after its first request, big.bin from the disk.
    for (name, new) in [
        ("small.txt", b"version two\n".to_vec()),
        ("big.bin", xorshift_bytes(BIG, 2)),
    ] {
        let path = format!("/{name}");
        let first = s.get(&path);
        assert_eq!(first.status, 200, "{first}");
        let old_tag = strong_etag(&first);
        // Twice: the second is a cache hit (memory for small.txt, the digest map for both).
        assert_eq!(strong_etag(&s.get(&path)), old_tag, "{path}");
        rewrite_in_place(&s.root().join(name), &new);
        let second = s.get(&path);
        assert_eq!(second.body, new, "{path}: the new bytes are served");
        let new_tag = strong_etag(&second);
        assert_ne!(new_tag, old_tag, "{path}: the tag follows the bytes");
        assert_eq!(
            second.header("Last-Modified"),
            first.header("Last-Modified"),
            "{path}: the mtime was restored"
        );
        let stale = s.get_with(&path, &[("If-None-Match", &old_tag)]);
        assert_eq!(stale.status, 200, "{path} with the old tag: {stale}");
        assert_eq!(stale.body, new, "{path}");
        let fresh = s.get_with(&path, &[("If-None-Match", &new_tag)]);
        assert_eq!(fresh.status, 304, "{path} with the new tag: {fresh}");
        assert_eq!(fresh.header("ETag"), Some(new_tag.as_str()), "{path}");
    }
}

/// The memory cache's check on every hit compares the ctime too: in either mode, a rewrite that
/// keeps size and mtime is served with its new bytes (in the mtime mode, under the old tag: the
/// case `--etag content` exists for).
#[test]
fn a_rewrite_that_keeps_size_and_mtime_is_never_served_stale_from_memory() {
    for mode in [EtagMode::Mtime, EtagMode::Content] {
        let s = TestServer::build()
            .site(|site| write_pinned(site.root(), "small.txt", b"version one\n"))
            .config(|c| c.site.etag = mode)
            .start();
        for _ in 0..2 {
            assert_eq!(s.get("/small.txt").body, b"version one\n", "{mode:?}");
        }
        rewrite_in_place(&s.root().join("small.txt"), b"version two\n");
        assert_eq!(s.get("/small.txt").body, b"version two\n", "{mode:?}");
    }
}

/// Two roots with copies of the same files (other inodes), every file of the second with mtime
/// `second_mtime`.
fn two_roots(second_mtime: u64) -> (TempSite, TempSite) {
    let (one, two) = (TempSite::new(), TempSite::new());
    for (site, mtime) in [(&one, MTIME), (&two, second_mtime)] {
        for name in ["style.css", "index.html"] {
            set_mtime(&site.root().join(name), unix_time(mtime));
        }
        let path = site.root().join("big.bin");
        fs::write(&path, xorshift_bytes(BIG, 3)).unwrap();
        set_mtime(&path, unix_time(mtime));
    }
    (one, two)
}

/// The ETag of `path` from `a` and from `b`, after checking that `b` revalidates `a`'s with 304
/// exactly when they are equal.
fn tags_of(a: &TestServer, b: &TestServer, path: &str) -> (String, String) {
    let (ra, rb) = (a.get(path), b.get(path));
    assert_eq!((ra.status, rb.status), (200, 200), "{path}: {ra}\n{rb}");
    assert_eq!(ra.body, rb.body, "{path}");
    let (ta, tb) = (strong_etag(&ra), strong_etag(&rb));
    let cond = b.get_with(path, &[("If-None-Match", &ta)]);
    let want = if ta == tb { 304 } else { 200 };
    assert_eq!(cond.status, want, "{path} revalidated elsewhere: {cond}");
    (ta, tb)
}

#[test]
fn copies_at_other_inodes_agree() {
    let paths = ["/style.css", "/index.html", "/big.bin"];
    let start = |root: &Path, mode| {
        TestServer::build()
            .root(root)
            .config(|c| c.site.etag = mode)
            .start()
    };
    // Mtimes preserved: both modes agree across the copies.
    let (one, two) = two_roots(MTIME);
    for mode in [EtagMode::Mtime, EtagMode::Content] {
        let (a, b) = (start(one.root(), mode), start(two.root(), mode));
        for path in paths {
            let (ta, tb) = tags_of(&a, &b, path);
            assert_eq!(ta, tb, "{mode:?} {path}");
        }
    }
    // Mtimes differ (another build of the same bytes): only content tags still agree.
    let (one, two) = two_roots(MTIME + 3600);
    for (mode, agree) in [(EtagMode::Mtime, false), (EtagMode::Content, true)] {
        let (a, b) = (start(one.root(), mode), start(two.root(), mode));
        for path in paths {
            let (ta, tb) = tags_of(&a, &b, path);
            assert_eq!(ta == tb, agree, "{mode:?} {path}: {ta} {tb}");
        }
    }
}

/// About 4 KiB of compressible HTML.
fn page() -> Vec<u8> {
    b"<p>the same paragraph, over and over</p>\n".repeat(100)
}

#[test]
fn sidecars_and_compressed_bodies_have_their_own_tags() {
    let s = TestServer::build()
        .site(|site| {
            write_pinned(site.root(), "page.html", &page());
            write_pinned(site.root(), "page.html.gz", &gzip(&page()));
            write_pinned(site.root(), "page.html.zst", &zstd_compress(&page()));
            write_pinned(site.root(), "app.js", &page());
        })
        .config(|c| {
            c.site.etag = EtagMode::Content;
            c.site.compress = true;
        })
        .start();
    let original = strong_etag(&s.get("/page.html"));
    let sidecar = s.get_with("/page.html", &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        sidecar.header("Content-Encoding"),
        Some("gzip"),
        "{sidecar}"
    );
    assert_eq!(sidecar.body, gzip(&page()));
    let sidecar_tag = strong_etag(&sidecar);
    assert_ne!(sidecar_tag, original, "the sidecar is other bytes");
    // The sidecar's tag is its own content's: the same as for the .gz asked for by name.
    let by_name = s.get("/page.html.gz");
    assert_eq!(by_name.status, 200, "{by_name}");
    assert_eq!(strong_etag(&by_name), sidecar_tag);
    let zst = s.get_with("/page.html", &[("Accept-Encoding", "zstd")]);
    assert_eq!(zst.header("Content-Encoding"), Some("zstd"), "{zst}");
    let zst_tag = strong_etag(&zst);
    assert_eq!(strong_etag(&s.get("/page.html.zst")), zst_tag);
    assert_ne!(zst_tag, sidecar_tag, "the .zst and the .gz are other bytes");
    // app.js has the same bytes as page.html, so the same content tag; compressed on the fly it
    // keeps it with the coding marked.
    let js = strong_etag(&s.get("/app.js"));
    assert_eq!(js, original, "same bytes, same tag");
    for coding in ["gzip", "br", "zstd"] {
        let compressed = s.get_with("/app.js", &[("Accept-Encoding", coding)]);
        assert_eq!(
            compressed.header("Content-Encoding"),
            Some(coding),
            "{compressed}"
        );
        let want = format!("{}-{coding}\"", &js[..js.len() - 1]);
        assert_eq!(strong_etag(&compressed), want, "{coding}");
        let cond = s.get_with(
            "/app.js",
            &[("Accept-Encoding", coding), ("If-None-Match", &want)],
        );
        assert_eq!(cond.status, 304, "{coding}: {cond}");
        let other = s.get_with("/app.js", &[("If-None-Match", &want)]);
        assert_eq!(
            other.status, 200,
            "identity is not the {coding} body: {other}"
        );
    }
}

#[test]
fn memory_cache_and_disk_give_the_same_content_tag() {
    let site = TempSite::new();
    write_pinned(site.root(), "small.txt", b"kept in memory\n");
    let start = |file_cache_size| {
        TestServer::build()
            .root(site.root())
            .config(|c| {
                c.site.etag = EtagMode::Content;
                c.site.file_cache_size = file_cache_size;
            })
            .start()
    };
    let (memory, disk) = (start(32 << 20), start(0));
    let from_disk = strong_etag(&disk.get("/small.txt"));
    // The first request fills the memory cache, the second is answered from it.
    for round in 0..2 {
        let resp = memory.get("/small.txt");
        assert_eq!(strong_etag(&resp), from_disk, "round {round}: {resp}");
    }
}

#[test]
fn if_range_with_a_content_tag() {
    let data = xorshift_bytes(BIG, 6);
    let s = content_server(|site| write_pinned(site.root(), "big.bin", &data));
    let old_tag = strong_etag(&s.get("/big.bin"));
    let ranged = |tag: &str| s.get_with("/big.bin", &[("Range", "bytes=0-9"), ("If-Range", tag)]);
    let partial = ranged(&old_tag);
    assert_eq!(partial.status, 206, "{partial}");
    assert_eq!(partial.body, data[..10]);
    let new = xorshift_bytes(BIG, 9);
    rewrite_in_place(&s.root().join("big.bin"), &new);
    // The old tag no longer holds: the whole new representation.
    let whole = ranged(&old_tag);
    assert_eq!(whole.status, 200, "{whole}");
    assert_eq!(whole.body, new);
    let new_tag = strong_etag(&whole);
    let partial = ranged(&new_tag);
    assert_eq!(partial.status, 206, "{partial}");
    assert_eq!(partial.body, new[..10]);
    assert_eq!(partial.header("ETag"), Some(new_tag.as_str()));
}

/// The ETag of `path` from the binary `srv`.
fn binary_tag(srv: &BinaryServer, path: &str) -> String {
    let resp = srv.request(&get_request(path));
    assert_eq!(resp.status, 200, "{path}: {resp}");
    strong_etag(&resp)
}

#[test]
fn command_line_flags() {
    let (one, two) = two_roots(MTIME + 60);
    // `--etag content` and MUXSERVE_ETAG: other mtimes, the same tags.
    let a = Binary::serving(one.root())
        .args(["--etag", "content"])
        .spawn();
    let b = Binary::serving(two.root())
        .env("MUXSERVE_ETAG", "content")
        .spawn();
    assert_eq!(binary_tag(&a, "/big.bin"), binary_tag(&b, "/big.bin"));
    drop((a, b));
    // The default is mtime: other mtimes, other tags.
    let a = Binary::serving(one.root()).spawn();
    let b = Binary::serving(two.root()).spawn();
    assert_ne!(binary_tag(&a, "/big.bin"), binary_tag(&b, "/big.bin"));
}

#[test]
fn command_line_rejects_an_unknown_etag_mode() {
    let site = TempSite::new();
    let out = Binary::serving(site.root())
        .args(["--etag", "sha1"])
        .run(Duration::from_secs(10));
    assert_eq!(
        out.status.code(),
        Some(2),
        "exit {:?}: {}",
        out.status,
        out.stderr
    );
    assert!(out.stderr.contains("--etag"), "{}", out.stderr);
}
