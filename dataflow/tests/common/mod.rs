//! Shared code of the dataflow's integration tests.

#![allow(dead_code)]

pub mod boards;
pub mod oracle;
pub mod process;
pub mod redis_check;
pub mod run;
