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

mod backward;
mod forward;
mod rows;

use super::composed::composed_vjp;
use super::{Ctx, Grads};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::{Var, is_grad_enabled};

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
        let operands = forward::Operands {
            xw: values[0].data(),
            w: values[1].data(),
            bias,
            h0: values[2].data(),
            c0: values[3].data(),
        };
        let (out, saved) = forward::forward(dims, &operands);
        let value = Tensor::from_vec(out, &[2, dims.steps, dims.batch, dims.hidden])?;
        let rule = move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
            if is_grad_enabled() {
                return composed_vjp(c, |v| composed(&v[0], &v[1], v.get(4), &v[2], &v[3]));
            }
            backward::backward(c, dims, &saved)
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

    /// One block of rows (a small recurrence).
    #[test]
    fn fused_loops_equal_the_composition() {
        assert_eq!(
            super::rows::blocks(super::Dims {
                steps: 5,
                batch: 3,
                hidden: 4
            })
            .len(),
            1
        );
        fused_equals_composition(5, 3, 4, 1e-13);
    }

    /// Three blocks of uneven rows (1, 1 and 3) on a pool of three threads.
    #[test]
    fn blocks_of_rows_on_threads_equal_the_composition() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        pool.install(|| {
            let dims = super::Dims {
                steps: 4,
                batch: 5,
                hidden: 256,
            };
            let blocks = super::rows::blocks(dims);
            assert_eq!(blocks, [0..1, 1..3, 3..5]);
            // Sums of 256 products, rounded in another order by the GEMMs.
            fused_equals_composition(4, 5, 256, 1e-10);
        });
    }

    /// The fused value and first-order gradients against the composition's,
    /// in f64, with and without b_hh.
    fn fused_equals_composition(steps: usize, n: usize, hidden: usize, tol: f64) {
        let mut rng = StdRng::seed_from_u64(3);
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
                    assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{x} vs {y}");
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
