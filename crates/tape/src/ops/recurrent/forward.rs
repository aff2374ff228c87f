//! The forward pass of the recurrence: each block of batch rows
//! ([`rows::blocks`]) runs every step on a thread of its own, a GEMM for the
//! recurrent term and one vectorized loop for the gates, c and h.

use std::ops::Range;

use rayon::prelude::*;

use super::rows::{self, rows_at, split_steps};
use super::{Dims, Saved};
use crate::float::Float;
use crate::ops::elementwise::sigmoid_scalar;
use crate::tensor::buffers;
use crate::tensor::gemm::{Layout, matmul_into_threads};
use crate::vecmath::{Kernel, vectorized};

/// The operands of the forward pass, read by every block.
pub(super) struct Operands<'a, T> {
    pub(super) xw: &'a [T],
    pub(super) w: &'a [T],
    pub(super) bias: Option<&'a [T]>,
    pub(super) h0: &'a [T],
    pub(super) c0: &'a [T],
}

/// What one block of rows writes: its rows of h_t, c_t, the gates and
/// tanh c_t, one slice a step.
struct BlockOut<'a, T> {
    h: Vec<&'a mut [T]>,
    c: Vec<&'a mut [T]>,
    gates: Vec<&'a mut [T]>,
    tanh_c: Vec<&'a mut [T]>,
}

/// The h_t and c_t of every step (`[2, L, N, H]` flat) and the saved gates.
pub(super) fn forward<T: Float>(dims: Dims, x: &Operands<'_, T>) -> (Vec<T>, Saved<T>) {
    let (hidden, sequence) = (dims.hidden, dims.steps * dims.state());
    let mut out = buffers::filled(2 * sequence, T::ZERO);
    let mut gates = buffers::filled(4 * sequence, T::ZERO);
    let mut tanh_c = buffers::filled(sequence, T::ZERO);
    let blocks = rows::blocks(dims);
    let (hs, cs) = out.split_at_mut(sequence);
    let parts = split_steps(hs, hidden, dims, &blocks)
        .into_iter()
        .zip(split_steps(cs, hidden, dims, &blocks))
        .zip(split_steps(&mut gates, 4 * hidden, dims, &blocks))
        .zip(split_steps(&mut tanh_c, hidden, dims, &blocks));
    let work: Vec<_> = blocks
        .iter()
        .zip(parts)
        .map(|(rows, (((h, c), gates), tanh_c))| {
            (
                rows,
                BlockOut {
                    h,
                    c,
                    gates,
                    tanh_c,
                },
            )
        })
        .collect();
    // W_hhᵀ `[H, 4H]` row-major, which the GEMMs read without packing.
    let w_t = transposed(x.w, 4 * hidden, hidden);
    work.into_par_iter()
        .for_each(|(rows, out)| forward_block(dims, x, &w_t, rows, out));
    (out, Saved { gates, tanh_c })
}

/// Every step for one block of rows, on the calling thread.
fn forward_block<T: Float>(
    dims: Dims,
    x: &Operands<'_, T>,
    w_t: &[T],
    rows: &Range<usize>,
    mut out: BlockOut<'_, T>,
) {
    let (hidden, n) = (dims.hidden, rows.len());
    let mut hh = buffers::filled(n * 4 * hidden, T::ZERO);
    let first = |s: &'_ [T]| -> Vec<T> { s[rows.start * hidden..rows.end * hidden].to_vec() };
    let (h0, c0) = (first(x.h0), first(x.c0));
    for t in 0..dims.steps {
        let (done_h, now_h) = out.h.split_at_mut(t);
        let (done_c, now_c) = out.c.split_at_mut(t);
        let (h_prev, c_prev): (&[T], &[T]) = match t {
            0 => (&h0, &c0),
            _ => (&*done_h[t - 1], &*done_c[t - 1]),
        };
        recurrent_term(n, hidden, h_prev, (w_t, x.bias), &mut hh);
        vectorized(ForwardStep {
            hidden,
            xw: rows_at(x.xw, t, 4 * hidden, dims, rows),
            hh: &hh,
            c_prev,
            gates: &mut *out.gates[t],
            c: &mut *now_c[0],
            tanh_c: &mut *out.tanh_c[t],
            h: &mut *now_h[0],
        });
    }
}

/// `out = [b; …; b] + h Wᵀ` (`[n, 4H]`), the recurrent half of z_t, from
/// Wᵀ `[H, 4H]`.
fn recurrent_term<T: Float>(
    n: usize,
    hidden: usize,
    h: &[T],
    (w_t, bias): (&[T], Option<&[T]>),
    out: &mut [T],
) {
    if let Some(b) = bias {
        out.chunks_exact_mut(4 * hidden)
            .for_each(|row| row.copy_from_slice(b));
    }
    let (a, w) = ((h, Layout::Normal), (w_t, Layout::Normal));
    matmul_into_threads(n, hidden, 4 * hidden, a, w, out, bias.is_some(), 1);
}

/// The `cols × rows` transpose of a row-major `rows × cols` matrix.
fn transposed<T: Float>(x: &[T], rows: usize, cols: usize) -> Vec<T> {
    (0..cols)
        .flat_map(|j| (0..rows).map(move |i| x[i * cols + j]))
        .collect()
}

/// One step's pointwise part, row by row: the gates from `xw + hh`, then c
/// and h.
struct ForwardStep<'a, T> {
    hidden: usize,
    xw: &'a [T],
    hh: &'a [T],
    c_prev: &'a [T],
    gates: &'a mut [T],
    c: &'a mut [T],
    tanh_c: &'a mut [T],
    h: &'a mut [T],
}

impl<T: Float> Kernel for ForwardStep<'_, T> {
    #[inline(always)]
    fn run(self) {
        let (n, width) = (self.hidden, 4 * self.hidden);
        let rows = self.xw.chunks_exact(width).zip(self.hh.chunks_exact(width));
        let states = self.c.chunks_exact_mut(n).zip(self.h.chunks_exact_mut(n));
        let rest = self
            .gates
            .chunks_exact_mut(width)
            .zip(self.c_prev.chunks_exact(n));
        let rest = rest.zip(self.tanh_c.chunks_exact_mut(n));
        for (((xw, hh), (c, h)), ((gates, c_prev), tanh_c)) in rows.zip(states).zip(rest) {
            for (k, block) in gates.chunks_exact_mut(n).enumerate() {
                let z = xw[k * n..].iter().zip(&hh[k * n..]).map(|(&x, &r)| x + r);
                if k == 2 {
                    block.iter_mut().zip(z).for_each(|(a, z)| *a = z.tanh());
                } else {
                    block
                        .iter_mut()
                        .zip(z)
                        .for_each(|(a, z)| *a = sigmoid_scalar(z));
                }
            }
            let (i, rest) = gates.split_at(n);
            let (f, rest) = rest.split_at(n);
            let (g, o) = rest.split_at(n);
            // Each loop is simple enough to vectorize.
            let cells = c.iter_mut().zip(f.iter().zip(c_prev)).zip(i.iter().zip(g));
            cells.for_each(|((c, (&f, &p)), (&i, &g))| *c = f * p + i * g);
            tanh_c.iter_mut().zip(&*c).for_each(|(t, &c)| *t = c.tanh());
            h.iter_mut()
                .zip(o.iter().zip(&*tanh_c))
                .for_each(|(h, (&o, &t))| *h = o * t);
        }
    }
}
