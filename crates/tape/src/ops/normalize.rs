//! The core of every normalization layer: x̂ = (x − μ) · r over a group of
//! elements, with r = 1/√(σ² + ε) (σ² the biased variance), or the RMS form
//! x̂ = x · r with r = 1/√(mean(x²) + ε).
//!
//! The op works on a view `[outer, groups, inner]` and reduces over the outer
//! and inner axes of each group: `[1, rows, d]` for layer and RMS norm (one
//! group per row), `[N, C, spatial]` for batch norm (one group per channel),
//! `[1, N·G, (C/G)·spatial]` for group norm. The forward pass is one fused
//! kernel (two passes over the input for the moments, accumulated in f64, one
//! for the result); the gradient is written in `Var` ops,
//!
//! `∂x = r ⊙ (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂))` (centred),
//! `∂x = r ⊙ (g − x̂ ⊙ mean(g ⊙ x̂))` (RMS),
//!
//! means over each group, with r an op of its own whose value is the one the
//! forward pass computed and whose gradient is `∂x = −h ⊙ r² ⊙ x̂ / n`, so every
//! order differentiates again.

use rayon::prelude::*;

use super::elementwise::single;
use super::{Ctx, Grads};
use crate::error::Result;
use crate::float::Float;
use crate::tensor::buffers;
use crate::tensor::{PAR_THRESHOLD, Tensor};
use crate::var::Var;

/// Which statistic a normalization removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Centering {
    /// x̂ = (x − μ) / √(σ² + ε): layer, batch and group norm.
    Mean,
    /// x̂ = x / √(mean(x²) + ε): RMS norm.
    None,
}

/// The per-group statistics of one forward pass, each of length `groups`.
pub(crate) struct Moments {
    /// μ (0 for the RMS form).
    pub(crate) mean: Vec<f64>,
    /// σ², the biased variance (mean(x²) for the RMS form).
    pub(crate) var: Vec<f64>,
}

/// The axes of a `[outer, groups, inner]` view that the statistics reduce.
const GROUP_AXES: [isize; 2] = [0, 2];

/// μ and σ² of each group of `x` `[outer, groups, inner]`.
fn moments<T: Float>(
    x: &[T],
    outer: usize,
    groups: usize,
    inner: usize,
    centering: Centering,
) -> Moments {
    let count = outer * inner;
    let block = |o: usize, c: usize| &x[(o * groups + c) * inner..][..inner];
    let group = |c: usize| -> (f64, f64) {
        let mean = match centering {
            Centering::Mean => {
                let sum: f64 = (0..outer)
                    .flat_map(|o| block(o, c))
                    .map(|v| v.to_f64())
                    .sum();
                sum / count as f64
            }
            Centering::None => 0.0,
        };
        let squares: f64 = (0..outer)
            .flat_map(|o| block(o, c))
            .map(|v| (v.to_f64() - mean).powi(2))
            .sum();
        (mean, squares / count as f64)
    };
    let stats: Vec<(f64, f64)> = if x.len() < PAR_THRESHOLD {
        (0..groups).map(group).collect()
    } else {
        (0..groups).into_par_iter().map(group).collect()
    };
    let (mean, var) = stats.into_iter().unzip();
    Moments { mean, var }
}

/// r = 1/√(σ² + ε) of each group, in `T`, shaped `[1, groups, 1]`.
fn rstd<T: Float>(m: &Moments, eps: f64) -> Tensor<T> {
    let r: Vec<T> = m
        .var
        .iter()
        .map(|v| T::from_f64(1.0 / (v + eps).sqrt()))
        .collect();
    let groups = r.len();
    Tensor::from_vec(r, &[1, groups, 1]).expect("one value per group")
}

/// (x − μ) · r for each group of `x` `[outer, groups, inner]`.
fn apply<T: Float>(x: &Tensor<T>, mean: &[f64], r: &Tensor<T>) -> Tensor<T> {
    let (groups, inner) = (x.shape()[1], x.shape()[2]);
    let mut out = buffers::filled(x.numel(), T::ZERO);
    let row = |(b, (dst, src)): (usize, (&mut [T], &[T]))| {
        let c = b % groups;
        let (mu, rc) = (T::from_f64(mean[c]), r.data()[c]);
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = (s - mu) * rc;
        }
    };
    let blocks = out
        .chunks_mut(inner.max(1))
        .zip(x.data().chunks(inner.max(1)));
    if x.numel() < PAR_THRESHOLD {
        blocks.enumerate().for_each(row);
    } else {
        let par = out
            .par_chunks_mut(inner.max(1))
            .zip(x.data().par_chunks(inner.max(1)));
        par.enumerate().for_each(row);
    }
    Tensor::from_vec(out, x.shape()).expect("the input's shape")
}

impl<T: Float> Var<T> {
    /// x̂ of `self`, a `[outer, groups, inner]` view, and the moments it used.
    pub(crate) fn normalize_groups(
        &self,
        centering: Centering,
        eps: f64,
    ) -> Result<(Var<T>, Moments)> {
        let [outer, groups, inner] = <[usize; 3]>::try_from(self.shape()).expect("a 3-d view");
        let m = self.with_value(|x| moments(x.data(), outer, groups, inner, centering));
        let r = rstd::<T>(&m, eps);
        let value = self.with_value(|x| apply(x, &m.mean, &r));
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            let (x, xhat, g) = (&c.inputs[0], c.output, c.grad);
            let r = rstd_var(x, r.clone(), centering, eps);
            let projected = g.mul(xhat)?.mean_axes(&GROUP_AXES, true)?;
            let mut inner = g.sub(&xhat.mul(&projected)?)?;
            if centering == Centering::Mean {
                inner = inner.sub(&g.mean_axes(&GROUP_AXES, true)?)?;
            }
            single(inner.mul(&r)?)
        };
        let op = match centering {
            Centering::Mean => "normalize",
            Centering::None => "rms_normalize",
        };
        Ok((Var::try_from_op(op, value, &[self], rule)?, m))
    }
}

/// r of the groups of `x` as an op whose value is `r` (computed by the forward
/// pass) and whose gradient is −h ⊙ r² ⊙ x̂ / n.
fn rstd_var<T: Float>(x: &Var<T>, r: Tensor<T>, centering: Centering, eps: f64) -> Var<T> {
    let [outer, _, inner] = <[usize; 3]>::try_from(x.shape()).expect("a 3-d view");
    let n = T::from_f64((outer * inner) as f64);
    let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
        let (xhat, _) = c.inputs[0].normalize_groups(centering, eps)?;
        let scale = c.grad.mul(c.output)?.mul(c.output)?.div_scalar(n).neg();
        single(xhat.mul(&scale)?)
    };
    Var::from_op("norm_rstd", r, &[x], rule)
}
