#!/usr/bin/env bash
# Hostile clients: slowhttptest attacks (slowloris, slow read, slow body) against the release
# binary, while a normal client measures the latency it sees. See bench/README.md.
#
# Usage: bench/attacks.sh            (about 12 minutes with the defaults)
# Environment:
#   ATTACK_SECONDS=60       length of each attack
#   ATTACK_CONNECTIONS=1000 attacker connections
#   BASELINE_SECONDS=20     length of the no-attack reference run of each configuration
#   ATTACK_PORT=18480       loopback port for the server
#   SERVER_CPU=0            CPU the server is pinned to (taskset)
#   CLIENT_CPU=1            CPU the attackers and the probe are pinned to
#   ATTACK_MODES="baseline slowloris slowread slowbody slowbody-ka"
#   ATTACK_CONFIGS="defaults header5s"   server configurations (see config_args; also limit900)
#   NO_BUILD=1              skip cargo build --release
#   ATTACK_BIN=path         the binary to attack (default target/release/muxserve)
#
# Everything runs on 127.0.0.1; every process this script starts is stopped by its PID.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT_DIR=$(pwd)

DURATION=${ATTACK_SECONDS:-60}
CONNS=${ATTACK_CONNECTIONS:-1000}
BASELINE=${BASELINE_SECONDS:-20}
PORT=${ATTACK_PORT:-18480}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
MODES=${ATTACK_MODES:-baseline slowloris slowread slowbody slowbody-ka}
CONFIGS=${ATTACK_CONFIGS:-defaults header5s}
RATE=200 # attacker connections opened per second
BIN=${ATTACK_BIN:-$ROOT_DIR/target/release/muxserve}
STAMP=$(date +%Y%m%d-%H%M%S)
OUT_DIR=$ROOT_DIR/bench/out
REPORT=$OUT_DIR/attacks-$STAMP.md
WORK=$(mktemp -d /tmp/muxserve-attacks.XXXXXX)

for tool in slowhttptest curl taskset awk python3; do
  command -v "$tool" >/dev/null || {
    echo "attacks: $tool is missing (apt-get install -y slowhttptest curl python3)" >&2
    exit 1
  }
done
mkdir -p "$OUT_DIR"
if [[ -z ${NO_BUILD:-} ]]; then
  cargo build --release --quiet
fi
[[ -x $BIN ]] || { echo "attacks: $BIN is not built" >&2; exit 1; }

# --- the processes we own, stopped by PID on any exit -----------------------------------------
SERVER_PID=""
ATTACK_PID=""   # the attack loop (a subshell); it records its current child in $WORK/attack.child
PROBE_PID=""
SAMPLER_PID=""
stop_pid() { # pid [signal]: signal, wait up to 10 s, then SIGKILL; reap it if it is our child
  local pid=$1 sig=${2:-TERM}
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}
stop_attack() {
  [[ -n $ATTACK_PID ]] || return 0
  stop_pid "$ATTACK_PID"
  if [[ -s $WORK/attack.child ]]; then stop_pid "$(cat "$WORK/attack.child")" INT; fi
  ATTACK_PID=""
}
cleanup() {
  stop_attack
  stop_pid "$PROBE_PID"
  stop_pid "$SAMPLER_PID"
  stop_pid "$SERVER_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the site ---------------------------------------------------------------------------------
SITE=$WORK/site
mkdir -p "$SITE"
cp "$ROOT_DIR/tests/fixtures/site/index.html" "$SITE/index.html"
head -c 1048576 /dev/urandom >"$SITE/big.bin"

# --- a keep-alive slow body ---------------------------------------------------------------------
# slowhttptest -B sends `Connection: close`, so a server that answers as soon as the head is in
# (muxserve does: a static server has no use for the body) ends the exchange and slowhttptest
# gives up. This attacker keeps the connection alive instead: it declares a 1 MB body (under
# --max-body-size), sends one byte of it every 10 s on every connection, reads and drops what the
# server answers, and reopens (at the same rate) the connections the server closes. It writes a
# CSV like slowhttptest's (Seconds,Closed,Pending,Connected,Service Available).
cat >"$WORK/slowbody_keepalive.py" <<'PY'
import socket, sys, time
host, port, conns, rate, seconds, interval, csv_path = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]),
    int(sys.argv[5]), float(sys.argv[6]), sys.argv[7])
head = ("POST /index.html HTTP/1.1\r\nHost: %s:%d\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 1000000\r\n\r\n" % (host, port)).encode()
start = time.monotonic()
socks, drip = [], {}
opened = closed = errors = 0
rows, last_sec = [], -1
while True:
    now = time.monotonic() - start
    if now >= seconds:
        break
    while len(socks) < conns and opened < rate * now + 1:
        opened += 1
        try:
            s = socket.create_connection((host, port), timeout=3)
            s.sendall(head)
            s.setblocking(False)
            socks.append(s)
            drip[s] = now + interval
        except OSError:
            errors += 1
    alive = []
    for s in socks:
        gone = False
        try:
            while True:
                if not s.recv(65536):
                    gone = True
                    break
        except BlockingIOError:
            pass
        except OSError:
            gone = True
        if not gone and drip[s] <= now:
            try:
                s.send(b"a")
                drip[s] = now + interval
            except BlockingIOError:
                pass
            except OSError:
                gone = True
        if gone:
            closed += 1
            del drip[s]
            s.close()
        else:
            alive.append(s)
    socks = alive
    if int(now) != last_sec:
        last_sec = int(now)
        rows.append("%d,%d,0,%d,1" % (last_sec, closed, len(socks)))
    time.sleep(0.1)
rows.append("%d,%d,0,%d,1" % (int(time.monotonic() - start), closed, len(socks)))
with open(csv_path, "w") as f:
    f.write("Seconds,Closed,Pending,Connected,Service Available\n" + "\n".join(rows) + "\n")
print("slowbody-ka: opened %d, connect errors %d, closed by the server %d, open at the end %d"
      % (opened, errors, closed, len(socks)))
print("Test ended on %dth second" % int(time.monotonic() - start))
print("Exit status: Hit test time limit")
PY

config_args() {
  case $1 in
    defaults) echo "" ;;
    header5s) echo "--header-timeout 5s" ;;
    limit900) echo "--max-connections 900" ;;
    *) echo "attacks: unknown configuration $1" >&2; exit 1 ;;
  esac
}

cpu_seconds() { # pid -> utime+stime of the whole process, in seconds
  awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print ($12 + $13) / tck }' "/proc/$1/stat"
}

start_server() { # extra args...
  # shellcheck disable=SC2068
  taskset -c "$SERVER_CPU" "$BIN" --root "$SITE" --listen "127.0.0.1:$PORT" --access-log off $@ \
    >"$WORK/server.out" 2>"$WORK/server.err" &
  SERVER_PID=$!
  for _ in $(seq 100); do
    if curl -s -o /dev/null -m 1 "http://127.0.0.1:$PORT/index.html"; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "attacks: the server did not come up; stderr:" >&2
  cat "$WORK/server.err" >&2
  exit 1
}

# Every 200 ms (fixed schedule), one fresh curl of /index.html: "time_total http_code exit".
probe() { # seconds outfile
  local until=$((${EPOCHREALTIME/./} + $1 * 1000000)) next now rc line
  next=${EPOCHREALTIME/./}
  while ((${EPOCHREALTIME/./} < until)); do
    line=$(taskset -c "$CLIENT_CPU" curl -o /dev/null -s -m 5 -w '%{time_total} %{http_code}' \
      "http://127.0.0.1:$PORT/index.html") && rc=0 || rc=$?
    echo "$line $rc" >>"$2"
    next=$((next + 200000))
    now=${EPOCHREALTIME/./}
    if ((next > now)); then sleep "$(printf '0.%06d' $((next - now)))"; else next=$now; fi
  done
}

# Every second: the server's RSS (KiB) and open descriptors, and the host's TCP buffer memory
# (pages; /proc/net/sockstat counts every socket on the machine, the attackers' included).
sample() { # pid outfile
  local rss fds tcpmem
  while kill -0 "$1" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0)
    fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
    tcpmem=$(awk '/^TCP:/ { for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
    echo "$rss $fds $tcpmem" >>"$2"
    sleep 1
  done
}

slowhttptest_args() { # mode seconds wave
  local base="-c $CONNS -r $RATE -l $2 -p 3 -g -o $WORK/sht-$3"
  case $1 in
    slowloris) echo "-H $base -i 10 -x 24 -u http://127.0.0.1:$PORT/index.html" ;;
    slowread) echo "-X $base -w 512 -y 1024 -n 5 -z 32 -k 3 -u http://127.0.0.1:$PORT/big.bin" ;;
    slowbody) echo "-B $base -i 10 -s 8192 -x 10 -u http://127.0.0.1:$PORT/index.html" ;;
  esac
}

# The attack for DURATION seconds. slowhttptest stops once the server has closed all its
# connections and never reconnects; a real attacker would, so a new wave starts at once.
attack_loop() { # mode
  local end=$((SECONDS + DURATION)) wave=0 left
  while left=$((end - SECONDS)); ((left > 3)); do
    wave=$((wave + 1))
    if [[ $1 == slowbody-ka ]]; then
      taskset -c "$CLIENT_CPU" timeout -s INT $((left + 30)) python3 "$WORK/slowbody_keepalive.py" \
        127.0.0.1 "$PORT" "$CONNS" "$RATE" "$left" 10 "$WORK/sht-$wave.csv" >"$WORK/sht-$wave.log" 2>&1 &
    else
      # shellcheck disable=SC2046
      taskset -c "$CLIENT_CPU" timeout -s INT $((left + 30)) slowhttptest $(slowhttptest_args "$1" "$left" "$wave") \
        >"$WORK/sht-$wave.log" 2>&1 &
    fi
    echo $! >"$WORK/attack.child"
    wait $! || true
  done
  : >"$WORK/attack.child"
}

# probe file -> "p50 p99 max ok failures" (ms, over the successful probes)
latency_stats() {
  awk '$2 == 200 && $3 == 0 { print $1 * 1000 }' "$1" | sort -n >"$1.ok"
  local n fail
  n=$(wc -l <"$1.ok")
  fail=$(awk '!($2 == 200 && $3 == 0)' "$1" | wc -l)
  if ((n == 0)); then echo "- - - 0 $fail"; return; fi
  awk -v n="$n" -v fail="$fail" '
    { v[NR] = $1 }
    END {
      i50 = int(0.50 * n + 0.999999); if (i50 < 1) i50 = 1
      i99 = int(0.99 * n + 0.999999); if (i99 < 1) i99 = 1
      printf "%.2f %.2f %.2f %d %d\n", v[i50], v[i99], v[n], n, fail
    }' "$1.ok"
}

# The attack's logs -> "N max; waves 15s,15s,12s" (the most connections it held at once, and
# how long each wave lasted: a wave ends when the server has closed all its connections).
attack_summary() {
  local held waves
  held=$(cat "$WORK"/sht-*.csv 2>/dev/null | awk -F, '$1 ~ /^[0-9]+$/ { if ($4 > m) m = $4 } END { print m + 0 }')
  waves=$(for log in $(ls "$WORK"/sht-*.log 2>/dev/null | sort -V); do
    sed 's/\x1b\[[0-9;]*m//g' "$log" | awk '
      /Test ended on/ { for (i = 1; i <= NF; i++) if ($i == "on") { s = $(i + 1); sub(/th$/, "", s) } }
      /Exit status:/ { r = ($0 ~ /time limit/) ? "" : "*" }
      END { printf "%ss%s\n", (s == "" ? "?" : s), r }'
  done | awk '{ if ($0 == prev) n++; else { if (NR > 1) out(); prev = $0; n = 1 } }
      function out() { printf "%s%s%s", sep, prev, (n > 1 ? "x" n : ""); sep = "," }
      END { if (NR) out() }')
  local closed=""
  if [[ -f $WORK/sht-1.log ]] && grep -q '^slowbody-ka:' "$WORK/sht-1.log"; then
    closed="; $(grep -h '^slowbody-ka:' "$WORK"/sht-*.log | sed 's/^slowbody-ka: //; s/, open at the end.*//')"
  fi
  echo "$held max; waves $waves$closed"
}

ROWS=()
run_one() { # config mode
  local config=$1 mode=$2 seconds=$((DURATION - 6))
  [[ $mode == baseline ]] && seconds=$BASELINE
  echo "== $config / $mode (probe ${seconds}s)" >&2
  rm -f "$WORK"/probe* "$WORK/samples" "$WORK"/sht-* "$WORK/attack.child"
  # shellcheck disable=SC2046
  start_server $(config_args "$config")
  sample "$SERVER_PID" "$WORK/samples" &
  SAMPLER_PID=$!
  local cpu0 cpu1 alive=yes
  cpu0=$(cpu_seconds "$SERVER_PID")
  if [[ $mode != baseline ]]; then
    attack_loop "$mode" &
    ATTACK_PID=$!
    sleep 5 # the attack ramps up at $RATE connections/s
  fi
  probe "$seconds" "$WORK/probe" &
  PROBE_PID=$!
  wait "$PROBE_PID" || true
  PROBE_PID=""
  kill -0 "$SERVER_PID" 2>/dev/null || alive=NO
  cpu1=$(cpu_seconds "$SERVER_PID" 2>/dev/null || echo "$cpu0")
  if [[ -n $ATTACK_PID ]]; then
    # The loop ends on its own about now; give the attacker time to write its report.
    for _ in $(seq 100); do kill -0 "$ATTACK_PID" 2>/dev/null || break; sleep 0.2; done
    stop_attack
  fi
  stop_pid "$SAMPLER_PID"
  SAMPLER_PID=""
  stop_pid "$SERVER_PID"
  SERVER_PID=""

  local p50 p99 max ok fail held="-" rss fds tcpmem cpu
  read -r p50 p99 max ok fail <<<"$(latency_stats "$WORK/probe")"
  [[ $mode == baseline ]] || held=$(attack_summary)
  rss=$(awk '{ if ($1 > m) m = $1 } END { printf "%.1f", m / 1024 }' "$WORK/samples")
  fds=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$WORK/samples")
  tcpmem=$(awk -v pg="$(getconf PAGESIZE)" '{ if ($3 > m) m = $3 } END { printf "%.0f", m * pg / 1048576 }' "$WORK/samples")
  cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')
  ROWS+=("| $config | $mode | $ok | $p50 | $p99 | $max | $fail | $held | $fds | $rss | $tcpmem | $cpu | $alive |")
  echo "   p50 $p50 ms, p99 $p99 ms, max $max ms, $fail failures; attacker: $held;" \
    "server: max fds $fds, max RSS $rss MiB, CPU $cpu s; host TCP mem $tcpmem MiB" >&2
}

for config in $CONFIGS; do
  for mode in $MODES; do
    run_one "$config" "$mode"
  done
done

{
  echo "## Hostile clients: latency of a normal client under attack ($STAMP)"
  echo
  echo "Server: \`muxserve --access-log off\` plus the configuration's flags (defaults otherwise; \`header5s\`"
  echo "adds \`--header-timeout 5s\`), pinned to CPU $SERVER_CPU, so its default worker count is 1."
  echo "Attackers and the probe run on CPU $CLIENT_CPU, shared with whatever else runs there"
  echo "($(nproc) CPUs; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))."
  echo
  echo "Each attack lasts ${DURATION} s with $CONNS connections opened at $RATE/s. slowhttptest stops when the"
  echo "server has closed all its connections; a new wave then starts at once (a real attacker reconnects)."
  echo "The probe starts 5 s in (after the ramp) and stops 1 s before the end: a fresh \`curl\` of"
  echo "/index.html every 200 ms, 5 s timeout. Latencies in ms over the successful probes; a failure"
  echo "is a timeout, a connection error or a status other than 200."
  echo
  echo "- slowloris: \`slowhttptest -H -i 10 -x 24\`"
  echo "- slowread: \`slowhttptest -X -w 512 -y 1024 -n 5 -z 32 -k 3\` on a 1 MiB file"
  echo "- slowbody: \`slowhttptest -B -i 10 -s 8192 -x 10\` (POST /index.html with \`Connection: close\`)"
  echo "- slowbody-ka: this script's keep-alive slow body (\`Content-Length: 1000000\`, 1 byte per 10 s"
  echo "  per connection; closed connections are reopened)"
  echo
  echo "\"attacker\": the most connections it held open at once, and each wave's length (\`*\`: ended"
  echo "because the server had closed every connection; no mark: ran to its time limit; \`x30\`: 30 such waves)."
  echo "\"host TCP mem\": peak of /proc/net/sockstat's TCP buffer memory, whole machine."
  echo
  echo "| config | attack | probes ok | p50 ms | p99 ms | max ms | failures | attacker | server max fds | server max RSS MiB | host TCP mem MiB | server CPU s | alive |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
} | tee "$REPORT"
echo >&2
echo "attacks: report written to $REPORT" >&2
