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
fn unary<T: Float>(
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
    Ok(Var::from_op(op, value, &[a, b], rule))
}

/// A constant of 0s and 1s, 1 where `pred` holds for the element of `x`.
fn mask<T: Float>(x: &Var<T>, pred: impl Fn(T) -> bool + Sync) -> Var<T> {
    Var::constant(x.with_value(|v| v.map(|e| if pred(e) { T::ONE } else { T::ZERO })))
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

    /// `self / other` with broadcasting. ∂/∂a = g / b, ∂/∂b = −g ⊙ a / b² = −g ⊙ out / b.
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
                    Some(c.grad.mul(c.output)?.div(b)?.neg())
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            },
        )
    }

    /// Elementwise maximum with broadcasting. The gradient goes to the larger
    /// input; on a tie it is split equally between the two (as PyTorch).
    pub fn maximum(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "maximum",
            |a, b| if b > a { b } else { a },
            |c: &Ctx<'_, T>| select_grads(c, true),
        )
    }

    /// Elementwise minimum with broadcasting; ties split the gradient equally.
    pub fn minimum(&self, other: &Var<T>) -> Result<Var<T>> {
        binary(
            self,
            other,
            "minimum",
            |a, b| if b < a { b } else { a },
            |c: &Ctx<'_, T>| select_grads(c, false),
        )
    }

    /// Picks `self` where `condition` is nonzero and `other` elsewhere (all three
    /// broadcast together). The gradient flows to the chosen side only.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let cond = Tensor::from_vec(vec![1.0f64, 0.0], &[2]).unwrap();
    /// let a = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    /// let b = Var::constant(Tensor::from_vec(vec![5.0, 6.0], &[2]).unwrap());
    /// assert_eq!(a.where_cond(&cond, &b).unwrap().value().data(), &[1.0, 6.0]);
    /// ```
    pub fn where_cond(&self, condition: &Tensor<T>, other: &Var<T>) -> Result<Var<T>> {
        let keep = condition.map(|m| if m != T::ZERO { T::ONE } else { T::ZERO });
        let drop = keep.map(|m| T::ONE - m);
        let value = self.with_value(|a| -> Result<Tensor<T>> {
            other.with_value(|b| a.mul(&keep)?.add(&b.mul(&drop)?))
        })?;
        let (keep, drop) = (Var::constant(keep), Var::constant(drop));
        Ok(Var::from_op(
            "where",
            value,
            &[self, other],
            move |c: &Ctx<'_, T>| -> Result<Grads<T>> {
                let ga = if c.needs(0) {
                    Some(c.grad.mul(&keep)?)
                } else {
                    None
                };
                let gb = if c.needs(1) {
                    Some(c.grad.mul(&drop)?)
                } else {
                    None
                };
                Ok(smallvec![ga, gb])
            },
        ))
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

    /// c / x for a scalar c. ∂ = −g c / x² = −g · out / x.
    pub fn rdiv_scalar(&self, s: T) -> Var<T> {
        unary(
            self,
            "rdiv_scalar",
            move |x| s / x,
            |c: &Ctx<'_, T>| single(c.grad.mul(c.output)?.div(&c.inputs[0])?.neg()),
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

    /// xᵖ for a scalar exponent p. ∂ = g · p xᵖ⁻¹.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::scalar(2.0f64));
    /// x.powf(3.0).backward().unwrap();
    /// assert_eq!(x.grad().unwrap().item().unwrap(), 12.0);
    /// ```
    pub fn powf(&self, p: T) -> Var<T> {
        unary(
            self,
            "powf",
            move |x| x.powf(p),
            move |c: &Ctx<'_, T>| {
                let dx = if p == T::ONE {
                    c.grad.clone()
                } else {
                    c.inputs[0].powf(p - T::ONE).mul_scalar(p).mul(c.grad)?
                };
                single(dx)
            },
        )
    }

    /// |x|. ∂ = g · sign(x), with sign(0) = 0 (as PyTorch).
    pub fn abs(&self) -> Var<T> {
        unary(self, "abs", T::abs, |c: &Ctx<'_, T>| {
            let sign = Var::constant(c.inputs[0].value().map(T::signum0));
            single(c.grad.mul(&sign)?)
        })
    }

    /// max(x, 0). ∂ = g where x > 0, else 0 (0 at x = 0, as PyTorch).
    pub fn relu(&self) -> Var<T> {
        unary(
            self,
            "relu",
            |x| if x > T::ZERO { x } else { T::ZERO },
            OutputNotRead(|c: &Ctx<'_, T>| single(c.grad.relu_backward(&c.inputs[0])?)),
        )
    }

    /// The gradient of ReLU in one pass: `self ⊙ 1[x > 0]` (`self` is the
    /// incoming gradient). Linear in `self`, so its own gradient is the same op
    /// applied to the incoming `u`; the mask is piecewise constant in x, so x
    /// gets none.
    ///
    /// Outside recording, a gradient nothing else can see is masked in place
    /// (a plain backward pass then holds one gradient of this size, not two).
    fn relu_backward(&self, x: &Var<T>) -> Result<Var<T>> {
        let mask = |g, x| if x > T::ZERO { g } else { T::ZERO };
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

    /// x limited to [min, max] (either bound optional). ∂ = g where min ≤ x ≤ max,
    /// else 0 (as PyTorch, the bounds themselves pass the gradient).
    pub fn clamp(&self, min: Option<T>, max: Option<T>) -> Var<T> {
        let lo = min.unwrap_or(T::NEG_INFINITY);
        let hi = max.unwrap_or(T::INFINITY);
        unary(
            self,
            "clamp",
            move |x| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            },
            move |c: &Ctx<'_, T>| single(c.grad.mul(&mask(&c.inputs[0], |x| x >= lo && x <= hi))?),
        )
    }
}

fn sigmoid_scalar<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// Gradients of maximum (`take_max`) or minimum: 1 to the chosen input, ½ each on ties.
fn select_grads<T: Float>(c: &Ctx<'_, T>, take_max: bool) -> Result<Grads<T>> {
    let (a, b) = (c.inputs[0].value(), c.inputs[1].value());
    let half = T::from_f64(0.5);
    let weight_a = a.zip_with(&b, "maximum", |x, y| {
        let a_wins = if take_max { x > y } else { x < y };
        if x == y {
            half
        } else if a_wins {
            T::ONE
        } else {
            T::ZERO
        }
    })?;
    let weight_b = weight_a.map(|w| T::ONE - w);
    let ga = if c.needs(0) {
        Some(c.grad.mul(&Var::constant(weight_a))?)
    } else {
        None
    };
    let gb = if c.needs(1) {
        Some(c.grad.mul(&Var::constant(weight_b))?)
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
    x.mul_scalar(T::ONE / s)
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
