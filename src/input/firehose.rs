//! Flow logs published straight to Amazon Data Firehose, as Firehose delivers them to S3.
//!
//! AWS's guide says the flow-log service publishes "in plain text format"; what arrives in
//! the objects is one JSON object per record, `{"message": "<record>"}`, with the record as
//! it would be a line of an S3 delivery, and no header line. Firehose concatenates records
//! without delimiters unless its new-line delimiter is enabled, so the objects are read as
//! a stream of JSON values, separated by nothing, a line break or any white space. The
//! object is gzip when the stream's compression is GZIP, plain otherwise (the default).
//! The records' format comes from `--format`, or is AWS's default format when the first
//! record has its 14 fields.

use serde::Deserialize;

use super::json::{JsonKind, Unwrapped};

/// The Firehose kind (see the module's documentation).
pub static FIREHOSE: JsonKind = JsonKind::new("firehose", unwrap_records);

/// Whether `json` (white space trimmed) starts as a Firehose record does: an object whose
/// first key is `message`.
pub(super) fn starts_a_record(json: &[u8]) -> bool {
    json.strip_prefix(b"{")
        .map(<[u8]>::trim_ascii_start)
        .and_then(|rest| rest.strip_prefix(b"\"message\""))
        .is_some_and(|rest| rest.trim_ascii_start().starts_with(b":"))
}

#[derive(Deserialize)]
struct Record {
    message: String,
}

/// Unwraps the concatenated `{"message": …}` objects of `json`; anything else ends the
/// records, with why.
fn unwrap_records(json: &[u8]) -> Unwrapped {
    let mut out = Unwrapped::with_capacity(json.len());
    let mut records = 0u64;
    for record in serde_json::Deserializer::from_slice(json).into_iter::<Record>() {
        match record {
            Ok(r) => {
                out.push(&r.message);
                records += 1;
            }
            Err(err) => {
                out.damage = Some(format!(
                    "after record {records}, JSON that is not a Firehose record {{\"message\": …}}: {err}"
                ));
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
    fn records_concatenated_or_delimited_unwrap_to_lines() {
        let u = unwrap_records(
            b"{\"message\":\"2 a\"}{\"message\":\"2 b\"}\n{\"message\":\"2 c\"}\n\n {\"message\":\"2\\nd\"}\n",
        );
        assert_eq!(u.lines(), b"2 a\n2 b\n2 c\n2\0d\n");
        assert!(u.damage.is_none());
        let bad = unwrap_records(b"{\"message\":\"2 a\"}{\"other\":1}{\"message\":\"2 b\"}");
        assert_eq!(bad.lines(), b"2 a\n");
        assert!(bad.damage.unwrap().contains("after record 1"));
        assert!(starts_a_record(b"{ \"message\" :\"x\"}") && !starts_a_record(b"{\"messageType\":1}"));
    }
}
