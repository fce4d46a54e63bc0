//! flowlake: AWS VPC Flow Logs (gzip text, any custom format, versions 2–11
//! and Transit Gateway) into date-partitioned Parquet whose schema matches
//! AWS's own Parquet delivery.
//!
//! The library is layered; imports point down:
//!
//! - ground floor: [`schema`] (the field catalog), [`partition`] (the output
//!   layout), [`storage`] (list/read/atomic write; the only module that knows
//!   local disk from object storage), [`ip`] (addresses and CIDR blocks as numbers);
//! - [`format`] (header → fields), [`parse`] (lines → Arrow arrays and
//!   rejects), [`source`] (inputs → decompressed streams), [`input`] (the [`input::Source`]
//!   seam: one input kind each), [`enrich`] (who is behind an address: lookup tables
//!   the user gives), [`sink`] (Parquet
//!   writers per partition), [`report`], [`generate`] (sample data);
//! - [`table`] (what a table holds, its log of commits [`table::log`], and
//!   [`table::Transaction`], the one commit protocol every change uses);
//! - [`convert`] (the conversion run in stages: plan, header scan, parallel
//!   bounded-memory read and write, the report and the commit), [`compact`], [`verify`];
//! - `query` (feature `query`, on by default): SQL and the classic flow-log
//!   questions over the converted output, with Apache DataFusion.
//!
//! ARCHITECTURE.md, beside the crate, has the rooms, one record's path and where a
//! change goes.
//!
//! ```no_run
//! use flowlake::convert::{convert, ConvertOptions, NoProgress};
//! use flowlake::storage::Location;
//!
//! let opts = ConvertOptions::new(vec![Location::parse("./sample")?], Location::parse("./lake")?)
//!     .with_threads(2);
//! let report = convert(&opts, &NoProgress)?;
//! assert_eq!(report.rows_in, report.rows_written + report.rows_rejected);
//! # Ok::<(), flowlake::Error>(())
//! ```

#![warn(missing_docs)]

pub mod compact;
pub mod convert;
pub mod ddl;
pub mod enrich;
pub mod error;
pub mod format;
pub mod generate;
pub mod gzip;
mod hash;
pub mod input;
pub mod ip;
pub mod parse;
pub mod partition;
#[cfg(feature = "query")]
pub mod query;
pub mod reject;
pub mod report;
pub mod schema;
pub mod sink;
pub mod source;
pub mod storage;
pub mod table;
pub mod verify;

pub use convert::{ConvertOptions, convert};
pub use error::{Error, Result};
