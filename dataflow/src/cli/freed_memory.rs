//! `--freed-memory`: whether the allocator keeps the memory the job frees
//! or returns it to the OS, the one trade-off between speed and RSS that a
//! memory bound alone does not settle.
//!
//! The job frees large short-lived buffers all the time (each write-out's
//! Redis commands, each snapshot's batch, exchanged records). Kept, they
//! are reused without page faults, and the RSS stays at the high-water mark
//! of everything held at once; returned, reuse faults fresh zeroed pages in,
//! and the RSS follows what the job holds. Measured (docs/benchmarks.md):
//! with the state inside `--state-memory`, keeping made a catch-up 4 to 7 %
//! faster; with a state far larger than the bound, returning gave 0.66 to
//! 0.74× the peak RSS at about the same speed.

/// What the allocator does with freed memory (`--freed-memory`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FreedMemory {
    /// Keep it for reuse: the fastest catch-up; the RSS stays at its
    /// high-water mark.
    #[default]
    Keep,
    /// Return it to the OS 10 ms after it is freed: the RSS follows what
    /// the job holds.
    Return,
}

impl FreedMemory {
    /// mimalloc's `purge_delay` for this choice, in ms (-1: never purge).
    #[must_use]
    pub fn purge_delay_ms(self) -> i64 {
        match self {
            Self::Keep => -1,
            Self::Return => 10,
        }
    }
}
