//! `flowlake schema`: the formats of inputs and the columns a conversion writes, or the field catalog.

use super::*;

#[derive(Args, Debug)]
pub(super) struct SchemaArgs {
    /// Input files or folders; without any, `--fields` is implied.
    #[arg(value_name = "INPUT")]
    inputs: Vec<String>,
    /// File-name pattern to select when walking folders (as for `convert`).
    #[arg(long = "glob", value_name = "PATTERN")]
    globs: Vec<String>,
    /// Format of headerless files (as for `convert`).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// What the inputs are (as for `convert`).
    #[arg(long, value_name = "KIND", default_value = InputKind::Auto.name(), value_parser = input_kinds())]
    input_kind: String,
    #[command(flatten)]
    s3: S3Args,
    /// List every field flowlake knows (no input needed).
    #[arg(long)]
    fields: bool,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

pub(super) fn schema(a: SchemaArgs) -> Result<u8> {
    if a.fields || a.inputs.is_empty() {
        if a.json {
            let rows: Vec<serde_json::Value> = CATALOG
                .iter()
                .map(|f| {
                    serde_json::json!({"field": f.name, "column": f.column, "parquet_type": f.ty.parquet(),
                        "sql_type": f.ty.sql(), "version": f.version, "kind": f.kind})
                })
                .collect();
            print_json(&rows)?;
        } else {
            outln!("{:<28} {:<28} {:<8} {:<7} {:>3}  kind", "field", "column", "parquet", "sql", "ver")?;
            for f in CATALOG {
                let kind = if f.kind == LogKind::Vpc { "vpc" } else { "transit-gateway" };
                outln!(
                    "{:<28} {:<28} {:<8} {:<7} {:>3}  {kind}",
                    f.name,
                    f.column,
                    f.ty.parquet(),
                    f.ty.sql(),
                    f.version
                )?;
            }
        }
        return Ok(0);
    }
    let input = InputArgs { inputs: a.inputs, globs: a.globs, format: a.format, input_kind: a.input_kind };
    let format = input.format()?;
    let reading = conversion::Reading { format: format.as_ref(), kind: input.kind() };
    let r = conversion::inspect(&input.locations()?, &input.globs, reading, &a.s3.options())?;
    if a.json {
        print_json(&r)?;
        return Ok(0);
    }
    outln!("{} input files, {} formats:", r.files, r.formats.len())?;
    for f in &r.formats {
        outln!("  v{} ({} files): {}", f.version, f.files, f.fields)?;
    }
    let kinds: Vec<String> = r.input_kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    outln!("  input kinds: {}", kinds.join(", "))?;
    if r.files_empty > 0 {
        outln!("  {} empty files", r.files_empty)?;
    }
    for (f, why) in &r.files_unusable {
        outln!("  unusable: {f}: {why}")?;
    }
    for (f, why) in &r.files_damaged {
        outln!("  unreadable: {f}: {why}")?;
    }
    for note in &r.notes {
        outln!("  note: {note}")?;
    }
    if !r.unknown_fields.is_empty() {
        outln!("  fields this version does not know (kept as string columns): {}", r.unknown_fields.join(", "))?;
    }
    outln!("\ntable columns (partition column `date` lives in the path):")?;
    outln!("  {:<28} {:<8} {:<7} {:>3}", "column", "parquet", "sql", "ver")?;
    for c in &r.columns {
        outln!("  {:<28} {:<8} {:<7} {:>3}", c.column, c.parquet_type, c.sql_type, c.version)?;
    }
    Ok(0)
}
