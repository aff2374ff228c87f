//! The per-epoch numbers of a run and their CSV log.

use std::fmt::Write as _;
use std::path::Path;

use super::error::{Result, TrainError, quote};
use super::fsutil::write_atomically;

/// The CSV header of `metrics.csv`.
pub const CSV_HEADER: &str = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds";

/// What one epoch measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's training minibatches, each taken
    /// before its step (the running loss the progress bar shows at the end).
    pub train_loss: f64,
    /// Fraction of training samples classified correctly, during the epoch.
    pub train_accuracy: f64,
    /// Mean cross-entropy on the test set after the epoch.
    pub test_loss: f64,
    /// Fraction of test samples classified correctly after the epoch.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the epoch's training steps (evaluation excluded).
    pub seconds: f64,
}

/// The CSV text of `rows`: [`CSV_HEADER`], then one line per epoch. Floats are
/// written in Rust's shortest round-trip form, so [`parse_csv`] reads back the
/// same numbers.
///
/// ```
/// use tapegrad_train::{EpochMetrics, parse_csv, to_csv};
/// let row = EpochMetrics { epoch: 1, train_loss: 0.5, train_accuracy: 0.9,
///     test_loss: 0.25, test_accuracy: 0.95, seconds: 1.5 };
/// let text = to_csv(&[row]);
/// assert_eq!(text.lines().nth(1), Some("1,0.5,0.9,0.25,0.95,1.5"));
/// assert_eq!(parse_csv(&text).unwrap(), vec![row]);
/// ```
pub fn to_csv(rows: &[EpochMetrics]) -> String {
    let mut text = format!("{CSV_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            text,
            "{},{:?},{:?},{:?},{:?},{:?}",
            r.epoch, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.seconds
        );
    }
    text
}

/// Reads the text of [`to_csv`]; `Err` holds the reason the text is not such a log.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<EpochMetrics>, String> {
    let mut lines = text.lines();
    if lines.next() != Some(CSV_HEADER) {
        return Err(format!("the first line is not `{CSV_HEADER}`"));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            parse_row(line).ok_or_else(|| format!("line {}: bad row {}", i + 2, quote(line)))
        })
        .collect()
}

fn parse_row(line: &str) -> Option<EpochMetrics> {
    let fields: Vec<&str> = line.split(',').collect();
    let [epoch, a, b, c, d, e] = fields.as_slice() else {
        return None;
    };
    let num = |s: &str| s.parse::<f64>().ok();
    Some(EpochMetrics {
        epoch: epoch.parse().ok()?,
        train_loss: num(a)?,
        train_accuracy: num(b)?,
        test_loss: num(c)?,
        test_accuracy: num(d)?,
        seconds: num(e)?,
    })
}

/// Writes `rows` to `path` as CSV, atomically.
pub fn write_csv(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    write_atomically(path, to_csv(rows).as_bytes())
}

/// Reads a CSV log written by [`write_csv`].
pub fn read_csv(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
    parse_csv(&text).map_err(|reason| TrainError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    })
}
