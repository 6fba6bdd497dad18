//! Readings from /proc (Linux): CPU time of processes and of the whole machine, and the load
//! average. Each is `None` where /proc does not answer.

/// /proc counts in USER_HZ ticks, 100 per second on every Linux architecture in use.
pub(crate) const TICKS_PER_SECOND: f64 = 100.0;

/// The fields of /proc/<pid>/stat after the command name (which is in parentheses and may
/// hold spaces): index 0 is field 3 (state), 1 is the parent's pid, 11 and 12 are utime and
/// stime.
pub(crate) fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

/// user + system time of process `pid` (all its threads), in ticks.
pub(crate) fn process_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Busy time of all cores, in ticks.
pub(crate) fn machine_busy() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal: everything but idle and iowait.
    Some(
        [0, 1, 2, 5, 6, 7]
            .iter()
            .filter_map(|&i| fields.get(i))
            .sum(),
    )
}

/// The 1-minute load average.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
