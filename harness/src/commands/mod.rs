//! One module per subcommand.

pub mod bench;
pub mod bench_readme;
pub mod bench_report;
pub mod check;
pub mod generate;
pub mod generate_txn;
pub mod guard;
pub mod load;
pub mod node;
pub mod overhead;
pub mod report;
pub mod serve;
