//! The machine the bench runs on: load, idle CPUs, a process's CPU time.

use std::time::{Duration, Instant};

/// The 1-minute load average: the machine is shared, so the figures say how busy it was.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Busy and total jiffies of all CPUs (`/proc/stat`).
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = cpu
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// The machine is shared (other builds): waits, up to `max`, until the CPUs were at least
/// `want` idle over half a second, so cold starts are not measured under someone's
/// compile. Returns the idle fraction seen last.
pub async fn wait_for_idle_cpu(want: f64, max: Duration) -> f64 {
    let until = Instant::now() + max;
    loop {
        let (Some(a), ()) = (
            cpu_jiffies(),
            tokio::time::sleep(Duration::from_millis(500)).await,
        ) else {
            return f64::NAN;
        };
        let Some(b) = cpu_jiffies() else {
            return f64::NAN;
        };
        let total = (b.1 - a.1).max(1) as f64;
        let idle = 1.0 - (b.0 - a.0) as f64 / total;
        if idle >= want || Instant::now() >= until {
            if idle < want {
                eprintln!(
                    "bench: CPUs only {:.0}% idle after waiting {max:?}; measuring anyway",
                    idle * 100.0
                );
            }
            return idle;
        }
    }
}

/// The kernel's clock tick (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100)
}

/// CPU time a process has used so far, all its threads: `utime + stime` of
/// `/proc/PID/stat` (clock ticks), and the sum of the live threads' `schedstat` run times
/// (nanoseconds, finer grained; threads that exited are missing from it).
pub fn process_cpu(pid: u32) -> std::io::Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) start at the last ')'.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| std::io::Error::other("unreadable /proc/PID/stat"))?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    let num = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let ticks = num(14) + num(15);
    let mut ns = 0u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))?.flatten() {
        if let Ok(s) = std::fs::read_to_string(task.path().join("schedstat")) {
            ns += s
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok((ticks, ns))
}

/// A number not handed out before in this process (names of resources created in moto).
pub fn unique() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
