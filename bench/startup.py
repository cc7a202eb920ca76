#!/usr/bin/env python3
"""bench/startup.py - how long muxserve takes from exec to its first answered request: the
binary is started on 127.0.0.1 with an ephemeral port, a client tries to connect every 0.5 ms
and sends GET / as soon as it can, and the time to the first 200 is recorded. Repeated, the
median and the maximum are printed. Each server is stopped by its PID.

Usage: bench/startup.py [--runs N] [--root DIR] [BIN]   (default target/release/muxserve, public/)
"""
import argparse
import os
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
        while time.monotonic() - started < 10:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if c.recv(12).startswith(b"HTTP/1.1 200"):
                        return (time.monotonic() - started) * 1000
            except OSError:
                time.sleep(0.0005)
        raise SystemExit("startup.py: no 200 within 10 s")
    finally:
        proc.terminate()  # our child, by its PID
        proc.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--root", default=os.path.join(REPO, "public"))
    ap.add_argument("binary", nargs="?", default=os.path.join(REPO, "target/release/muxserve"))
    args = ap.parse_args()
    took = [once(args.binary, args.root) for _ in range(args.runs)]
    print(f"exec to first 200, {args.runs} runs: median {statistics.median(took):.1f} ms, "
          f"max {max(took):.1f} ms")


if __name__ == "__main__":
    main()
