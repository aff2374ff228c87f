//! The PNG plot of a run: loss and accuracy per epoch, train and test.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::error::{Result, TrainError};
use super::metrics::EpochMetrics;

/// Where the sans-serif TrueType font is looked for, in order: Debian/Ubuntu
/// (`fonts-dejavu-core`), Fedora, Arch, then macOS. The font is read at run
/// time so that no font ships with the crate and no system library is linked.
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
];

/// The plot's size in pixels.
const SIZE: (u32, u32) = (960, 360);

/// Registers the first readable font of [`FONT_PATHS`] as plotters'
/// `sans-serif`, once; returns the path used, or `None` if none was found.
fn font() -> Option<&'static str> {
    static FONT: OnceLock<Option<&'static str>> = OnceLock::new();
    *FONT.get_or_init(|| {
        FONT_PATHS.iter().copied().find(|path| {
            let Ok(bytes) = std::fs::read(path) else {
                return false;
            };
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

/// Draws `rows` to the PNG file `path` (written under a temporary name, then
/// renamed): cross-entropy on the left, accuracy in percent on the right, each
/// with a train and a test line over the epochs.
pub fn plot_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    let fail = |reason: String| TrainError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    if font().is_none() {
        return Err(fail(format!("no TrueType font found at {FONT_PATHS:?}")));
    }
    let tmp = png_temp_path(path);
    draw(&tmp, rows).map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(TrainError::io(path))
}

fn png_temp_path(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()))
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;

fn draw(path: &Path, rows: &[EpochMetrics]) -> DrawResult {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let loss = |f: fn(&EpochMetrics) -> f64| series(rows, f, 1.0);
    let acc = |f: fn(&EpochMetrics) -> f64| series(rows, f, 100.0);
    panel(
        &left,
        "cross-entropy loss",
        [
            ("train", loss(|m| m.train_loss)),
            ("test", loss(|m| m.test_loss)),
        ],
        rows.len(),
        SeriesLabelPosition::UpperRight,
    )?;
    panel(
        &right,
        "accuracy (%)",
        [
            ("train", acc(|m| m.train_accuracy)),
            ("test", acc(|m| m.test_accuracy)),
        ],
        rows.len(),
        SeriesLabelPosition::LowerRight,
    )?;
    root.present()?;
    Ok(())
}

fn series(rows: &[EpochMetrics], f: fn(&EpochMetrics) -> f64, scale: f64) -> Vec<(f64, f64)> {
    rows.iter()
        .map(|m| (m.epoch as f64, scale * f(m)))
        .collect()
}

/// One chart: two labelled lines over epochs 1..=epochs, the y range fitted to them.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    lines: [(&str, Vec<(f64, f64)>); 2],
    epochs: usize,
    legend: SeriesLabelPosition,
) -> std::result::Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let ys = lines.iter().flat_map(|(_, pts)| pts.iter().map(|p| p.1));
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    let pad = ((hi - lo) * 0.08).max(1e-3);
    let (lo, hi) = if lo.is_finite() {
        (lo - pad, hi + pad)
    } else {
        (0.0, 1.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0.7..(epochs.max(2) as f64 + 0.3), lo..hi)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .light_line_style(WHITE)
        .x_labels(epochs.clamp(2, 10))
        .x_label_formatter(&|x| format!("{x:.0}"))
        .label_style(("sans-serif", 14))
        .draw()?;
    let colors = [RGBColor(31, 119, 180), RGBColor(255, 127, 14)];
    for ((name, points), color) in lines.into_iter().zip(colors) {
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
        chart.draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, color.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .position(legend)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .draw()?;
    Ok(())
}
