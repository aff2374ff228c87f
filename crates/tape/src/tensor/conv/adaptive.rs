//! Adaptive average pooling, as PyTorch's `adaptive_avg_pool2d`: output
//! `(i, j)` of an `Ho × Wo` result averages the input rows
//! `⌊i·H/Ho⌋ .. ⌈(i + 1)·H/Ho⌉` and columns `⌊j·W/Wo⌋ .. ⌈(j + 1)·W/Wo⌉`, so
//! the bins cover the input, overlap when the sizes do not divide, and repeat
//! rows when the output is the larger. The pooling `A` is linear; its adjoint
//! `Aᵀ` spreads each `g[i, j]` evenly over bin `(i, j)`.

use super::geometry::require_rank4;
use super::pool::for_planes;
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::tensor::buffers;

/// The input positions `start..end` of bin `i` of `out` bins over `len`:
/// `start = ⌊i·len/out⌋`, `end = ⌈(i + 1)·len/out⌉`.
fn bin(i: usize, out: usize, len: usize) -> (usize, usize) {
    (i * len / out, ((i + 1) * len).div_ceil(out))
}

/// The bins of every output position along one axis.
fn bins(out: usize, len: usize) -> Vec<(usize, usize)> {
    (0..out).map(|i| bin(i, out, len)).collect()
}

/// `[N, C, H, W]` with non-empty planes, for the op `op`.
fn check_input(op: &'static str, shape: &[usize]) -> Result<()> {
    require_rank4(op, "input", shape)?;
    if shape[2] == 0 || shape[3] == 0 {
        return Err(TapeError::InvalidShape {
            op,
            shape: shape.into(),
            reason: "input must have at least one row and one column".into(),
        });
    }
    Ok(())
}

/// The sizes of an adaptive pooling, input `(H, W)` to output `(Ho, Wo)`.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    planes: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
}

impl Sizes {
    fn new(input: &[usize], out_hw: (usize, usize)) -> Self {
        Self {
            planes: input[0] * input[1],
            h: input[2],
            w: input[3],
            ho: out_hw.0,
            wo: out_hw.1,
        }
    }
}

impl<T: Float> Tensor<T> {
    /// Adaptive average pooling of `self` `[N, C, H, W]` to
    /// `[N, C, Ho, Wo]` with `(Ho, Wo) = out_hw`; each bin's sum is divided
    /// by its height, then by its width (PyTorch's order).
    pub(crate) fn adaptive_avg_pool2d(&self, out_hw: (usize, usize)) -> Result<Tensor<T>> {
        check_input("adaptive_avg_pool2d", self.shape())?;
        let sz = Sizes::new(self.shape(), out_hw);
        let (rows, cols) = (bins(sz.ho, sz.h), bins(sz.wo, sz.w));
        let x = self.data();
        let mut out = buffers::filled(sz.planes * sz.ho * sz.wo, T::ZERO);
        for_planes(&mut out, sz.ho * sz.wo, self.numel(), |q, o| {
            let src = &x[q * sz.h * sz.w..][..sz.h * sz.w];
            for (line, &(r0, r1)) in o.chunks_exact_mut(sz.wo).zip(&rows) {
                for (v, &(c0, c1)) in line.iter_mut().zip(&cols) {
                    let mut sum = T::ZERO;
                    for r in r0..r1 {
                        sum = src[r * sz.w..][c0..c1].iter().fold(sum, |s, &x| s + x);
                    }
                    *v = sum / T::from_usize(r1 - r0) / T::from_usize(c1 - c0);
                }
            }
        });
        let shape = [self.shape()[0], self.shape()[1], sz.ho, sz.wo];
        Tensor::from_vec(out, &shape)
    }

    /// The adjoint of [`Tensor::adaptive_avg_pool2d`] for `self` = g
    /// `[N, C, Ho, Wo]` and an input of spatial size `input_hw`: each
    /// `g[i, j]`, divided by the bin's height and width, is added to every
    /// element of bin `(i, j)`.
    pub(crate) fn adaptive_avg_pool2d_adjoint(
        &self,
        input_hw: (usize, usize),
    ) -> Result<Tensor<T>> {
        let op = "adaptive_avg_pool2d_backward";
        require_rank4(op, "grad_output", self.shape())?;
        let gs = self.shape();
        let x_shape = [gs[0], gs[1], input_hw.0, input_hw.1];
        check_input(op, &x_shape)?;
        let sz = Sizes::new(&x_shape, (gs[2], gs[3]));
        let (rows, cols) = (bins(sz.ho, sz.h), bins(sz.wo, sz.w));
        let g = self.data();
        let mut out = buffers::filled(sz.planes * sz.h * sz.w, T::ZERO);
        if sz.ho * sz.wo == 0 {
            return Tensor::from_vec(out, &x_shape);
        }
        let work = out.len();
        for_planes(&mut out, sz.h * sz.w, work, |q, dx| {
            let src = &g[q * sz.ho * sz.wo..][..sz.ho * sz.wo];
            for (line, &(r0, r1)) in src.chunks_exact(sz.wo).zip(&rows) {
                for (&gv, &(c0, c1)) in line.iter().zip(&cols) {
                    let share = gv / T::from_usize(r1 - r0) / T::from_usize(c1 - c0);
                    for r in r0..r1 {
                        dx[r * sz.w..][c0..c1].iter_mut().for_each(|d| *d += share);
                    }
                }
            }
        });
        Tensor::from_vec(out, &x_shape)
    }
}

#[cfg(test)]
mod tests {
    use super::bin;

    #[test]
    fn bins_follow_pytorch() {
        // 7 → 3: [0, 3), [2, 5), [4, 7); 3 → 5 repeats rows.
        let seven: Vec<_> = (0..3).map(|i| bin(i, 3, 7)).collect();
        assert_eq!(seven, [(0, 3), (2, 5), (4, 7)]);
        let three: Vec<_> = (0..5).map(|i| bin(i, 5, 3)).collect();
        assert_eq!(three, [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]);
    }
}
