//! The activations of today's networks, as PyTorch computes them: erf, GELU
//! (exact and tanh), SiLU, Softplus, ELU, LeakyReLU, Mish and Hardswish.
//!
//! Each is a fused forward kernel f and a gradient g ⊙ f′(x) in which f′ is
//! its own op (PyTorch's backward formula, one fused pass); f′'s gradient is
//! f″ written in `Var` ops, so every order can be differentiated again.

use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI};

use super::elementwise::{keep_where, mask, single, unary};
use super::{Ctx, OutputNotRead};
use crate::error::Result;
use crate::float::Float;
use crate::var::Var;

/// GELU's tanh form: √(2/π) and κ.
const GELU_TANH_BETA: f64 = std::f64::consts::SQRT_2 * FRAC_2_SQRT_PI * 0.5;
const GELU_TANH_KAPPA: f64 = 0.044715;
/// 1/√(2π), the standard normal density at 0.
const NORMAL_PDF_0: f64 = FRAC_2_SQRT_PI * FRAC_1_SQRT_2 * 0.5;

/// How [`Var::gelu`] computes Φ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GeluApproximate {
    /// x Φ(x) with Φ(x) = ½ (1 + erf(x/√2)) (PyTorch's `approximate="none"`).
    #[default]
    None,
    /// ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))) (`approximate="tanh"`).
    Tanh,
}

/// y = f(x) with the gradient g ⊙ `derivative(x)`.
pub(super) fn activation<T: Float>(
    x: &Var<T>,
    op: &'static str,
    f: impl Fn(T) -> T + Sync,
    derivative: impl Fn(&Var<T>) -> Var<T> + Send + Sync + 'static,
) -> Var<T> {
    let rule = move |c: &Ctx<'_, T>| single(c.grad.mul(&derivative(&c.inputs[0]))?);
    unary(x, op, f, OutputNotRead(rule))
}

/// The op f′(x), whose gradient is g ⊙ `second(x)`.
pub(super) fn derivative<T: Float>(
    x: &Var<T>,
    op: &'static str,
    df: impl Fn(T) -> T + Sync,
    second: impl Fn(&Var<T>) -> Result<Var<T>> + Send + Sync + 'static,
) -> Var<T> {
    let rule = move |c: &Ctx<'_, T>| single(c.grad.mul(&second(&c.inputs[0])?)?);
    unary(x, op, df, OutputNotRead(rule))
}

fn c<T: Float>(v: f64) -> T {
    T::from_f64(v)
}

/// σ(x) = 1 / (1 + e⁻ˣ), as PyTorch's SiLU and Mish kernels write it.
fn logistic<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).exp())
}

/// PyTorch's `std::max(a, b)` / `std::min(a, b)`: `a` unless the comparison
/// holds, so a NaN `a` passes through.
pub(super) fn std_max<T: Float>(a: T, b: T) -> T {
    if a < b { b } else { a }
}
fn std_min<T: Float>(a: T, b: T) -> T {
    if b < a { b } else { a }
}

impl<T: Float> Var<T> {
    /// The error function erf x. ∂ = g ⊙ (2/√π) e^(−x²).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::parameter(Tensor::from_vec(vec![0.0f64, 1.0], &[2]).unwrap());
    /// let y = x.erf();
    /// assert!((y.value().data()[1] - 0.8427007929497149).abs() < 1e-15);
    /// y.sum().backward().unwrap();
    /// assert!((x.grad().unwrap().data()[0] - 2.0 / std::f64::consts::PI.sqrt()).abs() < 1e-15);
    /// ```
    pub fn erf(&self) -> Var<T> {
        activation(self, "erf", T::erf, erf_grad)
    }

    /// GELU, x Φ(x) (PyTorch's `gelu`): Φ the standard normal distribution
    /// function, or its tanh approximation. ∂ = g ⊙ (Φ(x) + x φ(x)).
    ///
    /// ```
    /// use tapegrad_tape::{GeluApproximate, Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![-1.0f64, 0.0, 1.0], &[3]).unwrap());
    /// let y = x.gelu(GeluApproximate::None).value();
    /// assert!((y.data()[2] - 0.8413447460685429).abs() < 1e-15);
    /// assert!((x.gelu(GeluApproximate::Tanh).value().data()[2] - 0.8411919906082768).abs() < 1e-15);
    /// ```
    pub fn gelu(&self, approximate: GeluApproximate) -> Var<T> {
        match approximate {
            GeluApproximate::None => activation(self, "gelu", gelu_exact, gelu_grad),
            GeluApproximate::Tanh => activation(self, "gelu_tanh", gelu_tanh, gelu_tanh_grad),
        }
    }

    /// SiLU (swish), x σ(x) = x / (1 + e⁻ˣ). ∂ = g ⊙ σ (1 + x (1 − σ)).
    pub fn silu(&self) -> Var<T> {
        activation(self, "silu", |x| x / (T::ONE + (-x).exp()), silu_grad)
    }

    /// Softplus, (1/β) ln(1 + e^(βx)), and x itself where βx > `threshold`
    /// (PyTorch's defaults β = 1, threshold = 20). ∂ = g ⊙ σ(βx), g where βx >
    /// threshold.
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![0.0f64, 30.0], &[2]).unwrap());
    /// let y = x.softplus(1.0, 20.0).value();
    /// assert_eq!((y.data()[0], y.data()[1]), (std::f64::consts::LN_2, 30.0));
    /// ```
    pub fn softplus(&self, beta: T, threshold: T) -> Var<T> {
        let f = move |x: T| {
            if x * beta > threshold {
                x
            } else {
                (x * beta).exp().ln_1p() / beta
            }
        };
        activation(self, "softplus", f, move |x| {
            softplus_grad(x, beta, threshold)
        })
    }

    /// log σ(x) = min(x, 0) − ln(1 + e^(−|x|)), stable for any x (PyTorch's
    /// `logsigmoid`). ∂ = g σ(−x), as PyTorch's formula e^(−|x|)/(1 + e^(−|x|))
    /// (1 minus it for x < 0).
    ///
    /// ```
    /// use tapegrad_tape::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![-800.0f64, 0.0, 40.0], &[3]).unwrap());
    /// let y = x.log_sigmoid().value();
    /// assert_eq!(y.data()[0], -800.0);
    /// assert_eq!(y.data()[1], -std::f64::consts::LN_2);
    /// assert!(y.data()[2] < 0.0 && y.data()[2] > -1e-17);
    /// ```
    pub fn log_sigmoid(&self) -> Var<T> {
        let f = |x: T| std_min(x, T::ZERO) - (-x.abs()).exp().ln_1p();
        activation(self, "log_sigmoid", f, log_sigmoid_grad)
    }

    /// ELU, x for x > 0 and α (eˣ − 1) otherwise (PyTorch's default α = 1;
    /// eˣ − 1 as `expm1`, exact near 0). ∂ = g for x > 0, g α eˣ otherwise
    /// (so NaN at a NaN x, as PyTorch's vectorized kernel; its scalar tail
    /// gives g there).
    pub fn elu(&self, alpha: T) -> Var<T> {
        let f = move |x: T| if x <= T::ZERO { alpha * x.exp_m1() } else { x };
        activation(self, "elu", f, move |x| elu_grad(x, alpha))
    }

    /// LeakyReLU, x for x > 0 and `slope` · x otherwise (PyTorch's default
    /// slope 0.01). ∂ = g for x > 0, `slope` · g otherwise.
    pub fn leaky_relu(&self, slope: T) -> Var<T> {
        let f = move |x: T| if x > T::ZERO { x } else { x * slope };
        activation(self, "leaky_relu", f, move |x| leaky_relu_grad(x, slope))
    }

    /// Mish, x tanh(softplus(x)) = x tanh(ln(1 + eˣ)). ∂ = g ⊙ (t + x σ(x) (1 − t²)),
    /// t = tanh(softplus(x)).
    pub fn mish(&self) -> Var<T> {
        activation(self, "mish", |x| x * x.exp().ln_1p().tanh(), mish_grad)
    }

    /// Hardswish, x · min(max(x + 3, 0), 6) / 6. ∂ = 0 for x ≤ −3 (exactly,
    /// whatever g is), g for x ≥ 3, g (x/3 + ½) between and at a NaN x (so
    /// NaN there), as PyTorch's vectorized kernel (its scalar tail gives g at
    /// a NaN x).
    pub fn hardswish(&self) -> Var<T> {
        let f = |x: T| {
            let (three, six) = (c::<T>(3.0), c::<T>(6.0));
            x * std_min(std_max(x + three, T::ZERO), six) / six
        };
        let rule = |c: &Ctx<'_, T>| {
            let x = &c.inputs[0];
            let grad = c.grad.mul(&hardswish_grad(x))?;
            single(keep_where(
                &grad,
                &mask(x, |v| v > self::c::<T>(-3.0) || v.is_nan()),
            )?)
        };
        unary(self, "hardswish", f, OutputNotRead(rule))
    }
}

fn erf_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| c::<T>(FRAC_2_SQRT_PI) * (-(x * x)).exp();
    derivative(x, "erf_grad", df, |x| {
        x.mul_scalar(c(-2.0)).mul(&erf_grad(x))
    })
}

/// Φ(x) = ½ (1 + erf(x/√2)).
fn normal_cdf<T: Float>(x: T) -> T {
    c::<T>(0.5) * (T::ONE + (x * c(FRAC_1_SQRT_2)).erf())
}

fn gelu_exact<T: Float>(x: T) -> T {
    x * normal_cdf(x)
}

/// φ(x) = e^(−x²/2)/√(2π), in `Var` ops.
fn normal_pdf<T: Float>(x: &Var<T>) -> Result<Var<T>> {
    Ok(x.mul(x)?
        .mul_scalar(c(-0.5))
        .exp()
        .mul_scalar(c(NORMAL_PDF_0)))
}

fn gelu_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| {
        let pdf = (c::<T>(-0.5) * x * x).exp() * c(NORMAL_PDF_0);
        normal_cdf(x) + x * pdf
    };
    // (Φ + xφ)′ = φ (2 − x²).
    derivative(x, "gelu_grad", df, |x| {
        normal_pdf(x)?.mul(&x.mul(x)?.rsub_scalar(c(2.0)))
    })
}

fn gelu_tanh<T: Float>(x: T) -> T {
    let inner = c::<T>(GELU_TANH_BETA) * (x + c::<T>(GELU_TANH_KAPPA) * x * x * x);
    c::<T>(0.5) * x * (T::ONE + inner.tanh())
}

fn gelu_tanh_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let (beta, kappa) = (c::<T>(GELU_TANH_BETA), c::<T>(GELU_TANH_KAPPA));
    let df = move |x: T| {
        let x_sq = x * x;
        let t = (beta * (x + kappa * x_sq * x)).tanh();
        let left_derivative = c::<T>(0.5) * (T::ONE + t);
        let inner_derivative = beta * (T::ONE + c::<T>(3.0) * kappa * x_sq);
        left_derivative + c::<T>(0.5) * x * (T::ONE - t * t) * inner_derivative
    };
    // With u = β (x + κx³) and t = tanh u:
    // f″ = (1 − t²) (u′ + ½ x (u″ − 2 t u′²)), u′ = β (1 + 3κx²), u″ = 6βκx.
    derivative(x, "gelu_tanh_grad", df, move |x| {
        let x_sq = x.mul(x)?;
        let u = x.add(&x_sq.mul(x)?.mul_scalar(kappa))?.mul_scalar(beta);
        let t = u.tanh();
        let one_minus_t2 = t.mul(&t)?.rsub_scalar(T::ONE);
        let du = x_sq
            .mul_scalar(c::<T>(3.0) * kappa)
            .add_scalar(T::ONE)
            .mul_scalar(beta);
        let d2u = x.mul_scalar(c::<T>(6.0) * beta * kappa);
        let bend = d2u.sub(&t.mul(&du.mul(&du)?)?.mul_scalar(c(2.0)))?;
        one_minus_t2.mul(&du.add(&x.mul(&bend)?.mul_scalar(c(0.5)))?)
    })
}

fn silu_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| {
        let s = logistic(x);
        s * (T::ONE + x * (T::ONE - s))
    };
    // f″ = σ (1 − σ) (2 + x (1 − 2σ)).
    derivative(x, "silu_grad", df, |x| {
        let s = x.sigmoid();
        let spread = s.mul(&s.rsub_scalar(T::ONE))?;
        let bend = x
            .mul(&s.mul_scalar(c(-2.0)).add_scalar(T::ONE))?
            .add_scalar(c(2.0));
        spread.mul(&bend)
    })
}

fn softplus_grad<T: Float>(x: &Var<T>, beta: T, threshold: T) -> Var<T> {
    let df = move |x: T| {
        let z = (x * beta).exp();
        if x * beta > threshold {
            T::ONE
        } else {
            z / (z + T::ONE)
        }
    };
    // f″ = β σ(βx) (1 − σ(βx)) below the threshold, 0 above.
    derivative(x, "softplus_grad", df, move |x| {
        let s = x.mul_scalar(beta).sigmoid();
        let curve = s.mul(&s.rsub_scalar(T::ONE))?.mul_scalar(beta);
        keep_where(
            &curve,
            &mask(x, move |v| v * beta <= threshold || v.is_nan()),
        )
    })
}

fn log_sigmoid_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| {
        let z = (-x.abs()).exp();
        if x < T::ZERO {
            T::ONE - z / (T::ONE + z)
        } else {
            z / (T::ONE + z)
        }
    };
    // (σ(−x))′ = −σ(x) (1 − σ(x)).
    derivative(x, "log_sigmoid_grad", df, |x| {
        let s = x.sigmoid();
        Ok(s.mul(&s.rsub_scalar(T::ONE))?.neg())
    })
}

fn elu_grad<T: Float>(x: &Var<T>, alpha: T) -> Var<T> {
    let df = move |x: T| if x > T::ZERO { T::ONE } else { alpha * x.exp() };
    // f″ = α eˣ for x ≤ 0 (and a NaN x), 0 above.
    derivative(x, "elu_grad", df, move |x| {
        keep_where(
            &x.exp().mul_scalar(alpha),
            &mask(x, |v| v <= T::ZERO || v.is_nan()),
        )
    })
}

fn leaky_relu_grad<T: Float>(x: &Var<T>, slope: T) -> Var<T> {
    let df = move |x: T| if x > T::ZERO { T::ONE } else { slope };
    derivative(x, "leaky_relu_grad", df, |x| {
        Ok(Var::constant(crate::tensor::Tensor::zeros(x.shape())))
    })
}

fn mish_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| {
        let s = logistic(x);
        let t = x.exp().ln_1p().tanh();
        t + x * s * (T::ONE - t * t)
    };
    // With s = σ(x) and t = tanh(softplus x): f″ = (1 − t²) s (2 + x (1 − s − 2ts)).
    derivative(x, "mish_grad", df, |x| {
        let s = x.sigmoid();
        let t = x.softplus(T::ONE, c(20.0)).tanh();
        let one_minus_t2 = t.mul(&t)?.rsub_scalar(T::ONE);
        let inner = s.add(&t.mul(&s)?.mul_scalar(c(2.0)))?.rsub_scalar(T::ONE);
        let bend = x.mul(&inner)?.add_scalar(c(2.0));
        one_minus_t2.mul(&s)?.mul(&bend)
    })
}

fn hardswish_grad<T: Float>(x: &Var<T>) -> Var<T> {
    let df = |x: T| {
        if x <= c(-3.0) {
            T::ZERO
        } else if x >= c(3.0) {
            T::ONE
        } else {
            x / c(3.0) + c(0.5)
        }
    };
    // f″ = 1/3 on (−3, 3), 0 elsewhere.
    derivative(x, "hardswish_grad", df, |x| {
        let inside = mask(x, |v| v > c(-3.0) && v < c(3.0));
        Ok(Var::constant(inside.map(|m| m / c(3.0))))
    })
}
