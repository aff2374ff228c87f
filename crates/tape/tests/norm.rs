//! The normalization ops: gradcheck and gradgradcheck in f64 of layer, RMS,
//! group and batch norm (with and without γ and β, several views), the
//! values against their definitions, the running statistics, and the errors.

mod common;

use common::{check_both, randn};
use tapegrad_tape::{RunningStats, TapeError, Tensor, Var};

fn param(t: &Tensor<f64>) -> Var<f64> {
    Var::parameter(t.clone())
}

#[test]
fn layer_norm_passes_both_checks_over_one_and_two_trailing_axes() {
    let cases: [(&[usize], &[usize]); 4] = [
        (&[4], &[4]),
        (&[2, 3, 4], &[4]),
        (&[2, 3, 4], &[3, 4]),
        (&[1, 1], &[1]),
    ];
    for (k, (shape, normalized)) in cases.into_iter().enumerate() {
        let x = randn(shape, k as u64);
        let w = randn(normalized, 10 + k as u64);
        let b = randn(normalized, 20 + k as u64);
        println!("layer_norm {shape:?} over {normalized:?}");
        check_both(
            |v| v[0].layer_norm(normalized, Some(&v[1]), Some(&v[2]), 1e-5),
            &[x.clone(), w, b],
        );
        check_both(|v| v[0].layer_norm(normalized, None, None, 1e-3), &[x]);
    }
}

#[test]
fn rms_norm_passes_both_checks() {
    let x = randn(&[3, 5], 1);
    let w = randn(&[5], 2);
    check_both(|v| v[0].rms_norm(&[5], Some(&v[1]), None), &[x.clone(), w]);
    check_both(|v| v[0].rms_norm(&[3, 5], None, Some(1e-2)), &[x]);
}

#[test]
fn group_norm_passes_both_checks_on_images_and_sequences() {
    let x = randn(&[2, 6, 2, 3], 3);
    let (w, b) = (randn(&[6], 4), randn(&[6], 5));
    for groups in [1, 2, 3, 6] {
        println!("group_norm groups {groups}");
        check_both(
            |v| v[0].group_norm(groups, Some(&v[1]), Some(&v[2]), 1e-5),
            &[x.clone(), w.clone(), b.clone()],
        );
    }
    check_both(
        |v| v[0].group_norm(2, None, None, 1e-5),
        &[randn(&[3, 4, 5], 6)],
    );
}

#[test]
fn batch_norm_passes_both_checks_in_training_and_evaluation() {
    let (w, b) = (randn(&[3], 8), randn(&[3], 9));
    for (k, shape) in [&[4, 3][..], &[2, 3, 5], &[2, 3, 2, 2]]
        .into_iter()
        .enumerate()
    {
        let x = randn(shape, 30 + k as u64);
        println!("batch_norm train {shape:?}");
        check_both(
            |v| v[0].batch_norm(Some(&v[1]), Some(&v[2]), None, true, 1e-5),
            &[x.clone(), w.clone(), b.clone()],
        );
        let (mean, var) = (randn(&[3], 40), randn(&[3], 41).map(|v| v * v + 0.5));
        let eval = |v: &[Var<f64>]| {
            let (mut m, mut s) = (mean.clone(), var.clone());
            let running = RunningStats {
                mean: &mut m,
                var: &mut s,
                momentum: 0.1,
            };
            v[0].batch_norm(Some(&v[1]), Some(&v[2]), Some(running), false, 1e-5)
        };
        check_both(eval, &[x, w.clone(), b.clone()]);
    }
}

/// Definitions written out element by element.
#[test]
fn values_match_their_definitions() {
    let x = randn(&[2, 4, 3], 50);
    let data = x.data();
    let (w, b) = (randn(&[3], 51), randn(&[3], 52));
    let y = param(&x)
        .layer_norm(&[3], Some(&param(&w)), Some(&param(&b)), 1e-5)
        .unwrap()
        .value();
    for row in 0..8 {
        let r = &data[row * 3..][..3];
        let mean = r.iter().sum::<f64>() / 3.0;
        let var = r.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 3.0;
        for j in 0..3 {
            let want = (r[j] - mean) / (var + 1e-5).sqrt() * w.data()[j] + b.data()[j];
            assert!(
                (y.data()[row * 3 + j] - want).abs() < 1e-14,
                "layer_norm row {row}"
            );
        }
    }
    // Batch norm over [N=2, C=4, S=3]: channel c holds x[n, c, s] for all n, s.
    let y = param(&x)
        .batch_norm(None, None, None, true, 0.0)
        .unwrap()
        .value();
    for c in 0..4 {
        let vals: Vec<f64> = (0..2)
            .flat_map(|n| data[(n * 4 + c) * 3..][..3].to_vec())
            .collect();
        let mean = vals.iter().sum::<f64>() / 6.0;
        let sd = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 6.0).sqrt();
        for n in 0..2 {
            for s in 0..3 {
                let i = (n * 4 + c) * 3 + s;
                assert!(
                    (y.data()[i] - (data[i] - mean) / sd).abs() < 1e-13,
                    "batch_norm channel {c}"
                );
            }
        }
    }
    // RMS norm: x / √(mean(x²) + ε).
    let y = param(&x)
        .rms_norm(&[4, 3], None, Some(1e-6))
        .unwrap()
        .value();
    for n in 0..2 {
        let r = &data[n * 12..][..12];
        let rms = (r.iter().map(|v| v * v).sum::<f64>() / 12.0 + 1e-6).sqrt();
        for j in 0..12 {
            assert!((y.data()[n * 12 + j] - r[j] / rms).abs() < 1e-14);
        }
    }
}

#[test]
fn group_norm_with_one_channel_per_group_is_instance_norm_and_with_one_group_layer_norm() {
    let x = randn(&[2, 3, 4], 60);
    let instance = param(&x).group_norm(3, None, None, 1e-5).unwrap().value();
    let by_rows = param(&x)
        .layer_norm(&[4], None, None, 1e-5)
        .unwrap()
        .value();
    assert_eq!(instance, by_rows);
    let whole = param(&x).group_norm(1, None, None, 1e-5).unwrap().value();
    let by_sample = param(&x)
        .layer_norm(&[3, 4], None, None, 1e-5)
        .unwrap()
        .value();
    assert_eq!(whole, by_sample);
}

#[test]
fn training_updates_the_running_statistics_with_the_unbiased_variance() {
    // Channel 0 holds 1, 2, 3, 6 (mean 3, biased variance 3.5, unbiased 14/3).
    let x = Var::constant(
        Tensor::from_vec(vec![1.0f64, 10.0, 2.0, 10.0, 3.0, 10.0, 6.0, 10.0], &[4, 2]).unwrap(),
    );
    let (mut mean, mut var) = (
        Tensor::from_vec(vec![1.0f64, 1.0], &[2]).unwrap(),
        Tensor::ones(&[2]),
    );
    let running = RunningStats {
        mean: &mut mean,
        var: &mut var,
        momentum: 0.25,
    };
    x.batch_norm(None, None, Some(running), true, 1e-5).unwrap();
    assert!((mean.data()[0] - (0.75 + 0.25 * 3.0)).abs() < 1e-15);
    assert!((var.data()[0] - (0.75 + 0.25 * 14.0 / 3.0)).abs() < 1e-15);
    assert!((mean.data()[1] - (0.75 + 2.5)).abs() < 1e-15);
    assert!((var.data()[1] - 0.75).abs() < 1e-15); // a constant channel
    // Evaluation reads them and changes nothing.
    let before = (mean.clone(), var.clone());
    let running = RunningStats {
        mean: &mut mean,
        var: &mut var,
        momentum: 0.25,
    };
    let y = x
        .batch_norm(None, None, Some(running), false, 0.0)
        .unwrap()
        .value();
    assert_eq!((mean.clone(), var.clone()), before);
    let want = (1.0 - before.0.data()[0]) / before.1.data()[0].sqrt();
    assert!((y.data()[0] - want).abs() < 1e-15);
}

#[test]
fn nan_stays_in_its_group() {
    let mut data = randn(&[2, 3], 70).data().to_vec();
    data[1] = f64::NAN;
    let y = param(&Tensor::from_vec(data, &[2, 3]).unwrap())
        .layer_norm(&[3], None, None, 1e-5)
        .unwrap()
        .value();
    assert!(y.data()[..3].iter().all(|v| v.is_nan()));
    assert!(y.data()[3..].iter().all(|v| v.is_finite()));
}

#[test]
fn bad_arguments_are_refused_with_what_was_wrong() {
    let x = param(&randn(&[2, 3, 4], 80));
    let err = x.layer_norm(&[3], None, None, 1e-5).unwrap_err();
    assert!(
        matches!(
            err,
            TapeError::InvalidShape {
                op: "layer_norm",
                ..
            }
        ),
        "{err}"
    );
    assert!(x.layer_norm(&[], None, None, 1e-5).is_err());
    assert!(x.layer_norm(&[4], None, None, -1.0).is_err());
    assert!(x.layer_norm(&[4], None, None, f64::NAN).is_err());
    let w = param(&randn(&[3], 81));
    let err = x.layer_norm(&[4], Some(&w), None, 1e-5).unwrap_err();
    assert!(
        matches!(
            err,
            TapeError::ShapeMismatch {
                op: "layer_norm (weight)",
                ..
            }
        ),
        "{err}"
    );
    let err = x.group_norm(2, None, None, 1e-5).unwrap_err();
    assert!(
        err.to_string().contains("must divide the 3 channels"),
        "{err}"
    );
    assert!(x.group_norm(0, None, None, 1e-5).is_err());
    assert!(
        param(&randn(&[4], 82))
            .group_norm(1, None, None, 1e-5)
            .is_err()
    );
    assert!(
        param(&randn(&[4], 82))
            .batch_norm(None, None, None, true, 1e-5)
            .is_err()
    );
    let one_each = param(&randn(&[1, 3], 83));
    let err = one_each
        .batch_norm(None, None, None, true, 1e-5)
        .unwrap_err();
    assert!(
        err.to_string().contains("more than 1 value per channel"),
        "{err}"
    );
    let err = x.batch_norm(None, None, None, false, 1e-5).unwrap_err();
    assert!(
        err.to_string()
            .contains("evaluation needs the running statistics"),
        "{err}"
    );
    let (mut m, mut v) = (Tensor::zeros(&[2]), Tensor::ones(&[3]));
    let running = RunningStats {
        mean: &mut m,
        var: &mut v,
        momentum: 0.1,
    };
    let err = x
        .batch_norm(None, None, Some(running), true, 1e-5)
        .unwrap_err();
    assert!(
        matches!(
            err,
            TapeError::ShapeMismatch {
                op: "batch_norm (running_mean)",
                ..
            }
        ),
        "{err}"
    );
    let (mut m, mut v) = (Tensor::zeros(&[3]), Tensor::ones(&[3]));
    let running = RunningStats {
        mean: &mut m,
        var: &mut v,
        momentum: 1.5,
    };
    assert!(x.batch_norm(None, None, Some(running), true, 1e-5).is_err());
    assert_eq!(m, Tensor::zeros(&[3]), "a refused call changes nothing");
}

#[test]
fn large_rows_take_the_parallel_path_with_the_same_numbers() {
    // 64 rows of 1024 cross the parallel threshold; each row is normalized
    // alone, so a row computed alone must give the same bits.
    let x = randn(&[64, 1024], 90);
    let all = param(&x)
        .layer_norm(&[1024], None, None, 1e-5)
        .unwrap()
        .value();
    let row = Tensor::from_vec(x.data()[5 * 1024..6 * 1024].to_vec(), &[1, 1024]).unwrap();
    let alone = param(&row)
        .layer_norm(&[1024], None, None, 1e-5)
        .unwrap()
        .value();
    assert_eq!(&all.data()[5 * 1024..6 * 1024], alone.data());
}
