//! The affine map of a fully connected layer as one op, `y = x Wᵀ + b`: the
//! GEMM starts from the bias rows and adds the product to them (PyTorch's
//! `addmm`), so the product and the sum are one pass and one saved result.

use smallvec::smallvec;

use super::{Ctx, Grads, OutputNotRead};
use crate::error::{Result, TapeError};
use crate::float::Float;
use crate::tensor::Tensor;
use crate::tensor::buffers;
use crate::tensor::gemm::{Layout, matmul_into};
use crate::var::Var;

impl<T: Float> Var<T> {
    /// `x Wᵀ + b` for `self` = x `[rows, in]`, `weight` `[out, in]` and an
    /// optional `bias` `[out]`, as PyTorch's `nn.functional.linear` on a 2-D
    /// input. With a bias the result starts as the bias rows and the GEMM adds
    /// `x Wᵀ` to them; without one it is `x.matmul_t(weight, false, true)`.
    ///
    /// ∂x = g W, ∂W = gᵀ x, ∂b = Σ over rows of g, each built from
    /// differentiable ops (second derivatives hold).
    ///
    /// Errors with `ShapeMismatch` when x or the weight is not 2-D, their
    /// inner sizes differ, or the bias is not `[out]`.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0f64, 2.0], &[1, 2]).unwrap());
    /// let w = Var::parameter(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0], &[3, 2]).unwrap());
    /// let b = Var::parameter(Tensor::from_vec(vec![0.5, 0.5, 0.5], &[3]).unwrap());
    /// let y = x.linear(&w, Some(&b)).unwrap();
    /// assert_eq!(y.value().data(), &[1.5, 2.5, 3.5]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(w.grad().unwrap().data(), &[1.0, 2.0, 1.0, 2.0, 1.0, 2.0]);
    /// assert_eq!(b.grad().unwrap().data(), &[1.0, 1.0, 1.0]);
    /// ```
    pub fn linear(&self, weight: &Var<T>, bias: Option<&Var<T>>) -> Result<Var<T>> {
        let (rows, inner, out) = check_shapes(self.shape(), weight.shape(), bias)?;
        let Some(bias) = bias else {
            return self.matmul_t(weight, false, true);
        };
        let value = self.with_value(|x| {
            weight.with_value(|w| bias.with_value(|b| affine(x, w, b, (rows, inner, out))))
        });
        Var::try_from_op(
            "linear",
            value,
            &[self, weight, bias],
            OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let (x, w, g) = (&c.inputs[0], &c.inputs[1], c.grad);
                let gx = if c.needs(0) {
                    Some(g.matmul_t(w, false, false)?)
                } else {
                    None
                };
                let gw = if c.needs(1) {
                    Some(g.matmul_t(x, true, false)?)
                } else {
                    None
                };
                let gb = if c.needs(2) {
                    Some(g.sum_to(&[out])?)
                } else {
                    None
                };
                Ok(smallvec![gx, gw, gb])
            }),
        )
    }
}

/// (rows, in, out) of a linear map, or the mismatch.
fn check_shapes<T: Float>(
    x: &[usize],
    w: &[usize],
    bias: Option<&Var<T>>,
) -> Result<(usize, usize, usize)> {
    let mismatch = |lhs: &[usize], rhs: &[usize]| TapeError::ShapeMismatch {
        op: "linear",
        lhs: lhs.into(),
        rhs: rhs.into(),
    };
    let ([rows, inner], [out, w_inner]) = (x, w) else {
        return Err(mismatch(x, w));
    };
    if inner != w_inner {
        return Err(mismatch(x, w));
    }
    if let Some(b) = bias
        && b.shape() != [*out]
    {
        return Err(mismatch(w, b.shape()));
    }
    Ok((*rows, *inner, *out))
}

/// The bias rows with `x Wᵀ` added by the GEMM.
fn affine<T: Float>(
    x: &Tensor<T>,
    w: &Tensor<T>,
    b: &Tensor<T>,
    (rows, inner, out): (usize, usize, usize),
) -> Tensor<T> {
    let mut y = buffers::with_capacity(rows * out);
    for _ in 0..rows {
        y.extend_from_slice(b.data());
    }
    let (x, w) = (x.data(), w.data());
    matmul_into(
        rows,
        inner,
        out,
        x,
        Layout::Normal,
        w,
        Layout::Transposed,
        &mut y,
        true,
    );
    Tensor::from_parts(y, smallvec![rows, out])
}
