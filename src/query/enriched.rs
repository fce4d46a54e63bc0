//! `--enrich` at query time: for a table converted without some lookup tables, the
//! enrichment columns those tables would have added, computed as the rows are read. The
//! table `flows` becomes a view over the files (`_flowlake_files`) with one more column per
//! enrichment column the files lack, each a SQL function over the record's own fields
//! that runs the conversion's [`Enricher`] on its batch.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::enrich::{Enricher, Tables};
use crate::schema::{CATALOG, ColumnId, ENRICHED, TableColumns, column_id};

/// One enrichment column computed at query time, from the record's fields.
struct EnrichColumn {
    name: String,
    /// The column.
    column: ColumnId,
    /// The fields it takes, as the function's arguments, in table order.
    input: TableColumns,
    enricher: Enricher,
    signature: Signature,
}

impl std::fmt::Debug for EnrichColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrichColumn").field("name", &self.name).finish()
    }
}

impl PartialEq for EnrichColumn {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for EnrichColumn {}

impl std::hash::Hash for EnrichColumn {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for EnrichColumn {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(self.column.arrow_type(self.column.ty()))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays = args
            .args
            .iter()
            .map(|a| cast(&a.to_array(n)?, &DataType::Utf8).map_err(DataFusionError::from))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let batch = RecordBatch::try_new(self.input.arrow_schema(), arrays)?;
        let out = self.enricher.apply(&batch);
        let i = out.schema().index_of(&self.column.column_name())?;
        Ok(ColumnarValue::Array(out.column(i).clone()))
    }
}

/// The fields an enrichment column's lookup reads: its own, and the record's VPC and
/// interface (for lookups within the VPC), those the files have.
fn inputs(field: &str, files: &[String]) -> TableColumns {
    let has = |name: &str| files.iter().any(|c| *c == name.replace('-', "_"));
    let ids = [field, "vpc-id", "interface-id"]
        .into_iter()
        .filter(|f| has(f))
        .map(|f| ColumnId::Known(crate::schema::lookup(f).expect("a catalog field")));
    TableColumns::from_columns(ids)
}

/// For the files' columns, the enrichment columns `tables` add that the files lack: each
/// (column name, the SQL that computes it), with the functions to register.
pub(super) fn columns(tables: &Arc<Tables>, files: &[String]) -> Vec<(String, String, ScalarUDF)> {
    let in_files = TableColumns::from_columns(files.iter().map(|c| column_id(c)));
    let mut out = Vec::new();
    for id in tables.columns_for(&in_files) {
        let ColumnId::Enriched(e) = id else { continue };
        let name = ENRICHED[e].column;
        if files.iter().any(|c| c == name) {
            continue;
        }
        let input = inputs(ENRICHED[e].field, files);
        let Some(enricher) = Enricher::only(tables.clone(), &input, |c| *c == id) else { continue };
        let args: Vec<String> = input
            .columns()
            .iter()
            .map(|c| match c {
                ColumnId::Known(i) => format!("\"{}\"", CATALOG[*i].column),
                _ => unreachable!("inputs are catalog fields"),
            })
            .collect();
        let fun = format!("_flowlake_{name}");
        let sql = format!("{fun}({})", args.join(", "));
        let udf = ScalarUDF::from(EnrichColumn {
            name: fun,
            column: id,
            input,
            enricher,
            signature: Signature::any(args.len(), Volatility::Immutable),
        });
        out.push((name.to_string(), sql, udf));
    }
    out
}
