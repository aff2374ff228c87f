//! Heat maps: a grid of values as coloured cells.

use std::path::Path;

use plotters::prelude::*;

use crate::Result;
use crate::render::{Area, DrawResult, render};

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
