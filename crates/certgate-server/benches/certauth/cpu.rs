//! CPU time from /proc: of the server processes (certgate's one process, nginx's master and
//! workers), of this process (the load generator) and of the whole machine, so that the
//! figures say who used the two shared cores.

use crate::common::proc::{machine_busy, process_ticks, stat_fields, TICKS_PER_SECOND};

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
