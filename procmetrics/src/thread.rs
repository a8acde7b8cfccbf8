//! The calling thread's CPU time and its wait for a core.
//!
//! A stretch of a thread's wall time is spent on a core (its CPU time,
//! `CLOCK_THREAD_CPUTIME_ID`, read with `rustix`), runnable but waiting for
//! a core (the kernel adds that to the thread's `run_delay` in
//! `/proc/thread-self/schedstat`, read with `procfs`, when it gets a core
//! back), or blocked (page faults that wait for memory or I/O, locks).
//! Readings before and after tell them apart: the job uses them to tell a
//! snapshot's own cost from a busy machine's.

use std::time::Duration;

/// CPU time the calling thread has used since it started (`None` off
/// Linux).
#[cfg(target_os = "linux")]
#[must_use]
pub fn thread_cpu_time() -> Option<Duration> {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let seconds = u64::try_from(now.tv_sec).ok()?;
    let nanos = u32::try_from(now.tv_nsec).ok()?;
    Some(Duration::new(seconds, nanos))
}

/// CPU time the calling thread has used (never known, off Linux).
#[cfg(not(target_os = "linux"))]
#[must_use]
pub fn thread_cpu_time() -> Option<Duration> {
    None
}

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

    #[test]
    #[cfg(target_os = "linux")]
    fn cpu_time_counts_spinning_and_not_sleeping() {
        let start = thread_cpu_time().expect("a thread's CPU clock");
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time().expect("a thread's CPU clock") - start;
        assert!(slept < Duration::from_millis(20), "sleeping used {slept:?}");
        let until = std::time::Instant::now() + Duration::from_millis(50);
        let mut spins = 0_u64;
        while std::time::Instant::now() < until {
            spins = std::hint::black_box(spins + 1);
        }
        let spun = thread_cpu_time().expect("a thread's CPU clock") - start - slept;
        // At least a fifth of the spin, even on a machine busy with others.
        assert!(spun >= Duration::from_millis(10), "spinning 50 ms used {spun:?}");
        assert!(spun <= Duration::from_millis(60) + slept, "{spun:?}");
    }
}
