//! One module per subcommand.

pub mod bench;
pub mod check;
pub mod generate;
pub mod node;
