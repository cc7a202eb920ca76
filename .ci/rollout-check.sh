#!/usr/bin/env bash
# CI: rolling restarts behind HAProxy lose nothing (bench/rollout.sh --quick, under 30 s): 3 times
# each of 3 muxserve instances is replaced under load (drain in HAProxy, SIGTERM, wait for the
# exit), and every request must be answered in full, each large body with its sha256, each
# revalidation on another replica with 304. Then the SIGKILL run, whose losses are only reported.
#
# It runs the debug binary that `cargo test` has already built (ROLLOUT_BIN overrides): a
# release build would take minutes, and the drain does not depend on the optimisation level.
# Where HAProxy cannot be installed, this says so and exits 0; it never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "rollout-check: SKIPPED: $*"; exit 0; }

have_haproxy() { command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; }
if ! have_haproxy && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq haproxy >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq haproxy >/dev/null 2>&1; } \
    || skip "haproxy could not be installed with apt-get"
fi
have_haproxy || skip "haproxy is not installed and there is no apt-get"
command -v python3 >/dev/null 2>&1 || skip "python3 is not installed"

bin=${ROLLOUT_BIN:-target/debug/muxserve}
if [ -z "${ROLLOUT_BIN:-}" ]; then
  cargo build --quiet   # nothing to do after `cargo test`
fi
t0=$SECONDS
bash bench/rollout.sh --quick --bin "$bin"   # installs wrk if it can; the report also in bench/out/
echo "rollout-check: $((SECONDS - t0)) s"
