//! The recurrence of an LSTM layer over a whole sequence as one op. Given the
//! input projections `xw_t = x_t W_ihᵀ + b_ih` of every step (one GEMM over
//! the sequence, outside this op), each step is
//!
//! `z_t = xw_t + (h_{t−1} W_hhᵀ + b_hh)`, `i, f, g, o = σ, σ, tanh, σ` of
//! z_t's four blocks of H, `c_t = f ⊙ c_{t−1} + i ⊙ g`, `h_t = o ⊙ tanh(c_t)`
//!
//! as PyTorch's LSTM computes it. The forward pass is one GEMM and one fused
//! loop a step; the gradient is backpropagation through time in the same
//! form: a step's
//!
//! `∂c = g_c + ∂h ⊙ o ⊙ (1 − tanh² c_t)`, `∂z = [∂c ⊙ g ⊙ i(1 − i),
//! ∂c ⊙ c_{t−1} ⊙ f(1 − f), ∂c ⊙ i ⊙ (1 − g²), ∂h ⊙ tanh c_t ⊙ o(1 − o)]`,
//! `∂h_{t−1} = ∂z W_hh`, `∂c_{t−1} = ∂c ⊙ f`,
//!
//! and `∂W_hh = Σ_t ∂z_tᵀ h_{t−1}` as one GEMM over the sequence. A gradient
//! that must be differentiable again is taken through the same recurrence
//! written in `Var` ops (`composed`).

use smallvec::smallvec;

use super::composed::composed_vjp;
use super::elementwise::sigmoid_scalar;
use super::{Ctx, Grads};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::tensor::gemm::{Layout, matmul_into};
use crate::var::{Var, is_grad_enabled};
use crate::vecmath::{Kernel, vectorized};

/// The sizes of one recurrence: steps L, batch N, hidden H.
#[derive(Clone, Copy)]
struct Dims {
    steps: usize,
    batch: usize,
    hidden: usize,
}

impl Dims {
    /// Elements of one step's `[N, H]` state.
    fn state(self) -> usize {
        self.batch * self.hidden
    }
}

/// What the forward pass keeps for the gradient: the four activated gates of
/// every step `[L, N, 4H]` and tanh c_t `[L, N, H]`; h_t and c_t are the op's
/// output.
struct Saved<T> {
    gates: Vec<T>,
    tanh_c: Vec<T>,
}

impl<T: Float> Var<T> {
    /// The LSTM recurrence over a sequence (see the module's formulas):
    /// `self` is xw `[L, N, 4H]` (the input projections with b_ih, gates in
    /// PyTorch's order i, f, g, o), `w_hh` `[4H, H]`, `h0` and `c0` `[N, H]`,
    /// `b_hh` `[4H]` or none. The result is `[2, L, N, H]`: the h_t of every
    /// step, then the c_t.
    ///
    /// Errors with `ShapeMismatch` naming the operand that does not fit.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// // L = 1, N = 1, H = 1: z = xw + h0 w = [0, 0, 0, 0].
    /// let xw = Var::parameter(Tensor::zeros(&[1, 1, 4]));
    /// let w = Var::parameter(Tensor::<f64>::ones(&[4, 1]));
    /// let (h0, c0) = (Var::constant(Tensor::zeros(&[1, 1])), Var::constant(Tensor::ones(&[1, 1])));
    /// let s = xw.lstm_recurrence(&w, None, &h0, &c0).unwrap();
    /// // i = f = o = ½, g = 0: c = ½ · 1, h = ½ tanh ½.
    /// assert_eq!(s.value().data(), &[0.5 * 0.5f64.tanh(), 0.5]);
    /// s.sum().backward().unwrap();
    /// assert!(xw.grad().is_some() && w.grad().is_some());
    /// ```
    pub fn lstm_recurrence(
        &self,
        w_hh: &Var<T>,
        b_hh: Option<&Var<T>>,
        h0: &Var<T>,
        c0: &Var<T>,
    ) -> Result<Var<T>> {
        let dims = check_shapes(self, w_hh, b_hh, h0, c0)?;
        let mut inputs = vec![self, w_hh, h0, c0];
        inputs.extend(b_hh);
        let values: Vec<Tensor<T>> = inputs.iter().map(|v| v.value()).collect();
        let bias = values.get(4).map(Tensor::data);
        let (out, saved) = forward(
            dims,
            values[0].data(),
            values[1].data(),
            bias,
            values[2].data(),
            values[3].data(),
        );
        let value = Tensor::from_vec(out, &[2, dims.steps, dims.batch, dims.hidden])?;
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            if is_grad_enabled() {
                return composed_vjp(c, |v| composed(&v[0], &v[1], v.get(4), &v[2], &v[3]));
            }
            backward(c, dims, &saved)
        };
        Var::try_from_op("lstm_recurrence", value, &inputs, rule)
    }
}

/// Dims of the recurrence, or the operand whose shape does not fit xw's.
fn check_shapes<T: Float>(
    xw: &Var<T>,
    w_hh: &Var<T>,
    b_hh: Option<&Var<T>>,
    h0: &Var<T>,
    c0: &Var<T>,
) -> Result<Dims> {
    let mismatch = |other: &Var<T>| TapeError::ShapeMismatch {
        op: "lstm_recurrence",
        lhs: xw.shape().into(),
        rhs: other.shape().into(),
    };
    let &[steps, batch, gates] = xw.shape() else {
        return Err(TapeError::InvalidShape {
            op: "lstm_recurrence",
            shape: xw.shape().into(),
            reason: "xw must be [L, N, 4H]".into(),
        });
    };
    if steps == 0 {
        return Err(TapeError::InvalidShape {
            op: "lstm_recurrence",
            shape: xw.shape().into(),
            reason: "the sequence is empty (L = 0)".into(),
        });
    }
    let hidden = gates / 4;
    if gates % 4 != 0 || w_hh.shape() != [gates, hidden] {
        return Err(mismatch(w_hh));
    }
    if let Some(b) = b_hh.filter(|b| b.shape() != [gates]) {
        return Err(mismatch(b));
    }
    if let Some(s) = [h0, c0].into_iter().find(|s| s.shape() != [batch, hidden]) {
        return Err(mismatch(s));
    }
    Ok(Dims {
        steps,
        batch,
        hidden,
    })
}

/// `out = [b; …; b] + h Wᵀ` (`[N, 4H]`), the recurrent half of z_t.
fn recurrent_term<T: Float>(dims: Dims, h: &[T], w: &[T], bias: Option<&[T]>, out: &mut [T]) {
    let (n, hidden) = (dims.batch, dims.hidden);
    if let Some(b) = bias {
        out.chunks_exact_mut(4 * hidden)
            .for_each(|row| row.copy_from_slice(b));
    }
    let (a, b) = (Layout::Normal, Layout::Transposed);
    matmul_into(n, hidden, 4 * hidden, h, a, w, b, out, bias.is_some());
}

/// The h_t and c_t of every step (`[2, L, N, H]` flat) and the saved gates.
fn forward<T: Float>(
    dims: Dims,
    xw: &[T],
    w: &[T],
    bias: Option<&[T]>,
    h0: &[T],
    c0: &[T],
) -> (Vec<T>, Saved<T>) {
    let (state, hidden) = (dims.state(), dims.hidden);
    let sequence = dims.steps * state;
    let mut out = vec![T::ZERO; 2 * sequence];
    let mut gates = vec![T::ZERO; 4 * sequence];
    let mut tanh_c = vec![T::ZERO; sequence];
    let mut hh = vec![T::ZERO; 4 * state];
    let (hs, cs) = out.split_at_mut(sequence);
    for t in 0..dims.steps {
        let (done_h, now_h) = hs.split_at_mut(t * state);
        let (done_c, now_c) = cs.split_at_mut(t * state);
        let (h_prev, c_prev) = match t {
            0 => (h0, c0),
            _ => (&done_h[(t - 1) * state..], &done_c[(t - 1) * state..]),
        };
        recurrent_term(dims, h_prev, w, bias, &mut hh);
        let span = 4 * t * state..4 * (t + 1) * state;
        vectorized(ForwardStep {
            hidden,
            xw: &xw[span.clone()],
            hh: &hh,
            c_prev,
            gates: &mut gates[span],
            c: &mut now_c[..state],
            tanh_c: &mut tanh_c[t * state..(t + 1) * state],
            h: &mut now_h[..state],
        });
    }
    (out, Saved { gates, tanh_c })
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

/// Backpropagation through time: ∂xw, ∂W_hh, ∂h0, ∂c0 and ∂b_hh.
fn backward<T: Float>(c: &Ctx<'_, T>, dims: Dims, saved: &Saved<T>) -> Result<Grads<T>> {
    let (state, hidden) = (dims.state(), dims.hidden);
    let sequence = dims.steps * state;
    let (g, out) = (c.grad.value(), c.output.value());
    let (g, out) = (g.data(), out.data());
    let (gh, gc) = g.split_at(sequence);
    let (hs, cs) = out.split_at(sequence);
    let (w, h0, c0) = (
        c.inputs[1].value(),
        c.inputs[2].value(),
        c.inputs[3].value(),
    );
    let mut dz = vec![T::ZERO; 4 * sequence];
    let mut dh = vec![T::ZERO; state];
    let mut dc = vec![T::ZERO; state];
    for t in (0..dims.steps).rev() {
        let c_prev = if t == 0 {
            c0.data()
        } else {
            &cs[(t - 1) * state..t * state]
        };
        let (step, span) = (
            t * state..(t + 1) * state,
            4 * t * state..4 * (t + 1) * state,
        );
        vectorized(BackwardStep {
            hidden,
            gh: &gh[step.clone()],
            gc: &gc[step.clone()],
            tanh_c: &saved.tanh_c[step],
            c_prev,
            gates: &saved.gates[span.clone()],
            dh: &dh,
            dc: &mut dc,
            dz: &mut dz[span],
        });
        let dz_t = &dz[4 * t * state..4 * (t + 1) * state];
        let (normal, n) = (Layout::Normal, dims.batch);
        matmul_into(
            n,
            4 * hidden,
            hidden,
            dz_t,
            normal,
            w.data(),
            normal,
            &mut dh,
            false,
        );
    }
    let gates_shape = [dims.steps * dims.batch, 4 * hidden];
    let dz = Tensor::from_vec(dz, &gates_shape)?;
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
        Some(Var::constant(state_grad(dh)?)),
        Some(Var::constant(state_grad(dc)?)),
    ];
    if c.inputs.len() > 4 {
        grads.push(db.map(Var::constant));
    }
    Ok(grads)
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
    let mut prev = Vec::with_capacity(dims.steps * state);
    prev.extend_from_slice(h0);
    prev.extend_from_slice(&hs[..(dims.steps - 1) * state]);
    let mut dw = vec![T::ZERO; 4 * hidden * hidden];
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

/// The recurrence in `Var` ops, step by step: the rule of every order above
/// the first, and the reference the fused loops are tested against.
pub(crate) fn composed<T: Float>(
    xw: &Var<T>,
    w_hh: &Var<T>,
    b_hh: Option<&Var<T>>,
    h0: &Var<T>,
    c0: &Var<T>,
) -> Result<Var<T>> {
    let (steps, n, hidden) = (xw.shape()[0], xw.shape()[1], h0.shape()[1]);
    let (mut h, mut c) = (h0.clone(), c0.clone());
    let (mut hs, mut cs) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for t in 0..steps {
        let z = xw.narrow(0, t, 1)?.reshape(&[n, 4 * hidden])?;
        let z = z.add(&h.linear(w_hh, b_hh)?)?;
        let gate = |k: usize| z.narrow(1, k * hidden, hidden);
        let (i, f) = (gate(0)?.sigmoid(), gate(1)?.sigmoid());
        let (g, o) = (gate(2)?.tanh(), gate(3)?.sigmoid());
        c = f.mul(&c)?.add(&i.mul(&g)?)?;
        h = o.mul(&c.tanh())?;
        hs.push(h.clone());
        cs.push(c.clone());
    }
    let stack = |v: &[Var<T>]| Var::stack(&v.iter().collect::<Vec<_>>(), 0);
    Var::stack(&[&stack(&hs)?, &stack(&cs)?], 0)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::composed;
    use crate::tensor::Tensor;
    use crate::var::Var;

    /// The fused value and first-order gradients against the composition's,
    /// in f64 and f32, with and without b_hh.
    #[test]
    fn fused_loops_equal_the_composition() {
        let mut rng = StdRng::seed_from_u64(3);
        let (steps, n, hidden) = (5, 3, 4);
        let shapes: [&[usize]; 5] = [
            &[steps, n, 4 * hidden],
            &[4 * hidden, hidden],
            &[n, hidden],
            &[n, hidden],
            &[4 * hidden],
        ];
        let values: Vec<Tensor<f64>> = shapes
            .iter()
            .map(|s| Tensor::rand_normal(s, 0.0, 1.0, &mut rng))
            .collect();
        let weights = Tensor::<f64>::rand_normal(&[2, steps, n, hidden], 0.0, 1.0, &mut rng);
        for with_bias in [true, false] {
            let run = |fused: bool| {
                let v: Vec<Var<f64>> = values.iter().cloned().map(Var::parameter).collect();
                let b = with_bias.then_some(&v[4]);
                let s = if fused {
                    v[0].lstm_recurrence(&v[1], b, &v[2], &v[3]).unwrap()
                } else {
                    composed(&v[0], &v[1], b, &v[2], &v[3]).unwrap()
                };
                s.mul(&Var::constant(weights.clone()))
                    .unwrap()
                    .sum()
                    .backward()
                    .unwrap();
                let grads: Vec<Option<Tensor<f64>>> = v.iter().map(Var::grad).collect();
                (s.value(), grads)
            };
            let (fused, composition) = (run(true), run(false));
            let close = |a: &Tensor<f64>, b: &Tensor<f64>| {
                assert_eq!(a.shape(), b.shape());
                for (x, y) in a.data().iter().zip(b.data()) {
                    assert!((x - y).abs() <= 1e-13 * (1.0 + y.abs()), "{x} vs {y}");
                }
            };
            close(&fused.0, &composition.0);
            for (k, (a, b)) in fused.1.iter().zip(&composition.1).enumerate() {
                match (a, b) {
                    (Some(a), Some(b)) => close(a, b),
                    (None, None) => assert!(k == 4 && !with_bias),
                    _ => panic!("gradient {k} present in one only"),
                }
            }
        }
    }
}
