//! Exit codes: an API for CI, as Jepsen's.

/// The history is valid.
pub const VALID: u8 = 0;
/// The history is invalid.
pub const INVALID: u8 = 1;
/// The checker could not decide.
pub const UNKNOWN: u8 = 2;
/// Bad arguments or unreadable input.
pub const BAD_ARGUMENTS: u8 = 254;
/// faultline itself failed.
pub const HARNESS_FAILED: u8 = 255;

/// Input the user must fix, found after parsing (clap catches the rest): a
/// value out of range, a file that is not what it should be. A command
/// returns it inside its error; the binary's edge turns it into
/// [`BAD_ARGUMENTS`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);
