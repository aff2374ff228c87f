//! Matrix products on the tape: `matmul` (torch.matmul semantics) and
//! `matmul_t`, `op(A)·op(B)` over the last two axes with broadcast batch axes.
//! The gradients are themselves `matmul_t` calls, so no transpose is ever
//! copied and the rules can be differentiated again.

use smallvec::smallvec;

use super::{Ctx, Grads, OutputNotRead};
use crate::error::Result;
use crate::float::Float;
use crate::shape;
use crate::tensor::gemm::{Plan, Promoted, product};
use crate::var::Var;

impl<T: Float> Var<T> {
    /// The matrix product with `torch.matmul` semantics: `m×k @ k×n`; batched
    /// `…×m×k @ …×k×n` with the batch axes broadcast (NumPy rule); a 1-D left
    /// operand is read as `1×k` and a 1-D right operand as `k×1`, and that axis
    /// is removed from the result (1-D @ 1-D is the dot product, a 0-d var).
    ///
    /// `C = A B`: ∂A = g Bᵀ, ∂B = Aᵀ g (summed over broadcast batch axes).
    /// Errors with `ShapeMismatch` naming `matmul` and both shapes when the inner
    /// dimensions differ, an operand is 0-d, or the batch axes do not broadcast.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::parameter(Tensor::from_vec(vec![1.0f64, 2.0, 3.0, 4.0], &[2, 2]).unwrap());
    /// let x = Var::constant(Tensor::from_vec(vec![5.0, 6.0], &[2]).unwrap());
    /// let y = a.matmul(&x).unwrap();               // [1·5 + 2·6, 3·5 + 4·6]
    /// assert_eq!(y.value().data(), &[17.0, 39.0]);
    /// y.sum().backward().unwrap();                 // ∂/∂a = 1 xᵀ
    /// assert_eq!(a.grad().unwrap().data(), &[5.0, 6.0, 5.0, 6.0]);
    /// ```
    pub fn matmul(&self, other: &Var<T>) -> Result<Var<T>> {
        let p = Promoted::new(self.shape(), other.shape())?;
        self.reshape(&p.a)?
            .matmul_t(&other.reshape(&p.b)?, false, false)?
            .reshape(&p.out)
    }

    /// `C = op(A)·op(B)` over the last two axes, `op(X) = Xᵀ` (last two axes
    /// swapped) when its flag is set, batch axes broadcast. The transposes are
    /// read through strides, never materialized. Both operands need rank ≥ 2.
    ///
    /// Gradients, each again a `matmul_t`: ∂A = g op(B)ᵀ (or op(B) gᵀ when A is
    /// transposed), ∂B = op(A)ᵀ g (or gᵀ op(A) when B is transposed).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// // a linear layer: x [batch, in] · wᵀ with w [out, in]
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]).unwrap());
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0, 0.0, 3.0, 1.0, 0.0, 1.0], &[3, 2]).unwrap());
    /// let y = x.matmul_t(&w, false, true).unwrap();
    /// assert_eq!(y.value().data(), &[1.0, 5.0, 2.0]);
    /// y.sum().backward().unwrap();                 // ∂/∂w = gᵀ x, one row x per output
    /// assert_eq!(w.grad().unwrap().data(), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// ```
    pub fn matmul_t(
        &self,
        other: &Var<T>,
        transpose_self: bool,
        transpose_other: bool,
    ) -> Result<Var<T>> {
        let (ta, tb) = (transpose_self, transpose_other);
        let plan = Plan::new("matmul_t", self.shape(), other.shape(), ta, tb)?;
        let value = self.with_value(|a| other.with_value(|b| product(a, b, ta, tb, &plan)));
        Var::try_from_op(
            "matmul",
            value,
            &[self, other],
            OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let ga = if c.needs(0) {
                    Some(grad_a(c, ta, tb)?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(grad_b(c, ta, tb)?)
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            }),
        )
    }
}

/// ∂A of `C = op(A) op(B)`: `g op(B)ᵀ`, stored transposed (`op(B) gᵀ`) when A is.
fn grad_a<T: Float>(c: &Ctx<'_, T>, ta: bool, tb: bool) -> Result<Var<T>> {
    let (b, g) = (&c.inputs[1], c.grad);
    if ta {
        b.matmul_t(g, tb, true)
    } else {
        g.matmul_t(b, false, !tb)
    }
}

/// ∂B of `C = op(A) op(B)`: `op(A)ᵀ g`, stored transposed (`gᵀ op(A)`) when B is.
///
/// When B is one matrix shared by a batch of row-major A (a layer applied to a
/// batch of sequences), the batch is folded into the rows: the sum over the
/// batch is then the GEMM's own inner sum, not a batch of products summed after.
fn grad_b<T: Float>(c: &Ctx<'_, T>, ta: bool, tb: bool) -> Result<Var<T>> {
    let (a, b, g) = (&c.inputs[0], &c.inputs[1], c.grad);
    let batch = |v: &Var<T>| shape::numel(&v.shape()[..v.ndim() - 2]);
    if !ta && batch(b) == 1 && batch(a) > 1 {
        let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
        let n = g.shape()[g.ndim() - 1];
        let rows = batch(a) * m;
        let (af, gf) = (a.reshape(&[rows, k])?, g.reshape(&[rows, n])?);
        let folded = if tb {
            gf.matmul_t(&af, true, false)?
        } else {
            af.matmul_t(&gf, true, false)?
        };
        return folded.reshape(b.shape());
    }
    if tb {
        g.matmul_t(a, true, ta)
    } else {
        a.matmul_t(g, !ta, false)
    }
}
