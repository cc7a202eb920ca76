#!/usr/bin/env bash
# Soak: wrk with the request mix of bench/soak.lua against the release binary for a long time,
# sampling the server's RSS and open descriptors every 10 s. Both must stay flat.
# See bench/README.md.
#
# Usage: bench/soak.sh [SECONDS]      (default 600)
# Environment:
#   SOAK_CONNECTIONS=64   wrk connections (keep-alive)
#   SOAK_THREADS=2        wrk threads
#   SOAK_PORT=18490       loopback port for the server
#   SERVER_CPU=0          CPU the server is pinned to (taskset)
#   CLIENT_CPU=1          CPU wrk is pinned to
#   SERVER_ARGS="..."     extra server flags (default: none besides --access-log off)
#   NO_BUILD=1            skip cargo build --release
#
# Output: bench/out/soak-<date>.tsv (the samples) and bench/out/soak-<date>.txt (this report).
# Everything runs on 127.0.0.1; every process this script starts is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

DURATION=${1:-600}
CONNS=${SOAK_CONNECTIONS:-64}
THREADS=${SOAK_THREADS:-2}
PORT=${SOAK_PORT:-18490}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
INTERVAL=10
BIN=$ROOT_DIR/target/release/muxserve
STAMP=$(date +%Y%m%d-%H%M%S)
OUT_DIR=$ROOT_DIR/bench/out
TSV=$OUT_DIR/soak-$STAMP.tsv
REPORT=$OUT_DIR/soak-$STAMP.txt
WORK=$(mktemp -d /tmp/muxserve-soak.XXXXXX)

[[ $DURATION =~ ^[0-9]+$ ]] && ((DURATION >= 10)) || { echo "soak: SECONDS must be an integer >= 10" >&2; exit 2; }
for tool in wrk curl taskset awk; do
  command -v "$tool" >/dev/null || { echo "soak: $tool is missing (apt-get install -y wrk curl)" >&2; exit 1; }
done
mkdir -p "$OUT_DIR"
if [[ -z ${NO_BUILD:-} ]]; then
  cargo build --release --quiet
fi
[[ -x $BIN ]] || { echo "soak: $BIN is not built" >&2; exit 1; }

SERVER_PID=""
WRK_PID=""
SAMPLER_PID=""
stop_pid() { # pid [signal]: signal, wait up to 10 s, then SIGKILL; reap it
  local pid=$1 sig=${2:-TERM}
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_pid "$WRK_PID"
  stop_pid "$SAMPLER_PID"
  stop_pid "$SERVER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the site ---------------------------------------------------------------------------------
SITE=$WORK/site
mkdir -p "$SITE"
head -c 100 /dev/urandom | base64 -w0 | head -c 100 >"$SITE/s100.txt"
head -c 1024 /dev/urandom | base64 -w0 | head -c 1024 >"$SITE/s1k.txt"
head -c 65536 /dev/urandom >"$SITE/f64k.bin"

# --- the server -------------------------------------------------------------------------------
# shellcheck disable=SC2086
taskset -c "$SERVER_CPU" "$BIN" --root "$SITE" --listen "127.0.0.1:$PORT" --access-log off ${SERVER_ARGS:-} \
  >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do
  curl -s -o /dev/null -m 1 "$URL/s100.txt" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.err" >&2; exit 1; }
  sleep 0.1
done

# The current ETag, and one request of each kind checked by hand before the load.
ETAG=$(curl -sI "$URL/s1k.txt" | tr -d '\r' | awk 'tolower($1) == "etag:" { print $2 }')
[[ -n $ETAG ]] || { echo "soak: no ETag on /s1k.txt" >&2; exit 1; }
check() { # want-status curl-args...
  local want=$1 got
  shift
  got=$(curl -s -o /dev/null -w '%{http_code}' "$@")
  [[ $got == "$want" ]] || { echo "soak: $* gave $got, expected $want" >&2; exit 1; }
}
check 200 "$URL/s100.txt"
check 200 "$URL/f64k.bin"
check 206 -H 'Range: bytes=0-99' "$URL/f64k.bin"
check 206 -H 'Range: bytes=-500' "$URL/f64k.bin"
check 304 -H "If-None-Match: $ETAG" "$URL/s1k.txt"
check 404 "$URL/missing/nothing-here.html"

# --- sampling ---------------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)
sample_once() { # elapsed-seconds -> one TSV row
  local pid=$SERVER_PID
  awk -v t="$1" -v tck="$clk_tck" -v fds="$(ls "/proc/$pid/fd" | wc -l)" '
    FILENAME ~ /status$/ && /^VmRSS:/ { rss = $2 }
    FILENAME ~ /status$/ && /^Threads:/ { thr = $2 }
    FILENAME ~ /stat$/ { sub(/^.*\) /, ""); cpu = ($12 + $13) / tck }
    END { printf "%d\t%d\t%d\t%d\t%.2f\n", t, rss, fds, thr, cpu }' "/proc/$pid/status" "/proc/$pid/stat"
}
printf 'elapsed_s\trss_kib\tfds\tthreads\tcpu_s\n' >"$TSV"
sample_once 0 >>"$TSV"
sampler() {
  local start=$SECONDS next=$INTERVAL
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    sleep $((start + next - SECONDS))
    sample_once "$next" >>"$TSV"
    next=$((next + INTERVAL))
  done
}
sampler &
SAMPLER_PID=$!

# --- the load ---------------------------------------------------------------------------------
echo "soak: ${DURATION}s of wrk -t$THREADS -c$CONNS against $URL (server on CPU $SERVER_CPU, wrk on CPU $CLIENT_CPU)" >&2
SOAK_ETAG=$ETAG taskset -c "$CLIENT_CPU" timeout -s INT $((DURATION + 60)) \
  wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency -s "$ROOT_DIR/bench/soak.lua" "$URL/" \
  >"$WORK/wrk.out" 2>&1 &
WRK_PID=$!
wait "$WRK_PID" || echo "soak: wrk exited with status $?" >&2
WRK_PID=""
sleep 3 # the last sample under load, then the connections are closed
stop_pid "$SAMPLER_PID"
SAMPLER_PID=""
after=$(sample_once $((DURATION + 3)))
alive=yes
kill -0 "$SERVER_PID" 2>/dev/null || alive=NO
# SIGTERM: a graceful stop must exit 0 within its 8 s drain (SIGKILL after 15 s).
server_status=0
kill -TERM "$SERVER_PID" 2>/dev/null || true
for _ in $(seq 150); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
killed=""
if kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID"; killed=" (SIGKILLed after 15 s)"; fi
wait "$SERVER_PID" && server_status=0 || server_status=$?
server_status="$server_status$killed"
SERVER_PID=""

# --- report -----------------------------------------------------------------------------------
{
  echo "# muxserve soak $STAMP"
  echo
  echo "server: muxserve --access-log off ${SERVER_ARGS:-}, pinned to CPU $SERVER_CPU (default workers = CPUs it may use = 1)"
  echo "load:   wrk -t$THREADS -c$CONNS -d${DURATION}s, keep-alive, bench/soak.lua mix, pinned to CPU $CLIENT_CPU"
  echo "host:   $(nproc) CPUs, load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (other work shares CPU $CLIENT_CPU)"
  echo
  echo "## RSS and descriptors every ${INTERVAL}s (bar: RSS)"
  awk -F'\t' 'NR == 1 { next } { t[NR] = $1; r[NR] = $2; f[NR] = $3; th[NR] = $4; c[NR] = $5; if ($2 > m) m = $2 }
    END {
      printf "%8s %10s %6s %8s %8s\n", "t(s)", "RSS(KiB)", "fds", "threads", "cpu(s)"
      for (i = 2; i <= NR; i++) {
        bar = ""; n = (m > 0) ? int(40 * r[i] / m) : 0
        for (j = 0; j < n; j++) bar = bar "#"
        printf "%8d %10d %6d %8d %8.1f  %s\n", t[i], r[i], f[i], th[i], c[i], bar
      }
    }' "$TSV"
  echo
  echo "## Under load (samples from ${INTERVAL}s to the end; t=0 is the idle server)"
  awk -F'\t' -v end="$DURATION" 'NR > 2 && $1 <= end {
      if (min_r == "" || $2 < min_r) min_r = $2; if ($2 > max_r) max_r = $2
      if (min_f == "" || $3 < min_f) min_f = $3; if ($3 > max_f) max_f = $3
      if (first == "") first = $2; last = $2; n++
    }
    END {
      printf "RSS KiB: min %d, max %d, first %d, last %d (last - first %+d KiB) over %d samples\n", min_r, max_r, first, last, last - first, n
      printf "fds:     min %d, max %d\n", min_f, max_f
    }' "$TSV"
  idle=$(awk -F'\t' 'NR == 2' "$TSV")
  echo "idle before: $(echo "$idle" | awk -F'\t' '{ printf "RSS %d KiB, %d fds", $2, $3 }');" \
    "3 s after wrk stopped: $(echo "$after" | awk -F'\t' '{ printf "RSS %d KiB, %d fds", $2, $3 }')"
  echo "server alive at the end: $alive; exit status after SIGTERM: $server_status"
  echo
  echo "## wrk"
  cat "$WORK/wrk.out"
  echo
  echo "## server stderr"
  cat "$WORK/server.err"
} | tee "$REPORT"
echo "$after" >>"$TSV"
echo >&2
echo "soak: samples in $TSV, report in $REPORT" >&2
