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

/// What the report records of one file read: its size and SHA-256 (taken before the
/// parser takes the bytes).
struct Fingerprint {
    bytes: u64,
    sha256: String,
}

impl Fingerprint {
    fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            bytes: bytes.len() as u64,
            sha256: Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect(),
        }
    }

    /// The record of the file.
    fn used(self, table: EnrichTable, file: &Location, version: Option<String>, entries: usize) -> EnrichmentUsed {
        EnrichmentUsed {
            table: table.name().to_string(),
            file: file.to_string(),
            bytes: self.bytes,
            sha256: self.sha256,
            version,
            entries: entries as u64,
        }
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

/// One kind of table, loaded, with the record of its files.
enum Loaded {
    Aws(AwsRanges, EnrichmentUsed),
    Geo(GeoDb, EnrichmentUsed),
    Inventory(Interfaces, Vec<EnrichmentUsed>),
}

/// AWS's ranges from `loc`.
fn load_ranges(loc: &Location, opts: &StorageOptions) -> Result<Loaded> {
    let bytes = read_all(loc, opts)?;
    let r = AwsRanges::parse(&bytes, &loc.to_string())?;
    let version = format!("syncToken {}, createDate {}", r.sync_token, r.create_date);
    let used = Fingerprint::of(&bytes).used(EnrichTable::AwsIpRanges, loc, Some(version), r.blocks());
    Ok(Loaded::Aws(r, used))
}

/// A MaxMind DB from `loc`.
fn load_geo(loc: &Location, opts: &StorageOptions) -> Result<Loaded> {
    let bytes = read_all(loc, opts)?;
    let print = Fingerprint::of(&bytes);
    let db = GeoDb::parse(bytes, &loc.to_string())?;
    let version = format!("{}, built {}", db.database_type, crate::report::rfc3339(db.build_epoch as i64));
    let used = print.used(EnrichTable::Geoip, loc, Some(version), db.networks);
    Ok(Loaded::Geo(db, used))
}

/// Every `interfaces` table given, as one inventory.
fn load_inventory<'a>(locations: impl Iterator<Item = &'a Location>, opts: &StorageOptions) -> Result<Loaded> {
    let (mut files, mut inventory) = (Vec::new(), Vec::new());
    for loc in locations {
        for file in interface_files(loc, opts)? {
            let bytes = read_all(&file, opts)?;
            inventory.push((file.to_string(), bytes));
            files.push(file);
        }
    }
    let inv = Interfaces::parse(&inventory)?;
    let used = files
        .iter()
        .zip(&inventory)
        .map(|(file, (_, bytes))| Fingerprint::of(bytes).used(EnrichTable::Interfaces, file, None, inv.len()))
        .collect();
    Ok(Loaded::Inventory(inv, used))
}

impl Tables {
    /// Reads every table `specs` names, each kind on a thread of its own (the tables of a
    /// run are independent, and a real country database or inventory takes a while); an
    /// `aws-ip-ranges` table given twice is a usage error. Of several tables that cannot
    /// be read, the first flag's is named. The report lists AWS's ranges and the MaxMind
    /// DBs in the order of their flags, then the inventory's files.
    pub fn load(specs: &[EnrichSpec], opts: &StorageOptions) -> Result<Tables> {
        let of = |table: EnrichTable| {
            specs.iter().enumerate().filter(move |(_, s)| s.table == table).map(|(i, s)| (i, &s.location))
        };
        let ranges: Vec<(usize, &Location)> = of(EnrichTable::AwsIpRanges).collect();
        if ranges.len() > 1 {
            return Err(Error::Usage("--enrich aws-ip-ranges= is given twice: give one ip-ranges.json".into()));
        }
        let mut loaded: Vec<(usize, Result<Loaded>)> = std::thread::scope(|s| {
            let threads: Vec<_> = ranges
                .iter()
                .map(|&(i, loc)| (i, s.spawn(move || load_ranges(loc, opts))))
                .chain(of(EnrichTable::Geoip).map(|(i, loc)| (i, s.spawn(move || load_geo(loc, opts)))))
                .collect();
            // The inventory on this thread, meanwhile.
            let inventory = of(EnrichTable::Interfaces)
                .next()
                .map(|(i, _)| (i, load_inventory(of(EnrichTable::Interfaces).map(|(_, loc)| loc), opts)));
            threads.into_iter().map(|(i, h)| (i, join(h))).chain(inventory).collect()
        });
        loaded.sort_by_key(|(i, _)| *i);
        let (mut t, mut inventory_used) = (Tables::default(), Vec::new());
        for (_, table) in loaded {
            match table? {
                Loaded::Aws(r, used) => {
                    t.aws = Some(r);
                    t.used.push(used);
                }
                Loaded::Geo(db, used) => {
                    t.geo.push(db);
                    t.used.push(used);
                }
                Loaded::Inventory(inv, used) => {
                    t.interfaces = Some(inv);
                    inventory_used = used;
                }
            }
        }
        t.used.extend(inventory_used);
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
