//! `Display` and `Debug` in NumPy's style: nested brackets for small tensors,
//! the corners with `...` for large ones.

use std::fmt;

use super::Tensor;
use crate::float::Float;

/// Above this many elements an axis prints only its first and last three entries.
const EDGE_ITEMS: usize = 3;
const SUMMARIZE_ABOVE: usize = 1000;

impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summarize = self.numel() > SUMMARIZE_ABOVE;
        let cells = collect_cells(self, summarize, f.precision());
        let width = cells.iter().map(String::len).max().unwrap_or(0);
        let mut cells = cells.into_iter();
        write_axis(f, self.shape(), 0, summarize, width, &mut cells)
    }
}

impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tensor({self}, shape={:?}, dtype={})",
            self.shape(),
            T::NAME
        )
    }
}

/// Formats each printed element, in the order they are printed.
fn collect_cells<T: Float>(
    t: &Tensor<T>,
    summarize: bool,
    precision: Option<usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    let strides = crate::shape::strides(t.shape());
    visit(t.shape(), &strides, 0, 0, summarize, &mut |offset| {
        let x = t.data()[offset];
        out.push(match precision {
            Some(p) => format!("{:.*}", p, x),
            None => format_number(x.to_f64()),
        });
    });
    out
}

fn format_number(x: f64) -> String {
    if x.is_finite() && x == x.trunc() && x.abs() < 1e16 {
        format!("{x:.0}.")
    } else if x.is_finite() && (x.abs() >= 1e8 || (x != 0.0 && x.abs() < 1e-4)) {
        format!("{x:.4e}")
    } else if x.is_finite() {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').to_string()
    } else {
        format!("{x}")
    }
}

fn shown(n: usize, summarize: bool) -> Vec<Option<usize>> {
    if summarize && n > 2 * EDGE_ITEMS {
        (0..EDGE_ITEMS)
            .map(Some)
            .chain(std::iter::once(None))
            .chain((n - EDGE_ITEMS..n).map(Some))
            .collect()
    } else {
        (0..n).map(Some).collect()
    }
}

fn visit(
    shape: &[usize],
    strides: &[usize],
    axis: usize,
    offset: usize,
    summarize: bool,
    f: &mut dyn FnMut(usize),
) {
    if axis == shape.len() {
        f(offset);
        return;
    }
    for i in shown(shape[axis], summarize).into_iter().flatten() {
        visit(
            shape,
            strides,
            axis + 1,
            offset + i * strides[axis],
            summarize,
            f,
        );
    }
}

fn write_axis(
    f: &mut fmt::Formatter<'_>,
    shape: &[usize],
    axis: usize,
    summarize: bool,
    width: usize,
    cells: &mut dyn Iterator<Item = String>,
) -> fmt::Result {
    if axis == shape.len() {
        let cell = cells.next().unwrap_or_default();
        return write!(f, "{cell:>width$}");
    }
    write!(f, "[")?;
    let separator = if axis + 1 == shape.len() {
        ", ".to_string()
    } else {
        format!(
            ",{}{}",
            "\n".repeat(shape.len() - axis - 1),
            " ".repeat(axis + 1)
        )
    };
    for (k, item) in shown(shape[axis], summarize).into_iter().enumerate() {
        if k > 0 {
            write!(f, "{separator}")?;
        }
        match item {
            Some(_) => write_axis(f, shape, axis + 1, summarize, width, cells)?,
            None => write!(f, "...")?,
        }
    }
    write!(f, "]")
}
