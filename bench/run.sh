#!/usr/bin/env bash
# bench/run.sh - muxserve beside nginx, lighttpd, h2o (and static-web-server when installed) and
# the trivial C ceiling, with the side-by-side harness (bench/harness/anchor_bench.sh), plus the
# server CPU time per request, which the harness does not record. See bench/BENCHMARKS.md.
#
# Usage: bench/run.sh [--repeat N] [--duration S] [--pin | --both-modes] [--scenarios LIST]
#                     [--out DIR] [--servers LIST] [--no-install] [--no-build]
#   --repeat N        interleaved rounds (default 3); the report shows medians
#   --duration S      seconds of wrk per run (default 10)
#   --pin             server on CPU 1, wrk on CPU 0;  --both-modes: unpinned, then pinned
#   --scenarios LIST  of a,b,c,d,e,f (default all; see BENCHMARKS.md)
#   --out DIR         default bench/out/<timestamp>
#   --servers LIST    default nginx,lighttpd,h2o,ceiling1,muxserve (+ sws if installed: SWS_BIN,
#                     /opt/sws/bin, PATH or ~/.cargo/bin, e.g. after cargo install static-web-server)
#   --no-install      do not apt-get install missing tools
#   --no-build        do not run cargo build --release
#   --baseline BIN    also run BIN (another muxserve build, e.g. of the commit before a change) as
#                     the server muxserve-base, interleaved with the others; the report adds
#                     muxserve ÷ muxserve-base per scenario
#   --base-args ARGS  more arguments for muxserve-base (one string, split on spaces), e.g. the
#                     same binary as --baseline with features on:
#                     --baseline target/release/muxserve --base-args "--metrics-path /metrics"
#
# Writes DIR/report.md (requests/s, p50/p99, peak RSS, server CPU µs/request, ratios of muxserve
# to the best other server), DIR/rps-<mode>.png and DIR/cpu-<mode>.png, DIR/summary.tsv, and the
# harness's own output under DIR/anchor/. Prints the summary table at the end.
# Everything runs on 127.0.0.1; every process is stopped by its PID (the harness does that).
set -euo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
HARNESS=${ANCHOR_BENCH:-$REPO/bench/harness/anchor_bench.sh}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

REPEAT=3
DURATION=10
MODE_ARGS=()
SCENARIOS=a,b,c,d,e,f
OUT=""
SERVERS=""
INSTALL=1
BUILD=1
BASELINE=""
BASE_EXTRA=""

die() { echo "bench/run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --repeat) REPEAT=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --pin|--both-modes) MODE_ARGS=("$1"); shift ;;
        --scenarios) SCENARIOS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --servers) SERVERS=$2; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --no-build) BUILD=0; shift ;;
        --baseline) BASELINE=$2; shift 2 ;;
        --base-args) BASE_EXTRA=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done

[ -f "$HARNESS" ] && HARNESS=$(realpath "$HARNESS")
[ -f "$HARNESS" ] || die "the harness is missing: $HARNESS
  (expected at <repo>/bench/harness/anchor_bench.sh; set ANCHOR_BENCH=/path/to/anchor_bench.sh)"

# --- tools ------------------------------------------------------------------------
# apt_install and find_tool.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need() { # command package
    command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return 0
    echo "bench/run.sh: installing $2" >&2
    apt_install "$2" || echo "bench/run.sh: could not install $2; $1 will be skipped" >&2
}
need wrk wrk
need nginx nginx-light
need lighttpd lighttpd
need h2o h2o
need curl curl
need gcc gcc
if ! command -v gnuplot >/dev/null && ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    need gnuplot gnuplot-nox
fi
REAL_WRK=$(command -v wrk) || die "wrk is required (apt-get install wrk)"

# static-web-server: where SWS_BIN says, else the harness's default, else `cargo install`'s place.
if [ -z "${SWS_BIN:-}" ] && [ ! -x /opt/sws/bin/static-web-server ]; then
    for candidate in "$(command -v static-web-server || true)" "${CARGO_HOME:-$HOME/.cargo}/bin/static-web-server"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            export SWS_BIN=$candidate
            break
        fi
    done
fi
if [ -z "$SERVERS" ]; then
    SERVERS=nginx,lighttpd,h2o,ceiling1,muxserve
    [ -x "${SWS_BIN:-/opt/sws/bin/static-web-server}" ] && SERVERS=nginx,lighttpd,h2o,sws,ceiling1,muxserve
fi

# --- build ------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
    (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
fi
BIN=$REPO/target/release/muxserve
[ -x "$BIN" ] || die "$BIN is missing (run cargo build --release)"

BASE_ARGS=()
if [ -n "$BASELINE" ]; then
    [ -x "$BASELINE" ] || die "--baseline $BASELINE is not an executable"
    BASELINE=$(realpath "$BASELINE")
    SERVERS="$SERVERS,muxserve-base"
    BASE_ARGS=(--cmd-name muxserve-base
        --cmd "$BASELINE --root {root} --listen 127.0.0.1:{port} --workers {threads} --access-log off${BASE_EXTRA:+ $BASE_EXTRA}")
fi

# --- run --------------------------------------------------------------------------
OUT=${OUT:-$REPO/bench/out/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/shim"
OUT=$(cd "$OUT" && pwd)
# `wrk` in the harness's PATH is the shim: it runs the real wrk and measures the server's CPU.
ln -sf "$REPO/bench/wrk_cpu_shim.py" "$OUT/shim/wrk"
chmod +x "$REPO/bench/wrk_cpu_shim.py"
{
    echo "git: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (+ uncommitted changes in src/Cargo)')"
    echo "muxserve: $("$BIN" --version 2>&1 | head -1)"
    [ -z "$BASELINE" ] || echo "muxserve-base: $BASELINE ($(sha256sum "$BASELINE" | cut -c1-12))${BASE_EXTRA:+ with $BASE_EXTRA}"
    echo "harness: $HARNESS ($(sha256sum "$HARNESS" | cut -c1-12))"
    echo "args: repeat=$REPEAT duration=$DURATION modes=${MODE_ARGS[*]:-unpinned} scenarios=$SCENARIOS servers=$SERVERS"
} > "$OUT/run-info.txt"

echo "bench/run.sh: results in $OUT" >&2
set +e
PATH="$OUT/shim:$PATH" REAL_WRK="$REAL_WRK" bash "$HARNESS" \
    --servers "$SERVERS" --scenarios "$SCENARIOS" \
    --duration "$DURATION" --repeat "$REPEAT" "${MODE_ARGS[@]}" \
    --cmd-name muxserve \
    --cmd "$BIN --root {root} --listen 127.0.0.1:{port} --workers {threads} --access-log off" \
    "${BASE_ARGS[@]}" \
    --out "$OUT/anchor"
rc=$?
set -e
[ $rc = 0 ] || echo "bench/run.sh: the harness exited with $rc; reporting what it wrote" >&2
[ -f "$OUT/anchor/results.tsv" ] || die "no results in $OUT/anchor"

"$PY" "$REPO/bench/report.py" "$OUT" --subject muxserve
echo >&2
echo "bench/run.sh: report: $OUT/report.md" >&2
