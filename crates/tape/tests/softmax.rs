//! softmax and log_softmax: gradients (first and second order) along every kind of
//! axis, values by hand, stability for logits of magnitude 1e3, a PyTorch
//! cross-entropy fixture, and the errors of bad axes.

mod common;

use common::{check_both, fixture, fixture_tensor, floats, randn};
use tapegrad_tape::{TapeError, Tensor, Var};

/// (shape, axis): last and first axis, a middle axis (strided lanes), a size-1
/// axis, 1-d and 0-d.
fn cases() -> Vec<(Vec<usize>, isize)> {
    vec![
        (vec![3, 4], -1),
        (vec![3, 4], 0),
        (vec![2, 3, 4], 1),
        (vec![2, 3, 4], -3),
        (vec![1, 5], 0),
        // Lanes longer than the 16 parts the max and the sum are taken in.
        (vec![2, 37], -1),
        (vec![5], 0),
        (vec![], -1),
    ]
}

#[test]
fn softmax_and_log_softmax_pass_gradcheck_and_gradgradcheck() {
    for (k, (shape, axis)) in cases().into_iter().enumerate() {
        let x = [randn(&shape, 300 + k as u64)];
        check_both(|v| v[0].softmax(axis), &x);
        check_both(|v| v[0].log_softmax(axis), &x);
    }
}

#[test]
fn values_by_hand() {
    let x = Var::constant(Tensor::from_vec(vec![0.0, 2f64.ln(), 3f64.ln()], &[3]).unwrap());
    let p = x.softmax(0).unwrap().value();
    let lp = x.log_softmax(-1).unwrap().value();
    for (i, want) in [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0].into_iter().enumerate() {
        assert!((p.data()[i] - want).abs() < 1e-15, "softmax[{i}]");
        assert!((lp.data()[i] - want.ln()).abs() < 1e-15, "log_softmax[{i}]");
    }
    // Along axis 0 of a [2, 2]: each column is its own lane.
    let m = Var::constant(Tensor::from_vec(vec![0.0, 5.0, 0.0, 5.0 + 3f64.ln()], &[2, 2]).unwrap());
    let p = m.softmax(0).unwrap().value();
    let want = [0.5, 0.25, 0.5, 0.75];
    for (got, want) in p.data().iter().zip(want) {
        assert!((got - want).abs() < 1e-15);
    }
    assert_eq!(Var::scalar(7.0f64).softmax(0).unwrap().item().unwrap(), 1.0);
    assert_eq!(
        Var::scalar(7.0f64).log_softmax(-1).unwrap().item().unwrap(),
        0.0
    );
}

/// A long lane in f32 against the same formula in f64, and a NaN anywhere in a
/// lane makes every output of that lane NaN (PyTorch's behaviour).
#[test]
fn long_lanes_match_f64_and_propagate_nan() {
    let x: Vec<f32> = (0..2 * 53)
        .map(|i| ((i * 37 % 101) as f32) / 7.0 - 6.0)
        .collect();
    let t = Var::constant(Tensor::from_vec(x.clone(), &[2, 53]).unwrap());
    let (p, lp) = (
        t.softmax(-1).unwrap().value(),
        t.log_softmax(-1).unwrap().value(),
    );
    for lane in x.chunks(53).enumerate() {
        let (r, row) = lane;
        let max = row
            .iter()
            .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
        let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
        for (j, &v) in row.iter().enumerate() {
            let want = (f64::from(v) - max).exp() / sum;
            let got = f64::from(p.data()[r * 53 + j]);
            // exp's ulps, the sum's, and the rounding of x − max in f32,
            // which e^(x − max) turns into a relative error of |x − max| ε.
            let shifted = (f64::from(v) - max).abs();
            assert!(
                (got - want).abs() <= (4.0 + shifted) * f64::from(f32::EPSILON) * want,
                "softmax at {r},{j}: {got} against {want}"
            );
            let got_log = f64::from(lp.data()[r * 53 + j]);
            assert!(
                (got_log - want.ln()).abs() <= 1e-5,
                "log_softmax at {r},{j}"
            );
        }
    }
    let mut with_nan = vec![0.5f64; 40];
    with_nan[21] = f64::NAN;
    let v = Var::constant(Tensor::from_vec(with_nan, &[40]).unwrap());
    assert!(
        v.softmax(0)
            .unwrap()
            .value()
            .data()
            .iter()
            .all(|y| y.is_nan())
    );
    assert!(
        v.log_softmax(0)
            .unwrap()
            .value()
            .data()
            .iter()
            .all(|y| y.is_nan())
    );
}

#[test]
fn matches_the_composition_where_that_is_safe() {
    let x = randn(&[3, 2, 4], 9);
    let v = Var::constant(x);
    let e = v.exp();
    let composed = e.div(&e.sum_axes(&[1], true).unwrap()).unwrap().value();
    let fused = v.softmax(1).unwrap().value();
    for (a, b) in fused.data().iter().zip(composed.data()) {
        assert!((a - b).abs() < 1e-15);
    }
    let log_fused = v.log_softmax(1).unwrap().value();
    for (a, b) in log_fused.data().iter().zip(composed.data()) {
        assert!((a - b.ln()).abs() < 1e-14);
    }
}

#[test]
fn logits_of_magnitude_1e3_stay_finite_and_correct() {
    let x = Var::parameter(
        Tensor::from_vec(vec![1000.0, -1000.0, 999.0, 0.0, -1000.0, 1000.0], &[2, 3]).unwrap(),
    );
    let z = 1.0 + (-1.0f64).exp(); // Σ exp(x − max) of row 0, to 1e-16
    let p = x.softmax(1).unwrap();
    let want = [1.0 / z, 0.0, (-1.0f64).exp() / z, 0.0, 0.0, 1.0];
    for (got, want) in p.value().data().iter().zip(want) {
        assert!((got - want).abs() < 1e-15, "softmax {got} vs {want}");
    }
    let lp = x.log_softmax(1).unwrap();
    let want = [
        -z.ln(),
        -2000.0 - z.ln(),
        -1.0 - z.ln(),
        -1000.0,
        -2000.0,
        0.0,
    ];
    for (got, want) in lp.value().data().iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "log_softmax {got} vs {want}");
    }
    // Gradients are finite too: ∂/∂x Σ log_softmax = 1 − 3 softmax per row.
    lp.sum().backward().unwrap();
    let g = x.grad().unwrap();
    assert!(g.all_finite());
    assert!((g.data()[0] - (1.0 - 3.0 / z)).abs() < 1e-15);
    assert_eq!(g.data()[5], -2.0);
    x.zero_grad();
    p.mul(&p).unwrap().sum().backward().unwrap();
    assert!(x.grad().unwrap().all_finite());
    // f32, where exp overflows already at 89.
    let y = Var::constant(Tensor::from_vec(vec![1000.0f32, -1000.0, 1000.0], &[3]).unwrap());
    assert_eq!(y.softmax(0).unwrap().value().data(), &[0.5, 0.0, 0.5]);
    assert_eq!(
        y.log_softmax(0).unwrap().value().data()[1],
        -2000.0 - 2f32.ln()
    );
}

#[test]
fn large_inputs_split_across_threads_give_the_same_rows() {
    let (rows, cols) = (300, 200); // above the parallel threshold
    let x = randn(&[rows, cols], 11);
    let p = Var::constant(x.clone()).softmax(-1).unwrap().value();
    for r in [0, 157, rows - 1] {
        let row = &x.data()[r * cols..(r + 1) * cols];
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row.iter().map(|v| (v - m).exp()).sum();
        for c in 0..cols {
            let want = (row[c] - m).exp() / s;
            assert!((p.data()[r * cols + c] - want).abs() < 1e-15);
        }
    }
}

/// PyTorch: `F.cross_entropy(logits, labels)` on logits of magnitude ~30–100, as
/// −mean(gather(log_softmax(z, 1), 1, labels)).
#[test]
fn cross_entropy_on_large_logits_matches_pytorch() {
    let json = fixture("grad_reference.json");
    let case = &json["cases"]["cross_entropy_large_logits"];
    let z = Var::parameter(fixture_tensor(&case["tensors"]["logits"]));
    let rows = z.shape()[0];
    let labels: Vec<usize> = floats(&case["labels"])
        .iter()
        .map(|&n| n as usize)
        .collect();
    let picked = z
        .log_softmax(1)
        .unwrap()
        .gather(1, &labels, &[rows, 1])
        .unwrap();
    let loss = picked.mean().neg();
    let want = case["loss"].as_f64().unwrap();
    assert!((loss.item().unwrap() - want).abs() <= 1e-12 * want.abs());
    loss.backward().unwrap();
    // Off the label the gradient is p/N, with no cancellation: relative error only.
    // At the label it is (p − 1)/N, which cancels when p ≈ 1: about ε/N absolute.
    let cols = z.shape()[1];
    let grads = z.grad().unwrap();
    let want = floats(&case["grads"]["logits"]);
    for (i, (got, want)) in grads.data().iter().zip(want).enumerate() {
        let atol = if labels[i / cols] == i % cols {
            1e-17
        } else {
            0.0
        };
        assert!(
            (got - want).abs() <= 1e-12 * want.abs() + atol,
            "logits[{i}]: got {got:e}, PyTorch {want:e}"
        );
    }
}

#[test]
fn bad_axes_are_errors() {
    let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
    let e = x.softmax(2).unwrap_err();
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "softmax",
            axis: 2,
            ndim: 2
        }
    ));
    assert_eq!(
        e.to_string(),
        "softmax: axis 2 is out of range for a tensor of rank 2"
    );
    let e = x.log_softmax(-3).unwrap_err();
    assert!(matches!(
        e,
        TapeError::AxisOutOfRange {
            op: "log_softmax",
            axis: -3,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "log_softmax: axis -3 is out of range for a tensor of rank 2"
    );
    let e = Var::scalar(1.0f64).softmax(1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "softmax: axis 1 is out of range for a tensor of rank 1"
    );
}
