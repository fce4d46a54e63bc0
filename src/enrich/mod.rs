//! Enrichment: who is behind an address, from lookup tables the user gives
//! (`--enrich KIND=FILE`): AWS's published IP ranges ([`aws_ranges`]), the account's own
//! network interfaces ([`interfaces`]) and a MaxMind DB of countries and networks
//! ([`geoip`]). Each table is read once per run ([`Tables::load`]) into sorted prefix
//! ranges ([`prefixes`]) that the worker threads share; a lookup is a binary search.
//! [`Enricher`] adds the columns ([`crate::schema::ENRICHED`]) to each batch.

pub mod aws_ranges;
mod enricher;
pub mod geoip;
pub mod interfaces;
pub mod prefixes;

use std::io::Read;

use sha2::{Digest, Sha256};

pub use enricher::Enricher;

use crate::error::{Error, Result};
use crate::report::EnrichmentUsed;
use crate::schema::{ColumnId, ENRICHED, EnrichTable, TableColumns};
use crate::storage::{Location, StorageOptions, storage_for};

use aws_ranges::AwsRanges;
use geoip::GeoDb;
use interfaces::Interfaces;

/// One `--enrich KIND=FILE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrichSpec {
    /// Which kind of table.
    pub table: EnrichTable,
    /// Where it is: a file or an `s3://` URL (for `interfaces`, a folder or prefix of them too).
    pub location: Location,
}

impl std::str::FromStr for EnrichSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<EnrichSpec> {
        let usage = || {
            Error::Usage(format!(
                "`--enrich {s}`: expected KIND=FILE, where KIND is aws-ip-ranges, interfaces or geoip \
                 (for example --enrich aws-ip-ranges=ip-ranges.json)"
            ))
        };
        let (kind, path) = s.split_once('=').ok_or_else(usage)?;
        let table = [EnrichTable::AwsIpRanges, EnrichTable::Interfaces, EnrichTable::Geoip]
            .into_iter()
            .find(|t| t.name() == kind.trim())
            .ok_or_else(usage)?;
        if path.trim().is_empty() {
            return Err(usage());
        }
        Ok(EnrichSpec { table, location: Location::parse(path.trim())? })
    }
}

/// The lookup tables of a run, loaded.
#[derive(Debug, Default)]
pub struct Tables {
    /// `aws-ip-ranges`.
    pub aws: Option<AwsRanges>,
    /// `interfaces` (every file given, as one inventory).
    pub interfaces: Option<Interfaces>,
    /// `geoip` databases, asked in the order given.
    pub geo: Vec<GeoDb>,
    /// What was read, for the report and the commit.
    pub used: Vec<EnrichmentUsed>,
}

/// Reads a whole file or object.
fn read_all(location: &Location, opts: &StorageOptions) -> Result<Vec<u8>> {
    let storage = storage_for(location, opts)?;
    let mut bytes = Vec::new();
    storage.open(location)?.read_to_end(&mut bytes).map_err(|e| Error::io("read", location, e))?;
    Ok(bytes)
}

/// The SHA-256 of `bytes`, in hex.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The record of one file read.
fn used(table: EnrichTable, file: &Location, bytes: &[u8], version: Option<String>, entries: usize) -> EnrichmentUsed {
    let sha256 = sha256_hex(bytes);
    EnrichmentUsed {
        table: table.name().to_string(),
        file: file.to_string(),
        bytes: bytes.len() as u64,
        sha256,
        version,
        entries: entries as u64,
    }
}

/// The files of an `interfaces` table: the file itself, or every `.json` file under the folder.
fn interface_files(location: &Location, opts: &StorageOptions) -> Result<Vec<Location>> {
    let storage = storage_for(location, opts)?;
    let listed = storage.list(location)?;
    if let Some(one) = listed.iter().find(|o| o.location == *location) {
        return Ok(vec![one.location.clone()]);
    }
    let mut files: Vec<Location> =
        listed.into_iter().map(|o| o.location).filter(|l| l.key_path().ends_with(".json")).collect();
    files.sort_by_key(|l| l.to_string());
    if files.is_empty() {
        return Err(Error::Usage(format!(
            "--enrich interfaces={location}: no .json files there (save `aws ec2 describe-network-interfaces --output json` into one)"
        )));
    }
    Ok(files)
}

/// What a loading thread returned (its panic, a bug, goes on in this thread).
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// AWS's ranges from `loc`, and the record of the file.
fn load_ranges(loc: &Location, opts: &StorageOptions) -> Result<(AwsRanges, EnrichmentUsed)> {
    let bytes = read_all(loc, opts)?;
    let r = AwsRanges::parse(&bytes, &loc.to_string())?;
    let version = format!("syncToken {}, createDate {}", r.sync_token, r.create_date);
    let used = used(EnrichTable::AwsIpRanges, loc, &bytes, Some(version), r.blocks());
    Ok((r, used))
}

/// A MaxMind DB from `loc`, and the record of the file.
fn load_geo(loc: &Location, opts: &StorageOptions) -> Result<(GeoDb, EnrichmentUsed)> {
    let bytes = read_all(loc, opts)?;
    let sha256 = sha256_hex(&bytes);
    let size = bytes.len() as u64;
    let db = GeoDb::parse(bytes, &loc.to_string())?;
    let built = crate::report::rfc3339(db.build_epoch as i64);
    let used = EnrichmentUsed {
        table: EnrichTable::Geoip.name().to_string(),
        file: loc.to_string(),
        bytes: size,
        sha256,
        version: Some(format!("{}, built {built}", db.database_type)),
        entries: db.networks as u64,
    };
    Ok((db, used))
}

/// Every `interfaces` table given, as one inventory, and the record of each file (none
/// given: `None`).
fn load_inventory<'a>(
    locations: impl Iterator<Item = (usize, &'a Location)>,
    opts: &StorageOptions,
) -> Result<Option<(Interfaces, Vec<EnrichmentUsed>)>> {
    let mut inventory = Vec::new();
    for (_, loc) in locations {
        for file in interface_files(loc, opts)? {
            let bytes = read_all(&file, opts)?;
            inventory.push((file.to_string(), bytes));
        }
    }
    if inventory.is_empty() {
        return Ok(None);
    }
    let inv = Interfaces::parse(&inventory)?;
    let used = inventory
        .iter()
        .map(|(name, bytes)| Ok(used(EnrichTable::Interfaces, &Location::parse(name)?, bytes, None, inv.len())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((inv, used)))
}

impl Tables {
    /// Reads every table `specs` names, each kind on a thread of its own (the tables of a
    /// run are independent, and a real country database or inventory takes a while); an
    /// `aws-ip-ranges` table given twice is a usage error. The report lists AWS's ranges
    /// and the MaxMind DBs in the order of their flags, then the inventory's files; of
    /// several tables that cannot be read, the first flag's is named.
    pub fn load(specs: &[EnrichSpec], opts: &StorageOptions) -> Result<Tables> {
        let of = |table: EnrichTable| {
            specs.iter().enumerate().filter(move |(_, s)| s.table == table).map(|(i, s)| (i, &s.location))
        };
        let ranges: Vec<(usize, &Location)> = of(EnrichTable::AwsIpRanges).collect();
        if ranges.len() > 1 {
            return Err(Error::Usage("--enrich aws-ip-ranges= is given twice: give one ip-ranges.json".into()));
        }
        let (aws, geo, inventory) = std::thread::scope(|s| {
            let aws = s.spawn(|| ranges.first().map(|&(i, loc)| (i, load_ranges(loc, opts))));
            let geo: Vec<_> =
                of(EnrichTable::Geoip).map(|(i, loc)| (i, s.spawn(move || load_geo(loc, opts)))).collect();
            let first_inventory = of(EnrichTable::Interfaces).next().map_or(0, |(i, _)| i);
            let inventory = (first_inventory, load_inventory(of(EnrichTable::Interfaces), opts));
            (join(aws), geo.into_iter().map(|(i, h)| (i, join(h))).collect::<Vec<_>>(), inventory)
        });
        let mut errors: Vec<(usize, Error)> = Vec::new();
        let mut used: Vec<(usize, EnrichmentUsed)> = Vec::new();
        let mut t = Tables::default();
        match aws {
            Some((i, Ok((r, u)))) => {
                t.aws = Some(r);
                used.push((i, u));
            }
            Some((i, Err(e))) => errors.push((i, e)),
            None => {}
        }
        for (i, g) in geo {
            match g {
                Ok((db, u)) => {
                    t.geo.push(db);
                    used.push((i, u));
                }
                Err(e) => errors.push((i, e)),
            }
        }
        match inventory {
            (_, Ok(Some((inv, u)))) => {
                t.interfaces = Some(inv);
                used.extend(u.into_iter().map(|u| (usize::MAX, u)));
            }
            (_, Ok(None)) => {}
            (i, Err(e)) => errors.push((i, e)),
        }
        if let Some((_, e)) = errors.into_iter().min_by_key(|(i, _)| *i) {
            return Err(e);
        }
        used.sort_by_key(|(i, _)| *i);
        t.used = used.into_iter().map(|(_, u)| u).collect();
        Ok(t)
    }

    /// True when no table was given.
    pub fn is_empty(&self) -> bool {
        self.aws.is_none() && self.interfaces.is_none() && self.geo.is_empty()
    }

    /// True when a table of this kind was given.
    pub fn has(&self, table: EnrichTable) -> bool {
        match table {
            EnrichTable::AwsIpRanges => self.aws.is_some(),
            EnrichTable::Interfaces => self.interfaces.is_some(),
            EnrichTable::Geoip => !self.geo.is_empty(),
        }
    }

    /// The names of every enrichment column these tables can add (whatever fields a table
    /// has): no input field may take one.
    pub fn reserved_columns(&self) -> Vec<&'static str> {
        ENRICHED.iter().filter(|e| self.has(e.attr.table())).map(|e| e.column).collect()
    }

    /// The enrichment columns a table with `table`'s columns gets from these tables: those
    /// of each table given, for the fields the table has.
    pub fn columns_for(&self, table: &TableColumns) -> Vec<ColumnId> {
        let has_field = |name: &str| {
            table.columns().iter().any(|c| matches!(c, ColumnId::Known(i) if crate::schema::CATALOG[*i].name == name))
        };
        (0..ENRICHED.len())
            .filter(|&i| self.has(ENRICHED[i].attr.table()) && has_field(ENRICHED[i].field))
            .map(ColumnId::Enriched)
            .collect()
    }
}
