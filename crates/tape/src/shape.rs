//! Shapes, strides and the NumPy broadcasting rule.

use smallvec::SmallVec;

use crate::error::{Result, TapeError};

/// A tensor's extents, outermost first. Up to four dimensions live inline.
pub type Shape = SmallVec<[usize; 4]>;

/// Number of elements of a shape (1 for the 0-d shape `[]`).
///
/// ```
/// assert_eq!(tapegrad_tape::shape::numel(&[2, 3, 4]), 24);
/// assert_eq!(tapegrad_tape::shape::numel(&[]), 1);
/// ```
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides, in elements: `strides[i] = Π_{j>i} shape[j]`.
///
/// ```
/// assert_eq!(tapegrad_tape::shape::strides(&[2, 3, 4]).as_slice(), &[12, 4, 1]);
/// ```
pub fn strides(shape: &[usize]) -> Shape {
    let mut out: Shape = smallvec::smallvec![0; shape.len()];
    let mut acc = 1;
    for i in (0..shape.len()).rev() {
        out[i] = acc;
        acc *= shape[i];
    }
    out
}

/// The shape two operands broadcast to under NumPy's rule: align the shapes at
/// their last axis; each pair of extents must be equal or one of them 1.
///
/// ```
/// use tapegrad_tape::shape::broadcast_shapes;
/// assert_eq!(broadcast_shapes("add", &[3, 1, 5], &[4, 1]).unwrap().as_slice(), &[3, 4, 5]);
/// assert!(broadcast_shapes("add", &[3], &[4]).is_err());
/// ```
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Shape> {
    let n = a.len().max(b.len());
    let mut out: Shape = smallvec::smallvec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TapeError::ShapeMismatch {
                    op,
                    lhs: a.into(),
                    rhs: b.into(),
                });
            }
        };
    }
    Ok(out)
}

/// Strides that read an array of shape `from` as if it had the (broadcast) shape
/// `to`: 0 along every axis that is broadcast. `from` must broadcast to `to`.
pub(crate) fn broadcast_strides(from: &[usize], to: &[usize]) -> Shape {
    let own = strides(from);
    let offset = to.len() - from.len();
    (0..to.len())
        .map(|i| {
            if i < offset || from[i - offset] == 1 {
                0
            } else {
                own[i - offset]
            }
        })
        .collect()
}

/// Turns a possibly negative axis into an index in `0..ndim`.
///
/// ```
/// use tapegrad_tape::shape::normalize_axis;
/// assert_eq!(normalize_axis("sum", -1, 3).unwrap(), 2);
/// assert!(normalize_axis("sum", 3, 3).is_err());
/// ```
pub fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    if axis < -n || axis >= n {
        return Err(TapeError::AxisOutOfRange { op, axis, ndim });
    }
    Ok(if axis < 0 {
        (axis + n) as usize
    } else {
        axis as usize
    })
}

/// Normalizes a list of axes, sorted and without repeats (a repeat is an error).
pub fn normalize_axes(op: &'static str, axes: &[isize], ndim: usize) -> Result<Shape> {
    let mut out: Shape = axes
        .iter()
        .map(|&a| normalize_axis(op, a, ndim))
        .collect::<Result<_>>()?;
    out.sort_unstable();
    for w in out.windows(2) {
        if w[0] == w[1] {
            return Err(TapeError::InvalidArgument {
                op,
                name: "axes",
                value: format!("{axes:?}"),
                reason: "an axis is repeated".into(),
            });
        }
    }
    Ok(out)
}
