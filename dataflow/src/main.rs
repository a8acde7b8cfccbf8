//! The `dataflow` binary: parses flags and runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use dataflow::cli::{Cli, FreedMemory};

/// mimalloc instead of glibc's allocator: a catch-up spent about 12 % of
/// its CPU in glibc `malloc`/`free` (`perf`), and with mimalloc it takes
/// 0.87× the CPU and 0.91× the time (`bench/ab`, docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option: its index in mimalloc v3's `mi_option_t`
/// (`libmimalloc-sys` does not name it; the test below checks the index).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets what mimalloc does with freed memory (`--freed-memory`, see
/// `dataflow::cli::FreedMemory`), unless `MIMALLOC_PURGE_DELAY` is set,
/// which mimalloc then reads itself. mimalloc's own default (purge after
/// 1 s) kept as much as never purging in a catch-up whose state exceeded
/// its bound (docs/benchmarks.md), so the flag chooses between never and
/// 10 ms.
fn set_freed_memory(freed: FreedMemory) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mimalloc's option setters are not thread-safe; this runs
        // in `main` once the flags are parsed, before any other thread
        // exists.
        #[allow(unsafe_code, reason = "the only way to set a mimalloc option")]
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, freed.purge_delay_ms());
        }
    }
}

/// Turns transparent huge pages off for this process (unless
/// `MIMALLOC_ALLOW_THP` is set, which mimalloc then reads itself).
/// mimalloc asks for them (`madvise(MADV_HUGEPAGE)` on its arenas), and the
/// kernel then zeroes 2 MiB at the first touch of each: in a catch-up,
/// 1.4 GiB of the job's 2.3 GiB were huge pages, and zeroing them
/// (`clear_page_erms`) had 13.5 % of the job's samples, against 0.4 % with
/// them off (`perf record`; docs/benchmarks.md has the `bench/ab` series).
/// The flag is the kernel's per-process switch (`PR_SET_THP_DISABLE`): it
/// also covers what mimalloc reserved before `main` and touches later;
/// the 4 MiB faulted in before `main` stay huge pages.
fn no_transparent_huge_pages() {
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none()
        && let Err(err) = rustix::thread::disable_transparent_huge_pages(true)
    {
        eprintln!("dataflow: cannot turn transparent huge pages off: {err}");
    }
}

/// The exit status after a panic on any thread.
const PANIC_EXIT: i32 = 70;

/// Makes a panic on any thread end the process. A timely worker that
/// panics (a checkpoint part that cannot be written, outputs Kafka refused)
/// would otherwise leave its peers waiting for it forever; exiting is as
/// safe as a kill -9, which the job recovers from exactly: the next start
/// restores the last complete checkpoint.
fn exit_on_panic() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        eprintln!("dataflow: a thread panicked; exiting (status {PANIC_EXIT})");
        std::process::exit(PANIC_EXIT);
    }));
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    let cli = Cli::parse();
    set_freed_memory(cli.freed_memory());
    exit_on_panic();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dataflow::run::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("dataflow: error: {err}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transparent_huge_pages_are_turned_off() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return; // the environment chose: left to mimalloc
        }
        no_transparent_huge_pages();
        assert_eq!(rustix::thread::transparent_huge_pages_are_disabled().ok(), Some(true));
    }

    #[test]
    fn purge_delay_option_index() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return; // the environment chose a value: the default is unknown
        }
        // SAFETY: reads an option; nothing in this test process sets them.
        #[allow(unsafe_code, reason = "reading a mimalloc option")]
        let delay = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // 1000 ms is v3's default purge delay; another option at this index
        // (a different mimalloc version) would show another value.
        assert_eq!(delay, 1000, "index {MI_OPTION_PURGE_DELAY} is not purge_delay");
    }
}
