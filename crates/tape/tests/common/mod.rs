//! Helpers shared by the tape tests.
#![allow(dead_code)]

use std::path::PathBuf;

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

/// The command that writes every fixture, run from the repository root.
pub const REGENERATE: &str =
    "python3 -m pip install -r fixtures/requirements.txt && python3 fixtures/generate.py";

/// The path of the repository's `fixtures/<name>`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures")).join(name)
}

/// The parsed JSON fixture `fixtures/<name>`. A missing, unreadable or
/// malformed file fails the test with a message naming it and the command that
/// regenerates it.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "fixture {} cannot be read ({e}); regenerate it with `{REGENERATE} {name}`",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "fixture {} is not valid JSON ({e}); regenerate it with `{REGENERATE} {name}`",
            path.display()
        )
    })
}

/// A JSON array of numbers as f64s.
pub fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// A fixture tensor `{"shape": [...], "value": [...]}`.
pub fn fixture_tensor(v: &serde_json::Value) -> Tensor<f64> {
    let shape: Vec<usize> = floats(&v["shape"]).iter().map(|&n| n as usize).collect();
    Tensor::from_vec(floats(&v["value"]), &shape).expect("shape and values agree")
}

/// Asserts |a − b| ≤ rtol·|b| elementwise (plus a tiny absolute floor for zeros).
pub fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rtol * w.abs() + 1e-300,
            "{what}[{i}]: got {g:e}, PyTorch {w:e}"
        );
    }
}
