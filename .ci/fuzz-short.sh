#!/usr/bin/env bash
# Short fuzzing pass: each cargo-fuzz target in fuzz/ for FUZZ_SECONDS (default 60) on a scratch
# copy of its seeds (fuzz/seeds/<target>/), pinned to one core. Fails if a target crashes (a
# panic, a broken property, a sanitizer report, a timeout) or no longer builds. Where cargo-fuzz
# is missing or the stable compiler will not take nightly flags with RUSTC_BOOTSTRAP=1, it says
# `fuzz-short: SKIPPED: <why>` and exits 0; it never skips silently.
#
# Environment: FUZZ_SECONDS (per target), FUZZ_TARGETS (space-separated, default all four),
# FUZZ_CPU (core for taskset, default 1 when there are two or more, else unpinned).
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "fuzz-short: SKIPPED: $*"; exit 0; }

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-request framing resolve headers}
export RUSTC_BOOTSTRAP=1

cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (cargo install cargo-fuzz --locked)"
command -v c++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 \
  || skip "no C++ compiler to build libFuzzer"

# Can this compiler instrument code with RUSTC_BOOTSTRAP=1? ASan first, else coverage only.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'fn main() {}' > "$probe/p.rs"
sancov=(-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters)
if rustc --edition 2021 -Zsanitizer=address "${sancov[@]}" -o "$probe/p" "$probe/p.rs" >/dev/null 2>&1 \
   && "$probe/p"; then
  sanitizer=(--sanitizer address)
elif rustc --edition 2021 "${sancov[@]}" -o "$probe/p" "$probe/p.rs" >/dev/null 2>&1; then
  sanitizer=(--sanitizer none)
  echo "fuzz-short: AddressSanitizer unavailable here; fuzzing without it (-s none)"
else
  skip "rustc $(rustc --version | cut -d' ' -f2) does not accept -Cpasses=sancov-module with RUSTC_BOOTSTRAP=1"
fi

pin=()
if command -v taskset >/dev/null 2>&1; then
  cpu=${FUZZ_CPU:-}
  if [ -z "$cpu" ] && [ "$(nproc)" -ge 2 ]; then cpu=1; fi
  if [ -n "$cpu" ]; then pin=(taskset -c "$cpu"); fi
fi

flags=("${sanitizer[@]}" -O --debug-assertions)
echo "== fuzz-short: cargo fuzz build ${flags[*]}"
(cd fuzz && "${pin[@]}" cargo fuzz build "${flags[@]}") || { echo "fuzz-short: FAILED: the fuzz targets do not build"; exit 1; }

failed=()
for t in $targets; do
  corpus="$probe/corpus-$t"
  mkdir -p "$corpus"
  cp fuzz/seeds/"$t"/* "$corpus"/
  echo "== fuzz-short: $t for ${seconds}s"
  log="$probe/$t.log"
  # TMPDIR: the resolve target builds its temp root there; removed with the scratch dir.
  if (cd fuzz && TMPDIR="$probe" "${pin[@]}" cargo fuzz run "${flags[@]}" "$t" "$corpus" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 -print_final_stats=1) >"$log" 2>&1; then
    grep -E '^(#[0-9]+[[:space:]]+DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
  else
    failed+=("$t")
    echo "fuzz-short: $t FAILED; the end of its log:"
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -60
    echo "(the input is in fuzz/artifacts/$t/; replay: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $t artifacts/$t/<file>)"
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz-short: FAILED: ${failed[*]}"
  exit 1
fi
echo "fuzz-short: OK (${targets// /, }: ${seconds}s each)"
