//! The file cache must be invisible, for small files kept in memory and larger ones kept open
//! alike: every change on disk shows in the very next response, it never serves what the normal
//! path would refuse, and it does not keep a deleted file open.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::*;

fn body(s: &TestServer, path: &str) -> (u16, Vec<u8>, Option<String>) {
    let r = s.get(path);
    let etag = r.header("ETag").map(str::to_string);
    (r.status, r.body, etag)
}

/// Contents of the two sizes the cache keeps differently: one kept in memory, one above its
/// 16 KiB bound, kept open; `tag` tells versions apart.
fn contents(tag: &str) -> [Vec<u8>; 2] {
    let small = format!("version-{tag}").into_bytes();
    let mut large = small.repeat(64 * 1024 / small.len() + 1);
    large.truncate(64 * 1024);
    [small, large]
}

#[test]
fn an_in_place_rewrite_of_the_same_size_shows_at_once() {
    let s = TestServer::start();
    for (one, two) in contents("one").into_iter().zip(contents("two")) {
        let path = s.root().join(format!("same-{}.txt", one.len()));
        let url = format!("/same-{}.txt", one.len());
        fs::write(&path, &one).unwrap();
        set_mtime(&path, unix_time(1_600_000_000));
        // Twice, so the second answer comes from the cache.
        assert_eq!(body(&s, &url).1, one);
        let (_, first, etag1) = body(&s, &url);
        assert_eq!(first, one);
        fs::write(&path, &two).unwrap();
        set_mtime(&path, unix_time(1_600_000_001));
        let (status, second, etag2) = body(&s, &url);
        assert_eq!((status, second == two), (200, true), "{url}");
        assert_ne!(etag1, etag2);
    }
}

#[test]
fn a_rewrite_that_restores_the_mtime_shows_at_once() {
    let s = TestServer::start();
    for (one, two) in contents("one").into_iter().zip(contents("two")) {
        let path = s.root().join(format!("sly-{}.txt", one.len()));
        let url = format!("/sly-{}.txt", one.len());
        fs::write(&path, &one).unwrap();
        set_mtime(&path, unix_time(1_600_000_000));
        body(&s, &url);
        assert_eq!(body(&s, &url).1, one);
        // Only the ctime, which no one can set, tells this version from the last.
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&path, &two).unwrap();
        set_mtime(&path, unix_time(1_600_000_000));
        assert!(body(&s, &url).1 == two, "{url}");
    }
}

#[test]
fn a_file_replaced_by_rename_shows_at_once() {
    let s = TestServer::start();
    for (one, two) in contents("a").into_iter().zip(contents("b")) {
        let path = s.root().join(format!("deploy-{}.css", one.len()));
        let url = format!("/deploy-{}.css", one.len());
        fs::write(&path, &one).unwrap();
        body(&s, &url);
        assert_eq!(body(&s, &url).1, one);
        let tmp = s.root().join("deploy.css.tmp");
        fs::write(&tmp, &two).unwrap();
        fs::rename(&tmp, &path).unwrap();
        assert!(body(&s, &url).1 == two, "{url}");
    }
}

/// Descriptors of this process open on a file whose name is `name` and that is deleted.
fn deleted_and_open(name: &str) -> usize {
    let Ok(dir) = fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|target| {
            let t = target.to_string_lossy();
            t.contains(name) && t.ends_with("(deleted)")
        })
        .count()
}

#[test]
fn a_deleted_file_is_404_at_once_and_not_kept_open() {
    let s = TestServer::start();
    for one in contents("here") {
        let name = format!("gone-{}.txt", one.len());
        let path = s.root().join(&name);
        let url = format!("/{name}");
        fs::write(&path, &one).unwrap();
        body(&s, &url);
        assert_eq!(body(&s, &url).0, 200);
        fs::remove_file(&path).unwrap();
        assert_eq!(body(&s, &url).0, 404);
        // The server runs in this process: the lookup that missed dropped the descriptor.
        assert_eq!(deleted_and_open(&name), 0, "{name} still open");
    }
}

#[test]
fn a_symlink_swapped_to_point_outside_is_not_served_from_the_cache() {
    let s = TestServer::start();
    for one in contents("inside") {
        let inside = s.root().join(format!("inside-{}.txt", one.len()));
        fs::write(&inside, &one).unwrap();
        let link = s.root().join(format!("link-{}.txt", one.len()));
        let url = format!("/link-{}.txt", one.len());
        symlink(&inside, &link).unwrap();
        body(&s, &url);
        assert!(body(&s, &url).1 == one);
        fs::remove_file(&link).unwrap();
        symlink(s.outside().join("secret"), &link).unwrap();
        let (status, got, _) = body(&s, &url);
        assert!(
            !contains(&got, OUTSIDE_MARKER.as_bytes()),
            "leaked: {status}"
        );
        assert!(matches!(status, 403 | 404), "status {status}");
    }
}

#[test]
fn a_large_file_kept_open_serves_ranges_conditionals_and_compression() {
    let s = TestServer::build()
        .config(|c| c.site.compress = true)
        .start();
    let [_, large] = contents("big");
    fs::write(s.root().join("app.js"), &large).unwrap();
    for _ in 0..2 {
        let r = s.get("/app.js");
        assert_eq!((r.status, r.body == large), (200, true));
    }
    let etag = s.get("/app.js").header("ETag").unwrap().to_string();
    let nm = s.get_with("/app.js", &[("If-None-Match", &etag)]);
    assert_eq!((nm.status, nm.body.len()), (304, 0));
    let part = s.get_with("/app.js", &[("Range", "bytes=10-19")]);
    assert_eq!((part.status, &part.body[..]), (206, &large[10..20]));
    let multi = s.get_with("/app.js", &[("Range", "bytes=0-1,60000-60001")]);
    assert_eq!(multi.status, 206);
    assert!(contains(&multi.body, &large[60000..60002]));
    for _ in 0..2 {
        let gz = s.get_with("/app.js", &[("Accept-Encoding", "gzip")]);
        assert_eq!(gz.header("Content-Encoding"), Some("gzip"));
        assert!(gunzip(&gz.body) == large);
        assert_ne!(gz.header("ETag"), Some(etag.as_str()));
    }
}

#[test]
fn directory_index_and_ranges_and_conditionals_from_memory() {
    let s = TestServer::start();
    let index = fixture("index.html");
    for _ in 0..2 {
        let (status, got, _) = body(&s, "/");
        assert_eq!((status, got), (200, index.clone()));
    }
    let etag = s.get("/").header("ETag").unwrap().to_string();
    let nm = s.get_with("/", &[("If-None-Match", &etag)]);
    assert_eq!((nm.status, nm.body.len()), (304, 0));
    let part = s.get_with("/", &[("Range", "bytes=0-4")]);
    assert_eq!((part.status, part.body.as_slice()), (206, &index[..5]));
    let multi = s.get_with("/", &[("Range", "bytes=0-1,4-5")]);
    assert_eq!(multi.status, 206);
    assert!(
        multi
            .header("Content-Type")
            .unwrap()
            .starts_with("multipart/byteranges; boundary=")
    );
    let head = s.head_with("/", &[]);
    assert_eq!(head.content_length(), Some(index.len() as u64));
}

#[test]
fn turned_off_with_zero_budget() {
    let s = TestServer::build()
        .config(|c| c.site.file_cache_size = 0)
        .start();
    for (one, two) in contents("one").into_iter().zip(contents("two")) {
        let path = s.root().join("x.txt");
        fs::write(&path, &one).unwrap();
        assert!(body(&s, "/x.txt").1 == one);
        fs::write(&path, &two).unwrap();
        assert!(body(&s, "/x.txt").1 == two);
    }
}
