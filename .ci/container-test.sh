#!/usr/bin/env bash
# Container check: the Dockerfile's final stage, run the way users run it (read-only, as its
# non-root USER, PID 1), stopped with `podman stop` while a download is in flight.
#
# No registry is reachable here, so the `rust:` build stage cannot run. Instead the static binary is
# built on the host with the same flags, and the test Containerfile is the Dockerfile's final stage
# with `COPY --from=build` replaced by a copy from the build context: the two cannot drift apart.
# Where podman cannot run, this says so and exits 0; it never skips silently.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "container-test: SKIPPED: $*"; exit 0; }

if ! command -v podman >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null) \
    || skip "podman could not be installed"
fi
command -v podman >/dev/null 2>&1 || skip "podman is not installed"
command -v curl >/dev/null 2>&1 || skip "curl is not installed"

target="$(uname -m)-unknown-linux-gnu"
echo "== container-test: static binary for $target"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$target" --quiet
ctx=$(mktemp -d)
name="muxserve-ci-$$"
image="localhost/muxserve-ci:$$"
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT

cp "target/$target/release/muxserve" "$ctx/muxserve"
cp -r public "$ctx/public"
# A 64 MiB file the stop must not cut short; it lives only in the test image.
head -c $((64 * 1024 * 1024)) /dev/urandom > "$ctx/public/big.bin"
awk '/^FROM scratch/{final=1} final' Dockerfile \
  | sed 's#^COPY --from=build /muxserve /muxserve#COPY muxserve /muxserve#' > "$ctx/Containerfile"
grep -q '^COPY muxserve /muxserve' "$ctx/Containerfile" || { echo "container-test: Dockerfile's final stage changed shape"; exit 1; }

echo "== container-test: podman build"
podman build -q --format docker -t "$image" -f "$ctx/Containerfile" "$ctx" >/dev/null || skip "podman build failed here (see above)"
# What the shipped image holds: the binary and the default site (the test image adds big.bin).
shipped=$(( $(stat -c %s "$ctx/muxserve") + $(du -sb --exclude=big.bin "$ctx/public" | cut -f1) ))
echo "container-test: binary $(stat -c %s "$ctx/muxserve") bytes; binary and site $shipped bytes"

# podman's defaults ask for limits above this host's hard limits; ask for less (at most 16384/4096).
cap() { local hard=$1 want=$2; if [ "$hard" = unlimited ] || [ "$hard" -gt "$want" ]; then echo "$want"; else echo "$hard"; fi; }
hard_nofile=$(cap "$(ulimit -Hn)" 16384); hard_nproc=$(cap "$(ulimit -Hu)" 4096)
port=$((20000 + RANDOM % 20000))
hc=$(podman image inspect "$image" --format '{{.Config.Healthcheck.Test}}')
[ "$hc" = "[CMD /muxserve health]" ] || { echo "container-test: image HEALTHCHECK is '$hc'"; exit 1; }
# Podman runs health checks through systemd timers, absent here: the same command is run below
# with `podman exec` instead.
started=$(date +%s%N)
if ! podman run -d --no-healthcheck --runtime runc --ulimit "nofile=$hard_nofile:$hard_nofile" --ulimit "nproc=$hard_nproc:$hard_nproc" \
     --read-only --name "$name" -p "127.0.0.1:$port:8080" "$image" >/dev/null; then
  skip "podman run is not possible on this machine"
fi

for _ in $(seq 1 1000); do
  curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break
  sleep 0.01
done
answered=$(date +%s%N)
curl -fsS "http://127.0.0.1:$port/" | grep -q "muxserve" || { podman logs "$name"; echo "container-test: no page served"; exit 1; }
# A figure, not a check: most of it is podman's and runc's own start.
echo "container-test: served / from the read-only container, $(( (answered - started) / 1000000 )) ms after podman run began"

user=$(podman inspect "$name" --format '{{.Config.User}}')
[ "$user" = "65532:65532" ] || { echo "container-test: runs as '$user', expected 65532:65532"; exit 1; }
podman exec "$name" /muxserve health >/dev/null || { echo "container-test: in-container health check failed"; exit 1; }

# A slow download (16 MiB/s, ~4 s) in flight, then `podman stop` (SIGTERM, SIGKILL after 20 s).
curl -sS --limit-rate 16M -o "$ctx/got.bin" "http://127.0.0.1:$port/big.bin" &
dl=$!
sleep 1
podman stop -t 20 "$name" >/dev/null
wait "$dl" || { echo "container-test: the download failed during the stop"; exit 1; }
cmp -s "$ctx/got.bin" "$ctx/public/big.bin" || { echo "container-test: the download arrived damaged"; exit 1; }
echo "container-test: the 64 MiB download in flight completed intact"

code=$(podman inspect "$name" --format '{{.State.ExitCode}}')
logs=$(podman logs "$name" 2>&1)
echo "$logs" | grep -q "shutdown signal" || { echo "$logs"; echo "container-test: no shutdown line in the logs"; exit 1; }
echo "$logs" | grep -q "stopped: .* drained, 0 cut" || { echo "$logs"; echo "container-test: connections were cut"; exit 1; }
[ "$code" = 0 ] || { echo "$logs"; echo "container-test: exit code $code"; exit 1; }
echo "container-test: exit code 0; logs:"
echo "$logs" | grep -v '"GET ' | sed 's/^/  /'
