//! Every trajectory of the PyTorch fixture, in f64 (rtol 1e-12) and f32 (rtol 1e-5),
//! including the scheduled and clipped cases. Each case runs the one row of the
//! table with its configuration; the case's own description (every option key
//! understood) only identifies the row.

mod common;

use common::table::{Dtype, Reference, Row, rows, rows_like};
use common::{f64s, fixture_cases, param, set_grad, values};
use serde_json::{Map, Value};
use tapegrad_optim::{
    AdadeltaConfig, AdafactorConfig, AdagradConfig, AdamConfig, AdamaxConfig, AsgdConfig,
    CosineAnnealingLr, LambConfig, LionConfig, Lookahead, LrScheduler, NAdamConfig, Optim,
    Optimizer, ParamState, RAdamConfig, RmsPropConfig, RpropConfig, Rule, ScheduleFreeAdamWConfig,
    ScheduleFreeSgdConfig, Scheduler, SgdConfig, StepLr, clip_grad_norm,
};
use tapegrad_tape::{Float, Var};

const KNOWN_KEYS: &[&str] = &[
    "optimizer",
    "options",
    "shapes",
    "init",
    "grads",
    "expected",
    "scheduler",
    "lr",
    "clip_grad_norm",
    "total_norm_before_clip",
    "source",
    "state",
    "eval",
    "rtol",
    "lookahead",
];

fn num(v: &Value) -> f64 {
    v.as_f64().expect("number")
}

/// `cfg` with the case's options set by their PyTorch names (a pair such as
/// `betas` as `betas.0`, `betas.1`; PyTorch's `None` in one as NaN); every
/// option must exist.
fn configured<R: Rule>(mut cfg: R, optimizer: &str, options: &Map<String, Value>) -> R {
    for (key, value) in options {
        let set = match value {
            Value::Bool(b) => cfg.set(key, f64::from(u8::from(*b))),
            Value::Number(_) => cfg.set(key, num(value)),
            Value::Array(items) => items.iter().enumerate().try_for_each(|(i, x)| {
                let x = if x.is_null() { f64::NAN } else { num(x) };
                cfg.set(&format!("{key}.{i}"), x)
            }),
            other => panic!("{optimizer}: option {key} = {other} of the fixture is not a value"),
        };
        set.unwrap_or_else(|e| {
            panic!("{optimizer}: option {key} of the fixture is not mapped: {e}")
        });
    }
    cfg
}

/// The optimizer a case describes, from PyTorch's defaults for its class;
/// every option key must be understood.
fn described<T: Float>(case: &Value, params: Vec<Var<T>>) -> Box<dyn Optimizer<T>> {
    fn boxed<T: Float, R: Rule>(
        cfg: R,
        name: &str,
        options: &Map<String, Value>,
        params: Vec<Var<T>>,
    ) -> Box<dyn Optimizer<T>> {
        Box::new(Optim::new(params, configured(cfg, name, options)).unwrap())
    }
    let name = case["optimizer"].as_str().expect("optimizer name");
    let o = case["options"].as_object().expect("options");
    if let Some(la) = case.get("lookahead") {
        let k = la["sync_period"].as_u64().expect("sync_period") as usize;
        let alpha = la["slow_step_size"].as_f64().expect("slow_step_size");
        let mut fast = case.clone();
        fast.as_object_mut().unwrap().remove("lookahead");
        return Box::new(Lookahead::new(described(&fast, params), k, alpha).unwrap());
    }
    match name {
        "SGD" => boxed(SgdConfig::default(), name, o, params),
        "Adagrad" => boxed(AdagradConfig::default(), name, o, params),
        "RMSprop" => boxed(RmsPropConfig::default(), name, o, params),
        "Adam" => boxed(AdamConfig::default(), name, o, params),
        "AdamW" => boxed(AdamConfig::adamw(), name, o, params),
        "Adadelta" => boxed(AdadeltaConfig::default(), name, o, params),
        "Adamax" => boxed(AdamaxConfig::default(), name, o, params),
        "NAdam" => boxed(NAdamConfig::default(), name, o, params),
        "RAdam" => boxed(RAdamConfig::default(), name, o, params),
        "ASGD" => boxed(AsgdConfig::default(), name, o, params),
        "Rprop" => boxed(RpropConfig::default(), name, o, params),
        "Lion" => boxed(LionConfig::default(), name, o, params),
        "LAMB" => boxed(LambConfig::default(), name, o, params),
        "Adafactor" => boxed(AdafactorConfig::default(), name, o, params),
        "ScheduleFreeSGD" => boxed(ScheduleFreeSgdConfig::default(), name, o, params),
        "ScheduleFreeAdamW" => boxed(ScheduleFreeAdamWConfig::default(), name, o, params),
        other => panic!("optimizer {other} of the fixture is not mapped"),
    }
}

fn schedule(spec: &Value) -> Box<dyn LrScheduler> {
    let kind = spec["kind"].as_str().expect("scheduler kind");
    let keys: Vec<&str> = spec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    match kind {
        "StepLR" => {
            assert!(
                keys.iter()
                    .all(|k| ["kind", "step_size", "gamma"].contains(k)),
                "{keys:?}"
            );
            let step_size = spec["step_size"].as_u64().unwrap() as usize;
            Box::new(StepLr::new(step_size, num(&spec["gamma"])).unwrap())
        }
        "CosineAnnealingLR" => {
            assert!(
                keys.iter()
                    .all(|k| ["kind", "T_max", "eta_min"].contains(k)),
                "{keys:?}"
            );
            let t_max = spec["T_max"].as_u64().unwrap() as usize;
            Box::new(CosineAnnealingLr::new(t_max, num(&spec["eta_min"])).unwrap())
        }
        other => panic!("scheduler {other} of the fixture is not mapped"),
    }
}

/// |a − b| ≤ rtol · |b| + atol, reported with the worst relative error.
fn assert_close(what: &str, got: &[f64], want: &[f64], rtol: f64, atol: f64) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst: f64 = 0.0;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let rel = (a - b).abs() / b.abs();
        assert!(
            (a - b).abs() <= rtol * b.abs() + atol,
            "{what}[{i}]: got {a:e}, PyTorch {b:e}, relative error {rel:e} > {rtol:e} (atol {atol:e})"
        );
        worst = worst.max(rel);
    }
    worst
}

/// The table's row with the case's configuration; exactly one must exist.
fn the_row<T: Dtype>(name: &str, case: &Value) -> Row {
    let probe = described::<T>(case, vec![param(&[0.0], &[1])]);
    let mut found = rows_like(probe.as_ref());
    let names: Vec<&str> = found.iter().map(|r| r.name).collect();
    assert_eq!(
        found.len(),
        1,
        "fixture case {name} ({} {}) must match one row of tests/common/table.rs, matches {names:?}",
        case["optimizer"],
        case["options"]
    );
    found.remove(0)
}

/// Runs one case; returns its row and the worst relative error over the trajectory.
fn run_case<T: Dtype>(name: &str, case: &Value, rtol: f64, atol: f64) -> (&'static str, f64) {
    // A case whose reference carries a coarser rounding says so.
    let (rtol, atol) = match case.get("rtol").and_then(Value::as_f64) {
        Some(coarse) => (rtol.max(coarse), atol.max(coarse)),
        None => (rtol, atol),
    };
    for key in case.as_object().unwrap().keys() {
        assert!(
            KNOWN_KEYS.contains(&key.as_str()),
            "{name}: unknown key {key}"
        );
    }
    let params: Vec<Var<T>> = common::case_params(case);
    let row = the_row::<T>(name, case);
    let mut opt = row.over(params.clone());
    opt.set_lr(num(&case["options"]["lr"])).unwrap();
    let mut sched = case
        .get("scheduler")
        .map(|spec| Scheduler::new(schedule(spec), opt.as_mut()).unwrap());
    let lrs = case.get("lr").map(f64s);
    let clip = case.get("clip_grad_norm");
    let norms = case.get("total_norm_before_clip").map(f64s);
    assert_eq!(
        clip.is_some(),
        norms.is_some(),
        "{name}: clip without norms"
    );
    let grads = case["grads"].as_array().unwrap();
    let expected = case["expected"].as_array().unwrap();
    assert_eq!(grads.len(), expected.len());
    let mut worst: f64 = 0.0;
    for (t, (step_grads, step_expected)) in grads.iter().zip(expected).enumerate() {
        for (p, g) in params.iter().zip(step_grads.as_array().unwrap()) {
            set_grad(p, &f64s(g));
        }
        if let Some(spec) = clip {
            let max_norm = num(&spec["max_norm"]);
            let norm_type = num(&spec["norm_type"]);
            let total = clip_grad_norm(&params, max_norm, norm_type, true).unwrap();
            let want = norms.as_ref().unwrap()[t];
            assert_close(
                &format!("{name} norm at step {t}"),
                &[total.to_f64()],
                &[want],
                rtol,
                0.0,
            );
        }
        if let Some(lrs) = &lrs {
            assert_close(
                &format!("{name} lr at step {t}"),
                &[opt.lr()],
                &[lrs[t]],
                1e-12,
                0.0,
            );
        }
        opt.step().unwrap();
        if let Some(s) = sched.as_mut() {
            s.step(opt.as_mut()).unwrap();
        }
        for (i, (p, want)) in params
            .iter()
            .zip(step_expected.as_array().unwrap())
            .enumerate()
        {
            let what = format!("{name} ({}) step {t} param {i}", T::NAME);
            worst = worst.max(assert_close(&what, &values(p), &f64s(want), rtol, atol));
        }
    }
    let state = opt.state_dict();
    for (i, want) in case["state"].as_array().unwrap().iter().enumerate() {
        let what = format!("{name} ({}) state of param {i}", T::NAME);
        worst = worst.max(assert_state(&what, &state.state[0][i], want, rtol, atol));
    }
    (row.name, worst)
}

/// The state PyTorch keeps for one parameter after the last step, buffer by
/// buffer under the same names; `step` is the step count.
fn assert_state<T: Float>(
    what: &str,
    got: &Option<ParamState<T>>,
    want: &Value,
    rtol: f64,
    atol: f64,
) -> f64 {
    let want = want.as_object().unwrap();
    let Some(got) = got else {
        assert!(want.is_empty(), "{what}: no state, PyTorch has {want:?}");
        return 0.0;
    };
    let mut worst: f64 = 0.0;
    for (name, values) in want {
        let values = f64s(values);
        if name == "step" {
            assert_eq!(got.step as f64, values[0], "{what}: step");
            continue;
        }
        let buffer = got
            .buffer(name)
            .unwrap_or_else(|| panic!("{what}: no buffer {name}, which PyTorch keeps"));
        let buffer: Vec<f64> = buffer.iter().map(|x| x.to_f64()).collect();
        let what = format!("{what}: {name}");
        worst = worst.max(assert_close(&what, &buffer, &values, rtol, atol));
    }
    worst
}

fn run_all<T: Dtype>(rtol: f64, atol: f64) {
    let cases = fixture_cases();
    assert_eq!(cases.len(), 46, "the fixtures have 35 + 11 cases");
    for (name, case) in &cases {
        let (row, worst) = run_case::<T>(name, case, rtol, atol);
        println!(
            "{name:28} row {row:28} {}: worst relative error {worst:.2e}",
            T::NAME
        );
    }
}

#[test]
fn every_fixture_trajectory_matches_pytorch_in_f64() {
    run_all::<f64>(1e-12, 0.0);
}

#[test]
/// In f32 the starting values and gradients are themselves rounded to about
/// 6e-8 of their size (≈ 1), so a parameter that crosses zero carries an absolute
/// error of that order; hence the small atol next to rtol 1e-5.
fn every_fixture_trajectory_matches_pytorch_in_f32() {
    run_all::<f32>(1e-5, 1e-6);
}

/// A row declared to have PyTorch's numbers has a case, and a row declared
/// without has none (else its declaration is out of date).
#[test]
fn every_fixture_row_has_a_case_and_no_other_row_has_one() {
    let cases = fixture_cases();
    let matched: Vec<&str> = cases
        .iter()
        .map(|(name, case)| the_row::<f64>(name, case).name)
        .collect();
    for row in rows() {
        let has_case = matched.contains(&row.name);
        match row.reference {
            Reference::Fixture => {
                assert!(has_case, "{}: declared Fixture, no case matches", row.name)
            }
            Reference::Unavailable(why) => assert!(
                !has_case,
                "{}: declared without a case ({why}), but a case matches",
                row.name
            ),
        }
    }
}
