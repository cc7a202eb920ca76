#!/usr/bin/env bash
# bench/rules.sh - what `_redirects` and `_headers` cost: bench scenario a) (a 100 B file over
# 64 keep-alive connections) served by one muxserve binary from two roots that differ only in
# their rules files, none versus 200 redirect rules and 50 header blocks, in interleaved rounds;
# then callgrind instructions per request for both (bench/callgrind.sh --rules).
#
# Usage: bench/rules.sh [--rounds N] [--duration S] [--no-callgrind] [BIN]
#   --rounds N      interleaved wrk rounds (default 3)
#   --duration S    seconds per wrk run (default 8)
#   --no-callgrind  skip the instruction counts
#   BIN             the muxserve binary (default target/release/muxserve)
#
# The rules are shaped like a real site's: 150 literal page moves, 30 section moves with splats,
# 15 placeholder rules, 4 forced rules and a single-page-app catch-all; 45 header blocks for
# single pages, 4 for asset folders and one `/*` block of security headers that matches every
# request (so its headers are written into every response measured). The file asked for exists,
# so unforced rules are shadowed, as on a real site's asset requests. Prints req/s per round and
# the median ratio with rules ÷ without. Everything runs on 127.0.0.1; servers stop by PID.
set -euo pipefail

ROUNDS=3
DURATION=8
CALLGRIND=1
BIN=""
die() { echo "bench/rules.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --no-callgrind) CALLGRIND=0; shift ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown argument: $1 (try --help)" ;;
        *) BIN=$1; shift ;;
    esac
done
REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
[ -n "$BIN" ] || BIN="$REPO/target/release/muxserve"
[ -x "$BIN" ] || die "$BIN is not an executable (cargo build --release)"
for tool in wrk curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wrk curl python3)"
done

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/plain" "$WORK/rules" "$WORK/rulefiles"
head -c 100 /dev/zero | tr '\0' 'a' > "$WORK/plain/file.txt"
cp "$WORK/plain/file.txt" "$WORK/rules/file.txt"
{
    for i in $(seq 1 150); do echo "/old-page-$i /new-page-$i 301"; done
    for i in $(seq 1 30); do echo "/section-$i/* /moved-$i/:splat 301"; done
    for i in $(seq 1 15); do echo "/archive-$i/:year/:slug /posts/:year/:slug 302"; done
    for i in $(seq 1 4); do echo "/legacy-$i/* /legacy/:splat 302!"; done
    echo "/* /index.html 200"
} > "$WORK/rulefiles/_redirects"
{
    for i in $(seq 1 45); do printf '/page-%d\n  X-Page: %d\n  Cache-Control: public, max-age=600\n' "$i" "$i"; done
    for i in $(seq 1 4); do printf '/assets-%d/*\n  Cache-Control: public, max-age=31536000, immutable\n' "$i"; done
    printf '/*\n  X-Frame-Options: DENY\n  Referrer-Policy: strict-origin-when-cross-origin\n'
} > "$WORK/rulefiles/_headers"
cp "$WORK/rulefiles/_redirects" "$WORK/rulefiles/_headers" "$WORK/rules/"
echo "rules: $(grep -c . "$WORK/rules/_redirects") redirect rules, $(grep -c '^/' "$WORK/rules/_headers") header blocks"

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Sets PORT to the port of a server started on root $1; called directly, not in $(...), so that
# its PID reaches PIDS and the cleanup stops it.
start() {
    local root=$1
    PORT=$(free_port)
    "$BIN" --root "$root" --listen "127.0.0.1:$PORT" --workers 2 --access-log off \
        >"$WORK/server-$PORT.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do
        curl -sf -o /dev/null "http://127.0.0.1:$PORT/file.txt" && break
        sleep 0.05
    done
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/file.txt" || die "the server on $root did not answer"
}
start "$WORK/plain"
plain=$PORT
start "$WORK/rules"
rules=$PORT
curl -sI "http://127.0.0.1:$rules/file.txt" | grep -qi '^X-Frame-Options: DENY' \
    || die "the rules root does not apply its _headers"

rps() {
    wrk -t1 -c64 -d"${DURATION}s" "http://127.0.0.1:$1/file.txt" | awk '/^Requests\/sec/ { print $2 }'
}
printf '%-6s %14s %14s %8s\n' round plain rules ratio
ratios=()
for r in $(seq 1 "$ROUNDS"); do
    # Alternate which goes first, so neither always runs on a warmer machine.
    if [ $((r % 2)) -eq 1 ]; then a=$(rps "$plain"); b=$(rps "$rules"); else b=$(rps "$rules"); a=$(rps "$plain"); fi
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')
    ratios+=("$ratio")
    printf '%-6s %14s %14s %8s\n' "$r" "$a" "$b" "$ratio"
done
printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END { printf "median ratio (rules / plain): %s\n", v[int((NR + 1) / 2)] }'
for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()

if [ "$CALLGRIND" = 1 ]; then
    echo "callgrind, without rules then with them:"
    "$REPO/bench/callgrind.sh" --seconds 5 "$BIN"
    "$REPO/bench/callgrind.sh" --seconds 5 --rules "$WORK/rulefiles" "$BIN"
fi
