#!/usr/bin/python3
"""Hold N idle keep-alive connections open to an HTTP server (bench/scaling.sh).

Each connection is a plain blocking socket (a timeout, no event loop) that sends one `GET PATH`
and reads the whole response (256 connections at a time: connect and send on all, then read), so the server sees an ordinary keep-alive client that has gone quiet (the state a
browser tab leaves behind), not a half-open connection that a header timeout would close. Then
the program sleeps until SIGTERM, holding every socket.

  idle_conns.py --port P --count N --status FILE [--host 127.0.0.1] [--path /small.txt]
                [--batch 256] [--timeout 60]

Status FILE (rewritten atomically):
  after the set-up:  "ready opened=K failed=F seconds=S"
  on SIGUSR1:        "alive alive=K closed=C" - how many of the K sockets the server still holds
                     open (a non-blocking MSG_PEEK: would-block = open, EOF/reset = closed)
RLIMIT_NOFILE is raised to its hard limit. Standard library only; no select/poll.
"""
import argparse
import os
import resource
import signal
import socket
import sys
import time


def write_status(path, text):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text + "\n")
    os.replace(tmp, path)


def read_response(s):
    """Reads one response with a Content-Length body; False if the server closed or misbehaved."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            return False
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            return False
        body += chunk
    return head.startswith(b"HTTP/1.1 2")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--path", default="/small.txt")
    ap.add_argument("--status", required=True)
    ap.add_argument("--batch", type=int, default=256, help="connections set up at a time")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per socket operation")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.count + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard != resource.RLIM_INFINITY and hard < want:
            print(f"idle_conns: RLIMIT_NOFILE hard limit {hard} < {want}; some connections will fail",
                  file=sys.stderr)

    request = f"GET {a.path} HTTP/1.1\r\nHost: {a.host}:{a.port}\r\n\r\n".encode()
    socks = []
    failed = 0

    def check(_sig, _frame):
        alive = closed = 0
        for s in socks:
            try:
                data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                if data:
                    alive += 1  # the server sent something unasked; still open
                else:
                    closed += 1
            except BlockingIOError:
                alive += 1
            except OSError:
                closed += 1
        write_status(a.status, f"alive alive={alive} closed={closed}")

    signal.signal(signal.SIGUSR1, check)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    # In batches: connect and send on every socket of a batch, then read their responses. The
    # server then finds many requests per wake-up, which keeps the set-up short even for a
    # server whose cost per wake-up grows with the number of connections (poll(2)).
    t0 = time.monotonic()
    left = a.count
    while left > 0:
        batch = []
        for _ in range(min(a.batch, left)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(a.timeout)
            try:
                s.connect((a.host, a.port))
                s.sendall(request)
                batch.append(s)
            except OSError:
                failed += 1
                s.close()
        left -= min(a.batch, left)
        for s in batch:
            try:
                if not read_response(s):
                    raise OSError("bad or no response")
            except (OSError, ValueError):
                failed += 1
                s.close()
                continue
            # back to a plain blocking socket: with a timeout set, Python would wait for
            # readability before the MSG_DONTWAIT peek in check()
            s.settimeout(None)
            socks.append(s)
    write_status(a.status, f"ready opened={len(socks)} failed={failed} seconds={time.monotonic() - t0:.2f}")

    while True:
        signal.pause()


if __name__ == "__main__":
    main()
