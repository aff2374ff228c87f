//! `Partitioned`, and the registry's `muon` built on it (Muon on the matrices,
//! AdamW on the rest): a step equals the parts' steps bit for bit, the groups
//! and the cycled momentum reach every part, the state is saved and restored
//! whole or refused whole.

mod common;

use common::{param, set_grad, values};
use tapegrad_optim::{
    Adam, AdamConfig, AdjustLr, Muon, MuonConfig, OptimError, Optimizer, OptimizerKind,
    OptimizerSettings, ParamGroup, Partitioned, Sgd, SgdConfig,
};
use tapegrad_tape::Var;

/// A 3 × 4 matrix, a 4-vector and a 2 × 2 × 2 kernel.
fn params() -> Vec<Var<f64>> {
    let ramp = |n: usize, k: f64| -> Vec<f64> { (0..n).map(|i| (i as f64 * k).sin()).collect() };
    vec![
        param(&ramp(12, 0.7), &[3, 4]),
        param(&ramp(4, 1.3), &[4]),
        param(&ramp(8, 0.4), &[2, 2, 2]),
    ]
}

fn gradients(ps: &[Var<f64>], step: usize) {
    for (j, p) in ps.iter().enumerate() {
        let g: Vec<f64> = (0..p.numel())
            .map(|i| ((i + 3 * j + 7 * step) as f64 * 0.37).cos())
            .collect();
        set_grad(p, &g);
    }
}

fn settings() -> OptimizerSettings {
    OptimizerSettings::new(OptimizerKind::Muon)
        .with_lr(0.02)
        .with_weight_decay(0.05)
}

#[test]
fn the_registry_muon_is_muon_on_matrices_and_adamw_on_the_rest() {
    let ps = params();
    let mut opt = settings().build(ps.clone()).unwrap();
    assert_eq!(opt.state_dict().optimizer, "Partitioned(Muon, AdamW)");

    let twins = params();
    let muon_cfg = MuonConfig {
        lr: 0.02,
        weight_decay: 0.05,
        adjust_lr_fn: AdjustLr::MatchRmsAdamW,
        ..MuonConfig::default()
    };
    let mut muon = Muon::new(vec![twins[0].clone()], muon_cfg).unwrap();
    let adamw_cfg = AdamConfig {
        lr: 0.02,
        weight_decay: 0.05,
        ..AdamConfig::adamw()
    };
    let mut adamw = Adam::new(twins[1..].to_vec(), adamw_cfg).unwrap();
    for step in 0..4 {
        gradients(&ps, step);
        gradients(&twins, step);
        opt.step().unwrap();
        muon.step().unwrap();
        adamw.step().unwrap();
    }
    for (p, q) in ps.iter().zip(&twins) {
        assert_eq!(values(p), values(q), "{:?}", p.shape());
    }
}

#[test]
fn only_matrices_give_plain_muon_and_no_matrix_is_refused() {
    let matrix = vec![params()[0].clone()];
    assert_eq!(settings().build(matrix).unwrap().name(), "Muon");
    let vectors = params()[1..].to_vec();
    let err = settings().build(vectors).unwrap_err();
    assert!(matches!(err, OptimError::UnsupportedShape { .. }), "{err}");
}

#[test]
fn groups_lr_and_momentum_reach_every_part() {
    let ps = params();
    let groups = vec![
        ParamGroup::new(ps[..2].to_vec()).with_lr(0.5),
        ParamGroup::new(ps[2..].to_vec()),
    ];
    let mut opt = settings().build_with_groups(groups).unwrap();
    // Muon: [matrix] (lr 0.5); AdamW: [vector] (lr 0.5), [kernel] (lr 0.02).
    let lrs: Vec<f64> = opt.groups().iter().map(|g| g.lr).collect();
    assert_eq!(lrs, [0.5, 0.5, 0.02]);
    opt.set_group_lr(2, 0.125).unwrap();
    assert_eq!(opt.groups()[2].lr, 0.125);
    assert!(matches!(
        opt.set_group_lr(3, 0.1),
        Err(OptimError::NoSuchGroup {
            index: 3,
            count: 3,
            ..
        })
    ));
    assert_eq!(opt.momentum(), Some(0.95));
    opt.set_momentum(0.85).unwrap();
    let options = opt.state_dict().options;
    let get = |k: &str| options.iter().find(|(n, _)| n == k).map(|o| o.1);
    assert_eq!(
        (get("0.momentum"), get("1.betas.0")),
        (Some(0.85), Some(0.85))
    );
}

#[test]
fn the_state_resumes_bit_for_bit_and_another_is_refused_whole() {
    let (ps, qs) = (params(), params());
    let mut opt = settings().build(ps.clone()).unwrap();
    for step in 0..3 {
        gradients(&ps, step);
        opt.step().unwrap();
    }
    let path = std::env::temp_dir().join(format!("tapegrad-partitioned-{}", std::process::id()));
    opt.save(&path).unwrap();
    for (p, q) in ps.iter().zip(&qs) {
        q.set_value(p.value()).unwrap();
    }
    let mut resumed = settings().build(qs.clone()).unwrap();
    resumed.load(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    for step in 3..6 {
        gradients(&ps, step);
        gradients(&qs, step);
        opt.step().unwrap();
        resumed.step().unwrap();
    }
    for (p, q) in ps.iter().zip(&qs) {
        assert_eq!(values(p), values(q));
    }

    let mut state = opt.state_dict();
    state.options.retain(|(k, _)| k != "1.eps");
    let before = resumed.state_dict();
    let err = resumed.load_state_dict(&state).unwrap_err();
    assert!(matches!(err, OptimError::StateMismatch { .. }), "{err}");
    assert_eq!(
        resumed.state_dict(),
        before,
        "a refused state changed a part"
    );
    state = opt.state_dict();
    state.optimizer = "Partitioned(SGD, Adam)".into();
    assert!(resumed.load_state_dict(&state).is_err());
}

#[test]
fn a_parameter_in_two_parts_or_a_new_group_is_refused() {
    let w = params()[1].clone();
    let sgd = || Sgd::new(vec![w.clone()], SgdConfig::default()).unwrap();
    let err = Partitioned::new(vec![Box::new(sgd()), Box::new(sgd())]).unwrap_err();
    assert!(
        matches!(err, OptimError::DuplicateParameter { .. }),
        "{err}"
    );
    assert!(matches!(
        Partitioned::<f64>::new(Vec::new()),
        Err(OptimError::NoParameters { .. })
    ));
    let mut one = Partitioned::new(vec![Box::new(sgd())]).unwrap();
    let extra = ParamGroup::new(vec![params()[0].clone()]);
    assert!(one.add_param_group(extra).is_err());
}
