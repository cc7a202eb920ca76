#!/usr/bin/env python3
"""bench/startup.py - how long muxserve takes from exec to its first answered request: the
binary is started on 127.0.0.1 with an ephemeral port, a client tries to connect every 0.5 ms
and sends GET / as soon as it can, and the time to the first 200 is recorded. Repeated, the
median and the maximum are printed. Each server is stopped by its PID.

With --image IMAGE the server is the image's, started by `podman run -d` on the host's network,
and two times are printed: from `podman run` to the first 200, and from the moment `podman run
-d` returned to the first 200. podman returns once the container's process has been started, so
the second is a lower bound of the server's own part, and the first minus the second is podman's
(and runc's) at least; the server's own part is what the first mode measures for the image's
binary, copied out with `podman create` and `podman cp`. Each container is stopped by its ID.

Usage: bench/startup.py [--runs N] [--root DIR] [BIN]   (default target/release/muxserve, public/)
       bench/startup.py [--runs N] --image IMAGE       (e.g. localhost/muxserve, built with podman)
"""
import argparse
import os
import resource
import socket
import statistics
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def once(binary, root):
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [binary, "--root", root, "--listen", f"127.0.0.1:{port}", "--access-log", "off"],
        stderr=subprocess.DEVNULL)
    try:
        return first_200(port, started)
    finally:
        proc.terminate()  # our child, by its PID
        proc.wait(timeout=10)


def first_200(port, since):
    """Milliseconds from `since` to the first 200 for GET / on 127.0.0.1:port."""
    while time.monotonic() - since < 10:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if c.recv(12).startswith(b"HTTP/1.1 200"):
                    return (time.monotonic() - since) * 1000
        except OSError:
            time.sleep(0.0005)
    raise SystemExit("startup.py: no 200 within 10 s")


def limit(which, want=4096):
    """`SOFT:HARD` for podman's --ulimit: want, or less where this host's hard limit is lower."""
    hard = resource.getrlimit(which)[1]
    n = want if hard == resource.RLIM_INFINITY else min(hard, want)
    return f"{n}:{n}"


def in_container(image):
    """(podman run began, podman run returned) to the first 200, in milliseconds."""
    port = free_port()
    # podman's default limits can exceed a host's hard limits; health checks need systemd.
    cmd = ["podman", "run", "-d", "--rm", "--runtime", "runc", "--no-healthcheck", "--read-only",
           "--network", "host",
           "--ulimit", f"nofile={limit(resource.RLIMIT_NOFILE)}",
           "--ulimit", f"nproc={limit(resource.RLIMIT_NPROC)}",
           "-e", f"MUXSERVE_LISTEN=127.0.0.1:{port}", image]
    began = time.monotonic()
    ran = subprocess.run(cmd, capture_output=True, text=True)
    if ran.returncode != 0:
        raise SystemExit(f"startup.py: {' '.join(cmd)}: {ran.stderr.strip()}")
    cid = ran.stdout.strip()
    returned = time.monotonic()
    try:
        after = first_200(port, returned)
        return after + (returned - began) * 1000, after
    finally:
        subprocess.run(["podman", "stop", "-t", "5", cid], capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--root", default=os.path.join(REPO, "public"))
    ap.add_argument("--image", help="a muxserve image to start with podman instead of BIN")
    ap.add_argument("binary", nargs="?", default=os.path.join(REPO, "target/release/muxserve"))
    args = ap.parse_args()
    if args.image:
        runs = [in_container(args.image) for _ in range(args.runs)]
        for label, took in (("podman run began", [r[0] for r in runs]),
                            ("podman run -d returned", [r[1] for r in runs])):
            print(f"{label} to first 200, {args.runs} runs: median "
                  f"{statistics.median(took):.1f} ms, max {max(took):.1f} ms")
        return
    took = [once(args.binary, args.root) for _ in range(args.runs)]
    print(f"exec to first 200, {args.runs} runs: median {statistics.median(took):.1f} ms, "
          f"max {max(took):.1f} ms")


if __name__ == "__main__":
    main()
