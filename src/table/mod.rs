//! The table as one idea: what it holds ([`info`]: layout, partitions and columns read
//! from the files), and every change to it as one [`transaction::Transaction`] (begin,
//! stage, commit, publish, clean up), used by `convert` (a full refresh and the rebuilds
//! of `verify --repair` included) and `compact`. The log it commits to is [`log`];
//! where it keeps its metadata, [`paths`].

pub mod info;
pub mod log;
pub mod paths;
pub mod transaction;

pub use info::{RawSpec, TableInfo, footer_rows, read_raw_spec, read_table_info};
pub use transaction::{Committed, Staged, Transaction};
