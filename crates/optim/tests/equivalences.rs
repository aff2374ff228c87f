//! Identities between the optimizers and the lecture's forms of the updates.

mod common;

use common::table::{keeps_state, per_tensor, rows};
use common::{bits, noise, set_grad, values, vector};
use tapegrad_optim::{
    Adam, AdamConfig, AdamW, OptimError, Optimizer, ParamGroup, Scheduler, Sgd, SgdConfig, StepLr,
};
use tapegrad_tape::{Tensor, Var};

const N: usize = 7;
const STEPS: u64 = 12;

fn grad_at(step: u64) -> Vec<f64> {
    noise(1000 + step, N)
}

/// Runs `opt` for STEPS steps with the same gradients every time; returns the bits.
fn trajectory(opt: &mut dyn Optimizer<f64>, p: &Var<f64>) -> Vec<Vec<u64>> {
    (0..STEPS)
        .map(|t| {
            set_grad(p, &grad_at(t));
            opt.step().unwrap();
            bits(p)
        })
        .collect()
}

fn start() -> Var<f64> {
    vector(&noise(7, N))
}

#[test]
fn adamw_without_weight_decay_is_adam_bit_for_bit() {
    for amsgrad in [false, true] {
        let (a, b) = (start(), start());
        let cfg = AdamConfig {
            lr: 0.01,
            amsgrad,
            ..Default::default()
        };
        let mut adam = Adam::new(vec![a.clone()], cfg).unwrap();
        let wcfg = AdamConfig {
            lr: 0.01,
            amsgrad,
            weight_decay: 0.0,
            ..AdamConfig::adamw()
        };
        let mut adamw = AdamW::new(vec![b.clone()], wcfg).unwrap();
        assert_eq!(
            trajectory(&mut adam, &a),
            trajectory(&mut adamw, &b),
            "amsgrad {amsgrad}"
        );
    }
}

#[test]
fn adam_with_decoupled_weight_decay_is_adamw_bit_for_bit() {
    let (a, b) = (start(), start());
    let cfg = AdamConfig {
        lr: 0.01,
        weight_decay: 0.3,
        decoupled_weight_decay: true,
        ..Default::default()
    };
    let mut adam = Adam::new(vec![a.clone()], cfg).unwrap();
    let wcfg = AdamConfig {
        lr: 0.01,
        weight_decay: 0.3,
        ..AdamConfig::adamw()
    };
    let mut adamw = AdamW::new(vec![b.clone()], wcfg).unwrap();
    assert_eq!(trajectory(&mut adam, &a), trajectory(&mut adamw, &b));
}

#[test]
fn adamw_differs_from_adam_with_the_same_weight_decay() {
    let (a, b) = (start(), start());
    let mut adam = Adam::new(
        vec![a.clone()],
        AdamConfig {
            lr: 0.01,
            weight_decay: 0.3,
            ..Default::default()
        },
    )
    .unwrap();
    let wcfg = AdamConfig {
        lr: 0.01,
        weight_decay: 0.3,
        ..AdamConfig::adamw()
    };
    let mut adamw = AdamW::new(vec![b.clone()], wcfg).unwrap();
    assert_ne!(trajectory(&mut adam, &a), trajectory(&mut adamw, &b));
}

/// θ ← θ − η (g + θ/C), written out.
#[test]
fn sgd_with_momentum_zero_is_plain_stochastic_gradient() {
    let (lr, wd) = (0.1, 0.05);
    let p = start();
    let mut theta = values(&p);
    let mut opt = Sgd::new(
        vec![p.clone()],
        SgdConfig {
            lr,
            weight_decay: wd,
            ..Default::default()
        },
    )
    .unwrap();
    for t in 0..STEPS {
        let g = grad_at(t);
        set_grad(&p, &g);
        opt.step().unwrap();
        for (th, gi) in theta.iter_mut().zip(&g) {
            *th -= lr * (gi + wd * *th);
        }
        assert_eq!(values(&p), theta, "step {t}");
    }
}

/// The lecture's momentum: v ← α v − η g ; θ ← θ + v (v starts at 0).
#[test]
fn lecture_momentum_form_equals_sgd_momentum_at_constant_lr() {
    let (lr, alpha) = (0.05, 0.9);
    let p = start();
    let mut theta = values(&p);
    let mut v = [0.0; N];
    let mut opt = Sgd::new(
        vec![p.clone()],
        SgdConfig {
            lr,
            momentum: alpha,
            ..Default::default()
        },
    )
    .unwrap();
    for t in 0..STEPS {
        let g = grad_at(t);
        set_grad(&p, &g);
        opt.step().unwrap();
        for i in 0..N {
            v[i] = alpha * v[i] - lr * g[i];
            theta[i] += v[i];
        }
        for (a, b) in values(&p).iter().zip(&theta) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "step {t}: {a} vs {b}");
        }
    }
}

/// The lecture's decoupled momentum: v ← α v − η g ; θ ← θ + v − η θ/C.
#[test]
fn decoupled_sgd_follows_the_lecture_decoupled_momentum_form() {
    let (lr, alpha, inv_c) = (0.05, 0.9, 0.2);
    let p = start();
    let mut theta = values(&p);
    let mut v = [0.0; N];
    let cfg = SgdConfig {
        lr,
        momentum: alpha,
        weight_decay: inv_c,
        decoupled_weight_decay: true,
        ..Default::default()
    };
    let mut opt = Sgd::new(vec![p.clone()], cfg).unwrap();
    for t in 0..STEPS {
        let g = grad_at(t);
        set_grad(&p, &g);
        opt.step().unwrap();
        for i in 0..N {
            v[i] = alpha * v[i] - lr * g[i];
            theta[i] = theta[i] + v[i] - lr * theta[i] * inv_c;
        }
        for (a, b) in values(&p).iter().zip(&theta) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "step {t}: {a} vs {b}");
        }
    }
}

/// The lecture's Adam without the two correction steps, written out.
#[test]
fn adam_without_bias_correction_is_the_lecture_variant() {
    let (lr, (r1, r2), delta) = (0.01, (0.9, 0.999), 1e-8);
    let p = start();
    let mut theta = values(&p);
    let (mut s, mut r) = ([0.0; N], [0.0; N]);
    let cfg = AdamConfig {
        lr,
        bias_correction: false,
        ..Default::default()
    };
    let mut opt = Adam::new(vec![p.clone()], cfg).unwrap();
    for t in 0..STEPS {
        let g = grad_at(t);
        set_grad(&p, &g);
        opt.step().unwrap();
        for i in 0..N {
            s[i] = r1 * s[i] + (1.0 - r1) * g[i];
            r[i] = r2 * r[i] + (1.0 - r2) * g[i] * g[i];
            theta[i] -= lr * s[i] / (r[i].sqrt() + delta);
        }
        for (a, b) in values(&p).iter().zip(&theta) {
            assert!((a - b).abs() <= 1e-12 * b.abs(), "step {t}: {a} vs {b}");
        }
    }
}

#[test]
fn maximize_is_descent_on_the_negated_gradient() {
    let (a, b) = (start(), start());
    let mut up = Adam::new(
        vec![a.clone()],
        AdamConfig {
            maximize: true,
            weight_decay: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    let mut down = Adam::new(
        vec![b.clone()],
        AdamConfig {
            weight_decay: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    for t in 0..STEPS {
        set_grad(&a, &grad_at(t));
        set_grad(&b, &grad_at(t).iter().map(|g| -g).collect::<Vec<_>>());
        up.step().unwrap();
        down.step().unwrap();
        assert_eq!(bits(&a), bits(&b), "step {t}");
    }
}

#[test]
fn parameter_without_gradient_is_untouched_and_gets_no_state() {
    let with = start();
    let without = vector(&noise(8, 3));
    for row in rows() {
        let group = ParamGroup::new(vec![with.clone(), without.clone()]).with_weight_decay(0.5);
        let mut opt = row.build(vec![group]);
        let keeps_state = keeps_state(opt.as_ref());
        let before = bits(&without);
        let moved = bits(&with);
        without.zero_grad();
        set_grad(&with, &grad_at(0));
        opt.step().unwrap();
        opt.step().unwrap();
        assert_eq!(bits(&without), before, "{}: decayed or moved", row.name);
        assert_ne!(
            bits(&with),
            moved,
            "{}: the other parameter must move",
            row.name
        );
        let state = opt.state_dict();
        assert_eq!(state.state[0][0].is_some(), keeps_state, "{}", row.name);
        // Lookahead keeps slow weights for every parameter from the start;
        // nothing else may appear for one that never had a gradient.
        let created = state.state[0][1].as_ref().filter(|s| {
            !(s.step == 0 && s.buffers.len() == 1 && s.buffers[0].0 == "lookahead_slow")
        });
        assert!(created.is_none(), "{}: state created", row.name);
    }
}

/// Splitting across threads (parameters of ≥ 32K elements) gives the same bits
/// as the serial loop over the same numbers: for an elementwise update, the
/// same numbers in small parameters; for one that depends on the whole tensor
/// (LAMB's trust ratio), the same parameter stepped on one thread.
#[test]
fn large_parameters_split_across_threads_match_small_ones() {
    const BIG: usize = 100_003;
    const PIECE: usize = 10_007;
    let init = noise(3, BIG);
    let grads: Vec<Vec<f64>> = (0..3).map(|t| noise(50 + t, BIG)).collect();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    for row in rows() {
        let decayed = |params| vec![ParamGroup::new(params).with_weight_decay(0.5)];
        let big = vector::<f64>(&init);
        let mut a = row.build(decayed(vec![big.clone()]));
        for g in &grads {
            set_grad(&big, g);
            a.step().unwrap();
        }
        let serial: Vec<u64> = if per_tensor(a.as_ref()) {
            one_thread.install(|| {
                let alone = vector::<f64>(&init);
                let mut b = row.build(decayed(vec![alone.clone()]));
                for g in &grads {
                    set_grad(&alone, g);
                    b.step().unwrap();
                }
                bits(&alone)
            })
        } else {
            let pieces: Vec<Var<f64>> = init.chunks(PIECE).map(vector).collect();
            let mut b = row.build(decayed(pieces.clone()));
            for g in &grads {
                for (p, gp) in pieces.iter().zip(g.chunks(PIECE)) {
                    set_grad(p, gp);
                }
                b.step().unwrap();
            }
            pieces.iter().flat_map(bits).collect()
        };
        assert_eq!(bits(&big), serial, "{}", row.name);
    }
}

#[test]
fn groups_have_their_own_lr_and_weight_decay() {
    let (w, b) = (start(), start());
    let (w_alone, b_alone) = (start(), start());
    let cfg = AdamConfig {
        lr: 0.01,
        weight_decay: 0.2,
        ..AdamConfig::adamw()
    };
    let groups = vec![
        ParamGroup::new(vec![w.clone()]),
        ParamGroup::new(vec![b.clone()])
            .with_weight_decay(0.0)
            .with_lr(0.03),
    ];
    let mut grouped = AdamW::with_groups(groups, cfg).unwrap();
    let mut only_w = AdamW::new(vec![w_alone.clone()], cfg).unwrap();
    let b_cfg = AdamConfig {
        lr: 0.03,
        weight_decay: 0.0,
        ..cfg
    };
    let mut only_b = AdamW::new(vec![b_alone.clone()], b_cfg).unwrap();
    for t in 0..STEPS {
        for p in [&w, &b, &w_alone, &b_alone] {
            set_grad(p, &grad_at(t));
        }
        grouped.step().unwrap();
        only_w.step().unwrap();
        only_b.step().unwrap();
    }
    assert_eq!(bits(&w), bits(&w_alone));
    assert_eq!(bits(&b), bits(&b_alone));
}

#[test]
fn added_group_starts_fresh_and_scheduler_scales_each_base() {
    let (w, b) = (start(), start());
    let mut opt = Sgd::new(
        vec![w],
        SgdConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    opt.add_param_group(ParamGroup::new(vec![b]).with_lr(0.4))
        .unwrap();
    let mut sched = Scheduler::new(StepLr::new(1, 0.5).unwrap(), &mut opt).unwrap();
    sched.step(&mut opt).unwrap();
    let lrs: Vec<f64> = opt.groups().iter().map(|g| g.lr).collect();
    assert_eq!(lrs, [0.05, 0.2]);
    assert_eq!(sched.last_lrs(), lrs);
}

#[test]
fn wrong_gradient_shape_is_refused_before_anything_changes() {
    let (a, b) = (start(), vector(&[1.0, 2.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamConfig::default()).unwrap();
    set_grad(&a, &grad_at(0));
    b.set_grad(Some(Tensor::zeros(&[3])));
    let before = bits(&a);
    let err = opt.step().unwrap_err();
    assert!(matches!(err, OptimError::GradientShape { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "Adam: gradient of `{}` has shape [3], the parameter has shape [2]",
            b.name()
        )
    );
    assert_eq!(bits(&a), before);
    assert!(opt.state_dict().state[0][0].is_none());
}

#[test]
fn zero_grad_forgets_every_gradient() {
    let (a, b) = (start(), start());
    let opt = Sgd::new(vec![a.clone(), b.clone()], SgdConfig::default()).unwrap();
    set_grad(&a, &grad_at(0));
    set_grad(&b, &grad_at(1));
    opt.zero_grad();
    assert!(a.grad().is_none() && b.grad().is_none());
}

#[test]
fn f32_parameters_follow_the_f64_trajectory() {
    let a = start();
    let b: Var<f32> = vector(&noise(7, N));
    let mut a_opt = Adam::new(
        vec![a.clone()],
        AdamConfig {
            lr: 0.01,
            ..Default::default()
        },
    )
    .unwrap();
    let mut b_opt = Adam::new(
        vec![b.clone()],
        AdamConfig {
            lr: 0.01,
            ..Default::default()
        },
    )
    .unwrap();
    for t in 0..STEPS {
        set_grad(&a, &grad_at(t));
        set_grad(&b, &grad_at(t));
        a_opt.step().unwrap();
        b_opt.step().unwrap();
    }
    for (x, y) in values(&a).iter().zip(values(&b)) {
        assert!((x - y).abs() < 1e-6, "{x} vs {y}");
    }
}
