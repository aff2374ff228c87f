//! erf, exp, expm1 and tanh for f32 written without branches or library
//! calls, so that a
//! loop over a tensor's elements compiles to vector instructions (the libm
//! functions are scalar calls). Each result is within 2 units in the last
//! place of the exact value (tests/f32_math.rs measures the worst case), and
//! NaN, ±∞, −0 and subnormals come out as libm's.

/// log₂ e.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split in two: `LN2_HI` has trailing zero bits, so n · `LN2_HI` is
/// exact for |n| ≤ 256 (Cody and Waite's reduction).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 · 2²³: adding and subtracting it rounds |v| < 2²² to an integer
/// (ties to even), a vector instruction where `round` is a call.
const ROUND_MAGIC: f32 = 12_582_912.0;

/// eˣ = 2ⁿ eʳ with n = round(x log₂ e) and |r| ≤ ½ ln 2, eʳ by its Taylor
/// polynomial of degree 7 (truncation below 6e-9 relative). x is clamped to
/// [−104, 89] first: beyond it the result is 0 or ∞ anyway, and 2ⁿ is applied
/// as two halves so that subnormal results are rounded once, not flushed.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-104.0, 89.0);
    let n = (x * LOG2_E + ROUND_MAGIC) - ROUND_MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // A NaN x gives n = 0 here (Rust's saturating cast) and a NaN p.
    let n = n as i32;
    let half = n >> 1;
    let scale = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    p * scale(half) * scale(n - half)
}

/// erf x ≈ x P(x²) / Q(x²), a rational approximation of degrees 13 and 8 on
/// x clamped to [−4, 4] (beyond, erf rounds to ±1 in f32), evaluated in f64
/// so that only the fit's own error remains: within 1.6 ulp. The
/// coefficients are the single-precision minimax fit Eigen and XLA use.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    #[allow(clippy::excessive_precision)]
    const P: [f64; 7] = [
        -2.72614225801306e-10,
        2.77068142495902e-08,
        -2.10102402082508e-06,
        -5.69250639462346e-05,
        -7.34990630326855e-04,
        -2.95459980854025e-03,
        -1.60960333262415e-02,
    ];
    #[allow(clippy::excessive_precision)]
    const Q: [f64; 5] = [
        -1.45660718464996e-05,
        -2.13374055278905e-04,
        -1.68282697438203e-03,
        -7.37332916720468e-03,
        -1.42647390514189e-02,
    ];
    let x = f64::from(x.clamp(-4.0, 4.0));
    let x2 = x * x;
    let p = P[1..].iter().fold(P[0], |acc, &c| acc * x2 + c);
    let q = Q[1..].iter().fold(Q[0], |acc, &c| acc * x2 + c);
    (x * p / q) as f32
}

/// ln 2 split for f64 (fdlibm's): n · `LN2_HI_F64` is exact for |n| < 2²⁰.
#[allow(clippy::excessive_precision)]
const LN2_HI_F64: f64 = 6.931_471_803_691_238_164_90e-01;
#[allow(clippy::excessive_precision)]
const LN2_LO_F64: f64 = 1.908_214_929_270_587_700_02e-10;
/// 1.5 · 2⁵², the f64 rounding constant.
const ROUND_MAGIC_F64: f64 = 6_755_399_441_055_744.0;

/// eʸ − 1 in f64 for y clamped to [−110, 100] (wide enough for every f32
/// argument: beyond it the f32 result is −1 or ∞): eʸ − 1 = 2ⁿ q(r) + (2ⁿ − 1)
/// with n = round(y log₂ e), |r| ≤ ½ ln 2 and q(r) = eʳ − 1 by its Taylor
/// polynomial of degree 10 (truncation below 1e-12 relative), so near 0 the
/// result is q(y) itself, to the last bit of f32 and with −0's sign.
#[inline(always)]
fn expm1_f64(y: f64) -> f64 {
    let y = y.clamp(-110.0, 100.0);
    let n = (y * std::f64::consts::LOG2_E + ROUND_MAGIC_F64) - ROUND_MAGIC_F64;
    let r = (y - n * LN2_HI_F64) - n * LN2_LO_F64;
    const INV_FACTORIAL: [f64; 9] = [
        1.0 / 3_628_800.0,
        1.0 / 362_880.0,
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];
    let tail = INV_FACTORIAL[1..]
        .iter()
        .fold(INV_FACTORIAL[0], |acc, &c| acc * r + c);
    let q = r * (1.0 + r * tail);
    // A NaN y gives n = 0 (Rust's saturating cast) and a NaN q.
    let scale = f64::from_bits(((n as i64 + 1023) as u64) << 52);
    if n == 0.0 {
        q
    } else {
        scale * q + (scale - 1.0)
    }
}

/// eˣ − 1 for f32, evaluated in f64 ([`expm1_f64`]): within 0.51 ulp, with
/// −0, ±∞ (−1, ∞), NaN and overflow as libm's.
#[inline(always)]
pub(crate) fn expm1_f32(x: f32) -> f32 {
    expm1_f64(f64::from(x)) as f32
}

/// tanh x = sign(x) · e / (e + 2) with e = e^(2|x|) − 1 in f64
/// ([`expm1_f64`]), so small |x| keeps its relative accuracy and large |x|
/// gives ±1: within 0.51 ulp, with −0, ±∞ (±1) and NaN as libm's.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let e = expm1_f64(2.0 * f64::from(x.abs()));
    ((e / (e + 2.0)) as f32).copysign(x)
}

/// A loop written so that it vectorizes; [`vectorized`] compiles it for
/// AVX-512 when the CPU has it. `run` must be `#[inline(always)]` so that its
/// body is compiled inside the AVX-512 function.
pub(crate) trait Kernel {
    /// Runs the loop.
    fn run(self);
}

/// Runs `kernel`, 16 f32 lanes wide when the CPU has AVX-512F. The same IEEE
/// operations either way (nothing is fused into FMAs), so results do not
/// depend on the CPU.
#[inline(always)]
pub(crate) fn vectorized(kernel: impl Kernel) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU supports AVX-512F, checked just above.
        return unsafe { run_avx512(kernel) };
    }
    kernel.run();
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn run_avx512(kernel: impl Kernel) {
    kernel.run();
}
