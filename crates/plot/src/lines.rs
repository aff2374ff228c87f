//! Line charts: panels of labelled lines with shaded bands, on linear or log axes.

use std::path::Path;

use plotters::prelude::*;

use crate::render::{Area, DrawResult, render};
use crate::stats::MeanStd;
use crate::{PALETTE, Result};

/// One labelled line, optionally with a shaded band (x, low, high) around it.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// The legend text.
    pub label: String,
    /// The (x, y) points, in order of x.
    pub points: Vec<(f64, f64)>,
    /// The band, e.g. mean ± one standard deviation.
    pub band: Vec<(f64, f64, f64)>,
    /// Drawn dashed and black (a reference, e.g. Newton's method).
    pub reference: bool,
}

impl Line {
    /// The geometric mean over seeds as the line and a factor of one standard
    /// deviation of log10 either way as the band: mean ± std of log10 y, for
    /// positive quantities spanning decades (an arithmetic band would dip below 0).
    ///
    /// ```
    /// use tapegrad_plot::Line;
    /// let line = Line::log_mean_std("sgd", &[1.0], &[vec![1e-2], vec![1e-4]]);
    /// assert!((line.points[0].1 - 1e-3).abs() < 1e-15);
    /// let (_, lo, hi) = line.band[0];
    /// assert!((lo * hi - 1e-6).abs() < 1e-18 && hi > 1e-3);
    /// ```
    pub fn log_mean_std(label: &str, xs: &[f64], series: &[Vec<f64>]) -> Self {
        let logs: Vec<Vec<f64>> = series
            .iter()
            .map(|s| s.iter().map(|v| v.log10()).collect())
            .collect();
        let stats = MeanStd::pointwise(&logs);
        let pow = |e: f64| 10f64.powf(e);
        Self {
            label: label.to_string(),
            points: xs
                .iter()
                .zip(&stats)
                .map(|(&x, s)| (x, pow(s.mean)))
                .collect(),
            band: xs
                .iter()
                .zip(&stats)
                .map(|(&x, s)| (x, pow(s.mean - s.std), pow(s.mean + s.std)))
                .collect(),
            reference: false,
        }
    }

    /// The mean over seeds as the line and mean ± std as the band, at `xs`.
    ///
    /// ```
    /// use tapegrad_plot::{Line, MeanStd};
    /// let stats = MeanStd::pointwise(&[vec![1.0, 2.0], vec![3.0, 2.0]]);
    /// let line = Line::mean_std("adam", &[1.0, 2.0], &stats);
    /// assert_eq!(line.points, vec![(1.0, 2.0), (2.0, 2.0)]);
    /// assert_eq!(line.band[0], (1.0, 2.0 - 2f64.sqrt(), 2.0 + 2f64.sqrt()));
    /// ```
    pub fn mean_std(label: &str, xs: &[f64], stats: &[MeanStd]) -> Self {
        Self {
            label: label.to_string(),
            points: xs.iter().zip(stats).map(|(&x, s)| (x, s.mean)).collect(),
            band: xs
                .iter()
                .zip(stats)
                .map(|(&x, s)| (x, s.mean - s.std, s.mean + s.std))
                .collect(),
            reference: false,
        }
    }
}

/// Where a panel's legend goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Corner {
    /// Top right.
    #[default]
    UpperRight,
    /// Top left.
    UpperLeft,
    /// Bottom right.
    LowerRight,
    /// Bottom left.
    LowerLeft,
}

/// One chart of a figure.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// The caption.
    pub title: String,
    /// The x-axis description.
    pub x_label: String,
    /// The y-axis description.
    pub y_label: String,
    /// Logarithmic x axis (values ≤ 0 are left out).
    pub log_x: bool,
    /// Logarithmic y axis (values ≤ 0 are left out; bands are cut at the axis).
    pub log_y: bool,
    /// Fixed y limits instead of the data's range.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub lines: Vec<Line>,
    /// The legend's corner.
    pub legend: Corner,
}

/// Draws `panels` side by side (`columns` per row) into the PNG `path`.
pub fn line_panels(path: &Path, panels: &[Panel], columns: usize, cell: (u32, u32)) -> Result<()> {
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (cell.0 * columns as u32, cell.1 * rows as u32);
    render(path, size, |root| {
        let areas = root.split_evenly((rows, columns));
        for (panel, area) in panels.iter().zip(&areas) {
            draw_panel(area, panel)?;
        }
        Ok(())
    })
}

/// log10 for log axes (None for values ≤ 0), the identity otherwise.
fn axis(log: bool) -> impl Fn(f64) -> Option<f64> {
    move |v: f64| match (log, v.is_finite()) {
        (_, false) => None,
        (true, _) if v <= 0.0 => None,
        (true, _) => Some(v.log10()),
        (false, _) => Some(v),
    }
}

/// A tick label: on a log axis the value is 10^v, shown with two significant digits.
fn tick(log: bool, v: f64) -> String {
    if !log {
        return trim(format!("{v:.3}"));
    }
    let exponent = v.round();
    if (v - exponent).abs() < 1e-9 && !(-3.0..=4.0).contains(&exponent) {
        return format!("1e{exponent}");
    }
    let x = 10f64.powf(v);
    let decimals = (1.0 - x.log10().floor()).max(0.0) as usize;
    trim(format!("{x:.decimals$}"))
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The (low, high) of the finite values, padded; (0, 1) if there are none.
fn limits(values: impl Iterator<Item = f64>, pad: f64) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let margin = ((hi - lo) * pad).max(1e-9);
    (lo - margin, hi + margin)
}

fn draw_panel(area: &Area<'_>, panel: &Panel) -> DrawResult {
    let (fx, fy) = (axis(panel.log_x), axis(panel.log_y));
    let xs = panel
        .lines
        .iter()
        .flat_map(|l| l.points.iter().filter_map(|p| fx(p.0)));
    let x_range = limits(xs, 0.02);
    let y_range = match panel.y_range {
        Some((lo, hi)) => (fy(lo).unwrap_or(0.0), fy(hi).unwrap_or(1.0)),
        None => limits(
            panel
                .lines
                .iter()
                .flat_map(|l| l.points.iter().filter_map(|p| fy(p.1))),
            0.05,
        ),
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x_range.0..x_range.1, y_range.0..y_range.1)?;
    let (log_x, log_y) = (panel.log_x, panel.log_y);
    let tick_count = |r: (f64, f64), log: bool| {
        if log {
            ((r.1 - r.0).ceil() as usize + 1).clamp(2, 12)
        } else {
            8
        }
    };
    chart
        .configure_mesh()
        .x_desc(&panel.x_label)
        .y_desc(&panel.y_label)
        .light_line_style(WHITE.mix(0.0))
        .x_labels(tick_count(x_range, log_x))
        .y_labels(tick_count(y_range, log_y))
        .x_label_formatter(&|v| tick(log_x, *v))
        .y_label_formatter(&|v| tick(log_y, *v))
        .label_style(("sans-serif", 14))
        .draw()?;
    let clip = |y: f64| y.clamp(y_range.0, y_range.1);
    for (i, line) in panel.lines.iter().enumerate() {
        let color = if line.reference {
            BLACK
        } else {
            PALETTE[i % PALETTE.len()]
        };
        let band: Vec<(f64, f64, f64)> = line
            .band
            .iter()
            .filter_map(|&(x, lo, hi)| {
                let lo = fy(lo).unwrap_or(y_range.0);
                Some((fx(x)?, clip(lo), clip(fy(hi)?)))
            })
            .collect();
        // One quadrilateral per interval: plotters' fill of a single long,
        // jagged polygon leaves stray vertical streaks.
        let quads = band.windows(2).map(|w| {
            let (a, b) = (w[0], w[1]);
            Polygon::new(
                vec![(a.0, a.2), (b.0, b.2), (b.0, b.1), (a.0, a.1)],
                color.mix(0.18).filled(),
            )
        });
        chart.draw_series(quads)?;
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter_map(|&(x, y)| Some((fx(x)?, clip(fy(y)?))))
            .collect();
        let style = color.stroke_width(2);
        let series = if line.reference {
            chart.draw_series(DashedLineSeries::new(points, 6, 4, style))?
        } else {
            chart.draw_series(LineSeries::new(points, style))?
        };
        series
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 13))
        .position(match panel.legend {
            Corner::UpperRight => SeriesLabelPosition::UpperRight,
            Corner::UpperLeft => SeriesLabelPosition::UpperLeft,
            Corner::LowerRight => SeriesLabelPosition::LowerRight,
            Corner::LowerLeft => SeriesLabelPosition::LowerLeft,
        })
        .draw()?;
    Ok(())
}
