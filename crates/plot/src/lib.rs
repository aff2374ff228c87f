//! # tapegrad-plot
//!
//! The PNG figures of tapegrad's programs (the training program and the
//! lecture's experiments): panels of lines with mean ± std bands on linear or
//! log axes, heat maps of a grid, and the statistics behind the bands. Every
//! figure is drawn into a temporary file and renamed, so a plot on disk is
//! never half-written. The font is a system TrueType font read at run time
//! ([`FONT_PATHS`]); none ships with the crate and no system library is linked.
//!
//! ```no_run
//! use tapegrad_plot::{Line, Panel, line_panels};
//! let loss = Line {
//!     label: "train".into(),
//!     points: vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.4)],
//!     ..Line::default()
//! };
//! let panel = Panel { title: "loss".into(), x_label: "epoch".into(), lines: vec![loss], ..Panel::default() };
//! line_panels("loss.png".as_ref(), &[panel], 1, (480, 360)).unwrap();
//! ```

mod heat;
mod lines;
mod render;
mod stats;

use std::path::PathBuf;

use plotters::style::RGBColor;

pub use heat::{HeatMap, heat_maps};
pub use lines::{Corner, Line, Panel, line_panels};
pub use render::{FONT_PATHS, temp_png};
pub use stats::{MeanStd, sci};

/// The line colours, in order (matplotlib's "tab10").
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Why a figure could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// None of the font files exists or can be read.
    #[error("{}: cannot draw the plot: no TrueType font found at {searched:?}", path.display())]
    NoFont {
        /// The PNG file.
        path: PathBuf,
        /// The font files tried.
        searched: &'static [&'static str],
    },
    /// The drawing backend failed.
    #[error("{}: cannot draw the plot: {reason}", path.display())]
    Draw {
        /// The PNG file.
        path: PathBuf,
        /// The backend's message.
        reason: String,
    },
    /// Renaming the finished file into place failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The PNG file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with [`PlotError`].
pub type Result<T, E = PlotError> = std::result::Result<T, E>;
