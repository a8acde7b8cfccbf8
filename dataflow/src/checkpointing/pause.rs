//! Measuring an operator's pauses for a snapshot: how long it stopped, and
//! how much of that its thread worked, waited for a core, or was blocked.
//!
//! An operator takes a snapshot a slice at a time (see `crate::epochs`),
//! each slice a pause in its processing. On a machine with more busy threads
//! than cores (docs/benchmarks.md's 2-core VM runs three workers, three
//! brokers and Redis), a slice of 5 ms of work can last hundreds of ms of
//! wall time: the scheduler ran other threads meanwhile. The kernel counts
//! a thread's CPU time and the time it spends runnable but not running
//! (see `procmetrics::thread_cpu_time` and `thread_run_delay`), so a pause
//! splits into working (on a core: what the snapshot itself costs the
//! operator), waiting for a core, and the rest, blocked (page faults that
//! wait for memory, locks).

use std::time::{Duration, Instant};

/// A pause being measured; [`stop`](Self::stop) ends it.
#[derive(Debug)]
pub struct Stopwatch {
    started: Instant,
    waited: Option<Duration>,
    worked: Option<Duration>,
}

impl Stopwatch {
    /// Starts measuring a pause of the calling thread.
    #[must_use]
    pub fn start() -> Self {
        let waited = procmetrics::thread_run_delay();
        let worked = procmetrics::thread_cpu_time();
        Self { waited, worked, started: Instant::now() }
    }

    /// The pause so far.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The thread's CPU time in the pause so far (on the thread that started
    /// it), or its wall time where CPU time is not known.
    #[must_use]
    pub fn worked(&self) -> Duration {
        match (self.worked, procmetrics::thread_cpu_time()) {
            (Some(before), Some(now)) => now.saturating_sub(before),
            _ => self.elapsed(),
        }
    }

    /// Ends the pause (on the thread that started it).
    #[must_use]
    pub fn stop(self) -> Pause {
        let worked = procmetrics::thread_cpu_time();
        let wall = self.started.elapsed();
        let since = |before: Option<Duration>, after: Option<Duration>| match (before, after) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before).min(wall)),
            _ => None,
        };
        let waiting = since(self.waited, procmetrics::thread_run_delay()).unwrap_or_default();
        let working = since(self.worked, worked).unwrap_or_else(|| wall.saturating_sub(waiting));
        Pause { wall, waiting, working }
    }
}

/// One pause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pause {
    /// From its start to its end.
    pub wall: Duration,
    /// The part of `wall` the thread waited for a core (zero where the
    /// kernel does not count it).
    pub waiting: Duration,
    /// The thread's CPU time in it: the snapshot's own work (`wall` less
    /// `waiting` where the CPU time is unknown).
    pub working: Duration,
}

impl Pause {
    /// The part of the pause the thread was neither on a core nor waiting
    /// for one: blocked.
    #[must_use]
    pub fn blocked(&self) -> Duration {
        self.wall.saturating_sub(self.waiting).saturating_sub(self.working)
    }
}

/// The longest pauses for one snapshot (or for several, merged).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LongestPauses {
    /// The longest pause, in wall time.
    pub wall: Duration,
    /// The longest working part of a pause (not necessarily the same one).
    pub working: Duration,
}

impl LongestPauses {
    /// Takes `pause` into account.
    pub fn record(&mut self, pause: Pause) {
        self.wall = self.wall.max(pause.wall);
        self.working = self.working.max(pause.working);
    }

    /// Takes another snapshot's pauses into account.
    pub fn merge(&mut self, other: Self) {
        self.wall = self.wall.max(other.wall);
        self.working = self.working.max(other.working);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_working_part_excludes_the_wait_and_the_longest_of_each_are_kept() {
        let ms = Duration::from_millis;
        let mut longest = LongestPauses::default();
        longest.record(Pause { wall: ms(300), waiting: ms(298), working: ms(2) });
        longest.record(Pause { wall: ms(5), waiting: ms(0), working: ms(5) });
        assert_eq!(longest, LongestPauses { wall: ms(300), working: ms(5) });
        let mut other = LongestPauses { wall: ms(10), working: ms(7) };
        other.merge(longest);
        assert_eq!(other, LongestPauses { wall: ms(300), working: ms(7) });
    }

    #[test]
    fn a_pause_works_while_it_spins_not_while_it_sleeps() {
        let watch = Stopwatch::start();
        spin(Duration::from_millis(20));
        let spun = watch.worked();
        // How much of the spin ran depends on the machine's load.
        assert!(spun > Duration::ZERO && spun <= watch.elapsed(), "{spun:?}");
        std::thread::sleep(Duration::from_millis(40));
        if procmetrics::thread_cpu_time().is_some() {
            let slept = watch.worked() - spun;
            assert!(slept < Duration::from_millis(20), "sleeping counted as work: {slept:?}");
        }
    }

    #[test]
    fn a_sleeping_pause_is_blocked_not_working() {
        let watch = Stopwatch::start();
        std::thread::sleep(Duration::from_millis(30));
        let pause = watch.stop();
        if procmetrics::thread_cpu_time().is_none() {
            return;
        }
        assert!(pause.working < Duration::from_millis(10), "{pause:?}");
        assert!(pause.blocked() >= Duration::from_millis(15), "{pause:?}");
    }

    /// Spins the calling thread for `span`.
    fn spin(span: Duration) {
        let until = Instant::now() + span;
        let mut spins = 0_u64;
        while Instant::now() < until {
            spins = std::hint::black_box(spins + 1);
        }
    }

    #[test]
    fn a_pause_among_more_spinning_threads_than_cores_counts_its_wait() {
        if procmetrics::thread_run_delay().is_none() {
            eprintln!("the kernel does not count run-queue waits here: nothing to check");
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let span = Duration::from_millis(400);
        let others: Vec<_> = (0..cores).map(|_| std::thread::spawn(move || spin(span))).collect();
        let watch = Stopwatch::start();
        spin(span);
        let pause = watch.stop();
        for other in others {
            other.join().unwrap();
        }
        // One core's worth of threads more than cores: each runs about
        // cores / (cores + 1) of the time and waits the rest (more if the
        // machine is busy with other work too).
        assert!(pause.wall >= span, "{pause:?}");
        assert!(pause.waiting <= pause.wall, "{pause:?}");
        let share = pause.wall / u32::try_from(4 * (cores + 1)).unwrap();
        assert!(pause.waiting >= share, "waited too little among {cores} spinners: {pause:?}");
        assert!(pause.working >= share, "worked too little: {pause:?}");
        assert!(pause.waiting + pause.working <= pause.wall + Duration::from_millis(1));
        assert!(pause.blocked() < pause.wall / 4, "a spinning thread is not blocked: {pause:?}");
    }
}
