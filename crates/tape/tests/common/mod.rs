//! Helpers shared by the tape tests.
#![allow(dead_code)]

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_tape::{GradcheckOptions, Result, Tensor, Var, gradcheck, gradgradcheck};

/// A seeded random normal tensor.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// A seeded random tensor in [low, high).
pub fn rand_in(shape: &[usize], low: f64, high: f64, seed: u64) -> Tensor<f64> {
    Tensor::rand_uniform(shape, low, high, &mut StdRng::seed_from_u64(seed))
}

/// Runs gradcheck and gradgradcheck with PyTorch's defaults, panicking with the
/// mismatch report.
pub fn check_both(f: impl Fn(&[Var<f64>]) -> Result<Var<f64>>, inputs: &[Tensor<f64>]) {
    let opts = GradcheckOptions::default();
    if let Err(e) = gradcheck(&f, inputs, opts) {
        panic!("first order: {e}");
    }
    if let Err(e) = gradgradcheck(&f, inputs, opts) {
        panic!("second order: {e}");
    }
}
