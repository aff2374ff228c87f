//! PNG plots of experiment results: panels of lines with mean ± std bands (on
//! linear or log axes) and heat maps of a grid.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use super::error::{ExperimentError, Result};
use super::stats::MeanStd;

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
    /// use tapegrad::experiments::Line;
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
    /// use tapegrad::experiments::{Line, MeanStd};
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

/// A grid of values shown as coloured cells, each with its value printed.
#[derive(Debug, Clone, Default)]
pub struct HeatMap {
    /// The caption.
    pub title: String,
    /// The x-axis description.
    pub x_label: String,
    /// The y-axis description.
    pub y_label: String,
    /// One label per column.
    pub columns: Vec<String>,
    /// One label per row (row 0 at the bottom).
    pub rows: Vec<String>,
    /// `values[row][column]`; NaN cells are grey.
    pub values: Vec<Vec<f64>>,
    /// Cells whose value gets a bold outline (e.g. the best ones).
    pub marked: Vec<(usize, usize)>,
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

/// Draws `maps` side by side into the PNG `path`, with one colour scale
/// `range` (low values light, high values dark) for all of them.
pub fn heat_maps(path: &Path, maps: &[HeatMap], range: (f64, f64), cell: (u32, u32)) -> Result<()> {
    let size = (cell.0 * maps.len().max(1) as u32, cell.1);
    render(path, size, |root| {
        let areas = root.split_evenly((1, maps.len().max(1)));
        for (map, area) in maps.iter().zip(&areas) {
            draw_heat_map(area, map, range)?;
        }
        Ok(())
    })
}

type DrawResult = std::result::Result<(), Box<dyn std::error::Error>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Registers a system font, draws into a temporary PNG and renames it to `path`.
fn render(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<()> {
    let fail = |reason: String| ExperimentError::Plot {
        path: path.to_path_buf(),
        reason,
    };
    if font().is_none() {
        return Err(fail(format!(
            "no TrueType font found at {:?}",
            crate::train::FONT_PATHS
        )));
    }
    let tmp = temp_png(path);
    let result = (|| -> DrawResult {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
        Ok(())
    })();
    result.map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(ExperimentError::io(path))
}

/// The training program's first readable font, registered as `sans-serif` once.
fn font() -> Option<&'static str> {
    static FONT: OnceLock<Option<&'static str>> = OnceLock::new();
    *FONT.get_or_init(|| {
        crate::train::FONT_PATHS.iter().copied().find(|path| {
            let Ok(bytes) = std::fs::read(path) else {
                return false;
            };
            // plotters keeps fonts for the life of the process.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
        })
    })
}

fn temp_png(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()))
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

/// White (at `range.0`) to dark blue (at `range.1`).
fn shade(v: f64, range: (f64, f64)) -> RGBColor {
    if !v.is_finite() {
        return RGBColor(190, 190, 190);
    }
    let t = ((v - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(247.0, 8.0), mix(251.0, 48.0), mix(255.0, 107.0))
}

fn draw_heat_map(area: &Area<'_>, map: &HeatMap, range: (f64, f64)) -> DrawResult {
    let (nc, nr) = (map.columns.len(), map.rows.len());
    let mut chart = ChartBuilder::on(area)
        .caption(&map.title, ("sans-serif", 20))
        .margin(14)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(0f64..nc as f64, 0f64..nr as f64)?;
    let label = |labels: &[String], v: f64| {
        let i = v - 0.5;
        if (i - i.round()).abs() < 1e-6 && i >= 0.0 {
            labels.get(i.round() as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(&map.x_label)
        .y_desc(&map.y_label)
        .x_labels(2 * nc + 1)
        .y_labels(2 * nr + 1)
        .x_label_formatter(&|v| label(&map.columns, *v))
        .y_label_formatter(&|v| label(&map.rows, *v))
        .label_style(("sans-serif", 13))
        .draw()?;
    for (r, row) in map.values.iter().enumerate() {
        for (c, &v) in row.iter().enumerate() {
            let (x, y) = (c as f64, r as f64);
            let color = shade(v, range);
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x, y), (x + 1.0, y + 1.0)],
                color.filled(),
            )))?;
            let dark = (color.0 as u32 + color.1 as u32 + color.2 as u32) < 380;
            let ink = if dark { WHITE } else { BLACK };
            let text = if v.is_finite() {
                format!("{:.1}", 100.0 * v)
            } else {
                "—".into()
            };
            let style = TextStyle::from(("sans-serif", 14).into_font())
                .color(&ink)
                .pos(plotters::style::text_anchor::Pos::new(
                    plotters::style::text_anchor::HPos::Center,
                    plotters::style::text_anchor::VPos::Center,
                ));
            chart.draw_series(std::iter::once(Text::new(text, (x + 0.5, y + 0.5), style)))?;
        }
    }
    for &(r, c) in &map.marked {
        let (x, y) = (c as f64, r as f64);
        let frame = Rectangle::new(
            [(x + 0.04, y + 0.04), (x + 0.96, y + 0.96)],
            RED.stroke_width(3),
        );
        chart.draw_series(std::iter::once(frame))?;
    }
    Ok(())
}
