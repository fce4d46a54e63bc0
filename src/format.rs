//! Record formats: which fields a file's records hold, and in what order.
//!
//! A format comes from a file's header line (`version account-id …`), or, for
//! headerless input, from the user's `--format` (AWS's `${version} ${account-id} …`
//! format string, or a plain list of names).

use std::fmt;

use crate::error::{Error, Result};
use crate::schema::{self, ColumnId};

/// The ordered fields of one record format.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Format {
    fields: Vec<ColumnId>,
}

/// Why a header line could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The line does not look like a header (it holds values, not field names).
    NotAHeader,
    /// The line is empty.
    Empty,
    /// The header names one field twice.
    Duplicate(String),
    /// Two header fields would be one column (`x-y` and `x_y` are both `x_y`).
    SameColumn(String, String),
    /// A header field would be a column named like a partition column (`date`, `hour`, …),
    /// which lives in the folder names: the table would have that column twice.
    PartitionColumn(String),
}

impl fmt::Display for HeaderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderProblem::NotAHeader => f.write_str("the first line does not name flow-log fields"),
            HeaderProblem::Empty => f.write_str("the first line is empty"),
            HeaderProblem::Duplicate(n) => write!(f, "the header names field `{n}` twice"),
            HeaderProblem::SameColumn(a, b) => {
                write!(
                    f,
                    "the header's fields `{a}` and `{b}` would both be the column `{}`",
                    schema::sanitize_column(b)
                )
            }
            HeaderProblem::PartitionColumn(n) => write!(
                f,
                "the header's field `{n}` would be a column named like the partition column `{}`, which lives in the folder names",
                schema::sanitize_column(n)
            ),
        }
    }
}

/// UTF-8's byte-order mark, which some editors put before the first line.
const BOM: &[u8] = b"\xef\xbb\xbf";

/// Partition column names of every layout: no file column may take one of them.
fn is_partition_column(column: &str) -> bool {
    crate::partition::ALL_PARTITION_COLUMNS.iter().any(|c| crate::schema::sanitize_column(c) == column)
}

impl Format {
    /// The fields in record order.
    pub fn fields(&self) -> &[ColumnId] {
        &self.fields
    }

    /// Number of fields a record of this format has.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// True for a format with no fields (never produced by the parsers here).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The flow-log version implied by the fields: the highest version among them.
    pub fn version(&self) -> u8 {
        self.fields.iter().map(ColumnId::version).max().unwrap_or(0)
    }

    /// Fields of this format that are not in the catalog.
    pub fn unknown_fields(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().filter_map(|c| match c {
            ColumnId::Unknown(n) => Some(n.as_str()),
            ColumnId::Known(_) | ColumnId::Enriched(_) => None,
        })
    }

    /// The header line AWS would write for this format.
    pub fn header_line(&self) -> String {
        let names: Vec<&str> = self.fields.iter().map(|c| c.header_name()).collect();
        names.join(" ")
    }

    /// The AWS format string (`${version} ${account-id} …`).
    pub fn format_string(&self) -> String {
        let names: Vec<String> = self.fields.iter().map(|c| format!("${{{}}}", c.header_name())).collect();
        names.join(" ")
    }

    /// Parses a header line as AWS writes it at the top of every delivered file.
    ///
    /// A line is a header when every token looks like a field name (`[a-z][a-z0-9_-]*`)
    /// and at least one is a catalog field. Names the catalog does not know are
    /// kept (as string columns), so a field newer than this build loses nothing.
    pub fn from_header(line: &[u8]) -> std::result::Result<Format, HeaderProblem> {
        let line = trim_line_end(line);
        let line = line.strip_prefix(BOM).unwrap_or(line);
        // Spaces after the last name are harmless in a header (not in a record).
        let line = line.trim_ascii_end();
        if line.is_empty() {
            return Err(HeaderProblem::Empty);
        }
        let text = std::str::from_utf8(line).map_err(|_| HeaderProblem::NotAHeader)?;
        // Check shape before building anything: data lines are tested here too, and must stay cheap.
        let mut known = false;
        for tok in text.split(' ') {
            if !is_name_like(tok) {
                return Err(HeaderProblem::NotAHeader);
            }
            known |= schema::lookup_loose(tok).is_some();
        }
        if !known {
            return Err(HeaderProblem::NotAHeader);
        }
        let mut fields = Vec::new();
        for tok in text.split(' ') {
            let id = match schema::lookup_loose(tok) {
                Some(i) => ColumnId::Known(i),
                None => ColumnId::Unknown(tok.to_string()),
            };
            if fields.contains(&id) {
                return Err(HeaderProblem::Duplicate(tok.to_string()));
            }
            let column = id.column_name();
            if let Some(other) = fields.iter().find(|f| f.column_name() == column) {
                return Err(HeaderProblem::SameColumn(other.header_name().to_string(), tok.to_string()));
            }
            if is_partition_column(&column) {
                return Err(HeaderProblem::PartitionColumn(tok.to_string()));
            }
            fields.push(id);
        }
        Ok(Format { fields })
    }

    /// Parses a user-given format: AWS's format string (`${version} ${srcaddr} …`)
    /// or a plain space- or comma-separated list of field names. Unlike a header,
    /// an unknown name is an error here (it is almost always a typo), naming the
    /// closest known field.
    pub fn from_spec(spec: &str) -> Result<Format> {
        let mut fields = Vec::new();
        for raw in spec.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
            let name = raw.strip_prefix("${").and_then(|t| t.strip_suffix('}')).unwrap_or(raw);
            let Some(i) = schema::lookup_loose(name) else {
                return Err(Error::Usage(format!(
                    "unknown field `{name}` in format; did you mean `{}`? (`flowlake schema --fields` lists them all)",
                    schema::closest(name)
                )));
            };
            let id = ColumnId::Known(i);
            if fields.contains(&id) {
                return Err(Error::Usage(format!("format names field `{name}` twice")));
            }
            fields.push(id);
        }
        if fields.is_empty() {
            return Err(Error::Usage("the format names no fields".into()));
        }
        Ok(Format { fields })
    }

    /// AWS's default format (version 2, 14 fields).
    pub fn aws_default() -> Format {
        Format::from_spec(&schema::DEFAULT_FORMAT.join(" ")).expect("default format is in the catalog")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.header_line())
    }
}

fn is_name_like(tok: &str) -> bool {
    let b = tok.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'_')
}

/// Strips a trailing `\r` (files that passed through Windows tools).
pub(crate) fn trim_line_end(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_of_default_format() {
        let f = Format::from_header(b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\r").unwrap();
        assert_eq!(f, Format::aws_default());
        assert_eq!(f.version(), 2);
    }

    #[test]
    fn data_lines_are_not_headers() {
        let line = b"2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK";
        assert_eq!(Format::from_header(line), Err(HeaderProblem::NotAHeader));
        assert_eq!(
            Format::from_header(b"- eni-1235b8ca123456789 10.0.1.5 10.0.0.220 10.0.1.5 203.0.113.5"),
            Err(HeaderProblem::NotAHeader)
        );
    }

    #[test]
    fn unknown_header_fields_are_kept() {
        let f = Format::from_header(b"version srcaddr brand-new-field").unwrap();
        assert_eq!(f.unknown_fields().collect::<Vec<_>>(), ["brand-new-field"]);
        assert_eq!(f.fields()[2].column_name(), "brand_new_field");
    }

    #[test]
    fn duplicate_header_field() {
        assert_eq!(Format::from_header(b"version srcaddr srcaddr"), Err(HeaderProblem::Duplicate("srcaddr".into())));
    }

    #[test]
    fn header_fields_must_be_distinct_columns_and_not_partition_columns() {
        let e = Format::from_header(b"version srcaddr x-y x_y").unwrap_err();
        assert_eq!(e, HeaderProblem::SameColumn("x-y".into(), "x_y".into()));
        assert_eq!(e.to_string(), "the header's fields `x-y` and `x_y` would both be the column `x_y`");
        for name in ["date", "hour", "aws-account-id", "aws_region", "year", "month", "day", "aws-service"] {
            let line = format!("version srcaddr {name}");
            let e = Format::from_header(line.as_bytes()).unwrap_err();
            assert_eq!(e, HeaderProblem::PartitionColumn(name.into()), "{name}");
        }
        assert_eq!(
            HeaderProblem::PartitionColumn("date".into()).to_string(),
            "the header's field `date` would be a column named like the partition column `date`, which lives in the folder names"
        );
    }

    #[test]
    fn a_byte_order_mark_and_trailing_spaces_do_not_hide_a_header() {
        assert_eq!(Format::from_header(b"\xef\xbb\xbfversion srcaddr  \r").unwrap().header_line(), "version srcaddr");
        assert_eq!(Format::from_header(b""), Err(HeaderProblem::Empty));
        assert_eq!(Format::from_header(b"  \r"), Err(HeaderProblem::Empty));
    }

    #[test]
    fn format_string_and_plain_list() {
        let a = Format::from_spec("${version} ${vpc-id} ${srcaddr}").unwrap();
        let b = Format::from_spec("version vpc-id srcaddr").unwrap();
        let c = Format::from_spec("version,vpc_id,srcaddr").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.version(), 3);
        assert_eq!(a.format_string(), "${version} ${vpc-id} ${srcaddr}");
    }

    #[test]
    fn unknown_spec_field_names_the_closest() {
        let err = Format::from_spec("${version} ${srcadr}").unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown field `srcadr` in format; did you mean `srcaddr`? (`flowlake schema --fields` lists them all)"
        );
    }
}
