//! L-BFGS against PyTorch (`fixtures/lbfgs_reference.json`): the parameters
//! after every step, the loss each step returns and the evaluation counts, with
//! a fixed step and with the strong Wolfe line search; its refusals; resume.

mod common;

use common::{f64s, fixture, param, values};
use serde_json::Value;
use tapegrad_optim::{Lbfgs, LbfgsConfig, LineSearch, OptimError};
use tapegrad_tape::{Tensor, Var};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/lbfgs_reference.json"
);

/// The generator's objective, on the tape.
struct Objective {
    a: Var<f64>,
    c: Var<f64>,
    b: Var<f64>,
    cw: Var<f64>,
}

impl Objective {
    fn new(spec: &Value) -> Self {
        let constant = |key: &str, shape: &[usize]| {
            let flat: Vec<f64> = match &spec[key] {
                Value::Array(rows) if rows[0].is_array() => rows.iter().flat_map(f64s).collect(),
                v => f64s(v),
            };
            Var::constant(Tensor::from_vec(flat, shape).unwrap())
        };
        Self {
            a: constant("a", &[4]),
            c: constant("c", &[4]),
            b: constant("b", &[2, 3]),
            cw: constant("C", &[2, 3]),
        }
    }

    fn value(&self, x: &Var<f64>, w: &Var<f64>) -> tapegrad_tape::Result<Var<f64>> {
        let dx = x.sub(&self.c)?;
        let quad_x = self.a.mul(&dx.mul(&dx)?)?.sum().mul_scalar(0.5);
        let ring = x.mul(x)?.sum().add_scalar(-2.0);
        let ring = ring.mul(&ring)?.mul_scalar(0.25);
        let dw = w.sub(&self.cw)?;
        let quad_w = self.b.mul(&dw.mul(&dw)?)?.sum().mul_scalar(0.5);
        let both = w.sum().mul(&x.sum())?;
        let coupling = both.mul(&both)?.mul_scalar(0.1);
        quad_x.add(&ring)?.add(&quad_w)?.add(&coupling)
    }
}

fn configured(options: &serde_json::Map<String, Value>) -> LbfgsConfig {
    let mut cfg = LbfgsConfig::default();
    for (key, v) in options {
        match key.as_str() {
            "lr" => cfg.lr = v.as_f64().unwrap(),
            "max_iter" => cfg.max_iter = v.as_u64().unwrap() as usize,
            "max_eval" => cfg.max_eval = Some(v.as_u64().unwrap() as usize),
            "history_size" => cfg.history_size = v.as_u64().unwrap() as usize,
            "line_search_fn" => {
                assert_eq!(v, "strong_wolfe");
                cfg.line_search = LineSearch::StrongWolfe;
            }
            "maximize" => cfg.maximize = v.as_bool().unwrap(),
            other => panic!("option {other} is not mapped"),
        }
    }
    cfg
}

fn close(what: &str, got: &[f64], want: &[f64]) -> f64 {
    let mut worst: f64 = 0.0;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs() + 1e-13,
            "{what}[{i}]: {a:e} vs PyTorch {b:e}"
        );
        worst = worst.max((a - b).abs() / b.abs());
    }
    worst
}

#[test]
fn trajectories_losses_and_counts_match_pytorch() {
    let root = fixture(FILE);
    let objective = Objective::new(&root["objective"]);
    let cases = root["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 5);
    for (name, case) in cases {
        let init = case["init"].as_array().unwrap();
        let x = param::<f64>(&f64s(&init[0]), &[4]);
        let w = param::<f64>(&f64s(&init[1]), &[2, 3]);
        let cfg = configured(case["options"].as_object().unwrap());
        let sign = if cfg.maximize { -1.0 } else { 1.0 };
        let mut opt = Lbfgs::new(vec![x.clone(), w.clone()], cfg).unwrap();
        let mut worst: f64 = 0.0;
        let steps = case["losses"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["expected"].as_array().unwrap());
        for (s, ((loss, expected), counts)) in
            steps.zip(case["counts"].as_array().unwrap()).enumerate()
        {
            let got = opt
                .step(|| {
                    x.zero_grad();
                    w.zero_grad();
                    let f = objective.value(&x, &w)?.mul_scalar(sign);
                    f.backward()?;
                    Ok(f.item()?)
                })
                .unwrap();
            worst = worst.max(close(
                &format!("{name} loss {s}"),
                &[got],
                &[loss.as_f64().unwrap()],
            ));
            let want = expected.as_array().unwrap();
            worst = worst.max(close(
                &format!("{name} x after {s}"),
                &values(&x),
                &f64s(&want[0]),
            ));
            worst = worst.max(close(
                &format!("{name} W after {s}"),
                &values(&w),
                &f64s(&want[1]),
            ));
            let state = opt.state().unwrap();
            let counts: Vec<usize> = counts
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c.as_u64().unwrap() as usize)
                .collect();
            assert_eq!(
                [state.func_evals, state.n_iter],
                counts[..],
                "{name} step {s}"
            );
        }
        println!("{name:28} worst relative error {worst:.1e}");
    }
}

#[test]
fn bad_options_are_refused() {
    let x = || vec![param::<f64>(&[0.0], &[1])];
    let refused = |cfg: LbfgsConfig| Lbfgs::new(x(), cfg).err().unwrap().to_string();
    let d = LbfgsConfig::default();
    assert_eq!(
        refused(LbfgsConfig { lr: -1.0, ..d }),
        "LBFGS: invalid lr = -1: must be >= 0"
    );
    assert_eq!(
        refused(LbfgsConfig {
            history_size: 0,
            ..d
        }),
        "LBFGS: invalid history_size = 0: must be >= 1"
    );
    assert_eq!(
        refused(LbfgsConfig { max_iter: 0, ..d }),
        "LBFGS: invalid max_iter = 0: must be >= 1"
    );
    assert!(
        refused(LbfgsConfig {
            tolerance_grad: f64::NAN,
            ..d
        })
        .contains("tolerance_grad")
    );
    assert!(matches!(
        Lbfgs::<f64>::new(vec![], d),
        Err(OptimError::NoParameters { .. })
    ));
}

/// Stopped after two steps and restored into a fresh optimizer: the same third step.
#[test]
fn a_restored_state_continues_bit_for_bit() {
    let root = fixture(FILE);
    let objective = Objective::new(&root["objective"]);
    let cfg = LbfgsConfig {
        max_iter: 3,
        history_size: 4,
        line_search: LineSearch::StrongWolfe,
        ..Default::default()
    };
    let run = |x: &Var<f64>, w: &Var<f64>, opt: &mut Lbfgs<f64>| {
        opt.step(|| {
            x.zero_grad();
            w.zero_grad();
            let f = objective.value(x, w)?;
            f.backward()?;
            Ok(f.item()?)
        })
        .unwrap()
    };
    let start = || {
        (
            param::<f64>(&[0.3, -0.1, 0.7, 0.2], &[4]),
            param::<f64>(&[0.0; 6], &[2, 3]),
        )
    };
    let (x, w) = start();
    let mut opt = Lbfgs::new(vec![x.clone(), w.clone()], cfg).unwrap();
    run(&x, &w, &mut opt);
    run(&x, &w, &mut opt);
    let saved = (opt.state().unwrap().clone(), values(&x), values(&w));
    run(&x, &w, &mut opt);
    let (x2, w2) = (
        param::<f64>(&saved.1, &[4]),
        param::<f64>(&saved.2, &[2, 3]),
    );
    let mut again = Lbfgs::new(vec![x2.clone(), w2.clone()], cfg).unwrap();
    let mut wrong = saved.0.clone();
    wrong.d.pop();
    assert!(again.restore(wrong).is_err());
    again.restore(saved.0).unwrap();
    run(&x2, &w2, &mut again);
    assert_eq!(common::bits(&x2), common::bits(&x));
    assert_eq!(common::bits(&w2), common::bits(&w));
}
