//! The standard Prometheus process metrics, read at each scrape from
//! `/proc/self` with the `procfs` crate, which takes the clock tick rate and
//! the page size from the system (not 100 Hz and 4 KiB assumed):
//!
//! * `process_cpu_seconds_total`: user and system CPU time;
//! * `process_resident_memory_bytes`, `process_virtual_memory_bytes`;
//! * `process_threads`, `process_open_fds`, `process_max_fds`;
//! * `process_start_time_seconds`: since the Unix epoch.
//!
//! [`register`] adds them to a `prometheus_client` registry. On other
//! systems, or when `/proc` cannot be read, they are left out of the scrape.
//! [`exposition`] renders a registry in the format the scraper accepts.
//! [`thread_cpu_time`] and [`thread_run_delay`] are the calling thread's
//! CPU time and its time waiting for a core.

pub mod exposition;
mod thread;

pub use thread::{thread_cpu_time, thread_run_delay};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Collects the process metrics of the current process at each scrape.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessCollector;

/// Registers [`ProcessCollector`] in `registry`.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessCollector));
}

/// One reading of the process.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Reading {
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: u64,
    /// Threads.
    pub threads: i64,
    /// Open file descriptors (None when they cannot be listed).
    pub open_fds: Option<u64>,
    /// The soft limit on file descriptors (None when unlimited or unknown).
    pub max_fds: Option<u64>,
    /// Start time, in seconds since the Unix epoch (None when unknown).
    pub start_time_seconds: Option<f64>,
}

/// Reads the current process (None when `/proc/self` cannot be read).
#[cfg(target_os = "linux")]
pub fn read() -> Option<Reading> {
    use procfs::WithCurrentSystemInfo;
    use procfs::process::{LimitValue, Process};
    let me = Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let boot = procfs::boot_time_secs().ok();
    Some(Reading {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: stat.rss_bytes().get(),
        virtual_bytes: stat.vsize,
        threads: stat.num_threads,
        open_fds: me.fd_count().ok().and_then(|n| u64::try_from(n).ok()),
        max_fds: me.limits().ok().and_then(|l| match l.max_open_files.soft_limit {
            LimitValue::Value(n) => Some(n),
            LimitValue::Unlimited => None,
        }),
        start_time_seconds: boot.map(|boot| boot as f64 + stat.starttime as f64 / ticks),
    })
}

/// Reads the current process (never, off Linux).
#[cfg(not(target_os = "linux"))]
pub fn read() -> Option<Reading> {
    None
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let Some(reading) = read() else { return Ok(()) };
        let cpu = ConstCounter::new(reading.cpu_seconds);
        cpu.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time of the process, in seconds",
            None,
            cpu.metric_type(),
        )?)?;
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory, in bytes",
                Some(reading.resident_bytes),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory, in bytes",
                Some(reading.virtual_bytes),
            ),
            ("process_threads", "Threads of the process", u64::try_from(reading.threads).ok()),
            ("process_open_fds", "Open file descriptors", reading.open_fds),
            ("process_max_fds", "Limit on open file descriptors", reading.max_fds),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value.and_then(|v| i64::try_from(v).ok()) else { continue };
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        if let Some(start) = reading.start_time_seconds {
            let gauge = ConstGauge::new(start);
            gauge.encode(encoder.encode_descriptor(
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                None,
                gauge.metric_type(),
            )?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        let before = read().unwrap();
        // Burn some CPU and memory, then read again.
        let mut block = vec![0u8; 64 << 20];
        let mut x = 0u64;
        for (i, byte) in block.iter_mut().enumerate() {
            *byte = i as u8;
            x = x.wrapping_mul(31).wrapping_add(u64::from(*byte));
        }
        let after = read().unwrap();
        assert!(x != 1, "keep the loop");
        assert!(after.cpu_seconds >= before.cpu_seconds);
        assert!(after.resident_bytes >= 64 << 20, "{after:?}");
        assert!(after.threads >= 1);
        assert!(after.open_fds.unwrap() >= 3);
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let start = after.start_time_seconds.unwrap();
        assert!(start <= now.as_secs_f64() + 1.0 && start > now.as_secs_f64() - 3600.0, "{start}");
        drop(block);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn renders_the_standard_names() {
        let mut registry = Registry::default();
        register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for name in [
            "process_cpu_seconds_total ",
            "process_resident_memory_bytes ",
            "process_virtual_memory_bytes ",
            "process_threads ",
            "process_open_fds ",
            "process_start_time_seconds ",
        ] {
            assert!(text.contains(name), "{name} missing from\n{text}");
        }
    }
}
