//! Flow logs that went through CloudWatch Logs on their way to S3.
//!
//! - An export task (`CreateExportTask`) writes gzip objects in which each line is the
//!   event's ISO-8601 timestamp, a space, and the event's message: the flow-log record,
//!   without a header line ([`CLOUDWATCH_EXPORT`]).
//! - A subscription filter sends events to Firehose, which writes the payloads to S3 as
//!   they came: gzip JSON envelopes `{"messageType": "DATA_MESSAGE", "logGroup": …,
//!   "logStream": …, "logEvents": [{"id": …, "timestamp": …, "message": "<record>"}]}`,
//!   several of them concatenated in one object, and `CONTROL_MESSAGE` envelopes (sent to
//!   check the destination) that hold no records ([`CLOUDWATCH_SUBSCRIPTION`]).
//!
//! Neither names its fields: the format comes from `--format`, or is AWS's default
//! format when the first record has its 14 fields (the scan decides, and says so).

use serde::Deserialize;

use super::json::{JsonKind, Unwrapped};
use super::{Fields, FirstLine, Source, UnwrapLine};
use crate::parse::Reason;
use crate::reject::RejectKind;
use crate::source::{InputFile, OpenProblem};
use crate::storage::Storage;

/// CloudWatch Logs export objects (see the module's documentation).
pub struct CloudwatchExport;

/// The CloudWatch Logs export kind.
pub static CLOUDWATCH_EXPORT: CloudwatchExport = CloudwatchExport;

/// The CloudWatch Logs subscription kind (see the module's documentation).
pub static CLOUDWATCH_SUBSCRIPTION: JsonKind = JsonKind::new("cloudwatch-subscription", unwrap_envelopes);

/// The length of the ISO-8601 timestamp `line` starts with (`2023-08-01T00:00:05.000Z`:
/// date, `T`, time, optional fraction, optional `Z` or `±HH:MM`), if it starts with one.
pub(super) fn timestamp_len(line: &[u8]) -> Option<usize> {
    const SHAPE: &[u8; 19] = b"dddd-dd-ddTdd:dd:dd";
    if line.len() < SHAPE.len() {
        return None;
    }
    let fits = |shape: &[u8], bytes: &[u8]| {
        shape.iter().zip(bytes).all(|(s, b)| if *s == b'd' { b.is_ascii_digit() } else { s == b })
    };
    if !fits(SHAPE, line) {
        return None;
    }
    let mut n = SHAPE.len();
    if line.get(n) == Some(&b'.') {
        let digits = line[n + 1..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        n += 1 + digits;
    }
    match line.get(n) {
        Some(b'Z') => n += 1,
        Some(b'+' | b'-') if line.len() >= n + 6 && fits(b"+dd:dd", &[&[b'+'][..], &line[n + 1..n + 6]].concat()) => {
            n += 6
        }
        _ => {}
    }
    Some(n)
}

/// The record of an export line: what follows its timestamp and one space (a byte-order
/// mark before the first line's timestamp is left out).
fn after_timestamp(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
    let n = timestamp_len(line)?;
    (line.get(n) == Some(&b' ')).then(|| &line[n + 1..])
}

/// The record of an export line, or why the line is rejected.
fn export_record(line: &[u8]) -> Result<&[u8], Reason> {
    after_timestamp(line).ok_or_else(|| {
        Reason::new(
            RejectKind::NoTimestamp,
            "no timestamp: a line of a CloudWatch Logs export starts with the event's ISO-8601 timestamp and a \
             space, then the record",
        )
    })
}

impl Source for CloudwatchExport {
    fn name(&self) -> &'static str {
        "cloudwatch-export"
    }

    fn fields(&self) -> Fields {
        Fields::Nowhere
    }

    fn first_line(
        &self,
        storage: &dyn Storage,
        input: &InputFile,
        raw: Option<Vec<u8>>,
    ) -> Result<FirstLine, OpenProblem> {
        let first = super::stored_first_line(storage, input, raw)?;
        // A first line without a timestamp is rejected when the lines are read.
        let line = first.line.map(|l| after_timestamp(&l).map(<[u8]>::to_vec).unwrap_or(l));
        Ok(FirstLine { line, skipped: 0 })
    }

    fn unwrap_line(&self) -> Option<UnwrapLine> {
        Some(export_record)
    }
}

/// One envelope of a subscription payload (the fields flowlake reads).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "messageType")]
    message_type: String,
    #[serde(rename = "logEvents", default)]
    log_events: Vec<Event>,
}

#[derive(Deserialize)]
struct Event {
    message: String,
}

/// Unwraps the concatenated envelopes of `json`: each `DATA_MESSAGE` event's message
/// becomes a line (a line break inside a message becomes NUL, so that the event is one
/// line and rejected as a control character); `CONTROL_MESSAGE`s are counted; anything
/// else ends the records, with why.
fn unwrap_envelopes(json: &[u8]) -> Unwrapped {
    let mut out = Unwrapped::with_capacity(json.len() / 2);
    let mut events = 0u64;
    for envelope in serde_json::Deserializer::from_slice(json).into_iter::<Envelope>() {
        match envelope {
            Ok(e) if e.message_type == "DATA_MESSAGE" => {
                for ev in e.log_events {
                    out.push(&ev.message);
                    events += 1;
                }
            }
            Ok(e) if e.message_type == "CONTROL_MESSAGE" => out.skipped += 1,
            Ok(e) => {
                out.damage = Some(format!(
                    "after event {events}, an envelope with messageType `{}`, where a CloudWatch Logs subscription \
                     payload has DATA_MESSAGE or CONTROL_MESSAGE",
                    e.message_type.escape_debug()
                ));
                break;
            }
            Err(err) => {
                out.damage = Some(format!("the JSON is damaged after event {events}: {err}"));
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_lines_lose_their_timestamp() {
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05.000Z 2 123 eni-1"), Some(&b"2 123 eni-1"[..]));
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05Z 2"), Some(&b"2"[..]));
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05+02:00 2"), Some(&b"2"[..]));
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05 2"), Some(&b"2"[..]));
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05.Z 2"), None);
        assert_eq!(after_timestamp(b"2023-08-01 00:00:05Z 2"), None);
        assert_eq!(after_timestamp(b"2 123456789012 eni-1"), None);
        assert_eq!(after_timestamp(b"2023-08-01T00:00:05Z"), None);
        assert_eq!(after_timestamp(b""), None);
        assert_eq!(after_timestamp(b"\xef\xbb\xbf2023-08-01T00:00:05Z 2"), Some(&b"2"[..]));
    }

    #[test]
    fn subscription_payloads_unwrap_to_one_line_per_event() {
        let json = br#"{"messageType":"CONTROL_MESSAGE","logEvents":[{"id":"1","timestamp":1,"message":"CWL CONTROL MESSAGE"}]}
{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"eni-1","logEvents":[{"id":"1","timestamp":1,"message":"2 a"},{"id":"2","timestamp":1,"message":"2 b\nc"}]}{"messageType":"DATA_MESSAGE","logEvents":[{"id":"3","timestamp":1,"message":"2 \u0064"}]}"#;
        let u = unwrap_envelopes(json);
        assert_eq!(u.lines(), b"2 a\n2 b\0c\n2 d\n");
        assert_eq!((u.skipped, u.damage), (1, None));

        let cut = unwrap_envelopes(&json[..json.len() - 10]);
        assert_eq!(cut.lines(), b"2 a\n2 b\0c\n");
        assert!(cut.damage.unwrap().contains("damaged after event 2"), "events of whole envelopes are kept");

        let other = unwrap_envelopes(
            br#"{"messageType":"DATA_MESSAGE","logEvents":[{"message":"2 a"}]} {"messageType":"NEW_MESSAGE"}"#,
        );
        assert_eq!(other.lines(), b"2 a\n");
        assert!(other.damage.unwrap().contains("`NEW_MESSAGE`"));

        let not_json = unwrap_envelopes(b"version srcaddr\n2 10.0.0.1\n");
        assert!(not_json.lines().is_empty() && not_json.damage.unwrap().contains("after event 0"));
    }

    /// The payloads around a damaged gzip member are read; the member's are lost and named.
    #[test]
    fn payloads_around_a_damaged_member_are_read() {
        use crate::gzip::{BadMember, Damage};
        let env = |m: &str| format!(r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"message":"{m}"}}]}}"#);
        let (one, two, three) = (env("2 a"), env("2 b"), env("2 c"));
        let json = format!("{one}{two}{three}");
        let bad = |number: u64, range: std::ops::Range<usize>| BadMember {
            number,
            stored: 0..1,
            decompressed: range.start as u64..range.end as u64,
            damage: Damage::Checksum,
        };
        let middle = bad(2, one.len()..one.len() + two.len());
        let u = super::super::json::unwrap_around(json.as_bytes(), &[middle], unwrap_envelopes);
        assert_eq!(u.lines(), b"2 a\n2 c\n");
        let d = u.damage.unwrap();
        assert!(
            d.contains("gzip member 2") && d.contains("failed its CRC check") && d.contains("records are lost"),
            "{d}"
        );
        // A damaged member that ends inside a payload: what follows it up to the next
        // payload cannot be read either, and is named after the member.
        let ragged = bad(2, one.len()..one.len() + two.len() + 5);
        let u = super::super::json::unwrap_around(json.as_bytes(), &[ragged], unwrap_envelopes);
        assert_eq!(u.lines(), b"2 a\n");
        assert!(u.damage.unwrap().contains("after gzip member 2: the JSON is damaged after event 0"));
        // No damage: the whole object, as one stretch.
        let u = super::super::json::unwrap_around(json.as_bytes(), &[], unwrap_envelopes);
        assert_eq!((u.lines(), u.damage.as_deref()), (&b"2 a\n2 b\n2 c\n"[..], None));
    }
}
