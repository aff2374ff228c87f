//! Anomaly mode: the first NaN or infinity names its op, forward or gradient;
//! off, nothing is checked.

use tapegrad_tape::{
    AnomalyStage, GradOptions, NonFinite, Result, TapeError, Tensor, Var, detect_anomaly, grad,
    is_anomaly_enabled, set_detect_anomaly,
};

fn param(values: &[f64]) -> Var<f64> {
    Var::parameter(Tensor::from_vec(values.to_vec(), &[values.len()]).unwrap())
}

/// The parts of an anomaly error that tests compare.
fn anomaly(
    err: TapeError,
) -> (
    &'static str,
    AnomalyStage,
    Vec<Vec<usize>>,
    NonFinite,
    usize,
) {
    match err {
        TapeError::Anomaly {
            op,
            stage,
            input_shapes,
            found,
            index,
        } => {
            let shapes = input_shapes.iter().map(|s| s.to_vec()).collect();
            (op, stage, shapes, found, index)
        }
        other => panic!("not an anomaly: {other}"),
    }
}

#[test]
fn nan_from_log_of_a_negative_names_log_at_backward() {
    let x = param(&[1.0, -1.0, 2.0]);
    let err = detect_anomaly(|| x.log().sum().backward()).unwrap_err();
    assert_eq!(
        anomaly(err.clone()),
        (
            "log",
            AnomalyStage::Forward,
            vec![vec![3]],
            NonFinite::Nan,
            1
        )
    );
    assert_eq!(
        err.to_string(),
        "anomaly: `log` gave a non-finite forward value (NaN at element 1; inputs of shapes [[3]])"
    );
}

#[test]
fn a_fallible_op_fails_at_once_with_its_own_name_and_shapes() {
    let a = Var::parameter(Tensor::<f64>::ones(&[2, 3]));
    let b = Var::constant(Tensor::from_vec(vec![1.0, 0.0, 2.0], &[3]).unwrap());
    let err = detect_anomaly(|| a.div(&b)).unwrap_err();
    assert_eq!(
        anomaly(err),
        (
            "div",
            AnomalyStage::Forward,
            vec![vec![2, 3], vec![3]],
            NonFinite::Infinity,
            1
        )
    );
}

#[test]
fn a_kept_anomaly_fails_the_next_fallible_op_and_only_the_first_is_kept() {
    let x = param(&[-1.0, 0.0]);
    let err = detect_anomaly(|| {
        let nan = x.log(); // NaN at 0, −∞ at 1: kept
        let _also_inf = x.mul_scalar(1e308).mul_scalar(10.0); // not the first
        nan.add(&x) // the next fallible call returns it
    })
    .unwrap_err();
    assert_eq!(
        anomaly(err),
        (
            "log",
            AnomalyStage::Forward,
            vec![vec![2]],
            NonFinite::Nan,
            0
        )
    );
}

#[test]
fn the_scope_returns_an_anomaly_no_fallible_call_returned() {
    let x = param(&[4.0, -1.0]);
    let err = detect_anomaly(|| Ok::<_, TapeError>(x.sqrt())).unwrap_err();
    assert_eq!(anomaly(err).0, "sqrt");
    // Returned once: the next scope starts clean.
    assert!(detect_anomaly(|| Ok::<_, TapeError>(x.exp())).is_ok());
}

#[test]
fn an_overflowing_gradient_names_the_rule() {
    // √x is finite at 0; its gradient g / (2√x) is +∞ there.
    let x = param(&[4.0, 0.0, 1.0]);
    let err = detect_anomaly(|| x.sqrt().sum().backward()).unwrap_err();
    assert_eq!(
        anomaly(err.clone()),
        (
            "sqrt",
            AnomalyStage::Gradient { input: 0 },
            vec![vec![3]],
            NonFinite::Infinity,
            1
        )
    );
    assert_eq!(
        err.to_string(),
        "anomaly: `sqrt` gave a non-finite gradient for input 0 (inf at element 1; inputs of shapes [[3]])"
    );
    assert!(x.grad().is_none(), "nothing was accumulated");
}

#[test]
fn the_gradient_check_names_the_input_of_a_binary_rule() {
    // 10 · a · b is finite (1e9), but ∂a = g b = 10 · 1e308 overflows; ∂b = g a
    // does not.
    let a = param(&[1e-300]);
    let b = param(&[1e308]);
    let err = detect_anomaly(|| a.mul(&b)?.mul_scalar(10.0).sum().backward()).unwrap_err();
    assert_eq!(
        anomaly(err),
        (
            "mul",
            AnomalyStage::Gradient { input: 0 },
            vec![vec![1], vec![1]],
            NonFinite::Infinity,
            0
        )
    );
}

#[test]
fn grad_checks_gradients_too() {
    let x = param(&[0.0]);
    let y = x.sqrt().sum();
    let err = detect_anomaly(|| grad(&[y.clone()], &[x.clone()], None, GradOptions::default()))
        .unwrap_err();
    assert_eq!(anomaly(err).0, "sqrt");
}

#[test]
fn off_nothing_is_checked() {
    assert!(!is_anomaly_enabled());
    let x = param(&[-1.0, 0.0, 4.0]);
    let y = x.log().add(&x.sqrt()).unwrap();
    assert!(y.value().data()[0].is_nan());
    y.sum().backward().unwrap();
    let g = x.grad().unwrap();
    assert!(g.data()[1].is_infinite());
}

#[test]
fn finite_work_passes_untouched() {
    let x = param(&[1.0, 2.0]);
    let loss = detect_anomaly(|| {
        let y = x.mul(&x)?.log().softmax(0)?.sum();
        y.backward()?;
        y.item()
    })
    .unwrap();
    assert!((loss - 1.0).abs() < 1e-15);
    assert!(x.grad().unwrap().all_finite());
}

#[test]
fn the_scope_restores_the_mode_also_after_a_panic() {
    detect_anomaly(|| {
        assert!(is_anomaly_enabled());
        Ok::<_, TapeError>(())
    })
    .unwrap();
    assert!(!is_anomaly_enabled());
    let panicked =
        std::panic::catch_unwind(|| detect_anomaly(|| -> Result<()> { panic!("inside") }));
    assert!(panicked.is_err());
    assert!(!is_anomaly_enabled());
}

#[test]
fn the_mode_belongs_to_the_thread() {
    detect_anomaly(|| {
        let elsewhere = std::thread::spawn(is_anomaly_enabled).join().unwrap();
        assert!(!elsewhere);
        Ok::<_, TapeError>(())
    })
    .unwrap();
}

#[test]
fn switching_off_keeps_an_anomaly_found_for_the_next_fallible_call() {
    let x = param(&[-1.0]);
    set_detect_anomaly(true);
    let y = x.log();
    set_detect_anomaly(false);
    let err = y.sum().backward().unwrap_err();
    assert_eq!(anomaly(err).0, "log");
    // Returned once; off, the same NaN now passes.
    assert!(x.log().sum().backward().is_ok());
}

#[test]
fn f32_values_are_checked_as_f64_ones() {
    let x = Var::parameter(Tensor::from_vec(vec![1.0f32, 100.0], &[2]).unwrap());
    let err = detect_anomaly(|| x.exp().sum().backward()).unwrap_err();
    assert_eq!(anomaly(err).3, NonFinite::Infinity);
}
