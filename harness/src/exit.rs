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
