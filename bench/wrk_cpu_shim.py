#!/usr/bin/python3
"""A stand-in for `wrk` that also measures the server's CPU time during the run.

bench/run.sh and bench/scaling.sh put a directory holding a symlink `wrk -> wrk_cpu_shim.py`
first in PATH, and REAL_WRK in the environment. The shared harness (anchor_bench.sh) then runs
this instead of wrk, unchanged. For a load run (an http:// URL among the arguments) it:

1. finds the process that listens on the URL's port (/proc/net/tcp{,6} → socket inode →
   /proc/PID/fd), and takes its session: every server is started with `setsid`, so its session
   holds exactly the server's processes (nginx master + workers, lighttpd's watcher + workers,
   one muxserve process with all its threads);
2. sums utime+stime+cutime+cstime (/proc/PID/stat, all threads of each process included) over
   every process of that session, just before it starts wrk and just after wrk exits;
3. runs the real wrk with the same arguments and the same stdout/stderr;
4. prints one line to stdout, after wrk's own output:
     SRVCPU sid=.. procs=.. pids=.. clk_tck=.. utime=.. stime=.. ticks=.. wall_us=..
            wrk_utime_us=.. wrk_stime_us=..
   (ticks = the server's CPU delta in clock ticks; wrk_* = wrk's own CPU, from wait4's rusage)
   or `SRVCPU error=...` when the server could not be found;
5. exits with wrk's exit status.

Anything else (`wrk -v`, no URL) is passed to the real wrk untouched. Standard library only.
"""
import os
import sys
import time
from urllib.parse import urlsplit

CLK_TCK = os.sysconf("SC_CLK_TCK")


def real_wrk():
    w = os.environ.get("REAL_WRK")
    if w and os.access(w, os.X_OK):
        return w
    me = os.path.realpath(sys.argv[0])
    for d in os.environ.get("PATH", "").split(os.pathsep):
        c = os.path.join(d, "wrk")
        if os.access(c, os.X_OK) and os.path.realpath(c) != me:
            return c
    sys.exit("wrk_cpu_shim: the real wrk was not found (set REAL_WRK)")


def listen_inodes(port):
    """Inodes of sockets in LISTEN state (0A) on `port`, IPv4 and IPv6."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state, inode = parts[1], parts[3], parts[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                        found.add(inode)
        except OSError:
            pass
    return found


def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (index 0 = state, field 3)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def holders(inodes):
    want = {f"socket:[{i}]" for i in inodes}
    out = set()
    for pid in pids():
        fd_dir = f"/proc/{pid}/fd"
        try:
            for fd in os.listdir(fd_dir):
                try:
                    if os.readlink(f"{fd_dir}/{fd}") in want:
                        out.add(pid)
                        break
                except OSError:
                    pass
        except OSError:
            pass
    return out


def session_of(pid):
    return int(stat_fields(pid)[3])  # field 6: session


def sample(sid):
    """(utime, stime, pids) in clock ticks, summed over every process in session `sid`.

    cutime/cstime are added so that a process of the server that exits and is reaped by
    another one during the run still counts; live children are not in them, so nothing is
    counted twice.
    """
    ut = st = 0
    members = []
    for pid in pids():
        try:
            f = stat_fields(pid)
        except (OSError, ValueError):
            continue
        if int(f[3]) != sid:
            continue
        members.append(pid)
        # fields 14..17: utime stime cutime cstime -> indexes 11..14 here
        ut += int(f[11]) + int(f[13])
        st += int(f[12]) + int(f[14])
    return ut, st, sorted(members)


def find_server(url):
    try:
        port = urlsplit(url).port or 80
    except ValueError:
        return None, "bad URL"
    inodes = listen_inodes(port)
    if not inodes:
        return None, f"no listening socket on port {port}"
    hs = holders(inodes)
    if not hs:
        return None, f"no process holds the listening socket on port {port}"
    sids = set()
    for h in hs:
        try:
            sids.add(session_of(h))
        except (OSError, ValueError):
            pass
    if len(sids) != 1:
        return None, f"listeners on port {port} are in sessions {sorted(sids)}"
    sid = sids.pop()
    if sid == os.getsid(0):
        # the server shares our session: summing it would count wrk and the harness too
        return None, "the server is not in a session of its own (start it with setsid)"
    return sid, None


def main():
    wrk = real_wrk()
    args = sys.argv[1:]
    urls = [a for a in args if a.startswith(("http://", "https://"))]
    if not urls:
        os.execv(wrk, [wrk] + args)
    sid, err = find_server(urls[-1])
    before = sample(sid) if sid else None
    t0 = time.monotonic()
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        try:
            os.execv(wrk, [wrk] + args)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(child, 0)
    wall_us = int((time.monotonic() - t0) * 1e6)
    if sid is None:
        line = f"SRVCPU error={err.replace(' ', '_')}"
    else:
        after = sample(sid)
        du, ds = after[0] - before[0], after[1] - before[1]
        line = (
            f"SRVCPU sid={sid} procs={len(after[2])} pids={','.join(map(str, after[2]))} "
            f"clk_tck={CLK_TCK} utime={du} stime={ds} ticks={du + ds} wall_us={wall_us} "
            f"wrk_utime_us={int(ru.ru_utime * 1e6)} wrk_stime_us={int(ru.ru_stime * 1e6)}"
        )
    print(line, flush=True)
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
