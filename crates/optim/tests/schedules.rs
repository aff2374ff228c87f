//! Learning-rate schedules and gradient clipping.

mod common;

use std::f64::consts::PI;

use common::table::rows;
use common::{set_grad, values, vector};
use tapegrad_optim::{
    Anneal, CosineAnnealingLr, LinearLr, LrScheduler, OneCycleLr, OptimError, Optimizer,
    ParamGroup, Scheduler, SequentialLr, Sgd, SgdConfig, StepLr, clip_grad_norm, clip_grad_value,
};
use tapegrad_tape::Var;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-14 * b.abs().max(1e-300)
}

#[test]
fn step_lr_decays_at_every_multiple_of_step_size() {
    let s = StepLr::new(3, 0.1).unwrap();
    let lrs: Vec<f64> = (0..10).map(|t| s.lr_at(2.0, t)).collect();
    let want = [2.0, 2.0, 2.0, 0.2, 0.2, 0.2, 0.02, 0.02, 0.02, 2e-3];
    for (t, (a, b)) in lrs.iter().zip(want).enumerate() {
        assert!(close(*a, b), "t = {t}: {a} vs {b}");
    }
}

#[test]
fn cosine_reaches_eta_min_at_t_max_and_is_not_clamped_after() {
    let s = CosineAnnealingLr::new(10, 0.01).unwrap();
    assert_eq!(s.lr_at(1.0, 0), 1.0);
    assert!(close(s.lr_at(1.0, 10), 0.01));
    assert!(close(s.lr_at(1.0, 5), 0.505));
    for k in 1..10 {
        assert!(
            close(s.lr_at(1.0, 10 + k), s.lr_at(1.0, 10 - k)),
            "climbs back at {k}"
        );
    }
    assert!(close(s.lr_at(1.0, 20), 1.0));
}

#[test]
fn linear_warmup_defaults_are_pytorchs() {
    let s = LinearLr::default();
    let lrs: Vec<f64> = (0..8).map(|t| s.lr_at(0.3, t)).collect();
    for t in 0..8 {
        let factor = 1.0 / 3.0 + (2.0 / 3.0) * (t.min(5) as f64 / 5.0);
        assert!(close(lrs[t], 0.3 * factor), "t = {t}");
    }
    assert!(close(lrs[0], 0.1) && close(lrs[5], 0.3) && close(lrs[7], 0.3));
}

#[test]
fn sequential_runs_warmup_then_cosine_from_the_milestone() {
    let warmup = LinearLr::new(0.1, 1.0, 3).unwrap();
    let cosine = CosineAnnealingLr::new(5, 0.0).unwrap();
    let s = SequentialLr::new(vec![Box::new(warmup), Box::new(cosine)], vec![3]).unwrap();
    let base = 0.5;
    for t in 0..12 {
        let want = if t < 3 {
            base * (0.1 + 0.9 * t as f64 / 3.0)
        } else {
            base * (1.0 + (PI * (t - 3) as f64 / 5.0).cos()) / 2.0
        };
        assert!((s.lr_at(base, t) - want).abs() < 1e-15, "t = {t}");
    }
    assert_eq!(s.total_steps(), None);
}

#[test]
fn one_cycle_rises_to_max_lr_then_anneals_to_the_minimum() {
    let max = 0.1;
    let s = OneCycleLr::new(max, 20).unwrap();
    let (initial, min) = (max / 25.0, max / 25.0 / 1e4);
    assert!(close(s.lr_at(0.0, 0), initial));
    // The rise ends at step 0.3 · 20 − 1 = 5, the fall at step 19.
    assert!(close(s.lr_at(0.0, 5), max));
    assert!(close(s.lr_at(0.0, 19), min));
    assert!(close(s.lr_at(0.0, 12), (max + min) / 2.0), "half-way down");
    let rise = s.lr_at(0.0, 2) - initial;
    assert!(close(
        rise,
        (max - initial) * (1.0 - (PI * 0.4).cos()) / 2.0
    ));
    let lrs: Vec<f64> = (0..20).map(|t| s.lr_at(123.0, t)).collect();
    assert!(lrs[..6].windows(2).all(|w| w[0] < w[1]) && lrs[5..].windows(2).all(|w| w[0] > w[1]));

    let three = OneCycleLr {
        three_phase: true,
        anneal: Anneal::Linear,
        ..s
    }
    .validated()
    .unwrap();
    assert!(close(three.lr_at(0.0, 5), max));
    assert!(
        close(three.lr_at(0.0, 10), initial),
        "back to the initial lr at 2 · 0.3 · 20 − 2"
    );
    // Linear annealing computes (end − start) · 1 + start: exact to an ulp of start.
    assert!((three.lr_at(0.0, 19) - min).abs() < 1e-17);
    assert!(close(three.lr_at(0.0, 7), max - (max - initial) * 0.4));
}

#[test]
fn scheduler_drives_every_optimizer_through_set_lr() {
    for row in rows() {
        let group = ParamGroup::new(vec![vector::<f64>(&[1.0, -1.0])]).with_lr(0.2);
        let mut opt = row.build(vec![group]);
        let schedule = CosineAnnealingLr::new(4, 0.0).unwrap();
        let mut sched = Scheduler::new(schedule, opt.as_mut()).unwrap();
        for t in 1..=4 {
            opt.step().unwrap();
            sched.step(opt.as_mut()).unwrap();
            let want = 0.2 * (1.0 + (PI * t as f64 / 4.0).cos()) / 2.0;
            assert!((opt.lr() - want).abs() < 1e-16, "{} at {t}", row.name);
        }
        assert_eq!(sched.steps_taken(), 4);
    }
}

#[test]
fn warmup_starts_below_the_base_lr_at_construction() {
    let mut opt = Sgd::new(
        vec![vector::<f32>(&[0.0])],
        SgdConfig {
            lr: 0.3,
            ..Default::default()
        },
    )
    .unwrap();
    let sched = Scheduler::new(LinearLr::default(), &mut opt).unwrap();
    assert!(close(opt.lr(), 0.1));
    assert_eq!(sched.base_lrs(), &[0.3]);
}

fn with_grads(grads: &[&[f64]]) -> Vec<Var<f64>> {
    grads
        .iter()
        .map(|g| {
            let p = vector(&vec![0.0; g.len()]);
            set_grad(&p, g);
            p
        })
        .collect()
}

fn grads(params: &[Var<f64>]) -> Vec<Vec<f64>> {
    params
        .iter()
        .map(|p| p.grad().map_or(vec![], |g| g.data().to_vec()))
        .collect()
}

#[test]
fn clip_grad_norm_scales_all_gradients_by_one_coefficient() {
    let params = with_grads(&[&[3.0, 0.0], &[0.0, 4.0, 12.0]]);
    let total = clip_grad_norm(&params, 6.5, 2.0, true).unwrap();
    assert!(close(total, 13.0));
    let coef = 6.5 / (total + 1e-6);
    let got = grads(&params);
    assert_eq!(got[0], [3.0 * coef, 0.0]);
    assert_eq!(got[1], [0.0, 4.0 * coef, 12.0 * coef]);
}

#[test]
fn clip_grad_norm_below_the_limit_changes_nothing() {
    let params = with_grads(&[&[0.3, -0.4]]);
    let total = clip_grad_norm(&params, 1.0, 2.0, true).unwrap();
    assert!(close(total, 0.5));
    assert_eq!(grads(&params)[0], [0.3, -0.4]);
}

#[test]
fn clip_grad_norm_other_orders_and_absent_gradients() {
    let params = with_grads(&[&[1.0, -2.0], &[-5.0]]);
    let absent = vector(&[7.0]);
    let all = [params.clone(), vec![absent.clone()]].concat();
    assert_eq!(
        clip_grad_norm(&all, 100.0, f64::INFINITY, true).unwrap(),
        5.0
    );
    assert_eq!(clip_grad_norm(&all, 100.0, 1.0, true).unwrap(), 8.0);
    let cubed = (1.0f64 + 8.0 + 125.0).powf(1.0 / 3.0);
    assert!(close(
        clip_grad_norm(&all, 100.0, 3.0, true).unwrap(),
        cubed
    ));
    assert!(absent.grad().is_none(), "an absent gradient stays absent");
    let total = clip_grad_norm(&all, 1.0, f64::INFINITY, true).unwrap();
    assert_eq!(total, 5.0);
    let coef = 1.0 / (5.0 + 1e-6);
    assert_eq!(grads(&params), [vec![coef, -2.0 * coef], vec![-5.0 * coef]]);
    assert_eq!(values(&absent), [7.0]);
}

#[test]
fn nonfinite_norm_is_an_error_only_when_asked() {
    let params = with_grads(&[&[1.0, f64::NAN]]);
    let err = clip_grad_norm(&params, 1.0, 2.0, true).unwrap_err();
    assert!(matches!(err, OptimError::NonFiniteNorm { .. }));
    assert_eq!(
        err.to_string(),
        "clip_grad_norm: the total norm of order 2 of the gradients is NaN; pass error_if_nonfinite = false to clip anyway"
    );
    assert_eq!(grads(&params)[0][0], 1.0, "refused: gradients unchanged");
    let total = clip_grad_norm(&params, 1.0, 2.0, false).unwrap();
    assert!(total.is_nan() && grads(&params)[0][0].is_nan());
    let inf = with_grads(&[&[f64::INFINITY, 1.0]]);
    assert!(clip_grad_norm(&inf, 1.0, f64::INFINITY, true).is_err());
}

#[test]
fn clip_grad_norm_in_f32_returns_f32() {
    let p = vector::<f32>(&[0.0, 0.0]);
    set_grad(&p, &[6.0, 8.0]);
    let total: f32 = clip_grad_norm(std::slice::from_ref(&p), 5.0, 2.0, false).unwrap();
    assert_eq!(total, 10.0);
    let g = p.grad().unwrap();
    assert!((g.data()[0] - 3.0).abs() < 1e-5 && (g.data()[1] - 4.0).abs() < 1e-5);
}

#[test]
fn clip_grad_value_clamps_each_element() {
    let params = with_grads(&[&[-3.0, 0.25, 2.0], &[0.5, -0.75]]);
    clip_grad_value(&params, 0.5).unwrap();
    assert_eq!(grads(&params), [vec![-0.5, 0.25, 0.5], vec![0.5, -0.5]]);
}

#[test]
fn a_cycled_momentum_needs_an_optimizer_with_one_to_cycle() {
    use tapegrad_optim::{Adagrad, AdagradConfig, CyclicLr};
    let cyclic = || CyclicLr::new(0.01, 0.1, 3).unwrap();
    let mut adagrad = Adagrad::new(vec![vector::<f64>(&[0.0])], AdagradConfig::default()).unwrap();
    let err = Scheduler::new(cyclic(), &mut adagrad).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Adagrad: momentum is not supported: it has neither momentum nor betas to cycle"
    );
    // SGD without momentum keeps no buffer, so one cannot appear mid-run.
    let mut sgd = Sgd::new(vec![vector::<f64>(&[0.0])], SgdConfig::default()).unwrap();
    let err = Scheduler::new(cyclic(), &mut sgd).unwrap_err().to_string();
    assert!(
        err.contains("would change the state buffers it keeps"),
        "{err}"
    );
    assert_eq!((sgd.momentum(), sgd.lr()), (Some(0.0), 1e-3), "unchanged");
    // Without momentum cycling both run.
    let plain = CyclicLr {
        cycle_momentum: None,
        ..cyclic()
    };
    Scheduler::new(plain, &mut sgd).unwrap();
    assert_eq!((sgd.momentum(), sgd.lr()), (Some(0.0), 0.01));
    // An out-of-range momentum is refused by the optimizer's own check.
    let cfg = SgdConfig {
        momentum: 0.9,
        ..Default::default()
    };
    let mut sgd = Sgd::new(vec![vector::<f64>(&[0.0])], cfg).unwrap();
    assert!(sgd.set_momentum(-0.5).is_err());
    assert_eq!(sgd.momentum(), Some(0.9));
    sgd.set_momentum(0.5).unwrap();
    assert_eq!(sgd.config().momentum, 0.5);
}

#[test]
fn multiplicative_lr_stepped_equals_its_closed_form_and_restores() {
    use tapegrad_optim::MultiplicativeLr;
    let factor = |t: usize| 1.0 - 0.01 * (t % 7) as f64;
    let mut opt = Sgd::new(vec![vector::<f64>(&[0.0])], SgdConfig::default()).unwrap();
    let mut sched = Scheduler::new(MultiplicativeLr::new(factor), &mut opt).unwrap();
    for _ in 0..500 {
        sched.step(&mut opt).unwrap();
    }
    assert_eq!(opt.lr(), MultiplicativeLr::new(factor).lr_at(1e-3, 500));
    let state = sched.state();
    let mut fresh = Sgd::new(vec![vector::<f64>(&[0.0])], SgdConfig::default()).unwrap();
    let mut again = Scheduler::restore(MultiplicativeLr::new(factor), &state, &mut fresh).unwrap();
    assert_eq!(fresh.lr(), opt.lr());
    sched.step(&mut opt).unwrap();
    again.step(&mut fresh).unwrap();
    assert_eq!(fresh.lr().to_bits(), opt.lr().to_bits());
}

#[test]
fn plateau_options_are_checked_and_its_state_resumes() {
    use tapegrad_optim::ReduceLrOnPlateau;
    let two_groups = || {
        let groups = vec![
            ParamGroup::new(vec![vector::<f64>(&[0.0])]),
            ParamGroup::new(vec![vector(&[0.0])]).with_lr(0.5),
        ];
        Sgd::with_groups(groups, SgdConfig::default()).unwrap()
    };
    let opt = two_groups();
    let refused = |p: ReduceLrOnPlateau| p.validated(&opt).unwrap_err().to_string();
    assert_eq!(
        refused(ReduceLrOnPlateau {
            factor: 1.0,
            ..Default::default()
        }),
        "ReduceLROnPlateau: invalid factor = 1: must be in [0, 1)"
    );
    assert_eq!(
        refused(ReduceLrOnPlateau {
            min_lrs: vec![0.0; 3],
            ..Default::default()
        }),
        "ReduceLROnPlateau: invalid min_lrs.len = 3: needs 1 value or one per group (2)"
    );
    assert!(
        refused(ReduceLrOnPlateau {
            threshold: f64::NAN,
            ..Default::default()
        })
        .contains("threshold")
    );
    // Stopped after 5 metrics and resumed from its state: the same lrs.
    let metrics = [3.0, 2.0, 2.5, 2.5, 2.1, 2.2, 2.3, 1.0, 1.5, 1.5, 1.5];
    let plateau = || {
        ReduceLrOnPlateau {
            patience: 1,
            cooldown: 1,
            ..Default::default()
        }
        .validated(&opt)
        .unwrap()
    };
    let (mut a, mut pa) = (two_groups(), plateau());
    let mut lrs = Vec::new();
    for &m in &metrics {
        pa.step(m, &mut a).unwrap();
        lrs.push((a.groups()[0].lr, a.groups()[1].lr));
    }
    assert!(lrs.last().unwrap().0 < 1e-5, "reduced: {lrs:?}");
    let (mut b, mut pb) = (two_groups(), plateau());
    for &m in &metrics[..5] {
        pb.step(m, &mut b).unwrap();
    }
    let saved = (b.state_dict(), pb.state.clone());
    let mut c = two_groups();
    c.load_state_dict(&saved.0).unwrap();
    let mut pc = ReduceLrOnPlateau {
        state: saved.1,
        ..plateau()
    }
    .validated(&c)
    .unwrap();
    for (t, &m) in metrics.iter().enumerate().skip(5) {
        pc.step(m, &mut c).unwrap();
        assert_eq!((c.groups()[0].lr, c.groups()[1].lr), lrs[t], "step {t}");
    }
}

/// Every named schedule builds for runs of 2 to 10 000 steps with lrs in
/// (0, lr·1.0] at every step, and the names read back.
#[test]
fn every_schedule_kind_builds_for_any_run_length() {
    use tapegrad_optim::ScheduleKind;
    for kind in ScheduleKind::ALL {
        assert_eq!(kind.name().parse::<ScheduleKind>().unwrap(), kind);
        for total in [2, 3, 17, 10_000] {
            let Some(s) = kind.schedule(0.1, total).unwrap() else {
                assert_eq!(kind, ScheduleKind::Plateau);
                continue;
            };
            for t in 0..total {
                let lr = s.lr_at(0.1, t);
                assert!(
                    lr > 0.0 && lr <= 0.1 + 1e-15,
                    "{kind} at {t} of {total}: {lr}"
                );
            }
        }
    }
    let err = "cosin".parse::<ScheduleKind>().unwrap_err().to_string();
    assert!(
        err.starts_with("unknown schedule `cosin`; valid names: constant, step"),
        "{err}"
    );
}

/// AveragedModel's averages (`fixtures/averaging_reference.json`), to 1e-14.
#[test]
fn averaged_params_match_pytorch() {
    use tapegrad_optim::{AveragedParams, Averaging};
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/averaging_reference.json"
    );
    let root = common::fixture(file);
    let cases = root["cases"].as_object().unwrap();
    assert_eq!(cases.len(), 3);
    for (name, case) in cases {
        let shapes: Vec<Vec<usize>> = case["shapes"]
            .as_array()
            .unwrap()
            .iter()
            .map(common::usizes)
            .collect();
        let params: Vec<Var<f64>> = shapes
            .iter()
            .map(|s| common::param(&vec![0.0; s.iter().product()], s))
            .collect();
        let averaging = match case["decay"].as_f64() {
            None => Averaging::Swa,
            Some(decay) => Averaging::Ema { decay },
        };
        let mut avg = AveragedParams::new(params.clone(), averaging).unwrap();
        let steps = case["values"]
            .as_array()
            .unwrap()
            .iter()
            .zip(case["expected"].as_array().unwrap());
        for (u, (values, expected)) in steps.enumerate() {
            for (p, v) in params.iter().zip(values.as_array().unwrap()) {
                let v = common::f64s(v);
                p.update(|d| d.copy_from_slice(&v));
            }
            avg.update();
            for (i, want) in expected.as_array().unwrap().iter().enumerate() {
                for (got, want) in avg.state().averages[i].iter().zip(common::f64s(want)) {
                    assert!(
                        (got - want).abs() <= 1e-14 * want.abs().max(1.0),
                        "{name} update {u} param {i}: {got} vs {want}"
                    );
                }
            }
        }
        assert_eq!(
            avg.state().n_averaged,
            case["values"].as_array().unwrap().len() as u64
        );
    }
}

#[test]
fn averaged_params_swap_restore_and_refuse() {
    use tapegrad_optim::{AveragedParams, Averaging};
    let w = vector::<f64>(&[1.0, 2.0]);
    assert!(AveragedParams::new(vec![w.clone()], Averaging::Ema { decay: 1.5 }).is_err());
    let mut ema = AveragedParams::new(vec![w.clone()], Averaging::Ema { decay: 0.5 }).unwrap();
    assert!(ema.swap().is_err(), "nothing to swap in before an update");
    ema.update();
    w.update(|d| d.copy_from_slice(&[3.0, 4.0]));
    ema.update();
    assert_eq!(ema.state().averages[0], [2.0, 3.0]);
    let saved = ema.state().clone();
    let mut again = AveragedParams::new(vec![w.clone()], Averaging::Ema { decay: 0.5 }).unwrap();
    let wrong = tapegrad_optim::AveragedState {
        n_averaged: 2,
        averages: vec![vec![0.0; 3]],
    };
    assert!(again.restore(wrong).is_err());
    again.restore(saved).unwrap();
    again.update();
    ema.update();
    assert_eq!(again.state(), ema.state());
    again.swap().unwrap();
    assert_eq!(w.value().data(), [2.5, 3.5]);
    again.swap().unwrap();
    assert_eq!(w.value().data(), [3.0, 4.0]);
}
