//! What a run prints: a progress bar per epoch and a table row per epoch.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::metrics::EpochMetrics;

/// Prints to the terminal unless quiet: the bar on stderr, the table on stdout.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    quiet: bool,
}

impl Reporter {
    /// A reporter that prints (`quiet = false`) or stays silent.
    pub fn new(quiet: bool) -> Self {
        Self { quiet }
    }

    /// Prints a line of text (e.g. the description of the run).
    pub fn line(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }

    /// The column titles of the table.
    pub fn table_header(&self) {
        self.line(&format!(
            "{:>5}  {:>10}  {:>9}  {:>9}  {:>8}  {:>7}",
            "epoch", "train loss", "train acc", "test loss", "test acc", "seconds"
        ));
    }

    /// One table row.
    pub fn row(&self, m: &EpochMetrics) {
        self.line(&format!(
            "{:>5}  {:>10.4}  {:>8.2}%  {:>9.4}  {:>7.2}%  {:>7.2}",
            m.epoch,
            m.train_loss,
            100.0 * m.train_accuracy,
            m.test_loss,
            100.0 * m.test_accuracy,
            m.seconds
        ));
    }

    /// The bar of epoch `epoch` of `epochs`, over `batches` minibatches (hidden
    /// when quiet, and by indicatif when stderr is not a terminal).
    pub fn epoch_bar(&self, epoch: usize, epochs: usize, batches: usize) -> EpochBar {
        let bar = if self.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new(batches as u64)
        };
        let style = ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} batches · {msg} · {elapsed}",
        )
        .expect("the template is valid")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(format!("{epoch}/{epochs}"));
        bar.enable_steady_tick(Duration::from_millis(250));
        EpochBar { bar }
    }
}

/// The progress bar of one epoch.
#[derive(Debug)]
pub struct EpochBar {
    bar: ProgressBar,
}

impl EpochBar {
    /// Advances by one minibatch and shows the running mean loss and throughput.
    pub fn step(&self, running_loss: f64, samples_per_second: f64) {
        self.bar.inc(1);
        self.bar.set_message(format!(
            "loss {running_loss:.4} · {samples_per_second:.0} samples/s"
        ));
    }

    /// Removes the bar (the table row replaces it).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
