//! ApplyIfFinite: transparent while gradients are finite, a no-op that is
//! counted when one is not, and its counters saved and restored with the state.

mod common;

use common::table::{Row, rows};
use common::{bits, noise, set_grad, vector};
use tapegrad_optim::{
    Adam, AdamConfig, ApplyIfFinite, MAX_STEP, NonFiniteCounts, OptimError, Optimizer, StateDict,
    StepOutcome,
};
use tapegrad_tape::{Tensor, Var};

const STEPS: u64 = 8;

fn params() -> Vec<Var<f64>> {
    vec![vector(&noise(1, 5)), vector(&noise(2, 3))]
}

fn give_grads(params: &[Var<f64>], step: u64) {
    for (i, p) in params.iter().enumerate() {
        set_grad(p, &noise(100 + 10 * step + i as u64, p.numel()));
    }
}

fn wrapped(
    row: &Row,
    params: Vec<Var<f64>>,
    limit: Option<u64>,
) -> ApplyIfFinite<f64, Box<dyn Optimizer<f64>>> {
    ApplyIfFinite::new(row.over(params), limit).unwrap()
}

/// The wrapped optimizer's state: the wrapper's four options removed.
fn inner_state(state: &StateDict<f64>) -> StateDict<f64> {
    let mut state = state.clone();
    let n = state.options.len();
    state.options.truncate(n - 4);
    state
}

fn snapshot(params: &[Var<f64>]) -> Vec<Vec<u64>> {
    params.iter().map(bits).collect()
}

#[test]
fn with_finite_gradients_every_row_steps_as_the_optimizer_it_wraps() {
    for row in rows() {
        let (a, b) = (params(), params());
        let mut guarded = wrapped(&row, a.clone(), None);
        let mut plain = row.over(b.clone());
        for t in 0..STEPS {
            give_grads(&a, t);
            give_grads(&b, t);
            assert_eq!(guarded.step_if_finite().unwrap(), StepOutcome::Applied);
            plain.step().unwrap();
            assert_eq!(snapshot(&a), snapshot(&b), "{} step {t}", row.name);
        }
        assert_eq!(
            inner_state(&guarded.state_dict()),
            plain.state_dict(),
            "{}",
            row.name
        );
        assert_eq!(guarded.counts(), NonFiniteCounts::default(), "{}", row.name);
    }
}

/// Non-finite gradients at steps 2, 3 and 5 (NaN, +∞, −∞ in turn, in either
/// parameter): those steps change nothing, so the run equals one that never
/// had them, bit for bit, state and step counts included.
#[test]
fn a_non_finite_gradient_skips_the_step_for_every_row() {
    let bad_steps = [2, 3, 5];
    let bad_values = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
    for row in rows() {
        let (a, b) = (params(), params());
        let mut guarded = wrapped(&row, a.clone(), None);
        let mut reference = row.over(b.clone());
        let mut skipped = 0;
        for t in 0..STEPS {
            give_grads(&a, t);
            let Some(k) = bad_steps.iter().position(|&s| s == t) else {
                give_grads(&b, t);
                reference.step().unwrap();
                assert_eq!(guarded.step_if_finite().unwrap(), StepOutcome::Applied);
                assert_eq!(snapshot(&a), snapshot(&b), "{} step {t}", row.name);
                continue;
            };
            a[k % 2].with_grad_mut(|g| g.as_mut().unwrap().data_mut()[k] = bad_values[k]);
            let before = (snapshot(&a), guarded.state_dict());
            assert_eq!(
                guarded.step_if_finite().unwrap(),
                StepOutcome::Skipped,
                "{}",
                row.name
            );
            assert_eq!(
                snapshot(&a),
                before.0,
                "{}: θ changed at step {t}",
                row.name
            );
            let after = guarded.state_dict();
            assert_eq!(
                inner_state(&after),
                inner_state(&before.1),
                "{}: state changed",
                row.name
            );
            skipped += 1;
            let consecutive = if t == 3 { 2 } else { 1 };
            let want = NonFiniteCounts {
                notfinite_count: consecutive,
                last_finite: false,
                total_notfinite: skipped,
            };
            assert_eq!(guarded.counts(), want, "{} step {t}", row.name);
            assert_eq!(guarded.nonfinite_counts(), Some(want));
        }
        let want = NonFiniteCounts {
            notfinite_count: 0,
            last_finite: true,
            total_notfinite: 3,
        };
        assert_eq!(guarded.counts(), want, "{}", row.name);
        assert_eq!(
            inner_state(&guarded.state_dict()),
            reference.state_dict(),
            "{}",
            row.name
        );
    }
}

#[test]
fn the_check_of_a_large_gradient_finds_a_nan_anywhere() {
    let n = 100_003;
    let w = vector::<f32>(&noise(3, n));
    let adam = Adam::new(vec![w.clone()], AdamConfig::default()).unwrap();
    let mut opt = ApplyIfFinite::new(adam, None).unwrap();
    for (i, at) in [0, n / 2, n - 1].into_iter().enumerate() {
        let mut g = vec![0.5f32; n];
        g[at] = f32::NAN;
        w.set_grad(Some(Tensor::from_vec(g, &[n]).unwrap()));
        assert_eq!(
            opt.step_if_finite().unwrap(),
            StepOutcome::Skipped,
            "NaN at {at}"
        );
        assert_eq!(opt.counts().total_notfinite, i as u64 + 1);
    }
    w.set_grad(Some(Tensor::full(&[n], 0.5)));
    assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Applied);
}

#[test]
fn past_max_consecutive_errors_the_step_is_refused_and_nothing_changes() {
    let p = params();
    let adam = Adam::new(p.clone(), AdamConfig::default()).unwrap();
    let mut opt = ApplyIfFinite::new(adam, Some(2)).unwrap();
    give_grads(&p, 0);
    opt.step().unwrap();
    p[1].with_grad_mut(|g| g.as_mut().unwrap().data_mut()[0] = f64::NAN);
    assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Skipped);
    assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Skipped);
    let before = (snapshot(&p), opt.state_dict());
    let err = opt.step_if_finite().unwrap_err();
    assert!(matches!(
        err,
        OptimError::TooManyNonFiniteSteps {
            consecutive: 3,
            limit: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "Adam: a gradient is NaN or infinite in 3 consecutive steps, and at most 2 such steps \
         are skipped; this step was refused"
    );
    assert_eq!((snapshot(&p), opt.state_dict()), before);
    assert_eq!(opt.counts().notfinite_count, 2);
    give_grads(&p, 1);
    assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Applied);
    let c = opt.counts();
    assert_eq!(
        (c.notfinite_count, c.last_finite, c.total_notfinite),
        (0, true, 2)
    );
}

#[test]
fn a_limit_of_zero_refuses_every_non_finite_step() {
    let p = params();
    let mut opt = ApplyIfFinite::new(
        Adam::new(p.clone(), AdamConfig::default()).unwrap(),
        Some(0),
    )
    .unwrap();
    give_grads(&p, 0);
    p[0].with_grad_mut(|g| g.as_mut().unwrap().data_mut()[4] = f64::INFINITY);
    let err = opt.step().unwrap_err();
    assert!(
        matches!(
            err,
            OptimError::TooManyNonFiniteSteps {
                consecutive: 1,
                limit: 0,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(opt.counts(), NonFiniteCounts::default());
}

#[test]
fn a_wrong_gradient_shape_is_an_error_even_when_not_finite() {
    let p = params();
    let mut opt =
        ApplyIfFinite::new(Adam::new(p.clone(), AdamConfig::default()).unwrap(), None).unwrap();
    give_grads(&p, 0);
    p[1].set_grad(Some(Tensor::full(&[4], f64::NAN)));
    let err = opt.step().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Adam: gradient of `{}` has shape [4], the parameter has shape [3]",
            p[1].name()
        )
    );
    assert_eq!(opt.counts(), NonFiniteCounts::default());
}

#[test]
fn a_parameter_without_gradient_does_not_count_as_non_finite() {
    let p = params();
    let mut opt =
        ApplyIfFinite::new(Adam::new(p.clone(), AdamConfig::default()).unwrap(), None).unwrap();
    give_grads(&p, 0);
    p[0].zero_grad();
    assert_eq!(opt.step_if_finite().unwrap(), StepOutcome::Applied);
}

#[test]
fn a_limit_the_state_cannot_hold_is_refused() {
    let adam = Adam::new(params(), AdamConfig::default()).unwrap();
    let err = ApplyIfFinite::new(adam, Some(MAX_STEP + 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ApplyIfFinite: invalid max_consecutive_errors = 9007199254740993: must be at most \
         2^53 = 9007199254740992; None means no limit"
    );
}

#[test]
fn only_a_wrapped_optimizer_reports_counts() {
    for row in rows() {
        let opt = row.over(params());
        let is_wrapper = opt
            .state_dict()
            .options
            .iter()
            .any(|(n, _)| n.starts_with("apply_if_finite."));
        assert_eq!(opt.nonfinite_counts().is_some(), is_wrapper, "{}", row.name);
    }
}

/// Two skipped steps, one applied, one skipped: counts (1, false, 3).
fn skipping_run(limit: Option<u64>) -> (ApplyIfFinite<f64, Adam<f64>>, Vec<Var<f64>>) {
    let p = params();
    let mut opt =
        ApplyIfFinite::new(Adam::new(p.clone(), AdamConfig::default()).unwrap(), limit).unwrap();
    for t in 0..4 {
        give_grads(&p, t);
        if t != 2 {
            p[0].with_grad_mut(|g| g.as_mut().unwrap().data_mut()[1] = f64::NAN);
        }
        opt.step().unwrap();
    }
    (opt, p)
}

#[test]
fn save_and_load_keep_the_counters_and_resume_bit_for_bit() {
    let (mut opt, p) = skipping_run(Some(5));
    let want = NonFiniteCounts {
        notfinite_count: 1,
        last_finite: false,
        total_notfinite: 3,
    };
    assert_eq!(opt.counts(), want);
    let dir = std::env::temp_dir().join(format!("tapegrad-finite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("guarded.state");
    opt.save(&path).unwrap();
    let copies: Vec<Var<f64>> = p
        .iter()
        .map(|x| Var::parameter(x.value().clone()))
        .collect();
    let adam = Adam::new(copies.clone(), AdamConfig::default()).unwrap();
    let mut restored = ApplyIfFinite::new(adam, Some(5)).unwrap();
    restored.load(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(restored.counts(), want);
    assert_eq!(restored.state_dict(), opt.state_dict());
    for t in 4..8 {
        give_grads(&p, t);
        give_grads(&copies, t);
        opt.step().unwrap();
        restored.step().unwrap();
        assert_eq!(snapshot(&p), snapshot(&copies), "step {t}");
    }
    assert_eq!(restored.counts(), opt.counts());
}

fn mismatch(err: OptimError) -> String {
    match err {
        OptimError::StateMismatch { reason, .. } => reason,
        other => panic!("expected StateMismatch, got {other}"),
    }
}

#[test]
fn a_state_saved_with_another_limit_or_without_the_wrapper_is_refused() {
    let (opt, p) = skipping_run(Some(5));
    let state = opt.state_dict();
    let mut other =
        ApplyIfFinite::new(Adam::new(p.clone(), AdamConfig::default()).unwrap(), None).unwrap();
    assert_eq!(
        mismatch(other.load_state_dict(&state).unwrap_err()),
        "option apply_if_finite.max_consecutive_errors was 5 when saved, this optimizer has inf"
    );
    let plain_state = opt.inner().state_dict();
    assert_eq!(
        mismatch(other.load_state_dict(&plain_state).unwrap_err()),
        "the state was saved without ApplyIfFinite (no option apply_if_finite.max_consecutive_errors)"
    );
    let mut plain = Adam::new(p, AdamConfig::default()).unwrap();
    assert_eq!(
        mismatch(plain.load_state_dict(&state).unwrap_err()),
        "the state has 11 options, this optimizer has 7"
    );
}

#[test]
fn impossible_counters_are_refused_and_change_nothing() {
    let (mut opt, _) = skipping_run(Some(5));
    let state = opt.state_dict();
    let n = state.options.len();
    // (consecutive, last_finite, total), the counter blamed, and why.
    let cases: [([f64; 3], &str, &str); 8] = [
        (
            [4.0, 0.0, 3.0],
            "notfinite_count = 4",
            "more than the 3 steps skipped in total",
        ),
        (
            [1.0, 1.0, 3.0],
            "notfinite_count = 1",
            "an applied last step leaves no step skipped in a row",
        ),
        (
            [0.0, 0.0, 3.0],
            "notfinite_count = 0",
            "a skipped last step leaves at least one step skipped in a row",
        ),
        (
            [6.0, 0.0, 9.0],
            "notfinite_count = 6",
            "at most 5 steps in a row are skipped",
        ),
        ([1.0, 0.5, 3.0], "last_finite = 0.5", "a flag is 0 or 1"),
        (
            [1.5, 0.0, 3.0],
            "notfinite_count = 1.5",
            "a count is a whole number from 0 to 2^53 = 9007199254740992",
        ),
        (
            [1.0, 0.0, -3.0],
            "total_notfinite = -3",
            "a count is a whole number from 0 to 2^53 = 9007199254740992",
        ),
        (
            [1.0, 0.0, 1e300],
            "total_notfinite = 1e300",
            "a count is a whole number from 0 to 2^53 = 9007199254740992",
        ),
    ];
    for (values, counter, reason) in cases {
        let mut bad = state.clone();
        for (slot, v) in bad.options[n - 3..].iter_mut().zip(values) {
            slot.1 = v;
        }
        let err = opt.load_state_dict(&bad).unwrap_err();
        assert!(matches!(err, OptimError::ImpossibleCounter { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!("Adam: impossible apply_if_finite.{counter} in the state: {reason}")
        );
        assert_eq!(opt.state_dict(), state);
    }
}
