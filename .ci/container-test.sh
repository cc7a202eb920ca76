#!/usr/bin/env bash
# Container check: the image built from the Dockerfile, unchanged, and run the way users run it
# (read-only, as its non-root USER, PID 1): the bundled site, the in-image health check, a site
# mounted from the host, and `podman stop` while a download is in flight.
#
# Only the build stage's base image may differ from a user's build: where no registry is
# reachable, .ci/rust-base-image.sh makes a local stand-in for `rust:<version>-bookworm`.
# Where podman cannot be installed or cannot run containers here, this says so and exits 0; it
# never skips silently. A Dockerfile that does not build, or an image that fails a check, fails.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "container-test: SKIPPED: $*"; exit 0; }
fail() { echo "container-test: FAILED: $*"; exit 1; }

if ! command -v podman >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null) \
    || skip "podman could not be installed"
fi
command -v podman >/dev/null 2>&1 || skip "podman is not installed"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"

t0=$SECONDS
base=$(bash .ci/rust-base-image.sh) || fail "no rust build image could be pulled or made (see above)"
echo "container-test: build stage's base $base ready in $((SECONDS - t0)) s"

ctx=$(mktemp -d)
name="muxserve-ci-$$"
image="localhost/muxserve-ci:$$"
cleanup() {
  podman rm -f "$name" "$name-site" "$name-files" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT

t0=$SECONDS
# --format docker keeps the HEALTHCHECK (the OCI format has none); --pull=never takes the base
# image made or pulled above.
if ! podman build -q --runtime runc --network host --pull=never --format docker -t "$image" . \
  >"$ctx/build.log" 2>&1; then
  cat "$ctx/build.log"
  fail "podman build of the Dockerfile failed"
fi
# The whole log only on failure; cargo's summary lines of both build steps always.
{ grep -E '^ *(Finished|warning)' "$ctx/build.log" || echo '(all layers cached)'; } | sed 's/^ */  /'
echo "container-test: podman build of the unchanged Dockerfile: $((SECONDS - t0)) s"
podman create --no-healthcheck --name "$name-files" "$image" >/dev/null
podman cp "$name-files:/muxserve" "$ctx/muxserve"
podman rm "$name-files" >/dev/null
echo "container-test: image $(podman image inspect "$image" --format '{{.Size}}') bytes, binary $(stat -c %s "$ctx/muxserve") bytes"

hc=$(podman image inspect "$image" --format '{{.Config.Healthcheck.Test}}')
[ "$hc" = "[CMD /muxserve health]" ] || fail "image HEALTHCHECK is '$hc'"

# podman's defaults ask for limits above this host's hard limits; ask for less (at most 16384/4096).
cap() { local hard=$1 want=$2; if [ "$hard" = unlimited ] || [ "$hard" -gt "$want" ]; then echo "$want"; else echo "$hard"; fi; }
limits=(--ulimit "nofile=$(cap "$(ulimit -Hn)" 16384):$(cap "$(ulimit -Hn)" 16384)"
        --ulimit "nproc=$(cap "$(ulimit -Hu)" 4096):$(cap "$(ulimit -Hu)" 4096)")
# Podman runs health checks through systemd timers, absent here: the image's HEALTHCHECK command
# is run with `podman exec` instead.
run() { podman run -d --no-healthcheck --runtime runc "${limits[@]}" --read-only "$@" >/dev/null; }
wait_for() {
  for _ in $(seq 1 1000); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.01
  done
  return 1
}
# The container must say how it stopped: by the signal, with nothing cut, exit 0.
stopped_cleanly() {
  local logs code
  logs=$(podman logs "$1" 2>&1)
  code=$(podman inspect "$1" --format '{{.State.ExitCode}}')
  echo "$logs" | grep -q "shutdown signal" || { echo "$logs"; fail "$1: no shutdown line in the logs"; }
  echo "$logs" | grep -q "stopped: .* drained, 0 cut" || { echo "$logs"; fail "$1: connections were cut"; }
  [ "$code" = 0 ] || { echo "$logs"; fail "$1: exit code $code"; }
  echo "container-test: $1 exited 0; its logs:"
  echo "$logs" | grep -v '"GET ' | sed 's/^/  /'
}

# 1. The bundled site, as `docker run -p 8080:8080 muxserve` serves it.
port=$((20000 + RANDOM % 20000))
started=$(date +%s%N)
run --name "$name" -p "127.0.0.1:$port:8080" "$image" || skip "podman run is not possible on this machine"
wait_for "http://127.0.0.1:$port/" || { podman logs "$name"; fail "nothing answered on the bundled site"; }
answered=$(date +%s%N)
curl -fsS "http://127.0.0.1:$port/" | cmp -s - public/index.html || fail "/ is not public/index.html"
# A figure, not a check: most of it is podman's and runc's own start.
echo "container-test: served the bundled site's / read-only, $(((answered - started) / 1000000)) ms after podman run began"
user=$(podman inspect "$name" --format '{{.Config.User}}')
[ "$user" = "65532:65532" ] || fail "runs as '$user', expected 65532:65532"
podman exec "$name" /muxserve health >/dev/null || fail "the image's HEALTHCHECK command failed"
echo "container-test: runs as $user; HEALTHCHECK (/muxserve health) passes"
podman stop -t 20 "$name" >/dev/null
stopped_cleanly "$name"

# 2. A site mounted read-only from the host, as the README shows, with a 64 MiB file that a slow
# download (16 MiB/s, ~4 s) is fetching when `podman stop` sends SIGTERM (SIGKILL after 20 s).
mkdir "$ctx/site"
cp -r public/. "$ctx/site/"
head -c $((64 * 1024 * 1024)) /dev/urandom >"$ctx/site/big.bin"
chmod a+rx "$ctx"
chmod -R a+rX "$ctx/site"
port=$((20000 + RANDOM % 20000))
run --name "$name-site" -p "127.0.0.1:$port:8080" -v "$ctx/site:/site:ro" "$image"
wait_for "http://127.0.0.1:$port/" || { podman logs "$name-site"; fail "nothing answered on the mounted site"; }
curl -sS --limit-rate 16M -o "$ctx/got.bin" "http://127.0.0.1:$port/big.bin" &
dl=$!
sleep 1
podman stop -t 20 "$name-site" >/dev/null
wait "$dl" || fail "the download failed during the stop"
cmp -s "$ctx/got.bin" "$ctx/site/big.bin" || fail "the download arrived damaged"
echo "container-test: the 64 MiB download in flight at the stop completed intact"
stopped_cleanly "$name-site"
