#!/usr/bin/env python3
"""bench/rollout.py - the driver of bench/rollout.sh (run that; it installs, builds and cleans up).

HAProxy in front of 3 muxserve instances on 127.0.0.1, steady load through HAProxy, and
Kubernetes-style rolling replacements of the instances (maxSurge 1, maxUnavailable 0): for each
instance, start its successor on a new ephemeral port in HAProxy's spare server slot (`set server
be/sN addr`), wait until HAProxy's health checks see it UP, mark the old slot `drain` (what
removing a pod from the endpoints does), wait a moment (the preStop sleep), SIGTERM the old
process, wait for it to exit, and put its slot in maintenance as the next spare.

Then a second run where one instance is SIGKILLed mid-load and restarted on the same port (a
container restart): what fails there despite HAProxy's retries is reported, not judged.

Every request is counted: sent, answered (by status), failed (connection error, no answer, 5xx or
another unexpected status, a small body that is short or wrong), truncated (a large download whose
length or sha256 is wrong), and the conditional revalidations (GET on one connection, then
If-None-Match on a new one, which HAProxy may send to another replica) as 304s from the same or
another replica, or 200s (the replicas' ETags disagree).

Standard library only. Exit status 1 when the graceful run lost anything, 0 otherwise.
"""

import argparse
import csv
import hashlib
import http.client
import io
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

HEALTH = "/healthz"
SHUTDOWN_TIMEOUT = 8  # muxserve's --shutdown-timeout for every instance, seconds
CLIENT_TIMEOUT = 15  # a socket operation of a client that takes longer counts as a failure

# --------------------------------------------------------------------------- processes

PIDS_FILE = None  # bench/rollout.sh reads it to kill what is left if this driver dies
PROCS = []  # every process started here, to stop by PID at exit


def note_pid(proc):
    PROCS.append(proc)
    if PIDS_FILE:
        with open(PIDS_FILE, "a") as f:
            f.write(f"{proc.pid}\n")


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            try:
                p.kill()
            except ProcessLookupError:
                pass
    for p in PROCS:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def free_port():
    """A port for HAProxy's frontend (muxserve itself binds port 0 and says which it got)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Instance:
    """One muxserve process; `name` is its X-Replica header."""

    def __init__(self, args, workdir, name, port=0):
        self.name = name
        self.log_path = os.path.join(workdir, f"muxserve-{name}.log")
        self.log = open(self.log_path, "wb")
        cmd = [
            args.bin, "--root", os.path.join(workdir, "site"),
            "--listen", f"127.0.0.1:{port}",
            "--etag", "content",
            "--health-path", HEALTH,
            "--access-log", "off",
            "--shutdown-timeout", f"{SHUTDOWN_TIMEOUT}s",
            "--header", f"X-Replica: {name}",
        ]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log)
        note_pid(self.proc)
        self.port = self._wait_listening()

    def _wait_listening(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.log_path, "rb") as f:
                m = re.search(rb"listening on http://127\.0\.0\.1:(\d+)/", f.read())
            if m:
                return int(m.group(1))
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"muxserve {self.name} did not start: {self.tail()}")

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").strip()[-500:]

    def stopped_line(self):
        """(drained, cut) from the process's last log line, or None."""
        with open(self.log_path, "rb") as f:
            m = re.search(rb"stopped: (\d+) connections drained, (\d+) cut", f.read())
        return (int(m.group(1)), int(m.group(2))) if m else None


def probe(port, timeout=5):
    """Waits until an instance's health path answers 200 directly (not through HAProxy)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", HEALTH)
            if c.getresponse().status == 200:
                c.close()
                return
            c.close()
        except (OSError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"127.0.0.1:{port}{HEALTH} did not answer 200 in {timeout} s")
        time.sleep(0.02)


# --------------------------------------------------------------------------- haproxy

HAPROXY_CFG = """\
global
    stats socket {sock} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    timeout check 1s
    # A request whose connection fails, or that gets no response at all (a reused keep-alive
    # connection the server has just closed), is retried, and each retry may go to another server.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout

frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
    balance roundrobin
    # keep-alive to the backends: idle server connections are shared between client connections
    http-reuse always
    option httpchk GET {health}
    http-check expect status 200
    default-server check inter 250ms fastinter 100ms downinter 250ms rise 2 fall 2
{servers}
"""


class HAProxy:
    def __init__(self, args, workdir, tag, ports):
        """`ports`: one per active slot s1..; one more slot, the spare, starts in maintenance."""
        self.sock = os.path.join(workdir, f"haproxy-{tag}.sock")
        self.port = free_port()
        self.slots = [f"s{i + 1}" for i in range(len(ports) + 1)]
        servers = [f"    server {s} 127.0.0.1:{p}" for s, p in zip(self.slots, ports)]
        servers.append(f"    server {self.slots[-1]} 127.0.0.1:9 disabled")
        cfg = os.path.join(workdir, f"haproxy-{tag}.cfg")
        with open(cfg, "w") as f:
            f.write(HAPROXY_CFG.format(sock=self.sock, port=self.port, health=HEALTH,
                                       servers="\n".join(servers)))
        self.log_path = os.path.join(workdir, f"haproxy-{tag}.log")
        self.log = open(self.log_path, "wb")
        subprocess.run([args.haproxy, "-c", "-q", "-f", cfg], check=True)
        self.proc = subprocess.Popen([args.haproxy, "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        note_pid(self.proc)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("haproxy did not start: " + open(self.log_path).read()[-500:])
            time.sleep(0.02)

    def api(self, command):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(command.encode() + b"\n")
            out = b""
            while True:
                b = s.recv(65536)
                if not b:
                    break
                out += b
        text = out.decode(errors="replace")
        if command.startswith("set ") and text.strip():
            # a successful `set server` answers nothing, or an informational line about the change
            if not re.match(r"IP changed|no need to change|port changed", text.strip()):
                raise RuntimeError(f"haproxy: {command!r}: {text.strip()}")
        return text

    def enable(self, slot, inst):
        """Puts `inst` in the spare `slot` and waits until HAProxy's own checks find it healthy.
        A server leaving maintenance counts as UP at once, before any check (HAProxy 2.6): mark
        it down first, so it takes `rise` good checks, as a readiness probe would."""
        probe(inst.port)
        self.api(f"set server be/{slot} addr 127.0.0.1 port {inst.port}")
        self.api(f"set server be/{slot} health down")
        self.api(f"set server be/{slot} state ready")
        self.wait_status(slot, "UP")

    def stat(self):
        """{svname: row} of `show stat` for backend be (and its BACKEND row)."""
        text = self.api("show stat").lstrip("# ")
        return {r["svname"]: r for r in csv.DictReader(io.StringIO(text)) if r["pxname"] == "be"}

    def status(self, slot):
        row = self.stat()[slot]
        # UP only on the strength of a real check (L7OK), not the optimism of leaving maintenance
        return row["status"] if row["check_status"] == "L7OK" or row["status"] != "UP" else "UP?"

    def wait_status(self, slot, want, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(slot)
            if st == want:
                return
            time.sleep(0.05)
        raise RuntimeError(f"haproxy: server {slot} is {st}, not {want}, after {timeout} s")


# --------------------------------------------------------------------------- the site

SMALL = {"/index.html": 300, "/s100.txt": 100, "/s1k.txt": 1024, "/s4k.txt": 4096,
         "/f64k.bin": 65536}
BIG = {"/big8m.bin": 8 << 20, "/big32m.bin": 32 << 20}


def make_site(root):
    os.makedirs(root)
    bodies, digests = {}, {}
    rng = random.Random(14)
    for path, size in SMALL.items():
        body = bytes(rng.getrandbits(8) for _ in range(size)) if path.endswith(".bin") else \
            (("<!doctype html><title>rollout</title>" if path.endswith(".html") else "")
             + "".join(rng.choice("abcdefghij \n") for _ in range(size)))[:size].encode()
        bodies[path] = body
        with open(root + path, "wb") as f:
            f.write(body)
    for path, size in BIG.items():
        h = hashlib.sha256()
        with open(root + path, "wb") as f:
            for _ in range(size >> 20):
                chunk = os.urandom(1 << 20)
                h.update(chunk)
                f.write(chunk)
        digests[path] = h.hexdigest()
    return bodies, digests


# --------------------------------------------------------------------------- clients

class Tally:
    """The counts of one run, shared by its client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.c = Counter()
        self.statuses = Counter()
        self.replicas = Counter()
        self.failures = []  # the first ones: (seconds since the start, client kind, phase, what)
        self.t0 = time.monotonic()
        self.phase = "warm-up"  # what the rollout is doing, for the failure list

    def add(self, **kv):
        with self.lock:
            self.c.update(kv)

    def answered(self, kind, status, replica):
        with self.lock:
            self.statuses[(kind, status)] += 1
            self.replicas[replica or "?"] += 1

    def fail(self, kind, what, counter="failed"):
        with self.lock:
            self.c[f"{kind}.{counter}"] += 1
            if len(self.failures) < 40:
                self.failures.append((time.monotonic() - self.t0, kind, self.phase, what))


def describe(e):
    return f"{type(e).__name__}: {e}"[:160]


class SmallWindowConnection(http.client.HTTPConnection):
    """A connection with a fixed 128 KiB receive buffer, set before connecting (so also the window
    it advertises), as a slow client's would be: without it Linux grows the buffer up to
    tcp_rmem's maximum (32 MiB here), the kernel takes a whole large body off HAProxy's and
    muxserve's hands at once, and a slow reader never holds a response open on the server."""

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 128 << 10)
        s.settimeout(self.timeout)
        try:
            s.connect((self.host, self.port))
        except OSError:
            s.close()
            raise
        self.sock = s


class Client(threading.Thread):
    def __init__(self, kind, port, tally, stop, bodies, digests, seed):
        super().__init__(daemon=True)
        self.kind, self.port, self.t, self.stop = kind, port, tally, stop
        self.bodies, self.digests = bodies, digests
        self.rng = random.Random(seed)
        self.conn = None
        self.reused = False
        self.progress = None  # (replica, path, bytes so far) of the download under way

    def connection(self, keep):
        if keep and self.conn is not None:
            self.reused = True
            return self.conn
        self.close()
        cls = SmallWindowConnection if self.kind == "slow" else http.client.HTTPConnection
        self.conn = cls("127.0.0.1", self.port, timeout=CLIENT_TIMEOUT)
        self.reused = False
        return self.conn

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self):
        step = {"ka": self.small, "close": self.small, "big": self.big, "slow": self.big,
                "reval": self.reval}[self.kind]
        while not self.stop.is_set():
            step()
        self.close()

    def request(self, path, keep, headers=None):
        """(response, body or None for a streamed one): raises on a connection problem."""
        conn = self.connection(keep)
        h = dict(headers or {})
        if not keep:
            h["Connection"] = "close"
        conn.request("GET", path, headers=h)
        return conn.getresponse()

    def small(self):
        keep = self.kind == "ka"
        path = self.rng.choice(list(SMALL))
        self.t.add(**{f"{self.kind}.sent": 1})
        try:
            resp = self.request(path, keep)
            self.t.answered(self.kind, resp.status, resp.getheader("X-Replica"))
            self.t.add(**{f"{self.kind}.answered": 1})
            body = resp.read()
            if resp.status != 200:
                self.t.fail(self.kind, f"{path}: status {resp.status}")
            elif body != self.bodies[path]:
                self.t.fail(self.kind, f"{path}: body of {len(body)} bytes differs")
            else:
                self.t.add(**{f"{self.kind}.ok": 1})
            if not keep or resp.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as e:
            self.t.fail(self.kind, f"{path}: {describe(e)}{' (reused connection)' if self.reused else ''}")
            self.close()

    def big(self):
        """A large download, its sha256 checked; a `slow` client reads at --slow-rate, so that a
        SIGTERM or SIGKILL finds its download under way."""
        path = self.rng.choice(list(BIG))
        slow = self.kind == "slow"
        self.t.add(**{"big.sent": 1})
        try:
            resp = self.request(path, True)
        except (OSError, http.client.HTTPException) as e:
            self.t.fail("big", f"{path}: {describe(e)}{' (reused connection)' if self.reused else ''}")
            self.close()
            return
        self.t.answered("big", resp.status, resp.getheader("X-Replica"))
        self.t.add(**{"big.answered": 1})
        if resp.status != 200:
            self.t.fail("big", f"{path}: status {resp.status}")
            self.close()
            return
        h, got = hashlib.sha256(), 0
        replica = resp.getheader("X-Replica")
        t_begin = time.monotonic()
        try:
            while True:
                self.progress = (replica, path, got)
                if slow:
                    ahead = got / self.slow_rate - (time.monotonic() - t_begin)
                    if ahead > 0:
                        time.sleep(ahead)
                chunk = resp.read(1 << 18 if slow else 1 << 20)
                if not chunk:
                    break
                h.update(chunk)
                got += len(chunk)
            self.progress = None
        except (OSError, http.client.HTTPException) as e:
            self.progress = None
            if isinstance(e, http.client.IncompleteRead):
                got += len(e.partial)
            self.t.fail("big", f"{path}: {got} of {BIG[path]} bytes from "
                        f"{resp.getheader('X-Replica')}: {describe(e)}", counter="truncated")
            self.close()
            return
        if got != BIG[path] or h.hexdigest() != self.digests[path]:
            self.t.fail("big", f"{path}: {got} of {BIG[path]} bytes from {replica}, sha256 "
                        f"{h.hexdigest()[:12]}", counter="truncated")
            self.close()  # the connection the short body came on is gone
            return
        self.t.add(**{"big.ok": 1})
        if resp.will_close:
            self.close()

    def reval(self):
        path = self.rng.choice(list(SMALL))
        self.t.add(**{"reval.sent": 1})
        try:
            resp = self.request(path, False)
            body = resp.read()
            self.t.answered("reval", resp.status, resp.getheader("X-Replica"))
            self.t.add(**{"reval.answered": 1})
            self.close()
            if resp.status != 200 or body != self.bodies[path]:
                self.t.fail("reval", f"{path}: first GET: status {resp.status}, {len(body)} bytes")
                return
            self.t.add(**{"reval.ok": 1})
            etag, first = resp.getheader("ETag"), resp.getheader("X-Replica")
        except (OSError, http.client.HTTPException) as e:
            self.t.fail("reval", f"{path}: first GET: {describe(e)}")
            self.close()
            return
        self.t.add(**{"reval.sent": 1, "reval.conditional": 1})
        try:
            resp = self.request(path, False, {"If-None-Match": etag})
            body = resp.read()
            second = resp.getheader("X-Replica")
            self.t.answered("reval", resp.status, second)
            self.t.add(**{"reval.answered": 1})
            self.close()
        except (OSError, http.client.HTTPException) as e:
            self.t.fail("reval", f"{path}: If-None-Match: {describe(e)}")
            self.close()
            return
        if resp.status == 304 and not body:
            self.t.add(**{"reval.ok": 1, "reval.304": 1,
                          ("reval.304_cross" if first != second else "reval.304_same"): 1})
        elif resp.status == 200 and body == self.bodies[path]:
            # a right answer but a wasted body: the replicas' tags differ
            self.t.add(**{"reval.ok": 1, "reval.200": 1})
            self.t.fail("reval", f"{path}: 200 to If-None-Match {etag} from {first} at {second} "
                        f"(its ETag {resp.getheader('ETag')})", counter="etag_mismatch")
        else:
            self.t.fail("reval", f"{path}: If-None-Match: status {resp.status}, {len(body)} bytes")


def wait_for_download(clients, replicas, left, timeout):
    """The replica (one of `replicas`) from which a client is downloading a large file with at
    least `left` bytes still to come, waiting up to `timeout` seconds; None if there was none."""
    replicas = {replicas} if isinstance(replicas, str) else replicas
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in clients:
            p = c.progress
            if p and p[0] in replicas and BIG[p[1]] - p[2] >= left:
                return p[0]
        time.sleep(0.002)
    return None


class Wrk:
    """wrk's keep-alive load of /s1k.txt through HAProxy beside the Python clients, for a higher
    request rate than they reach; it counts socket errors and non-2xx/3xx answers itself."""

    def __init__(self, args, port, workdir, tag):
        self.proc = None
        if not args.wrk or not args.wrk_connections:
            return
        self.out = open(os.path.join(workdir, f"wrk-{tag}.txt"), "w+")
        self.proc = subprocess.Popen(
            [args.wrk, "-t1", f"-c{args.wrk_connections}", "-d3600s", "--timeout", "10s",
             f"http://127.0.0.1:{port}/s1k.txt"],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT)
        note_pid(self.proc)

    def stop(self, tally):
        """SIGINT makes wrk stop and print its summary; its counts go into `tally`."""
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=10)
        self.out.seek(0)
        text = self.out.read()
        m = re.search(r"(\d+) requests in", text)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        n_err = sum(map(int, errors.groups())) if errors else 0
        n_bad = int(non2xx.group(1)) if non2xx else 0
        tally.add(**{"wrk.answered": int(m.group(1)) if m else 0, "wrk.failed": n_err + n_bad})
        if not m:
            tally.fail("wrk", f"no summary from wrk: {text[-300:]!r}")


def start_clients(args, port, tally, stop, bodies, digests):
    mix = [("ka", args.ka), ("close", args.close), ("big", args.big), ("slow", args.slow),
           ("reval", args.reval)]
    clients = []
    for kind, n in mix:
        for _ in range(n):
            clients.append(Client(kind, port, tally, stop, bodies, digests, len(clients)))
            clients[-1].slow_rate = args.slow_rate * (1 << 20)
    for c in clients:
        c.start()
    return clients


def stop_clients(clients, stop):
    stop.set()
    for c in clients:
        c.join(timeout=CLIENT_TIMEOUT + 5)
    return sum(c.is_alive() for c in clients)


# --------------------------------------------------------------------------- the runs

def rollout_run(args, workdir, bodies, digests, log, drain=True):
    """Rollouts; with `drain` False the old instance gets SIGTERM without being drained in HAProxy
    first, which then learns it is going from failed checks and connections (and retries)."""
    gen = 0

    def new_instance(slot):
        nonlocal gen
        gen += 1
        return Instance(args, workdir, f"{slot}-{'g' if drain else 'n'}{gen}")

    insts = {}
    for s in ("s1", "s2", "s3"):
        insts[s] = new_instance(s)
    ha = HAProxy(args, workdir, "drain" if drain else "nodrain", [insts[s].port for s in ("s1", "s2", "s3")])
    for s in ("s1", "s2", "s3"):
        ha.wait_status(s, "UP")
    spare = ha.slots[-1]

    tally, stop = Tally(), threading.Event()
    clients = start_clients(args, ha.port, tally, stop, bodies, digests)
    wrk = Wrk(args, ha.port, workdir, "drain" if drain else "nodrain")
    replacements = 3 * args.rollouts
    interval = args.duration / (replacements + 1)
    stops = []  # one per old instance: (name, exit code, seconds from SIGTERM to exit, drained/cut)
    ready_times = []
    t0 = time.monotonic()
    how = "drain, then SIGTERM" if drain else "SIGTERM without drain"
    log(f"rollout run ({how}): HAProxy on 127.0.0.1:{ha.port}, {len(clients)} clients, "
        f"{args.rollouts} rollouts of 3 instances, one replacement every {interval:.1f} s")
    for i in range(replacements):
        time.sleep(max(0.0, t0 + interval * (i + 1) - time.monotonic()))
        # replace the instances in the order they were started: the oldest live one
        old_slot = min((s for s in insts if s != spare), key=lambda s: int(insts[s].name[4:]))
        rollout = i // 3 + 1
        tally.phase = f"rollout {rollout}: starting the successor of {insts[old_slot].name}"
        t_start = time.monotonic()
        new = new_instance(spare)
        ha.enable(spare, new)
        ready_times.append(time.monotonic() - t_start)
        insts[spare] = new
        old = insts.pop(old_slot)
        # Like the SIGKILL run, wait (a little) until a slow client is downloading from the old
        # instance with more left than the drain delay lets it read: the SIGTERM then finds that
        # response under way, and the drain must finish it.
        # (Plus what the socket buffers between muxserve and HAProxy hold, some 12 MiB here.)
        wait_for_download(clients, old.name,
                          args.slow_rate * (1 << 20) * (args.drain_delay + 0.3) + (12 << 20), 2.0)
        if drain:
            tally.phase = f"rollout {rollout}: draining {old.name}"
            ha.api(f"set server be/{old_slot} state drain")
            time.sleep(args.drain_delay)
        tally.phase = f"rollout {rollout}: SIGTERM to {old.name}"
        t_term = time.monotonic()
        under_way = sum(1 for c in clients if c.progress and c.progress[0] == old.name)
        tally.add(**{"big.hit": under_way})
        old.proc.send_signal(signal.SIGTERM)
        try:
            rc = old.proc.wait(timeout=SHUTDOWN_TIMEOUT + 5)
        except subprocess.TimeoutExpired:
            rc = "hung"
            old.proc.kill()
            old.proc.wait()
        took = time.monotonic() - t_term
        ha.api(f"set server be/{old_slot} state maint")
        stops.append((old.name, rc, took, old.stopped_line(), under_way))
        log(f"  rollout {rollout}: {old.name} -> {new.name} on port {new.port}: successor UP after "
            f"{ready_times[-1]:.2f} s; {under_way} large downloads under way from the old one at "
            f"SIGTERM; it exited {rc} {took:.2f} s later, drained/cut {old.stopped_line()}")
        tally.phase = f"rollout {rollout}: after replacing {old.name}"
        spare = old_slot
    time.sleep(max(0.0, t0 + interval * (replacements + 1) - time.monotonic()))
    elapsed, stat, hung = finish_run(tally, clients, stop, wrk, ha, insts, t0)
    return {"tally": tally, "elapsed": elapsed, "stops": stops, "ready": ready_times,
            "haproxy": stat, "hung": hung, "clients": len(clients)}


def finish_run(tally, clients, stop, wrk, ha, insts, t0):
    """Stops the clients and wrk, reads HAProxy's counters, stops the instances and HAProxy;
    returns (seconds since t0 when the load stopped, HAProxy's stats, the clients that hung)."""
    tally.phase = "stopping the clients"
    hung = stop_clients(clients, stop)
    wrk.stop(tally)
    elapsed = time.monotonic() - t0
    stat = ha.stat()
    for inst in insts.values():
        inst.proc.send_signal(signal.SIGTERM)
    ha.proc.terminate()
    for inst in insts.values():
        inst.proc.wait(timeout=SHUTDOWN_TIMEOUT + 5)
    ha.proc.wait(timeout=5)
    return elapsed, stat, hung


def kill_run(args, workdir, bodies, digests, log):
    insts = {s: Instance(args, workdir, f"{s}-k1") for s in ("s1", "s2", "s3")}
    ha = HAProxy(args, workdir, "kill", [insts[s].port for s in ("s1", "s2", "s3")])
    for s in ("s1", "s2", "s3"):
        ha.wait_status(s, "UP")
    tally, stop = Tally(), threading.Event()
    clients = start_clients(args, ha.port, tally, stop, bodies, digests)
    wrk = Wrk(args, ha.port, workdir, "kill")
    t0 = time.monotonic()
    log(f"SIGKILL run: HAProxy on 127.0.0.1:{ha.port}, {len(clients)} clients, "
        f"{args.kill_duration:.0f} s")
    time.sleep(args.kill_duration / 3)
    # Kill an instance that is sending a large body with most of it still to come, so that the
    # run shows what a crash does to a download in flight; s2 if none is found within 3 s.
    by_name = {i.name: s for s, i in insts.items()}
    found = wait_for_download(clients, set(by_name), 4 << 20, 3.0)
    victim_slot = by_name[found] if found else "s2"
    victim = insts[victim_slot]
    tally.add(**{"big.hit": sum(1 for c in clients if c.progress and c.progress[0] == victim.name)})
    tally.phase = f"after SIGKILL of {victim.name}"
    t_kill = time.monotonic()
    victim.proc.kill()
    victim.proc.wait()
    time.sleep(args.restart_delay)  # the kubelet's restart delay, shortened
    tally.phase = f"{victim.name} restarting"
    back = Instance(args, workdir, f"{victim_slot}-k2", port=victim.port)
    insts[victim_slot] = back
    probe(back.port)
    ha.wait_status(victim_slot, "UP")
    back_after = time.monotonic() - t_kill
    tally.phase = f"after {back.name} came back"
    log(f"  SIGKILL {victim.name} at {t_kill - t0:.1f} s; {back.name} on the same port {back.port} "
        f"UP in HAProxy {back_after:.2f} s after the kill")
    time.sleep(max(0.0, t0 + args.kill_duration - time.monotonic()))
    elapsed, stat, hung = finish_run(tally, clients, stop, wrk, ha, insts, t0)
    return {"tally": tally, "elapsed": elapsed, "haproxy": stat, "hung": hung,
            "clients": len(clients), "back_after": back_after}


# --------------------------------------------------------------------------- report

def totals(tally):
    c = tally.c
    kinds = ("ka", "close", "big", "reval")
    sent = sum(c[f"{k}.sent"] for k in kinds)
    answered = sum(c[f"{k}.answered"] for k in kinds)
    failed = sum(c[f"{k}.failed"] for k in kinds + ("wrk",))
    return sent, answered, failed, c["big.truncated"], c["reval.etag_mismatch"]


def table(runs):
    rows = [
        ("requests sent by the Python clients", lambda t: f"{totals(t)[0]:,}"),
        ("  answered", lambda t: f"{totals(t)[1]:,}"),
        ("  by status", lambda t: ", ".join(f"{s}: {n:,}" for s, n in sorted(
            sum((Counter({s: n}) for (_, s), n in t.statuses.items()), Counter()).items()))),
        ("failed (conn error, 5xx, short/wrong small body; wrk's errors)", lambda t: f"{totals(t)[2]:,}"),
        ("truncated (large download short or sha256 wrong)", lambda t: f"{totals(t)[3]:,}"),
        ("wrk, keep-alive /s1k.txt: answered / failed", lambda t: f"{t.c['wrk.answered']:,} / {t.c['wrk.failed']:,}"),
        ("keep-alive small: sent / ok", lambda t: f"{t.c['ka.sent']:,} / {t.c['ka.ok']:,}"),
        ("new connection small: sent / ok", lambda t: f"{t.c['close.sent']:,} / {t.c['close.ok']:,}"),
        ("large downloads (8, 32 MiB): sent / sha256 ok", lambda t: f"{t.c['big.sent']:,} / {t.c['big.ok']:,}"),
        ("  under way at a SIGTERM or SIGKILL", lambda t: f"{t.c['big.hit']:,}"),
        ("revalidations: If-None-Match sent", lambda t: f"{t.c['reval.conditional']:,}"),
        ("  304 from another replica", lambda t: f"{t.c['reval.304_cross']:,}"),
        ("  304 from the same replica", lambda t: f"{t.c['reval.304_same']:,}"),
        ("  200 (ETags differ between replicas)", lambda t: f"{t.c['reval.200']:,}"),
        ("replicas that answered", lambda t: f"{len([r for r in t.replicas if r != '?'])}"),
    ]
    names = [n for n, _ in runs]
    out = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(runs)]
    for label, f in rows:
        out.append(f"| {label} | " + " | ".join(f(r["tally"]) for _, r in runs) + " |")
    extra = [
        ("load seconds", lambda r: f"{r['elapsed']:.1f}"),
        ("HAProxy retries / redispatches", lambda r: f"{r['haproxy']['BACKEND']['wretr']} / {r['haproxy']['BACKEND']['wredis']}"),
        ("HAProxy backend conn errors / resp errors", lambda r: f"{r['haproxy']['BACKEND']['econ']} / {r['haproxy']['BACKEND']['eresp']}"),
        ("HAProxy 5xx to clients", lambda r: r['haproxy']['BACKEND']['hrsp_5xx']),
    ]
    for label, f in extra:
        out.append(f"| {label} | " + " | ".join(f(r) for _, r in runs) + " |")
    return "\n".join(out)


def main():
    global PIDS_FILE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--haproxy", default="haproxy")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--rollouts", type=int, default=3)
    ap.add_argument("--duration", type=float, default=60, help="seconds of load of the graceful run")
    ap.add_argument("--kill-duration", type=float, default=20, help="seconds of load of the SIGKILL run")
    ap.add_argument("--drain-delay", type=float, default=1.0,
                    help="seconds between `state drain` and SIGTERM (the preStop sleep)")
    ap.add_argument("--restart-delay", type=float, default=1.0)
    ap.add_argument("--ka", type=int, default=4, help="keep-alive small-file clients")
    ap.add_argument("--close", type=int, default=2, help="new-connection-per-request clients")
    ap.add_argument("--big", type=int, default=2, help="large-download clients")
    ap.add_argument("--slow", type=int, default=3, help="large-download clients reading slowly")
    ap.add_argument("--slow-rate", type=float, default=8, help="MiB/s of a slow client")
    ap.add_argument("--reval", type=int, default=2, help="revalidating clients")
    ap.add_argument("--wrk", default="", help="wrk's path; none: no wrk load")
    ap.add_argument("--wrk-connections", type=int, default=8, help="wrk's keep-alive connections")
    ap.add_argument("--runs", default="drain,nodrain,kill",
                    help="which runs, in order: drain (judged), nodrain, kill")
    ap.add_argument("--report", help="also write the report (markdown) here")
    args = ap.parse_args()
    PIDS_FILE = os.path.join(args.workdir, "pids")

    def on_signal(signum, _frame):
        cleanup()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    out = []

    def log(line):
        print(line, flush=True)
        out.append(line)

    try:
        t_all = time.monotonic()
        bodies, digests = make_site(os.path.join(args.workdir, "site"))
        log(f"site: {len(SMALL)} small files, " + ", ".join(
            f"{p} ({BIG[p] >> 20} MiB, sha256 {d[:12]}…)" for p, d in digests.items()))
        log(f"clients: {args.ka} keep-alive, {args.close} new-connection, {args.big} large-download, "
            f"{args.slow} slow large-download ({args.slow_rate:g} MiB/s), {args.reval} revalidating; muxserve --shutdown-timeout {SHUTDOWN_TIMEOUT}s")
        runs = []
        for which in args.runs.split(","):
            if which == "drain":
                runs.append((f"drain + SIGTERM, {args.rollouts} rollouts × 3",
                             rollout_run(args, args.workdir, bodies, digests, log)))
            elif which == "nodrain":
                runs.append((f"SIGTERM only, {args.rollouts} rollouts × 3",
                             rollout_run(args, args.workdir, bodies, digests, log, drain=False)))
            elif which == "kill":
                runs.append(("one SIGKILL, restarted", kill_run(args, args.workdir, bodies, digests, log)))
            else:
                raise SystemExit(f"rollout.py: unknown run {which!r}")
    finally:
        cleanup()

    report = ["", table(runs), ""]
    for name, r in runs:
        if "stops" in r:
            report.append(f"{name}: the replaced instances (exit status, seconds from SIGTERM to exit, "
                          "connections drained/cut, large downloads under way at SIGTERM): " + ", ".join(
                              f"{n} {rc} {took:.2f} s {dc[0] if dc else '?'}/{dc[1] if dc else '?'} {uw}"
                              for n, rc, took, dc, uw in r["stops"]))
            report.append(f"{name}: successor UP in HAProxy {min(r['ready']):.2f}–{max(r['ready']):.2f} s "
                          f"after its start" + (f"; drain delay {args.drain_delay} s" if "drain +" in name else ""))
        if "back_after" in r:
            report.append(f"{name}: UP again in HAProxy {r['back_after']:.2f} s after the kill "
                          f"(restart delay {args.restart_delay} s)")
    for name, r in runs:
        if r["tally"].failures:
            report.append(f"\n{name}: the first failures (s since load start, client, [phase], what):")
            report.extend(f"- {t:6.2f} s {kind:5} [{phase}] {what}" for t, kind, phase, what in r["tally"].failures)
        if r["hung"]:
            report.append(f"{name}: {r['hung']} clients did not stop")
    report.append(f"\ntotal wall time {time.monotonic() - t_all:.1f} s")
    for line in report:
        log(line)

    status = 0
    judged = [r for name, r in runs if name.startswith("drain")]
    for r in judged:
        _, _, failed, truncated, mismatch = totals(r["tally"])
        bad_stops = [st for st in r["stops"] if st[1] != 0 or not st[3] or st[3][1] != 0]
        lost = failed + truncated + mismatch + len(bad_stops) + r["hung"]
        if lost:
            log(f"\nFAIL: the drained rollouts lost {failed} requests, truncated {truncated} downloads, "
                f"had {mismatch} ETag mismatches, {len(bad_stops)} bad exits, {r['hung']} hung clients")
            status = 1
    if judged and not status:
        log("\nOK: the drained rollouts lost nothing")
    if args.report:
        with open(args.report, "w") as f:
            f.write("\n".join(out) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
