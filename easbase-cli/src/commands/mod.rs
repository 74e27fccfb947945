//! The commands that work on a platform database (they run on a tokio runtime).

pub(crate) mod apply;
pub(crate) mod project;
pub(crate) mod serve;

use std::process::ExitCode;

/// Runs `command` on a multi-threaded runtime; an error is printed on stderr and
/// becomes the exit status of [`easbase_cli::Error::exit_code`].
pub(crate) fn block_on(command: impl Future<Output = easbase_cli::Result<()>>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
