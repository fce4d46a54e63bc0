//! Integration tests: one binary (fast to link), one module per area.

mod common;

mod aws_examples;
mod cli;
mod ddl;
mod fixtures;
mod rejects;
mod roundtrip;
