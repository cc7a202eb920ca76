//! The lookup that keeps rule matching sub-linear: rules by the literal first segment of their
//! pattern (sorted, binary-searched: no hashing per request, nothing a request can flood), and
//! the rules whose first segment is not literal, which every path must try. Both lists keep file
//! order. It must never match a pattern itself.

/// Rule numbers by first literal segment.
#[derive(Debug)]
pub struct Index<N> {
    keyed: Vec<(Box<[u8]>, Vec<N>)>,
    rest: Vec<N>,
}

impl<N> Default for Index<N> {
    fn default() -> Self {
        Index {
            keyed: Vec::new(),
            rest: Vec::new(),
        }
    }
}

impl<N: Copy + Ord> Index<N> {
    /// Adds rule `n` (numbers given in file order) whose pattern starts with `first`, if
    /// literal.
    pub fn insert(&mut self, first: Option<&[u8]>, n: N) {
        let Some(first) = first else {
            self.rest.push(n);
            return;
        };
        match self.keyed.binary_search_by(|(k, _)| by_length(k, first)) {
            Ok(i) => {
                if let Some((_, list)) = self.keyed.get_mut(i) {
                    list.push(n);
                }
            }
            Err(i) => self.keyed.insert(i, (first.into(), vec![n])),
        }
    }

    /// Whether no rule is indexed.
    pub fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.rest.is_empty()
    }

    /// The rules that may match `rel` (root-relative): those keyed by its first segment, and
    /// those tried for every path, each in file order.
    pub fn candidates(&self, rel: &[u8]) -> (&[N], &[N]) {
        let first = rel.split(|&b| b == b'/').next().unwrap_or(rel);
        let keyed = match self.keyed.binary_search_by(|(k, _)| by_length(k, first)) {
            Ok(i) => self
                .keyed
                .get(i)
                .map_or(&[][..], |(_, list)| list.as_slice()),
            Err(_) => &[],
        };
        (keyed, &self.rest)
    }

    /// The candidates for `rel` merged into one ascending sequence: file order.
    pub fn in_order(&self, rel: &[u8]) -> impl Iterator<Item = N> + '_ {
        let (a, b) = self.candidates(rel);
        let (mut a, mut b) = (a.iter().copied().peekable(), b.iter().copied().peekable());
        std::iter::from_fn(move || match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x < y => a.next(),
            (_, Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, None) => None,
        })
    }
}

/// The keys' order: by length, then bytes. Any total order serves a binary search, and this
/// one settles most comparisons on the length, without comparing bytes.
fn by_length(key: &[u8], other: &[u8]) -> std::cmp::Ordering {
    key.len().cmp(&other.len()).then_with(|| key.cmp(other))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_merge_in_file_order() {
        let mut index = Index::default();
        for (n, first) in [
            Some(&b"blog"[..]),
            None,
            Some(b"docs"),
            Some(b"blog"),
            None,
            Some(b"a"),
        ]
        .into_iter()
        .enumerate()
        {
            index.insert(first, n);
        }
        let order = |rel: &[u8]| index.in_order(rel).collect::<Vec<_>>();
        assert_eq!(order(b"blog/x"), [0, 1, 3, 4]);
        assert_eq!(order(b"blog"), [0, 1, 3, 4]);
        assert_eq!(order(b"docs"), [1, 2, 4]);
        assert_eq!(order(b"a/b/c"), [1, 4, 5]);
        assert_eq!(order(b"other"), [1, 4]);
        assert_eq!(order(b""), [1, 4]);
    }
}
