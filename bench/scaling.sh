#!/usr/bin/env bash
# bench/scaling.sh - muxserve's requests/s, RSS and CPU per request as the number of open
# connections grows: N-64 idle keep-alive connections (bench/idle_conns.py) plus wrk -c64 on the
# 100 B file; N = 10, 100, 1000, 10000 (below 64, wrk gets all N and nothing idles). Run with the
# normal build (epoll) and with polling's poll(2) backend, to show what O(1) readiness buys.
# See bench/BENCHMARKS.md.
#
# Usage: bench/scaling.sh [--conns LIST] [--duration S] [--repeat N] [--pin]
#                         [--backends epoll,poll] [--out DIR] [--no-build]
#   --conns LIST     open connections (default 10,100,1000,10000)
#   --duration S     seconds of wrk per point (default 10)
#   --repeat N       interleaved rounds (default 3); the report shows medians
#   --pin            server on CPU 1; wrk and the idle-connection holder on CPU 0
#   --backends LIST  epoll (target/release) and/or poll (target/poll/release)
#   --setup-timeout S  longest wait for the idle connections to be set up (default 600)
#   --out DIR        default bench/out/scaling-<timestamp>
#   --no-build       use the binaries as they are
#
# The poll build: RUSTFLAGS="--cfg polling_test_poll_backend" cargo build --release
#   --target-dir target/poll   (the cfg polling 3.x reads in src/lib.rs to select src/poll.rs;
#   each run checks the server's fds: the epoll build has an anon_inode:[eventpoll], poll none).
# Server flags beyond run.sh's: --max-connections N+1024 (so the limit never binds) and
# --keep-alive-timeout 600s (so idle connections outlive set-up plus the run).
# Everything on 127.0.0.1; every process this script starts is stopped by its PID.
set -euo pipefail

REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
ROOT=/tmp/benchroot
CONNS=10,100,1000,10000
DURATION=10
REPEAT=3
PIN=0
BACKENDS=epoll,poll
OUT=""
BUILD=1
WRK_CONNS=64
SETUP_TIMEOUT=600

die() { echo "bench/scaling.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --repeat) REPEAT=$2; shift 2 ;;
        --pin) PIN=1; shift ;;
        --backends) BACKENDS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        --setup-timeout) SETUP_TIMEOUT=$2; shift 2 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
done

REAL_WRK=$(command -v wrk) || die "wrk is required (apt-get install wrk, or run bench/run.sh once)"
command -v curl >/dev/null || die "curl is required"

bin_of() {
    case "$1" in
        epoll) echo "$REPO/target/release/muxserve" ;;
        poll) echo "$REPO/target/poll/release/muxserve" ;;
        *) die "unknown backend $1 (epoll, poll)" ;;
    esac
}
if [ "$BUILD" = 1 ]; then
    for b in ${BACKENDS//,/ }; do
        case "$b" in
            epoll) (cd "$REPO" && cargo build --release --quiet) || die "build failed" ;;
            poll) (cd "$REPO" && RUSTFLAGS="--cfg polling_test_poll_backend" \
                      cargo build --release --quiet --target-dir target/poll) || die "poll build failed" ;;
        esac
    done
fi
for b in ${BACKENDS//,/ }; do [ -x "$(bin_of "$b")" ] || die "$(bin_of "$b") is missing"; done

# --- set-up -------------------------------------------------------------------------
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then hard=65536; fi
ulimit -n "$hard"
for n in ${CONNS//,/ }; do
    [ "$n" -le $((hard - 100)) ] || echo "bench/scaling.sh: warning: $n connections, RLIMIT_NOFILE hard limit $hard" >&2
done
mkdir -p "$ROOT"
[ "$(stat -c %s "$ROOT/small.txt" 2>/dev/null)" = 100 ] || { printf '%099d\n' 0 | tr 0 a > "$ROOT/small.txt"; }
cat "$ROOT/small.txt" > /dev/null

OUT=${OUT:-$REPO/bench/out/scaling-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/shim" "$OUT/raw" "$OUT/srv"
OUT=$(cd "$OUT" && pwd)
ln -sf "$REPO/bench/wrk_cpu_shim.py" "$OUT/shim/wrk"
chmod +x "$REPO/bench/wrk_cpu_shim.py"
export REAL_WRK
LUA=$OUT/report.lua
cat > "$LUA" <<'EOF'
-- only done(): wrk keeps its fast path (the same summary line as anchor_bench.sh's report.lua)
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
EOF
SRV_PRE=(); CLI_PRE=()
if [ "$PIN" = 1 ]; then SRV_PRE=(taskset -c 1); CLI_PRE=(taskset -c 0); fi

TSV=$OUT/scaling.tsv
printf 'round\tbackend\tconns\twrk_conns\tidle_wanted\tidle_opened\tidle_alive_after\tsetup_s\tserver_sockets\teventpoll_fds\trequests\trps\tp50_us\tp99_us\trss_idle_kb\tpeak_rss_kb\tcpu_us_per_req\tsrv_cpu_pct\twrk_cpu_pct\terrors\tnote\n' > "$TSV"
{
    echo "git: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (+ uncommitted changes in src/Cargo)')"
    echo "args: conns=$CONNS duration=$DURATION repeat=$REPEAT pin=$PIN backends=$BACKENDS wrk=-t1 -c<=$WRK_CONNS"
    echo "machine: $(nproc) CPUs, $(uname -sr), $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
} > "$OUT/run-info.txt"

log() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$OUT/scaling.log" >&2; }

SERVER_PID=""; HELPER_PID=""
stop_pid() { # pid: TERM, then KILL after 10 s; only processes this script started
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null || true
}
cleanup() { stop_pid "$HELPER_PID"; HELPER_PID=""; stop_pid "$SERVER_PID"; SERVER_PID=""; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null; }
fd_count() { # pid glob -> how many of its fds link to a name matching the glob
    find "/proc/$1/fd" -mindepth 1 -lname "$2" 2>/dev/null | wc -l
}
kv() { # file prefix key -> value of key=value on the last line starting with "prefix ", or ""
    awk -v p="$2" -v k="$3" '$1 == p { v = ""; for (i = 2; i <= NF; i++) { split($i, a, "="); if (a[1] == k) v = substr($i, length(k) + 2) } } END { print v }' "$1" 2>/dev/null || true
}
kvn() { local v; v=$(kv "$@"); echo "${v:-0}"; } # same, 0 when absent

run_point() { # round backend conns
    local round=$1 be=$2 n=$3
    local tag="$be-$n-$round" wd="$OUT/srv/$be-$n-$round"
    local c=$(( n < WRK_CONNS ? n : WRK_CONNS ))
    local idle=$(( n - c )) port note=""
    mkdir -p "$wd"
    port=$(free_port)
    setsid "${SRV_PRE[@]}" "$(bin_of "$be")" --root "$ROOT" --listen "127.0.0.1:$port" --workers 2 \
        --access-log off --max-connections $((n + 1024)) --keep-alive-timeout 600s \
        > "$wd/stdout.log" 2> "$wd/stderr.log" < /dev/null &
    SERVER_PID=$!
    local i ok=0
    for i in $(seq 1 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "http://127.0.0.1:$port/small.txt")" = 200 ] && { ok=1; break; }
        sleep 0.1
    done
    if [ $ok = 0 ]; then
        log "$tag: server did not start (see $wd/stderr.log)"
        stop_pid "$SERVER_PID"; SERVER_PID=""
        printf '%s\t%s\t%s\t%s\t%s\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\tserver did not start\n' "$round" "$be" "$n" "$c" "$idle" >> "$TSV"
        return
    fi
    local epfd opened="" failed="" setup=""
    epfd=$(fd_count "$SERVER_PID" 'anon_inode:\[eventpoll\]')
    if [ "$idle" -gt 0 ]; then
        rm -f "$wd/idle.status"
        "${CLI_PRE[@]}" "$PY" "$REPO/bench/idle_conns.py" --port "$port" --count "$idle" \
            --status "$wd/idle.status" 2> "$wd/idle.err" &
        HELPER_PID=$!
        local t_end=$(( $(date +%s) + SETUP_TIMEOUT ))
        while [ "$(date +%s)" -lt $t_end ]; do
            grep -q '^ready' "$wd/idle.status" 2>/dev/null && break
            kill -0 "$HELPER_PID" 2>/dev/null || break
            sleep 0.2
        done
        opened=$(kv "$wd/idle.status" ready opened); failed=$(kv "$wd/idle.status" ready failed)
        setup=$(kv "$wd/idle.status" ready seconds)
        if [ -z "$opened" ]; then
            # a point with fewer connections than it claims would mislead: skip it
            local now
            now=$(fd_count "$SERVER_PID" 'socket:*')
            log "$tag: the idle connections were not set up within ${SETUP_TIMEOUT}s (server sockets: $now); skipped"
            stop_pid "$HELPER_PID"; HELPER_PID=""
            stop_pid "$SERVER_PID"; SERVER_PID=""
            printf '%s\t%s\t%s\t%s\t%s\t\t\t\t%s\t%s\t\t\t\t\t\t\t\t\t\t\tidle set-up not done in %ss; skipped\n' \
                "$round" "$be" "$n" "$c" "$idle" "$now" "$epfd" "$SETUP_TIMEOUT" >> "$TSV"
            return
        fi
        [ "${failed:-0}" = 0 ] || note="$failed idle connections failed"
        sleep 1 # let the reactor settle and the set-up's work leave the CPU
    fi
    local socks rss_idle
    socks=$(fd_count "$SERVER_PID" 'socket:*')
    rss_idle=$(status_kb "$SERVER_PID" VmRSS)
    log "$tag: port $port pid $SERVER_PID: $idle idle (opened ${opened:-0}), server sockets $socks, eventpoll fds $epfd; wrk -c$c"
    "${CLI_PRE[@]}" env PATH="$OUT/shim:$PATH" wrk -t1 -c"$c" -d"${DURATION}s" --latency -s "$LUA" \
        "http://127.0.0.1:$port/small.txt" > "$OUT/raw/$tag.txt" 2>&1 || note="${note:+$note; }wrk rc $?"
    local peak alive=""
    peak=$(status_kb "$SERVER_PID" VmHWM)
    kill -0 "$SERVER_PID" 2>/dev/null || note="${note:+$note; }server died"
    if [ -n "$HELPER_PID" ]; then
        kill -USR1 "$HELPER_PID" 2>/dev/null || true
        for i in $(seq 1 100); do grep -q '^alive' "$wd/idle.status" 2>/dev/null && break; sleep 0.1; done
        alive=$(kv "$wd/idle.status" alive alive)
        stop_pid "$HELPER_PID"; HELPER_PID=""
    fi
    stop_pid "$SERVER_PID"; SERVER_PID=""

    local f=$OUT/raw/$tag.txt reqs dur rps p50 p99 errs cpu srvpct wrkpct
    reqs=$(kv "$f" WRKJSON requests); dur=$(kv "$f" WRKJSON duration_us)
    p50=$(kv "$f" WRKJSON p50_us); p99=$(kv "$f" WRKJSON p99_us)
    errs=$(( $(kvn "$f" WRKJSON connect) + $(kvn "$f" WRKJSON read) + $(kvn "$f" WRKJSON write) + $(kvn "$f" WRKJSON timeout) + $(kvn "$f" WRKJSON status) ))
    rps=""; cpu=""; srvpct=""; wrkpct=""
    if [ -n "$reqs" ] && [ -n "$dur" ]; then
        rps=$(awk -v r="$reqs" -v d="$dur" 'BEGIN{printf "%.1f", r/(d/1e6)}')
        local ticks hz wall wu ws
        ticks=$(kv "$f" SRVCPU ticks); hz=$(kv "$f" SRVCPU clk_tck); wall=$(kv "$f" SRVCPU wall_us)
        wu=$(kv "$f" SRVCPU wrk_utime_us); ws=$(kv "$f" SRVCPU wrk_stime_us)
        if [ -n "$ticks" ]; then
            cpu=$(awk -v t="$ticks" -v h="$hz" -v r="$reqs" 'BEGIN{ if (r > 0) printf "%.3f", t/h*1e6/r }')
            srvpct=$(awk -v t="$ticks" -v h="$hz" -v w="$wall" 'BEGIN{printf "%.1f", t/h*1e6/w*100}')
            wrkpct=$(awk -v u="$wu" -v s="$ws" -v w="$wall" 'BEGIN{printf "%.1f", (u+s)/w*100}')
        else
            note="${note:+$note; }no server CPU ($(grep '^SRVCPU' "$f" | tail -1))"
        fi
    else
        note="${note:+$note; }no wrk summary"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$round" "$be" "$n" "$c" "$idle" "${opened:-0}" "${alive:-}" "${setup:-}" "$socks" "$epfd" \
        "${reqs:-}" "$rps" "${p50:-}" "${p99:-}" "${rss_idle:-}" "${peak:-}" "$cpu" "$srvpct" "$wrkpct" "$errs" "$note" >> "$TSV"
    log "$tag: ${rps:-?} req/s p50 ${p50:-?}us p99 ${p99:-?}us rss idle ${rss_idle}kB peak ${peak}kB cpu ${cpu:-?}us/req idle alive after ${alive:-n/a}/${opened:-0} ${note}"
}

log "results in $OUT; backends $BACKENDS; connections $CONNS; ${DURATION}s each; $REPEAT round(s)"
for round in $(seq 1 "$REPEAT"); do
    for n in ${CONNS//,/ }; do
        for be in ${BACKENDS//,/ }; do
            run_point "$round" "$be" "$n"
        done
    done
done

"$PY" "$REPO/bench/scaling_report.py" "$OUT"
echo "bench/scaling.sh: report: $OUT/scaling.md" >&2
