//! Exit codes, the same for every command (documented in README.md).

use std::process::ExitCode;

/// 0: success, nothing at or above the failure level.
pub const OK: u8 = 0;
/// 1: drift (check), findings at or above --fail-on (diagnose), or an operation failed.
pub const FAILED: u8 = 1;
/// 2: usage or configuration error: bad flags, a bad profile, a value the kernel rejects,
/// missing privilege. Nothing was changed.
pub const USAGE: u8 = 2;
/// 3: a required check or setting could not be evaluated.
pub const NOT_EVALUATED: u8 = 3;
/// 141 (128 + SIGPIPE, as a shell reports a command killed by a closed pipe): a write to
/// a closed pipe failed before the command knew its own status. Output through
/// [`crate::report::print`] never gets here: there a closed pipe keeps the status.
pub const BROKEN_PIPE: u8 = 141;

/// An error caused by the operator's input rather than by the machine: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    /// Wraps the message as an `anyhow::Error` that maps to exit code 2.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(msg: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(UsageError(msg.into()))
    }
}

/// The exit code for an error: 2 when anything in its chain is a usage error, else 1.
pub fn code_for(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<UsageError>()) {
        USAGE
    } else {
        FAILED
    }
}

/// Whether `error` is a write to a closed pipe.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn to_exit_code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
