//! Elementwise ops with NumPy broadcasting. Forward and gradient side by side;
//! a rule may return a gradient of the broadcast shape, the engine sums it back.

use smallvec::smallvec;

use super::{Backward, Ctx, Grads, OutputNotRead};
use crate::error::Result;
use crate::float::Float;
use crate::tensor::Tensor;
use crate::var::{Var, is_grad_enabled};

/// Gradient list for a one-input op.
pub(crate) fn single<T: Float>(g: Var<T>) -> Result<Grads<T>> {
    Ok(smallvec![Some(g)])
}

/// Records a unary op: `f` computes each element, `rule` the gradient.
pub(super) fn unary<T: Float>(
    x: &Var<T>,
    op: &'static str,
    f: impl Fn(T) -> T + Sync,
    rule: impl Backward<T> + 'static,
) -> Var<T> {
    let value = x.with_value(|v| v.map(f));
    Var::from_op(op, value, &[x], rule)
}

/// Records a broadcasting binary op.
fn binary<T: Float>(
    a: &Var<T>,
    b: &Var<T>,
    op: &'static str,
    f: impl Fn(T, T) -> T + Sync,
    rule: impl Backward<T> + 'static,
) -> Result<Var<T>> {
    let value = a.with_value(|x| b.with_value(|y| x.zip_with(y, op, f)))?;
    Var::try_from_op(op, value, &[a, b], rule)
}

/// A tensor of 0s and 1s, 1 where `pred` holds for the element of `x`.
pub(super) fn mask<T: Float>(x: &Var<T>, pred: impl Fn(T) -> bool + Sync) -> Tensor<T> {
    x.with_value(|v| v.map(|e| if pred(e) { T::ONE } else { T::ZERO }))
}

/// `g` where `keep` is 1 and exactly 0 elsewhere: a selection, as PyTorch's
/// `where(keep, g, 0)` in the rules of clamp, maximum and where, so that an
/// infinite or NaN `g` at a dropped position gives 0, not `inf · 0 = NaN`.
/// Differentiable in `g` (its gradient is the same selection).
pub(super) fn keep_where<T: Float>(g: &Var<T>, keep: &Tensor<T>) -> Result<Var<T>> {
    g.where_cond(keep, &Var::scalar(T::ZERO))
}

impl<T: Float> Var<T> {
    /// `self + other` with broadcasting. ∂/∂a = g, ∂/∂b = g (summed over broadcast axes).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::constant(Tensor::<f64>::ones(&[2, 3]));
    /// let b = Var::constant(Tensor::<f64>::arange(3));
    /// assert_eq!(a.add(&b).unwrap().value().data(), &[1.0, 2.0, 3.0, 1.0, 2.0, 3.0]);
    /// ```
    pub fn add(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "add",
            |a, b| a + b,
            OutputNotRead(|c: &Ctx<'_, T>| -> Result<Grads<T>> {
                Ok(smallvec![Some(c.grad.clone()), Some(c.grad.clone())])
            }),
        )
    }

    /// a ln b with broadcasting, 0 where a = 0 (unless b is NaN), as
    /// `torch.xlogy`: the term y ln y of entropies and of the KL divergence.
    /// ∂a = g ln b where a ≠ 0 (exactly 0 where a = 0), ∂b = g a / b (so NaN
    /// at a = b = 0, as PyTorch).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::constant(Tensor::from_vec(vec![0.0f64, 2.0], &[2]).unwrap());
    /// let b = Var::constant(Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap());
    /// assert_eq!(a.xlogy(&b).unwrap().value().data(), &[0.0, 0.0]);
    /// ```
    pub fn xlogy(&self, other: &Var<T>) -> Result<Var<T>> {
        let f = |a: T, b: T| {
            if b.is_nan() {
                b
            } else if a == T::ZERO {
                T::ZERO
            } else {
                a * b.ln()
            }
        };
        binary(
            self,
            other,
            "xlogy",
            f,
            |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let (a, b) = (&c.inputs[0], &c.inputs[1]);
                let ga = if c.needs(0) {
                    let nonzero = mask(a, |v| v != T::ZERO);
                    Some(keep_where(&c.grad.mul(&b.log())?, &nonzero)?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(c.grad.mul(a)?.div(b)?)
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            },
        )
    }

    /// `self - other` with broadcasting. ∂/∂a = g, ∂/∂b = −g.
    pub fn sub(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "sub",
            |a, b| a - b,
            |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let gb = if c.needs(1) { Some(c.grad.neg()) } else { None };
                Ok(smallvec![Some(c.grad.clone()), gb])
            },
        )
    }

    /// `self ⊙ other` with broadcasting. ∂/∂a = g ⊙ b, ∂/∂b = g ⊙ a.
    pub fn mul(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "mul",
            |a, b| a * b,
            |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let ga = if c.needs(0) {
                    Some(c.grad.mul(&c.inputs[1])?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(c.grad.mul(&c.inputs[0])?)
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            },
        )
    }

    /// `self / other` with broadcasting. ∂/∂a = g / b, ∂/∂b = −g ⊙ a / b² =
    /// −g ⊙ (out / b), evaluated in that order as PyTorch does (so 1/0 gives an
    /// infinite gradient, 0/0 a NaN one, exactly as there).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::parameter(Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap());
    /// let b = Var::parameter(Tensor::from_vec(vec![0.0f64, 0.0], &[2]).unwrap());
    /// let q = a.div(&b).unwrap();
    /// assert_eq!(q.value().data()[0], f64::INFINITY);
    /// assert!(q.value().data()[1].is_nan());
    /// q.sum().backward().unwrap();
    /// assert_eq!(a.grad().unwrap().data(), &[f64::INFINITY, f64::INFINITY]);
    /// ```
    pub fn div(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "div",
            |a, b| a / b,
            |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let b = &c.inputs[1];
                let ga = if c.needs(0) {
                    Some(c.grad.div(b)?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(c.output.div(b)?.mul(c.grad)?.neg())
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            },
        )
    }

    /// Elementwise maximum with broadcasting, as `torch.maximum`: NaN if either
    /// input is NaN. The gradient goes to the larger input; on a tie it is split
    /// equally (½ g each), and where either input is NaN both receive g (neither
    /// is the smaller). The input that loses gets exactly 0.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let a = Var::parameter(Tensor::from_vec(vec![f64::NAN, 1.0, 2.0], &[3]).unwrap());
    /// let b = Var::parameter(Tensor::from_vec(vec![1.0, 3.0, 2.0], &[3]).unwrap());
    /// let m = a.maximum(&b).unwrap();
    /// assert!(m.value().data()[0].is_nan());
    /// m.sum().backward().unwrap();
    /// assert_eq!(a.grad().unwrap().data(), &[1.0, 0.0, 0.5]);
    /// assert_eq!(b.grad().unwrap().data(), &[1.0, 1.0, 0.5]);
    /// ```
    pub fn maximum(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(self, other, "maximum", T::maximum, |c: &Ctx<'_, T>| {
            select_grads(c, "maximum", |x, y| x < y)
        })
    }

    /// Elementwise minimum with broadcasting, as `torch.minimum`: NaN if either
    /// input is NaN; the gradient as [`Var::maximum`]'s (ties split it, NaN
    /// gives it to both, the larger input gets exactly 0).
    pub fn minimum(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(self, other, "minimum", T::minimum, |c: &Ctx<'_, T>| {
            select_grads(c, "minimum", |x, y| x > y)
        })
    }

    /// Picks `self` where `condition` is nonzero (NaN counts as nonzero) and
    /// `other` elsewhere, all three broadcast together, as `torch.where`: a
    /// selection, so a NaN or ∞ on the side not picked does not leak into the
    /// result. ∂a = where(cond, g, 0), ∂b = where(cond, 0, g): the side not
    /// picked gets exactly 0.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let cond = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let a = Var::constant(Tensor::from_vec(vec![1.0, f64::NAN], &[2]).unwrap());
    /// let b = Var::constant(Tensor::from_vec(vec![f64::INFINITY, 6.0], &[2]).unwrap());
    /// assert_eq!(a.where_cond(&cond, &b).unwrap().value().data(), &[1.0, 6.0]);
    /// ```
    pub fn where_cond(&self, condition: &Tensor<T>, other: &Var<T>) -> Result<Var<T>> {
        let value = self.with_value(|a| other.with_value(|b| condition.select(a, b, "where")))?;
        let condition = condition.clone();
        Var::try_from_op(
            "where",
            value,
            &[self, other],
            OutputNotRead(move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let zero = Var::scalar(T::ZERO);
                let ga = if c.needs(0) {
                    Some(c.grad.where_cond(&condition, &zero)?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(zero.where_cond(&condition, c.grad)?)
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            }),
        )
    }

    /// −x. ∂ = −g.
    pub fn neg(&self) -> Var<T> {
        unary(self, "neg", |x| -x, |c: &Ctx<'_, T>| single(c.grad.neg()))
    }

    /// x + c for a scalar c. ∂ = g.
    pub fn add_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "add_scalar",
            move |x| x + s,
            |c: &Ctx<'_, T>| single(c.grad.clone()),
        )
    }

    /// c · x for a scalar c. ∂ = c g.
    pub fn mul_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "mul_scalar",
            move |x| x * s,
            move |c: &Ctx<'_, T>| single(c.grad.mul_scalar(s)),
        )
    }

    /// c − x for a scalar c. ∂ = −g.
    pub fn rsub_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "rsub_scalar",
            move |x| s - x,
            |c: &Ctx<'_, T>| single(c.grad.neg()),
        )
    }

    /// x / c for a scalar c, a true division as PyTorch's `x / c` (not x · (1/c),
    /// which overflows for a tiny c where the quotient is finite). ∂ = g / c.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1e-10f64], &[1]).unwrap());
    /// assert_eq!((&x / 1e-310).value().data()[0], 1e-10 / 1e-310); // finite, ≈ 1e300
    /// ```
    pub fn div_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "div_scalar",
            move |x| x / s,
            move |c: &Ctx<'_, T>| single(c.grad.div_scalar(s)),
        )
    }

    /// c / x for a scalar c (`torch.div(c, x)`). ∂ = −g c / x² = −g ⊙ (out / x).
    pub fn rdiv_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "rdiv_scalar",
            move |x| s / x,
            |c: &Ctx<'_, T>| single(c.output.div(&c.inputs[0])?.mul(c.grad)?.neg()),
        )
    }

    /// eˣ. ∂ = g ⊙ eˣ (the output, reused).
    pub fn exp(&self) -> Var<T> {
        unary(self, "exp", T::exp, |c: &Ctx<'_, T>| {
            single(c.grad.mul(c.output)?)
        })
    }

    /// ln x. ∂ = g / x.
    pub fn log(&self) -> Var<T> {
        unary(self, "log", T::ln, |c: &Ctx<'_, T>| {
            single(c.grad.div(&c.inputs[0])?)
        })
    }

    /// √x. ∂ = g / (2√x).
    pub fn sqrt(&self) -> Var<T> {
        unary(self, "sqrt", T::sqrt, |c: &Ctx<'_, T>| {
            single(c.grad.div(c.output)?.mul_scalar(T::from_f64(0.5)))
        })
    }

    /// xᵖ for a scalar exponent p, as `torch.pow(x, p)`. ∂ = g · p xᵖ⁻¹, and
    /// exactly 0 for p = 0 (PyTorch's rule: x⁰ = 1 is constant, even at NaN).
    ///
    /// The exponents PyTorch computes with a dedicated kernel get the same one
    /// here, which differs from the general `pow` at special values: p = ½ is
    /// `√x` (so (−∞)^½ = NaN and (−0)^½ = −0), p = −½ is `1/√x`, and p = 2, 3,
    /// −1, −2 are products and reciprocals. The gradient's xᵖ⁻¹ goes through
    /// the same dispatch, as in PyTorch.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::scalar(2.0f64));
    /// x.powf(3.0).backward().unwrap();
    /// assert_eq!(x.grad().unwrap().item().unwrap(), 12.0);
    /// let minus_inf = Var::constant(Tensor::scalar(f64::NEG_INFINITY));
    /// assert!(minus_inf.powf(0.5).item().unwrap().is_nan()); // √(−∞), not +∞
    /// ```
    pub fn powf(&self, p: T) -> Var<T> {
        unary(
            self,
            "powf",
            move |x| pow_scalar(x, p),
            move |c: &Ctx<'_, T>| {
                let x = &c.inputs[0];
                let dx = if p == T::ZERO {
                    Var::constant(Tensor::zeros(x.shape()))
                } else if p == T::ONE {
                    c.grad.clone()
                } else {
                    x.powf(p - T::ONE).mul_scalar(p).mul(c.grad)?
                };
                single(dx)
            },
        )
    }

    /// |x|. ∂ = g · sign(x), with sign(0) = sign(NaN) = 0 (as PyTorch's
    /// `sgn`), a product: an infinite g at x = 0 gives NaN there, as in PyTorch.
    pub fn abs(&self) -> Var<T> {
        unary(self, "abs", T::abs, |c: &Ctx<'_, T>| {
            let sign = Var::constant(c.inputs[0].value().map(T::signum0));
            single(c.grad.mul(&sign)?)
        })
    }

    /// max(x, 0) with NaN propagating, as `torch.relu`: relu(NaN) = NaN (and
    /// relu(−0) = −0). ∂ = 0 where x ≤ 0, else g: 0 at x = 0, and g at a NaN
    /// (PyTorch's `threshold_backward` zeroes only where x ≤ 0).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![f64::NAN, -1.0, 0.0, 2.0], &[4]).unwrap());
    /// let y = x.relu();
    /// assert!(y.value().data()[0].is_nan());
    /// assert_eq!(&y.value().data()[1..], &[0.0, 0.0, 2.0]);
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[1.0, 0.0, 0.0, 1.0]);
    /// ```
    pub fn relu(&self) -> Var<T> {
        unary(
            self,
            "relu",
            // `x < 0` (not `x > 0`): false for NaN, which passes through. One
            // compare and a mask, as before; `f32::max(x, 0)` would drop the NaN.
            |x| if x < T::ZERO { T::ZERO } else { x },
            OutputNotRead(|c: &Ctx<'_, T>| single(c.grad.relu_backward(&c.inputs[0])?)),
        )
    }

    /// The gradient of ReLU in one pass: `self` where `x > 0` or x is NaN,
    /// else 0 (`self` is the incoming gradient). Linear in `self`, so its own gradient is the same op
    /// applied to the incoming `u`; the mask is piecewise constant in x, so x
    /// gets none.
    ///
    /// Outside recording, a gradient nothing else can see is masked in place
    /// (a plain backward pass then holds one gradient of this size, not two).
    fn relu_backward(&self, x: &Var<T>) -> Result<Var<T>> {
        let mask = |g, x| if x <= T::ZERO { T::ZERO } else { g };
        if !is_grad_enabled()
            && self.shape() == x.shape()
            && let Some(mut g) = self.take_unshared_value()
        {
            x.with_value(|x| g.zip_assign(x, "relu_backward", mask))?;
            return Ok(Var::constant(g));
        }
        binary(
            self,
            x,
            "relu_backward",
            mask,
            |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let gg = if c.needs(0) {
                    Some(c.grad.relu_backward(&c.inputs[1])?)
                } else {
                    None
                };
                Ok(smallvec![gg, None])
            },
        )
    }

    /// σ(x) = 1 / (1 + e⁻ˣ), computed without overflow. ∂ = g ⊙ σ (1 − σ).
    pub fn sigmoid(&self) -> Var<T> {
        unary(self, "sigmoid", sigmoid_scalar, |c: &Ctx<'_, T>| {
            let s = c.output;
            single(c.grad.mul(&s.mul(&s.rsub_scalar(T::ONE))?)?)
        })
    }

    /// tanh x. ∂ = g ⊙ (1 − tanh² x).
    pub fn tanh(&self) -> Var<T> {
        unary(self, "tanh", T::tanh, |c: &Ctx<'_, T>| {
            let t = c.output;
            single(c.grad.mul(&t.mul(t)?.rsub_scalar(T::ONE))?)
        })
    }

    /// x limited to [min, max] (either bound optional), as `torch.clamp` with
    /// scalar bounds: minimum(maximum(x, min), max) with NaN propagating, so a
    /// NaN element or a NaN bound gives NaN, and min > max gives max everywhere.
    /// ∂ = g strictly inside, min < x < max (a missing bound does not limit),
    /// else exactly 0: a bound itself gets 0, and so does a NaN x (PyTorch
    /// 2.15's rule).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![f64::NAN, -2.0, 0.5, 1.0], &[4]).unwrap());
    /// let y = x.clamp(Some(-1.0), Some(1.0));
    /// assert!(y.value().data()[0].is_nan());
    /// y.sum().backward().unwrap();
    /// assert_eq!(x.grad().unwrap().data(), &[0.0, 0.0, 1.0, 0.0]);
    /// ```
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Var<T> {
        let lo = min.unwrap_or(T::NEG_INFINITY);
        let hi = max.unwrap_or(T::INFINITY);
        let inside = move |x: T| min.is_none_or(|lo| x > lo) && max.is_none_or(|hi| x < hi);
        unary(
            self,
            "clamp",
            move |x| x.maximum(lo).minimum(hi),
            move |c: &Ctx<'_, T>| single(keep_where(c.grad, &mask(&c.inputs[0], inside))?),
        )
    }
}

/// xᵖ with PyTorch's dedicated kernels for the exponents ½, −½, 2, 3, −1 and −2
/// (see [`Var::powf`]), the general `pow` otherwise.
#[inline]
fn pow_scalar<T: Float>(x: T, p: T) -> T {
    let is = |v: f64| p == T::from_f64(v);
    if is(0.5) {
        x.sqrt()
    } else if is(-0.5) {
        T::ONE / x.sqrt()
    } else if is(2.0) {
        x * x
    } else if is(3.0) {
        x * x * x
    } else if is(-1.0) {
        T::ONE / x
    } else if is(-2.0) {
        T::ONE / (x * x)
    } else {
        x.powf(p)
    }
}

/// 1/(1 + e⁻ˣ) for x ≥ 0 and eˣ/(1 + eˣ) below (so that e never overflows),
/// both from one e = e^(−|x|) and a select, which vectorizes.
#[inline(always)]
pub(super) fn sigmoid_scalar<T: Float>(x: T) -> T {
    let e = (-x.abs()).exp();
    let numerator = if x >= T::ZERO { T::ONE } else { e };
    numerator / (T::ONE + e)
}

/// Gradients of maximum or minimum, as PyTorch's rule: `where(a = b, g/2, g)`
/// to each input, with exactly 0 where that input loses (`loses(a, b)`: a < b
/// for maximum). A NaN on either side makes neither lose, so both get g.
fn select_grads<T: Float>(
    c: &Ctx<'_, T>,
    op: &'static str,
    loses: impl Fn(T, T) -> bool + Sync,
) -> Result<Grads<T>> {
    let (a, b) = (c.inputs[0].value(), c.inputs[1].value());
    let flag = |on: bool| if on { T::ONE } else { T::ZERO };
    let tie = a.zip_with(&b, op, |x, y| flag(x == y))?;
    let shared = if tie.data().contains(&T::ONE) {
        let half = tie.map(|t| {
            if t == T::ONE {
                T::from_f64(0.5)
            } else {
                T::ONE
            }
        });
        c.grad.mul(&Var::constant(half))?
    } else {
        c.grad.clone()
    };
    let ga = if c.needs(0) {
        Some(keep_where(
            &shared,
            &a.zip_with(&b, op, |x, y| flag(!loses(x, y)))?,
        )?)
    } else {
        None
    };
    let gb = if c.needs(1) {
        Some(keep_where(
            &shared,
            &a.zip_with(&b, op, |x, y| flag(!loses(y, x)))?,
        )?)
    } else {
        None
    };
    Ok(smallvec![ga, gb])
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $scalar:ident) => {
        /// Broadcasting operator on vars; returns a `Result` (shapes may not fit).
        impl<T: Float> std::ops::$trait<&Var<T>> for &Var<T> {
            type Output = Result<Var<T>>;
            fn $method(self, rhs: &Var<T>) -> Result<Var<T>> {
                Var::$method(self, rhs)
            }
        }
        /// Operator with a scalar on the right; cannot fail.
        impl<T: Float> std::ops::$trait<T> for &Var<T> {
            type Output = Var<T>;
            fn $method(self, rhs: T) -> Var<T> {
                $scalar(self, rhs)
            }
        }
    };
}

fn add_s<T: Float>(x: &Var<T>, s: T) -> Var<T> {
    x.add_scalar(s)
}
fn sub_s<T: Float>(x: &Var<T>, s: T) -> Var<T> {
    x.add_scalar(-s)
}
fn mul_s<T: Float>(x: &Var<T>, s: T) -> Var<T> {
    x.mul_scalar(s)
}
fn div_s<T: Float>(x: &Var<T>, s: T) -> Var<T> {
    x.div_scalar(s)
}

binary_operator!(Add, add, add_s);
binary_operator!(Sub, sub, sub_s);
binary_operator!(Mul, mul, mul_s);
binary_operator!(Div, div, div_s);

impl<T: Float> std::ops::Neg for &Var<T> {
    type Output = Var<T>;
    fn neg(self) -> Var<T> {
        Var::neg(self)
    }
}
