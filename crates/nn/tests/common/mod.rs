//! Helpers shared by the nn tests.
#![allow(dead_code)]

use std::path::PathBuf;

use rand::{SeedableRng, rngs::StdRng};
use tapegrad_nn::NnError;
use tapegrad_tape::{GradcheckOptions, TapeError, Tensor, Var, gradcheck, gradgradcheck};

/// The command that writes every fixture, run from the repository root.
pub const REGENERATE: &str =
    "python3 -m pip install -r fixtures/requirements.txt && python3 fixtures/generate.py";

/// The path of the repository's `fixtures/<name>`, which must exist: a missing
/// file fails the test with a message naming it and the command that
/// regenerates it.
pub fn fixture_path(name: &str) -> PathBuf {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures")).join(name);
    assert!(
        path.is_file(),
        "fixture {} is missing; regenerate it with `{REGENERATE} {name}`",
        path.display()
    );
    path
}

/// The parsed JSON fixture `fixtures/<name>`; a missing, unreadable or
/// malformed file fails the test naming the command that regenerates it.
pub fn load_fixture(name: &str) -> serde_json::Value {
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

/// A JSON array of integers as usizes.
pub fn usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .expect("an array")
        .iter()
        .map(|x| x.as_u64().expect("an integer") as usize)
        .collect()
}

/// A fixture tensor given as {"shape": [...], "value": [...]}.
pub fn fixture_tensor(v: &serde_json::Value) -> Tensor<f64> {
    Tensor::from_vec(floats(&v["value"]), &usizes(&v["shape"])).expect("shape fits data")
}

/// Asserts |a − b| ≤ rtol · max(|b|, tiny) elementwise, naming the first failure.
pub fn assert_rel_close(what: &str, actual: &[f64], expected: &[f64], rtol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let tol = rtol * e.abs().max(1e-300);
        assert!(
            (a - e).abs() <= tol,
            "{what}[{i}]: got {a:e}, expected {e:e} (rel. error {:e})",
            (a - e).abs() / e.abs()
        );
    }
}

/// Asserts |a − b| ≤ rtol · max(|b|, max |expected|) elementwise: relative
/// where values are large, on the tensor's scale where they are near 0 (a
/// gradient that is 0 in exact arithmetic, such as attention's key bias's,
/// holds rounding noise on both sides).
pub fn assert_close_on_scale(what: &str, actual: &[f64], expected: &[f64], rtol: f64) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    let scale = expected.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= rtol * e.abs().max(scale),
            "{what}[{i}]: got {a:e}, expected {e:e}"
        );
    }
}

/// Saves `model` and asserts the file is byte for byte `file` (a file PyTorch
/// wrote): the same names, shapes, dtypes and values.
pub fn assert_written_back<T: tapegrad_tape::Float>(
    model: &dyn tapegrad_nn::Module<T>,
    file: &std::path::Path,
    what: &str,
) {
    let path = std::env::temp_dir().join(format!(
        "tapegrad-{what}-{}.safetensors",
        std::process::id()
    ));
    tapegrad_nn::save_safetensors(model, &path).unwrap();
    let ours = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        ours,
        std::fs::read(file).unwrap(),
        "{what}: written back byte for byte"
    );
}

/// A seeded random normal tensor.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::rand_normal(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed))
}

/// Converts an nn error back to the tape error gradcheck expects; any other
/// variant is a test failure.
pub fn tape(e: NnError) -> TapeError {
    match e {
        NnError::Tape(e) => e,
        other => panic!("unexpected nn error: {other}"),
    }
}

/// gradcheck and gradgradcheck with PyTorch's tolerances, panicking with the report.
pub fn check_both(
    what: &str,
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>, NnError>,
    inputs: &[Tensor<f64>],
) {
    let opts = GradcheckOptions::default();
    let g = |v: &[Var<f64>]| f(v).map_err(tape);
    if let Err(e) = gradcheck(g, inputs, opts) {
        panic!("{what}, first order: {e}");
    }
    if let Err(e) = gradgradcheck(g, inputs, opts) {
        panic!("{what}, second order: {e}");
    }
}
