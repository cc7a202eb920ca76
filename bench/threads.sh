#!/usr/bin/env bash
# bench/threads.sh - where muxserve's CPU goes, thread by thread, under one wrk load: CPU time,
# voluntary and involuntary context switches of the reactor and of each worker, per request, and
# (with perf installed) system calls per request. The evidence behind the reactor/worker changes
# in docs/ARCHITECTURE.md; compare two builds by running it on each, interleaved.
#
# Usage: bench/threads.sh [--binary PATH] [--conns N] [--duration S] [--close] [--size BYTES]
#                         [--workers N] [--repeat N]
#   --binary PATH   default target/release/muxserve (built if missing)
#   --conns N       wrk connections (default 64)
#   --duration S    seconds of wrk (default 5)
#   --close         send Connection: close (a TCP connection per request)
#   --size BYTES    size of the file requested (default 100)
#   --workers N     muxserve --workers (default 2)
#   --repeat N      runs, one line each (default 1)
# Everything on 127.0.0.1; the server is stopped by its PID.
set -euo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
BIN=$REPO/target/release/muxserve
CONNS=64
DURATION=5
CLOSE=0
SIZE=100
WORKERS=2
REPEAT=1

die() { echo "bench/threads.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) BIN=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --close) CLOSE=1; shift ;;
        --size) SIZE=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done
command -v wrk >/dev/null || die "wrk is not installed (apt-get install wrk)"
if [ ! -x "$BIN" ]; then
    (cd "$REPO" && cargo build --release) || die "cargo build --release failed"
fi

ROOT=$(mktemp -d)
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$ROOT"
}
trap cleanup EXIT
head -c "$SIZE" /dev/zero | tr '\0' 'x' > "$ROOT/file.txt"

free_port() { "${PY:-python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HZ=$(getconf CLK_TCK)
WRK_ARGS=(-t1 -c"$CONNS" -d"${DURATION}s")
[ "$CLOSE" = 1 ] && WRK_ARGS+=(-H "Connection: close")

# Per thread: "tid name cpu_ticks voluntary involuntary".
thread_stats() {
    local t
    for t in /proc/"$1"/task/*; do
        printf '%s %s %s %s %s\n' "${t##*/}" "$(cat "$t/comm")" \
            "$(awk '{ print $14 + $15 }' "$t/stat")" \
            "$(awk '/^voluntary_ctxt_switches/ { print $2 }' "$t/status")" \
            "$(awk '/^nonvoluntary_ctxt_switches/ { print $2 }' "$t/status")"
    done
}

echo "binary $BIN, $CONNS connections, ${DURATION}s, $SIZE B file, close=$CLOSE, $WORKERS workers"
printf '%-10s %10s %8s %14s %14s %14s %10s\n' run req/s thread "CPU µs/req" "vol cs/kreq" "invol cs/kreq" "sys/req"
for run in $(seq 1 "$REPEAT"); do
    port=$(free_port)
    "$BIN" --root "$ROOT" --listen "127.0.0.1:$port" --workers "$WORKERS" --access-log off \
        --max-connections 4096 >/dev/null 2>&1 &
    SERVER=$!
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    before=$(thread_stats "$SERVER")
    perf_out=$(mktemp)
    if command -v perf >/dev/null; then
        perf stat -x, -e raw_syscalls:sys_enter -p "$SERVER" -o "$perf_out" \
            -- sleep "$DURATION" >/dev/null 2>&1 &
        PERF=$!
    else
        PERF=""
    fi
    out=$(wrk "${WRK_ARGS[@]}" "http://127.0.0.1:$port/file.txt")
    [ -n "$PERF" ] && wait "$PERF" 2>/dev/null
    after=$(thread_stats "$SERVER")
    main=$SERVER
    kill "$SERVER"; wait "$SERVER" 2>/dev/null; SERVER=""
    total=$(awk '/requests in/ { print $1 }' <<<"$out")
    rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$out")
    syscalls=$(awk -F, '/raw_syscalls/ { print $1 }' "$perf_out" 2>/dev/null || true)
    rm -f "$perf_out"
    sysreq=$(awk -v s="${syscalls:-}" -v n="$total" 'BEGIN { if (s == "" || n == 0) print "-"; else printf "%.2f", s / n }')
    join <(sort <<<"$before") <(sort <<<"$after") | awk -v n="$total" -v hz="$HZ" -v run="$run" \
        -v rps="$rps" -v sysreq="$sysreq" -v main="$main" '
        { name = ($1 == main) ? "reactor" : $2; cpu = $7 - $3; vol = $8 - $4; inv = $9 - $5
          printf "%-10s %10s %8s %14.2f %14.1f %14.1f\n", run, rps, name,
              cpu / hz * 1e6 / n, vol * 1000 / n, inv * 1000 / n
          tc += cpu }
        END { printf "%-10s %10s %8s %14.2f %14s %14s %10s\n", run, rps, "all", tc / hz * 1e6 / n, "", "", sysreq }'
done
