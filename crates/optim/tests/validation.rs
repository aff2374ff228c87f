//! Every refused configuration, with the exact message the user sees: first
//! what every row of the table must refuse, then each optimizer's own options.

mod common;

use common::table::{Row, rows};
use common::{bits, set_grad, vector};
use tapegrad_optim::{
    Adagrad, AdagradConfig, Adam, AdamConfig, AdamW, CosineAnnealingLr, LinearLr, LrScheduler,
    OneCycleLr, OptimError, Optimizer, ParamGroup, RmsProp, RmsPropConfig, Scheduler, SequentialLr,
    Sgd, SgdConfig, StepLr, clip_grad_norm, clip_grad_value,
};
use tapegrad_tape::{Tensor, Var};

fn w() -> Vec<Var<f64>> {
    vec![vector(&[1.0, 2.0])]
}

fn build(row: &Row, groups: Vec<ParamGroup<f64>>) -> Result<Box<dyn Optimizer<f64>>, OptimError> {
    (row.f64)(groups)
}

/// Empty, non-parameter and duplicate parameter lists, and group overrides out
/// of range, are refused by every constructor with an error naming the fault.
#[test]
fn every_row_refuses_bad_parameter_lists_and_group_options() {
    for row in rows() {
        let name = row.over(w()).name();
        let err = build(&row, vec![ParamGroup::new(vec![])]).err();
        assert!(
            matches!(err, Some(OptimError::NoParameters { optimizer }) if optimizer == name),
            "{}: {err:?}",
            row.name
        );
        let c = Var::constant(Tensor::<f64>::zeros(&[2]));
        c.set_name("x");
        let err = build(&row, vec![ParamGroup::new(vec![c])]).err();
        assert!(
            matches!(&err, Some(OptimError::NotAParameter { name: n, .. }) if n == "x"),
            "{}: {err:?}",
            row.name
        );
        let p = vector::<f64>(&[1.0]);
        let twice = vec![ParamGroup::new(vec![p.clone()]), ParamGroup::new(vec![p])];
        let err = build(&row, twice).err();
        assert!(
            matches!(err, Some(OptimError::DuplicateParameter { .. })),
            "{}: {err:?}",
            row.name
        );
        refused(
            build(&row, vec![ParamGroup::new(w()).with_lr(-0.5)]),
            "lr",
            &format!("{name}: invalid lr = -0.5: must be >= 0"),
        );
        refused(
            build(&row, vec![ParamGroup::new(w()).with_weight_decay(f64::NAN)]),
            "weight_decay",
            &format!("{name}: invalid weight_decay = NaN: must be a finite number"),
        );
    }
}

/// A refused call leaves the optimizer as it was.
#[test]
fn every_row_refuses_bad_calls_and_changes_nothing() {
    let table = rows();
    for (i, row) in table.iter().enumerate() {
        let (a, b) = (vector::<f64>(&[1.0, 2.0, 3.0]), vector::<f64>(&[4.0, 5.0]));
        let mut opt = row.over(vec![a.clone(), b.clone()]);
        let name = opt.name();
        set_grad(&a, &[0.5, -0.5, 0.25]);
        set_grad(&b, &[1.0, -1.0]);
        opt.step().unwrap();
        let before = (opt.state_dict(), bits(&a), bits(&b));
        let unchanged = |opt: &dyn Optimizer<f64>, what: &str| {
            let now = (opt.state_dict(), bits(&a), bits(&b));
            assert!(now == before, "{}: changed by {what}", row.name);
        };

        refused(
            opt.set_lr(-1.0),
            "lr",
            &format!("{name}: invalid lr = -1: must be >= 0"),
        );
        unchanged(opt.as_ref(), "set_lr(-1)");
        let err = opt.set_group_lr(5, 0.1).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}: no parameter group 5 (there are 1)")
        );
        let err = opt
            .add_param_group(ParamGroup::new(vec![b.clone()]))
            .unwrap_err();
        assert!(
            matches!(err, OptimError::DuplicateParameter { .. }),
            "{}: {err}",
            row.name
        );
        unchanged(opt.as_ref(), "add_param_group");

        b.set_grad(Some(Tensor::zeros(&[3])));
        let err = opt.step().unwrap_err();
        let message = format!(
            "{name}: gradient of `{}` has shape [3], the parameter has shape [2]",
            b.name()
        );
        assert_eq!(err.to_string(), message, "{}", row.name);
        unchanged(opt.as_ref(), "a wrong gradient shape");

        let other = &table[(i + 1) % table.len()];
        let foreign = other.over(vec![a.clone(), b.clone()]).state_dict();
        let err = opt.load_state_dict(&foreign).unwrap_err();
        assert!(
            matches!(err, OptimError::StateMismatch { .. }),
            "{}: {err}",
            row.name
        );
        unchanged(opt.as_ref(), "the state of another row");
    }
}

/// The error must be InvalidHyperParameter for `name` with exactly `message`.
fn refused<T>(result: Result<T, OptimError>, name: &str, message: &str) {
    let Err(err) = result else {
        panic!("{message}: accepted")
    };
    match &err {
        OptimError::InvalidHyperParameter { name: n, .. } => assert_eq!(*n, name, "{err}"),
        other => panic!("expected InvalidHyperParameter, got {other:?}"),
    }
    assert_eq!(err.to_string(), message);
}

#[test]
fn sgd_options() {
    let sgd = |cfg: SgdConfig| Sgd::new(w(), cfg);
    let d = SgdConfig::default();
    refused(
        sgd(SgdConfig { lr: -0.1, ..d }),
        "lr",
        "SGD: invalid lr = -0.1: must be >= 0",
    );
    refused(
        sgd(SgdConfig { lr: f64::NAN, ..d }),
        "lr",
        "SGD: invalid lr = NaN: must be a finite number",
    );
    refused(
        sgd(SgdConfig {
            momentum: -0.9,
            ..d
        }),
        "momentum",
        "SGD: invalid momentum = -0.9: must be >= 0",
    );
    refused(
        sgd(SgdConfig {
            dampening: 1.5,
            ..d
        }),
        "dampening",
        "SGD: invalid dampening = 1.5: must be in [0, 1]",
    );
    refused(
        sgd(SgdConfig {
            weight_decay: -1e-4,
            ..d
        }),
        "weight_decay",
        "SGD: invalid weight_decay = -0.0001: must be >= 0",
    );
    refused(
        sgd(SgdConfig {
            nesterov: true,
            ..d
        }),
        "momentum",
        "SGD: invalid momentum = 0: nesterov momentum needs momentum > 0",
    );
    refused(
        sgd(SgdConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.1,
            ..d
        }),
        "dampening",
        "SGD: invalid dampening = 0.1: nesterov momentum needs dampening = 0",
    );
    assert!(
        sgd(SgdConfig {
            nesterov: true,
            momentum: 0.9,
            ..d
        })
        .is_ok()
    );
}

#[test]
fn adagrad_options() {
    let ada = |cfg: AdagradConfig| Adagrad::new(w(), cfg);
    let d = AdagradConfig::default();
    refused(
        ada(AdagradConfig { lr: -1.0, ..d }),
        "lr",
        "Adagrad: invalid lr = -1: must be >= 0",
    );
    refused(
        ada(AdagradConfig {
            lr_decay: -0.1,
            ..d
        }),
        "lr_decay",
        "Adagrad: invalid lr_decay = -0.1: must be >= 0",
    );
    refused(
        ada(AdagradConfig {
            weight_decay: -0.1,
            ..d
        }),
        "weight_decay",
        "Adagrad: invalid weight_decay = -0.1: must be >= 0",
    );
    refused(
        ada(AdagradConfig {
            initial_accumulator_value: -0.1,
            ..d
        }),
        "initial_accumulator_value",
        "Adagrad: invalid initial_accumulator_value = -0.1: must be >= 0",
    );
    refused(
        ada(AdagradConfig { eps: -1e-10, ..d }),
        "eps",
        "Adagrad: invalid eps = -0.0000000001: must be >= 0",
    );
}

#[test]
fn rmsprop_options() {
    let rms = |cfg: RmsPropConfig| RmsProp::new(w(), cfg);
    let d = RmsPropConfig::default();
    refused(
        rms(RmsPropConfig { lr: -1.0, ..d }),
        "lr",
        "RMSprop: invalid lr = -1: must be >= 0",
    );
    refused(
        rms(RmsPropConfig { alpha: 1.5, ..d }),
        "alpha",
        "RMSprop: invalid alpha = 1.5: must be in [0, 1]",
    );
    refused(
        rms(RmsPropConfig { alpha: -0.5, ..d }),
        "alpha",
        "RMSprop: invalid alpha = -0.5: must be in [0, 1]",
    );
    refused(
        rms(RmsPropConfig { eps: -1.0, ..d }),
        "eps",
        "RMSprop: invalid eps = -1: must be >= 0",
    );
    refused(
        rms(RmsPropConfig {
            momentum: -1.0,
            ..d
        }),
        "momentum",
        "RMSprop: invalid momentum = -1: must be >= 0",
    );
    refused(
        rms(RmsPropConfig {
            weight_decay: f64::INFINITY,
            ..d
        }),
        "weight_decay",
        "RMSprop: invalid weight_decay = inf: must be a finite number",
    );
}

#[test]
fn adam_and_adamw_options() {
    let adam = |cfg: AdamConfig| Adam::new(w(), cfg);
    let d = AdamConfig::default();
    refused(
        adam(AdamConfig { lr: -1e-3, ..d }),
        "lr",
        "Adam: invalid lr = -0.001: must be >= 0",
    );
    refused(
        adam(AdamConfig {
            betas: (1.0, 0.999),
            ..d
        }),
        "betas.0",
        "Adam: invalid betas.0 = 1: must be in [0, 1)",
    );
    refused(
        adam(AdamConfig {
            betas: (-0.1, 0.999),
            ..d
        }),
        "betas.0",
        "Adam: invalid betas.0 = -0.1: must be in [0, 1)",
    );
    refused(
        adam(AdamConfig {
            betas: (0.9, 1.0),
            ..d
        }),
        "betas.1",
        "Adam: invalid betas.1 = 1: must be in [0, 1)",
    );
    refused(
        adam(AdamConfig { eps: -1e-8, ..d }),
        "eps",
        "Adam: invalid eps = -0.00000001: must be >= 0",
    );
    refused(
        adam(AdamConfig {
            weight_decay: -0.01,
            ..d
        }),
        "weight_decay",
        "Adam: invalid weight_decay = -0.01: must be >= 0",
    );
    let adamw = |cfg: AdamConfig| AdamW::new(w(), cfg);
    let d = AdamConfig::adamw();
    refused(
        adamw(AdamConfig {
            betas: (0.9, 1.2),
            ..d
        }),
        "betas.1",
        "AdamW: invalid betas.1 = 1.2: must be in [0, 1)",
    );
    refused(
        adamw(AdamConfig {
            weight_decay: -0.01,
            ..d
        }),
        "weight_decay",
        "AdamW: invalid weight_decay = -0.01: must be >= 0",
    );
}

#[test]
fn group_overrides_are_validated_too() {
    let groups = vec![ParamGroup::new(w()).with_lr(-0.5)];
    refused(
        Adam::with_groups(groups, AdamConfig::default()),
        "lr",
        "Adam: invalid lr = -0.5: must be >= 0",
    );
    let groups = vec![ParamGroup::new(w()).with_weight_decay(-2.0)];
    refused(
        Sgd::with_groups(groups, SgdConfig::default()),
        "weight_decay",
        "SGD: invalid weight_decay = -2: must be >= 0",
    );
    let mut opt = Sgd::new(w(), SgdConfig::default()).unwrap();
    refused(opt.set_lr(-1.0), "lr", "SGD: invalid lr = -1: must be >= 0");
    let err = opt.set_group_lr(3, 0.1).unwrap_err();
    assert_eq!(err.to_string(), "SGD: no parameter group 3 (there are 1)");
}

#[test]
fn parameter_lists_are_validated() {
    let err = Adam::<f64>::new(vec![], AdamConfig::default()).unwrap_err();
    assert_eq!(err.to_string(), "Adam: got an empty parameter list");

    let c = Var::constant(Tensor::<f64>::zeros(&[2]));
    c.set_name("data");
    let err = Sgd::new(vec![c], SgdConfig::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "SGD: `data` is not a parameter (only leaves made with Var::parameter can be optimized)"
    );

    let p = vector::<f64>(&[1.0]);
    p.set_name("fc.weight");
    let groups = vec![
        ParamGroup::new(vec![p.clone()]),
        ParamGroup::new(vec![p.clone()]),
    ];
    let err = AdamW::with_groups(groups, AdamConfig::adamw()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "AdamW: parameter `fc.weight` appears more than once in the parameter groups"
    );

    let mut opt = Sgd::new(vec![p.clone()], SgdConfig::default()).unwrap();
    let err = opt.add_param_group(ParamGroup::new(vec![p])).unwrap_err();
    assert!(
        matches!(err, OptimError::DuplicateParameter { .. }),
        "{err}"
    );
}

#[test]
fn schedule_options() {
    refused(
        StepLr::new(0, 0.1),
        "step_size",
        "StepLR: invalid step_size = 0: must be >= 1",
    );
    refused(
        StepLr::new(2, -0.1),
        "gamma",
        "StepLR: invalid gamma = -0.1: must be >= 0",
    );
    refused(
        CosineAnnealingLr::new(0, 0.0),
        "t_max",
        "CosineAnnealingLR: invalid t_max = 0: must be >= 1",
    );
    refused(
        CosineAnnealingLr::new(5, -1.0),
        "eta_min",
        "CosineAnnealingLR: invalid eta_min = -1: must be >= 0",
    );
    refused(
        LinearLr::new(0.0, 1.0, 5),
        "start_factor",
        "LinearLR: invalid start_factor = 0: must be in (0, 1]",
    );
    refused(
        LinearLr::new(0.5, 1.5, 5),
        "end_factor",
        "LinearLR: invalid end_factor = 1.5: must be in [0, 1]",
    );
    refused(
        LinearLr::new(0.5, 1.0, 0),
        "total_iters",
        "LinearLR: invalid total_iters = 0: must be >= 1",
    );
    refused(
        OneCycleLr::new(-1.0, 10),
        "max_lr",
        "OneCycleLR: invalid max_lr = -1: must be >= 0",
    );
    refused(
        OneCycleLr::new(1.0, 0),
        "total_steps",
        "OneCycleLR: invalid total_steps = 0: must be >= 1",
    );
    let bad_pct = OneCycleLr {
        pct_start: 1.5,
        ..OneCycleLr::new(1.0, 10).unwrap()
    };
    refused(
        bad_pct.validated(),
        "pct_start",
        "OneCycleLR: invalid pct_start = 1.5: must be in [0, 1]",
    );
    let bad_div = OneCycleLr {
        div_factor: 0.0,
        ..OneCycleLr::new(1.0, 10).unwrap()
    };
    refused(
        bad_div.validated(),
        "div_factor",
        "OneCycleLR: invalid div_factor = 0: must be > 0",
    );

    let two = || -> Vec<Box<dyn LrScheduler>> {
        vec![
            Box::new(LinearLr::default()),
            Box::new(StepLr::new(1, 0.5).unwrap()),
        ]
    };
    refused(
        SequentialLr::new(two(), vec![]),
        "milestones.len",
        "SequentialLR: invalid milestones.len = 0: needs 1 milestones for 2 schedules",
    );
    refused(
        SequentialLr::new(two(), vec![0]),
        "milestones",
        "SequentialLR: invalid milestones = 0: milestones must be > 0 and strictly increasing",
    );
    refused(
        SequentialLr::new(vec![], vec![]),
        "schedules",
        "SequentialLR: invalid schedules = 0: needs at least one schedule",
    );
}

#[test]
fn stepping_a_finished_schedule_is_an_error() {
    let mut opt = Sgd::new(w(), SgdConfig::default()).unwrap();
    let one_cycle = OneCycleLr {
        cycle_momentum: None,
        ..OneCycleLr::new(0.1, 3).unwrap()
    };
    let mut sched = Scheduler::new(one_cycle, &mut opt).unwrap();
    for _ in 0..3 {
        sched.step(&mut opt).unwrap();
    }
    let err = sched.step(&mut opt).unwrap_err();
    assert_eq!(
        err.to_string(),
        "OneCycleLR: stepped 4 times, the schedule has 3 steps"
    );
}

#[test]
fn clipping_arguments() {
    let p = w();
    let err = clip_grad_norm(&p, 1.0, 0.0, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clip_grad_norm: invalid argument norm_type = 0: must be > 0 or infinity"
    );
    let err = clip_grad_norm(&p, -1.0, 2.0, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clip_grad_norm: invalid argument max_norm = -1: must be >= 0"
    );
    let err = clip_grad_value(&p, f64::NAN).unwrap_err();
    assert_eq!(
        err.to_string(),
        "clip_grad_value: invalid argument clip = NaN: must be >= 0"
    );
}
