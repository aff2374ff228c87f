//! The fixture `fixtures/nonfinite_reference.json` (written by
//! `fixtures/gen/nonfinite.py`): PyTorch's forward values and gradients for NaN
//! and ±∞ inputs, case by case, and the runner that checks one op family
//! against it. nn's loss tests include this file too (`#[path]`), so the
//! fixture has one decoder.
//!
//! Comparison: NaN must meet NaN position for position, ±∞ the same infinity,
//! and finite values agree to 1e-12 relative (a 0 must be 0).
#![allow(dead_code)]

use std::fmt::Display;

use serde_json::Value;
use tapegrad_tape::{Tensor, Var};

/// Where the fixture lives; the tests fail (they do not skip) when it is missing.
pub const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/nonfinite_reference.json"
);

/// Every family the generator writes, each checked by one test module (the
/// `loss` family by nn's `tests/losses.rs`).
pub const FAMILIES: [&str; 8] = [
    "activation",
    "elementwise",
    "loss",
    "pool",
    "products",
    "reduce",
    "shape",
    "softmax",
];

/// Relative tolerance for finite values.
pub const RTOL: f64 = 1e-12;

/// The parsed fixture.
pub fn load() -> Value {
    let text = std::fs::read_to_string(PATH).unwrap_or_else(|e| {
        panic!("{PATH}: {e} (regenerate it: python3 fixtures/generate.py nonfinite_reference.json)")
    });
    serde_json::from_str(&text).expect("the fixture is valid JSON")
}

/// A number as the fixture writes it: a JSON number, or `"nan"`, `"inf"`, `"-inf"`.
pub fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("a finite number"),
        Value::String(s) => match s.as_str() {
            "nan" => f64::NAN,
            "inf" => f64::INFINITY,
            "-inf" => f64::NEG_INFINITY,
            other => panic!("not a number: {other:?}"),
        },
        other => panic!("not a number: {other}"),
    }
}

/// The numbers of a (possibly nested) array, flattened row-major, and the
/// array's shape.
pub fn nested(v: &Value) -> (Vec<f64>, Vec<usize>) {
    let Value::Array(items) = v else {
        return (vec![number(v)], vec![]);
    };
    let mut values = Vec::new();
    let mut inner = vec![];
    for item in items {
        let (vals, shape) = nested(item);
        values.extend(vals);
        inner = shape;
    }
    let mut shape = vec![items.len()];
    shape.extend(inner);
    (values, shape)
}

/// A fixture tensor `{"shape": [...], "value": [...]}`.
pub fn tensor(v: &Value) -> Tensor<f64> {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("a shape")
        .iter()
        .map(|n| n.as_u64().expect("an extent") as usize)
        .collect();
    let values = v["value"].as_array().expect("values");
    Tensor::from_vec(values.iter().map(number).collect(), &shape).expect("shape and values agree")
}

/// The extra arguments of a case, by name.
pub struct Args<'a>(&'a Value);

impl Args<'_> {
    fn get(&self, name: &str) -> &Value {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("argument {name} is missing"))
    }

    /// Whether the argument is given.
    pub fn has(&self, name: &str) -> bool {
        self.0.get(name).is_some()
    }

    /// A number (non-finite ones as strings).
    pub fn f64(&self, name: &str) -> f64 {
        number(self.get(name))
    }

    /// A number, `None` when absent.
    pub fn opt_f64(&self, name: &str) -> Option<f64> {
        self.has(name).then(|| self.f64(name))
    }

    /// A non-negative integer.
    pub fn usize(&self, name: &str) -> usize {
        self.get(name).as_u64().expect("an index") as usize
    }

    /// A non-negative integer, `None` when absent.
    pub fn opt_usize(&self, name: &str) -> Option<usize> {
        self.has(name).then(|| self.usize(name))
    }

    /// An integer (an axis).
    pub fn isize(&self, name: &str) -> isize {
        self.get(name).as_i64().expect("an integer") as isize
    }

    /// A boolean.
    pub fn bool(&self, name: &str) -> bool {
        self.get(name).as_bool().expect("a boolean")
    }

    /// A string, `None` when absent.
    pub fn opt_str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|v| v.as_str().expect("a string"))
    }

    /// A list of integers (axes).
    pub fn isizes(&self, name: &str) -> Vec<isize> {
        let (values, _) = nested(self.get(name));
        values.into_iter().map(|x| x as isize).collect()
    }

    /// A (possibly nested) list of indices, flattened, with its shape.
    pub fn indices(&self, name: &str) -> (Vec<usize>, Vec<usize>) {
        let (values, shape) = nested(self.get(name));
        (values.into_iter().map(|x| x as usize).collect(), shape)
    }

    /// A pair `[a, b]` (kernel, stride, padding).
    pub fn pair(&self, name: &str) -> (usize, usize) {
        match self.indices(name).0[..] {
            [a, b] => (a, b),
            _ => panic!("argument {name} is not a pair"),
        }
    }

    /// A nested list of numbers as a tensor.
    pub fn tensor(&self, name: &str) -> Tensor<f64> {
        let (values, shape) = nested(self.get(name));
        Tensor::from_vec(values, &shape).expect("a rectangular list")
    }

    /// A list of numbers, `None` when absent.
    pub fn opt_floats(&self, name: &str) -> Option<Vec<f64>> {
        self.has(name).then(|| nested(self.get(name)).0)
    }
}

/// Compares values to PyTorch's: NaN to NaN, ±∞ exactly, finite to [`RTOL`].
pub fn compare(what: &str, got: &Tensor<f64>, want: &Tensor<f64>) -> Result<(), String> {
    compare_within(what, got, want, RTOL)
}

/// [`compare`] with finite values to `rtol` (a case's own, where it says why).
fn compare_within(
    what: &str,
    got: &Tensor<f64>,
    want: &Tensor<f64>,
    rtol: f64,
) -> Result<(), String> {
    if got.shape() != want.shape() {
        return Err(format!(
            "{what}: shape {:?}, PyTorch {:?}",
            got.shape(),
            want.shape()
        ));
    }
    let wrong: Vec<String> = got
        .data()
        .iter()
        .zip(want.data())
        .enumerate()
        .filter(|&(_, (&g, &w))| !agrees(g, w, rtol))
        .map(|(i, (g, w))| format!("[{i}] {g:e} (PyTorch {w:e})"))
        .collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {}", wrong.join(", ")))
    }
}

fn agrees(got: f64, want: f64, rtol: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= rtol * want.abs()
    }
}

/// Runs every case of `family`: `dispatch(op, inputs, args)` computes the op
/// on the inputs (parameters holding the fixture's values), `None` for an op
/// it does not know (a failure: no case goes unchecked). The output is
/// compared to PyTorch's, then a backward pass from the case's `grad_output`
/// (ones by default) gives each input's gradient to compare. Panics with every
/// mismatch of the family.
pub fn check_family<E: Display>(
    family: &str,
    dispatch: impl Fn(&str, &[Var<f64>], &Args<'_>) -> Option<Result<Var<f64>, E>>,
) {
    let json = load();
    check_families(&json);
    let cases: Vec<&Value> = json["cases"]
        .as_array()
        .expect("a list of cases")
        .iter()
        .filter(|c| c["family"] == family)
        .collect();
    assert!(!cases.is_empty(), "the fixture has no {family} case");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check_case(case, &dispatch).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} {family} cases differ from PyTorch:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The fixture's families are the ones the tests know.
fn check_families(json: &Value) {
    let families: Vec<&str> = json["families"]
        .as_array()
        .expect("a list of families")
        .iter()
        .map(|f| f.as_str().expect("a name"))
        .collect();
    assert_eq!(families, FAMILIES, "a family without a test module");
}

fn check_case<E: Display>(
    case: &Value,
    dispatch: &impl Fn(&str, &[Var<f64>], &Args<'_>) -> Option<Result<Var<f64>, E>>,
) -> Result<(), String> {
    let name = case["name"].as_str().expect("a name");
    let op = case["op"].as_str().expect("an op");
    let inputs: Vec<Var<f64>> = case["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|t| Var::parameter(tensor(t)))
        .collect();
    let args = Args(&case["args"]);
    let rtol = case
        .get("rtol")
        .map_or(RTOL, |r| r.as_f64().expect("a tolerance"));
    let out = dispatch(op, &inputs, &args)
        .ok_or_else(|| format!("{name}: no dispatch for op {op}"))?
        .map_err(|e| format!("{name}: {e}"))?;
    compare_within(
        &format!("{name} forward"),
        &out.value(),
        &tensor(&case["output"]),
        rtol,
    )?;
    let want_grads = case["grads"].as_array().expect("grads");
    if want_grads.iter().all(Value::is_null) {
        return match out.requires_grad() {
            false => Ok(()),
            true => Err(format!("{name}: differentiable here, not in PyTorch")),
        };
    }
    let seed = match case["args"].get("grad_output") {
        Some(g) => tensor(g),
        None => Tensor::ones(out.shape()),
    };
    out.backward_from(&seed, false)
        .map_err(|e| format!("{name} backward: {e}"))?;
    for (k, (input, want)) in inputs.iter().zip(want_grads).enumerate() {
        let what = format!("{name} gradient of input {k}");
        match (input.grad(), want.is_null()) {
            (None, true) => {}
            (Some(g), false) => compare_within(&what, &g, &tensor(want), rtol)?,
            (got, _) => return Err(format!("{what}: {got:?}, PyTorch {want}")),
        }
    }
    Ok(())
}
