//! Property tests for the request-controlled parsers of `site`, through the crate's public API:
//! `range::parse` against a reference model and the shape every answer must have, and
//! `resolve::normalize` (then `Root::find`) against path traversal; the PROXY protocol parser and
//! the forwarding-header walk never panic. This file owns those
//! properties only; it must never touch the network or anything outside its own temp dirs, and
//! keeps case counts moderate so it runs in seconds.

use std::ffi::OsStr;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use muxserve::http::forwarded::{self, TrustedProxies};
use muxserve::http::proxy_protocol;
use muxserve::site::range::{self, ByteRange, MAX_RANGES, RangeSpec};
use muxserve::site::resolve::{self, Found, Hidden, Root, Symlinks};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRunner};

const PURE_CASES: u32 = 2000;
const FS_CASES: u32 = 300;

/// `cases` cases, drawn with XorShift: the default ChaCha generator dominates the run time of an
/// unoptimised test build, and these properties need no cryptographic randomness.
fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Range

/// A number as it is written in the header: its value (beyond u64 on purpose) and leading zeros.
#[derive(Clone, Debug)]
struct Num {
    value: u128,
    zeros: usize,
}

impl Num {
    fn render(&self) -> String {
        format!("{}{}", "0".repeat(self.zeros), self.value)
    }

    /// The value if it fits a u64, as the parser must read it.
    fn fits(&self) -> Option<u128> {
        (self.value <= u128::from(u64::MAX)).then_some(self.value)
    }
}

/// One list element of a `Range` value.
#[derive(Clone, Debug)]
enum Spec {
    Int(Num, Option<Num>),
    Suffix(Num),
    Empty,
    Junk(&'static str),
}

impl Spec {
    fn render(&self) -> String {
        match self {
            Spec::Int(a, b) => format!(
                "{}-{}",
                a.render(),
                b.as_ref().map_or(String::new(), Num::render)
            ),
            Spec::Suffix(n) => format!("-{}", n.render()),
            Spec::Empty => String::new(),
            Spec::Junk(s) => (*s).to_string(),
        }
    }
}

/// A number, mostly small; unless `valid`, sometimes past u64::MAX.
fn num(valid: bool) -> BoxedStrategy<Num> {
    let near_max = u128::from(u64::MAX);
    let value = if valid {
        prop_oneof![8 => 0u128..40, 2 => any::<u64>().prop_map(u128::from)].boxed()
    } else {
        prop_oneof![
            8 => 0u128..40,
            2 => any::<u64>().prop_map(u128::from),
            1 => (near_max - 2)..=(near_max + 2),
            1 => Just(u128::MAX),
        ]
        .boxed()
    };
    let zeros = prop_oneof![6 => Just(0usize), 1 => 1usize..3];
    (value, zeros)
        .prop_map(|(value, zeros)| Num { value, zeros })
        .boxed()
}

/// One element. With `valid`, never an invalid or empty one: a field of many elements then
/// reaches the MAX_RANGES rule instead of being invalid well before it. Boxed, like [`num`]: a
/// vector of unboxed union trees is slow to move in a debug build.
fn spec(valid: bool) -> BoxedStrategy<Spec> {
    let int = (
        num(valid),
        proptest::option::of(num(valid)),
        prop::bool::weighted(if valid { 1.0 } else { 0.9 }),
    )
        .prop_map(
            // Mostly first-pos <= last-pos: a reversed int-range invalidates the whole field.
            |(a, b, ordered)| match b {
                Some(b) if ordered && b.value < a.value => Spec::Int(b, Some(a)),
                b => Spec::Int(a, b),
            },
        );
    let suffix = num(valid).prop_map(Spec::Suffix);
    if valid {
        return prop_oneof![10 => int, 4 => suffix].boxed();
    }
    prop_oneof![
        10 => int,
        4 => suffix,
        1 => Just(Spec::Empty),
        1 => prop::sample::select(vec![
            "x", "1", "-", "--1", "1--2", "1-2-3", "+1-2", "1 -2", "1- 2", "0x1-2", "١-2", "1-2;",
            "\"0-1\"",
        ])
        .prop_map(Spec::Junk),
    ]
    .boxed()
}

fn length() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..50,
        1 => any::<u64>(),
        1 => (u64::MAX - 2)..=u64::MAX,
    ]
}

/// A `Range` value: its unit, its elements, and the whitespace around each element.
fn range_header() -> impl Strategy<Value = (&'static str, Vec<(Spec, &'static str, &'static str)>)>
{
    let unit = prop_oneof![
        8 => prop::sample::select(vec!["bytes", "BYTES", "Bytes", "bYtEs"]),
        1 => prop::sample::select(vec!["items", "byte", "bytes ", "none", ""]),
    ];
    let ows = || prop_oneof![6 => Just(""), 1 => Just(" "), 1 => Just("\t"), 1 => Just(" \t ")];
    let element = |valid| (spec(valid), ows(), ows());
    // Mostly a few elements of any kind; sometimes about MAX_RANGES of them, valid ones right
    // at the limit to test it, or any ones.
    let elements = prop_oneof![
        4 => prop::collection::vec(element(false), 0..6),
        1 => prop::collection::vec(element(true), (MAX_RANGES - 1)..=(MAX_RANGES + 1)),
        1 => prop::collection::vec(element(false), (MAX_RANGES - 4)..(MAX_RANGES + 8)),
    ];
    (unit, elements)
}

/// The reference answer, computed in u128 with allocations and no cleverness.
fn model(unit: &str, specs: &[&Spec], len: u64) -> RangeSpec {
    if !unit.eq_ignore_ascii_case("bytes") {
        return RangeSpec::Full;
    }
    let specs: Vec<&Spec> = specs
        .iter()
        .copied()
        .filter(|s| !matches!(s, Spec::Empty))
        .collect();
    if specs.is_empty() || specs.len() > MAX_RANGES {
        return RangeSpec::Full;
    }
    let Some(mut ranges) = satisfiable(&specs, len) else {
        return RangeSpec::Full;
    };
    let asked = ranges.clone();
    ranges.sort();
    let mut merged: Vec<(u128, u128)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    // In the order asked (RFC 9110 §15.3.7.2): each merged range where its first member was.
    merged.sort_by_key(|&(s, e)| asked.iter().position(|&(a, b)| s <= a && b <= e));
    let to_range = |&(start, end): &(u128, u128)| ByteRange {
        start: u64::try_from(start).unwrap(),
        end: u64::try_from(end).unwrap(),
    };
    match merged.as_slice() {
        [] => RangeSpec::Unsatisfiable,
        [one] => RangeSpec::Single(to_range(one)),
        many => RangeSpec::Multi(many.iter().map(to_range).collect()),
    }
}

/// The satisfiable ranges, clipped, in header order; `None` when any element is invalid.
fn satisfiable(specs: &[&Spec], len: u64) -> Option<Vec<(u128, u128)>> {
    let len = u128::from(len);
    let mut out = Vec::new();
    for spec in specs {
        match spec {
            Spec::Int(a, b) => {
                let a = a.fits()?;
                let b = match b {
                    Some(b) => Some(b.fits()?),
                    None => None,
                };
                if b.is_some_and(|b| b < a) {
                    return None;
                }
                if a < len {
                    out.push((a, b.unwrap_or(len - 1).min(len - 1)));
                }
            }
            Spec::Suffix(n) => {
                let n = n.fits()?;
                if n > 0 && len > 0 {
                    out.push((len - n.min(len), len - 1));
                }
            }
            Spec::Empty => {}
            Spec::Junk(_) => return None,
        }
    }
    Some(out)
}

/// What every answer must look like, whatever the input.
fn check_shape(spec: &RangeSpec, len: u64) -> Result<(), TestCaseError> {
    let ranges: &[ByteRange] = match spec {
        RangeSpec::Full | RangeSpec::Unsatisfiable => return Ok(()),
        RangeSpec::Single(r) => std::slice::from_ref(r),
        RangeSpec::Multi(v) => {
            prop_assert!((2..=MAX_RANGES).contains(&v.len()), "{} ranges", v.len());
            v
        }
    };
    prop_assert!(len > 0, "a range of an empty representation");
    for r in ranges {
        prop_assert!(r.start <= r.end && r.end < len, "{r:?} of {len}");
        prop_assert_eq!(r.len(), r.end - r.start + 1);
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            // At least one byte between any two (in whatever order): no overlap, no touching.
            prop_assert!(
                a.end + 1 < b.start || b.end + 1 < a.start,
                "{:?} {:?}",
                a,
                b
            );
        }
    }
    Ok(())
}

/// The bytes of `0..len` (len ≤ 64) that a set of inclusive ranges covers, as a bit set.
fn coverage(ranges: impl IntoIterator<Item = (u128, u128)>) -> u64 {
    ranges.into_iter().fold(0, |bits, (start, end)| {
        (start..=end).fold(bits, |bits, i| bits | 1 << i)
    })
}

proptest! {
    #![proptest_config(config(PURE_CASES))]

    #[test]
    fn range_matches_model((unit, elements) in range_header(), len in length()) {
        let value = format!(
            "{unit}={}",
            elements
                .iter()
                .map(|(spec, before, after)| format!("{before}{}{after}", spec.render()))
                .collect::<Vec<_>>()
                .join(",")
        );
        let specs: Vec<&Spec> = elements.iter().map(|(spec, _, _)| spec).collect();
        let got = range::parse(value.as_bytes(), len);
        check_shape(&got, len)?;
        prop_assert_eq!(&got, &model(unit, &specs, len), "{:?} len {}", value, len);
        // Merging keeps exactly the requested bytes (checked bit by bit on small lengths).
        if len <= 64 {
            if let Some(raw) = satisfiable(&specs, len) {
                let served: Vec<(u128, u128)> = match &got {
                    RangeSpec::Single(r) => vec![(r.start.into(), r.end.into())],
                    RangeSpec::Multi(v) => v.iter().map(|r| (r.start.into(), r.end.into())).collect(),
                    _ => Vec::new(),
                };
                if !served.is_empty() {
                    prop_assert_eq!(coverage(served), coverage(raw));
                }
            }
        }
    }

    #[test]
    fn range_never_panics_on_bytes(
        value in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..48),
            prop::collection::vec(prop::sample::select(b"0123456789-, \t=bytesBYTES\xff".to_vec()), 0..48)
                .prop_map(|tail| [b"bytes=".as_slice(), &tail].concat()),
        ],
        len in length(),
    ) {
        let got = range::parse(&value, len);
        check_shape(&got, len)?;
        // Only a bytes ranges-specifier can be anything but Full.
        if got != RangeSpec::Full {
            let unit = value.get(..6).unwrap_or_default();
            prop_assert!(unit.eq_ignore_ascii_case(b"bytes="), "{:?} -> {:?}", value, got);
        }
        // Nothing of an empty representation is ever served as a range.
        if len == 0 {
            prop_assert!(matches!(got, RangeSpec::Full | RangeSpec::Unsatisfiable));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paths

/// Pieces of request paths, rich in what traversal attempts are made of.
const PIECES: &[&str] = &[
    "/",
    "/",
    "/",
    "/",
    "..",
    "..",
    ".",
    "...",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2E%2e",
    ".%2e",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "%00",
    "%25",
    "%252e",
    "%",
    "%2",
    "%zz",
    "\\",
    "a",
    "b",
    "file.txt",
    "sub",
    "inner.txt",
    "link",
    "abs",
    "up",
    "dirlink",
    "secret",
    "root",
    ".well-known",
    ".git",
    "x",
    "é",
    "%C3%A9",
    "日本",
    "%ff",
    ";",
    "~",
    " ",
    "%20",
    "?",
    "#",
];

fn request_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        8 => prop::sample::select(PIECES).prop_map(String::from),
        1 => "[a-z.%/]{1,4}",
        1 => any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..14).prop_map(|pieces| format!("/{}", pieces.concat()))
}

/// Whether `out` is a safe root-relative path; `hidden` allows dot-names everywhere.
fn check_relative(out: &[u8], hidden: bool) -> Result<(), TestCaseError> {
    let shown = String::from_utf8_lossy(out);
    if out.is_empty() {
        return Ok(());
    }
    prop_assert!(out.first() != Some(&b'/'), "absolute: {shown:?}");
    for (i, component) in out.split(|&b| b == b'/').enumerate() {
        prop_assert!(!component.is_empty(), "empty component: {shown:?}");
        prop_assert!(
            component != b"." && component != b"..",
            "dot component: {shown:?}"
        );
        prop_assert!(
            !component.contains(&0) && !component.contains(&b'\\'),
            "{shown:?}"
        );
        if component.first() == Some(&b'.') && !hidden {
            prop_assert!(i == 0 && component == b".well-known", "dotfile: {shown:?}");
        }
    }
    for component in Path::new(OsStr::from_bytes(out)).components() {
        prop_assert!(
            matches!(component, Component::Normal(_)),
            "{component:?} in {shown:?}"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(PURE_CASES))]

    #[test]
    fn normalized_paths_stay_relative(raw in request_path()) {
        let mut out = Vec::new();
        if resolve::normalize(&raw, &mut out).is_ok() {
            check_relative(&out, false)?;
        }
        if resolve::normalize_with(&raw, &mut out, Hidden::Serve).is_ok() {
            check_relative(&out, true)?;
        }
    }
}

const SECRET: &[u8] = b"the secret beside the root";

/// A root with a file, a directory and symlinks that point at a secret file beside it.
fn fixture() -> (tempfile::TempDir, Root) {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    fs::write(&secret, SECRET).unwrap();
    let root = dir.path().join("root");
    fs::create_dir_all(root.join("sub")).unwrap();
    fs::create_dir_all(root.join(".well-known")).unwrap();
    fs::write(root.join("file.txt"), b"public").unwrap();
    fs::write(root.join("sub/inner.txt"), b"inner").unwrap();
    fs::write(root.join(".well-known/x"), b"well known").unwrap();
    std::os::unix::fs::symlink("../secret", root.join("link")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../../secret", root.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("..", root.join("dirlink")).unwrap();
    let opened = Root::open(&root, Symlinks::Contained).unwrap();
    (dir, opened)
}

fn content(found: Found) -> Option<Vec<u8>> {
    match found {
        Found::File(fd, _) => {
            let mut bytes = Vec::new();
            fs::File::from(fd).read_to_end(&mut bytes).unwrap();
            Some(bytes)
        }
        Found::Dir(_) => None,
    }
}

#[test]
fn found_files_are_never_outside_the_root() {
    let (_dir, root) = fixture();
    // The fixture works: the public file is found, the symlinks to the secret are not.
    let public = root.find(b"file.txt").ok().and_then(content);
    assert_eq!(public.as_deref(), Some(&b"public"[..]));
    for escape in [&b"link"[..], b"abs", b"sub/up", b"dirlink/secret"] {
        let got = root.find(escape).ok().and_then(content);
        assert_ne!(got.as_deref(), Some(SECRET), "{escape:?}");
    }
    let mut runner = TestRunner::new(config(FS_CASES));
    runner
        .run(&request_path(), |raw| {
            let mut out = Vec::new();
            if resolve::normalize(&raw, &mut out).is_err() {
                return Ok(());
            }
            let got = root.find(&out).ok().and_then(content);
            prop_assert_ne!(got.as_deref(), Some(SECRET), "{:?}", raw);
            Ok(())
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// `_redirects` patterns and targets

use muxserve::config::RedirectSpec;
use muxserve::site::rules::pattern::{Captures, Hosts, Pattern};
use muxserve::site::rules::redirects::{Asked, Redirects, Which};

/// Pattern text from the pieces patterns are made of, well formed or not.
fn pattern_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("/"),
        Just("a"),
        Just("b.html"),
        Just(":x"),
        Just(":y"),
        Just("*"),
        Just("."),
        Just(".."),
        Just("%2F"),
        Just("%"),
        Just("https://h"),
        Just(":"),
    ];
    proptest::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

/// A request path as a client might send it, traversal attempts included.
fn rule_request_path() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        Just("a"),
        Just("b.html"),
        Just(".."),
        Just("%2e%2e"),
        Just("."),
        Just(".env"),
        Just("%2F"),
        Just("x%3Fy"),
        Just("%5C"),
        Just(""),
        Just("%00"),
    ];
    proptest::collection::vec(seg, 0..6).prop_map(|s| format!("/{}", s.join("/")))
}

proptest! {
    #![proptest_config(config(PURE_CASES))]

    /// Any pattern text either compiles or is refused, and matching never panics or captures
    /// outside the path.
    #[test]
    fn patterns_never_panic(pattern in pattern_text(), path in rule_request_path()) {
        let mut rel = Vec::new();
        if let (Ok(p), Ok(_)) = (Pattern::parse(&pattern, Hosts::Placeholders), resolve::normalize(&path, &mut rel)) {
            let mut caps = Captures::default();
            if p.matches(Some(b"h"), &rel, &mut caps) {
                for span in caps.params.iter().chain([&caps.splat]) {
                    prop_assert!(span.start <= span.end && span.end <= rel.len());
                }
            }
        }
    }

    /// Whatever a placeholder or splat captured, a rule's internal target is a path on this
    /// server, and what it normalises to is beneath the root and no dotfile.
    #[test]
    fn rule_targets_stay_beneath_the_root(
        from in prop_oneof![Just("/*"), Just("/a/*"), Just("/:x/*"), Just("/:x/:y")],
        to in prop_oneof![
            Just("/:splat"),
            Just("//:splat"),
            Just("/b/:splat"),
            Just("/:x/../:splat"),
            Just("/:x/:y"),
            Just("/:y"),
        ],
        status in prop_oneof![Just(200u16), Just(301), Just(404)],
        path in rule_request_path(),
    ) {
        let spec = RedirectSpec {
            from: from.into(),
            query: Vec::new(),
            to: to.into(),
            status,
            force: false,
            origin: "p:1".into(),
        };
        let (rules, problems) = Redirects::compile(&[spec]);
        let mut rel = Vec::new();
        if !problems.is_empty() || resolve::normalize(&path, &mut rel).is_err() {
            return Ok(());
        }
        let asked = Asked {
            host: None,
            rel: &rel,
            path: &path,
            query: None,
        };
        let Some(applied) = rules.first(Which::Unforced, &asked) else {
            return Ok(());
        };
        let target = applied.target(&asked);
        prop_assert!(target.starts_with('/'), "{target}");
        prop_assert!(!target.starts_with("//") && !target.starts_with("/\\"), "{target}");
        let mut out = Vec::new();
        if resolve::normalize(&target, &mut out).is_ok() {
            for seg in out.split(|&b| b == b'/') {
                prop_assert!(seg != b".." && !seg.starts_with(b"."), "{target} → {out:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The PROXY protocol header and forwarding headers: bytes anyone who reaches the port chooses.

/// Bytes that look like the start of a PROXY header often enough to get past its first checks:
/// a v1 or v2 prefix, then bytes drawn from what such headers hold.
fn proxy_bytes() -> impl Strategy<Value = Vec<u8>> {
    let v1_alphabet = b"PROXY TCP46UNKOWN0123456789.:abcdef\r\n ".to_vec();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..140),
        prop::collection::vec(prop::sample::select(v1_alphabet), 0..140).prop_map(|tail| [
            b"PROXY ".as_slice(),
            &tail
        ]
        .concat()),
        (
            prop::sample::select(vec![0x20u8, 0x21, 0x2f, 0x11]),
            prop::sample::select(vec![0x00u8, 0x11, 0x12, 0x21, 0x22, 0x31, 0x44]),
            0u16..80,
            prop::collection::vec(any::<u8>(), 0..120),
        )
            .prop_map(|(command, family, len, rest)| {
                let mut h = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
                h.extend_from_slice(&[command, family]);
                h.extend_from_slice(&len.to_be_bytes());
                h.extend_from_slice(&rest);
                h
            }),
    ]
}

proptest! {
    #![proptest_config(config(PURE_CASES))]

    /// Never panics, never claims more bytes than it was given, and gives the same answer
    /// however the bytes were split: a prefix of what parses is "need more", never a
    /// different header.
    #[test]
    fn proxy_headers_never_panic_and_agree_across_splits(bytes in proxy_bytes()) {
        let whole = proxy_protocol::parse(&bytes);
        if let proxy_protocol::Parsed::Done { consumed, .. } = whole {
            prop_assert!(consumed <= bytes.len());
            for cut in 0..consumed {
                prop_assert_eq!(proxy_protocol::parse(&bytes[..cut]), proxy_protocol::Parsed::NeedMore);
            }
            let mut longer = bytes[..consumed].to_vec();
            longer.extend_from_slice(b"GET / HTTP/1.1\r\n");
            prop_assert_eq!(proxy_protocol::parse(&longer), whole);
        }
        if whole == proxy_protocol::Parsed::Invalid {
            let mut longer = bytes.clone();
            longer.extend_from_slice(b"\r\n");
            prop_assert_eq!(proxy_protocol::parse(&longer), proxy_protocol::Parsed::Invalid);
        }
    }

    /// The walk never panics and always answers with the peer or an address the headers hold.
    #[test]
    fn forwarding_walk_never_panics(
        lines in prop::collection::vec(
            prop::collection::vec(prop::sample::select(b"for=\"[]:,;_unknown 0123456789.abcdef\\".to_vec()), 0..60),
            0..4,
        ),
        xff in prop::bool::ANY,
    ) {
        let trusted = TrustedProxies::new(vec!["0.0.0.0/0".parse().unwrap(), "::/0".parse().unwrap()]);
        let lines: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
        let peer = std::net::IpAddr::from([127, 0, 0, 1]);
        let (fwd, x): (&[&[u8]], &[&[u8]]) = if xff { (&[], &lines) } else { (&lines, &[]) };
        let client = forwarded::client(peer, fwd, x, &trusted);
        prop_assert!(client == peer || lines.iter().any(|l| !l.is_empty()), "{client}");
    }
}
