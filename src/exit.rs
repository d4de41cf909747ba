//! The process exit codes, at the bottom of the layering: every command and
//! report that decides how the process ends takes them from here, so none of
//! them has to depend on `app`.

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
/// The pre-flight probe found a set-up problem (nothing POP3 on the port, an
/// account that cannot log in): nothing was judged.
pub const EXIT_UNREACHABLE: u8 = 3;

/// Exit code of a process that lost its reader, as if SIGPIPE had ended it
/// (128 + 13): quiet, and never mistaken for success by `set -o pipefail`
/// where a run's output was cut short.
pub const EXIT_BROKEN_PIPE: u8 = 141;
