//! L-BFGS against PyTorch (`fixtures/lbfgs_reference.json`): the parameters
//! after every step, the loss each step returns and the evaluation counts, with
//! a fixed step and with the strong Wolfe line search; its refusals; resume.

mod common;

use common::{f64s, fixture, param, values};
use serde_json::Value;
use tapegrad_optim::{
    Lbfgs, LbfgsConfig, LineSearch, OptimError, Optimizer, OptimizerKind, OptimizerSettings,
};
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
                    f.item()
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
            f.item()
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

/// One `step_with` of `opt` on the objective at (x, w).
fn step_through_trait(
    objective: &Objective,
    x: &Var<f64>,
    w: &Var<f64>,
    opt: &mut dyn Optimizer<f64>,
) -> f64 {
    let mut closure = || {
        x.zero_grad();
        w.zero_grad();
        let f = objective.value(x, w)?;
        f.backward()?;
        f.item()
    };
    opt.step_with(&mut closure).unwrap()
}

/// Through the `Optimizer` trait and the state file, as a checkpoint saves it:
/// stopped after two steps, loaded into one built by the registry, the same
/// third and fourth steps; before any step the state is empty and loads too.
#[test]
fn the_state_file_resumes_bit_for_bit_through_the_trait() {
    let root = fixture(FILE);
    let objective = Objective::new(&root["objective"]);
    let cfg = LbfgsConfig {
        max_iter: 3,
        history_size: 2,
        line_search: LineSearch::StrongWolfe,
        ..Default::default()
    };
    let settings = OptimizerSettings::new(OptimizerKind::Lbfgs);
    let build = |x: &Var<f64>, w: &Var<f64>| -> Box<dyn Optimizer<f64>> {
        let mut opt = settings.build(vec![x.clone(), w.clone()]).unwrap();
        let mut state = opt.state_dict();
        let mut wanted = Lbfgs::new(vec![x.clone(), w.clone()], cfg)
            .unwrap()
            .state_dict();
        wanted.groups = state.groups.clone();
        state.options = wanted.options;
        opt.load_state_dict(&state)
            .expect_err("another history size is refused");
        Box::new(Lbfgs::new(vec![x.clone(), w.clone()], cfg).unwrap())
    };
    let start = || {
        (
            param::<f64>(&[0.3, -0.1, 0.7, 0.2], &[4]),
            param::<f64>(&[0.0; 6], &[2, 3]),
        )
    };
    let path = std::env::temp_dir().join(format!("tapegrad-lbfgs-{}", std::process::id()));
    let (x, w) = start();
    let mut opt = build(&x, &w);
    let fresh = opt.state_dict();
    assert!(fresh.state[0].iter().all(Option::is_none));
    opt.load_state_dict(&fresh).unwrap();
    let mut losses = Vec::new();
    for _ in 0..2 {
        losses.push(step_through_trait(&objective, &x, &w, opt.as_mut()));
    }
    opt.save(&path).unwrap();
    let (x2, w2) = (
        param::<f64>(&values(&x), &[4]),
        param::<f64>(&values(&w), &[2, 3]),
    );
    for _ in 0..2 {
        losses.push(step_through_trait(&objective, &x, &w, opt.as_mut()));
    }
    let mut again = build(&x2, &w2);
    again.load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let mut resumed = Vec::new();
    for _ in 0..2 {
        resumed.push(step_through_trait(&objective, &x2, &w2, again.as_mut()));
    }
    assert_eq!(resumed, losses[2..]);
    assert_eq!(common::bits(&x2), common::bits(&x));
    assert_eq!(common::bits(&w2), common::bits(&w));
    assert_eq!(again.state_dict(), opt.state_dict());
}

#[test]
fn a_damaged_state_or_a_step_without_closure_is_refused() {
    let root = fixture(FILE);
    let objective = Objective::new(&root["objective"]);
    let (x, w) = (
        param::<f64>(&[0.3, -0.1, 0.7, 0.2], &[4]),
        param::<f64>(&[0.0; 6], &[2, 3]),
    );
    let mut opt: Box<dyn Optimizer<f64>> = OptimizerSettings::new(OptimizerKind::Lbfgs)
        .build(vec![x.clone(), w.clone()])
        .unwrap();
    let err = opt.step().unwrap_err();
    assert!(err.to_string().contains("step_with(closure)"), "{err}");
    step_through_trait(&objective, &x, &w, opt.as_mut());
    let good = opt.state_dict();
    let damaged = [
        {
            let mut s = good.clone();
            s.options.retain(|(k, _)| k != "state.t");
            s
        },
        {
            let mut s = good.clone();
            s.state[0][1].as_mut().unwrap().buffers[0].1.pop();
            s
        },
        {
            let mut s = good.clone();
            s.state[0][0] = None;
            s
        },
        {
            let mut s = good.clone();
            s.groups[0].shapes[1] = vec![3, 2];
            s
        },
        {
            let mut s = good.clone();
            s.optimizer = "Adam".into();
            s
        },
    ];
    let mut fresh: Box<dyn Optimizer<f64>> = OptimizerSettings::new(OptimizerKind::Lbfgs)
        .build(vec![x.clone(), w.clone()])
        .unwrap();
    for (i, state) in damaged.iter().enumerate() {
        let err = fresh.load_state_dict(state).unwrap_err();
        assert!(
            matches!(err, OptimError::StateMismatch { .. }),
            "{i}: {err}"
        );
        assert!(
            fresh.state_dict().state[0].iter().all(Option::is_none),
            "{i} changed the state"
        );
    }
    fresh.load_state_dict(&good).unwrap();
    assert_eq!(fresh.state_dict(), good);
    assert!(fresh.set_group_lr(1, 0.5).is_err());
    fresh.set_group_lr(0, 0.5).unwrap();
    assert_eq!(fresh.lr(), 0.5);
    let with_decay = OptimizerSettings::new(OptimizerKind::Lbfgs).with_weight_decay(0.1);
    let err = with_decay.build(vec![x]).unwrap_err();
    assert!(
        err.to_string().contains("weight_decay = 0.1: must be 0"),
        "{err}"
    );
}
