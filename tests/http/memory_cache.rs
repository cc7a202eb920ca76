//! The small-file memory cache must be invisible: every change on disk shows in the very next
//! response, and it never serves what the normal path would refuse.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::*;

fn body(s: &TestServer, path: &str) -> (u16, Vec<u8>, Option<String>) {
    let r = s.get(path);
    let etag = r.header("ETag").map(str::to_string);
    (r.status, r.body, etag)
}

#[test]
fn an_in_place_rewrite_of_the_same_size_shows_at_once() {
    let s = TestServer::start();
    let path = s.root().join("same.txt");
    fs::write(&path, "version-one").unwrap();
    set_mtime(&path, unix_time(1_600_000_000));
    // Twice, so the second answer comes from memory.
    assert_eq!(body(&s, "/same.txt").1, b"version-one");
    let (_, first, etag1) = body(&s, "/same.txt");
    assert_eq!(first, b"version-one");
    fs::write(&path, "version-two").unwrap();
    set_mtime(&path, unix_time(1_600_000_001));
    let (status, second, etag2) = body(&s, "/same.txt");
    assert_eq!((status, second.as_slice()), (200, &b"version-two"[..]));
    assert_ne!(etag1, etag2);
}

#[test]
fn a_file_replaced_by_rename_shows_at_once() {
    let s = TestServer::start();
    let path = s.root().join("deploy.css");
    fs::write(&path, "a{}").unwrap();
    body(&s, "/deploy.css");
    assert_eq!(body(&s, "/deploy.css").1, b"a{}");
    let tmp = s.root().join("deploy.css.tmp");
    fs::write(&tmp, "b{}").unwrap();
    fs::rename(&tmp, &path).unwrap();
    assert_eq!(body(&s, "/deploy.css").1, b"b{}");
}

#[test]
fn a_deleted_file_is_404_at_once() {
    let s = TestServer::start();
    let path = s.root().join("gone.txt");
    fs::write(&path, "here").unwrap();
    body(&s, "/gone.txt");
    assert_eq!(body(&s, "/gone.txt").0, 200);
    fs::remove_file(&path).unwrap();
    assert_eq!(body(&s, "/gone.txt").0, 404);
}

#[test]
fn a_symlink_swapped_to_point_outside_is_not_served_from_memory() {
    let s = TestServer::start();
    let inside = s.root().join("inside.txt");
    fs::write(&inside, "inside").unwrap();
    let link = s.root().join("link.txt");
    symlink(&inside, &link).unwrap();
    body(&s, "/link.txt");
    assert_eq!(body(&s, "/link.txt").1, b"inside");
    fs::remove_file(&link).unwrap();
    symlink(s.outside().join("secret"), &link).unwrap();
    let (status, got, _) = body(&s, "/link.txt");
    assert!(
        !contains(&got, OUTSIDE_MARKER.as_bytes()),
        "leaked: {status}"
    );
    assert!(matches!(status, 403 | 404), "status {status}");
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
    let path = s.root().join("x.txt");
    fs::write(&path, "one").unwrap();
    assert_eq!(body(&s, "/x.txt").1, b"one");
    fs::write(&path, "two").unwrap();
    assert_eq!(body(&s, "/x.txt").1, b"two");
}
