//! Every schedule of `fixtures/schedule_reference.json`: the lr of each of two
//! groups at every step, equal to PyTorch's to 1e-12 relative, applied through
//! a `Scheduler` to an optimizer as a training loop does.

mod common;

use std::sync::Arc;

use common::{f64s, fixture, usizes, vector};
use serde_json::{Map, Value};
use tapegrad_optim::{
    Adam, AdamConfig, Anneal, ChainedScheduler, ConstantLr, CosineAnnealingLr,
    CosineAnnealingWarmRestarts, CyclicLr, CyclicMode, ExponentialLr, LambdaLr, LinearLr,
    LrScheduler, MultiStepLr, MultiplicativeLr, OneCycleLr, Optimizer, ParamGroup, PlateauMode,
    PolynomialLr, ReduceLrOnPlateau, ScaleMode, Scheduler, SequentialLr, Sgd, SgdConfig, StepLr,
    SwaLr, ThresholdMode,
};

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../fixtures/schedule_reference.json"
);

/// The functions of `fixtures/gen/schedules.py`'s LAMBDAS, by name.
fn function(name: &str) -> fn(f64) -> f64 {
    match name {
        "inverse_time" => |t| 1.0 / (1.0 + 0.1 * t),
        "warmup_then_flat" => |t| f64::min(1.0, (t + 1.0) / 5.0),
        "halve_every_third" => |t| if t % 3.0 == 0.0 { 0.5 } else { 0.95 },
        "inverse" => |x| 1.0 / x,
        "slow_decay" => |x| 0.97f64.powf(x),
        other => panic!("function {other} of the fixture is not defined here"),
    }
}

/// Every key of a spec must be one this test maps.
const KNOWN: &[&str] = &[
    "kind",
    "optimizer",
    "milestones",
    "gamma",
    "factor",
    "total_iters",
    "power",
    "lr_lambda",
    "T_0",
    "T_mult",
    "eta_min",
    "T_max",
    "start_factor",
    "end_factor",
    "step_size",
    "base_lr",
    "max_lr",
    "step_size_up",
    "step_size_down",
    "mode",
    "scale_fn",
    "scale_mode",
    "cycle_momentum",
    "base_momentum",
    "max_momentum",
    "total_steps",
    "three_phase",
    "anneal_strategy",
    "pct_start",
    "schedulers",
    "metrics",
    "patience",
    "threshold",
    "threshold_mode",
    "cooldown",
    "min_lr",
    "eps",
    "swa_lr",
    "anneal_epochs",
];

/// A spec's values, with PyTorch's defaults for what it leaves out.
struct Spec<'a>(&'a Map<String, Value>);

impl Spec<'_> {
    fn num(&self, key: &str, default: f64) -> f64 {
        self.0.get(key).map_or(default, |v| v.as_f64().unwrap())
    }
    fn int(&self, key: &str, default: usize) -> usize {
        self.0
            .get(key)
            .map_or(default, |v| v.as_u64().unwrap() as usize)
    }
    fn text(&self, key: &str, default: &'static str) -> String {
        self.0
            .get(key)
            .map_or(default.into(), |v| v.as_str().unwrap().into())
    }
    fn flag(&self, key: &str, default: bool) -> bool {
        self.0.get(key).map_or(default, |v| v.as_bool().unwrap())
    }
    fn momentum(&self, base: f64, max: f64) -> Option<(f64, f64)> {
        self.flag("cycle_momentum", true).then(|| {
            (
                self.num("base_momentum", base),
                self.num("max_momentum", max),
            )
        })
    }
}

/// The schedule a spec describes (not ReduceLROnPlateau, which is no
/// `LrScheduler`).
fn described(spec: &Value) -> Box<dyn LrScheduler> {
    let map = spec.as_object().expect("scheduler spec");
    let kind = map["kind"].as_str().expect("kind");
    for key in map.keys() {
        assert!(
            KNOWN.contains(&key.as_str()),
            "{kind}: key {key} is not mapped"
        );
    }
    let s = Spec(map);
    let members = || {
        map["schedulers"]
            .as_array()
            .unwrap()
            .iter()
            .map(described)
            .collect()
    };
    let factor = || {
        let f = function(map["lr_lambda"].as_str().unwrap());
        move |t: usize| f(t as f64)
    };
    match kind {
        "StepLR" => Box::new(StepLr::new(s.int("step_size", 0), s.num("gamma", 0.1)).unwrap()),
        "MultiStepLR" => {
            Box::new(MultiStepLr::new(usizes(&map["milestones"]), s.num("gamma", 0.1)).unwrap())
        }
        "ExponentialLR" => Box::new(ExponentialLr::new(s.num("gamma", f64::NAN)).unwrap()),
        "ConstantLR" => {
            Box::new(ConstantLr::new(s.num("factor", 1.0 / 3.0), s.int("total_iters", 5)).unwrap())
        }
        "LinearLR" => Box::new(
            LinearLr::new(
                s.num("start_factor", 1.0 / 3.0),
                s.num("end_factor", 1.0),
                s.int("total_iters", 5),
            )
            .unwrap(),
        ),
        "CosineAnnealingLR" => {
            Box::new(CosineAnnealingLr::new(s.int("T_max", 0), s.num("eta_min", 0.0)).unwrap())
        }
        "PolynomialLR" => {
            Box::new(PolynomialLr::new(s.int("total_iters", 5), s.num("power", 1.0)).unwrap())
        }
        "LambdaLR" => Box::new(LambdaLr::new(factor())),
        "MultiplicativeLR" => Box::new(MultiplicativeLr::new(factor())),
        "CosineAnnealingWarmRestarts" => Box::new(
            CosineAnnealingWarmRestarts::new(
                s.int("T_0", 0),
                s.int("T_mult", 1),
                s.num("eta_min", 0.0),
            )
            .unwrap(),
        ),
        "CyclicLR" => Box::new(cyclic(&s)),
        "OneCycleLR" => Box::new(
            OneCycleLr {
                pct_start: s.num("pct_start", 0.3),
                anneal: match s.text("anneal_strategy", "cos").as_str() {
                    "cos" => Anneal::Cos,
                    _ => Anneal::Linear,
                },
                three_phase: s.flag("three_phase", false),
                cycle_momentum: s.momentum(0.85, 0.95),
                ..OneCycleLr::new(s.num("max_lr", f64::NAN), s.int("total_steps", 0)).unwrap()
            }
            .validated()
            .unwrap(),
        ),
        "SWALR" => Box::new(
            SwaLr::new(
                s.num("swa_lr", f64::NAN),
                s.int("anneal_epochs", 10),
                match s.text("anneal_strategy", "cos").as_str() {
                    "cos" => Anneal::Cos,
                    _ => Anneal::Linear,
                },
            )
            .unwrap(),
        ),
        "ChainedScheduler" => Box::new(ChainedScheduler::new(members()).unwrap()),
        "SequentialLR" => {
            Box::new(SequentialLr::new(members(), usizes(&map["milestones"])).unwrap())
        }
        other => panic!("scheduler {other} of the fixture is not mapped"),
    }
}

fn cyclic(s: &Spec) -> CyclicLr {
    let up = s.int("step_size_up", 2000);
    let mode = match (s.0.get("scale_fn"), s.text("mode", "triangular").as_str()) {
        (Some(f), _) => CyclicMode::Custom {
            scale: Arc::new(function(f.as_str().unwrap())),
            of: match s.text("scale_mode", "cycle").as_str() {
                "cycle" => ScaleMode::Cycle,
                _ => ScaleMode::Iterations,
            },
        },
        (None, "triangular") => CyclicMode::Triangular,
        (None, "triangular2") => CyclicMode::Triangular2,
        (None, _) => CyclicMode::ExpRange {
            gamma: s.num("gamma", 1.0),
        },
    };
    CyclicLr {
        step_size_down: s.int("step_size_down", up),
        mode,
        cycle_momentum: s.momentum(0.8, 0.9),
        ..CyclicLr::new(s.num("base_lr", f64::NAN), s.num("max_lr", f64::NAN), up).unwrap()
    }
    .validated()
    .unwrap()
}

fn plateau(spec: &Value, opt: &dyn Optimizer<f64>) -> ReduceLrOnPlateau {
    let s = Spec(spec.as_object().unwrap());
    let min_lrs = match spec.get("min_lr") {
        Some(Value::Array(_)) => f64s(&spec["min_lr"]),
        _ => vec![s.num("min_lr", 0.0)],
    };
    ReduceLrOnPlateau {
        mode: match s.text("mode", "min").as_str() {
            "min" => PlateauMode::Min,
            _ => PlateauMode::Max,
        },
        factor: s.num("factor", 0.1),
        patience: s.int("patience", 10),
        threshold: s.num("threshold", 1e-4),
        threshold_mode: match s.text("threshold_mode", "rel").as_str() {
            "rel" => ThresholdMode::Rel,
            _ => ThresholdMode::Abs,
        },
        cooldown: s.int("cooldown", 0),
        min_lrs,
        eps: s.num("eps", 1e-8),
        ..Default::default()
    }
    .validated(opt)
    .unwrap()
}

/// The case's optimizer over one parameter per base lr.
fn optimizer(spec: &Value, bases: &[f64]) -> Box<dyn Optimizer<f64>> {
    let groups: Vec<ParamGroup<f64>> = bases
        .iter()
        .map(|&lr| ParamGroup::new(vec![vector(&[0.0])]).with_lr(lr))
        .collect();
    match spec.get("optimizer").and_then(Value::as_str) {
        Some("Adam") => Box::new(Adam::with_groups(groups, AdamConfig::default()).unwrap()),
        Some("SGD-momentum") => {
            let cfg = SgdConfig {
                momentum: 0.9,
                ..Default::default()
            };
            Box::new(Sgd::with_groups(groups, cfg).unwrap())
        }
        _ => Box::new(Sgd::with_groups(groups, SgdConfig::default()).unwrap()),
    }
}

/// How a case's scheduler steps: by step count, or by the case's metric.
enum Stepper {
    Schedule(Scheduler<Box<dyn LrScheduler>>),
    Plateau(ReduceLrOnPlateau, Vec<f64>),
}

impl Stepper {
    fn step(&mut self, t: usize, opt: &mut dyn Optimizer<f64>) {
        match self {
            Stepper::Schedule(s) => s.step(opt).unwrap(),
            Stepper::Plateau(p, metrics) => p.step(metrics[t], opt).unwrap(),
        }
    }
}

fn assert_close(got: f64, want: f64, what: &str, worst: &mut f64) {
    let err = (got - want).abs();
    assert!(err <= 1e-12 * want.abs(), "{what}: {got} vs PyTorch {want}");
    *worst = worst.max(if want == 0.0 { err } else { err / want.abs() });
}

#[test]
fn every_schedule_matches_pytorch_at_every_step() {
    let root = fixture(FILE);
    let bases = f64s(&root["base_lrs"]);
    let cases = root["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 28, "the fixture has 28 cases");
    let mut cycled = 0;
    for (name, case) in cases {
        let spec = &case["scheduler"];
        let mut opt = optimizer(spec, &bases);
        let mut stepper = match spec["kind"].as_str() {
            Some("ReduceLROnPlateau") => {
                Stepper::Plateau(plateau(spec, opt.as_ref()), f64s(&spec["metrics"]))
            }
            _ => Stepper::Schedule(Scheduler::new(described(spec), opt.as_mut()).unwrap()),
        };
        let momenta = case.get("momentum").map(f64s);
        cycled += usize::from(momenta.is_some());
        let mut worst: f64 = 0.0;
        for (t, want) in case["lr"].as_array().unwrap().iter().enumerate() {
            for (g, (group, want)) in opt.groups().iter().zip(f64s(want)).enumerate() {
                assert_close(
                    group.lr,
                    want,
                    &format!("{name}: group {g} lr at step {t}"),
                    &mut worst,
                );
            }
            // Where the schedule does not cycle it, the optimizer keeps its own.
            if let Some(m) = &momenta {
                let what = format!("{name}: momentum at step {t}");
                assert_close(opt.momentum().unwrap(), m[t], &what, &mut worst);
            }
            opt.step().unwrap();
            stepper.step(t, opt.as_mut());
        }
        println!("{name:30} worst relative error {worst:.1e}");
    }
    assert_eq!(cycled, 5, "five cases cycle the momentum");
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
