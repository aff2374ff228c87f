//! Backpropagation through time, in the blocks of batch rows of the forward
//! pass: each block walks the steps backwards on a thread of its own, one
//! vectorized loop for ∂z and a GEMM for ∂h_{t−1}; ∂W_hh and ∂b_hh are then
//! one GEMM and one sum over the whole sequence.

use std::ops::Range;

use rayon::prelude::*;
use smallvec::smallvec;

use super::rows::{self, rows_at, split_steps};
use super::{Dims, Saved};
use crate::error::Result;
use crate::float::Float;
use crate::ops::{Ctx, Grads};
use crate::tensor::Tensor;
use crate::tensor::buffers;
use crate::tensor::gemm::{Layout, matmul_into, matmul_into_threads};
use crate::var::Var;
use crate::vecmath::{Kernel, vectorized};

/// What every block reads: the gradients into h_t and c_t, the c_t of the
/// output, c0, W_hh and the saved gates and tanh c_t.
struct Inputs<'a, T> {
    gh: &'a [T],
    gc: &'a [T],
    cs: &'a [T],
    c0: &'a [T],
    w: &'a [T],
    saved: &'a Saved<T>,
}

/// What one block writes: its rows of ∂z a step, and of ∂h0 and ∂c0.
struct BlockOut<'a, T> {
    dz: Vec<&'a mut [T]>,
    dh0: &'a mut [T],
    dc0: &'a mut [T],
}

/// Backpropagation through time: ∂xw, ∂W_hh, ∂h0, ∂c0 and ∂b_hh.
pub(super) fn backward<T: Float>(c: &Ctx<'_, T>, dims: Dims, saved: &Saved<T>) -> Result<Grads<T>> {
    let (state, hidden) = (dims.state(), dims.hidden);
    let sequence = dims.steps * state;
    let (g, out) = (c.grad.value(), c.output.value());
    let (gh, gc) = g.data().split_at(sequence);
    let (hs, cs) = out.data().split_at(sequence);
    let (w, h0, c0) = (
        c.inputs[1].value(),
        c.inputs[2].value(),
        c.inputs[3].value(),
    );
    let inputs = Inputs {
        gh,
        gc,
        cs,
        c0: c0.data(),
        w: w.data(),
        saved,
    };
    let mut dz = buffers::filled(4 * sequence, T::ZERO);
    let (mut dh0, mut dc0) = (
        buffers::filled(state, T::ZERO),
        buffers::filled(state, T::ZERO),
    );
    let blocks = rows::blocks(dims);
    let whole = Dims { steps: 1, ..dims };
    let parts = split_steps(&mut dz, 4 * hidden, dims, &blocks)
        .into_iter()
        .zip(split_steps(&mut dh0, hidden, whole, &blocks))
        .zip(split_steps(&mut dc0, hidden, whole, &blocks));
    let work: Vec<_> = blocks
        .iter()
        .zip(parts)
        .map(|(rows, ((dz, mut dh0), mut dc0))| {
            let (dh0, dc0) = (dh0.remove(0), dc0.remove(0));
            (rows, BlockOut { dz, dh0, dc0 })
        })
        .collect();
    work.into_par_iter()
        .for_each(|(rows, out)| backward_block(dims, &inputs, rows, out));
    let dz = Tensor::from_vec(dz, &[dims.steps * dims.batch, 4 * hidden])?;
    let dw = c
        .needs(1)
        .then(|| weight_grad(dims, &dz, h0.data(), hs))
        .transpose()?;
    let db = match c.inputs.len() > 4 && c.needs(4) {
        true => Some(dz.sum_to(&[4 * hidden])?),
        false => None,
    };
    let state_grad = |v: Vec<T>| Tensor::from_vec(v, &[dims.batch, hidden]);
    let dxw = dz.reshape(&[dims.steps, dims.batch, 4 * hidden])?;
    let mut grads: Grads<T> = smallvec![
        Some(Var::constant(dxw)),
        dw.map(Var::constant),
        Some(Var::constant(state_grad(dh0)?)),
        Some(Var::constant(state_grad(dc0)?)),
    ];
    if c.inputs.len() > 4 {
        grads.push(db.map(Var::constant));
    }
    Ok(grads)
}

/// Every step, last first, for one block of rows on the calling thread; ∂h
/// and ∂c are carried from step to step and end as ∂h0 and ∂c0.
fn backward_block<T: Float>(
    dims: Dims,
    x: &Inputs<'_, T>,
    rows: &Range<usize>,
    out: BlockOut<'_, T>,
) {
    let (hidden, n) = (dims.hidden, rows.len());
    let (dh, dc) = (out.dh0, out.dc0);
    let c0 = &x.c0[rows.start * hidden..rows.end * hidden];
    for (t, dz) in out.dz.into_iter().enumerate().rev() {
        let c_prev = if t == 0 {
            c0
        } else {
            rows_at(x.cs, t - 1, hidden, dims, rows)
        };
        vectorized(BackwardStep {
            hidden,
            gh: rows_at(x.gh, t, hidden, dims, rows),
            gc: rows_at(x.gc, t, hidden, dims, rows),
            tanh_c: rows_at(&x.saved.tanh_c, t, hidden, dims, rows),
            c_prev,
            gates: rows_at(&x.saved.gates, t, 4 * hidden, dims, rows),
            dh: &*dh,
            dc: &mut *dc,
            dz: &mut *dz,
        });
        let (a, w) = ((&*dz, Layout::Normal), (x.w, Layout::Normal));
        matmul_into_threads(n, 4 * hidden, hidden, a, w, dh, false, 1);
    }
}

/// One step's pointwise gradient, row by row: from the gradients into h_t
/// and c_t (`gh`, `gc`) and ∂h carried from step t + 1 (`dh`), writes ∂z and
/// turns `dc`, the carried ∂c_t, into ∂c_{t−1}.
struct BackwardStep<'a, T> {
    hidden: usize,
    gh: &'a [T],
    gc: &'a [T],
    tanh_c: &'a [T],
    c_prev: &'a [T],
    gates: &'a [T],
    dh: &'a [T],
    dc: &'a mut [T],
    dz: &'a mut [T],
}

impl<T: Float> Kernel for BackwardStep<'_, T> {
    #[inline(always)]
    fn run(self) {
        let (n, width) = (self.hidden, 4 * self.hidden);
        let into = self
            .gh
            .chunks_exact(n)
            .zip(self.gc.chunks_exact(n))
            .zip(self.dh.chunks_exact(n));
        let cells = self.tanh_c.chunks_exact(n).zip(self.c_prev.chunks_exact(n));
        let rows = self
            .gates
            .chunks_exact(width)
            .zip(self.dz.chunks_exact_mut(width));
        let rows = rows.zip(self.dc.chunks_exact_mut(n));
        for ((((gh, gc), dh), (tanh_c, c_prev)), ((gates, d), dc)) in into.zip(cells).zip(rows) {
            let (i, rest) = gates.split_at(n);
            let (f, rest) = rest.split_at(n);
            let (g, o) = rest.split_at(n);
            let (di, rest) = d.split_at_mut(n);
            let (df, rest) = rest.split_at_mut(n);
            let (dg, d_o) = rest.split_at_mut(n);
            backward_lanes(
                [gh, gc, dh, tanh_c, c_prev],
                [i, f, g, o],
                [di, df, dg, d_o],
                dc,
            );
        }
    }
}

/// The lanes of one row of [`BackwardStep`], every slice as an argument of
/// its own so that the compiler knows they do not overlap and vectorizes.
#[inline(always)]
fn backward_lanes<T: Float>(
    [gh, gc, dh, tanh_c, c_prev]: [&[T]; 5],
    [i, f, g, o]: [&[T]; 4],
    [di, df, dg, d_o]: [&mut [T]; 4],
    dc: &mut [T],
) {
    let n = dc.len();
    let (gh, gc, dh, tanh_c, c_prev) = (&gh[..n], &gc[..n], &dh[..n], &tanh_c[..n], &c_prev[..n]);
    let (i, f, g, o) = (&i[..n], &f[..n], &g[..n], &o[..n]);
    let (di, df, dg, d_o) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n]);
    for j in 0..n {
        let dh = gh[j] + dh[j];
        let tc = tanh_c[j];
        let dct = gc[j] + dc[j] + dh * o[j] * (T::ONE - tc * tc);
        di[j] = dct * g[j] * (i[j] * (T::ONE - i[j]));
        df[j] = dct * c_prev[j] * (f[j] * (T::ONE - f[j]));
        dg[j] = dct * i[j] * (T::ONE - g[j] * g[j]);
        d_o[j] = dh * tc * (o[j] * (T::ONE - o[j]));
        dc[j] = dct * f[j];
    }
}

/// ∂W_hh = Σ_t ∂z_tᵀ h_{t−1}: one GEMM of ∂z `[L·N, 4H]` with the previous
/// states `[h0; h_0; …; h_{L−2}]`.
fn weight_grad<T: Float>(dims: Dims, dz: &Tensor<T>, h0: &[T], hs: &[T]) -> Result<Tensor<T>> {
    let (state, hidden) = (dims.state(), dims.hidden);
    let mut prev = buffers::with_capacity(dims.steps * state);
    prev.extend_from_slice(h0);
    prev.extend_from_slice(&hs[..(dims.steps - 1) * state]);
    let mut dw = buffers::filled(4 * hidden * hidden, T::ZERO);
    let rows = dims.steps * dims.batch;
    matmul_into(
        4 * hidden,
        rows,
        hidden,
        dz.data(),
        Layout::Transposed,
        &prev,
        Layout::Normal,
        &mut dw,
        false,
    );
    Tensor::from_vec(dw, &[4 * hidden, hidden])
}
