#!/usr/bin/env bash
# bench/rollout.sh - rolling restarts behind a real load balancer, with every request counted.
#
# HAProxy on 127.0.0.1 in front of 3 muxserve instances (ephemeral ports, --etag content,
# --health-path /healthz, an X-Replica header each), under steady load through HAProxy:
# keep-alive and new-connection-per-request clients of small files, clients downloading an 8 MiB
# and a 32 MiB file and checking each body's sha256, and revalidations (a GET, then If-None-Match
# on a new connection, often answered by another replica). Each rollout replaces the 3 instances
# one at a time as a Kubernetes Deployment with maxSurge 1 / maxUnavailable 0 does: successor
# started on a new port in HAProxy's spare slot (`set server ... addr`), UP on its health checks,
# then the old one `set server ... state drain`, a preStop-like pause, SIGTERM, wait for its exit.
# The same rollouts again with SIGTERM alone (no drain in HAProxy first: it learns from failed
# checks and retries). A last run SIGKILLs one instance mid-load (the one that has just begun
# sending a 32 MiB body) and restarts it on the same port, and reports what HAProxy's retries
# could not save. The driver is bench/rollout.py (Python 3, stdlib only).
#
# Usage: bench/rollout.sh [--rollouts N] [--duration S] [--kill-duration S] [--bin PATH]
#                         [--quick] [--runs LIST] [--no-install] [--out FILE]
#   --rollouts N       full rollouts of the 3 instances (default 3)
#   --duration S       seconds of load of the graceful run; the 3*N replacements are spread over
#                      it (default 60)
#   --kill-duration S  seconds of load of the SIGKILL run (default 20)
#   --bin PATH         the muxserve binary (default target/release/muxserve, built with
#                      `cargo build --release` when missing)
#   --quick            for CI: 3 drained rollouts in 15 s and a 6 s SIGKILL run, under 30 s
#   --runs LIST        of drain,nodrain,kill (default all three, in that order; --quick:
#                      drain,kill)
#   --no-install       do not apt-get install haproxy and wrk when missing
#   --out FILE         the report (default bench/out/rollout-<date>.md)
#
# Prints a table of the runs. Exit status 1 when the drained run failed or truncated any
# request, a revalidation got 200, or an old instance exited non-zero or cut connections; 0
# otherwise. The other runs' losses are reported, not judged. Everything listens on 127.0.0.1 only; every process is
# stopped by the PID recorded when it was started, also when the script is interrupted.
set -euo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)

ROLLOUTS=3
DURATION=60
KILL_DURATION=20
BIN=""
INSTALL=1
EXTRA=()
OUT=""
RUNS=drain,nodrain,kill

die() { echo "bench/rollout.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --rollouts) ROLLOUTS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --kill-duration) KILL_DURATION=$2; shift 2 ;;
        --bin) BIN=$2; shift 2 ;;
        --quick) DURATION=15; KILL_DURATION=6; RUNS=drain,kill; EXTRA+=(--drain-delay 0.5 --restart-delay 0.5); shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --no-install) INSTALL=0; shift ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done

# --- tools ------------------------------------------------------------------------
# apt_install and find_tool.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! find_tool haproxy >/dev/null || ! find_tool wrk >/dev/null; then
    echo "bench/rollout.sh: installing haproxy wrk" >&2
    apt_install haproxy wrk || echo "bench/rollout.sh: could not install haproxy and wrk" >&2
fi
HAPROXY=$(find_tool haproxy) || die "haproxy is required (apt-get install haproxy)"
[ -n "$PY" ] || die "python3 is required"

# --- build ------------------------------------------------------------------------
if [ -z "$BIN" ]; then
    BIN=$REPO/target/release/muxserve
    if [ ! -x "$BIN" ]; then
        echo "bench/rollout.sh: building $BIN" >&2
        (cd "$REPO" && cargo build --release --quiet) || die "cargo build --release failed"
    fi
fi
[ -x "$BIN" ] || die "$BIN is not an executable"
BIN=$(realpath "$BIN")

# --- run --------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/muxserve-rollout.XXXXXX")
DRIVER=""
cleanup() {
    # The driver stops its processes itself, also on SIGTERM; this catches what is left if it
    # died. Only the PIDs it recorded, and only while they still are the programs it started.
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$DRIVER" 2>/dev/null || break
            sleep 0.5
        done
    fi
    if [ -f "$WORK/pids" ]; then
        while read -r pid; do
            if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qE 'muxserve|haproxy|wrk'; then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done < "$WORK/pids"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

OUT=${OUT:-$REPO/bench/out/rollout-$(date +%Y%m%d-%H%M%S).md}
mkdir -p "$(dirname "$OUT")"
echo "bench/rollout.sh: $("$BIN" --version 2>&1 | head -1), $("$HAPROXY" -v | head -1 | cut -d' ' -f1-3), $(nproc) CPUs; report in $OUT" >&2
WRK=$(find_tool wrk) || { WRK=""; echo "bench/rollout.sh: no wrk: the runs go without its load" >&2; }
"$PY" "$REPO/bench/rollout.py" --bin "$BIN" --haproxy "$HAPROXY" --wrk "$WRK" --workdir "$WORK" \
    --rollouts "$ROLLOUTS" --duration "$DURATION" --kill-duration "$KILL_DURATION" \
    --runs "$RUNS" --report "$OUT" "${EXTRA[@]}" &
DRIVER=$!      # in the background, so that a signal to this script runs its trap at once
wait "$DRIVER"
