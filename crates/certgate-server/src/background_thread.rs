//! CPU-heavy background work (parsing and indexing a CRL of up to 150 MB, about 1.4 s of CPU)
//! on a thread of its own at a lower scheduling priority, so that sign-ins arriving meanwhile
//! get the cores first. On a machine with two cores, a parse at the sign-ins' priority made
//! handshakes wait their turn for a time slice (pauses of about 20 ms); at nice 10 the kernel
//! hands the parse about a tenth of a contended core and preempts it when a sign-in wakes up,
//! while an idle machine still runs it at full speed.
//!
//! A thread per job rather than tokio's blocking pool: a thread's nice value can be raised
//! but not lowered back without privileges, so a pooled thread would stay slow for whatever
//! it ran next.

use std::future::Future;

/// How much lower than the server's: nice 10 weighs 110 against a default thread's 1024.
const NICE_INCREMENT: i32 = 10;

/// The thread ended without an answer: `job` panicked.
#[derive(Debug, thiserror::Error)]
#[error("the background thread {name} ended without finishing its work")]
pub(crate) struct BackgroundThreadFailed {
    pub(crate) name: &'static str,
}

/// Runs `job` on a new thread named `name` at a lower priority and waits for its answer.
pub(crate) fn run_at_low_priority<T, F>(
    name: &'static str,
    job: F,
) -> impl Future<Output = Result<T, BackgroundThreadFailed>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            lower_this_threads_priority();
            // The receiver gone means the caller stopped waiting: nothing to tell.
            let _ = answer.send(job());
        });
    async move {
        if let Err(error) = spawned {
            tracing::warn!(%error, name, "cannot start a background thread");
            return Err(BackgroundThreadFailed { name });
        }
        answered.await.map_err(|_| BackgroundThreadFailed { name })
    }
}

#[cfg(target_os = "linux")]
fn lower_this_threads_priority() {
    // On Linux the nice value belongs to the thread, addressed by its thread ID.
    let thread = rustix::thread::gettid();
    let current = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
    if let Err(error) = rustix::process::setpriority_process(Some(thread), current + NICE_INCREMENT)
    {
        // Still correct at the normal priority, only less kind to sign-ins.
        tracing::debug!(%error, "cannot lower a background thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_this_threads_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_job_runs_at_a_lower_priority_and_answers() {
        let niceness = || {
            #[cfg(target_os = "linux")]
            return rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                .expect("getpriority");
            #[cfg(not(target_os = "linux"))]
            return 0;
        };
        let caller = niceness();
        let inside = run_at_low_priority("test-job", niceness)
            .await
            .expect("answered");
        if cfg!(target_os = "linux") {
            assert_eq!(inside, (caller + NICE_INCREMENT).min(19));
        }
        // The caller's own thread is untouched.
        assert_eq!(niceness(), caller);
    }

    #[tokio::test]
    async fn a_job_that_panics_is_an_error_not_a_hang() {
        let outcome = run_at_low_priority("test-panic", || -> u8 { panic!("boom") }).await;
        assert!(outcome.is_err());
    }
}
