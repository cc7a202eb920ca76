//! The properties the fuzz targets check, shared with `tests/fuzz_regressions.rs` (which
//! includes this file by path, so it may use only `std` and `muxserve`). Each `check` takes the
//! raw fuzzer input, never panics on a correct muxserve, and panics with a message naming the
//! broken property otherwise. Input layouts are documented per module and in fuzz/README.md.

/// Targets `request` and `framing`: the server's own request framing (`http::framing::Framer`,
/// the code `Conn` runs), fed a client's bytes in different splits.
///
/// `request` input: `[cfg] [n] [piece; n & 7] data…`
/// - `cfg` picks the limits: bits 0-1 `max_head` ∈ {64, 512, 4096, 16384}, bits 2-3 `max_uri` ∈
///   {8, 64, 1024, 8192}, bits 4-5 `max_body` ∈ {0, 16, 100 000, u64::MAX}, bits 6-7
///   `max_headers` ∈ {100, 8, 128, 1000}. `/` (0x2f) is 16384 / 8192 / 100 000 / 100.
/// - `n & 7` read sizes follow (each byte + 1); they repeat over the data. None: one byte at a
///   time. Bit 3 of `n` (0x08): the server is draining.
/// - `data` is what a client sends on one connection.
///
/// `framing` input: `[cfg] [flags] [k × 2 bytes] data…`: `cfg` as above; `flags` bit 0 draining,
/// bits 1-7 the number `k` of split points, each a little-endian u16 taken modulo the data's
/// length + 1. The data is fed in one read, split at those points, and a byte at a time.
///
/// Each way, the transcript (heads with their keep-alive decision, body bytes, refusals) and the
/// final state must be identical: framing must not depend on how reads are split. A head refused
/// early from a prefix (a request line past the URI limit) is allowed only if the whole head is
/// refused too. Every step must account for bytes that were there (a head or body of at most
/// what is buffered, never an empty body step), each head must respect the limits and parse
/// the same alone, nothing is read after the framer is done, and an idle framer holds no bytes.
pub mod request {
    use std::sync::OnceLock;
    use std::time::Instant;

    use muxserve::http::body::{BodyError, Discard};
    use muxserve::http::framing::{Framer, Rules, Step};
    use muxserve::http::request::{BodyFraming, Limits, Method, RequestError, RequestHead};

    /// Whether error kinds (not just "an error") must match between one read and many. Off: a
    /// head refused early from a prefix may be refused for another reason (414 instead of 501),
    /// which changes the status, not the framing.
    pub const STRICT_ERROR_KINDS: bool = false;

    /// The decoded input.
    #[derive(Debug)]
    pub struct Input<'a> {
        /// Parser limits.
        pub limits: Limits,
        /// Whether the server is draining (every answer closes).
        pub draining: bool,
        /// Where reads end, as offsets into the data (ascending, the last one its length).
        pub splits: Vec<usize>,
        /// The bytes a client sends.
        pub data: &'a [u8],
    }

    fn limits(cfg: u8) -> Limits {
        Limits {
            max_head: [64, 512, 4096, 16384][usize::from(cfg & 3)],
            max_uri: [8, 64, 1024, 8192][usize::from((cfg >> 2) & 3)],
            max_body: [0, 16, 100_000, u64::MAX][usize::from((cfg >> 4) & 3)],
            max_headers: [100, 8, 128, 1000][usize::from(cfg >> 6)],
        }
    }

    /// Read ends for reads of `sizes` bytes, repeated over `len` bytes.
    fn repeating(sizes: &[usize], len: usize) -> Vec<usize> {
        let mut ends = Vec::new();
        let mut at = 0;
        for &size in sizes.iter().cycle() {
            if at >= len {
                break;
            }
            at = at.saturating_add(size.max(1)).min(len);
            ends.push(at);
        }
        ends
    }

    /// Splits raw `request` fuzzer bytes into an [`Input`].
    pub fn decode(raw: &[u8]) -> Input<'_> {
        let cfg = raw.first().copied().unwrap_or(0x2f);
        let n = raw.get(1).copied().unwrap_or(0);
        let reads_end = (2 + usize::from(n & 7)).min(raw.len());
        let mut reads: Vec<usize> = raw
            .get(2..reads_end)
            .unwrap_or_default()
            .iter()
            .map(|&b| usize::from(b) + 1)
            .collect();
        if reads.is_empty() {
            reads.push(1);
        }
        let data = raw.get(reads_end..).unwrap_or_default();
        Input {
            limits: limits(cfg),
            draining: n & 0x08 != 0,
            splits: repeating(&reads, data.len()),
            data,
        }
    }

    /// Splits raw `framing` fuzzer bytes into an [`Input`].
    pub fn decode_framing(raw: &[u8]) -> Input<'_> {
        let cfg = raw.first().copied().unwrap_or(0x2f);
        let flags = raw.get(1).copied().unwrap_or(0);
        let k = usize::from(flags >> 1);
        let points_end = (2 + 2 * k).min(raw.len());
        let points = raw.get(2..points_end).unwrap_or_default();
        let data = raw.get(points_end..).unwrap_or_default();
        let mut splits: Vec<usize> = points
            .chunks_exact(2)
            .map(|p| usize::from(u16::from_le_bytes([p[0], p[1]])) % (data.len() + 1))
            .chain([data.len()])
            .collect();
        splits.sort_unstable();
        splits.dedup();
        Input {
            limits: limits(cfg),
            draining: flags & 1 != 0,
            splits,
            data,
        }
    }

    /// Encodes `data` for the `request` target (`reads`: sizes − 1).
    pub fn encode(cfg: u8, reads: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = vec![cfg, 0x30 | reads.len() as u8];
        v.extend_from_slice(reads);
        v.extend_from_slice(data);
        v
    }

    /// One thing the framer decided.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Event {
        /// A complete head of `len` bytes (its Debug form, to compare every field).
        Head {
            len: usize,
            keep_alive: bool,
            head: String,
        },
        /// Body bytes dropped (consecutive steps summed: their split is the reads').
        Body(usize),
        /// The head was refused.
        Refused(Option<RequestError>),
        /// The body could not be discarded.
        BadBody(BodyError),
    }

    /// A connection's read side, as `Conn` runs it: bytes appended as they arrive, the framer
    /// advanced over them until it needs more, consumed bytes dropped.
    #[derive(Debug)]
    pub struct Sim {
        /// Everything received so far (rewritten in place as the server does).
        pub buf: Vec<u8>,
        /// Start of the unconsumed bytes.
        pub start: usize,
        /// The server's framer.
        pub framer: Framer,
        /// What happened, in order.
        pub events: Vec<Event>,
        limits: Limits,
        draining: bool,
        /// The one clock reading every transition gets, so that states compare equal.
        t0: Instant,
    }

    impl Sim {
        /// A connection just accepted.
        pub fn new(limits: Limits, draining: bool) -> Sim {
            // One clock reading for every simulation, so that the states of two compare.
            static T0: OnceLock<Instant> = OnceLock::new();
            let t0 = *T0.get_or_init(Instant::now);
            Sim {
                buf: Vec::new(),
                start: 0,
                framer: Framer::accepted(t0),
                events: Vec::new(),
                limits,
                draining,
                t0,
            }
        }

        /// Whether the bytes left are the start of a head not complete yet.
        pub fn waiting_for_head(&self) -> bool {
            matches!(self.framer, Framer::Head { .. }) && self.start < self.buf.len()
        }

        /// One read of `bytes`.
        pub fn feed(&mut self, bytes: &[u8]) {
            if self.framer.is_done() {
                // The connection only lingers now: what arrives is never framed.
                return;
            }
            self.buf.extend_from_slice(bytes);
            let t0 = self.t0;
            self.framer.bytes_arrived(|| t0);
            self.run();
        }

        fn run(&mut self) {
            let rules = Rules {
                limits: &self.limits,
                draining: self.draining,
            };
            let t0 = self.t0;
            loop {
                let avail = self.buf.len() - self.start;
                let before = self.framer;
                let step = self.framer.advance(
                    &mut self.buf[self.start..],
                    rules,
                    || t0,
                    |head, keep_alive| (format!("{head:?}"), check_head(head, keep_alive, rules)),
                );
                match step {
                    Step::Request {
                        len,
                        keep_alive,
                        answer: (head, ()),
                    } => {
                        assert!(
                            matches!(before, Framer::Head { .. }),
                            "a head read in {before:?}"
                        );
                        assert!(
                            len > 0 && len <= avail,
                            "head len {len} of {avail} buffered"
                        );
                        assert!(len <= self.limits.max_head, "head len {len} > max_head");
                        self.same_alone(len, &head);
                        self.start += len;
                        self.events.push(Event::Head {
                            len,
                            keep_alive,
                            head,
                        });
                    }
                    Step::Body { len } => {
                        assert!(
                            matches!(before, Framer::Body { .. }),
                            "body bytes in {before:?}"
                        );
                        assert!(len > 0 && len <= avail, "body step of {len} of {avail}");
                        self.start += len;
                        match self.events.last_mut() {
                            Some(Event::Body(n)) => *n += len,
                            _ => self.events.push(Event::Body(len)),
                        }
                    }
                    Step::NeedMore => {
                        if let Framer::Head { .. } = self.framer {
                            // A head this long would have been refused.
                            assert!(avail < self.limits.max_head.max(1), "{avail} bytes wait");
                        }
                        break;
                    }
                    Step::Refused(e) => {
                        assert!(self.framer.is_done(), "refused but reading on");
                        self.start = self.buf.len();
                        self.events
                            .push(Event::Refused(STRICT_ERROR_KINDS.then_some(e)));
                    }
                    Step::BadBody(e) => {
                        assert!(self.framer.is_done(), "bad body but reading on");
                        self.start = self.buf.len();
                        // Body bytes taken in earlier reads are no more part of the outcome
                        // than those taken before the error in the same read.
                        if let Some(Event::Body(_)) = self.events.last() {
                            self.events.pop();
                        }
                        self.events.push(Event::BadBody(e));
                    }
                    Step::Done => {
                        assert!(before.is_done(), "Done from {before:?}");
                        break;
                    }
                }
            }
            // Conn relies on this: an idle framer has no bytes of a next head buffered.
            if self.framer == (Framer::Head { since: None }) {
                assert_eq!(self.start, self.buf.len(), "idle with bytes buffered");
            }
        }

        /// The head must not depend on the bytes after it.
        fn same_alone(&self, len: usize, head: &str) {
            let mut alone = self.buf[self.start..self.start + len].to_vec();
            let mut f = Framer::accepted(self.t0);
            let rules = Rules {
                limits: &self.limits,
                draining: self.draining,
            };
            let t0 = self.t0;
            match f.advance(&mut alone, rules, || t0, |h, _| format!("{h:?}")) {
                Step::Request {
                    len: l2,
                    answer: h2,
                    ..
                } => {
                    assert_eq!(l2, len, "head length changes without what follows");
                    assert_eq!(h2, head, "head changes without what follows");
                }
                other => panic!("head alone frames as {other:?}"),
            }
        }
    }

    fn check_head(head: &RequestHead<'_>, keep_alive: bool, rules: Rules<'_>) {
        let limits = rules.limits;
        assert!(
            head.target.len() <= limits.max_uri,
            "target longer than max_uri"
        );
        assert!(
            head.path.starts_with('/') || (head.path == "*" && head.method == Method::Options),
            "path {:?}",
            head.path
        );
        assert!(!(keep_alive && rules.draining), "kept alive while draining");
        assert!(
            !keep_alive || head.keep_alive,
            "kept alive against the request"
        );
        match head.body {
            BodyFraming::Length(n) => {
                assert!(
                    n > 0 && n <= limits.max_body,
                    "Content-Length {n} past the limit"
                )
            }
            BodyFraming::Chunked => assert_eq!(
                head.version,
                muxserve::http::request::Version::Http11,
                "chunked on HTTP/1.0"
            ),
            BodyFraming::None => {}
        }
    }

    /// Feeds `data` in reads ending at `splits`.
    pub fn simulate(data: &[u8], splits: &[usize], limits: Limits, draining: bool) -> Sim {
        let mut sim = Sim::new(limits, draining);
        let mut at = 0;
        for &end in splits {
            let end = end.min(data.len());
            if end > at {
                sim.feed(&data[at..end]);
                at = end;
            }
        }
        if at < data.len() {
            sim.feed(&data[at..]);
        }
        sim
    }

    /// Whether `split` only refused, early, the head `one` is still waiting for.
    fn refused_early(one: &Sim, split: &Sim) -> bool {
        split.events.len() == one.events.len() + 1
            && split.events.starts_with(&one.events)
            && matches!(split.events.last(), Some(Event::Refused(_)))
            && one.waiting_for_head()
    }

    /// The data in one read and in reads ending at `splits` must get the same answers.
    fn same_answers(data: &[u8], splits: &[usize], limits: Limits, draining: bool) {
        let one = simulate(data, &[data.len()], limits, draining);
        let split = simulate(data, splits, limits, draining);
        if one.events == split.events {
            match (one.framer, split.framer) {
                // Whether to linger is a guess about bytes not read: a request behind a last
                // one makes it, and in split reads that request may not have arrived yet.
                (Framer::Done { linger: all }, Framer::Done { linger: part }) => {
                    assert!(all || !part, "lingers only when read in pieces")
                }
                (a, b) => assert_eq!(a, b, "the framer ends differently"),
            }
            if !one.framer.is_done() {
                assert_eq!(
                    one.buf[one.start..],
                    split.buf[split.start..],
                    "unconsumed bytes differ"
                );
            }
            return;
        }
        // Allowed: split reads refuse a head early (a request line past the URI limit before
        // its end), where one read is still waiting for the rest of that head. The whole head
        // must then be refused too: complete it and compare again.
        assert!(
            refused_early(&one, &split),
            "what the server answers depends on how reads are split:\n one read: {:?}\n split:    {:?}",
            one.events,
            split.events
        );
        let mut completed = data.to_vec();
        completed.extend_from_slice(b"\r\n\r\n");
        let one = simulate(&completed, &[completed.len()], limits, draining);
        let split = simulate(&completed, splits, limits, draining);
        if refused_early(&one, &split) {
            // CR LF CR LF did not end that head (the data ended inside something else): the
            // whole head is still undecided, nothing more to compare.
            return;
        }
        assert_eq!(
            one.events, split.events,
            "split reads refused a head early that one read accepts once complete"
        );
    }

    /// The `request` target's property for one fuzzer input.
    pub fn check(raw: &[u8]) {
        let input = decode(raw);
        if input.data.len() > 16 * 1024 {
            return;
        }
        same_answers(input.data, &input.splits, input.limits, input.draining);
        // The chunked decoder straight on the data, in one call and in the same pieces.
        let one = discard(input.data, &[input.data.len()], input.limits.max_body);
        let split = discard(input.data, &input.splits, input.limits.max_body);
        assert_eq!(one, split, "chunked discard depends on how reads are split");
    }

    /// The `framing` target's property for one fuzzer input: one read, the chosen splits, and a
    /// byte at a time must all frame alike.
    pub fn check_framing(raw: &[u8]) {
        let input = decode_framing(raw);
        if input.data.len() > 8 * 1024 {
            return;
        }
        same_answers(input.data, &input.splits, input.limits, input.draining);
        let bytewise: Vec<usize> = (1..=input.data.len()).collect();
        same_answers(input.data, &bytewise, input.limits, input.draining);
    }

    /// Bytes consumed and the final state of a chunked body fed in pieces, or the error (an
    /// error does not say how much was consumed before it).
    fn discard(data: &[u8], splits: &[usize], limit: u64) -> Result<(usize, Discard), BodyError> {
        let mut d = Discard::new(BodyFraming::Chunked);
        let mut used = 0;
        let mut at = 0;
        for &end in splits {
            if d.is_done() {
                break;
            }
            let part = &data[at..end.min(data.len())];
            at = end.min(data.len());
            let mut off = 0;
            while off < part.len() && !d.is_done() {
                match d.consume(&part[off..], limit)? {
                    0 => panic!("Discard consumed nothing while not done"),
                    n => {
                        assert!(n <= part.len() - off);
                        off += n;
                        used += n;
                    }
                }
            }
        }
        Ok((used, d))
    }
}

/// Target `resolve`: URL path normalisation and opening beneath the root.
///
/// Input: the request path as UTF-8 (what httparse hands over as the target's path).
///
/// Both `normalize` and `normalize_with(.., true)` must give only plain components (no empty, `.`
/// or `..` component, no NUL or backslash, not absolute), dotfiles only where allowed (strict:
/// only a first component `.well-known`), agree with a simple reference model, and round-trip
/// through `directory_url`. Then `Root::find` on a temp root whose symlinks point outside must
/// never open the secret file next to the root.
pub mod resolve {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, Path, PathBuf};
    use std::sync::OnceLock;

    use muxserve::site::resolve::{self, Found, Hidden, Refusal, Root, Symlinks};

    /// The secret's content, outside the root.
    pub const SECRET: &[u8] = b"TOP SECRET: this file is outside the root\n";

    /// The temp tree: `base/secret.txt` and `base/root/…` with symlinks that lead out.
    pub struct Tree {
        /// Opened root.
        pub root: Root,
        /// The same root, its symlinks followed anywhere.
        pub followed: Root,
        /// Contents of the regular files inside the root.
        pub inside: Vec<Vec<u8>>,
        /// The base directory.
        pub base: PathBuf,
    }

    /// The tree, built once per process.
    pub fn tree() -> &'static Tree {
        static TREE: OnceLock<Tree> = OnceLock::new();
        TREE.get_or_init(build_tree)
    }

    fn build_tree() -> Tree {
        use std::fs;
        use std::os::unix::fs::symlink;
        let base =
            std::env::temp_dir().join(format!("muxserve-fuzz-resolve-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("root");
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::create_dir_all(root.join(".well-known")).unwrap();
        fs::create_dir_all(root.join("sub")).unwrap();
        fs::write(base.join("secret.txt"), SECRET).unwrap();
        let secret_abs = fs::canonicalize(base.join("secret.txt")).unwrap();
        let files: &[(&str, &[u8])] = &[
            ("index.html", b"<h1>index</h1>\n"),
            ("a/b/c.txt", b"c\n"),
            ("a/x.txt", b"x\n"),
            (".well-known/security.txt", b"Contact: x\n"),
            (".hidden", b"hidden\n"),
            ("a/.env", b"env\n"),
            ("caf\u{e9}.txt", b"cafe\n"),
            ("a b.txt", b"space\n"),
            ("secret.txt", b"the root's own secret.txt is fine\n"),
        ];
        let mut inside = Vec::new();
        for (name, content) in files {
            fs::write(root.join(name), content).unwrap();
            inside.push(content.to_vec());
        }
        symlink("../secret.txt", root.join("up")).unwrap();
        symlink(&secret_abs, root.join("abs")).unwrap();
        symlink("..", root.join("dirlink")).unwrap();
        symlink("../../secret.txt", root.join("a/deep")).unwrap();
        symlink("../..", root.join("a/b/updir")).unwrap();
        symlink("index.html", root.join("inside")).unwrap();
        symlink(
            fs::canonicalize(root.join("index.html")).unwrap(),
            root.join("absinside"),
        )
        .unwrap();
        symlink("/", root.join("slash")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        symlink("sub/../../secret.txt", root.join("sneaky")).unwrap();
        Tree {
            root: Root::open(&root, Symlinks::Contained).unwrap(),
            followed: Root::open(&root, Symlinks::Follow).unwrap(),
            inside,
            base,
        }
    }

    fn check_rel(rel: &[u8], allow_hidden: bool, raw: &str) {
        if rel.is_empty() {
            return;
        }
        assert!(!rel.contains(&0), "NUL in {rel:?} from {raw:?}");
        assert!(!rel.contains(&b'\\'), "backslash in {rel:?} from {raw:?}");
        for c in Path::new(std::ffi::OsStr::from_bytes(rel)).components() {
            assert!(
                matches!(c, Component::Normal(_)),
                "{c:?} in {rel:?} from {raw:?}"
            );
        }
        for (i, seg) in rel.split(|&b| b == b'/').enumerate() {
            assert!(
                !seg.is_empty() && seg != b"." && seg != b"..",
                "segment {seg:?} in {rel:?} from {raw:?}"
            );
            if !allow_hidden && seg[0] == b'.' {
                assert!(
                    i == 0 && seg == b".well-known",
                    "dotfile {seg:?} in {rel:?} from {raw:?}"
                );
            }
        }
    }

    /// An independent model of the normaliser: decode each segment, keep a stack.
    pub fn reference(raw: &str, allow_hidden: bool) -> Result<(Vec<u8>, bool), Refusal> {
        let raw = raw.as_bytes();
        if raw.first() != Some(&b'/') {
            return Err(Refusal::BadRequest);
        }
        let mut stack: Vec<Vec<u8>> = Vec::new();
        for seg in raw[1..].split(|&b| b == b'/') {
            let name = decode(seg).ok_or(Refusal::BadRequest)?;
            if name.iter().any(|&b| b == b'/' || b == b'\\' || b == 0) {
                return Err(Refusal::NotFound);
            }
            match &name[..] {
                b"" | b"." => {}
                b".." => {
                    if stack.pop().is_none() {
                        return Err(Refusal::Forbidden);
                    }
                }
                n if n[0] == b'.'
                    && !allow_hidden
                    && !(stack.is_empty() && n == b".well-known") =>
                {
                    return Err(Refusal::NotFound);
                }
                _ => stack.push(name),
            }
        }
        Ok((stack.join(&b'/'), raw.len() > 1 && raw.ends_with(b"/")))
    }

    fn decode(seg: &[u8]) -> Option<Vec<u8>> {
        let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
        let mut out = Vec::with_capacity(seg.len());
        let mut i = 0;
        while i < seg.len() {
            if seg[i] == b'%' {
                let hi = hex(*seg.get(i + 1)?)?;
                let lo = hex(*seg.get(i + 2)?)?;
                out.push(hi * 16 + lo);
                i += 3;
            } else {
                out.push(seg[i]);
                i += 1;
            }
        }
        Some(out)
    }

    fn check_found(rel: &[u8], follow: bool, raw: &str) {
        let t = tree();
        let root = if follow { &t.followed } else { &t.root };
        if let Ok(Found::File(fd, _)) = root.find(rel) {
            let mut content = Vec::new();
            std::fs::File::from(fd)
                .read_to_end(&mut content)
                .expect("read the found file");
            if !follow {
                assert_ne!(
                    content, SECRET,
                    "{raw:?} (rel {rel:?}) opened the secret outside the root"
                );
                assert!(
                    t.inside.contains(&content),
                    "{raw:?} (rel {rel:?}) opened an unknown file: {content:?}"
                );
            }
            // With follow_symlinks, symlinks may lead anywhere (that is the option): no panic
            // is all there is to check.
        }
    }

    /// The whole property for one path.
    pub fn check(raw: &str) {
        let mut strict = Vec::new();
        let rs = resolve::normalize(raw, &mut strict);
        let mut lenient = Vec::new();
        let rl = resolve::normalize_with(raw, &mut lenient, Hidden::Serve);
        let slash = raw.len() > 1 && raw.ends_with('/');
        for (r, out, hidden) in [(&rs, &strict, false), (&rl, &lenient, true)] {
            let want = reference(raw, hidden);
            let got = r
                .as_ref()
                .map(|n| (out.clone(), n.trailing_slash))
                .map_err(|e| *e);
            assert_eq!(
                got, want,
                "normalize_with({raw:?}, {hidden}) vs the reference"
            );
            if let Ok(n) = r {
                assert_eq!(n.trailing_slash, slash, "trailing slash of {raw:?}");
                check_rel(out, hidden, raw);
                if !out.is_empty() {
                    // What a redirect would send: must be local and normalise to the same path.
                    let url = resolve::directory_url(out, None);
                    assert!(
                        url.starts_with('/') && !url.starts_with("//"),
                        "directory_url {url:?} for {raw:?}"
                    );
                    let mut back = Vec::new();
                    let hidden_as = if hidden {
                        Hidden::Serve
                    } else {
                        Hidden::Refuse
                    };
                    let again = resolve::normalize_with(&url, &mut back, hidden_as);
                    assert!(
                        again.as_ref().is_ok_and(|n| n.trailing_slash) && back == *out,
                        "directory_url {url:?} of {out:?} normalises to {again:?} {back:?}"
                    );
                }
            }
        }
        if let Ok(n) = &rs {
            assert!(
                rl.as_ref().is_ok_and(|m| m == n) && lenient == strict,
                "strict accepts {raw:?} but lenient differs"
            );
        }
        if rs.is_ok() {
            check_found(&strict, false, raw);
            check_found(&strict, true, raw);
        }
        if rl.is_ok() && lenient != strict {
            check_found(&lenient, false, raw);
        }
    }

    /// Removes the temp tree (tests call it; the fuzzer leaves it for the process' life).
    pub fn cleanup() {
        let _ = std::fs::remove_dir_all(&tree().base);
    }
}

/// Target `headers`: Range, If-Range, preconditions and Accept-Encoding.
///
/// Input: `\n`-separated parts; list fields take several lines separated by `\r` (a header
/// value never holds CR or LF):
/// `flags \n len \n Range \n If-Range \n etag \n last_modified \n If-Match \n If-None-Match \n
/// If-Modified-Since \n If-Unmodified-Since \n Accept-Encoding`.
/// `flags`' first byte: bit 0 GET/HEAD, bit 1 br available, bit 2 gzip available. Numbers are
/// decimal digits (others ignored, saturating). A missing or empty part is an absent field (an
/// empty etag is the default `"abc"`).
pub mod headers {
    use muxserve::http::request::Method;
    use muxserve::site::conditional::{self, Outcome, Preconditions, Validators};
    use muxserve::site::encoding::{AcceptEncoding, Available, Coding};
    use muxserve::site::range::{self, ByteRange, MAX_RANGES, RangeSpec};

    fn number(s: &[u8]) -> u64 {
        s.iter().filter(|b| b.is_ascii_digit()).fold(0u64, |n, &d| {
            n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
        })
    }

    fn lines(part: Option<&[u8]>) -> Vec<&[u8]> {
        match part {
            None => Vec::new(),
            Some(p) => p.split(|&b| b == b'\r').collect(),
        }
    }

    fn join(lines: &[&[u8]]) -> Vec<u8> {
        lines.join(&b", "[..])
    }

    /// A simple model of `range::parse`.
    pub fn reference_range(value: &[u8], len: u64) -> RangeSpec {
        reference_specifier(value, len).unwrap_or(RangeSpec::Full)
    }

    fn reference_specifier(value: &[u8], len: u64) -> Option<RangeSpec> {
        let s = std::str::from_utf8(value).ok()?;
        let (unit, set) = s.split_once('=')?;
        if !unit.eq_ignore_ascii_case("bytes") {
            return None;
        }
        let specs: Vec<&str> = set
            .split(',')
            .map(|e| e.trim_matches([' ', '\t']))
            .filter(|e| !e.is_empty())
            .collect();
        if specs.is_empty() || specs.len() > MAX_RANGES {
            return None;
        }
        let digits = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let mut sat = Vec::new();
        for spec in specs {
            let (a, b) = spec.split_once('-')?;
            if a.is_empty() {
                let n = digits(b)?;
                if n > 0 && len > 0 {
                    sat.push((len.saturating_sub(n), len - 1));
                }
            } else {
                let first = digits(a)?;
                let last = if b.is_empty() { None } else { Some(digits(b)?) };
                if last.is_some_and(|l| l < first) {
                    return None;
                }
                if first < len {
                    sat.push((first, last.unwrap_or(len - 1).min(len - 1)));
                }
            }
        }
        let asked = sat.clone();
        sat.sort();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (s, e) in sat {
            match merged.last_mut() {
                Some(last) if s <= last.1.saturating_add(1) => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        // In the order asked (RFC 9110 §15.3.7.2): each merged range where its first member was.
        merged.sort_by_key(|&(s, e)| asked.iter().position(|&(a, b)| s <= a && b <= e));
        let r = |(start, end): (u64, u64)| ByteRange { start, end };
        Some(match merged.len() {
            0 => RangeSpec::Unsatisfiable,
            1 => RangeSpec::Single(r(merged[0])),
            _ => RangeSpec::Multi(merged.into_iter().map(r).collect()),
        })
    }

    fn check_range(value: &[u8], len: u64) {
        let spec = range::parse(value, len);
        let ok = |r: &ByteRange| r.start <= r.end && r.end < len && !r.is_empty();
        match &spec {
            RangeSpec::Full | RangeSpec::Unsatisfiable => {}
            RangeSpec::Single(r) => assert!(ok(r), "{r:?} for len {len}"),
            RangeSpec::Multi(v) => {
                assert!((2..=MAX_RANGES).contains(&v.len()), "{} ranges", v.len());
                assert!(v.iter().all(ok), "{v:?} for len {len}");
                for (i, a) in v.iter().enumerate() {
                    for b in &v[i + 1..] {
                        assert!(
                            a.end.saturating_add(1) < b.start || b.end.saturating_add(1) < a.start,
                            "not coalesced: {v:?}"
                        );
                    }
                }
                let total: u64 = v.iter().map(ByteRange::len).sum();
                assert!(total <= len, "ranges cover {total} > {len}");
            }
        }
        assert_eq!(
            spec,
            reference_range(value, len),
            "range::parse({:?}, {len}) vs the reference",
            String::from_utf8_lossy(value)
        );
    }

    /// The whole property for one input.
    pub fn check(raw: &[u8]) {
        let parts: Vec<&[u8]> = raw.split(|&b| b == b'\n').collect();
        // An empty part is an absent field, like a missing one.
        let part = |i: usize| parts.get(i).copied().filter(|p| !p.is_empty());
        let flags = part(0).and_then(|p| p.first().copied()).unwrap_or(0);
        let get_or_head = flags & 1 != 0;
        let (br, gzip, zstd) = (flags & 2 != 0, flags & 4 != 0, flags & 8 != 0);
        let len = part(1).map_or(0, number);
        let range_value = part(2);
        let if_range = part(3);
        let etag = part(4).unwrap_or(b"\"abc\"");
        let last_modified = part(5).map_or(784_111_777, number);
        let if_match = lines(part(6));
        let if_none_match = lines(part(7));
        let ims = part(8);
        let ius = part(9);
        let accept = lines(part(10));

        if let Some(v) = range_value {
            check_range(v, len);
            // The same value against a few other lengths, edge ones included.
            for l in [0, 1, len.saturating_add(1), u64::MAX] {
                check_range(v, l);
            }
        }

        if let Some(v) = if_range.filter(|v| range::if_range_holds(v, etag, last_modified)) {
            let t = v.trim_ascii();
            if t.iter().take(3).any(|&b| b == b'"') {
                assert!(
                    t.first() == Some(&b'"') && t == etag.trim_ascii(),
                    "If-Range {v:?} holds for etag {etag:?}"
                );
            }
        }

        let p = Preconditions {
            if_match: &if_match,
            if_none_match: &if_none_match,
            if_modified_since: ims,
            if_unmodified_since: ius,
        };
        let validators = Validators {
            etag: Some(etag),
            last_modified: Some(last_modified),
        };
        let method = if get_or_head {
            Method::Get
        } else {
            Method::NotAllowed
        };
        let outcome = conditional::evaluate(&p, &validators, method);
        if !get_or_head {
            assert_ne!(
                outcome,
                Outcome::NotModified,
                "304 for a method other than GET/HEAD"
            );
        }
        if if_match.is_empty() && if_none_match.is_empty() && ims.is_none() && ius.is_none() {
            assert_eq!(outcome, Outcome::Proceed);
        }
        // RFC 9110 §5.3: field lines may be combined into one, joined by a comma.
        let im_joined = join(&if_match);
        let inm_joined = join(&if_none_match);
        let im1: [&[u8]; 1] = [&im_joined];
        let inm1: [&[u8]; 1] = [&inm_joined];
        let combined = Preconditions {
            if_match: if if_match.is_empty() { &[] } else { &im1 },
            if_none_match: if if_none_match.is_empty() { &[] } else { &inm1 },
            ..p
        };
        assert_eq!(
            conditional::evaluate(&combined, &validators, method),
            outcome,
            "combining field lines changes the outcome"
        );

        let ae = AcceptEncoding::parse(&accept);
        let ae_joined = join(&accept);
        if !accept.is_empty() {
            assert_eq!(
                AcceptEncoding::parse(&[&ae_joined]),
                ae,
                "combining Accept-Encoding lines changes the weights"
            );
        }
        let w = |c| ae.weight(c);
        for c in [Coding::Br, Coding::Zstd, Coding::Gzip, Coding::Identity] {
            assert!(w(c) <= 1000, "{c:?} weight {}", w(c));
        }
        let available = [
            (Coding::Br, br),
            (Coding::Zstd, zstd),
            (Coding::Gzip, gzip),
            (Coding::Identity, true),
        ];
        match ae.choose(Available { br, zstd, gzip }) {
            Some(c) => {
                assert!(
                    available.iter().any(|&(a, ok)| a == c && ok),
                    "{c:?} not available"
                );
                assert!(w(c) > 0, "chose {c:?} at q=0");
                for (other, ok) in available {
                    assert!(
                        !ok || w(other) <= w(c),
                        "{c:?} chosen over better {other:?}"
                    );
                }
            }
            None => {
                for (c, ok) in available {
                    assert!(!ok || w(c) == 0, "406 though {c:?} is acceptable");
                }
            }
        }
    }
}
