#!/usr/bin/env bash
# Linux is the platform muxserve supports and tests (the Docker image runs it). This step checks
# that the server also compiles for FreeBSD, which polling drives with kqueue: the code paths
# that differ there (no sendfile in rustix, no MSG_MORE, no per-thread nice value, no
# openat2/TCP_DEFER_ACCEPT/TCP_NOTSENT_LOWAT) must keep type-checking. The tests are not built for
# it: they read /proc and use prlimit, and nothing here can run a FreeBSD binary. macOS is not
# checked: zstd-sys compiles zstd's C sources for the target, which needs Apple's SDK.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-freebsd
if ! rustup target list --installed 2>/dev/null | grep -qx "$TARGET"; then
  rustup target add "$TARGET" || {
    echo "other-platforms: cannot install the $TARGET standard library (rustup target add)" >&2
    exit 1
  }
fi
# A target directory of its own: the host build's artifacts stay as they are.
CARGO_TARGET_DIR=target/other-platforms cargo check --target "$TARGET" --bins --lib
echo "other-platforms: muxserve compiles for $TARGET (cargo check; not run, not tested)"
