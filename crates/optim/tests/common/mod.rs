//! Helpers shared by the optimizer tests: the table of optimizers, the PyTorch
//! fixture and small problems.

#![allow(dead_code)]

pub mod table;

use serde_json::Value;
use tapegrad_tape::{Float, Tensor, Var};

/// The PyTorch reference trajectories, in the repository's fixtures folder.
pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/optim_reference.json"
);

/// optax's trajectories for the methods PyTorch lacks, in the same layout.
pub const OPTAX_FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/optax_reference.json"
);

/// The trajectory cases of both fixtures (PyTorch's and optax's) by name. A
/// missing file fails the test, naming the file and the command that writes it.
pub fn fixture_cases() -> serde_json::Map<String, Value> {
    let mut cases = serde_json::Map::new();
    for file in [FIXTURE, OPTAX_FIXTURE] {
        let root = fixture(file);
        for (name, case) in root["cases"].as_object().expect("cases is an object") {
            let before = cases.insert(name.clone(), case.clone());
            assert!(before.is_none(), "case {name} is in both fixtures");
        }
    }
    cases
}

/// A fixture file of the repository's `fixtures/`, parsed.
pub fn fixture(path: &str) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        let name = path.rsplit('/').next().unwrap_or(path);
        panic!(
            "{path}: {e}; write it with `python3 fixtures/generate.py {name}` \
             (needs PyTorch: `python3 -m pip install -r fixtures/requirements.txt`)"
        )
    });
    serde_json::from_str(&text).expect("fixture is valid JSON")
}

/// Numbers, with a non-finite one written as the string "nan", "inf" or "-inf".
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| match x.as_str() {
            Some("nan") => f64::NAN,
            Some("inf") => f64::INFINITY,
            Some("-inf") => f64::NEG_INFINITY,
            _ => x.as_f64().expect("number"),
        })
        .collect()
}

pub fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("count") as usize)
        .collect()
}

/// A parameter of the given shape and values, cast to T.
/// The starting parameters of a trajectory case: its `init` values in its `shapes`.
pub fn case_params<T: Float>(case: &Value) -> Vec<Var<T>> {
    let shapes = case["shapes"]
        .as_array()
        .expect("shapes")
        .iter()
        .map(usizes);
    let init = case["init"].as_array().expect("init").iter().map(f64s);
    init.zip(shapes).map(|(v, s)| param(&v, &s)).collect()
}

pub fn param<T: Float>(values: &[f64], shape: &[usize]) -> Var<T> {
    Var::parameter(tensor(values, shape))
}

pub fn tensor<T: Float>(values: &[f64], shape: &[usize]) -> Tensor<T> {
    Tensor::from_vec(values.iter().map(|&x| T::from_f64(x)).collect(), shape).expect("shape")
}

/// A 1-d parameter.
pub fn vector<T: Float>(values: &[f64]) -> Var<T> {
    param(values, &[values.len()])
}

/// Sets a gradient given as f64 values.
pub fn set_grad<T: Float>(p: &Var<T>, values: &[f64]) {
    p.set_grad(Some(tensor(values, p.shape())));
}

/// The value as f64s.
pub fn values<T: Float>(p: &Var<T>) -> Vec<f64> {
    p.value().data().iter().map(|x| x.to_f64()).collect()
}

/// Bit patterns, for exact comparisons that also tell -0 from 0.
pub fn bits(p: &Var<f64>) -> Vec<u64> {
    p.value().data().iter().map(|x| x.to_bits()).collect()
}

/// Deterministic pseudo-random numbers in [-1, 1) (a small LCG: tests need no rand).
pub fn noise(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}
