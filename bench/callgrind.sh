#!/usr/bin/env bash
# bench/callgrind.sh - instructions per request: each muxserve binary given runs alone under
# callgrind while wrk loads one small file over keep-alive connections, and only the load is
# counted (instrumentation is switched on after a warm-up and off before shutdown). The figure does
# not depend on the machine's speed, so two builds compare across runs and machines.
#
# Usage: bench/callgrind.sh [--seconds S] [--conns C] [--size BYTES] [--workers N] [--rules DIR] BIN [BIN...]
#   --seconds S   wrk time with instrumentation on (default 10)
#   --conns C     keep-alive connections (default 8)
#   --size BYTES  the file's size (default 100)
#   --workers N   worker threads (default 2)
#   --rules DIR   copy DIR/_redirects and DIR/_headers into the served root (bench/rules.sh)
#   BIN           muxserve binaries to measure, in order (default target/release/muxserve); one
#                 may carry more server arguments in the same word, split on spaces:
#                 "target/release/muxserve --metrics-path /metrics"
#
# Prints one line per binary: requests, instructions (Ir) and Ir/request. Everything runs on
# 127.0.0.1; each server is stopped by its PID. Needs valgrind and wrk (apt-get install).
set -euo pipefail

SECONDS_ON=10
CONNS=8
SIZE=100
WORKERS=2
RULES=""
BINS=()
die() { echo "bench/callgrind.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_ON=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --rules) RULES=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown argument: $1 (try --help)" ;;
        *) BINS+=("$1"); shift ;;
    esac
done
REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
[ ${#BINS[@]} -gt 0 ] || BINS=("$REPO/target/release/muxserve")
for tool in valgrind callgrind_control wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install valgrind wrk curl python3)"
done

WORK=$(mktemp -d)
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root"
head -c "$SIZE" /dev/zero | tr '\0' 'a' > "$WORK/root/file.txt"
if [ -n "$RULES" ]; then
    for f in _redirects _headers; do
        if [ -f "$RULES/$f" ]; then cp "$RULES/$f" "$WORK/root/"; fi
    done
fi

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

printf '%-40s %10s %14s %10s\n' binary requests Ir Ir/request
for entry in "${BINS[@]}"; do
    read -r -a cmd <<<"$entry"
    bin=${cmd[0]}
    extra=("${cmd[@]:1}")
    [ -x "$bin" ] || die "$bin is not an executable"
    port=$(free_port)
    out="$WORK/cg-$port"
    mkdir -p "$out"
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/callgrind.out.%p" \
        "$bin" --root "$WORK/root" --listen "127.0.0.1:$port" --workers "$WORKERS" \
        --access-log off "${extra[@]}" >"$out/server.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 300); do
        curl -sf -o /dev/null "http://127.0.0.1:$port/file.txt" && break
        sleep 0.1
    done
    curl -sf -o /dev/null "http://127.0.0.1:$port/file.txt" || die "$bin did not answer under valgrind"
    url="http://127.0.0.1:$port/file.txt"
    wrk -t1 -c"$CONNS" -d2s "$url" >/dev/null
    callgrind_control -i on "$PID" >/dev/null 2>&1
    wrk -t1 -c"$CONNS" -d"${SECONDS_ON}s" "$url" >"$out/wrk.txt"
    callgrind_control -i off "$PID" >/dev/null 2>&1
    callgrind_control -d "$PID" >/dev/null 2>&1
    kill -TERM "$PID"
    wait "$PID" || true
    PID=""
    requests=$(awk '/requests in/ { print $1 }' "$out/wrk.txt")
    # Each dump states its total once ("totals:", or "summary:" in older formats).
    ir=$(cat "$out"/callgrind.out.* | awk '/^totals:/ { t += $2 } /^summary:/ { s += $2 } END { print (t ? t : s) + 0 }')
    [ "${requests:-0}" -gt 0 ] || die "wrk completed no request against $bin"
    printf '%-40s %10d %14d %10.0f\n' "$entry" "$requests" "$ir" "$(awk -v i="$ir" -v r="$requests" 'BEGIN { print i / r }')"
done
