//! im2col and its adjoint col2im: the column matrix of one group of one image.
//!
//! For a group of `C/groups` channels `[C/groups, H, W]`, row `(c, i, j)` and
//! column `(oh, ow)` of the column matrix `[K, P]` hold
//! `x[c, oh·sh + i·dh − ph, ow·sw + j·dw − pw]`, 0 in the padding; a GEMM of
//! the group's weight block `[O/groups, K]` with it is the group's output.

use super::geometry::{Geometry, valid_range};
use crate::float::Float;

/// Row `row` of the column matrix as (channel within the group, kernel row,
/// kernel column).
fn tap(geo: &Geometry, row: usize) -> (usize, usize, usize) {
    (row / (geo.kh * geo.kw), row / geo.kw % geo.kh, row % geo.kw)
}

/// For each kernel column `j`: the output columns `lo..hi` whose input column
/// `ow·sw + j·dw − pw` lies in the image.
fn column_ranges(geo: &Geometry) -> Vec<(usize, usize)> {
    (0..geo.kw)
        .map(|j| valid_range(geo.wo, geo.sw, j * geo.dw, geo.pw, geo.w))
        .collect()
}

/// Writes the column matrix `[K, P]` of one group of an image, `x` its
/// `[C/groups, H, W]` channels.
pub(crate) fn im2col<T: Float>(geo: &Geometry, x: &[T], cols: &mut [T]) {
    let (p, wo, plane) = (geo.p(), geo.wo, geo.h * geo.w);
    let ranges = column_ranges(geo);
    for (row, out) in cols.chunks_exact_mut(p).enumerate().take(geo.k()) {
        let (c, i, j) = tap(geo, row);
        let plane = &x[c * plane..][..plane];
        let (lo, hi) = ranges[j];
        for (oh, line) in out.chunks_exact_mut(wo).enumerate() {
            let ih = (oh * geo.sh + i * geo.dh).wrapping_sub(geo.ph);
            if ih >= geo.h {
                line.fill(T::ZERO);
                continue;
            }
            let src = &plane[ih * geo.w..][..geo.w];
            line[..lo].fill(T::ZERO);
            line[hi..].fill(T::ZERO);
            if lo == hi {
                continue;
            }
            let start = lo * geo.sw + j * geo.dw - geo.pw;
            if geo.sw == 1 {
                line[lo..hi].copy_from_slice(&src[start..start + hi - lo]);
            } else {
                for (k, v) in line[lo..hi].iter_mut().enumerate() {
                    *v = src[start + k * geo.sw];
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` into the element of
/// the group's channels `x` it was read from (`x` is overwritten, not
/// accumulated into).
pub(crate) fn col2im<T: Float>(geo: &Geometry, cols: &[T], x: &mut [T]) {
    x.fill(T::ZERO);
    let (p, wo, plane) = (geo.p(), geo.wo, geo.h * geo.w);
    let ranges = column_ranges(geo);
    for (row, out) in cols.chunks_exact(p).enumerate().take(geo.k()) {
        let (c, i, j) = tap(geo, row);
        let (lo, hi) = ranges[j];
        let plane = &mut x[c * plane..][..plane];
        for (oh, line) in out.chunks_exact(wo).enumerate() {
            let ih = (oh * geo.sh + i * geo.dh).wrapping_sub(geo.ph);
            if ih >= geo.h || lo == hi {
                continue;
            }
            let dst = &mut plane[ih * geo.w..][..geo.w];
            let start = lo * geo.sw + j * geo.dw - geo.pw;
            if geo.sw == 1 {
                // Contiguous: the compiler vectorizes this form.
                let dst = &mut dst[start..start + hi - lo];
                dst.iter_mut()
                    .zip(&line[lo..hi])
                    .for_each(|(d, &v)| *d += v);
            } else {
                let targets = dst[start..].iter_mut().step_by(geo.sw);
                targets.zip(&line[lo..hi]).for_each(|(d, &v)| *d += v);
            }
        }
    }
}
