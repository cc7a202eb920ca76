#!/usr/bin/env bash
# bench/auth_flood.sh - does a flood of wrong passwords take the workers from everybody else?
# One muxserve serves a public file and a --basic-auth path (a bcrypt hash at a real cost). A
# normal client fetches the public file over keep-alive, one request every few milliseconds,
# and records each latency: first alone, then while wrk sends wrong passwords to the protected
# path on 100 connections as fast as it can. Prints the normal client's p50/p99/max in both
# phases, their p99 ratio, and what the flood got (401 verified, 503 over the hashing bound).
# Before the flood it also times wrong passwords for a known and an unknown user name.
#
# Usage: bench/auth_flood.sh [--seconds S] [--cost C] [--workers N] [--conns C] [BIN]
#   --seconds S   length of each phase (default 10)
#   --cost C      bcrypt cost of the user's hash (default 10: ~50-100 ms a verification)
#   --workers N   worker threads (default 2; the hashing bound is N-1)
#   --conns C     flood connections (default 100)
#   --delay DUR   the server's --auth-failure-delay (default its own, 1s; 0 answers at once)
#   BIN           the muxserve binary (default target/release/muxserve)
#
# Everything runs on 127.0.0.1; the server and wrk are stopped by their PIDs. Needs wrk,
# htpasswd (apache2-utils), curl and python3.
set -euo pipefail

PHASE=10
COST=10
WORKERS=2
CONNS=100
DELAY=""
BIN=""
die() { echo "bench/auth_flood.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) PHASE=$2; shift 2 ;;
        --cost) COST=$2; shift 2 ;;
        --workers) WORKERS=$2; shift 2 ;;
        --conns) CONNS=$2; shift 2 ;;
        --delay) DELAY=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        -*) die "unknown argument: $1 (try --help)" ;;
        *) BIN=$1; shift ;;
    esac
done
REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
[ -n "$BIN" ] || BIN="$REPO/target/release/muxserve"
[ -x "$BIN" ] || die "$BIN is not an executable (cargo build --release)"
for tool in wrk htpasswd curl python3; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install wrk apache2-utils curl python3)"
done

WORK=$(mktemp -d)
PID=""
FLOOD=""
cleanup() {
    for p in "$FLOOD" "$PID"; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/root/private"
head -c 2048 /dev/zero | tr '\0' 'a' > "$WORK/root/public.txt"
echo secret > "$WORK/root/private/x.txt"
htpasswd -B -C "$COST" -b -c "$WORK/users" alice "right-password" 2>/dev/null
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN" --root "$WORK/root" --listen "127.0.0.1:$port" --workers "$WORKERS" --access-log off \
    --basic-auth "/private/*=$WORK/users" ${DELAY:+--auth-failure-delay "$DELAY"} >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$port/public.txt" && break
    sleep 0.05
done
curl -sf -o /dev/null "http://127.0.0.1:$port/public.txt" || die "the server did not answer"

# One verification, timed, for the record.
one=$(curl -s -o /dev/null -w '%{time_total}' -u alice:wrong "http://127.0.0.1:$port/private/x.txt")

# A wrong password for a known user and for an unknown one, one at a time so no slot is
# contended: the medians should match (an unknown user is verified against the file's first
# hash), or the time tells a guesser which user names exist.
timing() {
    python3 - "$port" <<'EOF'
import base64, http.client, statistics, sys, time
port = int(sys.argv[1])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
def median(user):
    token = base64.b64encode(f"{user}:wrong-password".encode()).decode()
    took = []
    for _ in range(15):
        t = time.monotonic()
        conn.request("GET", "/private/x.txt", headers={"Authorization": "Basic " + token})
        r = conn.getresponse()
        r.read()
        if r.status != 401:
            sys.exit(f"{user}: {r.status}, not 401")
        took.append((time.monotonic() - t) * 1000)
    return statistics.median(took)
known, unknown = median("alice"), median("nobody-here")
print(f"{known:.1f} {unknown:.1f} {unknown / known:.2f}")
EOF
}
read -r t_known t_unknown t_ratio <<<"$(timing)"

# The normal client: keep-alive GETs of the public file, 5 ms apart, for PHASE seconds;
# prints p50 p99 max in milliseconds and the count.
normal() {
    python3 - "$port" "$PHASE" <<'EOF'
import http.client, sys, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
lat, end = [], time.monotonic() + seconds
while time.monotonic() < end:
    t = time.monotonic()
    conn.request("GET", "/public.txt")
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"public file answered {r.status}")
    lat.append((time.monotonic() - t) * 1000)
    time.sleep(0.005)
lat.sort()
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print(f"{q(0.5):.2f} {q(0.99):.2f} {lat[-1]:.2f} {len(lat)}")
EOF
}

wrong=$(printf 'alice:wrong-password' | base64)

quiet=$(normal)
wrk -t2 -c"$CONNS" -d"$((PHASE + 2))s" -H "Authorization: Basic $wrong" \
    "http://127.0.0.1:$port/private/x.txt" >"$WORK/flood.txt" 2>&1 &
FLOOD=$!
sleep 1
loud=$(normal)
sample=$(for _ in $(seq 1 20); do curl -s -o /dev/null -w '%{http_code}\n' -u alice:wrong-password "http://127.0.0.1:$port/private/x.txt"; done | sort | uniq -c | tr -s ' \n' ' ')
wait "$FLOOD" || true
FLOOD=""
kill -TERM "$PID"
wait "$PID" || true
PID=""

read -r q50 q99 qmax qn <<<"$quiet"
read -r l50 l99 lmax ln <<<"$loud"
flood_reqs=$(awk '/requests in/ { print $1 }' "$WORK/flood.txt")
echo "one wrong-password answer (bcrypt cost $COST, --auth-failure-delay ${DELAY:-1s}): ${one}s; workers $WORKERS, hashing bound $((WORKERS > 1 ? WORKERS - 1 : 1))"
printf '%-28s %8s %8s %8s %8s\n' "normal client (ms)" p50 p99 max requests
printf '%-28s %8s %8s %8s %8s\n' "alone" "$q50" "$q99" "$qmax" "$qn"
printf '%-28s %8s %8s %8s %8s\n' "during the flood" "$l50" "$l99" "$lmax" "$ln"
echo "wrong password, median of 15 each (ms): known user $t_known, unknown user $t_unknown, ratio $t_ratio"
echo "p99 ratio (flood / alone): $(awk -v a="$l99" -v b="$q99" 'BEGIN { printf "%.2f", a / b }')"
echo "flood: ${flood_reqs:-0} requests on $CONNS connections; a sample of 20 wrong passwords during it: $sample(401 verified, 503 over the bound)"
