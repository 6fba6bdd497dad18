//! CPU time from /proc: of the server processes (certgate's one process, nginx's master and
//! workers), of this process (the load generator) and of the whole machine, so that the
//! figures say who used the two shared cores.

/// /proc counts in USER_HZ ticks, 100 per second on every Linux architecture in use.
const TICKS_PER_SECOND: f64 = 100.0;

/// Counters at one instant, in ticks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Snapshot {
    /// user + system time of the server's processes (all their threads).
    pub(crate) server: u64,
    /// user + system time of this process: the load generator.
    pub(crate) load: u64,
    /// Busy time of all cores (everything but idle and iowait).
    pub(crate) machine: u64,
}

/// CPU seconds between two snapshots.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Used {
    pub(crate) server: f64,
    pub(crate) load: f64,
    pub(crate) machine: f64,
}

impl Used {
    pub(crate) fn between(from: &Snapshot, to: &Snapshot) -> Used {
        let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SECOND;
        Used {
            server: seconds(from.server, to.server),
            load: seconds(from.load, to.load),
            machine: seconds(from.machine, to.machine),
        }
    }

    pub(crate) fn add(&mut self, other: &Used) {
        self.server += other.server;
        self.load += other.load;
        self.machine += other.machine;
    }
}

/// A snapshot for a server made of `pids` and, for nginx, their child processes.
pub(crate) fn snapshot(pids: &[u32], with_children: bool) -> Snapshot {
    let mut server: u64 = pids.iter().filter_map(|&pid| process_ticks(pid)).sum();
    if with_children {
        server += children_of(pids)
            .into_iter()
            .filter_map(process_ticks)
            .sum::<u64>();
    }
    Snapshot {
        server,
        load: process_ticks(std::process::id()).unwrap_or(0),
        machine: machine_busy().unwrap_or(0),
    }
}

/// The fields of /proc/<pid>/stat after the command name (which is in parentheses and may
/// hold spaces): index 0 is field 3 (state), 1 is the parent's pid, 11 and 12 are utime and
/// stime.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.rsplit_once(')')?
            .1
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}

fn process_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Processes whose parent is one of `pids` (nginx's workers).
pub(crate) fn children_of(pids: &[u32]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            stat_fields(pid)
                .and_then(|fields| fields.get(1)?.parse::<u32>().ok())
                .is_some_and(|parent| pids.contains(&parent))
        })
        .collect()
}

fn machine_busy() -> Option<u64> {
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

/// The 1-minute load average, on Linux.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
