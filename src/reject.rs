//! Why a line is rejected: one enum of kinds, each with the stable name the run report
//! counts it under (`rejects_by_reason`) and scripts may match.

use serde::Serialize;

/// The kind of a rejected line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectKind {
    /// An empty line.
    EmptyLine,
    /// A line over the length limit.
    LineTooLong,
    /// A control character (NUL, a stray `\r`) in the line.
    ControlCharacter,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// Not as many fields as the format has.
    FieldCount,
    /// Two spaces in a row.
    EmptyValue,
    /// A number field that holds no number.
    InvalidNumber,
    /// A number too large for its 32-bit field.
    OutOfRange,
    /// A `start` that is not Unix seconds between 1970 and 9999.
    BadStart,
    /// A value outside its field's syntax.
    InvalidValue,
    /// A value outside the set AWS documents for its field.
    UnknownValue,
    /// No date (or hour) for the partition: no `start`, none in the path.
    NoDate,
    /// No account and region for a layout that needs them.
    NoOrigin,
    /// The file has no header line and no format was given.
    NoHeader,
    /// The file's header cannot be used.
    BadHeader,
    /// The line is in a gzip member that failed its check.
    DamagedGzip,
    /// The line was cut off where the input is damaged.
    Truncated,
    /// A line of a CloudWatch Logs export that does not start with the event's timestamp.
    NoTimestamp,
}

impl RejectKind {
    /// The stable name (`field_count`, …).
    pub fn name(self) -> &'static str {
        match self {
            RejectKind::EmptyLine => "empty_line",
            RejectKind::LineTooLong => "line_too_long",
            RejectKind::ControlCharacter => "control_character",
            RejectKind::InvalidUtf8 => "invalid_utf8",
            RejectKind::FieldCount => "field_count",
            RejectKind::EmptyValue => "empty_value",
            RejectKind::InvalidNumber => "invalid_number",
            RejectKind::OutOfRange => "out_of_range",
            RejectKind::BadStart => "bad_start",
            RejectKind::InvalidValue => "invalid_value",
            RejectKind::UnknownValue => "unknown_value",
            RejectKind::NoDate => "no_date",
            RejectKind::NoOrigin => "no_origin",
            RejectKind::NoHeader => "no_header",
            RejectKind::BadHeader => "bad_header",
            RejectKind::DamagedGzip => "damaged_gzip",
            RejectKind::Truncated => "truncated",
            RejectKind::NoTimestamp => "no_timestamp",
        }
    }
}

impl std::fmt::Display for RejectKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serde_names() {
        for k in [RejectKind::EmptyLine, RejectKind::UnknownValue, RejectKind::DamagedGzip, RejectKind::Truncated] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
    }
}
