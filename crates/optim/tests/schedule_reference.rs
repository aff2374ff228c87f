//! Every schedule of `fixtures/schedule_reference.json`: the lr of each of two
//! groups at every step, equal to PyTorch's to 1e-12 relative, applied through
//! a `Scheduler` to an optimizer as a training loop does.

mod common;

use common::{f64s, fixture, usizes, vector};
use serde_json::Value;
use tapegrad_optim::{
    ConstantLr, CosineAnnealingWarmRestarts, ExponentialLr, LambdaLr, LrScheduler, MultiStepLr,
    Optimizer, ParamGroup, PolynomialLr, Scheduler, Sgd, SgdConfig,
};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/schedule_reference.json"
);

/// LambdaLR's functions by the names of `fixtures/gen/schedules.py`.
fn lambda(name: &str) -> LambdaLr {
    match name {
        "inverse_time" => LambdaLr::new(|t| 1.0 / (1.0 + 0.1 * t as f64)),
        "warmup_then_flat" => LambdaLr::new(|t| f64::min(1.0, (t + 1) as f64 / 5.0)),
        other => panic!("LambdaLR function {other} of the fixture is not defined here"),
    }
}

/// The schedule a case describes, with PyTorch's defaults for what it leaves out;
/// every key must be understood.
fn described(spec: &Value) -> Box<dyn LrScheduler> {
    let spec = spec.as_object().expect("scheduler spec");
    let kind = spec["kind"].as_str().expect("kind");
    for key in spec.keys() {
        let known = [
            "kind",
            "milestones",
            "gamma",
            "factor",
            "total_iters",
            "power",
            "lr_lambda",
            "T_0",
            "T_mult",
            "eta_min",
        ];
        assert!(
            known.contains(&key.as_str()),
            "{kind}: key {key} is not mapped"
        );
    }
    let num = |key: &str, default: f64| spec.get(key).map_or(default, |v| v.as_f64().unwrap());
    let int = |key: &str, default: usize| {
        spec.get(key)
            .map_or(default, |v| v.as_u64().unwrap() as usize)
    };
    match kind {
        "MultiStepLR" => {
            let milestones = usizes(&spec["milestones"]);
            Box::new(MultiStepLr::new(milestones, num("gamma", 0.1)).unwrap())
        }
        "ExponentialLR" => Box::new(ExponentialLr::new(num("gamma", f64::NAN)).unwrap()),
        "ConstantLR" => {
            Box::new(ConstantLr::new(num("factor", 1.0 / 3.0), int("total_iters", 5)).unwrap())
        }
        "PolynomialLR" => {
            Box::new(PolynomialLr::new(int("total_iters", 5), num("power", 1.0)).unwrap())
        }
        "LambdaLR" => Box::new(lambda(spec["lr_lambda"].as_str().unwrap())),
        "CosineAnnealingWarmRestarts" => Box::new(
            CosineAnnealingWarmRestarts::new(int("T_0", 0), int("T_mult", 1), num("eta_min", 0.0))
                .unwrap(),
        ),
        other => panic!("scheduler {other} of the fixture is not mapped"),
    }
}

#[test]
fn every_schedule_matches_pytorch_at_every_step() {
    let root = fixture(FILE);
    let bases = f64s(&root["base_lrs"]);
    let cases = root["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 11, "the fixture has 11 cases");
    for (name, case) in cases {
        let groups: Vec<ParamGroup<f64>> = bases
            .iter()
            .map(|&lr| ParamGroup::new(vec![vector(&[0.0])]).with_lr(lr))
            .collect();
        let mut opt = Sgd::with_groups(groups, SgdConfig::default()).unwrap();
        let mut sched = Scheduler::new(described(&case["scheduler"]), &mut opt).unwrap();
        let mut worst: f64 = 0.0;
        for (t, want) in case["lr"].as_array().unwrap().iter().enumerate() {
            for (g, (group, want)) in opt.groups().iter().zip(f64s(want)).enumerate() {
                let err = (group.lr - want).abs();
                assert!(
                    err <= 1e-12 * want.abs(),
                    "{name}: group {g} at step {t}: lr {} vs PyTorch {want}",
                    group.lr
                );
                worst = worst.max(if want == 0.0 { err } else { err / want.abs() });
            }
            opt.step().unwrap();
            sched.step(&mut opt).unwrap();
        }
        println!("{name:26} worst relative error {worst:.1e}");
    }
}

#[test]
fn invalid_schedule_options_are_refused() {
    let refused = |r: Result<(), tapegrad_optim::OptimError>, want: &str| {
        assert_eq!(r.unwrap_err().to_string(), want);
    };
    refused(
        MultiStepLr::new(vec![3], -0.5).map(drop),
        "MultiStepLR: invalid gamma = -0.5: must be >= 0",
    );
    refused(
        ExponentialLr::new(f64::NAN).map(drop),
        "ExponentialLR: invalid gamma = NaN: must be a finite number",
    );
    refused(
        ConstantLr::new(1.5, 5).map(drop),
        "ConstantLR: invalid factor = 1.5: must be in [0, 1]",
    );
    refused(
        PolynomialLr::new(0, 1.0).map(drop),
        "PolynomialLR: invalid total_iters = 0: must be >= 1",
    );
    refused(
        CosineAnnealingWarmRestarts::new(0, 1, 0.0).map(drop),
        "CosineAnnealingWarmRestarts: invalid T_0 = 0: must be >= 1",
    );
    refused(
        CosineAnnealingWarmRestarts::new(2, 0, 0.0).map(drop),
        "CosineAnnealingWarmRestarts: invalid T_mult = 0: must be >= 1",
    );
}

#[test]
fn a_saved_schedule_state_restores_only_into_the_same_schedule() {
    let w = vector::<f64>(&[0.0]);
    let cfg = SgdConfig {
        lr: 0.1,
        ..Default::default()
    };
    let mut opt = Sgd::new(vec![w.clone()], cfg).unwrap();
    let mut sched = Scheduler::new(ExponentialLr::new(0.5).unwrap(), &mut opt).unwrap();
    sched.step(&mut opt).unwrap();
    let state = sched.state();
    assert_eq!(state.base_lrs, [0.1]);
    assert_eq!((state.schedule.as_str(), state.steps), ("ExponentialLR", 1));
    // Another schedule refuses it, and the optimizer keeps its lr.
    let lr = opt.lr();
    let err = Scheduler::restore(PolynomialLr::new(5, 1.0).unwrap(), &state, &mut opt).unwrap_err();
    assert_eq!(
        err.to_string(),
        "PolynomialLR: cannot load state: the state was saved by ExponentialLR"
    );
    assert_eq!(opt.lr(), lr);
    // A base lr that no optimizer could have had is refused.
    let bad = tapegrad_optim::SchedulerState {
        base_lrs: vec![f64::NAN],
        ..state.clone()
    };
    assert!(Scheduler::restore(ExponentialLr::new(0.5).unwrap(), &bad, &mut opt).is_err());
    // A state for two groups does not fit one.
    let two = tapegrad_optim::SchedulerState {
        base_lrs: vec![0.1, 0.2],
        ..state.clone()
    };
    assert!(Scheduler::restore(ExponentialLr::new(0.5).unwrap(), &two, &mut opt).is_err());
    assert_eq!(opt.lr(), lr);
    // The same schedule continues where it stopped.
    let sched = Scheduler::restore(ExponentialLr::new(0.5).unwrap(), &state, &mut opt).unwrap();
    assert_eq!((sched.steps_taken(), opt.lr()), (1, 0.05));
}
