//! erf and exp for f32 written without branches or library calls, so that a
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
