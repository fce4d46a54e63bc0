//! Enrichment: who is behind an address, from lookup tables the user gives: AWS's
//! published IP ranges ([`aws_ranges`]) and the account's own network interfaces
//! ([`interfaces`]). Each table is read once per run into sorted prefix ranges
//! ([`prefixes`]) that the worker threads share; a lookup is a binary search.
//!
//! (The enrichment issue's first step: the lookups. The columns they fill in a
//! conversion, the country and network database, and the questions' `--enrich` and
//! `--group-by` come next.)

pub mod aws_ranges;
pub mod interfaces;
pub mod prefixes;
