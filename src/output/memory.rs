//! Tables kept in memory: what `Experiment::run` returns.

use super::{Column, Sink, Table, TableId};
use ndarray::{Array1, Array2, ArrayView1};

/// One recorded table: its columns (with units) and its values, rows x
/// columns, in the columns' display units (as in the files).
#[derive(Clone, Debug)]
pub struct ResultTable {
    pub name: String,
    pub columns: Vec<Column>,
    pub data: Array2<f64>,
}

impl ResultTable {
    /// The index of a column, by its header (`V_mV`) or its quantity's name
    /// (`V`).
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.header == name).or_else(|| {
            self.columns
                .iter()
                .position(|c| c.header.strip_prefix(name).is_some_and(|r| r.is_empty() || r.starts_with('_')))
        })
    }

    /// A column's values in its display unit.
    pub fn column(&self, name: &str) -> Option<ArrayView1<'_, f64>> {
        self.position(name).map(|k| self.data.column(k))
    }

    /// A column's values in SI units.
    pub fn column_si(&self, name: &str) -> Option<Array1<f64>> {
        let k = self.position(name)?;
        let scale = self.columns[k].scale;
        Some(self.data.column(k).mapv(|v| v * scale))
    }

    pub fn rows(&self) -> usize {
        self.data.nrows()
    }
}

/// Every table a run recorded.
#[derive(Clone, Debug, Default)]
pub struct Results {
    pub tables: Vec<ResultTable>,
}

impl Results {
    pub fn table(&self, name: &str) -> Option<&ResultTable> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The spikes as (neuron, time in ms), step by step (and within a
    /// step, neuron by neuron: the times within one step are not sorted).
    pub fn spikes(&self) -> Vec<(usize, f64)> {
        let Some(t) = self.table("spikes") else { return vec![] };
        t.data.rows().into_iter().map(|r| (r[0] as usize, r[1])).collect()
    }

    /// A network's plastic synapses at the end: (connection, pre, post,
    /// weight in SI), connection by connection, by source.
    pub fn weights(&self) -> Vec<(usize, usize, usize, f64)> {
        let Some(t) = self.table("weights") else { return vec![] };
        t.data.rows().into_iter().map(|r| (r[0] as usize, r[1] as usize, r[2] as usize, r[3])).collect()
    }
}

/// Keeps every table's rows.
#[derive(Default)]
pub struct MemorySink {
    tables: Vec<(Table, Vec<f64>)>,
}

impl MemorySink {
    pub fn new() -> MemorySink {
        MemorySink::default()
    }

    pub fn into_results(self) -> Results {
        let tables = self
            .tables
            .into_iter()
            .map(|(t, values)| {
                let cols = t.columns.len();
                let rows = values.len().checked_div(cols).unwrap_or(0);
                let data = Array2::from_shape_vec((rows, cols), values).unwrap_or_else(|_| Array2::zeros((0, cols)));
                ResultTable { name: t.name, columns: t.columns, data }
            })
            .collect();
        Results { tables }
    }
}

impl Sink for MemorySink {
    fn open(&mut self, table: Table) -> std::io::Result<TableId> {
        self.tables.push((table, Vec::new()));
        Ok(self.tables.len() - 1)
    }

    fn row(&mut self, table: TableId, row: &[f64]) -> std::io::Result<()> {
        let Some((t, values)) = self.tables.get_mut(table) else {
            return Err(std::io::Error::other("a row for a table that is not open"));
        };
        let n = t.columns.len();
        values.extend(row.iter().copied().chain(std::iter::repeat(f64::NAN)).take(n));
        Ok(())
    }
}
