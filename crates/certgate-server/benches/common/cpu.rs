//! CPU time from /proc: of the server processes (certgate's one process, nginx's master and
//! workers), of this process (the load generator, less any threads counted apart, such as the
//! front_door benchmark's upstream) and of the whole machine, so that the figures say who used
//! the shared cores.

use super::proc::{machine_busy, process_ticks, stat_fields, TICKS_PER_SECOND};

/// Whose CPU counts as the server's, and which of this process's threads are counted apart
/// from the load generator.
#[derive(Clone, Debug)]
pub(crate) struct Accounting {
    /// The server's processes.
    pub(crate) pids: Vec<u32>,
    /// Their child processes count too (nginx's workers).
    pub(crate) with_children: bool,
    /// Threads of this process whose name starts with this are counted as `apart` (the
    /// upstream's runtime in the front_door benchmark).
    pub(crate) apart_threads: Option<&'static str>,
}

/// Counters at one instant, in ticks.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Snapshot {
    /// user + system time of the server's processes (all their threads).
    pub(crate) server: u64,
    /// user + system time of this process: the load generator (and `apart`).
    pub(crate) load: u64,
    /// The threads of this process counted apart.
    pub(crate) apart: u64,
    /// Busy time of all cores (everything but idle and iowait).
    pub(crate) machine: u64,
}

/// CPU seconds between two snapshots.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Used {
    pub(crate) server: f64,
    /// This process less the threads counted apart.
    pub(crate) load: f64,
    pub(crate) apart: f64,
    pub(crate) machine: f64,
}

impl Used {
    pub(crate) fn between(from: &Snapshot, to: &Snapshot) -> Used {
        let seconds = |a: u64, b: u64| b.saturating_sub(a) as f64 / TICKS_PER_SECOND;
        let apart = seconds(from.apart, to.apart);
        Used {
            server: seconds(from.server, to.server),
            load: (seconds(from.load, to.load) - apart).max(0.0),
            apart,
            machine: seconds(from.machine, to.machine),
        }
    }

    pub(crate) fn add(&mut self, other: &Used) {
        self.server += other.server;
        self.load += other.load;
        self.apart += other.apart;
        self.machine += other.machine;
    }

    /// Busy time of the machine that is neither the server's nor this process's.
    pub(crate) fn others(&self) -> f64 {
        (self.machine - self.server - self.load - self.apart).max(0.0)
    }
}

/// A snapshot of `accounting`'s processes and threads.
pub(crate) fn snapshot(accounting: &Accounting) -> Snapshot {
    let pids = &accounting.pids;
    let mut server: u64 = pids.iter().filter_map(|&pid| process_ticks(pid)).sum();
    if accounting.with_children {
        server += children_of(pids)
            .into_iter()
            .filter_map(process_ticks)
            .sum::<u64>();
    }
    Snapshot {
        server,
        load: process_ticks(std::process::id()).unwrap_or(0),
        apart: accounting.apart_threads.map_or(0, own_threads_ticks),
        machine: machine_busy().unwrap_or(0),
    }
}

/// user + system time of this process's threads whose name starts with `prefix`.
fn own_threads_ticks(prefix: &str) -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = std::fs::read_to_string(path.join("comm")).ok()?;
            if !name.trim_end().starts_with(prefix) {
                return None;
            }
            let stat = std::fs::read_to_string(path.join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let utime: u64 = fields.get(11)?.parse().ok()?;
            let stime: u64 = fields.get(12)?.parse().ok()?;
            Some(utime + stime)
        })
        .sum()
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
