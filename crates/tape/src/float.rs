//! The element types a tensor can hold: `f32` and `f64`.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// A floating-point element type (`f32` or `f64`).
///
/// The trait carries exactly the arithmetic the kernels need, so that every op is
/// written once for both precisions.
///
/// ```
/// use tapegrad_tape::Float;
/// fn half<T: Float>(x: T) -> T { x * T::from_f64(0.5) }
/// assert_eq!(half(3.0f32), 1.5);
/// assert_eq!(half(3.0f64), 1.5);
/// ```
pub trait Float:
    Copy
    + Send
    + Sync
    + 'static
    + Debug
    + Display
    + Default
    + PartialOrd
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    /// The type's name as written in Rust (`"f32"` or `"f64"`).
    const NAME: &'static str;
    /// 0.
    const ZERO: Self;
    /// 1.
    const ONE: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// Negative infinity.
    const NEG_INFINITY: Self;
    /// The machine epsilon (PyTorch's `torch.finfo(dtype).eps`).
    const EPSILON: Self;
    /// Converts from `f64`, rounding to nearest for `f32`.
    fn from_f64(x: f64) -> Self;
    /// Converts to `f64` exactly.
    fn to_f64(self) -> f64;
    /// Converts from a count.
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
    /// eˣ: for f64 the standard library's, for f32 a polynomial that
    /// vectorizes, within 1.2 ulp, with libm's NaN, ±∞ and subnormal results.
    fn exp(self) -> Self;
    /// eˣ − 1, accurate for small x: for f64 std's, for f32 evaluated in f64
    /// so that it vectorizes, within 0.51 ulp.
    fn exp_m1(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate for small x.
    fn ln_1p(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Hyperbolic tangent: for f64 std's, for f32 from eˣ − 1 evaluated in
    /// f64 so that it vectorizes, within 0.51 ulp.
    fn tanh(self) -> Self;
    /// xᵖ for a real exponent.
    fn powf(self, p: Self) -> Self;
    /// xⁿ for an integer exponent.
    fn powi(self, n: i32) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// The error function erf x = (2/√π) ∫₀ˣ e^(−t²) dt: for f64 libm's (a
    /// port of the C library's, which PyTorch calls), for f32 a rational
    /// approximation evaluated in f64 that vectorizes, within 1.6 ulp.
    fn erf(self) -> Self;
    /// The larger of two values, **ignoring NaN** as `f64::max` does: `max(NaN, 1)`
    /// is 1. Kernels that must let a NaN through (every op with PyTorch
    /// semantics) use [`Float::maximum`] instead.
    fn max(self, other: Self) -> Self;
    /// The smaller of two values, **ignoring NaN** as `f64::min` does; see
    /// [`Float::minimum`] for the NaN-propagating one.
    fn min(self, other: Self) -> Self;
    /// The larger of two values with NaN propagating, as `torch.maximum`: NaN if
    /// either is NaN, else the larger (`self` on a tie).
    ///
    /// ```
    /// use tapegrad_tape::Float;
    /// assert!(Float::maximum(1.0f64, f64::NAN).is_nan());
    /// assert!(Float::maximum(f64::NAN, 1.0f64).is_nan());
    /// assert_eq!(Float::maximum(1.0f64, 2.0), 2.0);
    /// assert_eq!(Float::max(1.0f64, f64::NAN), 1.0); // the NaN-ignoring one
    /// ```
    #[inline(always)]
    fn maximum(self, other: Self) -> Self {
        if other > self || other.is_nan() {
            other
        } else {
            self
        }
    }
    /// The smaller of two values with NaN propagating, as `torch.minimum`: NaN if
    /// either is NaN, else the smaller (`self` on a tie).
    #[inline(always)]
    fn minimum(self, other: Self) -> Self {
        if other < self || other.is_nan() {
            other
        } else {
            self
        }
    }
    /// Whether the value is neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Whether the value is NaN.
    fn is_nan(self) -> bool;
    /// -1, 0 or 1 by sign, as `torch.sign`: 0 for ±0 and for NaN.
    ///
    /// ```
    /// use tapegrad_tape::Float;
    /// assert_eq!(Float::signum0(-3.0f64), -1.0);
    /// assert_eq!(Float::signum0(0.0f64), 0.0);
    /// assert_eq!(Float::signum0(f64::NAN), 0.0);
    /// assert_eq!(Float::signum0(f64::INFINITY), 1.0);
    /// ```
    fn signum0(self) -> Self {
        if self > Self::ZERO {
            Self::ONE
        } else if self < Self::ZERO {
            -Self::ONE
        } else {
            Self::ZERO
        }
    }
}

macro_rules! impl_float {
    ($t:ident, $erf:path, $exp:path, $expm1:path, $tanh:path) => {
        impl Float for $t {
            const NAME: &'static str = stringify!($t);
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const INFINITY: Self = $t::INFINITY;
            const NEG_INFINITY: Self = $t::NEG_INFINITY;
            const EPSILON: Self = $t::EPSILON;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $exp(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                $expm1(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn powf(self, p: Self) -> Self {
                $t::powf(self, p)
            }
            #[inline(always)]
            fn powi(self, n: i32) -> Self {
                $t::powi(self, n)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                $t::cos(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                $t::sin(self)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                $erf(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }
    };
}

// f32's erf, exp, expm1 and tanh vectorize (crate::vecmath); f64's are
// libm's, correctly rounded or nearly so.
impl_float!(
    f32,
    crate::vecmath::erf_f32,
    crate::vecmath::exp_f32,
    crate::vecmath::expm1_f32,
    crate::vecmath::tanh_f32
);
impl_float!(f64, libm::erf, f64::exp, f64::exp_m1, f64::tanh);
