//! The calling thread's wait for a core, from the kernel's scheduler
//! statistics (`/proc/thread-self/schedstat`, read with `procfs`).
//!
//! A thread that is runnable but not running waits on a run queue; the
//! kernel adds that time to the thread's `run_delay` when it gets a core
//! back. The difference between two readings around a stretch of work is
//! the part of its wall time the thread spent waiting rather than working:
//! the job uses it to tell a snapshot's own cost from a busy machine's.

use std::time::Duration;

/// Time the calling thread has waited for a core since it started; `None`
/// off Linux, or where the kernel keeps no scheduler statistics (it then
/// reports zeros, and a thread reading it has run for some time).
#[cfg(target_os = "linux")]
#[must_use]
pub fn thread_run_delay() -> Option<Duration> {
    use procfs::FromRead;
    use procfs::process::Schedstat;
    let stat = Schedstat::from_file("/proc/thread-self/schedstat").ok()?;
    (stat.sum_exec_runtime > 0).then(|| Duration::from_nanos(stat.run_delay))
}

/// Time the calling thread has waited for a core (never known, off Linux).
#[cfg(not(target_os = "linux"))]
#[must_use]
pub fn thread_run_delay() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn never_goes_back() {
        let Some(first) = thread_run_delay() else {
            eprintln!("no scheduler statistics on this kernel: nothing to check");
            return;
        };
        let mut spins = 0_u64;
        for _ in 0..1_000_000 {
            spins = std::hint::black_box(spins + 1);
        }
        let second = thread_run_delay().expect("readable once, readable again");
        assert!(second >= first, "{second:?} < {first:?}");
    }
}
