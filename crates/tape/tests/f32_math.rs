//! f32's erf, exp, expm1 and tanh (vectorizable, not libm's) against the f64 functions
//! rounded to f32: the worst error in units in the last place over a dense
//! sweep, and the special values as libm gives them.

use tapegrad_tape::float::Float;

/// Distance in ulp between `got` and the exact value `want` (f64).
fn ulps(got: f32, want: f64) -> f64 {
    let rounded = want as f32;
    if got == rounded {
        return 0.0;
    }
    let ulp = (f32::from_bits(rounded.abs().to_bits() + 1) - rounded.abs()) as f64;
    (got as f64 - want).abs() / ulp.max(f32::from_bits(1) as f64)
}

/// Every 97th f32 bit pattern from `lo` to `hi` (both finite, same sign
/// handled by the caller): about 10⁷ values per sign for the full range.
fn sweep(lo: f32, hi: f32) -> impl Iterator<Item = f32> {
    let to_key = |x: f32| {
        let b = x.to_bits() as i64;
        if b & (1 << 31) != 0 {
            -(b & 0x7fff_ffff)
        } else {
            b
        }
    };
    let from_key = |k: i64| {
        if k < 0 {
            f32::from_bits(((-k) as u32) | (1 << 31))
        } else {
            f32::from_bits(k as u32)
        }
    };
    (to_key(lo)..=to_key(hi)).step_by(97).map(from_key)
}

fn worst(f: impl Fn(f32) -> f32, exact: impl Fn(f64) -> f64, lo: f32, hi: f32) -> (f64, f32) {
    sweep(lo, hi)
        .map(|x| (ulps(f(x), exact(x as f64)), x))
        .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a })
}

#[test]
fn exp_is_within_1_2_ulp_including_subnormal_results() {
    let (err, at) = worst(Float::exp, f64::exp, -103.9, 88.72);
    println!("exp: {err} ulp at {at}");
    assert!(err <= 1.2, "{err} ulp at {at}");
    let (err, at) = worst(Float::exp, f64::exp, -1e-3, 1e-3);
    assert!(err <= 1.0, "{err} ulp at {at}");
}

#[test]
fn exp_special_values_are_libm_s() {
    assert_eq!(Float::exp(0.0f32), 1.0);
    assert_eq!(Float::exp(-0.0f32), 1.0);
    assert_eq!(Float::exp(f32::INFINITY), f32::INFINITY);
    assert_eq!(Float::exp(f32::NEG_INFINITY), 0.0);
    assert!(Float::exp(f32::NAN).is_nan());
    assert_eq!(Float::exp(88.73f32), f32::INFINITY, "overflow");
    assert_eq!(Float::exp(1000.0f32), f32::INFINITY);
    assert_eq!(Float::exp(-104.0f32), 0.0, "underflow");
    assert_eq!(Float::exp(-1000.0f32), 0.0);
    let tiny = Float::exp(-100.0f32);
    assert!(
        tiny > 0.0 && !tiny.is_normal(),
        "a subnormal, not flushed: {tiny:e}"
    );
    assert_eq!(Float::exp(1.0f32), std::f32::consts::E);
}

#[test]
fn erf_is_within_1_6_ulp() {
    // 1.59 ulp at worst (libm's erff: 0.91).
    let (err, at) = worst(Float::erf, libm::erf, 1e-30, 10.0);
    assert!(err <= 1.6, "{err} ulp at {at}");
    let (err, at) = worst(Float::erf, libm::erf, -10.0, -1e-30);
    assert!(err <= 1.6, "{err} ulp at {at}");
}

#[test]
fn erf_special_values_are_libm_s() {
    assert_eq!(Float::erf(0.0f32).to_bits(), 0.0f32.to_bits());
    assert_eq!(Float::erf(-0.0f32).to_bits(), (-0.0f32).to_bits());
    assert_eq!(Float::erf(f32::INFINITY), 1.0);
    assert_eq!(Float::erf(f32::NEG_INFINITY), -1.0);
    assert_eq!(Float::erf(4.0f32), 1.0);
    assert!(Float::erf(f32::NAN).is_nan());
    assert!(
        Float::erf(1e-40f32) > 0.0,
        "a subnormal input keeps its sign"
    );
}

#[test]
fn expm1_is_within_0_51_ulp() {
    let (err, at) = worst(Float::exp_m1, f64::exp_m1, -20.0, 88.72);
    println!("expm1: {err} ulp at {at}");
    assert!(err <= 0.51, "{err} ulp at {at}");
    let (err, at) = worst(Float::exp_m1, f64::exp_m1, -1e-30, 1e-30);
    assert!(err <= 0.51, "{err} ulp at {at}");
}

#[test]
fn expm1_special_values_are_libm_s() {
    assert_eq!(Float::exp_m1(0.0f32).to_bits(), 0.0f32.to_bits());
    assert_eq!(Float::exp_m1(-0.0f32).to_bits(), (-0.0f32).to_bits());
    assert_eq!(Float::exp_m1(f32::INFINITY), f32::INFINITY);
    assert_eq!(Float::exp_m1(f32::NEG_INFINITY), -1.0);
    assert_eq!(Float::exp_m1(-20.0f32), -1.0);
    assert_eq!(Float::exp_m1(88.73f32), f32::INFINITY, "overflow");
    assert!(Float::exp_m1(f32::NAN).is_nan());
    assert_eq!(Float::exp_m1(1e-40f32), 1e-40f32, "subnormal x gives x");
}

#[test]
fn tanh_is_within_0_51_ulp() {
    for (lo, hi) in [(1e-38, 10.0), (-10.0, -1e-38), (-1e-38, 1e-38)] {
        let (err, at) = worst(Float::tanh, f64::tanh, lo, hi);
        println!("tanh on [{lo}, {hi}]: {err} ulp at {at}");
        assert!(err <= 0.51, "{err} ulp at {at}");
    }
}

#[test]
fn tanh_special_values_are_libm_s() {
    assert_eq!(Float::tanh(0.0f32).to_bits(), 0.0f32.to_bits());
    assert_eq!(Float::tanh(-0.0f32).to_bits(), (-0.0f32).to_bits());
    assert_eq!(Float::tanh(f32::INFINITY), 1.0);
    assert_eq!(Float::tanh(f32::NEG_INFINITY), -1.0);
    assert_eq!(Float::tanh(9.1f32), 1.0);
    assert_eq!(Float::tanh(-1e30f32), -1.0);
    assert!(Float::tanh(f32::NAN).is_nan());
    assert_eq!(Float::tanh(1e-40f32), 1e-40f32, "subnormal x gives x");
}
