//! The `api` binary. Not built yet: it says so and exits non-zero rather
//! than pretending to serve.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("api: the HTTP API is not implemented yet (see the API issue)");
    ExitCode::from(2)
}
