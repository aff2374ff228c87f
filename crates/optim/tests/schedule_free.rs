//! Schedule-free SGD and AdamW evaluate at the average x: after each optax
//! case's trajectory, `with_eval_weights` shows optax's
//! `schedule_free_eval_params`, and puts y back bit for bit.

mod common;

use common::{bits, f64s, fixture, set_grad, values};
use serde_json::Value;
use tapegrad_optim::{
    Optim, Optimizer, ScheduleFree, ScheduleFreeAdamWConfig, ScheduleFreeSgdConfig,
};
use tapegrad_tape::Var;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/optax_reference.json"
);

fn check<R: ScheduleFree>(mut cfg: R, name: &str, case: &Value) {
    for (key, v) in case["options"].as_object().unwrap() {
        cfg.set(key, v.as_f64().unwrap()).unwrap();
    }
    let params: Vec<Var<f64>> = common::case_params(case);
    let mut opt = Optim::new(params.clone(), cfg).unwrap();
    for step in case["grads"].as_array().unwrap() {
        for (p, g) in params.iter().zip(step.as_array().unwrap()) {
            set_grad(p, &f64s(g));
        }
        opt.step().unwrap();
    }
    let y: Vec<Vec<u64>> = params.iter().map(bits).collect();
    let x: Vec<Vec<f64>> = opt.with_eval_weights(|| params.iter().map(values).collect());
    let rtol = case.get("rtol").and_then(Value::as_f64).unwrap_or(1e-13);
    for (i, (got, want)) in x.iter().zip(case["eval"].as_array().unwrap()).enumerate() {
        for (a, b) in got.iter().zip(f64s(want)) {
            assert!(
                (a - b).abs() <= rtol * b.abs().max(1e-3),
                "{name} eval param {i}: {a} vs optax {b}"
            );
        }
    }
    assert_eq!(
        params.iter().map(bits).collect::<Vec<_>>(),
        y,
        "{name}: y is back"
    );
    assert_ne!(
        x[0],
        params[0].value().data().to_vec(),
        "{name}: x is not y"
    );
}

#[test]
fn the_eval_point_is_optax_s() {
    let root = fixture(FILE);
    let mut checked = 0;
    for (name, case) in root["cases"].as_object().unwrap() {
        match case["optimizer"].as_str().unwrap() {
            "ScheduleFreeSGD" => check(ScheduleFreeSgdConfig::default(), name, case),
            "ScheduleFreeAdamW" => check(ScheduleFreeAdamWConfig::default(), name, case),
            _ => continue,
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}
