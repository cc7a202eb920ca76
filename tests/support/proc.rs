//! Processes and their limits: signals by PID, RLIMIT_NOFILE for the test
//! and for a child, and /proc accounting (descriptors, RSS, CPU time).

use std::fs;
use std::io;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

pub fn send_signal(pid: i32, sig: i32) {
    assert!(pid > 0, "refusing to signal pid {pid}");
    // SAFETY: kill(2) with a specific positive pid of a child we spawned.
    let rc = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(rc, 0, "kill({pid}, {sig}) failed");
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft
/// limit.
pub fn raise_fd_limit() -> libc::rlim_t {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a valid struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
        }
    }
    rl.rlim_cur
}

/// Makes the child start with RLIMIT_NOFILE soft = hard = `n` (set in the
/// child between fork and exec). Both are set because muxserve raises its
/// soft limit to the hard limit at startup.
pub fn limit_nofile(cmd: &mut Command, n: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit, which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            let rl = libc::rlimit {
                rlim_cur: n as libc::rlim_t,
                rlim_max: n as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Number of open descriptors of process `pid` (entries of /proc/PID/fd).
pub fn proc_fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
        .count()
}

/// Resident set size of process `pid` in KiB (VmRSS of /proc/PID/status).
pub fn proc_rss_kib(pid: i32) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// CPU time (user + system, all threads) used so far by process `pid`, in
/// seconds: fields 14 and 15 of /proc/PID/stat over sysconf(_SC_CLK_TCK).
pub fn proc_cpu_seconds(pid: i32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/stat: {e}"));
    // The command name (field 2) may hold spaces: count fields after its ')'.
    let after = &stat[stat.rfind(')').expect("comm in /proc/PID/stat") + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields[11].parse().expect("utime");
    let stime: u64 = fields[12].parse().expect("stime");
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(ticks > 0, "sysconf(_SC_CLK_TCK) = {ticks}");
    (utime + stime) as f64 / ticks as f64
}

/// Polls (every 20 ms, up to `limit`) until process `pid` has at most
/// `target` open descriptors; Ok(time it took) or Err(last count seen).
pub fn wait_fd_count_at_most(pid: i32, target: usize, limit: Duration) -> Result<Duration, usize> {
    let start = Instant::now();
    loop {
        let n = proc_fd_count(pid);
        if n <= target {
            return Ok(start.elapsed());
        }
        if start.elapsed() >= limit {
            return Err(n);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Sets the soft RLIMIT_NOFILE of the running process `pid` to `soft` (prlimit(2)), keeping
/// its hard limit, as if the process had started with less; returns the soft limit it had.
/// Lowering and raising up to the hard limit need no privilege.
pub fn set_soft_nofile_of(pid: i32, soft: libc::rlim_t) -> libc::rlim_t {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: prlimit on a pid, reading its limits into a valid struct.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
    assert_eq!(rc, 0, "prlimit({pid}): {}", io::Error::last_os_error());
    let new = libc::rlimit {
        rlim_cur: soft,
        rlim_max: old.rlim_max,
    };
    // SAFETY: prlimit on a pid with a valid new limit and no old-limit pointer.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
    assert_eq!(
        rc,
        0,
        "prlimit({pid}, NOFILE, {soft}): {}",
        io::Error::last_os_error()
    );
    old.rlim_cur
}

/// The descriptor number process `pid`'s next open would get: the lowest one it has not open.
pub fn lowest_free_fd(pid: i32) -> u64 {
    let open: std::collections::BTreeSet<u64> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|n| !open.contains(n)).unwrap_or(0)
}

/// The bytes the kernel holds unacknowledged or unsent (`tx_queue` in /proc/net/tcp and tcp6)
/// for each established socket whose local port is `port`: on loopback, the server's side of
/// every connection to it.
pub fn send_queues_of_port(port: u16) -> Vec<u64> {
    let mut queues = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(queues_field)) =
                (fields.get(1), fields.get(3), fields.get(4))
            else {
                continue;
            };
            let local_port = local
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            // 01: ESTABLISHED.
            if local_port == Some(port) && *state == "01" {
                let tx = queues_field.split(':').next().unwrap_or("0");
                queues.push(u64::from_str_radix(tx, 16).unwrap_or(0));
            }
        }
    }
    queues
}
