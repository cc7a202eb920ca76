//! The process's open-file limit and what it allows: [`raise_soft_limit`] lifts the soft
//! `RLIMIT_NOFILE` to the hard one at start-up, and [`connection_budget`] says how many
//! connections fit beneath it, so that accepted connections alone can never run the process out
//! of descriptors, and [`cached_files`] how many the file cache may keep open. It decides
//! numbers only; it never opens, accepts or closes anything.
//!
//! A connection holds its socket, and while it sends a file from disk that file too: two
//! descriptors. The rest of the process holds a fixed few (stdio, the listener, the poller and
//! its wake-up, the shutdown and reload pipes, the site's root, an old root during a reload) and
//! each worker at most a couple for a moment (a directory being listed, an error page, a file
//! being hashed), which [`RESERVED`] and [`PER_WORKER`] cover with room to spare. The file
//! cache's descriptors are counted twice: during a reload the old site's cache lives until the
//! last drive answering from it ends.

use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

use crate::site::file_cache::MAX_OPEN;

/// Descriptors kept for the process itself, whatever its connections hold.
const RESERVED: u64 = 32;
/// Descriptors a worker may hold for a moment besides its connection's.
const PER_WORKER: u64 = 2;
/// Descriptors one connection may hold: its socket and the file it sends.
const PER_CONNECTION: u64 = 2;

/// Raises the soft limit on open files to the hard limit; the default soft limit of 1024 is far
/// below what a server is allowed.
pub fn raise_soft_limit() {
    let mut limit = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY, which `Option`'s order would put below every number. Linux caps
    // the hard limit at fs.nr_open, so an infinite one is left as it is.
    if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
        && soft < hard
    {
        limit.current = Some(hard);
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

/// Descriptors the file cache may keep open: [`MAX_OPEN`], or a sixteenth of the soft limit when
/// that is less, so that a low limit still leaves most descriptors to connections.
pub fn cached_files() -> usize {
    cached_under(getrlimit(Resource::Nofile))
}

fn cached_under(limit: Rlimit) -> usize {
    limit.current.map_or(MAX_OPEN, |nofile| {
        usize::try_from(nofile / 16).map_or(MAX_OPEN, |n| n.min(MAX_OPEN))
    })
}

/// How `--max-connections` fits the open-file limit.
#[derive(Debug, PartialEq, Eq)]
pub enum Budget {
    /// The limit allows what was asked.
    Fits(usize),
    /// The limit allows only `allowed` of the `asked` connections.
    Lowered {
        asked: usize,
        allowed: usize,
        nofile: u64,
    },
}

impl Budget {
    /// The connection limit to run with.
    pub fn connections(&self) -> usize {
        match *self {
            Budget::Fits(n) => n,
            Budget::Lowered { allowed, .. } => allowed,
        }
    }
}

/// The budget for `asked` connections and `workers` workers under this process's soft limit.
pub fn connection_budget(asked: usize, workers: usize) -> Budget {
    budget(asked, workers, getrlimit(Resource::Nofile))
}

fn budget(asked: usize, workers: usize, limit: Rlimit) -> Budget {
    // No soft limit (`None`) is RLIM_INFINITY: nothing to fit beneath.
    let Some(nofile) = limit.current else {
        return Budget::Fits(asked);
    };
    let cached = 2 * cached_under(limit) as u64;
    let kept = RESERVED
        .saturating_add(PER_WORKER.saturating_mul(workers as u64))
        .saturating_add(cached);
    let fit = nofile.saturating_sub(kept) / PER_CONNECTION;
    // At least one connection, or a tiny limit would leave a server that can answer no one;
    // that one still fits unless the limit is absurd, and then EMFILE has its own answers.
    let allowed = usize::try_from(fit).unwrap_or(usize::MAX).max(1);
    if asked <= allowed {
        Budget::Fits(asked)
    } else {
        Budget::Lowered {
            asked,
            allowed,
            nofile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(current: Option<u64>) -> Rlimit {
        Rlimit {
            current,
            maximum: None,
        }
    }

    #[test]
    fn the_budget_keeps_two_descriptors_a_connection_and_a_reserve() {
        let cases = [
            // (asked, workers, soft limit, expected)
            (10_000, 2, None, Budget::Fits(10_000)),
            (10_000, 2, Some(1_048_576), Budget::Fits(10_000)),
            // (20000 - 32 - 4 - 2 * 1024) / 2 = 8958
            (
                10_000,
                2,
                Some(20_000),
                Budget::Lowered {
                    asked: 10_000,
                    allowed: 8_958,
                    nofile: 20_000,
                },
            ),
            (8_958, 2, Some(20_000), Budget::Fits(8_958)),
            // (1024 - 32 - 16 - 2 * 64) / 2 = 424
            (
                10_000,
                8,
                Some(1024),
                Budget::Lowered {
                    asked: 10_000,
                    allowed: 424,
                    nofile: 1024,
                },
            ),
            // A limit below the reserve still leaves one connection.
            (
                100,
                2,
                Some(16),
                Budget::Lowered {
                    asked: 100,
                    allowed: 1,
                    nofile: 16,
                },
            ),
        ];
        for (asked, workers, soft, want) in cases {
            let got = budget(asked, workers, limit(soft));
            assert_eq!(got, want, "asked {asked}, {workers} workers, soft {soft:?}");
            assert!(got.connections() <= asked);
        }
    }

    #[test]
    fn the_file_cache_keeps_a_sixteenth_of_a_low_limit() {
        assert_eq!(cached_under(limit(None)), MAX_OPEN);
        assert_eq!(cached_under(limit(Some(1_048_576))), MAX_OPEN);
        assert_eq!(cached_under(limit(Some(1024))), 64);
        assert_eq!(cached_under(limit(Some(8))), 0);
    }
}
