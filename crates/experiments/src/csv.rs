//! CSV tables of experiment results, written atomically.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::Path;

use super::error::{ExperimentError, Result};

/// A CSV table: a header and rows of already formatted fields. Numbers go in
/// through [`num`], which writes the shortest text that reads back as the same
/// `f64`.
///
/// ```
/// use tapegrad_experiments::{Csv, num};
/// let mut table = Csv::new(&["optimizer", "seed", "loss"]);
/// table.row(vec!["adam".into(), "0".into(), num(0.25)]);
/// assert_eq!(table.text(), "optimizer,seed,loss\nadam,0,0.25\n");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Csv {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Csv {
    /// An empty table with these column names.
    pub fn new(columns: &[&str]) -> Self {
        Self {
            header: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends one row (as many fields as columns).
    pub fn row(&mut self, fields: Vec<String>) {
        debug_assert_eq!(fields.len(), self.header.len());
        self.rows.push(fields);
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as CSV text, one line per row after the header.
    pub fn text(&self) -> String {
        let mut out = self.header.join(",");
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "{}", row.join(","));
        }
        out
    }

    /// Writes [`Csv::text`] to `path` through a temporary file renamed over it.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomically(path, self.text().as_bytes())
    }
}

/// `x` in Rust's shortest round-trip form (`0.1`, `1e-12`, `NaN`).
pub fn num(x: f64) -> String {
    format!("{x:?}")
}

/// Writes `bytes` beside `path` under a temporary name, then renames it over `path`.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(ExperimentError::io(&tmp))?;
    fs::rename(&tmp, path).map_err(ExperimentError::io(path))
}

/// Creates `dir` and its parents.
pub(crate) fn create_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(ExperimentError::io(dir))
}
