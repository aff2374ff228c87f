//! The run-time choice of optimizer: names, labels, and the one builder.

mod common;

use common::table::{rows, same_algorithm};
use common::vector;
use tapegrad_optim::{
    MOMENTUM, OptimError, Optimizer, OptimizerKind, OptimizerSettings, ParamGroup,
};
use tapegrad_tape::Var;

fn w() -> Vec<Var<f64>> {
    vec![vector(&[1.0, 2.0])]
}

/// A matrix and a vector for Muon (which takes matrices only), else [`w`].
fn params_for(kind: OptimizerKind) -> Vec<Var<f64>> {
    match kind {
        OptimizerKind::Muon => {
            let matrix = Var::parameter(tapegrad_tape::Tensor::ones(&[2, 2]));
            vec![matrix, vector(&[1.0, 2.0])]
        }
        _ => w(),
    }
}

fn option(opt: &dyn Optimizer<f64>, name: &str) -> f64 {
    let options = opt.state_dict().options;
    options
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no option {name}"))
        .1
}

#[test]
fn every_kind_parses_back_from_its_name_in_any_case() {
    let mut names: Vec<&str> = OptimizerKind::ALL.iter().map(|k| k.name()).collect();
    for kind in OptimizerKind::ALL {
        assert_eq!(kind.name().parse::<OptimizerKind>().unwrap(), kind);
        assert_eq!(
            kind.name().to_uppercase().parse::<OptimizerKind>().unwrap(),
            kind
        );
        assert_eq!(kind.to_string(), kind.name());
        assert!(!kind.label().is_empty() && !kind.help().is_empty());
        assert!(
            kind.name().bytes().all(|b| b.is_ascii_lowercase()),
            "{kind:?}"
        );
    }
    names.sort();
    names.dedup();
    assert_eq!(names.len(), OptimizerKind::ALL.len(), "names are unique");
}

#[test]
fn an_unknown_name_is_refused_with_the_valid_ones() {
    let err = "adam_w".parse::<OptimizerKind>().unwrap_err();
    match &err {
        OptimError::UnknownOptimizer { given, valid } => {
            assert_eq!(given, "adam_w");
            assert_eq!(
                valid,
                "sgd, momentum, adagrad, rmsprop, adam, adamw, adadelta, adamax, nadam, nadamw, radam, \
                 asgd, rprop, lion, lamb, adafactor, muon, lbfgs, sfsgd, sfadamw"
            );
        }
        other => panic!("expected UnknownOptimizer, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "unknown optimizer `adam_w`; valid names: sgd, momentum, adagrad, rmsprop, adam, adamw, \
         adadelta, adamax, nadam, nadamw, radam, asgd, rprop, lion, lamb, adafactor, muon, lbfgs, \
         sfsgd, sfadamw"
    );
    assert!("".parse::<OptimizerKind>().is_err());
}

#[test]
fn labels_are_the_experiments_names() {
    let labels = OptimizerKind::ALL.map(OptimizerKind::label);
    assert_eq!(
        labels,
        [
            "SGD",
            "SGD+momentum",
            "AdaGrad",
            "RMSprop",
            "Adam",
            "AdamW",
            "Adadelta",
            "Adamax",
            "NAdam",
            "NAdamW",
            "RAdam",
            "ASGD",
            "Rprop",
            "Lion",
            "LAMB",
            "Adafactor",
            "Muon+AdamW",
            "L-BFGS",
            "schedule-free SGD",
            "schedule-free AdamW"
        ]
    );
    let bert = OptimizerSettings {
        bias_correction: false,
        ..OptimizerSettings::new(OptimizerKind::Adam)
    };
    assert_eq!(bert.label(), "Adam (no bias correction)");
}

/// The contract tests reach every kind: each has a row of the table running
/// its algorithm. The rows run on vectors; Muon takes matrices only, and
/// `tests/partitioned.rs` checks the registry's Muon+AdamW instead. The rows
/// step without a closure; `tests/lbfgs.rs` checks L-BFGS.
#[test]
fn every_kind_has_a_row_in_the_table() {
    let table = rows();
    for kind in OptimizerKind::ALL {
        if kind == OptimizerKind::Muon {
            assert!(
                OptimizerSettings::new(kind).build(w()).is_err(),
                "Muon took a vector"
            );
            continue;
        }
        if kind == OptimizerKind::Lbfgs {
            let mut opt = OptimizerSettings::new(kind).build(w()).unwrap();
            assert!(opt.step().is_err(), "L-BFGS stepped without a closure");
            continue;
        }
        let opt = OptimizerSettings::new(kind).build(w()).unwrap();
        let found = table
            .iter()
            .any(|row| same_algorithm(row.over(w()).as_ref(), opt.as_ref()));
        assert!(found, "{kind}: no row of tests/common/table.rs runs it");
    }
}

#[test]
fn the_builder_passes_lr_and_weight_decay_and_keeps_the_other_defaults() {
    for kind in OptimizerKind::ALL {
        // L-BFGS has no weight decay (tests/lbfgs.rs checks it is refused).
        let decay = if kind == OptimizerKind::Lbfgs {
            0.0
        } else {
            0.125
        };
        let settings = OptimizerSettings::new(kind)
            .with_lr(0.25)
            .with_weight_decay(decay);
        let opt = settings.build(params_for(kind)).unwrap();
        assert_eq!(
            (opt.lr(), opt.groups()[0].weight_decay),
            (0.25, decay),
            "{kind}"
        );
        let want = match kind {
            OptimizerKind::Sgd | OptimizerKind::Momentum => "SGD",
            OptimizerKind::Adagrad => "Adagrad",
            OptimizerKind::RmsProp => "RMSprop",
            OptimizerKind::Adam => "Adam",
            OptimizerKind::AdamW => "AdamW",
            OptimizerKind::Adadelta => "Adadelta",
            OptimizerKind::Adamax => "Adamax",
            OptimizerKind::NAdam | OptimizerKind::NAdamW => "NAdam",
            OptimizerKind::RAdam => "RAdam",
            OptimizerKind::Asgd => "ASGD",
            OptimizerKind::Rprop => "Rprop",
            OptimizerKind::Lion => "Lion",
            OptimizerKind::Lamb => "LAMB",
            OptimizerKind::Adafactor => "Adafactor",
            OptimizerKind::Muon => "Partitioned",
            OptimizerKind::Lbfgs => "LBFGS",
            OptimizerKind::ScheduleFreeSgd => "ScheduleFreeSGD",
            OptimizerKind::ScheduleFreeAdamW => "ScheduleFreeAdamW",
        };
        assert_eq!(opt.name(), want);
        if kind.has_bias_correction() {
            assert_eq!(option(opt.as_ref(), "bias_correction"), 1.0, "{kind}");
        }
    }
    let sgd = OptimizerSettings::new(OptimizerKind::Sgd)
        .build(w())
        .unwrap();
    let momentum = OptimizerSettings::new(OptimizerKind::Momentum)
        .build(w())
        .unwrap();
    assert_eq!(option(sgd.as_ref(), "momentum"), 0.0);
    assert_eq!(option(momentum.as_ref(), "momentum"), MOMENTUM);
    assert_eq!(MOMENTUM, 0.9);
    let adamw = OptimizerSettings::new(OptimizerKind::AdamW)
        .build(w())
        .unwrap();
    assert_eq!(option(adamw.as_ref(), "decoupled_weight_decay"), 1.0);
    let adam = OptimizerSettings::new(OptimizerKind::Adam)
        .build(w())
        .unwrap();
    assert_eq!(option(adam.as_ref(), "decoupled_weight_decay"), 0.0);
}

#[test]
fn bias_correction_can_be_turned_off_only_where_it_exists() {
    for kind in OptimizerKind::ALL {
        let settings = OptimizerSettings {
            bias_correction: false,
            ..OptimizerSettings::new(kind)
        };
        let built = settings.build(w());
        if kind.has_bias_correction() {
            assert_eq!(
                option(built.unwrap().as_ref(), "bias_correction"),
                0.0,
                "{kind}"
            );
            continue;
        }
        let err = built.err().unwrap();
        assert!(
            matches!(
                err,
                OptimError::UnsupportedOption {
                    option: "bias_correction = false",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{kind}: bias_correction = false is not supported: only adam and adamw have a bias correction"
            )
        );
    }
}

#[test]
fn out_of_range_settings_are_the_optimizers_own_errors() {
    let err = OptimizerSettings::new(OptimizerKind::Momentum)
        .with_lr(-1.0)
        .build(w())
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "SGD: invalid lr = -1: must be >= 0");
    let err = OptimizerSettings::new(OptimizerKind::AdamW)
        .with_weight_decay(f64::INFINITY)
        .build(w())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "AdamW: invalid weight_decay = inf: must be a finite number"
    );
    let err = OptimizerSettings::new(OptimizerKind::Adam)
        .build::<f64>(vec![])
        .err()
        .unwrap();
    assert_eq!(err.to_string(), "Adam: got an empty parameter list");
}

#[test]
fn groups_override_the_settings() {
    let (a, b) = (vector::<f32>(&[1.0]), vector::<f32>(&[2.0]));
    let groups = vec![
        ParamGroup::new(vec![a]),
        ParamGroup::new(vec![b]).with_lr(0.5).with_weight_decay(0.0),
    ];
    let settings = OptimizerSettings::new(OptimizerKind::AdamW).with_lr(0.1);
    let opt = settings.build_with_groups(groups).unwrap();
    let groups: Vec<(f64, f64)> = opt
        .groups()
        .iter()
        .map(|g| (g.lr, g.weight_decay))
        .collect();
    assert_eq!(groups, [(0.1, 0.01), (0.5, 0.0)]);
}
