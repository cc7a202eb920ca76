#!/usr/bin/env bash
# The Dockerfile's build stage starts `FROM rust:<version>-bookworm`. This makes sure podman has
# that image, so the real Dockerfile builds unchanged: pulled from the registry where one is
# reachable (a user's machine), otherwise made here as a local stand-in (these CI machines reach
# only the package registries).
#
# The stand-in is what the official image is to a build stage: a minimal Debian bookworm made by
# mmdebstrap from this machine's apt sources, with gcc and libc6-dev, this machine's Rust
# toolchain on PATH and its CA bundle, so that cargo in the build reaches crates.io as it does on
# the host. The approach is the one ../shared/containers/rust-stand-in.sh describes; this copy
# lives in the project so that a clone alone can run CI.
#
# Usage (from the project's root): .ci/rust-base-image.sh; prints the tag, and on stderr where
# it came from. Needs root for apt-get and mmdebstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^ARG RUST_VERSION=\([0-9.]*\).*/\1/p' Dockerfile | head -n 1)
[ -n "$version" ] || { echo "rust-base-image: no ARG RUST_VERSION in Dockerfile" >&2; exit 2; }
tag="docker.io/library/rust:${version}-bookworm"

if podman image exists "$tag"; then
  echo "rust-base-image: $tag is already here" >&2
  echo "$tag"
  exit 0
fi
# A reachable registry answers in well under 20 s; an unreachable one here fails at once.
if timeout 120 podman pull -q "$tag" >/dev/null 2>&1; then
  echo "rust-base-image: pulled $tag" >&2
  echo "$tag"
  exit 0
fi
echo "rust-base-image: no registry reachable; making a local stand-in for $tag" >&2

if ! command -v mmdebstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq mmdebstrap >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; }
fi

host_version=$(rustc --version | awk '{print $2}')
case "$host_version" in
  "$version" | "$version".*) ;;
  *) echo "rust-base-image: the host toolchain is $host_version, standing in for $version" >&2 ;;
esac
ca=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
[ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mmdebstrap --quiet --variant=minbase --include=gcc,libc6-dev,ca-certificates bookworm "$work/rootfs.tar"
podman import "$work/rootfs.tar" localhost/muxserve-bookworm-minbase:latest >/dev/null

mkdir -p "$work/ctx"
cp -a "$(rustc --print sysroot)" "$work/ctx/rust"
rm -rf "$work/ctx/rust/share/doc"
cp "$ca" "$work/ctx/ca-certificates.crt"
cat >"$work/ctx/Containerfile" <<'EOF'
FROM localhost/muxserve-bookworm-minbase:latest
COPY rust /usr/local/rust
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/cargo/bin:/usr/local/rust/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    CARGO_HOME=/usr/local/cargo \
    RUSTUP_HOME=/usr/local/rustup
RUN cargo --version && rustc --version
EOF
podman build --runtime runc --quiet -t "$tag" "$work/ctx" >/dev/null
echo "$tag"
