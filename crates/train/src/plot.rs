//! The PNG plot of a run: loss and accuracy per epoch, train and test.

use std::path::Path;

use tapegrad_plot::{Corner, Line, Panel, line_panels};

use super::error::Result;
use super::metrics::EpochMetrics;

/// The size in pixels of each of the plot's two panels.
const PANEL: (u32, u32) = (480, 360);

/// Draws `rows` to the PNG file `path` (written under a temporary name, then
/// renamed): cross-entropy on the left, accuracy in percent on the right, each
/// with a train and a test line over the epochs.
pub fn plot_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    let line = |label: &str, scale: f64, f: fn(&EpochMetrics) -> f64| Line {
        label: label.into(),
        points: rows
            .iter()
            .map(|m| (m.epoch as f64, scale * f(m)))
            .collect(),
        ..Line::default()
    };
    let panel = |title: &str, lines, legend| Panel {
        title: title.into(),
        x_label: "epoch".into(),
        lines,
        legend,
        ..Panel::default()
    };
    let loss = panel(
        "cross-entropy loss",
        vec![
            line("train", 1.0, |m| m.train_loss),
            line("test", 1.0, |m| m.test_loss),
        ],
        Corner::UpperRight,
    );
    let accuracy = panel(
        "accuracy (%)",
        vec![
            line("train", 100.0, |m| m.train_accuracy),
            line("test", 100.0, |m| m.test_accuracy),
        ],
        Corner::LowerRight,
    );
    line_panels(path, &[loss, accuracy], 2, PANEL)?;
    Ok(())
}
