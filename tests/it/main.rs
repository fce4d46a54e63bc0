//! Integration tests: one binary (fast to link), one module per area.

mod common;

mod aws_examples;
mod cli;
mod crash;
mod ddl;
mod enrich;
#[cfg(feature = "s3")]
mod faultproxy;
mod fixtures;
mod hostile;
mod kinds;
#[cfg(feature = "query")]
mod query;
mod races;
mod rejects;
mod roundtrip;
#[cfg(feature = "s3")]
pub(crate) mod s3;
