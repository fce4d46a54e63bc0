//! What the JSON kinds share: an object read whole (gzip or plain), its records
//! unwrapped into lines, one per record, in order.

use std::io::Read;

use super::{Fields, FirstLine, Source};
use crate::gzip::BadMember;
use crate::source::{Decoded, InputFile, OpenProblem};
use crate::storage::Storage;

/// A kind whose inputs are JSON objects holding records (CloudWatch Logs subscription
/// payloads, Firehose deliveries): read whole, its records unwrapped by `unwrap`, one
/// line each; no header (the format comes from `--format`, or is AWS's default).
pub struct JsonKind {
    name: &'static str,
    unwrap: fn(&[u8]) -> Unwrapped,
}

impl JsonKind {
    pub(super) const fn new(name: &'static str, unwrap: fn(&[u8]) -> Unwrapped) -> JsonKind {
        JsonKind { name, unwrap }
    }
}

impl Source for JsonKind {
    fn name(&self) -> &'static str {
        self.name
    }

    fn own_first_line(&self) -> bool {
        true
    }

    fn fields(&self) -> Fields {
        Fields::Nowhere
    }

    fn first_line(
        &self,
        storage: &dyn Storage,
        input: &InputFile,
        _raw: Option<Vec<u8>>,
    ) -> Result<FirstLine, OpenProblem> {
        // The first record may be anywhere in the first object: read whole (and again by
        // the read stage; these objects are small).
        first_record(self.open(storage, input, u64::MAX)?)
    }

    fn open(&self, storage: &dyn Storage, input: &InputFile, _whole_max: u64) -> Result<Decoded, OpenProblem> {
        decode(Decoded::read_stored(storage, input)?, input, self.unwrap)
    }

    fn open_fetched(&self, bytes: Vec<u8>, input: &InputFile) -> Result<Decoded, OpenProblem> {
        decode(bytes, input, self.unwrap)
    }
}

/// Most decompressed bytes of one JSON object (read whole, as JSON is): 64 times its
/// stored size (JSON of log events compresses about tenfold), at least 16 MiB, at most 2 GiB,
/// so that a small gzip bomb cannot take the memory.
fn max_payload(stored: u64) -> u64 {
    stored.saturating_mul(64).clamp(16 << 20, 2 << 30)
}

/// The records a JSON kind unwrapped from an object, one line each, in order.
pub(super) struct Unwrapped {
    lines: Vec<u8>,
    /// Parts that hold no records by design (CloudWatch Logs control messages).
    pub skipped: u64,
    /// Why the records end before the object does.
    pub damage: Option<String>,
}

impl Unwrapped {
    pub(super) fn with_capacity(n: usize) -> Unwrapped {
        Unwrapped { lines: Vec::with_capacity(n.min(64 << 20)), skipped: 0, damage: None }
    }

    /// Adds a record as a line. A line break inside it becomes NUL, so that the record
    /// stays one line (and is rejected as a control character).
    pub(super) fn push(&mut self, record: &str) {
        let start = self.lines.len();
        self.lines.extend_from_slice(record.as_bytes());
        for b in &mut self.lines[start..] {
            if matches!(*b, b'\n' | b'\r') {
                *b = 0;
            }
        }
        self.lines.push(b'\n');
    }

    #[cfg(test)]
    pub(super) fn lines(&self) -> &[u8] {
        &self.lines
    }
}

/// Decompresses a whole object (gzip or plain) and unwraps its records with `unwrap`.
/// The JSON of a damaged gzip member cannot be read (nor told into records), so its
/// records are lost, and named as damage; the members around it are read on their own
/// (CloudWatch Logs compresses each subscription payload by itself, and Firehose
/// concatenates them, so one damaged member loses one payload).
fn decode(bytes: Vec<u8>, input: &InputFile, unwrap: fn(&[u8]) -> Unwrapped) -> Result<Decoded, OpenProblem> {
    let stored = bytes.len() as u64;
    let mut decoded = Decoded::from_bytes(bytes, input)?;
    let gzip = decoded.is_gzip();
    let mut json = Vec::new();
    let max = max_payload(stored);
    let cut = (&mut decoded).take(max + 1).read_to_end(&mut json).err();
    if json.len() as u64 > max {
        return Err(OpenProblem(format!(
            "the object decompresses to more than {} MiB of JSON, 64 times its stored size: more than flowlake \
             reads as one object (a gzip bomb, or not flow logs)",
            max >> 20
        )));
    }
    let mut u = unwrap_around(&json, &decoded.bad_members(), unwrap);
    if let Some(e) = cut {
        let what = if gzip { "gzip stream damaged" } else { "read failed" };
        let after = u.damage.map(|d| format!("; {d}")).unwrap_or_default();
        u.damage = Some(format!("{what} at byte {}: {e}{after}", decoded.compressed_offset()));
    }
    Ok(Decoded::from_records(u.lines, stored, gzip, u.damage, u.skipped))
}

/// The records of `json` unwrapped by `unwrap`, leaving out the bytes of damaged gzip
/// members (`bad`, in order): each stretch between them is unwrapped on its own, and each
/// damaged member (and any damage within a stretch) is named in the damage.
pub(super) fn unwrap_around(json: &[u8], bad: &[BadMember], unwrap: fn(&[u8]) -> Unwrapped) -> Unwrapped {
    if bad.is_empty() {
        // The usual case: one stretch, its lines not copied again.
        return unwrap(json.strip_prefix(b"\xef\xbb\xbf").unwrap_or(json));
    }
    let mut all = Unwrapped::with_capacity(json.len() / 2);
    let mut damage = Vec::new();
    let mut from = 0usize;
    let mut after: Option<&BadMember> = None;
    let stretches = bad.iter().map(Some).chain([None]);
    for next in stretches {
        let to = next.map_or(json.len(), |m| (m.decompressed.start as usize).clamp(from, json.len()));
        let stretch = &json[from..to];
        let stretch = if from == 0 { stretch.strip_prefix(b"\xef\xbb\xbf").unwrap_or(stretch) } else { stretch };
        if !stretch.iter().all(u8::is_ascii_whitespace) {
            let u = unwrap(stretch);
            all.lines.extend_from_slice(&u.lines);
            all.skipped += u.skipped;
            if let Some(d) = u.damage {
                damage.push(match after {
                    Some(m) => format!("after gzip member {}: {d}", m.number),
                    None => d,
                });
            }
        }
        if let Some(m) = next {
            damage.push(format!("{}: the JSON in it cannot be read, so its records are lost", m.describe()));
            from = (m.decompressed.end as usize).clamp(to, json.len());
            after = Some(m);
        }
    }
    all.damage = (!damage.is_empty()).then(|| damage.join("; "));
    all
}

/// The first record of an object opened by [`decode`]. An object whose records end in
/// damage before the first is damaged; damage after it is reported when the records are read.
fn first_record(mut decoded: Decoded) -> Result<FirstLine, OpenProblem> {
    let skipped = decoded.skipped();
    let mut lines = Vec::new();
    let read = decoded.read_to_end(&mut lines);
    match lines.split(|b| *b == b'\n').next().filter(|_| !lines.is_empty()) {
        Some(first) => Ok(FirstLine { line: Some(first.to_vec()), skipped }),
        None => match read {
            Err(e) => Err(OpenProblem(format!("records unreadable before the first: {e}"))),
            Ok(_) => Ok(FirstLine { line: None, skipped }),
        },
    }
}
